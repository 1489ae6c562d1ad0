//! The process: errors reported as messages, user/umask/rlimits/cwd/no_new_privs, exec, terminal, user namespaces.
mod common;

use std::os::fd::AsRawFd;
use std::time::Duration;

use berth_runtime::{ConsoleSocket, CreateOptions, ErrorKind, ExecOptions, Stdio};
use common::*;

#[test]
fn bad_cwd_is_reported_as_a_message() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("true");
    b.process_mut().set_cwd("/nosuch".into());
    b.save().expect("save");
    let err = create_err(&b);
    assert_eq!(
        err.to_string(),
        "chdir to cwd (\"/nosuch\") set in config.json failed: no such file or directory"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    b.process_mut().set_cwd("/etc/passwd".into());
    b.save().expect("save");
    let err = create_err(&b);
    assert!(err.to_string().ends_with("not a directory"), "{err}");
}

#[test]
fn missing_absolute_executable_is_reported() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("true");
    b.process_mut().set_args(Some(vec!["/bin/nosuch".into()]));
    b.save().expect("save");
    assert_eq!(
        create_err(&b).to_string(),
        "exec: \"/bin/nosuch\": stat /bin/nosuch: no such file or directory"
    );
}

/// Maps container 0..65536 to host 100000.. in a new user namespace.
fn use_user_namespace(b: &mut berth_runtime::testing::TestBundle) {
    let map = |c: u32, h: u32, n: u32| {
        oci_spec::runtime::LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(n)
            .build()
            .expect("map")
    };
    let linux = b.linux_mut();
    let mut ns = linux.namespaces().clone().unwrap_or_default();
    ns.push(
        oci_spec::runtime::LinuxNamespaceBuilder::default()
            .typ(oci_spec::runtime::LinuxNamespaceType::User)
            .build()
            .expect("ns"),
    );
    linux.set_namespaces(Some(ns));
    linux.set_uid_mappings(Some(vec![map(0, 100000, 65536)]));
    linux.set_gid_mappings(Some(vec![map(0, 100000, 65536)]));
}

#[test]
fn bad_uid_is_reported_as_a_message() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("true");
    use_user_namespace(&mut b);
    b.process_mut().user_mut().set_uid(70000);
    b.save().expect("save");
    let err = create_err(&b);
    assert!(err.to_string().contains("setting uid to 70000"), "{err}");
}

#[test]
fn user_namespace_maps_ids() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("id -u; cat /proc/self/uid_map; hostname; true");
    use_user_namespace(&mut b);
    b.save().expect("save");
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        vec!["0", "0", "100000", "65536", "berth-test"],
        "{out}"
    );
}

#[test]
fn user_groups_umask_rlimits_cwd_and_no_new_privs_apply() {
    if !require_root() {
        return;
    }
    let mut b =
        shell_bundle("id; umask; ulimit -n; pwd; grep NoNewPrivs /proc/self/status; echo $FOO");
    {
        let p = b.process_mut();
        let u = p.user_mut();
        u.set_uid(1000);
        u.set_gid(1000);
        u.set_additional_gids(Some(vec![10, 20]));
        u.set_umask(Some(0o077));
        p.set_cwd("/tmp".into());
        p.set_no_new_privileges(Some(true));
        let rl = oci_spec::runtime::PosixRlimitBuilder::default()
            .typ(oci_spec::runtime::PosixRlimitType::RlimitNofile)
            .soft(512u64)
            .hard(512u64)
            .build()
            .expect("rlimit");
        p.set_rlimits(Some(vec![rl]));
        let mut env = p.env().clone().unwrap_or_default();
        env.push("FOO=bar baz".into());
        p.set_env(Some(env));
    }
    b.save().expect("save");
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "uid=1000 gid=1000 groups=10,20", "{out}");
    assert_eq!(
        &lines[1..],
        ["0077", "512", "/tmp", "NoNewPrivs:\t1", "bar baz"],
        "{out}"
    );
}

#[test]
fn readonly_root_and_bind_mounts_and_sysctl() {
    if !require_root() {
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::write(data.path().join("f"), "from host\n").expect("write");
    let mut b = shell_bundle(
        "cat /data/f; touch /data/g 2>&1; touch /newfile 2>&1; touch /scratch/ok && echo tmpfs-ok; cat /proc/sys/net/ipv4/ip_forward; true",
    );
    b.spec
        .root_mut()
        .as_mut()
        .expect("root")
        .set_readonly(Some(true));
    let mut mounts = b.spec.mounts().clone().unwrap_or_default();
    mounts.push(serde_json::from_value(serde_json::json!({"destination": "/data", "type": "bind", "source": data.path(), "options": ["rbind", "ro"]})).expect("mount"));
    mounts.push(serde_json::from_value(serde_json::json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]})).expect("mount"));
    b.spec.set_mounts(Some(mounts));
    b.linux_mut().set_sysctl(Some(
        [("net.ipv4.ip_forward".to_string(), "1".to_string())].into(),
    ));
    b.save().expect("save");
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "from host");
    assert!(lines[1].contains("Read-only file system"), "{out}");
    assert!(lines[2].contains("Read-only file system"), "{out}");
    assert_eq!(&lines[3..], ["tmpfs-ok", "1"], "{out}");
    assert!(!data.path().join("g").exists());
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    if !require_root() {
        return;
    }
    let b = shell_bundle("exec sleep 100");
    let rt = b.runtime();
    let init = start_detached(&b);
    let (r, w) = pipe();
    let devnull = std::fs::File::open("/dev/null").expect("devnull");
    let opts = ExecOptions {
        stdio: Stdio::Fds([devnull.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()]),
        ..Default::default()
    };
    let pid = rt
        .exec(
            &b.id,
            &process_with_args(&b, &["sh", "-c", "hostname; echo $$; sleep 1"]),
            &opts,
        )
        .expect("exec");
    drop(w);
    std::thread::sleep(Duration::from_millis(100));
    for ns in ["pid", "mnt", "net", "uts", "ipc", "cgroup"] {
        let a = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).expect("init ns");
        let e = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("exec ns");
        assert_eq!(a, e, "{ns} namespace differs");
    }
    let cg = |p: i32| std::fs::read_to_string(format!("/proc/{p}/cgroup")).expect("cgroup");
    assert_eq!(cg(init), cg(pid));
    assert!(rt.ps(&b.id).expect("ps").contains(&pid));
    // The exec'd process is our child: we can wait for it.
    assert_eq!(wait(pid), 0);
    let out = read_all(r);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "berth-test");
    assert_ne!(lines[1], "1");
    let err = rt
        .exec(
            &b.id,
            &process_with_args(&b, &["nosuch"]),
            &ExecOptions::default(),
        )
        .expect_err("missing");
    assert_eq!(
        err.to_string(),
        "exec: \"nosuch\": executable file not found in $PATH"
    );
    rt.delete(&b.id, true).expect("delete");
    assert_eq!(wait(init), 128 + libc::SIGKILL);
}

#[test]
fn terminal_via_console_socket() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("tty; echo hi; true");
    b.process_mut().set_terminal(Some(true));
    b.save().expect("save");
    let sock_path = b.bundle().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).expect("listen");
    let rt = b.runtime();
    let opts = CreateOptions {
        id: b.id.clone(),
        bundle: b.bundle().to_path_buf(),
        console_socket: Some(ConsoleSocket::Path(sock_path.clone())),
        ..Default::default()
    };
    let st = rt.create(&opts).expect("create");
    let (conn, _) = listener.accept().expect("accept");
    let master = berth_runtime::receive_pty_master(conn.as_raw_fd()).expect("pty master");
    rt.start(&b.id).expect("start");
    assert_eq!(wait(st.pid), 0);
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    // The slave is closed once the container exits: read until EIO.
    while let Ok(n) = nix::unistd::read(&master, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let out = String::from_utf8_lossy(&out);
    assert_eq!(out, "/dev/pts/0\r\nhi\r\n");
    rt.delete(&b.id, false).expect("delete");
}

#[test]
fn terminal_without_console_socket_is_refused() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("true");
    b.process_mut().set_terminal(Some(true));
    b.save().expect("save");
    assert_eq!(create_err(&b).kind(), ErrorKind::InvalidArgument);
}

#[test]
fn joins_namespaces_by_path() {
    if !require_root() {
        return;
    }
    let a = shell_bundle("exec sleep 100");
    let a_pid = start_detached(&a);
    let mut b = shell_bundle(
        "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; echo $$; cat /proc/1/comm; true",
    );
    let ns = |t: oci_spec::runtime::LinuxNamespaceType, path: Option<String>| {
        let mut n = oci_spec::runtime::LinuxNamespaceBuilder::default().typ(t);
        if let Some(p) = path {
            n = n.path(p);
        }
        n.build().expect("ns")
    };
    use oci_spec::runtime::LinuxNamespaceType as T;
    b.linux_mut().set_namespaces(Some(vec![
        ns(T::Mount, None),
        ns(T::Uts, None),
        ns(T::Cgroup, None),
        ns(T::Network, Some(format!("/proc/{a_pid}/ns/net"))),
        ns(T::Ipc, Some(format!("/proc/{a_pid}/ns/ipc"))),
        ns(T::Pid, Some(format!("/proc/{a_pid}/ns/pid"))),
    ]));
    b.save().expect("save");
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    let link = |n: &str| {
        std::fs::read_link(format!("/proc/{a_pid}/ns/{n}"))
            .expect("ns")
            .display()
            .to_string()
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], link("net"));
    assert_eq!(lines[1], link("ipc"));
    assert_ne!(lines[2], "1", "joined pid namespace: not its init");
    assert_eq!(lines[3], "sleep", "pid 1 is the other container's init");
    // The caller's own pid namespace for children is restored.
    assert_eq!(
        std::fs::read_link("/proc/self/ns/pid_for_children").expect("own"),
        std::fs::read_link("/proc/self/ns/pid").expect("own")
    );
    a.runtime().delete(&a.id, true).expect("delete a");
    assert_eq!(wait(a_pid), 128 + libc::SIGKILL);
}

#[test]
fn leaked_descriptors_do_not_reach_the_container() {
    if !require_root() {
        return;
    }
    // A descriptor without close-on-exec in the caller (as a careless shim might have).
    let leaked = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .expect("open");
    let b = shell_bundle("ls /proc/self/fd | sort -n | tr '\\n' ' '; true");
    let (code, out) = run(&b);
    drop(leaked);
    assert_eq!(code, 0, "{out}");
    // 0, 1, 2 and the one `ls` opens for reading the directory.
    assert_eq!(out, "0 1 2 3 ", "{out}");
}

#[test]
fn linux_devices_are_created_with_mknod_or_bound_in_a_user_namespace() {
    if !require_root() {
        return;
    }
    if !std::path::Path::new("/dev/fuse").exists() {
        panic!("this test needs the host's /dev/fuse (10:229)");
    }
    let fuse: oci_spec::runtime::LinuxDevice = serde_json::from_value(serde_json::json!({
        "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 0, "gid": 0
    }))
    .expect("device");
    for userns in [false, true] {
        let mut b = shell_bundle("stat -c '%t:%T %a' /dev/fuse; ls -l /dev/null | cut -c1; true");
        if userns {
            use_user_namespace(&mut b);
        }
        b.linux_mut().set_devices(Some(vec![fuse.clone()]));
        b.save().expect("save");
        let (code, out) = run(&b);
        assert_eq!(code, 0, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        // Host bind in a user namespace keeps the host node's mode (0600 too here).
        assert_eq!(lines, ["a:e5 600", "c"], "userns={userns}: {out}");
    }
}
