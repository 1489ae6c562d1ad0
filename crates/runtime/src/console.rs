//! The container's terminal: a pty made inside the container, its master sent over the console socket.
//!
//! As with runc's `--console-socket`, the caller listens on a unix socket and receives the pty
//! master with SCM_RIGHTS; the slave becomes the process's stdin, stdout, stderr and controlling
//! terminal.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::{OFlag, open};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use nix::sys::stat::Mode;

use crate::init::InitError;

nix::ioctl_write_ptr_bad!(set_window_size, libc::TIOCSWINSZ, libc::winsize);

/// Makes a pty, sends its master over `socket`, and makes the slave our terminal and stdio.
pub(crate) fn setup_pty(socket: RawFd, size: Option<(u16, u16)>) -> Result<(), InitError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| InitError::sys("opening /dev/ptmx", e))?;
    grantpt(&master).map_err(|e| InitError::sys("grantpt", e))?;
    unlockpt(&master).map_err(|e| InitError::sys("unlockpt", e))?;
    let name = ptsname_r(&master).map_err(|e| InitError::sys("ptsname", e))?;
    let slave: OwnedFd = open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::sys(format!("opening {name}"), e))?;
    if let Some((height, width)) = size {
        let ws = libc::winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize struct we own from the pointer.
        unsafe { set_window_size(slave.as_raw_fd(), &ws) }
            .map_err(|e| InitError::sys("setting console size", e))?;
    }
    send_fd(socket, master.as_raw_fd(), name.as_bytes())?;
    drop(master);
    let _ = nix::unistd::close(socket);
    for target in 0..3 {
        dup2_raw(slave.as_raw_fd(), target).map_err(|e| InitError::sys("dup2 pty slave", e))?;
    }
    // SAFETY: TIOCSCTTY takes an int argument; fd 0 is the pty slave we just installed.
    let r = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    if r < 0 {
        return Err(InitError::sys(
            "setting the controlling terminal",
            nix::Error::last(),
        ));
    }
    Ok(())
}

/// Sends one file descriptor with SCM_RIGHTS, `payload` as the data (the pty's name).
pub(crate) fn send_fd(socket: RawFd, fd: RawFd, payload: &[u8]) -> Result<(), InitError> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload)];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| InitError::sys("sending the pty master over the console socket", e))?;
    Ok(())
}

/// dup2 on raw descriptor numbers (the targets 0, 1, 2 are not owned values).
pub(crate) fn dup2_raw(from: RawFd, to: RawFd) -> nix::Result<()> {
    if from == to {
        // dup2 would keep close-on-exec set; clear it instead.
        return nix::fcntl::fcntl(
            // SAFETY: `from` is open for the duration of this call; we only borrow it.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(from) },
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .map(drop);
    }
    // SAFETY: dup2 on descriptor numbers; `to` is replaced atomically, nothing owns it as a Rust value.
    let r = unsafe { libc::dup2(from, to) };
    if r < 0 {
        Err(nix::Error::last())
    } else {
        Ok(())
    }
}

/// Receives the pty master sent by a container over a console socket (the caller's side of
/// `--console-socket`, for shims and tests).
pub fn receive_pty_master(socket: RawFd) -> Result<OwnedFd, std::io::Error> {
    use nix::sys::socket::{ControlMessageOwned, recvmsg};
    use std::io::IoSliceMut;
    use std::os::fd::FromRawFd;
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    for cmsg in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor for us; nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "no file descriptor in the console message",
    ))
}
