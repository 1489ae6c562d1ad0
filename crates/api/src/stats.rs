//! The `GET /containers/{id}/stats` record, in Docker's snake_case field names (what `docker stats` computes from).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// CPU usage counters in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    /// Total CPU time.
    pub total_usage: u64,
    /// Per-CPU time (cgroup v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    /// Kernel-mode time.
    pub usage_in_kernelmode: u64,
    /// User-mode time.
    pub usage_in_usermode: u64,
}

/// CFS throttling counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlingData {
    /// Periods elapsed.
    pub periods: u64,
    /// Periods throttled.
    pub throttled_periods: u64,
    /// Time throttled in nanoseconds.
    pub throttled_time: u64,
}

/// CPU statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    /// Container usage.
    pub cpu_usage: CpuUsage,
    /// Host CPU time in nanoseconds (from /proc/stat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_cpu_usage: Option<u64>,
    /// Online CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_cpus: Option<u32>,
    /// Throttling.
    pub throttling_data: ThrottlingData,
}

/// Memory statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    /// Current usage in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<u64>,
    /// Peak usage (cgroup v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_usage: Option<u64>,
    /// Raw `memory.stat` counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<HashMap<String, u64>>,
    /// Limit hits (cgroup v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failcnt: Option<u64>,
    /// Limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Pids statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    /// Current count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// One block IO counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStatEntry {
    /// Device major.
    pub major: u64,
    /// Device minor.
    pub minor: u64,
    /// `read`, `write`, ...
    pub op: String,
    /// Value.
    pub value: u64,
}

/// Block IO statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    /// Bytes per device and op.
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    /// Ops per device and op.
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
}

/// Network counters of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Receive drops.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Send drops.
    pub tx_dropped: u64,
}

/// One stats sample.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerStats {
    /// Name with a leading `/`.
    pub name: String,
    /// Container id.
    pub id: String,
    /// Sample time (RFC 3339 nano).
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub read: String,
    /// Previous sample time.
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub preread: String,
    /// Pids.
    pub pids_stats: PidsStats,
    /// Block IO.
    pub blkio_stats: BlkioStats,
    /// Processes (Windows).
    pub num_procs: u32,
    /// CPU now.
    pub cpu_stats: CpuStats,
    /// CPU at the previous sample.
    pub precpu_stats: CpuStats,
    /// Memory.
    pub memory_stats: MemoryStats,
    /// Interfaces by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<HashMap<String, NetworkStats>>,
}

/// Query of `GET /containers/{id}/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsOptions {
    /// Keep sending a sample every second.
    pub stream: bool,
    /// With `stream=false`, do not wait for a second sample to fill `precpu_stats`.
    pub one_shot: bool,
}
