//! A container's persistent record (`containers/<id>/config.v2.json`): everything inspect
//! shows and everything needed to start it again, written atomically on every change.

use crate::status::Status;
use berth_api::config::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The record's file name inside the container directory.
pub const RECORD_FILE: &str = "config.v2.json";

/// The persisted state of a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StateRecord {
    /// Lifecycle state.
    pub status: Status,
    /// The init's host pid while live.
    pub pid: i64,
    /// Last exit code.
    pub exit_code: i64,
    /// Whether the OOM killer fired in the last run.
    pub oom_killed: bool,
    /// Last error (start failures).
    pub error: String,
    /// RFC 3339 start time ("0001-01-01T00:00:00Z" if never).
    pub started_at: String,
    /// RFC 3339 end time.
    pub finished_at: String,
}

/// Everything the engine knows about one container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerRecord {
    /// 64-hex id.
    pub id: String,
    /// Name with Docker's leading slash.
    pub name: String,
    /// Creation time, RFC 3339 with nanoseconds.
    pub created: String,
    /// The image as the user named it.
    pub image_ref: String,
    /// The image id (`sha256:...`).
    pub image_id: String,
    /// The process's program.
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The merged configuration (image defaults + request).
    pub config: ContainerConfig,
    /// Host configuration from the request.
    pub host_config: HostConfig,
    /// Lifecycle state.
    pub state: StateRecord,
    /// Restarts done by the restart policy.
    pub restart_count: i64,
    /// Stopped by the user (for unless-stopped and for not restarting).
    pub manually_stopped: bool,
    /// Started at least once.
    pub has_been_started: bool,
    /// The writable snapshot's key in the image store.
    pub snapshot_key: String,
    /// Overlay directories for GraphDriver.Data.
    pub graph_data: std::collections::HashMap<String, String>,
}

impl ContainerRecord {
    /// Name without the leading slash.
    pub fn bare_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }

    /// Whether the container has a terminal.
    pub fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }
}

/// Writes `bytes` to `path` atomically (temp file, rename); with `durable` the data is
/// fsynced first so it survives a power loss, not only a crash of the daemon.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    if durable {
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Persists `record` into `dir/config.v2.json`; `durable` = false for transient states whose
/// loss only repeats work.
pub fn save_with(dir: &Path, record: &ContainerRecord, durable: bool) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    write_atomic(&dir.join(RECORD_FILE), &bytes, durable)
}

/// Reads `dir/config.v2.json`.
pub fn load(dir: &Path) -> std::io::Result<ContainerRecord> {
    let bytes = std::fs::read(dir.join(RECORD_FILE))?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}
