//! The real berth-shim binary on a real bundle: a container that exits at once still gets its
//! start answered and its exit recorded, and an idle shim gives back its start-up memory.

use anyhow::{Context, Result, bail};
use berth_runtime::testing::TestBundle;
use berth_shim::config::{CONFIG_FILE, EXIT_FILE, PID_FILE, SOCKET_FILE, ShimConfig};
use berth_shim::protocol::{Reply, Request};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Fails loudly without root unless BERTH_SKIP_ROOT_TESTS=1; returns false to skip.
fn need_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip)");
}

/// A running shim; dropping it deletes the container and kills the shim if it is still there.
struct Shim {
    state: tempfile::TempDir,
    pid: Option<i32>,
    // Dropped after the shim: removes the bundle, the container's cgroup and state root.
    _bundle: TestBundle,
}

impl Shim {
    fn spawn(args: &[&str]) -> Result<Shim> {
        let bundle = TestBundle::new(args)?;
        let state = tempfile::Builder::new().prefix("berth-shim-").tempdir()?;
        let cfg = ShimConfig {
            id: bundle.id.clone(),
            bundle: bundle.bundle().to_path_buf(),
            runtime_root: bundle.state_root(),
            log_path: None,
            log_max_size: 0,
            log_max_files: 1,
            tty: false,
            open_stdin: false,
            stdin_once: false,
            cgroup_path: Some(bundle.cgroup_path.clone()),
        };
        std::fs::write(state.path().join(CONFIG_FILE), serde_json::to_vec(&cfg)?)?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth-shim"))
            .arg(state.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut shim = Shim {
            state,
            pid: None,
            _bundle: bundle,
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        child.wait()?;
        shim.pid = std::fs::read_to_string(shim.state.path().join(PID_FILE))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        match serde_json::from_str(&line)? {
            Reply::Pid { .. } => Ok(shim),
            other => bail!("the shim did not create the container: {other:?}"),
        }
    }

    fn dir(&self) -> &Path {
        self.state.path()
    }

    fn request(&self, req: &Request) -> Result<Reply> {
        let mut s = UnixStream::connect(self.dir().join(SOCKET_FILE))?;
        let mut line = serde_json::to_vec(req)?;
        line.push(b'\n');
        s.write_all(&line)?;
        let mut reply = String::new();
        BufReader::new(s).read_line(&mut reply)?;
        Ok(serde_json::from_str(&reply)?)
    }

    fn pid(&self) -> Result<i32> {
        self.pid.context("the shim wrote no pid file")
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        let _ = self.request(&Request::Delete);
        if let Some(pid) = self.pid {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// A field of /proc/<pid>/status in KiB.
fn status_kib(pid: i32, field: &str) -> Result<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} for pid {pid}"))
}

#[test]
fn a_container_that_exits_at_once_is_started_waited_and_deleted() -> Result<()> {
    if !need_root() {
        return Ok(());
    }
    let shim = Shim::spawn(&["sh", "-c", "exit 7"])?;
    assert!(matches!(shim.request(&Request::Start)?, Reply::Ok));
    match shim.request(&Request::Wait { exec_id: None })? {
        Reply::Exit(e) => assert_eq!(e.exit_code, 7),
        other => bail!("wait answered {other:?}"),
    }
    let exit = std::fs::read(shim.dir().join(EXIT_FILE))?;
    let exit: berth_shim::config::ExitRecord = serde_json::from_slice(&exit)?;
    assert_eq!(exit.exit_code, 7);
    assert!(matches!(shim.request(&Request::Delete)?, Reply::Ok));
    let deadline = Instant::now() + Duration::from_secs(5);
    while shim.dir().join(SOCKET_FILE).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !shim.dir().join(SOCKET_FILE).exists(),
        "the shim did not clean up its state directory after delete"
    );
    Ok(())
}

#[test]
fn an_idle_shim_gives_back_its_start_up_memory() -> Result<()> {
    if !need_root() {
        return Ok(());
    }
    let shim = Shim::spawn(&["sleep", "300"])?;
    let pid = shim.pid()?;
    assert!(matches!(shim.request(&Request::Start)?, Reply::Ok));
    let busy = status_kib(pid, "VmRSS:")?;
    // The shim trims after 100 ms without events; give a loaded machine some slack.
    std::thread::sleep(Duration::from_millis(600));
    let idle = status_kib(pid, "VmRSS:")?;
    let anon = status_kib(pid, "RssAnon:")?;
    eprintln!(
        "berth-shim RSS right after start {busy} KiB, idle {idle} KiB (anonymous {anon} KiB)"
    );
    assert!(
        idle < busy,
        "an idle shim kept its start-up pages: {busy} KiB -> {idle} KiB"
    );
    // The target (1.5 MB) is for the release build; an unoptimized shim's loop code is
    // bigger (measured: 7.4 MiB after start, 1.8 MiB idle in debug; 1.0 MiB idle in release).
    let limit = if cfg!(debug_assertions) { 2560 } else { 1464 };
    assert!(
        idle <= limit,
        "an idle shim should stay within {limit} KiB RSS, has {idle} KiB"
    );
    Ok(())
}
