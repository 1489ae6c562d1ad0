//! Exec endpoints' bodies: creating a process in a running container, starting it, inspecting it.

use serde::{Deserialize, Serialize};

/// Body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecCreateBody {
    /// Attach stdin.
    pub attach_stdin: Option<bool>,
    /// Attach stdout.
    pub attach_stdout: Option<bool>,
    /// Attach stderr.
    pub attach_stderr: Option<bool>,
    /// Initial console size `[height, width]`.
    pub console_size: Option<Vec<u32>>,
    /// Detach key sequence.
    pub detach_keys: Option<String>,
    /// Allocate a pseudo-terminal.
    pub tty: Option<bool>,
    /// Extra environment `KEY=value`.
    pub env: Option<Vec<String>>,
    /// Command to run.
    pub cmd: Option<Vec<String>>,
    /// Run with extended privileges.
    pub privileged: Option<bool>,
    /// User to run as.
    pub user: Option<String>,
    /// Working directory.
    pub working_dir: Option<String>,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartBody {
    /// Run in the background, no streams.
    pub detach: bool,
    /// Allocate a pseudo-terminal (must match create).
    pub tty: bool,
    /// Initial console size `[height, width]`.
    pub console_size: Option<Vec<u32>>,
}

/// The process part of exec inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecProcessConfig {
    /// Executable.
    pub entrypoint: String,
    /// Arguments.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub arguments: Vec<String>,
    /// Privileged.
    pub privileged: bool,
    /// Pseudo-terminal.
    pub tty: bool,
    /// User.
    pub user: String,
}

/// Reply of `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInspect {
    /// Whether the exec can be removed.
    pub can_remove: bool,
    /// Container the exec runs in.
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    /// Detach keys.
    pub detach_keys: String,
    /// Exit code, `null` while running or not started.
    pub exit_code: Option<i64>,
    /// Exec id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Stdin attached.
    pub open_stdin: bool,
    /// Stderr attached.
    pub open_stderr: bool,
    /// Stdout attached.
    pub open_stdout: bool,
    /// Process details.
    pub process_config: ExecProcessConfig,
    /// Whether it runs now.
    pub running: bool,
    /// Host pid, 0 when not running.
    pub pid: i64,
}
