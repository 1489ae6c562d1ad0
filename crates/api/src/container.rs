//! Container endpoints' request options and reply bodies (list, inspect, lifecycle, logs, top, archive, prune).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::{ContainerConfig, EndpointSettings, HostConfig, PortBinding};
use crate::filters::Filters;

/// Query of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// Requested name (`/` prefix optional); `None` for a generated one.
    pub name: Option<String>,
    /// Requested platform (`linux/amd64`).
    pub platform: Option<String>,
}

/// Reply of create calls: the new object's id and any warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResponse {
    /// Full id of the new object.
    pub id: String,
    /// Non-fatal warnings to show the user.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub warnings: Vec<String>,
}

/// Reply carrying only an id (exec create, commit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdResponse {
    /// The id.
    pub id: String,
}

/// Query of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Return at most this many, newest first (includes stopped ones).
    pub limit: Option<usize>,
    /// Compute `SizeRw`/`SizeRootFs`.
    pub size: bool,
    /// Filters (`status`, `label`, `name`, `id`, `ancestor`, `exited`, `before`, `since`, ...).
    pub filters: Filters,
}

/// A published or exposed port in list output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSummary {
    /// Host address, absent when not published.
    #[serde(rename = "IP", skip_serializing_if = "Option::is_none", default)]
    pub ip: Option<String>,
    /// Port in the container.
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    /// Port on the host, absent when not published.
    #[serde(
        rename = "PublicPort",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub public_port: Option<u16>,
    /// `tcp`, `udp` or `sctp`.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// A mount as list and inspect show it (Docker's `MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Volume name, for volumes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Host path.
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// Volume driver, for volumes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// Mount mode string (`ro`, `z`, ...).
    pub mode: String,
    /// Whether writes are allowed.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// Mount propagation.
    pub propagation: String,
}

/// The `HostConfig` subset shown by list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryHostConfig {
    /// Network mode.
    pub network_mode: String,
    /// OCI annotations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<HashMap<String, String>>,
}

/// The networks a container is attached to, as list shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SummaryNetworkSettings {
    /// Endpoint settings keyed by network name.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub networks: HashMap<String, EndpointSettings>,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    /// Full id.
    pub id: String,
    /// Names, each with a leading `/`.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub names: Vec<String>,
    /// Image as the user named it.
    pub image: String,
    /// Image id (`sha256:...`).
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Command line as one string.
    pub command: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Ports.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub ports: Vec<PortSummary>,
    /// Bytes written in the container layer (only when size was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Total size of the rootfs (only when size was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// Labels.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub labels: HashMap<String, String>,
    /// `created`, `running`, `paused`, `restarting`, `exited`, `removing`, `dead`.
    pub state: String,
    /// Human text, e.g. `Up 5 minutes`, `Exited (0) 2 seconds ago`.
    pub status: String,
    /// Host config subset.
    pub host_config: SummaryHostConfig,
    /// Network settings subset.
    pub network_settings: SummaryNetworkSettings,
    /// Mounts.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub mounts: Vec<MountPoint>,
}

/// Query of `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InspectOptions {
    /// Compute `SizeRw`/`SizeRootFs`.
    pub size: bool,
}

/// A health check result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthcheckResult {
    /// Start time (RFC 3339).
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub start: String,
    /// End time (RFC 3339).
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub end: String,
    /// Exit code of the check.
    pub exit_code: i64,
    /// Output of the check.
    pub output: String,
}

/// Health of a container with a health check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Consecutive failures.
    pub failing_streak: i64,
    /// Recent results.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub log: Vec<HealthcheckResult>,
}

/// The `State` section of inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub status: String,
    /// Whether running (also true while paused).
    pub running: bool,
    /// Whether paused.
    pub paused: bool,
    /// Whether restarting.
    pub restarting: bool,
    /// Whether the last exit was an OOM kill.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Whether dead.
    pub dead: bool,
    /// Host pid of the init process; 0 when not running.
    pub pid: i64,
    /// Last exit code.
    pub exit_code: i64,
    /// Last start error.
    pub error: String,
    /// Start time (RFC 3339 nano), `0001-01-01T00:00:00Z` when never.
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub started_at: String,
    /// Exit time (RFC 3339 nano), `0001-01-01T00:00:00Z` when never.
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub finished_at: String,
    /// Health, when a health check is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// Storage driver data in inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriverData {
    /// Driver name (`overlay2`).
    pub name: String,
    /// Driver data (`LowerDir`, `UpperDir`, `MergedDir`, `WorkDir`).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub data: HashMap<String, String>,
}

/// The `NetworkSettings` section of inspect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    /// Bridge name (deprecated).
    pub bridge: String,
    /// Sandbox id.
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    /// Path of the network namespace.
    pub sandbox_key: String,
    /// Published ports keyed `80/tcp`.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub ports: HashMap<String, Option<Vec<PortBinding>>>,
    /// Hairpin mode (deprecated).
    pub hairpin_mode: bool,
    /// Link-local IPv6 (deprecated).
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    /// Link-local IPv6 prefix (deprecated).
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: i64,
    /// Endpoint id on the default network.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Gateway on the default network.
    pub gateway: String,
    /// IPv6 address on the default network.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    /// IPv6 prefix on the default network.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: i64,
    /// IPv4 address on the default network.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// IPv4 prefix on the default network.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: i64,
    /// IPv6 gateway on the default network.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    /// MAC address on the default network.
    pub mac_address: String,
    /// Endpoints keyed by network name.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub networks: HashMap<String, EndpointSettings>,
}

/// Reply of `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    /// Full id.
    pub id: String,
    /// Creation time (RFC 3339 nano).
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub created: String,
    /// Executable of the main process.
    pub path: String,
    /// Its arguments.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub args: Vec<String>,
    /// Runtime state.
    pub state: ContainerState,
    /// Image id (`sha256:...`).
    pub image: String,
    /// Host path of resolv.conf.
    pub resolv_conf_path: String,
    /// Host path of the hostname file.
    pub hostname_path: String,
    /// Host path of the hosts file.
    pub hosts_path: String,
    /// Host path of the json-file log.
    pub log_path: String,
    /// Name with a leading `/`.
    pub name: String,
    /// Restarts done by the restart policy.
    pub restart_count: i64,
    /// Storage driver.
    pub driver: String,
    /// Platform (`linux`).
    pub platform: String,
    /// SELinux mount label.
    pub mount_label: String,
    /// SELinux process label.
    pub process_label: String,
    /// AppArmor profile.
    pub app_armor_profile: String,
    /// Ids of exec instances.
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    /// Host configuration.
    pub host_config: HostConfig,
    /// Storage driver data.
    pub graph_driver: GraphDriverData,
    /// Bytes in the container layer (only when size was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    /// Size of the rootfs (only when size was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    /// Mounts.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub mounts: Vec<MountPoint>,
    /// Container configuration.
    pub config: ContainerConfig,
    /// Network settings.
    pub network_settings: NetworkSettings,
}

/// Query of `POST /containers/{id}/stop` and `/restart`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopOptions {
    /// Seconds to wait before killing; `None` uses the container's `StopTimeout` (default 10).
    pub timeout: Option<i64>,
    /// Signal to send instead of the container's `StopSignal`.
    pub signal: Option<String>,
}

/// `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitCondition {
    /// Return at once if not running, otherwise at exit.
    #[default]
    NotRunning,
    /// Return at the next exit, even if not running now.
    NextExit,
    /// Return when the container is removed.
    Removed,
}

/// The error part of a wait reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitExitError {
    /// Why waiting failed.
    pub message: String,
}

/// Reply of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitResponse {
    /// Exit code.
    pub status_code: i64,
    /// Error, `null` when none.
    pub error: Option<WaitExitError>,
}

/// Query of `POST /containers/{id}/attach` (and what exec start needs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachOptions {
    /// Stream output from now on.
    pub stream: bool,
    /// Replay the logs first.
    pub logs: bool,
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr.
    pub stderr: bool,
    /// Key sequence that detaches (`ctrl-p,ctrl-q`); the server already watches stdin for it (also the default).
    pub detach_keys: Option<String>,
}

/// Query of `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogsOptions {
    /// Keep streaming new lines.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only lines at or after this time (Unix seconds with optional fraction).
    pub since: Option<f64>,
    /// Only lines before this time.
    pub until: Option<f64>,
    /// Prefix each line with its RFC 3339 nano timestamp (the server adds it).
    pub timestamps: bool,
    /// Only the last N lines; `None` for all.
    pub tail: Option<usize>,
}

/// Query of `GET /containers/{id}/top`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopOptions {
    /// Arguments to `ps` (default `-ef`).
    pub ps_args: Option<String>,
}

/// Reply of `GET /containers/{id}/top`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopResponse {
    /// Column titles.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub titles: Vec<String>,
    /// One row per process.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub processes: Vec<Vec<String>>,
}

/// A filesystem change in the container layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilesystemChange {
    /// Path in the container.
    pub path: String,
    /// 0 modified, 1 added, 2 deleted.
    pub kind: u8,
}

/// Query of `DELETE /containers/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoveOptions {
    /// Remove anonymous volumes too.
    pub volumes: bool,
    /// Kill a running container first.
    pub force: bool,
    /// Remove a legacy link instead of the container.
    pub link: bool,
}

/// Body of `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateBody {
    /// New resource limits (only the fields given change).
    #[serde(flatten)]
    pub resources: crate::config::Resources,
    /// New restart policy.
    pub restart_policy: Option<crate::config::RestartPolicy>,
}

/// Reply of `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateResponse {
    /// Warnings.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub warnings: Vec<String>,
}

/// Reply of `POST /containers/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerPruneResponse {
    /// Ids removed.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub containers_deleted: Vec<String>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// Metadata of a path inside a container, sent base64-encoded in `X-Docker-Container-Path-Stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (type bits in the high bits as Go encodes them).
    pub mode: u32,
    /// Modification time (RFC 3339).
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub mtime: String,
    /// Symlink target, empty otherwise.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Query of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutArchiveOptions {
    /// Directory in the container to extract into.
    pub path: String,
    /// Fail when a directory would replace a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Give files the container user's uid/gid.
    pub copy_uid_gid: bool,
}

/// Query of `POST /containers/{id}/resize` and `/exec/{id}/resize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResizeOptions {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
}

/// Query of `POST /commit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOptions {
    /// Container to commit.
    pub container: String,
    /// Repository for the new image.
    pub repo: Option<String>,
    /// Tag for the new image.
    pub tag: Option<String>,
    /// Commit message.
    pub comment: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Pause the container while committing (default true).
    pub pause: bool,
    /// Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
}
