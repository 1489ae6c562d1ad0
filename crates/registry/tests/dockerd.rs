//! Interop with the stock Docker daemon: a private `dockerd` pushes the busybox image to a
//! `berth-registry` process on 127.0.0.1, removes it, pulls it back and runs it. Skips with a
//! message when `dockerd` is not installed; everything it starts (the registry, dockerd and its
//! containerd, their mounts and directories) is removed even when an assertion fails.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_berth-registry");

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Fails loudly without root unless BERTH_SKIP_ROOT_TESTS=1 (then returns false: skip).
fn require_root() -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip)");
}

fn find_on_path(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills and reaps the registry when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private dockerd with its own socket, data root and exec root; dropping it stops dockerd
/// (TERM, then KILL after 20 s), kills a containerd it left behind, unmounts everything below
/// its roots and removes them.
struct Dockerd {
    child: Option<Child>,
    run: PathBuf,
    data: PathBuf,
    cli: PathBuf,
}

impl Dockerd {
    fn start(dockerd: &Path) -> Dockerd {
        let tag = format!("{}-{:x}", std::process::id(), rand_u32());
        // Short: the sockets below it must stay under 108 bytes.
        let run = PathBuf::from(format!("/run/bdi-{tag}"));
        let data = PathBuf::from(format!("/var/tmp/berth-dockerd-interop-{tag}"));
        std::fs::create_dir_all(&run).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        let log = std::fs::File::create(run.join("dockerd.log")).unwrap();
        let cli = ["/usr/local/bin/docker", "/usr/bin/docker"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("docker"));
        let mut d = Dockerd {
            child: None,
            run: run.clone(),
            data: data.clone(),
            cli,
        };
        let child = Command::new(dockerd)
            .arg("-H")
            .arg(format!("unix://{}", run.join("docker.sock").display()))
            .arg("--data-root")
            .arg(data.join("root"))
            .arg("--exec-root")
            .arg(run.join("exec"))
            .arg("--pidfile")
            .arg(run.join("dockerd.pid"))
            .args(["--iptables=false", "--bridge=none", "--log-level=warn"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        d.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !d.docker(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "dockerd did not come up in 60 s: {}",
                std::fs::read_to_string(run.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }

    /// Runs the docker CLI against this daemon.
    fn docker(&self, args: &[&str]) -> Output {
        Command::new(&self.cli)
            .arg("-H")
            .arg(format!("unix://{}", self.run.join("docker.sock").display()))
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs the docker CLI and fails the test with its output when it fails.
    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        kill_processes_mentioning(&self.run);
        unmount_below(&self.data);
        unmount_below(&self.run);
        let _ = std::fs::remove_dir_all(&self.data);
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

/// Kills processes (containerd, shims) whose command line names `root`: left only when
/// dockerd died without stopping them.
fn kill_processes_mentioning(root: &Path) {
    let needle = root.to_string_lossy().into_owned();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

/// Unmounts every mount point at or below `root`, deepest first.
fn unmount_below(root: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = root.to_string_lossy().into_owned();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| *p == prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").arg("-l").arg(p).status();
    }
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(7)
}

#[test]
fn stock_dockerd_pushes_to_and_pulls_from_berth_registry() {
    if !require_root() {
        return;
    }
    let Some(dockerd) = find_on_path("dockerd") else {
        eprintln!("skipping: dockerd is not installed (apt-get install -y docker.io)");
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let port = free_port();
    let registry = ChildGuard(
        Command::new(BIN)
            .arg("serve")
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--root")
            .arg(scratch.path().join("registry"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "berth-registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let image_tar = scratch.path().join("busybox.tar");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-image.sh");
    let made = Command::new("sh")
        .arg(&script)
        .arg(&image_tar)
        .arg("berth-interop/busybox:v1")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "busybox-image.sh: {}",
        String::from_utf8_lossy(&made.stderr)
    );

    let d = Dockerd::start(&dockerd);
    d.docker_ok(&["load", "-i", image_tar.to_str().unwrap()]);
    let id = d.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        "berth-interop/busybox:v1",
    ]);
    let remote = format!("127.0.0.1:{port}/interop/busybox:v1");
    d.docker_ok(&["tag", "berth-interop/busybox:v1", &remote]);
    let pushed = d.docker_ok(&["push", &remote]);
    assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
    d.docker_ok(&["rmi", &remote, "berth-interop/busybox:v1"]);
    assert!(
        !d.docker(&["image", "inspect", &remote]).status.success(),
        "the image is gone before the pull"
    );

    let pulled = d.docker_ok(&["pull", &remote]);
    assert!(
        pulled.contains("Downloaded newer image"),
        "a real download: {pulled}"
    );
    let id_back = d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &remote]);
    assert_eq!(id_back, id, "the same image comes back");
    let ran = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &remote,
        "sh",
        "-c",
        "echo hello from $(basename $(readlink -f /bin/sh))",
    ]);
    assert_eq!(ran.trim(), "hello from busybox");
    drop(d);
    drop(registry);
}
