//! System endpoints' reply bodies: `/version`, `/info`, `/system/df`, and the event records `/events` streams.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::container::ContainerSummary;
use crate::filters::Filters;
use crate::image::ImageSummary;

/// One component in `/version` (`Engine`, `berth-shim`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ComponentVersion {
    /// Component name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Extra details (`ApiVersion`, `GitCommit`, ...).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub details: HashMap<String, String>,
}

/// The product name block of `/version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlatformName {
    /// e.g. `berth`.
    pub name: String,
}

/// Reply of `GET /version`. The server overwrites `ApiVersion` and `MinAPIVersion` with what it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemVersion {
    /// Product.
    pub platform: PlatformName,
    /// Components.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub components: Vec<ComponentVersion>,
    /// Engine version.
    pub version: String,
    /// API version served.
    pub api_version: String,
    /// Oldest API version accepted.
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    /// Source revision.
    pub git_commit: String,
    /// Compiler version (Docker reports Go's; we report rustc's).
    pub go_version: String,
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub arch: String,
    /// Host kernel.
    pub kernel_version: String,
    /// Whether experimental features are on.
    pub experimental: bool,
    /// Build time (RFC 3339).
    pub build_time: String,
}

/// Runtime entry in `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeInfo {
    /// Runtime binary path.
    pub path: String,
}

/// Plugin lists in `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PluginsInfo {
    /// Volume drivers.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub volume: Vec<String>,
    /// Network drivers.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub network: Vec<String>,
    /// Authorization plugins.
    pub authorization: Option<Vec<String>>,
    /// Log drivers.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub log: Vec<String>,
}

/// Swarm block of `/info`; berth is never in a swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SwarmInfo {
    /// Node id, empty.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// Node address, empty.
    pub node_addr: String,
    /// Always `inactive`.
    pub local_node_state: String,
    /// Whether this node is a manager.
    pub control_available: bool,
    /// Last error.
    pub error: String,
    /// Remote managers.
    pub remote_managers: Option<Vec<String>>,
}

impl Default for SwarmInfo {
    fn default() -> Self {
        SwarmInfo {
            node_id: String::new(),
            node_addr: String::new(),
            local_node_state: "inactive".to_string(),
            control_available: false,
            error: String::new(),
            remote_managers: None,
        }
    }
}

/// Commit ids of helper binaries in `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CommitInfo {
    /// Commit id.
    #[serde(rename = "ID")]
    pub id: String,
}

/// Registry settings in `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegistryConfig {
    /// CIDRs treated as insecure.
    #[serde(rename = "InsecureRegistryCIDRs")]
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub insecure_registry_cidrs: Vec<String>,
    /// Per-registry settings.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub index_configs: HashMap<String, serde_json::Value>,
    /// Mirrors.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub mirrors: Vec<String>,
}

/// Reply of `GET /info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemInfo {
    /// Daemon id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Containers in total.
    pub containers: i64,
    /// Running containers.
    pub containers_running: i64,
    /// Paused containers.
    pub containers_paused: i64,
    /// Stopped containers.
    pub containers_stopped: i64,
    /// Images.
    pub images: i64,
    /// Storage driver (`overlay2`).
    pub driver: String,
    /// Storage driver details.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub driver_status: Vec<Vec<String>>,
    /// Plugins.
    pub plugins: PluginsInfo,
    /// Memory limits supported.
    pub memory_limit: bool,
    /// Swap limits supported.
    pub swap_limit: bool,
    /// CFS period supported.
    pub cpu_cfs_period: bool,
    /// CFS quota supported.
    pub cpu_cfs_quota: bool,
    /// CPU shares supported.
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    /// Cpusets supported.
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    /// Pids limits supported.
    pub pids_limit: bool,
    /// Whether IPv4 forwarding is on.
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    /// Debug mode.
    pub debug: bool,
    /// Open file descriptors of the daemon.
    #[serde(rename = "NFd")]
    pub nfd: i64,
    /// OOM kill disable supported.
    pub oom_kill_disable: bool,
    /// Tasks of the daemon (Docker: goroutines).
    pub n_goroutines: i64,
    /// Current time (RFC 3339 nano).
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub system_time: String,
    /// Default log driver.
    pub logging_driver: String,
    /// `cgroupfs` or `systemd`.
    pub cgroup_driver: String,
    /// `1` or `2`.
    pub cgroup_version: String,
    /// Event listeners.
    pub n_events_listener: i64,
    /// Kernel version.
    pub kernel_version: String,
    /// OS description.
    pub operating_system: String,
    /// OS version.
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    /// `linux`.
    #[serde(rename = "OSType")]
    pub os_type: String,
    /// `x86_64`, ...
    pub architecture: String,
    /// CPUs.
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    /// Memory in bytes.
    pub mem_total: i64,
    /// Default registry.
    pub index_server_address: String,
    /// Registry settings.
    pub registry_config: RegistryConfig,
    /// Data root.
    pub docker_root_dir: String,
    /// HTTP proxy.
    pub http_proxy: String,
    /// HTTPS proxy.
    pub https_proxy: String,
    /// No-proxy list.
    pub no_proxy: String,
    /// Host name.
    pub name: String,
    /// Daemon labels.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub labels: Vec<String>,
    /// Experimental build.
    pub experimental_build: bool,
    /// Engine version.
    pub server_version: String,
    /// Runtimes by name.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub runtimes: HashMap<String, RuntimeInfo>,
    /// Default runtime.
    pub default_runtime: String,
    /// Swarm (always inactive).
    pub swarm: SwarmInfo,
    /// Live restore.
    pub live_restore_enabled: bool,
    /// Isolation (empty on Linux).
    pub isolation: String,
    /// Init binary.
    pub init_binary: String,
    /// Containerd commit (our shim).
    pub containerd_commit: CommitInfo,
    /// Runc commit (our runtime).
    pub runc_commit: CommitInfo,
    /// Init commit.
    pub init_commit: CommitInfo,
    /// Security options (`name=seccomp,profile=builtin`).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub security_options: Vec<String>,
    /// Warnings shown by `docker info`.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub warnings: Vec<String>,
}

/// Query of `GET /system/df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsageOptions {
    /// Object types asked for (`container`, `image`, `volume`, `build-cache`); empty for all.
    pub types: Vec<String>,
}

/// Reply of `GET /system/df`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    /// Bytes used by all layers.
    pub layers_size: i64,
    /// Images.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub images: Vec<ImageSummary>,
    /// Containers (with sizes).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub containers: Vec<ContainerSummary>,
    /// Volumes (Docker's volume objects).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub volumes: Vec<serde_json::Value>,
    /// Build cache records.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub build_cache: Vec<serde_json::Value>,
}

/// Query of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventsOptions {
    /// Replay events at or after this time (Unix seconds, fractional allowed).
    pub since: Option<f64>,
    /// Stop at this time; `None` streams forever.
    pub until: Option<f64>,
    /// Filters (`type`, `event`, `container`, `image`, `label`, ...).
    pub filters: Filters,
}

/// The object an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventActor {
    /// Object id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Attributes (`name`, `image`, labels, `exitCode`, ...).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub attributes: HashMap<String, String>,
}

/// One record of the `/events` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// `container`, `image`, `volume`, `network`, `daemon`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `destroy`, `pull`, `tag`, ...
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    /// `local`.
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    /// Deprecated copy of `Action` for old clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Deprecated copy of the actor id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Deprecated image name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}
