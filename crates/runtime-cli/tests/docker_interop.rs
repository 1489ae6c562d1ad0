//! Docker drives berth-runtime: a private dockerd with `--add-runtime berth=<our binary>` runs a
//! busybox image through containerd's runc shim, which calls our runc-compatible command line.
//!
//! Slow (starts dockerd and containerd); set BERTH_SKIP_INTEROP=1 to skip it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The stock Docker CLI (28.x) this VM ships.
const DOCKER_CLI: &str = "/usr/local/bin/docker";

/// A dockerd on private directories and socket; stopped and cleaned up on drop, always.
struct PrivateDockerd {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateDockerd {
    fn start(runtime: &Path) -> PrivateDockerd {
        let dir = tempfile::Builder::new()
            .prefix("berth-dockerd-")
            .tempdir()
            .expect("tempdir");
        let p = |name: &str| dir.path().join(name);
        let log = std::fs::File::create(p("dockerd.log")).expect("log");
        let child = Command::new("dockerd")
            .arg(format!("--data-root={}", p("data").display()))
            .arg(format!("--exec-root={}", p("exec").display()))
            .arg(format!("--pidfile={}", p("docker.pid").display()))
            .arg(format!("--host=unix://{}", p("docker.sock").display()))
            .arg(format!("--add-runtime=berth={}", runtime.display()))
            .args([
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver=vfs",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn dockerd");
        let d = PrivateDockerd {
            dir,
            child: Some(child),
        };
        d.wait_ready();
        d
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// The Docker CLI against this daemon.
    fn docker(&self) -> Command {
        let mut c = Command::new(DOCKER_CLI);
        c.env("DOCKER_HOST", format!("unix://{}", self.sock().display()));
        c.env("DOCKER_CONFIG", self.dir.path().join("client"));
        c
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ok = self
                .docker()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("dockerd did not come up:\n{}", self.log());
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        unmount_under(self.dir.path());
    }
}

/// Detaches every mount below `dir` (dockerd leaves netns and shm mounts), deepest first.
fn unmount_under(dir: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(dir))
        .map(str::to_string)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for m in points {
        let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// dockerd on PATH, installing Debian's docker.io when missing; None (skip) when that fails.
fn ensure_dockerd() -> Option<()> {
    let present = || {
        Command::new("sh")
            .args(["-c", "command -v dockerd"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if present() {
        return Some(());
    }
    let _ = Command::new("apt-get")
        .args(["install", "-y", "docker.io"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    present().then_some(())
}

/// Tars a busybox rootfs and `docker import`s it as busybox:berth-test.
fn import_busybox(d: &PrivateDockerd) {
    let rootfs = d.dir.path().join("rootfs");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-rootfs.sh");
    assert!(
        Command::new("sh")
            .arg(script)
            .arg(&rootfs)
            .status()
            .expect("busybox-rootfs.sh")
            .success()
    );
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    let out = d
        .docker()
        .args(["import", "-", "busybox:berth-test"])
        .stdin(tar.stdout.take().expect("tar stdout"))
        .output()
        .expect("docker import");
    assert!(tar.wait().expect("tar").success());
    assert!(
        out.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn docker_run_uses_berth_runtime() {
    if std::env::var("BERTH_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipping: BERTH_SKIP_INTEROP=1");
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
            return;
        }
        panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip it)");
    }
    if ensure_dockerd().is_none() {
        println!(
            "SKIPPED docker_run_uses_berth_runtime: dockerd is not installed and `apt-get install -y docker.io` failed"
        );
        return;
    }
    let d = PrivateDockerd::start(Path::new(env!("CARGO_BIN_EXE_berth-runtime")));
    import_busybox(&d);
    let out = d
        .docker()
        .args([
            "run",
            "--rm",
            "--runtime",
            "berth",
            "--network",
            "none",
            "busybox:berth-test",
            "sh",
            "-c",
            "echo hi; hostname | wc -c",
        ])
        .output()
        .expect("docker run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docker run failed: {}\n{}\n--- dockerd log ---\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    // Docker names the host after the short container id (12 characters + newline).
    assert_eq!(stdout, "hi\n13\n");
    let out = d
        .docker()
        .args([
            "run",
            "--rm",
            "--runtime",
            "berth",
            "--network",
            "none",
            "busybox:berth-test",
            "sh",
            "-c",
            "exit 7",
        ])
        .output()
        .expect("docker run");
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Prove it was our runtime: a running container has our state file (with our private fields) under dockerd's dirs.
    let out = d
        .docker()
        .args([
            "run",
            "-d",
            "--runtime",
            "berth",
            "--network",
            "none",
            "busybox:berth-test",
            "sleep",
            "60",
        ])
        .output()
        .expect("docker run -d");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let states = find_files(d.dir.path(), "state.json");
    let ours = states.iter().any(|p| {
        p.parent().is_some_and(|dir| dir.ends_with(&id))
            && std::fs::read_to_string(p).is_ok_and(|t| t.contains("berthInitStartTime"))
    });
    let rm = d
        .docker()
        .args(["rm", "-f", &id])
        .output()
        .expect("docker rm");
    assert!(ours, "no berth-runtime state for {id} in {states:?}");
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
}

/// Every file named `name` below `dir`.
fn find_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) if e.file_name() == name => out.push(path),
                _ => {}
            }
        }
    }
    out
}
