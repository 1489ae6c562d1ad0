//! `docker stats`: cgroup counters from the shim turned into Docker's stats JSON.

use crate::Engine;
use berth_api::stats::{
    BlkioStatEntry, BlkioStats, ContainerStats, CpuStats, CpuUsage, MemoryStats, PidsStats,
    StatsOptions, ThrottlingData,
};
use berth_api::stream::receiver_stream;
use berth_api::{ApiError, ApiResult, BoxStream};
use berth_runtime::cgroups::CgroupStats;
use berth_shim::protocol::{Reply, Request};
use std::time::Duration;
use tokio::sync::mpsc;

impl Engine {
    async fn sample(&self, id: &str, name: &str) -> ApiResult<ContainerStats> {
        let reply = self
            .shim(id)
            .request(&Request::Stats)
            .await
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))?;
        let Reply::Stats { stats } = reply else {
            return Err(ApiError::internal("unexpected stats reply"));
        };
        let cg: CgroupStats =
            serde_json::from_value(stats).map_err(|e| ApiError::internal(format!("stats: {e}")))?;
        Ok(to_docker(id, name, &cg))
    }

    /// One sample or a stream of samples every second.
    pub async fn stats(
        &self,
        name: &str,
        opts: StatsOptions,
    ) -> ApiResult<BoxStream<ContainerStats>> {
        let c = self.lookup(name)?;
        let (id, cname, live) = {
            let rec = c.lock().await;
            (rec.id.clone(), rec.name.clone(), rec.state.status.is_live())
        };
        let (tx, rx) = mpsc::channel(4);
        let engine = self.clone();
        tokio::spawn(async move {
            let mut prev: Option<ContainerStats> = None;
            loop {
                let mut s = if live {
                    engine
                        .sample(&id, &cname)
                        .await
                        .unwrap_or_else(|_| empty(&id, &cname))
                } else {
                    empty(&id, &cname)
                };
                if let Some(p) = &prev {
                    s.precpu_stats = p.cpu_stats.clone();
                    s.preread = p.read.clone();
                }
                let first = prev.is_none();
                prev = Some(s.clone());
                if !opts.stream && first && !opts.one_shot && live {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                if tx.send(s).await.is_err() || !opts.stream {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                let still = engine
                    .lookup(&id)
                    .map(|c| c.snapshot().status.is_live())
                    .unwrap_or(false);
                if !still {
                    return;
                }
            }
        });
        Ok(receiver_stream(rx))
    }
}

fn empty(id: &str, name: &str) -> ContainerStats {
    ContainerStats {
        id: id.to_string(),
        name: name.to_string(),
        read: berth_shim::timestamp::now(),
        ..Default::default()
    }
}

fn to_docker(id: &str, name: &str, cg: &CgroupStats) -> ContainerStats {
    let (system, cpus) = system_cpu();
    let per_cpu = (!cg.cpu.per_cpu_ns.is_empty()).then(|| cg.cpu.per_cpu_ns.clone());
    ContainerStats {
        name: name.to_string(),
        id: id.to_string(),
        read: berth_shim::timestamp::now(),
        preread: "0001-01-01T00:00:00Z".to_string(),
        pids_stats: PidsStats {
            current: Some(cg.pids.current),
            limit: cg.pids.limit,
        },
        blkio_stats: BlkioStats {
            io_service_bytes_recursive: Some(
                cg.blkio
                    .iter()
                    .map(|b| BlkioStatEntry {
                        major: b.major,
                        minor: b.minor,
                        op: b.op.clone(),
                        value: b.value,
                    })
                    .collect(),
            ),
            io_serviced_recursive: None,
        },
        num_procs: 0,
        cpu_stats: CpuStats {
            cpu_usage: CpuUsage {
                total_usage: cg.cpu.total_ns,
                percpu_usage: per_cpu,
                usage_in_kernelmode: cg.cpu.system_ns,
                usage_in_usermode: cg.cpu.user_ns,
            },
            system_cpu_usage: Some(system),
            online_cpus: Some(cpus),
            throttling_data: ThrottlingData {
                periods: cg.cpu.periods,
                throttled_periods: cg.cpu.throttled_periods,
                throttled_time: cg.cpu.throttled_ns,
            },
        },
        precpu_stats: CpuStats::default(),
        memory_stats: MemoryStats {
            usage: Some(cg.memory.usage),
            max_usage: cg.memory.max_usage,
            stats: Some(
                cg.memory
                    .stat
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect(),
            ),
            failcnt: Some(cg.memory.failcnt),
            limit: Some(cg.memory.limit.unwrap_or_else(host_memory)),
        },
        networks: None,
    }
}

/// Host CPU time in nanoseconds (all CPUs) and the number of online CPUs, from /proc/stat.
fn system_cpu() -> (u64, u32) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut total = 0;
    let mut cpus = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("cpu ") {
            let jiffies: u64 = rest
                .split_whitespace()
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum();
            total = jiffies * 10_000_000;
        } else if line.starts_with("cpu") {
            cpus += 1;
        }
    }
    (total, cpus)
}

fn host_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
