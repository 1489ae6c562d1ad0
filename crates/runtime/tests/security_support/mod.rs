//! Shared pieces of the security tests (cgroups, seccomp, capabilities): the root check, unique
//! names, and running a check in a forked child so process-wide changes never leak into the
//! test process.

#![allow(dead_code)]

use std::io::Read as _;
use std::os::fd::{AsRawFd as _, OwnedFd};

/// True when the test may proceed; false when root is missing and BERTH_SKIP_ROOT_TESTS=1.
/// Panics (fails loudly) when root is missing without that variable.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: needs root (BERTH_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!("this test needs root; run as root or set BERTH_SKIP_ROOT_TESTS=1");
}

/// A name no other test run uses at the same time.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Runs `check` in a forked child and returns its verdict: Ok, or the child's error text.
/// The child only runs `check` and `_exit`s; the parent always reaps it.
pub fn in_forked_child(check: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (read_end, write_end): (OwnedFd, OwnedFd) =
        nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the child runs only `check` (plain syscalls and allocation, which glibc keeps
    // usable after fork) and then _exit; it never returns into the test harness.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Child => {
            drop(read_end);
            let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check))
                .unwrap_or_else(|_| Err("child panicked".to_string()));
            let code = match verdict {
                Ok(()) => 0,
                Err(message) => {
                    let _ = nix::unistd::write(&write_end, message.as_bytes());
                    1
                }
            };
            // SAFETY: _exit skips atexit handlers and destructors that belong to the parent.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(write_end);
            let mut message = String::new();
            let mut file = std::fs::File::from(read_end);
            let _ = file.read_to_string(&mut message);
            let status =
                nix::sys::wait::waitpid(child, None).map_err(|e| format!("waitpid: {e}"))?;
            match status {
                nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
                nix::sys::wait::WaitStatus::Exited(_, _) => Err(message),
                other => Err(format!(
                    "child ended with {other:?}; message: {message} (fd {})",
                    file.as_raw_fd()
                )),
            }
        }
    }
}
