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
        Daemon::start_with_args(|_| Vec::new())
    }

    /// Starts berthd with extra flags, computed from the temp dir (for files placed there).
    fn start_with_args(extra: impl FnOnce(&Path) -> Vec<String>) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("b")
            .tempdir()
            .expect("temp dir");
        let extra = extra(dir.path());
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
            .args(&extra)
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
        // The `/berth` parent cgroups are shared by every test daemon: the last one to finish
        // removes them (the others get EBUSY while siblings still have containers).
        if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
            for ctl in controllers.flatten() {
                let _ = std::fs::remove_dir(ctl.path().join("berth"));
            }
        }
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
            "{{.Config.Cmd}} {{.Args}} {{.State.Running}} {{.RestartCount}}",
            "e2e-ps",
        ],
        vec![
            "images",
            "--format",
            "{{.Repository}} {{.SharedSize}} {{.UniqueSize}} {{.VirtualSize}} {{.Containers}}",
        ],
        vec![
            "ps",
            "-a",
            "-s",
            "--format",
            "{{.Names}} {{.Labels}} {{.Size}} {{.Mounts}} {{.Networks}} {{.LocalVolumes}}",
        ],
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

#[test]
fn copy_both_ways_and_diff() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    assert_ok(
        &d.berth(&[
            "run",
            "-d",
            "--name",
            "e2e-cp",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ]),
        "run -d",
    );
    let local = d.dir.path().join("hello.txt");
    std::fs::write(&local, "hello\n").unwrap();
    assert_ok(
        &d.berth(&["cp", local.to_str().unwrap(), "e2e-cp:/tmp/"]),
        "cp to container",
    );
    let out = d.berth(&["exec", "e2e-cp", "cat", "/tmp/hello.txt"]);
    assert_eq!(text(&out.stdout), "hello\n");
    let back = d.dir.path().join("passwd.copy");
    assert_ok(
        &d.berth(&["cp", "e2e-cp:/etc/passwd", back.to_str().unwrap()]),
        "cp from container",
    );
    assert!(
        std::fs::read_to_string(&back)
            .unwrap()
            .starts_with("root:x:0:0:")
    );
    let out = d.berth(&["diff", "e2e-cp"]);
    assert_ok(&out, "diff");
    assert_eq!(
        text(&out.stdout),
        text(&d.docker(&["diff", "e2e-cp"]).stdout)
    );
    assert!(
        text(&out.stdout).contains("A /tmp/hello.txt"),
        "{}",
        text(&out.stdout)
    );
    let ours = d.berth(&["top", "e2e-cp"]);
    assert_ok(&ours, "top");
    assert_eq!(
        text(&ours.stdout),
        text(&d.docker(&["top", "e2e-cp"]).stdout)
    );
}

#[test]
fn image_tag_save_load_rmi_commit() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    assert_ok(&d.berth(&["tag", "busybox", "e2e/bb:v1"]), "tag");
    let tar = d.dir.path().join("save.tar");
    assert_ok(
        &d.berth(&["save", "-o", tar.to_str().unwrap(), "e2e/bb:v1"]),
        "save",
    );
    let out = d.berth(&["rmi", "e2e/bb:v1"]);
    assert_ok(&out, "rmi");
    assert_eq!(text(&out.stdout), "Untagged: e2e/bb:v1\n");
    let out = d.berth(&["load", "-i", tar.to_str().unwrap()]);
    assert_ok(&out, "load");
    assert_eq!(text(&out.stdout), "Loaded image: e2e/bb:v1\n");
    assert_ok(
        &d.berth(&[
            "run",
            "--name",
            "e2e-commit",
            "--network",
            "none",
            "busybox",
            "touch",
            "/marker",
        ]),
        "run",
    );
    let out = d.berth(&[
        "commit",
        "-m",
        "msg",
        "-c",
        "ENV X=1",
        "e2e-commit",
        "e2e/committed:1",
    ]);
    assert_ok(&out, "commit");
    assert!(
        text(&out.stdout).starts_with("sha256:"),
        "{}",
        text(&out.stdout)
    );
    let out = d.berth(&[
        "run",
        "--rm",
        "--network",
        "none",
        "e2e/committed:1",
        "sh",
        "-c",
        "ls /marker && echo $X",
    ]);
    assert_eq!(
        text(&out.stdout),
        "/marker\n1\n",
        "stderr={}",
        text(&out.stderr)
    );
    let out = d.berth(&["rmi", "nope-e2e:latest"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("Error response from daemon: No such image: nope-e2e:latest"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn wait_kill_logs_follow_and_prune() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    assert_ok(
        &d.berth(&[
            "run",
            "-d",
            "--name",
            "e2e-lf",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 0.2; done; exit 4",
        ]),
        "run -d",
    );
    let out = d.berth(&["logs", "-f", "e2e-lf"]);
    assert_ok(&out, "logs -f");
    assert_eq!(text(&out.stdout), "1\n2\n3\n");
    let out = d.berth(&["wait", "e2e-lf"]);
    assert_eq!(text(&out.stdout), "4\n");
    assert_ok(
        &d.berth(&[
            "run",
            "-d",
            "--name",
            "e2e-kill",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ]),
        "run -d",
    );
    assert_ok(&d.berth(&["kill", "e2e-kill"]), "kill");
    let out = d.berth(&["wait", "e2e-kill"]);
    assert_eq!(text(&out.stdout), "137\n");
    let out = d.berth(&["container", "prune", "-f"]);
    assert_ok(&out, "container prune");
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Deleted Containers:\n"), "{stdout}");
    assert!(
        stdout.ends_with("Total reclaimed space: 0B\n")
            || stdout.contains("Total reclaimed space:"),
        "{stdout}"
    );
    assert_eq!(text(&d.berth(&["ps", "-aq"]).stdout), "");
}

#[test]
fn exec_pipes_stdin_and_attach_proxies_signals() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    assert_ok(
        &d.berth(&[
            "run",
            "-d",
            "--name",
            "e2e-sig",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 9' TERM; while true; do sleep 0.1; done",
        ]),
        "run -d",
    );
    let out = d.berth_with_stdin(
        &["exec", "-i", "e2e-sig", "tr", "a-z", "A-Z"],
        Some(b"shout\n"),
    );
    assert_ok(&out, "exec -i");
    assert_eq!(text(&out.stdout), "SHOUT\n");
    let child = Command::new(berth_bin())
        .env("BERTH_HOST", d.host())
        .args(["attach", "e2e-sig"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_catching_sigterm(child.id());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(9), "stderr={}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "got-term\n");
}

/// Waits until the process has a SIGTERM handler installed (bit 15 of SigCgt in /proc/PID/status).
fn wait_until_catching_sigterm(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (libc_sigterm() - 1)) != 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "berth attach never installed its SIGTERM handler"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn libc_sigterm() -> u32 {
    nix::sys::signal::Signal::SIGTERM as u32
}

#[test]
fn events_stream_until_a_deadline() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let since = chrono::Utc::now().timestamp().to_string();
    assert_ok(
        &d.berth(&[
            "run",
            "--rm",
            "--name",
            "e2e-ev",
            "--network",
            "none",
            "busybox",
            "true",
        ]),
        "run",
    );
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let args = [
        "events",
        "--since",
        since.as_str(),
        "--until",
        until.as_str(),
        "--filter",
        "container=e2e-ev",
        "--filter",
        "type=container",
        "--format",
        "{{.Action}}",
    ];
    let ours = d.berth(&args);
    assert_ok(&ours, "events");
    let actions = text(&ours.stdout);
    assert!(
        actions.starts_with("create\n") && actions.contains("start\n") && actions.contains("die\n"),
        "{actions}"
    );
    let theirs = d.docker(&args);
    assert_eq!(actions, text(&theirs.stdout));
}

#[test]
fn command_problems_exit_126_and_127() {
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
        "nonexistent-cmd",
    ]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("executable file not found"),
        "{}",
        text(&out.stderr)
    );
    let out = d.berth(&["run", "--rm", "--network", "none", "busybox", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert_eq!(
        text(&d.berth(&["ps", "-aq"]).stdout),
        "",
        "--rm leaves no container after a failed start"
    );
    assert_ok(
        &d.berth(&[
            "run",
            "-d",
            "--name",
            "e2e-x",
            "--network",
            "none",
            "busybox",
            "sleep",
            "300",
        ]),
        "run -d",
    );
    let out = d.berth(&["exec", "e2e-x", "nonexistent-cmd"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    let out = d.berth(&["exec", "e2e-x", "/etc"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
}

#[test]
fn api_version_from_the_environment_skips_negotiation() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    let run = |version: &str| {
        run_with_stdin(
            Command::new(berth_bin())
                .env("BERTH_HOST", d.host())
                .env("BERTH_API_VERSION", version)
                .args(["ps", "-q"]),
            None,
        )
    };
    let out = run("1.99");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error response from daemon: client version 1.99 is too new. Maximum supported API version is 1.51\n"
    );
    assert_ok(&run("1.24"), "ps with API 1.24");
}

#[test]
fn logout_edits_docker_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"auths":{"localhost:5000":{"auth":"dTpw"}},"other":1}"#,
    )
    .unwrap();
    let out = run_with_stdin(
        Command::new(berth_bin())
            .env("DOCKER_CONFIG", dir.path())
            .args(["logout", "localhost:5000"]),
        None,
    );
    assert_ok(&out, "logout");
    assert_eq!(
        text(&out.stdout),
        "Removing login credentials for localhost:5000\n"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(v["auths"], serde_json::json!({}));
    assert_eq!(v["other"], 1);
}

/// `rmi --no-prune` keeps an untagged parent that plain `rmi` deletes with its child, and
/// `image prune --filter until=` only removes images created before the limit (berth CLI
/// and the stock docker CLI).
#[test]
fn rmi_no_prune_and_image_prune_until() {
    if !root_or_skip() {
        return;
    }
    let d = Daemon::start();
    d.import_busybox();
    let untagged_parent = || {
        let out = d.berth(&["commit", "--pause=false", "np-src"]);
        assert_ok(&out, "commit untagged");
        text(&out.stdout).trim().to_string()
    };
    assert_ok(
        &d.berth(&[
            "run",
            "--name",
            "np-src",
            "--network",
            "none",
            "busybox",
            "true",
        ]),
        "run np-src",
    );
    let all_ids = || text(&d.berth(&["images", "-aq", "--no-trunc"]).stdout);
    for (cli, no_prune) in [("berth", true), ("docker", false)] {
        let parent = untagged_parent();
        let name = format!("np-child-{cli}");
        assert_ok(
            &d.berth(&[
                "run",
                "--name",
                &name,
                "--network",
                "none",
                &parent,
                "touch",
                "/x",
            ]),
            "run child",
        );
        let tag = format!("e2e/np:{cli}");
        assert_ok(&d.berth(&["commit", &name, &tag]), "commit child");
        assert_ok(&d.berth(&["rm", &name]), "rm child container");
        let out = if no_prune {
            d.berth(&["rmi", "--no-prune", &tag])
        } else {
            d.docker(&["rmi", &tag])
        };
        assert_ok(&out, "rmi child");
        let deleted_parent = text(&out.stdout).contains(&format!("Deleted: {parent}"));
        assert_eq!(deleted_parent, !no_prune, "{cli}: {}", text(&out.stdout));
        assert_eq!(
            all_ids().contains(&parent),
            no_prune,
            "{cli}: {}",
            all_ids()
        );
    }
    assert_ok(&d.berth(&["rm", "np-src"]), "rm np-src");
    // The parent kept by --no-prune is dangling now; it was created seconds ago.
    let out = d.berth(&[
        "image",
        "prune",
        "-f",
        "--filter",
        "until=2000-01-01T00:00:00Z",
    ]);
    assert_ok(&out, "prune until 2000");
    assert!(
        !text(&out.stdout).contains("deleted:"),
        "{}",
        text(&out.stdout)
    );
    let out = d.docker(&["image", "prune", "-f", "--filter", "until=1h"]);
    assert_ok(&out, "docker prune until 1h");
    assert!(
        !text(&out.stdout).contains("deleted:"),
        "{}",
        text(&out.stdout)
    );
    let out = d.docker(&["image", "prune", "-f", "--filter", "until=bogus"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("bogus"), "{}", text(&out.stderr));
    std::thread::sleep(Duration::from_millis(2100));
    let out = d.berth(&["image", "prune", "-f", "--filter", "until=1s"]);
    assert_ok(&out, "prune until 1s");
    assert!(
        text(&out.stdout).contains("deleted: sha256:"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&d.berth(&["images", "-q"]).stdout).trim().is_empty(),
        "busybox stays"
    );
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn berth_talks_to_a_tls_daemon_with_flags_and_environment() {
    if !root_or_skip() {
        return;
    }
    let port = free_port();
    let d = Daemon::start_with_args(|dir| {
        let certs = dir.join("certs");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/tls-certs.sh");
        let st = Command::new(script)
            .arg(&certs)
            .status()
            .expect("tls-certs.sh");
        assert!(st.success(), "tls-certs.sh failed");
        let s = |p: &str| certs.join(p).display().to_string();
        vec![
            "-H".into(),
            format!("tcp://127.0.0.1:{port}"),
            "--tlsverify".into(),
            format!("--tlscacert={}", s("server/ca.pem")),
            format!("--tlscert={}", s("server/cert.pem")),
            format!("--tlskey={}", s("server/key.pem")),
        ]
    });
    d.import_busybox();
    let certs = d.dir.path().join("certs");
    let tcp = format!("tcp://127.0.0.1:{port}");
    let client = certs.join("client");
    let flags = |args: &[&str]| -> Output {
        let mut cmd = Command::new(berth_bin());
        cmd.env_remove("DOCKER_HOST")
            .env_remove("BERTH_HOST")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .arg("--tlsverify")
            .arg(format!("--tlscacert={}", client.join("ca.pem").display()))
            .arg(format!("--tlscert={}", client.join("cert.pem").display()))
            .arg(format!("--tlskey={}", client.join("key.pem").display()))
            .args(["-H", &tcp])
            .args(args);
        run_with_stdin(&mut cmd, None)
    };
    let env = |cert_dir: &Path, args: &[&str], stdin: Option<&[u8]>| -> Output {
        run_with_stdin(
            Command::new(berth_bin())
                .env_remove("BERTH_HOST")
                .env("DOCKER_HOST", &tcp)
                .env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", cert_dir)
                .args(args),
            stdin,
        )
    };
    let out = flags(&["run", "--rm", "busybox", "echo", "hi over tls"]);
    assert_ok(&out, "berth run over TLS (flags)");
    assert_eq!(text(&out.stdout), "hi over tls\n");
    // Attach with stdin through TLS, output after stdin's EOF included.
    let out = env(
        &client,
        &["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"],
        Some(b"piped\n"),
    );
    assert_ok(&out, "berth run -i over TLS (environment)");
    assert_eq!(text(&out.stdout), "piped\ndone\n");
    let out = env(
        &client,
        &["run", "-d", "--name", "tlsbox", "busybox", "sleep", "300"],
        None,
    );
    assert_ok(&out, "berth run -d");
    let out = env(
        &client,
        &["exec", "-i", "tlsbox", "cat"],
        Some(b"via exec\n"),
    );
    assert_ok(&out, "berth exec -i over TLS");
    assert_eq!(text(&out.stdout), "via exec\n");
    // top with ps arguments, through the same connection type.
    let out = env(&client, &["top", "tlsbox", "aux"], None);
    assert_ok(&out, "berth top aux");
    let top = text(&out.stdout);
    assert!(
        top.starts_with("USER") && top.contains("sleep 300"),
        "{top}"
    );
    assert_eq!(top.lines().count(), 2, "{top}");
    // Refused: a certificate from another CA, and no certificate at all.
    let out = env(&certs.join("rogue"), &["ps"], None);
    assert!(!out.status.success(), "rogue client got in");
    let bare = certs.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(client.join("ca.pem"), bare.join("ca.pem")).unwrap();
    let out = env(&bare, &["ps"], None);
    assert!(!out.status.success(), "client without a certificate got in");
    assert!(
        text(&out.stderr).contains("CertificateRequired"),
        "{}",
        text(&out.stderr)
    );
    let out = env(&client, &["rm", "-f", "tlsbox"], None);
    assert_ok(&out, "berth rm -f");
}
