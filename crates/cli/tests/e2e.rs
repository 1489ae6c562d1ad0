//! End-to-end: the built `berth` binary against a real `berthd` on a temp socket and data root, with the stock
//! docker CLI pointed at the same daemon where the output layout matters (`ps`, `images`, `inspect -f`).
//!
//! Needs root and the daemon binaries (`berthd`, `berth-shim`) built next to this test's target dir (the lead's
//! `cargo build --workspace --bins` does that) or named by `BERTHD_BIN`.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

fn berthd_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTHD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let debug_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let candidate = debug_dir.join("berthd");
    assert!(
        candidate.exists(),
        "berthd not found at {} (build it with `cargo build -p berthd -p berth-shim` or set BERTHD_BIN)",
        candidate.display()
    );
    candidate
}

/// Whether to run: root required, unless BERTH_SKIP_ROOT_TESTS=1 says skip.
fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: not root and BERTH_SKIP_ROOT_TESTS=1");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip)");
}

/// A running berthd on a private socket and data root; stopped and cleaned up on drop.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("b")
            .tempdir()
            .expect("temp dir");
        let socket = dir.path().join("berth.sock");
        let log = std::fs::File::create(dir.path().join("berthd.log")).expect("log file");
        let child = Command::new(berthd_bin())
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("r"))
            .arg("--pidfile")
            .arg(dir.path().join("berthd.pid"))
            .arg("--config-file")
            .arg(dir.path().join("daemon.json"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn berthd");
        let mut d = Daemon { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !d.socket.exists() {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("berthd exited early ({status}): {}", d.log());
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not create its socket: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.berth_with_stdin(args, None)
    }

    fn berth_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run_with_stdin(
            Command::new(berth_bin())
                .env_remove("DOCKER_HOST")
                .env("BERTH_HOST", self.host())
                .args(args),
            stdin,
        )
    }

    fn docker(&self, args: &[&str]) -> Output {
        run_with_stdin(
            Command::new("/usr/local/bin/docker")
                .env("DOCKER_HOST", self.host())
                .args(args),
            None,
        )
    }

    /// Imports a busybox image built by scripts/busybox-rootfs.sh as `busybox:latest` through `berth import`.
    fn import_busybox(&self) {
        let rootfs = self.dir.path().join("rootfs");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-rootfs.sh");
        let st = Command::new("sh")
            .arg(script)
            .arg(&rootfs)
            .status()
            .expect("busybox-rootfs.sh");
        assert!(st.success(), "busybox-rootfs.sh failed");
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-c")
            .arg(".")
            .output()
            .expect("tar");
        assert!(tar.status.success());
        let out = self.berth_with_stdin(&["import", "-", "busybox:latest"], Some(&tar.stdout));
        assert_ok(&out, "berth import");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let ids = self.berth(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.berth(&["rm", "-f", id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        unmount_under(self.dir.path());
    }
}

/// Unmounts anything the daemon left mounted under our temp dir (deepest first) so the dir can be removed.
fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut targets: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|t| t.starts_with(&prefix))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        let _ = nix::mount::umount2(t.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

fn run_with_stdin(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(data).expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): stdout={} stderr={}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn version_talks_to_the_daemon() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    let out = d.berth(&["version"]);
    assert_ok(&out, "berth version");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Client:") && stdout.contains("Server:"),
        "{stdout}"
    );
    assert!(stdout.contains("API version:      1.51"), "{stdout}");
}

#[test]
fn unreachable_daemon_is_a_clear_error() {
    let out = run_with_stdin(
        Command::new(berth_bin())
            .env("BERTH_HOST", "unix:///nonexistent/berth.sock")
            .arg("ps"),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is the berth daemon running?\n"
    );
}

#[test]
fn bad_flag_values_exit_125() {
    let out = run_with_stdin(
        Command::new(berth_bin())
            .env("BERTH_HOST", "unix:///nonexistent/berth.sock")
            .args(["run", "-m", "x", "busybox"]),
        None,
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("invalid size: 'x'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_exits_with_the_container_code_and_streams_output() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let out = d.berth(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr={} log={}",
        text(&out.stderr),
        d.log()
    );
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
}

#[test]
fn run_pipes_stdin_with_i() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let out = d.berth_with_stdin(
        &["run", "-i", "--rm", "--network", "none", "busybox", "cat"],
        Some(b"hello\n"),
    );
    assert_ok(&out, "run -i cat");
    assert_eq!(text(&out.stdout), "hello\n");
}

#[test]
fn run_missing_image_reports_like_docker() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    let out = d.berth(&["run", "--rm", "nosuchimage-berth-e2e"]);
    assert_eq!(out.status.code(), Some(125));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("Unable to find image 'nosuchimage-berth-e2e:latest' locally\n"),
        "{stderr}"
    );
}

#[test]
fn missing_container_errors_like_docker() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    let out = d.berth(&["rm", "nope-berth-e2e"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error response from daemon: No such container: nope-berth-e2e\n"
    );
    let out = d.berth(&["inspect", "nope-berth-e2e"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "[]\n");
    assert_eq!(text(&out.stderr), "Error: No such object: nope-berth-e2e\n");
}

#[test]
fn detached_container_exec_logs_stop_rm() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let out = d.berth(&[
        "run",
        "-d",
        "--name",
        "e2e-exec",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo started; exec sleep 300",
    ]);
    assert_ok(&out, "run -d");
    let id = text(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let out = d.berth(&[
        "exec",
        "e2e-exec",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "stderr={}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    let out = d.berth(&["logs", "e2e-exec"]);
    assert_ok(&out, "logs");
    assert_eq!(text(&out.stdout), "started\n");
    let out = d.berth(&["inspect", "-f", "{{.State.Status}} {{.Name}}", "e2e-exec"]);
    assert_eq!(text(&out.stdout), "running /e2e-exec\n");
    let out = d.berth(&["stop", "-t", "1", "e2e-exec"]);
    assert_ok(&out, "stop");
    assert_eq!(text(&out.stdout), "e2e-exec\n");
    let out = d.berth(&["rm", "e2e-exec"]);
    assert_ok(&out, "rm");
}

#[test]
fn ps_images_and_inspect_match_the_docker_cli() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let out = d.berth(&[
        "create",
        "--name",
        "e2e-ps",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "while true; do sleep 1; done",
    ]);
    assert_ok(&out, "create");
    let ps_format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    for args in [
        vec!["ps", "-a", "--format", ps_format],
        vec!["ps", "-aq"],
        vec![
            "images",
            "--format",
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}",
        ],
        vec!["images", "-q"],
        vec![
            "inspect",
            "-f",
            "{{.State.Status}} {{.Config.Image}} {{.Name}} {{json .Config.Cmd}}",
            "e2e-ps",
        ],
        vec!["inspect", "-f", "{{.Id}} {{.Os}}", "busybox"],
    ] {
        let ours = d.berth(&args);
        let theirs = d.docker(&args);
        assert_ok(&theirs, &format!("docker {args:?}"));
        assert_ok(&ours, &format!("berth {args:?}"));
        assert_eq!(
            text(&ours.stdout),
            text(&theirs.stdout),
            "berth vs docker for {args:?}"
        );
    }
    let ours = d.berth(&["ps", "-a"]);
    let theirs = d.docker(&["ps", "-a"]);
    let header = |o: &Output| {
        text(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header(&ours), header(&theirs));
}
