//! The persisted state of a container (`<root>/<id>/state.json`): what `state`, `start`, `kill` and `delete` read.
//!
//! The file holds the OCI state fields plus our private ones (the init's start time, which guards
//! against a recycled pid, and the cgroup path). It is written atomically (temp file + rename)
//! without fsync: it lives on tmpfs and does not outlive a reboot anyway.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// Name of the state file inside a container's state directory.
pub const STATE_FILE: &str = "state.json";
/// Name of the FIFO the init blocks on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";

/// The OCI lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still running.
    Creating,
    /// Set up, waiting for `start`.
    Created,
    /// The user's program runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// A container's state: the OCI fields, runc's extras and our private bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// OCI runtime spec version of the state format.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// The container id.
    pub id: String,
    /// Live status (derived from the process and cgroup when read through the runtime).
    pub status: Status,
    /// Host pid of the container's init (0 once stopped, as runc shows).
    pub pid: i32,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// Absolute root filesystem directory.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Owner of the container (empty: root), as runc prints.
    #[serde(default)]
    pub owner: String,
    /// The spec's annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// Private: start time of the init from /proc/<pid>/stat, in clock ticks after boot.
    #[serde(default, rename = "berthInitStartTime")]
    pub init_start_time: u64,
    /// Private: the cgroup path (spec's cgroupsPath or our default).
    #[serde(default, rename = "berthCgroupPath")]
    pub cgroup_path: String,
}

impl State {
    /// The OCI/runc view printed by `berth-runtime state` (no private fields).
    pub fn oci_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": self.pid,
            "status": self.status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }

    /// Reads `<dir>/state.json`.
    pub(crate) fn load(dir: &Path, id: &str) -> Result<State, RuntimeError> {
        let path = dir.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RuntimeError::NotFound { id: id.to_string() });
            }
            Err(e) => return Err(RuntimeError::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            RuntimeError::io(
                format!("parsing {}", path.display()),
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })
    }

    /// Writes `<dir>/state.json` atomically (temp file + rename; no fsync, it lives on tmpfs).
    pub(crate) fn save(&self, dir: &Path) -> Result<(), RuntimeError> {
        let bytes = serde_json::to_vec(self).map_err(|e| {
            RuntimeError::io(
                "encoding state",
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        write_atomic(&dir.join(STATE_FILE), &bytes)
    }
}

/// Writes `path` through a temp file in the same directory and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes)
        .map_err(|e| RuntimeError::io(format!("writing {}", tmp.display()), e))?;
    fs::rename(&tmp, path)
        .map_err(|e| RuntimeError::io(format!("renaming to {}", path.display()), e))
}

/// What /proc says about a pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// One-letter state (R, S, D, Z, T, ...).
    pub state: char,
    /// Start time in clock ticks after boot.
    pub start_time: u64,
}

/// Reads state and start time from /proc/<pid>/stat; None when the pid does not exist.
pub(crate) fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&text)
}

/// Parses the fields after the command name (which may hold spaces and parentheses).
fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
    // stime cutime cstime priority nice num_threads itrealvalue starttime (the 19th after state).
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// True when `pid` is the same live (not zombie) process that had `start_time`.
pub(crate) fn process_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some(st) => {
            st.state != 'Z' && st.state != 'X' && (start_time == 0 || st.start_time == start_time)
        }
        None => false,
    }
}

/// Now as RFC 3339 UTC with nanoseconds, as runc writes `created`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_name() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        let st = parse_proc_stat(line).expect("parse");
        assert_eq!(st.state, 'S');
        assert_eq!(st.start_time, 98765);
    }

    #[test]
    fn own_process_is_alive_and_reused_pid_is_not() {
        let me = std::process::id() as i32;
        let st = proc_stat(me).expect("own stat");
        assert!(process_alive(me, st.start_time));
        assert!(!process_alive(me, st.start_time + 1));
        assert!(!process_alive(0, 0));
    }

    #[test]
    fn status_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Running).expect("json"),
            "\"running\""
        );
    }
}
