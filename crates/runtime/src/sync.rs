//! Typed messages between the runtime (parent) and the container's init or exec process (child).
//!
//! A SOCK_SEQPACKET socketpair keeps message boundaries; both ends are close-on-exec, so the
//! parent sees end-of-file once the child has called execve (or died).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, RuntimeError};

/// One message on the sync socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum Message {
    /// Parent -> child: you are in the cgroup, go on.
    Continue,
    /// Child -> parent: I made my user namespace, write my id maps.
    NeedIdMaps,
    /// Parent -> child: the id maps are written.
    IdMapsWritten,
    /// Child -> parent: my mounts are done, run createRuntime and prestart hooks before I pivot.
    RunHooks,
    /// Parent -> child: the runtime's hooks succeeded; the state JSON for the container's own
    /// createContainer and startContainer hooks.
    HooksDone(String),
    /// Intermediate (exec) -> parent: the pid of the process that will exec.
    ExecPid(i32),
    /// Child -> parent: set-up is complete (the init now waits for `start`).
    Ready,
    /// Child -> parent: set-up failed.
    Error {
        /// How to treat it.
        kind: ErrorKind,
        /// What failed, in words a user understands.
        message: String,
    },
}

/// Largest message we accept; error messages are short.
const MAX_MESSAGE: usize = 64 * 1024;

/// Makes the close-on-exec socketpair (parent end, child end).
pub(crate) fn pair() -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| RuntimeError::sys("creating sync socketpair", e))
}

/// Sends one message.
pub(crate) fn send(fd: RawFd, msg: &Message) -> Result<(), nix::Error> {
    let bytes = serde_json::to_vec(msg).map_err(|_| nix::Error::EINVAL)?;
    loop {
        match socket::send(fd, &bytes, MsgFlags::MSG_NOSIGNAL) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
}

/// Receives one message; `None` on end-of-file (the peer exec'd or exited).
pub(crate) fn recv(fd: RawFd) -> Result<Option<Message>, nix::Error> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        match socket::recv(fd, &mut buf, MsgFlags::empty()) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(0) => return Ok(None),
            Ok(n) => {
                return serde_json::from_slice(&buf[..n])
                    .map(Some)
                    .map_err(|_| nix::Error::EBADMSG);
            }
        }
    }
}

/// Parent side: receives one message, naming the container in errors.
pub(crate) fn recv_from_child(fd: &OwnedFd, id: &str) -> Result<Option<Message>, RuntimeError> {
    recv(fd.as_raw_fd())
        .map_err(|e| RuntimeError::sys(format!("reading from the init of container \"{id}\""), e))
}

/// Parent side: sends one message, naming the container in errors.
pub(crate) fn send_to_child(fd: &OwnedFd, id: &str, msg: &Message) -> Result<(), RuntimeError> {
    send(fd.as_raw_fd(), msg)
        .map_err(|e| RuntimeError::sys(format!("writing to the init of container \"{id}\""), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_eof_is_none() {
        let (a, b) = pair().expect("pair");
        send(a.as_raw_fd(), &Message::ExecPid(42)).expect("send");
        send(
            a.as_raw_fd(),
            &Message::Error {
                kind: ErrorKind::NotFound,
                message: "x".into(),
            },
        )
        .expect("send");
        assert_eq!(
            recv(b.as_raw_fd()).expect("recv"),
            Some(Message::ExecPid(42))
        );
        assert!(matches!(
            recv(b.as_raw_fd()).expect("recv"),
            Some(Message::Error { .. })
        ));
        drop(a);
        assert_eq!(recv(b.as_raw_fd()).expect("recv"), None);
    }
}
