//! cgroup v2: one unified directory per cgroup; controllers enabled top-down through
//! cgroup.subtree_control.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use super::CgroupError;
use super::fs::{
    mkdir_all, poll_until, read_keyed, read_pids, read_string, remove_tree, write_file,
};
use super::resources::v2_writes;
use super::stats::{self, CgroupStats};
use super::v1::perform_one;

/// How long freeze/thaw wait for cgroup.events to report the new state.
const FREEZE_WAIT: Duration = Duration::from_secs(5);

/// Creates the cgroup, enabling in each ancestor every controller that ancestor offers, so the
/// new cgroup gets all of them (the kernel only lets a child use what its parent delegates).
pub(super) fn create(root: &Path, rel: &str) -> Result<(), CgroupError> {
    let mut dir = root.to_path_buf();
    for component in rel.split('/').filter(|c| !c.is_empty()) {
        if dir != root {
            mkdir_all(&dir)?;
        }
        enable_controllers(&dir)?;
        dir.push(component);
    }
    mkdir_all(&dir)?;
    Ok(())
}

/// Writes "+c" for every controller of cgroup.controllers into cgroup.subtree_control; when the
/// kernel refuses the batch (e.g. cpu with realtime tasks), retries one by one and keeps going.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let available = read_string(&dir.join("cgroup.controllers"))?;
    let controllers: Vec<&str> = available.split_whitespace().collect();
    if controllers.is_empty() {
        return Ok(());
    }
    let control = dir.join("cgroup.subtree_control");
    let batch: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
    if write_file(&control, &batch.join(" ")).is_ok() {
        return Ok(());
    }
    for one in &batch {
        if let Err(err) = write_file(&control, one) {
            tracing::warn!(%err, "could not enable cgroup controller");
        }
    }
    Ok(())
}

/// Applies the spec's limits (device rules need eBPF and are not applied on v2).
pub(super) fn apply(root: &Path, rel: &str, res: &LinuxResources) -> Result<(), CgroupError> {
    let dir = root.join(rel);
    if res.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        tracing::debug!("cgroup v2 device rules need an eBPF program; not applied");
    }
    for write in v2_writes(res)? {
        perform_one(&dir, &write)?;
    }
    Ok(())
}

/// Moves `pid` into the cgroup.
pub(super) fn add_pid(root: &Path, rel: &str, pid: i32) -> Result<(), CgroupError> {
    write_file(&root.join(rel).join("cgroup.procs"), &pid.to_string())
}

/// Member processes of the cgroup itself.
pub(super) fn pids(root: &Path, rel: &str) -> Result<Vec<i32>, CgroupError> {
    read_pids(&root.join(rel).join("cgroup.procs"))
}

fn frozen_in_events(dir: &Path) -> Result<bool, CgroupError> {
    let events = read_keyed(&dir.join("cgroup.events"))?;
    Ok(events.get("frozen") == Some(&1))
}

fn set_frozen(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
    let done = poll_until(FREEZE_WAIT, || Ok(frozen_in_events(dir)? == frozen))?;
    if done {
        return Ok(());
    }
    if frozen {
        write_file(&dir.join("cgroup.freeze"), "0")?;
    }
    Err(CgroupError::Timeout {
        dir: dir.to_path_buf(),
        state: if frozen { "frozen" } else { "thawed" },
        waited_ms: FREEZE_WAIT.as_millis() as u64,
    })
}

/// Writes cgroup.freeze=1 and waits for cgroup.events to say "frozen 1".
pub(super) fn freeze(root: &Path, rel: &str) -> Result<(), CgroupError> {
    set_frozen(&root.join(rel), true)
}

/// Writes cgroup.freeze=0 and waits for "frozen 0".
pub(super) fn thaw(root: &Path, rel: &str) -> Result<(), CgroupError> {
    set_frozen(&root.join(rel), false)
}

/// Whether cgroup.events reports the cgroup frozen.
pub(super) fn is_frozen(root: &Path, rel: &str) -> Result<bool, CgroupError> {
    frozen_in_events(&root.join(rel))
}

/// Reads the counters of the enabled controllers; files of disabled ones are absent.
pub(super) fn stats(root: &Path, rel: &str) -> Result<CgroupStats, CgroupError> {
    let dir = root.join(rel);
    let mut out = CgroupStats::default();
    if dir.join("memory.current").exists() {
        out.memory = stats::v2_memory(&dir)?;
    }
    out.cpu = stats::v2_cpu(&dir)?;
    if dir.join("pids.current").exists() {
        out.pids = stats::pids(&dir)?;
    }
    out.blkio = stats::v2_io(&dir)?;
    Ok(out)
}

/// memory.events' oom_kill counter.
pub(super) fn oom_kill_count(root: &Path, rel: &str) -> Result<u64, CgroupError> {
    let events = read_keyed(&root.join(rel).join("memory.events"))?;
    Ok(events.get("oom_kill").copied().unwrap_or(0))
}

/// SIGKILL through cgroup.kill when the kernel has it (atomic, covers descendants); otherwise
/// freeze, signal every member, thaw.
pub(super) fn kill_all(root: &Path, rel: &str, signal: i32) -> Result<(), CgroupError> {
    let dir = root.join(rel);
    let kill_file = dir.join("cgroup.kill");
    if signal == libc::SIGKILL && kill_file.exists() {
        return write_file(&kill_file, "1");
    }
    set_frozen(&dir, true)?;
    let result = signal_tree(&dir, signal);
    set_frozen(&dir, false)?;
    result
}

fn signal_tree(dir: &Path, signal: i32) -> Result<(), CgroupError> {
    for pid in read_pids(&dir.join("cgroup.procs"))? {
        super::send_signal(pid, signal)?;
    }
    for child in child_dirs(dir)? {
        signal_tree(&child, signal)?;
    }
    Ok(())
}

fn child_dirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CgroupError::Read {
        file: dir.to_path_buf(),
        source,
    })?;
    Ok(entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect())
}

/// Removes the cgroup and its child cgroups.
pub(super) fn destroy(root: &Path, rel: &str) -> Result<(), CgroupError> {
    if rel.is_empty() {
        return Err(CgroupError::InvalidResource {
            field: "cgroupsPath",
            reason: "refusing to remove the cgroup root".to_string(),
        });
    }
    remove_tree(&root.join(rel))
}
