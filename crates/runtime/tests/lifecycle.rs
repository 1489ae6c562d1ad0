//! The OCI lifecycle: create waits for start, states, conflicts, kill, delete, pause/resume, and no leftovers.
mod common;

use std::time::Duration;

use berth_runtime::{ErrorKind, Status};
use common::*;

#[test]
fn create_waits_until_start_then_runs() {
    if !require_root() {
        return;
    }
    let b = shell_bundle("echo started > /tmp/marker");
    let rt = b.runtime();
    let (pid, r) = create_captured(&b);
    assert_eq!(rt.state(&b.id).expect("state").status, Status::Created);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!b.rootfs().join("tmp/marker").exists(), "ran before start");
    rt.start(&b.id).expect("start");
    assert_eq!(read_all(r), "");
    assert_eq!(wait(pid), 0);
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("tmp/marker")).expect("marker"),
        "started\n"
    );
    let st = rt.state(&b.id).expect("state");
    assert_eq!((st.status, st.pid), (Status::Stopped, 0));
    rt.delete(&b.id, false).expect("delete");
    let err = rt.state(&b.id).expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        format!("container \"{}\" does not exist", b.id)
    );
}

#[test]
fn conflicts_name_the_state() {
    if !require_root() {
        return;
    }
    let b = shell_bundle("exec sleep 100");
    let rt = b.runtime();
    let pid = start_detached(&b);
    let st = rt.state(&b.id).expect("state");
    assert_eq!((st.status, st.pid), (Status::Running, pid));
    let again = berth_runtime::CreateOptions {
        id: b.id.clone(),
        bundle: b.bundle().to_path_buf(),
        ..Default::default()
    };
    assert_eq!(
        rt.create(&again).expect_err("dup").kind(),
        ErrorKind::AlreadyExists
    );
    let err = rt.start(&b.id).expect_err("start twice");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.to_string(), "cannot start a container that is running");
    let err = rt.delete(&b.id, false).expect_err("delete running");
    assert_eq!(err.to_string(), "cannot delete a container that is running");
    assert_eq!(
        rt.list()
            .expect("list")
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
        vec![b.id.clone()]
    );
    assert_eq!(rt.ps(&b.id).expect("ps"), vec![pid]);
    rt.kill(&b.id, libc::SIGKILL, false).expect("kill");
    assert_eq!(wait(pid), 128 + libc::SIGKILL);
    let err = rt
        .kill(&b.id, libc::SIGTERM, false)
        .expect_err("kill stopped");
    assert!(err.to_string().contains("container not running"), "{err}");
    rt.delete(&b.id, false).expect("delete");
}

#[test]
fn exit_codes_and_signals_propagate() {
    if !require_root() {
        return;
    }
    let b = shell_bundle("exit 42");
    assert_eq!(run(&b).0, 42);
    let b = shell_bundle("trap 'exit 7' TERM; while true; do sleep 0.05; done");
    let rt = b.runtime();
    let pid = start_detached(&b);
    std::thread::sleep(Duration::from_millis(200));
    rt.kill(&b.id, libc::SIGTERM, false).expect("kill");
    assert_eq!(wait(pid), 7);
    rt.delete(&b.id, false).expect("delete");
}

#[test]
fn pause_freezes_and_resume_thaws() {
    if !require_root() {
        return;
    }
    let b = shell_bundle("i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; done");
    let rt = b.runtime();
    let pid = start_detached(&b);
    let counter = b.rootfs().join("tmp/counter");
    // The shell truncates before it writes: retry a read that lands in between.
    let read = || {
        (0..200)
            .find_map(|_| {
                let v = std::fs::read_to_string(&counter)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                if v.is_none() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                v
            })
            .unwrap_or(0)
    };
    std::thread::sleep(Duration::from_millis(200));
    rt.pause(&b.id).expect("pause");
    assert_eq!(rt.state(&b.id).expect("state").status, Status::Paused);
    assert_eq!(
        rt.start(&b.id).expect_err("start paused").to_string(),
        "cannot start a container that is paused"
    );
    let c1 = read();
    std::thread::sleep(Duration::from_millis(300));
    let c2 = read();
    assert_eq!(c1, c2, "counter moved while paused");
    rt.resume(&b.id).expect("resume");
    assert_eq!(rt.state(&b.id).expect("state").status, Status::Running);
    std::thread::sleep(Duration::from_millis(300));
    assert!(read() > c2, "counter did not move after resume");
    rt.pause(&b.id).expect("pause again");
    rt.delete(&b.id, true)
        .expect("force delete of a paused container");
    assert_eq!(wait(pid), 128 + libc::SIGKILL);
}

#[test]
fn delete_leaves_no_mount_cgroup_or_process() {
    if !require_root() {
        return;
    }
    let b = shell_bundle("sleep 100 & sleep 100 & exec sleep 100");
    let rt = b.runtime();
    let mounts_before = host_mount_count();
    let pid = start_detached(&b);
    assert!(
        !cgroup_dirs(&b.cgroup_path).is_empty(),
        "no cgroup was made"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rt.ps(&b.id).expect("ps").len(), 3);
    rt.delete(&b.id, true).expect("force delete");
    assert_eq!(wait(pid), 128 + libc::SIGKILL);
    assert_eq!(host_mount_count(), mounts_before);
    assert_eq!(
        cgroup_dirs(&b.cgroup_path),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(children_of_self(), Vec::<i32>::new());
    assert!(!b.state_root().join(&b.id).exists());
}

#[test]
fn failed_create_leaves_nothing() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("true");
    b.process_mut().set_args(Some(vec!["nosuch".into()]));
    b.save().expect("save");
    let mounts_before = host_mount_count();
    let err = create_err(&b);
    assert_eq!(
        err.to_string(),
        "exec: \"nosuch\": executable file not found in $PATH"
    );
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(host_mount_count(), mounts_before);
    assert_eq!(
        cgroup_dirs(&b.cgroup_path),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(children_of_self(), Vec::<i32>::new());
    assert!(!b.state_root().join(&b.id).exists());
}

#[test]
fn hooks_get_the_state_on_stdin() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("true");
    let out = b.bundle().join("hook-out");
    let hook = |name: &str| {
        serde_json::from_value::<oci_spec::runtime::Hook>(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat >> {}; echo ' {name}' >> {}", out.display(), out.display())],
        }))
        .expect("hook")
    };
    // The prestart hook also looks at the init's root: still the host's (before pivot_root: the
    // bundle directory is visible there, it is not inside the busybox rootfs).
    let root_file = b.bundle().join("prestart-root");
    let prestart_root = serde_json::from_value::<oci_spec::runtime::Hook>(serde_json::json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!(
            "pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); (test -d /proc/$pid/root{} && echo host || echo container) > {}",
            b.bundle().display(),
            root_file.display()
        )],
    }))
    .expect("hook");
    let hooks = oci_spec::runtime::HooksBuilder::default()
        .prestart(vec![hook("prestart"), prestart_root])
        .create_container(vec![hook("createContainer")])
        .start_container(vec![
            serde_json::from_value::<oci_spec::runtime::Hook>(serde_json::json!({
                // Resolved and run inside the container, after pivot_root.
                "path": "/bin/sh",
                "args": ["sh", "-c", "cat > /tmp/start-hook"],
            }))
            .expect("hook"),
        ])
        .poststart(vec![hook("poststart")])
        .poststop(vec![hook("poststop")])
        .build()
        .expect("hooks");
    b.spec.set_hooks(Some(hooks));
    b.save().expect("save");
    let (code, _) = run(&b);
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&out).expect("hook output");
    let names: Vec<&str> = text.lines().filter_map(|l| l.rsplit(' ').next()).collect();
    assert_eq!(
        names,
        vec!["prestart", "createContainer", "poststart", "poststop"],
        "{text}"
    );
    assert!(text.contains(&format!("\"id\":\"{}\"", b.id)), "{text}");
    assert_eq!(std::fs::read_to_string(&root_file).expect("root"), "host\n");
    let start_state =
        std::fs::read_to_string(b.rootfs().join("tmp/start-hook")).expect("startContainer ran");
    assert!(
        start_state.contains(&format!("\"id\":\"{}\"", b.id)),
        "{start_state}"
    );
}
