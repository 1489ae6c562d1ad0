//! Test harness for berthd end-to-end tests: a real berthd on a private data root, exec root
//! and socket, the busybox fixture image loaded, the stock docker CLI pointed at it, and a
//! drop guard that kills the daemon, its shims and containers, removes their cgroups, unmounts
//! everything under the temp dir and removes it, even when the test fails.

#![allow(dead_code)]

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Cgroup v1 controllers the runtime creates `/berth/<id>` in.
const CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "memory",
    "pids",
    "systemd",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
];

/// Removes the `/berth` parent cgroups every test daemon shares, once they are empty: the
/// last test to finish succeeds, the others get EBUSY while siblings still have containers.
pub fn remove_shared_cgroup_parent() {
    for ctl in CONTROLLERS {
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(ctl).join("berth"));
    }
}

/// Fails loudly without root unless BERTH_SKIP_ROOT_TESTS=1; returns false to skip.
pub fn need_root() -> bool {
    if nix_is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip)");
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

pub fn berthd_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berthd"))
}

/// The berth-shim binary next to berthd, built on demand (it lives in another package).
fn ensure_shim() -> Result<()> {
    let bin = berthd_binary();
    let dir = bin.parent().context("berthd has no directory")?;
    if dir.join("berth-shim").exists() {
        return Ok(());
    }
    let profile_dir = dir.to_path_buf();
    let target = profile_dir.parent().context("no target dir")?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "-p", "berth-shim"])
        .env("CARGO_TARGET_DIR", target);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build -p berth-shim")?;
    if !status.success() {
        bail!("building berth-shim failed");
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running berthd with its own directories.
pub struct Daemon {
    /// The temp dir holding everything.
    pub root: tempfile::TempDir,
    child: Option<Child>,
    exec_dir: String,
    extra_args: Vec<String>,
}

impl Daemon {
    /// Starts berthd and loads busybox:latest.
    pub fn start() -> Result<Daemon> {
        Daemon::start_with_exec_dir("run")
    }

    /// Starts berthd with its exec root at `<temp dir>/<exec_dir>` (long paths test socket limits).
    pub fn start_with_exec_dir(exec_dir: &str) -> Result<Daemon> {
        Daemon::start_configured(exec_dir, |_| Vec::new())
    }

    /// Starts berthd with extra flags, computed from the temp dir (for files placed there), and
    /// loads busybox:latest.
    pub fn start_with_args(args: impl FnOnce(&Path) -> Vec<String>) -> Result<Daemon> {
        Daemon::start_configured("run", args)
    }

    fn start_configured(exec_dir: &str, args: impl FnOnce(&Path) -> Vec<String>) -> Result<Daemon> {
        ensure_shim()?;
        let root = tempfile::Builder::new().prefix("bd").tempdir_in("/tmp")?;
        let extra_args = args(root.path());
        let mut d = Daemon {
            root,
            child: None,
            exec_dir: exec_dir.to_string(),
            extra_args,
        };
        d.spawn()?;
        d.load_busybox()?;
        Ok(d)
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.root.path().join("s.sock")
    }

    /// The exec root.
    pub fn exec_root(&self) -> PathBuf {
        self.root.path().join(&self.exec_dir)
    }

    /// The data root.
    pub fn data_root(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// DOCKER_HOST for this daemon.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// (Re)starts the berthd process on the same directories.
    pub fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join("berthd.log"))?;
        let child = Command::new(berthd_binary())
            .arg("-H")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--pidfile")
            .arg(self.root.path().join("berthd.pid"))
            .arg("--config-file")
            .arg(self.root.path().join("daemon.json"))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting berthd")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                bail!("berthd exited with {status}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("berthd did not listen in time: {}", self.log())
    }

    /// SIGKILLs berthd (shims and containers keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("berthd.log")).unwrap_or_default()
    }

    fn load_busybox(&self) -> Result<()> {
        let tar = self.root.path().join("busybox.tar");
        let out = Command::new(workspace_root().join("scripts/busybox-image.sh"))
            .arg(&tar)
            .output()?;
        if !out.status.success() {
            bail!("busybox-image.sh: {}", String::from_utf8_lossy(&out.stderr));
        }
        let out = self.docker(&["load", "-i", &tar.display().to_string()]);
        if !out.status.success() {
            bail!("docker load: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Runs the stock docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("running docker: {e}"))
    }

    /// A docker CLI command against this daemon (for stdin or spawning).
    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("/usr/local/bin/docker");
        c.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.root.path().join("dockercfg"));
        c
    }

    /// Runs docker and returns stdout, failing the test with stderr when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}): {}\n--- berthd log ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 30)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Container ids this daemon has records for.
    pub fn container_ids(&self) -> Vec<String> {
        std::fs::read_dir(self.data_root().join("containers"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Leaks of this daemon's things: mounts under the temp dir, container cgroups and live
    /// shims. Call after removing every container.
    pub fn leaks(&self, ids: &[String]) -> Vec<String> {
        let mut leaks = Vec::new();
        for m in mounts_under(self.root.path()) {
            leaks.push(format!("mount {m}"));
        }
        for id in ids {
            for ctl in CONTROLLERS {
                let p = Path::new("/sys/fs/cgroup").join(ctl).join("berth").join(id);
                if p.exists() {
                    leaks.push(format!("cgroup {}", p.display()));
                }
            }
        }
        for pid in shim_pids(&self.exec_root()) {
            leaks.push(format!("shim process {pid}"));
        }
        leaks
    }

    /// Asserts that nothing leaked for the given containers.
    pub fn assert_no_leaks(&self, ids: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let leaks = self.leaks(ids);
            if leaks.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!("leaks: {leaks:#?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn mounts_under(root: &Path) -> Vec<String> {
    let r = root.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
        .filter(|m| m.starts_with(&r))
        .collect()
}

/// Pids of shims whose state directory is under `exec_root` (found by their command line).
fn shim_pids(exec_root: &Path) -> Vec<i32> {
    let needle = exec_root.display().to_string();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("berth-shim") && cmd.contains(&needle)
        })
        .collect()
}

fn kill(pid: i32) {
    let _ = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        for pid in shim_pids(&self.exec_root()) {
            kill(pid);
        }
        for id in self.container_ids() {
            for ctl in CONTROLLERS {
                let dir = Path::new("/sys/fs/cgroup")
                    .join(ctl)
                    .join("berth")
                    .join(&id);
                if !dir.exists() {
                    continue;
                }
                let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                for pid in std::fs::read_to_string(dir.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                {
                    if let Ok(p) = pid.trim().parse() {
                        kill(p);
                    }
                }
            }
            for ctl in CONTROLLERS {
                let dir = Path::new("/sys/fs/cgroup")
                    .join(ctl)
                    .join("berth")
                    .join(&id);
                for _ in 0..50 {
                    if !dir.exists() || std::fs::remove_dir(&dir).is_ok() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        remove_shared_cgroup_parent();
        let mut mounts = mounts_under(self.root.path());
        mounts.reverse();
        for m in mounts {
            let _ = Command::new("umount")
                .args(["-l", &m])
                .stderr(Stdio::null())
                .status();
        }
    }
}
