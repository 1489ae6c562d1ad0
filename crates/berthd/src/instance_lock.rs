//! One daemon per data root and per pid file, as dockerd insists: a second berthd started by
//! mistake must stop before it opens the engine, whose start-up repair would otherwise fight the
//! running daemon over its containers and snapshots.

use anyhow::{Context, bail};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Held for the daemon's lifetime: the exclusive lock on `<data-root>/berthd.lock` (opened
/// close-on-exec, so shims never inherit it) and the pid file, removed on drop when it is ours.
pub struct InstanceLock {
    _lock: File,
    pidfile: PathBuf,
}

/// Takes the data root's lock, refuses a pid file that names a live process, then writes ours.
pub fn claim(data_root: &Path, pidfile: &Path) -> anyhow::Result<InstanceLock> {
    let lock_path = data_root.join("berthd.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => bail!(
            "another berthd is using the data root {} (it holds {})",
            data_root.display(),
            lock_path.display()
        ),
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", lock_path.display()));
        }
    }
    if let Some(pid) = live_pid_in(pidfile) {
        bail!(
            "pid file found, ensure berthd is not running or delete {} (it names process {pid})",
            pidfile.display()
        );
    }
    write_pidfile(pidfile)?;
    Ok(InstanceLock {
        _lock: lock,
        pidfile: pidfile.to_path_buf(),
    })
}

/// The pid a pid file names when that process is another live berthd (a pid reused by some
/// other process after a crash does not count).
fn live_pid_in(pidfile: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(pidfile).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (pid != std::process::id() && comm.trim_end() == "berthd").then_some(pid)
}

fn write_pidfile(pidfile: &Path) -> anyhow::Result<()> {
    let tmp = pidfile.with_extension("pid.tmp");
    std::fs::write(&tmp, std::process::id().to_string())
        .and_then(|()| std::fs::rename(&tmp, pidfile))
        .with_context(|| format!("writing {}", pidfile.display()))
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        if std::fs::read_to_string(&self.pidfile)
            .is_ok_and(|t| t.trim() == std::process::id().to_string())
        {
            let _ = std::fs::remove_file(&self.pidfile);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_on_one_data_root_is_refused_and_the_first_keeps_its_pid_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pidfile = dir.path().join("berthd.pid");
        let first = claim(dir.path(), &pidfile).unwrap_or_else(|e| panic!("{e:#}"));
        let second = claim(dir.path(), &dir.path().join("other.pid"));
        let msg = format!(
            "{:#}",
            second.err().unwrap_or_else(|| panic!("claimed twice"))
        );
        assert!(
            msg.contains("another berthd is using the data root"),
            "{msg}"
        );
        assert_eq!(
            std::fs::read_to_string(&pidfile).unwrap_or_default(),
            std::process::id().to_string()
        );
        drop(first);
        assert!(!pidfile.exists(), "the pid file goes with the daemon");
    }

    #[test]
    fn a_pid_file_naming_a_live_berthd_is_refused_a_stale_one_replaced() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pidfile = dir.path().join("berthd.pid");
        // A live process whose comm is "berthd": a copy of sleep under that name.
        let fake = dir.path().join("berthd");
        std::fs::copy("/bin/sleep", &fake).unwrap_or_else(|e| panic!("{e}"));
        let mut child = std::process::Command::new(&fake)
            .arg("30")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&pidfile, child.id().to_string()).unwrap_or_else(|e| panic!("{e}"));
        let refused = claim(dir.path(), &pidfile);
        let _ = child.kill();
        let _ = child.wait();
        let msg = format!("{:#}", refused.err().unwrap_or_else(|| panic!("claimed")));
        assert!(
            msg.contains("pid file found, ensure berthd is not running"),
            "{msg}"
        );
        // pid 1 is alive but is not a berthd (a reused pid): replaced.
        std::fs::write(&pidfile, "1").unwrap_or_else(|e| panic!("{e}"));
        let held = claim(dir.path(), &pidfile).unwrap_or_else(|e| panic!("{e:#}"));
        drop(held);
        // A pid beyond pid_max cannot be alive: replaced.
        std::fs::write(&pidfile, "999999999").unwrap_or_else(|e| panic!("{e}"));
        let _held = claim(dir.path(), &pidfile).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            std::fs::read_to_string(&pidfile).unwrap_or_default(),
            std::process::id().to_string()
        );
    }
}
