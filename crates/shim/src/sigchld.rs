//! SIGCHLD as a readable fd (a self-pipe written by a tiny handler) so the poll loop wakes
//! when a process exits. Not a signalfd: that needs SIGCHLD blocked, and a blocked mask would
//! be inherited by the container processes the runtime forks from us.

use nix::fcntl::OFlag;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local byte and a full
        // or closed pipe only makes the call fail, which is fine (one wake-up is enough).
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
}

/// Installs the handler; returns the pipe's read end to poll.
pub fn install() -> std::io::Result<OwnedFd> {
    let (r, w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(std::io::Error::from)?;
    WAKE_FD.store(w.as_raw_fd(), Ordering::Relaxed);
    std::mem::forget(w);
    let action = SigAction::new(
        SigHandler::Handler(on_sigchld),
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handler only loads an atomic and calls write(2), both async-signal-safe.
    unsafe { sigaction(Signal::SIGCHLD, &action) }.map_err(std::io::Error::from)?;
    Ok(r)
}

/// Empties the pipe after a wake-up.
pub fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 64];
    while matches!(nix::unistd::read(fd, &mut buf), Ok(n) if n > 0) {}
}
