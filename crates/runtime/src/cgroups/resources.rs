//! Turning a spec's `LinuxResources` into the control-file writes each layout needs.
//!
//! Pure functions: the result is a list of [`FileWrite`]s that `v1`/`v2` perform in order, so the
//! exact files and values are testable without a kernel.

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxDeviceType, LinuxMemory, LinuxResources,
};

use super::CgroupError;

/// One control-file write. `candidates` lists (file, value) alternatives; the first whose file
/// exists is written (e.g. blkio.weight or blkio.bfq.weight). When none exists, an optional
/// write is skipped with a warning and a required one is attempted on the first candidate so the
/// error names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileWrite {
    /// The v1 controller whose hierarchy holds the file; unused on v2.
    pub controller: &'static str,
    /// (file name, value) alternatives, preferred first.
    pub candidates: Vec<(String, String)>,
    /// Whether a missing file is tolerated.
    pub optional: bool,
}

impl FileWrite {
    fn required(controller: &'static str, file: &str, value: impl Into<String>) -> FileWrite {
        FileWrite {
            controller,
            candidates: vec![(file.to_string(), value.into())],
            optional: false,
        }
    }

    fn optional(controller: &'static str, file: &str, value: impl Into<String>) -> FileWrite {
        FileWrite {
            optional: true,
            ..FileWrite::required(controller, file, value)
        }
    }
}

/// Converts cpu shares (v1, 2..262144) to cpu.weight (v2, 1..10000), the standard mapping.
pub(super) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262144) - 2) * 9999 / 262142
}

/// Converts blkio weight (10..1000) to io.weight (1..10000).
pub(super) fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

fn limit_or_max(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

// ---------- v1 ----------

/// Writes for v1, except memory.limit_in_bytes and memory.memsw.limit_in_bytes whose order
/// depends on the current limit (see [`v1_memory_limit_writes`]).
pub(super) fn v1_writes(res: &LinuxResources) -> Result<Vec<FileWrite>, CgroupError> {
    let mut writes = Vec::new();
    if let Some(mem) = res.memory() {
        writes.extend(v1_memory_other(mem)?);
    }
    if let Some(cpu) = res.cpu() {
        writes.extend(v1_cpu(cpu));
        writes.extend(cpuset(cpu));
    }
    if let Some(pids) = res.pids() {
        writes.push(pids_write(pids.limit()));
    }
    if let Some(blkio) = res.block_io() {
        writes.extend(v1_blkio(blkio));
    }
    if let Some(devices) = res.devices() {
        writes.extend(devices.iter().map(v1_device));
    }
    for hp in res.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.limit_in_bytes", hp.page_size());
        writes.push(FileWrite::required(
            "hugetlb",
            &file,
            hp.limit().to_string(),
        ));
    }
    if let Some(net) = res.network() {
        if let Some(class_id) = net.class_id() {
            writes.push(FileWrite::required(
                "net_cls",
                "net_cls.classid",
                class_id.to_string(),
            ));
        }
        for prio in net.priorities().iter().flatten() {
            let value = format!("{} {}", prio.name(), prio.priority());
            writes.push(FileWrite::required("net_prio", "net_prio.ifpriomap", value));
        }
    }
    if res.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(CgroupError::InvalidResource {
            field: "unified",
            reason: "cgroup v2 settings given on a cgroup v1 host".to_string(),
        });
    }
    Ok(writes)
}

fn v1_memory_other(mem: &LinuxMemory) -> Result<Vec<FileWrite>, CgroupError> {
    let mut writes = Vec::new();
    if let Some(reservation) = mem.reservation() {
        writes.push(FileWrite::required(
            "memory",
            "memory.soft_limit_in_bytes",
            reservation.to_string(),
        ));
    }
    if let Some(swappiness) = mem.swappiness() {
        if swappiness > 100 {
            return Err(CgroupError::InvalidResource {
                field: "memory.swappiness",
                reason: format!("{swappiness} is not in 0..=100"),
            });
        }
        writes.push(FileWrite::required(
            "memory",
            "memory.swappiness",
            swappiness.to_string(),
        ));
    }
    if mem.disable_oom_killer() == Some(true) {
        writes.push(FileWrite::required("memory", "memory.oom_control", "1"));
    }
    if mem.kernel().is_some() || mem.kernel_tcp().is_some() {
        // Kernel memory limits are deprecated upstream and refused by current kernels.
        tracing::warn!("memory.kernel and memory.kernelTCP are not supported; ignored");
    }
    Ok(writes)
}

/// memory.limit_in_bytes and memory.memsw.limit_in_bytes in an order the kernel accepts: the
/// kernel requires limit <= memsw at every step, so raise memsw first when growing.
pub(super) fn v1_memory_limit_writes(mem: &LinuxMemory, current_limit: u64) -> Vec<FileWrite> {
    let limit = mem.limit().filter(|l| *l != 0);
    let mut swap = mem.swap().filter(|s| *s != 0);
    if limit == Some(-1) && swap.is_none() {
        swap = Some(-1);
    }
    let limit_write =
        limit.map(|l| FileWrite::required("memory", "memory.limit_in_bytes", l.to_string()));
    // memsw only exists when the kernel accounts swap; without it swap limits cannot apply.
    let swap_write =
        swap.map(|s| FileWrite::optional("memory", "memory.memsw.limit_in_bytes", s.to_string()));
    let swap_first = match swap {
        Some(-1) => true,
        Some(s) => u64::try_from(s).is_ok_and(|s| current_limit < s),
        None => false,
    };
    let ordered = if swap_first {
        [swap_write, limit_write]
    } else {
        [limit_write, swap_write]
    };
    ordered.into_iter().flatten().collect()
}

fn v1_cpu(cpu: &LinuxCpu) -> Vec<FileWrite> {
    let mut writes = Vec::new();
    if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
        writes.push(FileWrite::required("cpu", "cpu.shares", shares.to_string()));
    }
    if let Some(period) = cpu.period().filter(|p| *p != 0) {
        writes.push(FileWrite::required(
            "cpu",
            "cpu.cfs_period_us",
            period.to_string(),
        ));
    }
    if let Some(quota) = cpu.quota().filter(|q| *q != 0) {
        writes.push(FileWrite::required(
            "cpu",
            "cpu.cfs_quota_us",
            quota.to_string(),
        ));
    }
    if let Some(burst) = cpu.burst() {
        writes.push(FileWrite::required(
            "cpu",
            "cpu.cfs_burst_us",
            burst.to_string(),
        ));
    }
    if let Some(period) = cpu.realtime_period().filter(|p| *p != 0) {
        writes.push(FileWrite::required(
            "cpu",
            "cpu.rt_period_us",
            period.to_string(),
        ));
    }
    if let Some(runtime) = cpu.realtime_runtime().filter(|r| *r != 0) {
        writes.push(FileWrite::required(
            "cpu",
            "cpu.rt_runtime_us",
            runtime.to_string(),
        ));
    }
    if let Some(idle) = cpu.idle() {
        writes.push(FileWrite::required("cpu", "cpu.idle", idle.to_string()));
    }
    writes
}

fn cpuset(cpu: &LinuxCpu) -> Vec<FileWrite> {
    let mut writes = Vec::new();
    if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
        writes.push(FileWrite::required("cpuset", "cpuset.cpus", cpus.clone()));
    }
    if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
        writes.push(FileWrite::required("cpuset", "cpuset.mems", mems.clone()));
    }
    writes
}

fn pids_write(limit: i64) -> FileWrite {
    let value = if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    };
    FileWrite::required("pids", "pids.max", value)
}

fn v1_blkio(blkio: &LinuxBlockIo) -> Vec<FileWrite> {
    let mut writes = Vec::new();
    if let Some(weight) = blkio.weight().filter(|w| *w != 0) {
        writes.push(FileWrite {
            controller: "blkio",
            candidates: vec![
                ("blkio.weight".to_string(), weight.to_string()),
                ("blkio.bfq.weight".to_string(), weight.to_string()),
            ],
            optional: false,
        });
    }
    if let Some(leaf) = blkio.leaf_weight().filter(|w| *w != 0) {
        writes.push(FileWrite::optional(
            "blkio",
            "blkio.leaf_weight",
            leaf.to_string(),
        ));
    }
    for dev in blkio.weight_device().iter().flatten() {
        if let Some(weight) = dev.weight() {
            let value = format!("{}:{} {}", dev.major(), dev.minor(), weight);
            writes.push(FileWrite {
                controller: "blkio",
                candidates: vec![
                    ("blkio.weight_device".to_string(), value.clone()),
                    ("blkio.bfq.weight_device".to_string(), value),
                ],
                optional: false,
            });
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            blkio.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            blkio.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            blkio.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            blkio.throttle_write_iops_device(),
        ),
    ];
    for (file, devices) in throttles {
        for dev in devices.iter().flatten() {
            let value = format!("{}:{} {}", dev.major(), dev.minor(), dev.rate());
            writes.push(FileWrite::required("blkio", file, value));
        }
    }
    writes
}

/// One devices.allow / devices.deny line, e.g. "c 1:3 rwm" or "a *:* rwm".
fn v1_device(dev: &LinuxDeviceCgroup) -> FileWrite {
    let file = if dev.allow() {
        "devices.allow"
    } else {
        "devices.deny"
    };
    FileWrite::required("devices", file, device_rule(dev))
}

/// The v1 devices-cgroup rule text for a spec entry.
pub(super) fn device_rule(dev: &LinuxDeviceCgroup) -> String {
    let typ = match dev.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => 'p',
        Some(LinuxDeviceType::A) | None => 'a',
    };
    let number = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = dev
        .access()
        .as_ref()
        .filter(|a| !a.is_empty())
        .map_or("rwm".to_string(), Clone::clone);
    format!(
        "{typ} {}:{} {access}",
        number(dev.major()),
        number(dev.minor())
    )
}

// ---------- v2 ----------

/// Writes for v2 (controller field unused). Device rules need eBPF and are not applied here.
pub(super) fn v2_writes(res: &LinuxResources) -> Result<Vec<FileWrite>, CgroupError> {
    let mut writes = Vec::new();
    if let Some(mem) = res.memory() {
        writes.extend(v2_memory(mem)?);
    }
    if let Some(cpu) = res.cpu() {
        writes.extend(v2_cpu(cpu));
        writes.extend(cpuset(cpu));
    }
    if let Some(pids) = res.pids() {
        writes.push(pids_write(pids.limit()));
    }
    if let Some(blkio) = res.block_io() {
        writes.extend(v2_io(blkio));
    }
    for hp in res.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.max", hp.page_size());
        writes.push(FileWrite::required(
            "hugetlb",
            &file,
            limit_or_max(hp.limit()),
        ));
    }
    for (key, value) in res.unified().iter().flatten() {
        if key.contains('/') || key.starts_with('.') {
            return Err(CgroupError::InvalidResource {
                field: "unified",
                reason: format!("{key:?} is not a cgroup file name"),
            });
        }
        writes.push(FileWrite::required("", key, value.clone()));
    }
    Ok(writes)
}

fn v2_memory(mem: &LinuxMemory) -> Result<Vec<FileWrite>, CgroupError> {
    let mut writes = Vec::new();
    let limit = mem.limit().filter(|l| *l != 0);
    if let Some(swap) = v2_swap_max(limit, mem.swap().filter(|s| *s != 0))? {
        writes.push(FileWrite::required("memory", "memory.swap.max", swap));
    }
    if let Some(limit) = limit {
        writes.push(FileWrite::required(
            "memory",
            "memory.max",
            limit_or_max(limit),
        ));
    }
    if let Some(reservation) = mem.reservation().filter(|r| *r != 0) {
        writes.push(FileWrite::required(
            "memory",
            "memory.low",
            limit_or_max(reservation),
        ));
    }
    if mem.swappiness().is_some() || mem.disable_oom_killer() == Some(true) {
        tracing::warn!(
            "memory.swappiness and disableOOMKiller have no cgroup v2 equivalent; ignored"
        );
    }
    Ok(writes)
}

/// The spec's swap is memory+swap; v2's memory.swap.max is swap alone.
fn v2_swap_max(limit: Option<i64>, swap: Option<i64>) -> Result<Option<String>, CgroupError> {
    let invalid = |reason: String| CgroupError::InvalidResource {
        field: "memory.swap",
        reason,
    };
    match (limit, swap) {
        (_, None) => Ok(None),
        (_, Some(-1)) => Ok(Some("max".to_string())),
        (None, Some(_)) | (Some(-1), Some(_)) => {
            Err(invalid("a swap limit needs a memory limit".to_string()))
        }
        (Some(l), Some(s)) if s < l => Err(invalid(format!(
            "memory+swap limit {s} is below the memory limit {l}"
        ))),
        (Some(l), Some(s)) => Ok(Some((s - l).to_string())),
    }
}

fn v2_cpu(cpu: &LinuxCpu) -> Vec<FileWrite> {
    let mut writes = Vec::new();
    if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
        writes.push(FileWrite::required(
            "cpu",
            "cpu.weight",
            shares_to_weight(shares).to_string(),
        ));
    }
    let quota = cpu.quota().filter(|q| *q != 0);
    let period = cpu.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        let quota = quota.map_or("max".to_string(), limit_or_max);
        let value = format!("{quota} {}", period.unwrap_or(100_000));
        writes.push(FileWrite::required("cpu", "cpu.max", value));
    }
    if let Some(burst) = cpu.burst() {
        writes.push(FileWrite::required(
            "cpu",
            "cpu.max.burst",
            burst.to_string(),
        ));
    }
    if let Some(idle) = cpu.idle() {
        writes.push(FileWrite::required("cpu", "cpu.idle", idle.to_string()));
    }
    writes
}

fn v2_io(blkio: &LinuxBlockIo) -> Vec<FileWrite> {
    let mut writes = Vec::new();
    if let Some(weight) = blkio.weight().filter(|w| *w != 0) {
        writes.push(FileWrite {
            controller: "io",
            candidates: vec![
                ("io.bfq.weight".to_string(), weight.to_string()),
                (
                    "io.weight".to_string(),
                    blkio_weight_to_io_weight(weight).to_string(),
                ),
            ],
            optional: false,
        });
    }
    for dev in blkio.weight_device().iter().flatten() {
        if let Some(weight) = dev.weight() {
            let maj_min = format!("{}:{}", dev.major(), dev.minor());
            writes.push(FileWrite {
                controller: "io",
                candidates: vec![
                    ("io.bfq.weight".to_string(), format!("{maj_min} {weight}")),
                    (
                        "io.weight".to_string(),
                        format!("{maj_min} {}", blkio_weight_to_io_weight(weight)),
                    ),
                ],
                optional: false,
            });
        }
    }
    let throttles = [
        ("rbps", blkio.throttle_read_bps_device()),
        ("wbps", blkio.throttle_write_bps_device()),
        ("riops", blkio.throttle_read_iops_device()),
        ("wiops", blkio.throttle_write_iops_device()),
    ];
    for (key, devices) in throttles {
        for dev in devices.iter().flatten() {
            let value = format!("{}:{} {key}={}", dev.major(), dev.minor(), dev.rate());
            writes.push(FileWrite::required("io", "io.max", value));
        }
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_to_weights_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
    }

    #[test]
    fn blkio_weights_map_to_io_weights() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10000);
    }

    #[test]
    fn v2_swap_is_swap_minus_memory() {
        assert_eq!(
            v2_swap_max(Some(100), Some(300)).ok().flatten(),
            Some("200".into())
        );
        assert_eq!(
            v2_swap_max(Some(100), Some(-1)).ok().flatten(),
            Some("max".into())
        );
        assert_eq!(
            v2_swap_max(Some(100), Some(100)).ok().flatten(),
            Some("0".into())
        );
        assert!(v2_swap_max(Some(300), Some(100)).is_err());
        assert!(v2_swap_max(None, Some(100)).is_err());
    }

    #[test]
    fn v1_memory_grows_memsw_first_and_shrinks_limit_first() {
        let mut mem = LinuxMemory::default();
        mem.set_limit(Some(200)).set_swap(Some(400));
        let files = |ws: Vec<FileWrite>| -> Vec<String> {
            ws.into_iter().map(|w| w.candidates[0].0.clone()).collect()
        };
        assert_eq!(
            files(v1_memory_limit_writes(&mem, 100)),
            ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
        );
        assert_eq!(
            files(v1_memory_limit_writes(&mem, 1000)),
            ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        );
    }

    #[test]
    fn device_rules_use_wildcards_for_missing_numbers() {
        let mut dev = LinuxDeviceCgroup::default();
        dev.set_allow(false).set_access(Some("rwm".into()));
        assert_eq!(device_rule(&dev), "a *:* rwm");
        dev.set_typ(Some(LinuxDeviceType::C))
            .set_major(Some(1))
            .set_minor(Some(3));
        assert_eq!(device_rule(&dev), "c 1:3 rwm");
    }
}
