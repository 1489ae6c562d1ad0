//! What berthd tells a shim before it starts (`<state dir>/config.json`) and what the shim
//! leaves behind (`<state dir>/exit`), so a restarted daemon can read both.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The file in the shim's state directory holding [`ShimConfig`].
pub const CONFIG_FILE: &str = "shim.json";
/// The file in the shim's state directory holding the init's [`ExitRecord`].
pub const EXIT_FILE: &str = "exit";
/// The socket the shim serves the daemon on.
pub const SOCKET_FILE: &str = "shim.sock";
/// The shim's own pid, for the daemon's leak checks and live restore.
pub const PID_FILE: &str = "pid";

/// Everything a shim needs to run one container; written by the engine before the spawn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimConfig {
    /// The container id (also the runtime's id).
    pub id: String,
    /// The OCI bundle (config.json + rootfs), ready to run.
    pub bundle: PathBuf,
    /// The runtime library's state root.
    pub runtime_root: PathBuf,
    /// The json-file log path, or None to discard output.
    pub log_path: Option<PathBuf>,
    /// Rotate the log when it would grow beyond this many bytes (0 = never).
    #[serde(default)]
    pub log_max_size: u64,
    /// How many log files to keep in total when rotating (at least 1).
    #[serde(default = "one")]
    pub log_max_files: u32,
    /// Give the container a pseudo-terminal instead of pipes.
    #[serde(default)]
    pub tty: bool,
    /// Keep a stdin pipe open for attach (`docker run -i`).
    #[serde(default)]
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client closes its stdin.
    #[serde(default)]
    pub stdin_once: bool,
    /// The container's cgroup path (spec linux.cgroupsPath) for the OOM count.
    #[serde(default)]
    pub cgroup_path: Option<String>,
}

fn one() -> u32 {
    1
}

/// How the container's init ended, written atomically before anything else is done.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitRecord {
    /// The exit code as Docker reports it (128 + signal when killed by a signal).
    pub exit_code: i32,
    /// The signal that killed the process, if any.
    #[serde(default)]
    pub signal: Option<i32>,
    /// When the exit was seen, RFC 3339 with nanoseconds, UTC.
    pub finished_at: String,
    /// Whether the cgroup's OOM killer fired during the container's life.
    #[serde(default)]
    pub oom_killed: bool,
}
