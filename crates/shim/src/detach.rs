//! Detaches the shim from berthd: a fork whose parent exits at once (berthd reaps it), a new
//! session so no terminal or process-group signal reaches it, and child-subreaper status so
//! every process of the container that gets orphaned is reaped here.

use berth_shim::protocol::Reply;
use nix::unistd::{ForkResult, fork, setsid};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

/// Where the one ready message goes: berthd's pipe on our stdout.
pub struct Ready {
    out: OwnedFd,
}

/// Forks and returns in the detached child.
pub fn detach() -> nix::Result<Ready> {
    let out = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|_| nix::Error::EBADF)?;
    // SAFETY: called from main before any thread exists, so the child is a complete copy of
    // a single-threaded process and may run arbitrary code.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    setsid()?;
    nix::sys::prctl::set_child_subreaper(true)?;
    Ok(Ready { out })
}

impl Ready {
    /// Writes the reply as one JSON line, then points our stdout at /dev/null so berthd sees
    /// end of file.
    pub fn report(self, reply: &Reply) {
        let mut line = serde_json::to_vec(reply).unwrap_or_default();
        line.push(b'\n');
        let mut out = File::from(self.out);
        let _ = out.write_all(&line);
        drop(out);
        if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
            let _ = nix::unistd::dup2_stdout(&null);
        }
    }
}
