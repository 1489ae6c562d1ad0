//! Starting a child process with new namespaces in one clone(2), without re-executing ourselves.

use nix::sched::CloneFlags;

/// Clones a child that starts as a copy of the caller (like fork) carrying `flags`; the child runs
/// `child`, which never returns. Returns the child's pid (in the caller's pid namespace).
///
/// The child must only do what is safe after fork in a possibly multi-threaded process: the
/// runtime prepares everything it can (strings, file descriptors) before calling this.
// The child branch ends in an uninhabited value: the lint cannot see that it is the point.
#[allow(unreachable_code)]
pub(crate) fn clone_child(
    flags: CloneFlags,
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<i32, nix::Error> {
    let flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: a clone(2) without CLONE_VM and with a null stack behaves like fork: the child gets
    // a copy-on-write copy of our memory and continues on its own copy of this stack. The child
    // branch below never returns into the caller (it execs or exits with _exit).
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match ret {
        r if r < 0 => Err(nix::Error::last()),
        0 => match child() {},
        pid => Ok(pid as i32),
    }
}

/// Leaves the child without running destructors or atexit handlers of the parent's copy.
pub(crate) fn exit_child(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing in the copied address space is used again.
    unsafe { libc::_exit(code) }
}

/// `struct clone_args` of clone3(2), up to the `cgroup` field (Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3's flag placing the child in the cgroup v2 directory given by `cgroup`.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Like [`clone_child`], but the child starts inside the cgroup v2 directory open as
/// `cgroup_dir` (clone3 with CLONE_INTO_CGROUP), so it never runs outside its cgroup and the
/// parent needs no cgroup.procs write. Fails (ENOSYS, EINVAL, ...) where the kernel cannot; the
/// caller then falls back to [`clone_child`] and joins the cgroup by pid.
#[allow(unreachable_code)]
pub(crate) fn clone_child_into_cgroup(
    flags: CloneFlags,
    cgroup_dir: std::os::fd::RawFd,
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<i32, nix::Error> {
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_dir as u64,
        ..Default::default()
    };
    // SAFETY: clone3 without CLONE_VM and with no stack behaves like fork (see clone_child); the
    // kernel reads `args` (which outlives the call) up to the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        r if r < 0 => Err(nix::Error::last()),
        0 => match child() {},
        pid => Ok(pid as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// Uses this host's cgroup2 mount (pure v2, or the "unified" one of a hybrid layout).
    fn cgroup2_mount() -> Option<std::path::PathBuf> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        text.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            right
                .starts_with("cgroup2 ")
                .then(|| std::path::PathBuf::from(point))
        })
    }

    #[test]
    fn clone3_starts_the_child_in_its_cgroup() {
        if !nix::unistd::geteuid().is_root() {
            assert_eq!(
                std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref(),
                Ok("1"),
                "needs root"
            );
            return;
        }
        let Some(mount) = cgroup2_mount() else {
            panic!("no cgroup2 mount on this host")
        };
        let name = format!("berth-clone3-{}", std::process::id());
        let dir = mount.join(&name);
        std::fs::create_dir(&dir).expect("mkdir cgroup");
        let dir_fd = std::fs::File::open(&dir).expect("open cgroup dir");
        let (r, w) = nix::unistd::pipe().expect("pipe");
        let w_raw = w.as_raw_fd();
        let pid = clone_child_into_cgroup(CloneFlags::empty(), dir_fd.as_raw_fd(), || {
            // Our copy of the write end would keep the read below from ever seeing EOF.
            let _ = nix::unistd::close(w_raw);
            let mut buf = [0u8; 1];
            let _ = nix::unistd::read(&r, &mut buf);
            exit_child(0)
        });
        let pid = match pid {
            Ok(pid) => pid,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                panic!("clone3: {e}");
            }
        };
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        drop(w);
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        let _ = std::fs::remove_dir(&dir);
        assert!(
            cgroup.lines().any(|l| l == format!("0::/{name}")),
            "{cgroup}"
        );
        assert!(matches!(
            status,
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        ));
    }
}
