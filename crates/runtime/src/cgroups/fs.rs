//! Reading and writing cgroup control files with errors that name the file and the value.
//!
//! Writes never create files: a write to a file the kernel does not provide must fail, also on
//! the fake trees the unit tests build.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::CgroupError;

/// Writes `value` to an existing control file, as one write(2) like the kernel expects.
pub(super) fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    let err = |source| CgroupError::Write {
        file: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(err)?;
    file.write_all(value.as_bytes()).map_err(err)
}

/// Reads a whole control file.
pub(super) fn read_string(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        file: path.to_path_buf(),
        source,
    })
}

/// Reads a control file holding one unsigned number.
pub(super) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let content = read_string(path)?;
    parse_u64(path, content.trim())
}

/// Reads a file holding a number or "max"; "max" is None.
pub(super) fn read_u64_or_max(path: &Path) -> Result<Option<u64>, CgroupError> {
    let content = read_string(path)?;
    match content.trim() {
        "max" => Ok(None),
        other => parse_u64(path, other).map(Some),
    }
}

fn parse_u64(path: &Path, text: &str) -> Result<u64, CgroupError> {
    text.parse::<u64>().map_err(|_| CgroupError::Parse {
        file: path.to_path_buf(),
        content: text.to_string(),
    })
}

/// Reads a "key value" per line file (memory.stat, cpu.stat, memory.events, memory.oom_control).
pub(super) fn read_keyed(path: &Path) -> Result<BTreeMap<String, u64>, CgroupError> {
    let content = read_string(path)?;
    parse_keyed(path, &content)
}

/// Parses "key value" lines; a line that is not two fields with a number is an error.
pub(super) fn parse_keyed(
    path: &Path,
    content: &str,
) -> Result<BTreeMap<String, u64>, CgroupError> {
    let mut map = BTreeMap::new();
    for line in content.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(CgroupError::Parse {
                file: path.to_path_buf(),
                content: line.to_string(),
            });
        };
        map.insert(key.to_string(), parse_u64(path, value)?);
    }
    Ok(map)
}

/// Reads cgroup.procs (or tasks): one pid per line.
pub(super) fn read_pids(path: &Path) -> Result<Vec<i32>, CgroupError> {
    let content = read_string(path)?;
    content
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim().parse::<i32>().map_err(|_| CgroupError::Parse {
                file: path.to_path_buf(),
                content: l.to_string(),
            })
        })
        .collect()
}

/// Creates `dir` and its missing parents; returns the directories it created, top first.
pub(super) fn mkdir_all(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(d) = cursor {
        if d.exists() {
            break;
        }
        missing.push(d.to_path_buf());
        cursor = d.parent();
    }
    missing.reverse();
    for d in &missing {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(CgroupError::Dir {
                    op: "mkdir",
                    dir: d.clone(),
                    source,
                });
            }
        }
    }
    Ok(missing)
}

/// How long `remove_tree` retries while the kernel still counts exiting members.
const RMDIR_RETRY: Duration = Duration::from_millis(2000);

/// Removes a cgroup directory and its child cgroups, deepest first. Absent is fine; EBUSY is
/// retried briefly because a killed process leaves its cgroup a moment after it is reaped.
pub(super) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Read {
                file: dir.to_path_buf(),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    rmdir_retrying(dir)
}

fn rmdir_retrying(dir: &Path) -> Result<(), CgroupError> {
    let start = Instant::now();
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < RMDIR_RETRY => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && !is_cgroupfs(dir) => {
                // A fake tree in a temp dir holds regular files; the kernel's never blocks rmdir.
                return std::fs::remove_dir_all(dir).map_err(|source| CgroupError::Dir {
                    op: "rmdir",
                    dir: dir.to_path_buf(),
                    source,
                });
            }
            Err(source) => {
                return Err(CgroupError::Dir {
                    op: "rmdir",
                    dir: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// True when `dir` lives on a cgroup filesystem (v1 or v2), false on a fake tree.
fn is_cgroupfs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir).is_ok_and(|s| {
        let t = s.filesystem_type();
        t == nix::sys::statfs::CGROUP_SUPER_MAGIC || t == nix::sys::statfs::CGROUP2_SUPER_MAGIC
    })
}

/// Polls `check` every millisecond-ish until it says done or `limit` passes.
pub(super) fn poll_until(
    limit: Duration,
    mut check: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<bool, CgroupError> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        if check()? {
            return Ok(true);
        }
        if start.elapsed() >= limit {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
