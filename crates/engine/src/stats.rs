//! `docker stats` and `docker top`: cgroup counters from the shim turned into Docker's stats
//! JSON, and the container's processes read from /proc in `ps -ef` columns.

use crate::Engine;
use crate::status::Status;
use berth_api::container::{TopOptions, TopResponse};
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

    /// The container's processes, `ps -ef` style.
    pub async fn top(&self, name: &str, _opts: TopOptions) -> ApiResult<TopResponse> {
        let c = self.lookup(name)?;
        let rec = c.lock().await;
        if !matches!(rec.state.status, Status::Running | Status::Paused) {
            return Err(ApiError::not_running(&rec.id));
        }
        let reply = self
            .shim(&rec.id)
            .request(&Request::Ps)
            .await
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))?;
        let Reply::Pids { mut pids } = reply else {
            return Err(ApiError::internal("unexpected ps reply"));
        };
        pids.sort_unstable();
        let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let processes = pids.into_iter().filter_map(ps_row).collect();
        Ok(TopResponse { titles, processes })
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

/// One `ps -ef` row from /proc/<pid>.
fn ps_row(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ppid = fields.get(1)?.to_string();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let secs = ticks / 100;
    let time = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0")
        .to_string();
    let uid = if uid == "0" { "root".to_string() } else { uid };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = cmdline
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let tty = if fields.get(4).is_some_and(|t| *t != "0") {
        "pts/0"
    } else {
        "?"
    };
    Some(vec![
        uid,
        pid.to_string(),
        ppid,
        "0".into(),
        "00:00".into(),
        tty.into(),
        time,
        cmd,
    ])
}
