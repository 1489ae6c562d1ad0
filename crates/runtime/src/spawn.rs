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
