//! The stdio of a container process: three pipes, or a pseudo-terminal whose master the
//! runtime hands us over a socket pair (SCM_RIGHTS, as runc's --console-socket).

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// The process-side fds (0, 1, 2) handed to the runtime when there is no terminal.
pub struct ChildFds {
    /// The process's stdin.
    pub stdin: OwnedFd,
    /// The process's stdout.
    pub stdout: OwnedFd,
    /// The process's stderr.
    pub stderr: OwnedFd,
}

/// Our side of a process's stdio.
#[derive(Default)]
pub struct ShimSide {
    /// Where we write the process's stdin (pipe write end or the pty master).
    pub stdin: Option<OwnedFd>,
    /// Where we read its stdout (or the terminal's output).
    pub stdout: Option<OwnedFd>,
    /// Where we read its stderr (None with a terminal).
    pub stderr: Option<OwnedFd>,
    /// The pty master, for resizes.
    pub tty: Option<OwnedFd>,
}

/// Stdio being prepared for one process.
pub enum Prepared {
    /// Pipes: give `child` to the runtime, keep `ours`.
    Pipes {
        /// For the runtime.
        child: ChildFds,
        /// For us.
        ours: ShimSide,
    },
    /// A terminal: the runtime sends the pty master over `theirs`; we receive it on `ours`.
    Console {
        /// The end the runtime's init writes to (`--console-socket` as an fd).
        theirs: UnixStream,
        /// Our end.
        ours: UnixStream,
    },
}

/// Prepares pipes (`with_stdin` = a real stdin pipe, else /dev/null).
pub fn pipes(with_stdin: bool) -> std::io::Result<Prepared> {
    let (stdin_child, stdin_ours) = if with_stdin {
        let (r, w) = pipe()?;
        (r, Some(w))
    } else {
        (File::open("/dev/null")?.into(), None)
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    Ok(Prepared::Pipes {
        child: ChildFds {
            stdin: stdin_child,
            stdout: out_w,
            stderr: err_w,
        },
        ours: ShimSide {
            stdin: stdin_ours,
            stdout: Some(out_r),
            stderr: Some(err_r),
            tty: None,
        },
    })
}

/// A socket pair over which the runtime hands us a terminal.
pub fn console() -> std::io::Result<Prepared> {
    let (ours, theirs) = UnixStream::pair()?;
    Ok(Prepared::Console { theirs, ours })
}

/// After the runtime created the process: our side of its stdio.
pub fn finish(prepared: Prepared, with_stdin: bool) -> std::io::Result<ShimSide> {
    let side = match prepared {
        Prepared::Pipes { ours, .. } => ours,
        Prepared::Console { ours, theirs } => {
            drop(theirs);
            let master = berth_runtime::receive_pty_master(ours.as_raw_fd())?;
            ShimSide {
                stdin: if with_stdin {
                    Some(master.try_clone()?)
                } else {
                    None
                },
                stdout: Some(master.try_clone()?),
                stderr: None,
                tty: Some(master),
            }
        }
    };
    for fd in [&side.stdin, &side.stdout, &side.stderr]
        .into_iter()
        .flatten()
    {
        set_nonblocking(fd)?;
    }
    Ok(side)
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

/// Makes reads and writes on `fd` return EAGAIN instead of blocking the loop.
pub fn set_nonblocking(fd: &impl AsFd) -> std::io::Result<()> {
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL).map_err(std::io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags)).map_err(std::io::Error::from)?;
    Ok(())
}

/// Sets a terminal's window size.
pub fn resize(tty: &OwnedFd, height: u16, width: u16) -> std::io::Result<()> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which points at a live local.
    let rc = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
