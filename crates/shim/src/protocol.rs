//! Typed messages between berthd and a shim: one JSON request line, one JSON reply line;
//! `attach` and attached `exec` turn the connection into a framed output stream.
//!
//! Stream frames use Docker's 8-byte header `[kind, 0, 0, 0, len (u32 big endian)]` followed
//! by `len` bytes. Kinds: [`FRAME_STDOUT`], [`FRAME_STDERR`] and [`FRAME_EXIT`] (payload: an
//! [`ExitRecord`] as JSON, the last frame). Bytes the daemon writes on a stream connection are
//! the process's stdin; the daemon's write shutdown means "stdin closed".

use crate::config::ExitRecord;
use serde::{Deserialize, Serialize};

/// Output the process wrote to stdout (or to its terminal).
pub const FRAME_STDOUT: u8 = 1;
/// Output the process wrote to stderr.
pub const FRAME_STDERR: u8 = 2;
/// The process exited; payload is an [`ExitRecord`] in JSON. Last frame of a stream.
pub const FRAME_EXIT: u8 = 3;

/// A request from the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The container's live state.
    State,
    /// Release the created init (runtime start).
    Start,
    /// Signal the init (or every process in the container with `all`).
    Kill {
        /// Signal number.
        signal: i32,
        /// Signal every process of the container.
        #[serde(default)]
        all: bool,
    },
    /// Resize the init's (or an exec's) terminal.
    Resize {
        /// The exec whose terminal to resize; None = the init.
        #[serde(default)]
        exec_id: Option<String>,
        /// Rows.
        height: u16,
        /// Columns.
        width: u16,
    },
    /// Turn this connection into the init's stdio stream.
    Attach {
        /// Forward bytes written on this connection to the init's stdin.
        #[serde(default)]
        stdin: bool,
        /// Send stdout frames.
        #[serde(default)]
        stdout: bool,
        /// Send stderr frames.
        #[serde(default)]
        stderr: bool,
    },
    /// Start an extra process in the container.
    Exec {
        /// The daemon's id for this exec (unique per container).
        exec_id: String,
        /// The OCI process to run.
        process: Box<oci_spec::runtime::Process>,
        /// Keep a stdin pipe for the process.
        #[serde(default)]
        stdin: bool,
        /// Turn this connection into the exec's stdio stream (after the reply).
        #[serde(default)]
        attach: bool,
    },
    /// Close the init's (or an exec's) stdin.
    CloseStdin {
        /// The exec; None = the init.
        #[serde(default)]
        exec_id: Option<String>,
    },
    /// Reply once the init (or the exec) has exited and its output is drained.
    Wait {
        /// The exec; None = the init.
        #[serde(default)]
        exec_id: Option<String>,
    },
    /// Change the container's cgroup limits while it runs (`docker update`).
    Update {
        /// The new limits (OCI linux.resources).
        resources: Box<oci_spec::runtime::LinuxResources>,
    },
    /// Freeze the container.
    Pause,
    /// Thaw the container.
    Resume,
    /// Cgroup statistics.
    Stats,
    /// The pids in the container's cgroup.
    Ps,
    /// Delete the container from the runtime; the shim exits after replying.
    Delete,
}

/// The shim's live view of its container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShimState {
    /// The init's host pid.
    pub pid: i32,
    /// "created", "running", "paused" or "stopped".
    pub status: String,
    /// Set once the init exited.
    #[serde(default)]
    pub exit: Option<ExitRecord>,
}

/// A reply from the shim.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Done, nothing to return.
    Ok,
    /// The container's state.
    State(ShimState),
    /// A process was created (ready message of a new shim, and exec).
    Pid {
        /// Its host pid.
        pid: i32,
    },
    /// A process exited.
    Exit(ExitRecord),
    /// Cgroup statistics as the runtime reports them.
    Stats {
        /// The runtime's `CgroupStats` in JSON.
        stats: serde_json::Value,
    },
    /// Pids in the container.
    Pids {
        /// Host pids.
        pids: Vec<i32>,
    },
    /// The request failed.
    Error {
        /// One of NotFound, AlreadyExists, Conflict, InvalidArgument, PermissionDenied,
        /// Unavailable, Internal.
        kind: String,
        /// What went wrong, in words a user can act on.
        message: String,
    },
}

impl Reply {
    /// An error reply.
    pub fn error(kind: &str, message: impl Into<String>) -> Reply {
        Reply::Error {
            kind: kind.to_string(),
            message: message.into(),
        }
    }
}

/// Encodes a frame header for `len` bytes of `kind`.
pub fn frame_header(kind: u8, len: usize) -> [u8; 8] {
    let n = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [kind, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// Decodes a frame header into (kind, payload length).
pub fn parse_frame_header(h: &[u8; 8]) -> (u8, usize) {
    (h[0], u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_json_lines() {
        let r: Request =
            serde_json::from_str(r#"{"op":"kill","signal":9}"#).unwrap_or(Request::State);
        assert!(matches!(
            r,
            Request::Kill {
                signal: 9,
                all: false
            }
        ));
        let s = serde_json::to_string(&Reply::Pid { pid: 7 }).unwrap_or_default();
        assert_eq!(s, r#"{"reply":"pid","pid":7}"#);
    }

    #[test]
    fn frame_header_round_trips() {
        let h = frame_header(FRAME_STDERR, 70000);
        assert_eq!(parse_frame_header(&h), (FRAME_STDERR, 70000));
    }
}
