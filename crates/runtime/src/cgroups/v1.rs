//! cgroup v1: one directory per hierarchy (/sys/fs/cgroup/<controller>[,<controller>]/<path>).

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use super::CgroupError;
use super::fs::{
    mkdir_all, poll_until, read_keyed, read_pids, read_string, read_u64, remove_tree, write_file,
};
use super::resources::{FileWrite, v1_memory_limit_writes, v1_writes};
use super::stats::{self, CgroupStats};

/// How long freeze/thaw wait for the kernel to report the new state.
const FREEZE_WAIT: Duration = Duration::from_secs(5);

/// Every mounted v1 hierarchy under `root`: real directories (co-mount symlinks such as
/// cpu -> cpu,cpuacct are skipped) holding cgroup.procs, excluding a hybrid host's cgroup2.
pub(super) fn hierarchies(root: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = std::fs::read_dir(root).map_err(|source| CgroupError::Read {
        file: root.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists() && !p.join("cgroup.controllers").exists())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The hierarchy holding `controller`: root/<controller> (a mount or a co-mount symlink), or a
/// co-mounted directory whose comma-separated name lists it.
fn controller_dir(root: &Path, controller: &str) -> Result<Option<PathBuf>, CgroupError> {
    let direct = root.join(controller);
    if direct.join("cgroup.procs").exists() {
        return Ok(Some(direct));
    }
    Ok(hierarchies(root)?.into_iter().find(|dir| {
        dir.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.split(',').any(|c| c == controller))
    }))
}

fn require_controller(root: &Path, controller: &'static str) -> Result<PathBuf, CgroupError> {
    controller_dir(root, controller)?.ok_or_else(|| CgroupError::ControllerMissing {
        controller,
        root: root.to_path_buf(),
    })
}

/// Makes the cgroup in every hierarchy; cpuset directories get their parent's cpus/mems when
/// empty, because the kernel refuses tasks in a cpuset without them.
pub(super) fn create(root: &Path, rel: &str) -> Result<(), CgroupError> {
    for hierarchy in hierarchies(root)? {
        mkdir_all(&hierarchy.join(rel))?;
    }
    if let Some(cpuset) = controller_dir(root, "cpuset")? {
        fill_cpuset_chain(&cpuset, rel)?;
    }
    Ok(())
}

fn fill_cpuset_chain(cpuset_root: &Path, rel: &str) -> Result<(), CgroupError> {
    let mut parent = cpuset_root.to_path_buf();
    for component in rel.split('/').filter(|c| !c.is_empty()) {
        let dir = parent.join(component);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = read_string(&dir.join(file))?;
            if own.trim().is_empty() {
                let inherited = read_string(&parent.join(file))?;
                write_file(&dir.join(file), inherited.trim())?;
            }
        }
        parent = dir;
    }
    Ok(())
}

/// Applies the spec's limits; memory limits first, in the order the kernel accepts.
pub(super) fn apply(root: &Path, rel: &str, res: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(mem) = res.memory()
        && (mem.limit().is_some() || mem.swap().is_some())
    {
        let dir = require_controller(root, "memory")?.join(rel);
        let current = read_u64(&dir.join("memory.limit_in_bytes"))?;
        perform(root, rel, &v1_memory_limit_writes(mem, current))?;
    }
    perform(root, rel, &v1_writes(res)?)
}

fn perform(root: &Path, rel: &str, writes: &[FileWrite]) -> Result<(), CgroupError> {
    for write in writes {
        let Some(hierarchy) = controller_dir(root, write.controller)? else {
            if write.optional {
                tracing::warn!(
                    controller = write.controller,
                    "controller not mounted; limit skipped"
                );
                continue;
            }
            return Err(CgroupError::ControllerMissing {
                controller: write.controller,
                root: root.to_path_buf(),
            });
        };
        let dir = hierarchy.join(rel);
        perform_one(&dir, write)?;
    }
    Ok(())
}

/// Writes the first candidate whose file exists (or the first, to get an error naming it).
pub(super) fn perform_one(dir: &Path, write: &FileWrite) -> Result<(), CgroupError> {
    let existing = write
        .candidates
        .iter()
        .find(|(file, _)| dir.join(file).exists());
    match (existing, write.candidates.first()) {
        (Some((file, value)), _) => write_file(&dir.join(file), value),
        (None, Some((file, _))) if write.optional => {
            tracing::warn!(file = %dir.join(file).display(), "kernel lacks this file; limit skipped");
            Ok(())
        }
        (None, Some((file, value))) => write_file(&dir.join(file), value),
        (None, None) => Ok(()),
    }
}

/// Moves `pid` into the cgroup in every hierarchy.
pub(super) fn add_pid(root: &Path, rel: &str, pid: i32) -> Result<(), CgroupError> {
    for hierarchy in hierarchies(root)? {
        write_file(&hierarchy.join(rel).join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(())
}

/// The hierarchy used to list members: pids, else freezer, else memory, else any.
fn membership_dir(root: &Path) -> Result<PathBuf, CgroupError> {
    for controller in ["pids", "freezer", "memory"] {
        if let Some(dir) = controller_dir(root, controller)? {
            return Ok(dir);
        }
    }
    hierarchies(root)?
        .into_iter()
        .next()
        .ok_or(CgroupError::NotMounted {
            path: root.to_path_buf(),
        })
}

/// Member processes of the cgroup itself.
pub(super) fn pids(root: &Path, rel: &str) -> Result<Vec<i32>, CgroupError> {
    read_pids(&membership_dir(root)?.join(rel).join("cgroup.procs"))
}

/// Member processes of the cgroup and all its descendants.
fn pids_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut pids = read_pids(&dir.join("cgroup.procs"))?;
    let children = std::fs::read_dir(dir).map_err(|source| CgroupError::Read {
        file: dir.to_path_buf(),
        source,
    })?;
    for child in children.flatten() {
        if child.file_type().is_ok_and(|t| t.is_dir()) {
            pids.extend(pids_recursive(&child.path())?);
        }
    }
    Ok(pids)
}

/// Writes FROZEN and waits for the kernel to finish freezing (it passes through FREEZING);
/// the write is repeated while waiting because a task in an uninterruptible sleep can make the
/// kernel give up a round. On timeout the cgroup is thawed again.
pub(super) fn freeze(root: &Path, rel: &str) -> Result<(), CgroupError> {
    let state_file = require_controller(root, "freezer")?
        .join(rel)
        .join("freezer.state");
    write_file(&state_file, "FROZEN")?;
    let mut rounds = 0u32;
    let frozen = poll_until(FREEZE_WAIT, || {
        rounds += 1;
        if read_string(&state_file)?.trim() == "FROZEN" {
            return Ok(true);
        }
        if rounds.is_multiple_of(20) {
            write_file(&state_file, "FROZEN")?;
        }
        Ok(false)
    })?;
    if frozen {
        return Ok(());
    }
    write_file(&state_file, "THAWED")?;
    Err(CgroupError::Timeout {
        dir: state_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        state: "FROZEN",
        waited_ms: FREEZE_WAIT.as_millis() as u64,
    })
}

/// Writes THAWED and waits for the state to read THAWED.
pub(super) fn thaw(root: &Path, rel: &str) -> Result<(), CgroupError> {
    let state_file = require_controller(root, "freezer")?
        .join(rel)
        .join("freezer.state");
    write_file(&state_file, "THAWED")?;
    let thawed = poll_until(FREEZE_WAIT, || {
        Ok(read_string(&state_file)?.trim() == "THAWED")
    })?;
    if thawed {
        Ok(())
    } else {
        Err(CgroupError::Timeout {
            dir: state_file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            state: "THAWED",
            waited_ms: FREEZE_WAIT.as_millis() as u64,
        })
    }
}

/// Whether freezer.state reads FROZEN.
pub(super) fn is_frozen(root: &Path, rel: &str) -> Result<bool, CgroupError> {
    let state_file = require_controller(root, "freezer")?
        .join(rel)
        .join("freezer.state");
    Ok(read_string(&state_file)?.trim() == "FROZEN")
}

/// Reads the counters of every mounted controller; absent controllers leave defaults.
pub(super) fn stats(root: &Path, rel: &str) -> Result<CgroupStats, CgroupError> {
    let dir_of = |c: &str| -> Result<Option<PathBuf>, CgroupError> {
        Ok(controller_dir(root, c)?.map(|d| d.join(rel)))
    };
    let mut out = CgroupStats::default();
    if let Some(dir) = dir_of("memory")? {
        out.memory = stats::v1_memory(&dir)?;
    }
    out.cpu = stats::v1_cpu(dir_of("cpuacct")?.as_deref(), dir_of("cpu")?.as_deref())?;
    if let Some(dir) = dir_of("pids")? {
        out.pids = stats::pids(&dir)?;
    }
    if let Some(dir) = dir_of("blkio")? {
        out.blkio = stats::v1_blkio(&dir)?;
    }
    Ok(out)
}

/// memory.oom_control's oom_kill counter (0 on kernels that lack it).
pub(super) fn oom_kill_count(root: &Path, rel: &str) -> Result<u64, CgroupError> {
    let dir = require_controller(root, "memory")?.join(rel);
    let control = read_keyed(&dir.join("memory.oom_control"))?;
    Ok(control.get("oom_kill").copied().unwrap_or(0))
}

/// Signals every member, frozen first (when a freezer exists) so none can fork away meanwhile.
pub(super) fn kill_all(root: &Path, rel: &str, signal: i32) -> Result<(), CgroupError> {
    let has_freezer = controller_dir(root, "freezer")?.is_some();
    if has_freezer {
        freeze(root, rel)?;
    }
    let result = signal_members(&membership_dir(root)?.join(rel), signal);
    if has_freezer {
        thaw(root, rel)?;
    }
    result
}

fn signal_members(dir: &Path, signal: i32) -> Result<(), CgroupError> {
    for pid in pids_recursive(dir)? {
        super::send_signal(pid, signal)?;
    }
    Ok(())
}

/// Removes the cgroup (and any child cgroups) from every hierarchy.
pub(super) fn destroy(root: &Path, rel: &str) -> Result<(), CgroupError> {
    if rel.is_empty() {
        return Err(CgroupError::InvalidResource {
            field: "cgroupsPath",
            reason: "refusing to remove the cgroup root".to_string(),
        });
    }
    for hierarchy in hierarchies(root)? {
        remove_tree(&hierarchy.join(rel))?;
    }
    Ok(())
}
