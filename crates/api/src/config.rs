//! Container configuration as Docker sends it on create and shows it on inspect: `Config`, `HostConfig`,
//! `NetworkingConfig`. Every field is optional and unknown fields are ignored, so any Docker client's body decodes.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

/// An empty JSON object, the value type of Docker's set-like maps (`ExposedPorts`, `Volumes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyObject {}

/// Decodes Docker's `StrSlice`: a JSON string, an array of strings, or null.
fn str_slice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

/// The image-independent part of a container's configuration (Docker's `container.Config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    /// Hostname inside the container.
    pub hostname: Option<String>,
    /// Domain name inside the container.
    pub domainname: Option<String>,
    /// `user`, `user:group`, `uid` or `uid:gid` the process runs as.
    pub user: Option<String>,
    /// Whether the creating client attaches stdin.
    pub attach_stdin: Option<bool>,
    /// Whether the creating client attaches stdout.
    pub attach_stdout: Option<bool>,
    /// Whether the creating client attaches stderr.
    pub attach_stderr: Option<bool>,
    /// Ports the image exposes, keyed `80/tcp`.
    pub exposed_ports: Option<HashMap<String, EmptyObject>>,
    /// Whether the process gets a pseudo-terminal.
    pub tty: Option<bool>,
    /// Whether stdin stays open when nobody is attached.
    pub open_stdin: Option<bool>,
    /// Whether stdin closes after the first attached client detaches.
    pub stdin_once: Option<bool>,
    /// Environment as `KEY=value` strings.
    pub env: Option<Vec<String>>,
    /// The command (arguments to the entrypoint).
    #[serde(deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    /// How to check the container is healthy.
    pub healthcheck: Option<HealthConfig>,
    /// Windows-only escaping marker, kept so images round-trip.
    pub args_escaped: Option<bool>,
    /// The image name the container was created from.
    pub image: Option<String>,
    /// Anonymous volumes, keyed by container path.
    pub volumes: Option<HashMap<String, EmptyObject>>,
    /// Working directory of the process.
    pub working_dir: Option<String>,
    /// The entrypoint.
    #[serde(deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    /// Whether networking is disabled.
    pub network_disabled: Option<bool>,
    /// Deprecated MAC address field.
    pub mac_address: Option<String>,
    /// Image `ONBUILD` triggers.
    pub on_build: Option<Vec<String>>,
    /// Labels.
    pub labels: Option<HashMap<String, String>>,
    /// The signal that stops the container (e.g. `SIGTERM`).
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing on stop.
    pub stop_timeout: Option<i64>,
    /// Shell for shell-form instructions in builds.
    #[serde(deserialize_with = "str_slice")]
    pub shell: Option<Vec<String>>,
}

/// A health check (Docker's `HealthConfig`); durations are nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    pub test: Option<Vec<String>>,
    /// Time between checks.
    pub interval: Option<i64>,
    /// Time a check may take.
    pub timeout: Option<i64>,
    /// Consecutive failures before unhealthy.
    pub retries: Option<i64>,
    /// Grace period after start.
    pub start_period: Option<i64>,
    /// Interval during the start period.
    pub start_interval: Option<i64>,
}

/// A restart policy (`no`, `always`, `unless-stopped`, `on-failure`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// The policy name; empty means `no`.
    pub name: Option<String>,
    /// Retry limit for `on-failure`.
    pub maximum_retry_count: Option<i64>,
}

/// One resource limit (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// Limit name without `RLIMIT_` (`nofile`).
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// A device passed into the container (`--device`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    /// Device path on the host.
    pub path_on_host: String,
    /// Path inside the container.
    pub path_in_container: String,
    /// Cgroup permissions, e.g. `rwm`.
    pub cgroup_permissions: String,
}

/// A published port on the host (`-p 8080:80`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    /// Host address; empty for all.
    pub host_ip: String,
    /// Host port as a string; empty for a random one.
    pub host_port: String,
}

/// Where the container's logs go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// Driver name (`json-file`, `none`, ...).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Driver options.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub config: HashMap<String, String>,
}

/// The kind of a `Mounts` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host path.
    #[default]
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A memory-backed tmpfs.
    Tmpfs,
    /// A named pipe (Windows); rejected by the engine.
    Npipe,
    /// A cluster volume; rejected by the engine.
    Cluster,
    /// An image mounted read-only.
    Image,
}

/// One `--mount` (Docker's `mount.Mount`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// Path inside the container.
    pub target: String,
    /// Host path or volume name.
    pub source: String,
    /// Bind, volume or tmpfs.
    #[serde(rename = "Type")]
    pub kind: MountType,
    /// Whether the mount is read-only.
    pub read_only: bool,
    /// macOS consistency hint; ignored.
    pub consistency: Option<String>,
    /// Options for binds.
    pub bind_options: Option<BindOptions>,
    /// Options for volumes.
    pub volume_options: Option<VolumeOptions>,
    /// Options for tmpfs.
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Options of a bind mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    /// Mount propagation (`rprivate`, `shared`, ...).
    pub propagation: Option<String>,
    /// Whether to skip recursive binds.
    pub non_recursive: Option<bool>,
    /// Whether to create the host path when missing.
    pub create_mountpoint: Option<bool>,
}

/// Options of a volume mount.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    /// Whether not to copy image content into a new volume.
    pub no_copy: Option<bool>,
    /// Labels for a new volume.
    pub labels: Option<HashMap<String, String>>,
    /// Volume driver and options.
    pub driver_config: Option<serde_json::Value>,
    /// Sub-path of the volume to mount.
    pub subpath: Option<String>,
}

/// Options of a tmpfs mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Size in bytes; 0 for unlimited.
    pub size_bytes: Option<i64>,
    /// File mode of the tmpfs root.
    pub mode: Option<u32>,
}

/// Resource limits, shared by `HostConfig` and `POST /containers/{id}/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// Relative CPU weight.
    pub cpu_shares: Option<i64>,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Nano-CPUs (`--cpus 1.5` = 1.5e9).
    pub nano_cpus: Option<i64>,
    /// Parent cgroup path.
    pub cgroup_parent: Option<String>,
    /// Block IO weight (10..1000).
    pub blkio_weight: Option<u16>,
    /// CFS period in microseconds.
    pub cpu_period: Option<i64>,
    /// CFS quota in microseconds.
    pub cpu_quota: Option<i64>,
    /// Real-time period in microseconds.
    pub cpu_realtime_period: Option<i64>,
    /// Real-time runtime in microseconds.
    pub cpu_realtime_runtime: Option<i64>,
    /// CPUs allowed (`0-3,5`).
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    pub cpuset_mems: Option<String>,
    /// Devices passed through.
    pub devices: Option<Vec<DeviceMapping>>,
    /// Device cgroup rules (`c 1:3 rwm`).
    pub device_cgroup_rules: Option<Vec<String>>,
    /// Memory soft limit in bytes.
    pub memory_reservation: Option<i64>,
    /// Memory plus swap limit; -1 for unlimited.
    pub memory_swap: Option<i64>,
    /// Swappiness 0..100; -1 for the default.
    pub memory_swappiness: Option<i64>,
    /// Whether the OOM killer is disabled.
    pub oom_kill_disable: Option<bool>,
    /// Process count limit; 0 or -1 for unlimited.
    pub pids_limit: Option<i64>,
    /// Resource limits.
    pub ulimits: Option<Vec<Ulimit>>,
}

/// How the container runs on the host (Docker's `HostConfig`); `Resources` fields are flattened in as Docker does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `host:container[:opts]` bind mounts and named volumes.
    pub binds: Option<Vec<String>>,
    /// File the container id is written to (client side; kept for round-trips).
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: Option<String>,
    /// Log driver and options.
    pub log_config: Option<LogConfig>,
    /// `bridge`, `host`, `none`, `container:<id>` or a network name.
    pub network_mode: Option<String>,
    /// Published ports keyed `80/tcp`.
    pub port_bindings: Option<HashMap<String, Option<Vec<PortBinding>>>>,
    /// Restart policy.
    pub restart_policy: Option<RestartPolicy>,
    /// Whether the container is removed when it exits.
    pub auto_remove: Option<bool>,
    /// Volume driver for anonymous volumes.
    pub volume_driver: Option<String>,
    /// Containers whose volumes are shared.
    pub volumes_from: Option<Vec<String>>,
    /// Console size `[height, width]` at create.
    pub console_size: Option<Vec<u32>>,
    /// OCI annotations.
    pub annotations: Option<HashMap<String, String>>,
    /// Capabilities added.
    pub cap_add: Option<Vec<String>>,
    /// Capabilities dropped.
    pub cap_drop: Option<Vec<String>>,
    /// Cgroup namespace mode (`private`, `host`).
    pub cgroupns_mode: Option<String>,
    /// DNS servers.
    pub dns: Option<Vec<String>>,
    /// DNS options.
    pub dns_options: Option<Vec<String>>,
    /// DNS search domains.
    pub dns_search: Option<Vec<String>>,
    /// `host:ip` lines added to /etc/hosts.
    pub extra_hosts: Option<Vec<String>>,
    /// Extra groups for the process.
    pub group_add: Option<Vec<String>>,
    /// IPC namespace mode.
    pub ipc_mode: Option<String>,
    /// Cgroup mode (Windows-era field).
    pub cgroup: Option<String>,
    /// Legacy links.
    pub links: Option<Vec<String>>,
    /// OOM score adjustment.
    pub oom_score_adj: Option<i64>,
    /// PID namespace mode.
    pub pid_mode: Option<String>,
    /// Whether the container is privileged.
    pub privileged: Option<bool>,
    /// Whether all exposed ports are published.
    pub publish_all_ports: Option<bool>,
    /// Whether the root filesystem is read-only.
    pub readonly_rootfs: Option<bool>,
    /// Security options (`seccomp=unconfined`, `no-new-privileges`, ...).
    pub security_opt: Option<Vec<String>>,
    /// Storage driver options.
    pub storage_opt: Option<HashMap<String, String>>,
    /// Tmpfs mounts: path to mount options.
    pub tmpfs: Option<HashMap<String, String>>,
    /// UTS namespace mode.
    #[serde(rename = "UTSMode")]
    pub uts_mode: Option<String>,
    /// User namespace mode.
    pub userns_mode: Option<String>,
    /// Size of /dev/shm in bytes.
    pub shm_size: Option<i64>,
    /// Namespaced sysctls.
    pub sysctls: Option<HashMap<String, String>>,
    /// OCI runtime name.
    pub runtime: Option<String>,
    /// Isolation technology (Windows); ignored.
    pub isolation: Option<String>,
    /// Resource limits.
    #[serde(flatten)]
    pub resources: Resources,
    /// Structured mounts (`--mount`).
    pub mounts: Option<Vec<Mount>>,
    /// Paths masked in the container.
    pub masked_paths: Option<Vec<String>>,
    /// Paths made read-only in the container.
    pub readonly_paths: Option<Vec<String>>,
    /// Whether an init process reaps zombies.
    pub init: Option<bool>,
}

/// Per-network settings of an endpoint (Docker's `EndpointSettings`), used on create and inspect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    /// Static addresses asked for.
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<serde_json::Value>,
    /// Legacy links.
    pub links: Option<Vec<String>>,
    /// DNS aliases on this network.
    pub aliases: Option<Vec<String>>,
    /// MAC address.
    pub mac_address: Option<String>,
    /// Driver options.
    pub driver_opts: Option<HashMap<String, String>>,
    /// Network id.
    #[serde(rename = "NetworkID")]
    pub network_id: Option<String>,
    /// Endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: Option<String>,
    /// Gateway address.
    pub gateway: Option<String>,
    /// IPv4 address.
    #[serde(rename = "IPAddress")]
    pub ip_address: Option<String>,
    /// IPv4 prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: Option<i64>,
    /// IPv6 gateway.
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: Option<String>,
    /// IPv6 address.
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: Option<String>,
    /// IPv6 prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: Option<i64>,
    /// Names this endpoint resolves as.
    #[serde(rename = "DNSNames")]
    pub dns_names: Option<Vec<String>>,
}

/// Networks to connect at create time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    /// Endpoint settings keyed by network name.
    pub endpoints_config: Option<HashMap<String, EndpointSettings>>,
}

/// The body of `POST /containers/create`: `Config` fields at the top level plus `HostConfig` and `NetworkingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateBody {
    /// The container configuration (flattened, as Docker sends it).
    #[serde(flatten)]
    pub config: ContainerConfig,
    /// Host configuration.
    pub host_config: Option<HostConfig>,
    /// Networks to connect.
    pub networking_config: Option<NetworkingConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_docker_cli_create_body() {
        let body = r#"{"Hostname":"","Env":null,"Cmd":["sh","-c","echo hi"],"Entrypoint":"/bin/sh",
            "Image":"busybox","Labels":{"a":"b"},"Tty":true,"ExposedPorts":{"80/tcp":{}},"Unknown":1,
            "HostConfig":{"Memory":1048576,"NanoCpus":500000000,"UTSMode":"host","Binds":["/a:/b:ro"],
              "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"RestartPolicy":{"Name":"always","MaximumRetryCount":0},
              "Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1000}}],
              "Ulimits":[{"Name":"nofile","Soft":10,"Hard":20}],"LogConfig":{"Type":"json-file","Config":{}}},
            "NetworkingConfig":{"EndpointsConfig":{"bridge":{}}}}"#;
        let b: ContainerCreateBody = serde_json::from_str(body).unwrap();
        assert_eq!(b.config.cmd.as_deref().unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(b.config.entrypoint.as_deref().unwrap(), ["/bin/sh"]);
        assert_eq!(b.config.env, None);
        let hc = b.host_config.unwrap();
        assert_eq!(hc.resources.memory, Some(1048576));
        assert_eq!(hc.resources.nano_cpus, Some(500000000));
        assert_eq!(hc.uts_mode.as_deref(), Some("host"));
        assert_eq!(hc.mounts.unwrap()[0].kind, MountType::Tmpfs);
        assert_eq!(hc.resources.ulimits.unwrap()[0].hard, 20);
    }

    #[test]
    fn null_collections_decode_as_empty() {
        let lc: LogConfig = serde_json::from_str(r#"{"Type":"json-file","Config":null}"#).unwrap();
        assert!(lc.config.is_empty());
        let inspect: crate::container::ContainerInspect = serde_json::from_str(
            r#"{"Args":null,"Mounts":null,"NetworkSettings":{"Ports":null,"Networks":null}}"#,
        )
        .unwrap();
        assert!(inspect.args.is_empty() && inspect.network_settings.ports.is_empty());
    }

    #[test]
    fn host_config_serializes_flat_resources() {
        let hc = HostConfig {
            resources: Resources {
                memory: Some(5),
                ..Default::default()
            },
            ..Default::default()
        };
        let v = serde_json::to_value(&hc).unwrap();
        assert_eq!(v["Memory"], 5);
        assert!(v.get("Resources").is_none());
    }
}
