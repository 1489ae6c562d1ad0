//! Seccomp tests: compiling (and caching) real profiles with libseccomp, then loading them in a
//! forked child and checking what the kernel lets through.

mod security_support;

use std::time::Instant;

use berth_runtime::capabilities;
use berth_runtime::seccomp::{self, CompiledFilter};
use security_support::{in_forked_child, require_root};

fn errno_of(rc: libc::c_long) -> Option<i32> {
    (rc == -1).then(|| std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn docker_default_filter() -> anyhow::Result<CompiledFilter> {
    let profile = seccomp::docker_default_profile(&capabilities::docker_default());
    Ok(seccomp::compile(&profile, None)?)
}

/// Loads `filter` after no_new_privs, as the container init does.
fn load_in_child(filter: &CompiledFilter) -> Result<(), String> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err("PR_SET_NO_NEW_PRIVS failed".to_string());
    }
    filter.load().map_err(|e| e.to_string())
}

#[test]
fn docker_default_denies_keyctl_and_user_namespaces() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let filter = docker_default_filter()?;
    let verdict = in_forked_child(|| {
        // Control: without the filter, root may read its session keyring id.
        // SAFETY: raw syscall with integer arguments.
        let before = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
        if errno_of(before) == Some(libc::EPERM) {
            return Err("keyctl already fails with EPERM before the filter".to_string());
        }
        load_in_child(&filter)?;
        // SAFETY: raw syscalls with integer arguments; failures are the point of the test.
        let keyctl = unsafe {
            libc::syscall(libc::SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0)
        };
        if errno_of(keyctl) != Some(libc::EPERM) {
            return Err(format!(
                "keyctl returned {keyctl}, errno {:?}; want EPERM",
                errno_of(keyctl)
            ));
        }
        // SAFETY: as above.
        let add_key = unsafe { libc::syscall(libc::SYS_add_key, 0, 0, 0, 0, 0) };
        if errno_of(add_key) != Some(libc::EPERM) {
            return Err(format!("add_key errno {:?}; want EPERM", errno_of(add_key)));
        }
        // SAFETY: as above.
        let unshare = unsafe { libc::unshare(libc::CLONE_NEWUSER) } as libc::c_long;
        if errno_of(unshare) != Some(libc::EPERM) {
            return Err(format!(
                "unshare(CLONE_NEWUSER) errno {:?}; want EPERM",
                errno_of(unshare)
            ));
        }
        // SAFETY: clone3 with a null args pointer; the filter answers before the kernel reads it.
        let clone3 = unsafe { libc::syscall(libc::SYS_clone3, 0, 0) };
        if errno_of(clone3) != Some(libc::ENOSYS) {
            return Err(format!("clone3 errno {:?}; want ENOSYS", errno_of(clone3)));
        }
        // SAFETY: as above.
        let bad_personality = unsafe {
            libc::personality(0x0040_0000 /* READ_IMPLIES_EXEC */)
        };
        if errno_of(bad_personality as libc::c_long) != Some(libc::EPERM) {
            return Err("personality(READ_IMPLIES_EXEC) was allowed".to_string());
        }
        // SAFETY: getpid has no arguments.
        let pid = unsafe { libc::syscall(libc::SYS_getpid) };
        if pid <= 0 {
            return Err(format!("getpid returned {pid}"));
        }
        // A plain fork (clone without namespace flags) must still work.
        // SAFETY: the grandchild only _exits.
        match unsafe { libc::fork() } {
            -1 => return Err(format!("fork failed: {}", std::io::Error::last_os_error())),
            // SAFETY: _exit in the forked grandchild.
            0 => unsafe { libc::_exit(0) },
            child => {
                let mut status = 0;
                // SAFETY: waits for our own child; status is a valid out pointer.
                unsafe { libc::waitpid(child, &mut status, 0) };
            }
        }
        Ok(())
    });
    assert_eq!(verdict, Ok(()));
    Ok(())
}

#[test]
fn sys_admin_profile_allows_unshare() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut caps = capabilities::docker_default();
    caps.push(oci_spec::runtime::Capability::SysAdmin);
    let filter = seccomp::compile(&seccomp::docker_default_profile(&caps), None)?;
    let verdict = in_forked_child(|| {
        load_in_child(&filter)?;
        // SAFETY: unshare with an integer flag, in a single-threaded forked child.
        if unsafe { libc::unshare(libc::CLONE_NEWUTS) } != 0 {
            return Err(format!(
                "unshare(CLONE_NEWUTS): {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    });
    assert_eq!(verdict, Ok(()));
    Ok(())
}

#[test]
fn custom_profile_errno_and_args_are_enforced() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    // Allow everything except: getppid -> ENOTSUP (95), and dup with fd 0 -> EBADF... only when arg0 == 0.
    let profile = seccomp::parse_profile(
        br#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [
            {"names": ["getppid", "no_such_syscall_xyz"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
            {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}
        ]
    }"#,
    )?;
    let filter = seccomp::compile(&profile, None)?;
    assert_eq!(filter.flags(), libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32);
    let verdict = in_forked_child(|| {
        load_in_child(&filter)?;
        // SAFETY: raw syscalls with integer arguments.
        let ppid = unsafe { libc::syscall(libc::SYS_getppid) };
        if errno_of(ppid) != Some(95) {
            return Err(format!("getppid errno {:?}; want 95", errno_of(ppid)));
        }
        // SAFETY: dup of stdin; the filter should refuse it.
        let dup0 = unsafe { libc::dup(0) } as libc::c_long;
        if errno_of(dup0) != Some(libc::EBADF) {
            return Err(format!("dup(0) errno {:?}; want EBADF", errno_of(dup0)));
        }
        // SAFETY: dup of stderr; allowed by the filter.
        let dup2 = unsafe { libc::dup(2) };
        if dup2 < 0 {
            return Err(format!(
                "dup(2) failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    });
    assert_eq!(verdict, Ok(()));
    Ok(())
}

#[test]
fn cached_compile_returns_same_program_cheaper() -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let profile = seccomp::docker_default_profile(&capabilities::docker_default());
    let start = Instant::now();
    let first = seccomp::compile(&profile, Some(cache.path()))?;
    let cold = start.elapsed();
    let start = Instant::now();
    let second = seccomp::compile(&profile, Some(cache.path()))?;
    let warm = start.elapsed();
    assert_eq!(first.to_bytes(), second.to_bytes());
    assert_eq!(first, docker_default_filter()?);
    let files: Vec<_> = std::fs::read_dir(cache.path())?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one cache file, no temp files left: {files:?}"
    );
    assert!(
        warm * 3 < cold,
        "cached compile {warm:?} is not much cheaper than {cold:?}"
    );
    Ok(())
}

#[test]
fn corrupt_cache_entry_is_recompiled() -> anyhow::Result<()> {
    let cache = tempfile::tempdir()?;
    let profile = seccomp::docker_default_profile(&[]);
    let good = seccomp::compile(&profile, Some(cache.path()))?;
    for entry in std::fs::read_dir(cache.path())?.flatten() {
        std::fs::write(entry.path(), b"garbage")?;
    }
    let again = seccomp::compile(&profile, Some(cache.path()))?;
    assert_eq!(good, again);
    Ok(())
}

#[test]
fn notify_action_is_rejected_clearly() -> anyhow::Result<()> {
    let profile = seccomp::parse_profile(
        br#"{"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}"#,
    )?;
    let err = seccomp::compile(&profile, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("syscalls[0].action") && err.contains("SCMP_ACT_NOTIFY"),
        "{err}"
    );
    let bad = seccomp::parse_profile(br#"{"defaultAction": "SCMP_ACT_FOO"}"#).err();
    let text = bad.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("unknown variant `SCMP_ACT_FOO`"), "{text}");
    Ok(())
}
