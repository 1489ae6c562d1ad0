//! Usage counters of a cgroup (what `docker stats` shows), parsed from v1 or v2 files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::CgroupError;
use super::fs::{read_keyed, read_string, read_u64, read_u64_or_max};

/// Everything `stats()` reports; counters a host does not provide stay zero / None / empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// Memory usage and limit.
    pub memory: MemoryStats,
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// Task counts.
    pub pids: PidsStats,
    /// Bytes read and written per block device.
    pub blkio: Vec<BlkioEntry>,
}

/// Memory counters, bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Current usage (v1 memory.usage_in_bytes, v2 memory.current).
    pub usage: u64,
    /// Peak usage (v1 memory.max_usage_in_bytes, v2 memory.peak when the kernel has it).
    pub max_usage: Option<u64>,
    /// The limit; None when unlimited.
    pub limit: Option<u64>,
    /// Page cache (v1 total_cache, v2 file): Docker subtracts it from usage.
    pub cache: u64,
    /// Times the limit was hit (v1 memory.failcnt, v2 memory.events max).
    pub failcnt: u64,
    /// The raw memory.stat map, for the API's memory_stats.stats.
    pub stat: BTreeMap<String, u64>,
}

/// CPU counters, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Total CPU time.
    pub total_ns: u64,
    /// Time in user mode.
    pub user_ns: u64,
    /// Time in kernel mode.
    pub system_ns: u64,
    /// Per-CPU total time (v1 only; empty on v2).
    pub per_cpu_ns: Vec<u64>,
    /// CFS periods elapsed.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Total time throttled.
    pub throttled_ns: u64,
}

/// Task counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Tasks in the cgroup now.
    pub current: u64,
    /// pids.max; None when unlimited.
    pub limit: Option<u64>,
}

/// One block-device I/O counter, like Docker's blkio_stats entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// "Read", "Write", ... (v1 names) or "read"/"write" (v2, as Docker reports them).
    pub op: String,
    /// Bytes.
    pub value: u64,
}

/// v1 limits at or above this mean "unlimited" (PAGE_COUNTER_MAX in pages, rounded).
const V1_UNLIMITED: u64 = 0x7FFF_FFFF_FFFF_F000;

/// Reads a file when it exists; None when the kernel does not provide it.
fn optional<T>(
    path: &Path,
    read: impl Fn(&Path) -> Result<T, CgroupError>,
) -> Result<Option<T>, CgroupError> {
    if path.exists() {
        read(path).map(Some)
    } else {
        Ok(None)
    }
}

/// v1 memory counters from the memory hierarchy's directory.
pub(super) fn v1_memory(dir: &Path) -> Result<MemoryStats, CgroupError> {
    let stat = read_keyed(&dir.join("memory.stat"))?;
    let limit = read_u64(&dir.join("memory.limit_in_bytes"))?;
    Ok(MemoryStats {
        usage: read_u64(&dir.join("memory.usage_in_bytes"))?,
        max_usage: optional(&dir.join("memory.max_usage_in_bytes"), read_u64)?,
        limit: (limit < V1_UNLIMITED).then_some(limit),
        cache: stat
            .get("total_cache")
            .or(stat.get("cache"))
            .copied()
            .unwrap_or(0),
        failcnt: optional(&dir.join("memory.failcnt"), read_u64)?.unwrap_or(0),
        stat,
    })
}

/// v1 cpu counters from the cpuacct and cpu hierarchies (either may be absent).
pub(super) fn v1_cpu(cpuacct: Option<&Path>, cpu: Option<&Path>) -> Result<CpuStats, CgroupError> {
    let mut stats = CpuStats::default();
    if let Some(dir) = cpuacct {
        stats.total_ns = read_u64(&dir.join("cpuacct.usage"))?;
        stats.per_cpu_ns = read_numbers(&dir.join("cpuacct.usage_percpu"))?;
        match (
            optional(&dir.join("cpuacct.usage_user"), read_u64)?,
            optional(&dir.join("cpuacct.usage_sys"), read_u64)?,
        ) {
            (Some(user), Some(sys)) => (stats.user_ns, stats.system_ns) = (user, sys),
            _ => {
                let ticks = read_keyed(&dir.join("cpuacct.stat"))?;
                let ns_per_tick = 1_000_000_000 / clock_ticks_per_second();
                stats.user_ns = ticks.get("user").copied().unwrap_or(0) * ns_per_tick;
                stats.system_ns = ticks.get("system").copied().unwrap_or(0) * ns_per_tick;
            }
        }
    }
    if let Some(dir) = cpu {
        let throttling = read_keyed(&dir.join("cpu.stat"))?;
        stats.periods = throttling.get("nr_periods").copied().unwrap_or(0);
        stats.throttled_periods = throttling.get("nr_throttled").copied().unwrap_or(0);
        stats.throttled_ns = throttling.get("throttled_time").copied().unwrap_or(0);
    }
    Ok(stats)
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory effects; it only returns a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

fn read_numbers(path: &Path) -> Result<Vec<u64>, CgroupError> {
    let content = read_string(path)?;
    content
        .split_whitespace()
        .map(|n| {
            n.parse().map_err(|_| CgroupError::Parse {
                file: path.to_path_buf(),
                content: n.to_string(),
            })
        })
        .collect()
}

/// pids.current and pids.max (same names on v1 and v2).
pub(super) fn pids(dir: &Path) -> Result<PidsStats, CgroupError> {
    Ok(PidsStats {
        current: read_u64(&dir.join("pids.current"))?,
        limit: read_u64_or_max(&dir.join("pids.max"))?,
    })
}

/// v1 blkio bytes: the throttle file counts every device; the bfq one only bfq-scheduled ones.
pub(super) fn v1_blkio(dir: &Path) -> Result<Vec<BlkioEntry>, CgroupError> {
    let files = [
        "blkio.throttle.io_service_bytes_recursive",
        "blkio.io_service_bytes_recursive",
        "blkio.bfq.io_service_bytes_recursive",
    ];
    let Some(file) = files.iter().map(|f| dir.join(f)).find(|p| p.exists()) else {
        return Ok(Vec::new());
    };
    let content = read_string(&file)?;
    Ok(content.lines().filter_map(parse_v1_blkio_line).collect())
}

/// "8:0 Read 4096"; the trailing "Total N" line has two fields and is skipped.
fn parse_v1_blkio_line(line: &str) -> Option<BlkioEntry> {
    let mut fields = line.split_whitespace();
    let (dev, op, value) = (fields.next()?, fields.next()?, fields.next()?);
    let (major, minor) = dev.split_once(':')?;
    Some(BlkioEntry {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        op: op.to_string(),
        value: value.parse().ok()?,
    })
}

/// v2 memory counters.
pub(super) fn v2_memory(dir: &Path) -> Result<MemoryStats, CgroupError> {
    let stat = read_keyed(&dir.join("memory.stat"))?;
    let events = optional(&dir.join("memory.events"), read_keyed)?.unwrap_or_default();
    Ok(MemoryStats {
        usage: read_u64(&dir.join("memory.current"))?,
        max_usage: optional(&dir.join("memory.peak"), read_u64)?,
        limit: read_u64_or_max(&dir.join("memory.max"))?,
        cache: stat.get("file").copied().unwrap_or(0),
        failcnt: events.get("max").copied().unwrap_or(0),
        stat,
    })
}

/// v2 cpu.stat (microseconds) converted to nanoseconds.
pub(super) fn v2_cpu(dir: &Path) -> Result<CpuStats, CgroupError> {
    let stat = read_keyed(&dir.join("cpu.stat"))?;
    let ns = |key: &str| stat.get(key).copied().unwrap_or(0) * 1000;
    Ok(CpuStats {
        total_ns: ns("usage_usec"),
        user_ns: ns("user_usec"),
        system_ns: ns("system_usec"),
        per_cpu_ns: Vec::new(),
        periods: stat.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
        throttled_ns: ns("throttled_usec"),
    })
}

/// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 ..." into read/write byte entries.
pub(super) fn v2_io(dir: &Path) -> Result<Vec<BlkioEntry>, CgroupError> {
    let path = dir.join("io.stat");
    let Some(content) = optional(&path, read_string)? else {
        return Ok(Vec::new());
    };
    let mut entries = Vec::new();
    for line in content.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for field in fields {
            let op = match field.split_once('=') {
                Some(("rbytes", v)) => ("read", v),
                Some(("wbytes", v)) => ("write", v),
                _ => continue,
            };
            if let Ok(value) = op.1.parse() {
                entries.push(BlkioEntry {
                    major,
                    minor,
                    op: op.0.to_string(),
                    value,
                });
            }
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_blkio_lines_parse_and_total_is_skipped() {
        assert_eq!(
            parse_v1_blkio_line("8:16 Read 4096"),
            Some(BlkioEntry {
                major: 8,
                minor: 16,
                op: "Read".into(),
                value: 4096
            })
        );
        assert_eq!(parse_v1_blkio_line("Total 4096"), None);
    }
}
