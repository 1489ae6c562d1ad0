//! What a container sees: its own pid 1, hostname, processes, files, masked /proc, no mount, Docker's capabilities and seccomp.
mod common;

use common::{require_root, run, shell_bundle};

#[test]
fn pid1_is_the_command() {
    if !require_root() {
        return;
    }
    // The trailing `true` keeps busybox sh from exec'ing its last command in place.
    let b = shell_bundle("echo $$; cat /proc/1/comm; true");
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "1\nsh\n");
}

#[test]
fn hostname_is_isolated() {
    if !require_root() {
        return;
    }
    let host_before = nix::unistd::gethostname().expect("hostname");
    let b = shell_bundle("hostname");
    let (code, out) = run(&b);
    assert_eq!((code, out.as_str()), (0, "berth-test\n"));
    assert_eq!(nix::unistd::gethostname().expect("hostname"), host_before);
}

#[test]
fn host_processes_and_files_are_invisible() {
    if !require_root() {
        return;
    }
    let marker = std::env::temp_dir().join(format!("berth-marker-{}", std::process::id()));
    std::fs::write(&marker, "x").expect("marker");
    let script = format!(
        "ls /proc | grep -c '^[0-9][0-9]*$'; test -e {} && echo visible || echo hidden",
        marker.display()
    );
    let b = shell_bundle(&script);
    let (code, out) = run(&b);
    let _ = std::fs::remove_file(&marker);
    assert_eq!(code, 0, "{out}");
    let mut lines = out.lines();
    let procs: u32 = lines.next().expect("count").parse().expect("number");
    assert!(procs <= 3, "container sees {procs} processes");
    assert_eq!(lines.next(), Some("hidden"));
}

#[test]
fn proc_kcore_is_masked_and_proc_sys_is_read_only() {
    if !require_root() {
        return;
    }
    // This VM's kernel has no /proc/kcore; /proc/keys and /proc/timer_list are masked the same way.
    let kcore = if std::path::Path::new("/proc/kcore").exists() {
        "/proc/kcore"
    } else {
        "/proc/timer_list"
    };
    let b = shell_bundle(&format!(
        "wc -c < {kcore}; wc -c < /proc/keys; test -c {kcore} && echo masked; awk '$5==\"/proc/sys\"{{split($6,o,\",\"); print o[1]}}' /proc/self/mountinfo; \
         (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo wrote || echo refused"
    ));
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "0\n0\nmasked\nro\nrefused\n");
}

#[test]
fn mount_inside_fails_with_eperm() {
    if !require_root() {
        return;
    }
    let b = shell_bundle("mkdir -p /mnt; mount -t tmpfs none /mnt 2>&1; echo rc=$?");
    let (_, out) = run(&b);
    let lower = out.to_lowercase();
    assert!(
        lower.contains("permission denied") || lower.contains("operation not permitted"),
        "{out}"
    );
    assert!(!out.contains("rc=0"), "{out}");
}

#[test]
fn cap_eff_is_dockers_default_14() {
    if !require_root() {
        return;
    }
    let mut want: u64 = 0;
    for cap in berth_runtime::capabilities::docker_default() {
        let name = berth_runtime::capabilities::cap_name(cap);
        let c: caps::Capability = name.parse().expect("cap name");
        want |= 1 << c.index();
    }
    assert_eq!(berth_runtime::capabilities::docker_default().len(), 14);
    assert_eq!(want, 0xa80425fb);
    let b = shell_bundle("grep -E '^Cap(Eff|Bnd|Prm|Inh|Amb)' /proc/self/status");
    let (code, out) = run(&b);
    assert_eq!(code, 0, "{out}");
    let field = |name: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {out}"));
        u64::from_str_radix(line.split_whitespace().nth(1).expect("value"), 16).expect("hex")
    };
    assert_eq!(field("CapEff:"), want);
    assert_eq!(field("CapBnd:"), want);
    assert_eq!(field("CapPrm:"), want);
    assert_eq!(field("CapInh:"), 0);
}

#[test]
fn default_seccomp_blocks_user_namespaces() {
    if !require_root() {
        return;
    }
    let script = "grep '^Seccomp:' /proc/self/status; unshare -U true 2>&1; echo rc=$?";
    let b = shell_bundle(script);
    let (_, out) = run(&b);
    assert!(out.starts_with("Seccomp:\t2\n"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(!out.contains("rc=0"), "{out}");
    // Without the profile the same command works: the check above can fail.
    let mut b = shell_bundle(script);
    b.linux_mut().set_seccomp(None);
    b.save().expect("save");
    let (_, out) = run(&b);
    assert!(out.contains("rc=0"), "{out}");
}

#[test]
fn default_profile_never_allows_keyctl() {
    if !require_root() {
        return;
    }
    // busybox has no applet that calls keyctl, so this checks the profile the containers above
    // run with (the security helper's seccomp_filter tests load it and call keyctl for real):
    // keyctl, add_key and request_key are in no allow rule and the default action is ERRNO.
    let profile = berth_runtime::seccomp::docker_default_profile(
        &berth_runtime::capabilities::docker_default(),
    );
    let allowed: Vec<String> = profile
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|s| s.action() == oci_spec::runtime::LinuxSeccompAction::ScmpActAllow)
        .flat_map(|s| s.names().clone())
        .collect();
    for blocked in ["keyctl", "add_key", "request_key"] {
        assert!(!allowed.iter().any(|n| n == blocked), "{blocked} allowed");
    }
    assert_eq!(
        profile.default_action(),
        oci_spec::runtime::LinuxSeccompAction::ScmpActErrno
    );
}
