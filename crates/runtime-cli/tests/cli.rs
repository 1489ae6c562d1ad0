//! Runs the built `berth-runtime` binary the way containerd's runc shim and users do.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use berth_runtime::testing::TestBundle;

/// False (test returns) without root when BERTH_SKIP_ROOT_TESTS=1; panics without root otherwise.
fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip it)");
}

/// `berth-runtime --root <bundle's state root> args...`, capturing output.
fn cli(b: &TestBundle, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth-runtime"))
        .arg("--root")
        .arg(b.state_root())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn berth-runtime")
}

/// For commands that leave a container running: its stdio must not be our capture pipes
/// (the container would hold them open), so they go to `out` (a file) instead.
fn cli_detached(b: &TestBundle, args: &[&str], out: &Path) -> std::process::ExitStatus {
    let file = std::fs::File::create(out).expect("output file");
    Command::new(env!("CARGO_BIN_EXE_berth-runtime"))
        .arg("--root")
        .arg(b.state_root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone"))
        .stderr(file)
        .status()
        .expect("spawn berth-runtime")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "failed: {} / {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn state_json(b: &TestBundle) -> serde_json::Value {
    serde_json::from_str(&ok(cli(b, &["state", &b.id]))).expect("state json")
}

fn bundle_arg(b: &TestBundle) -> String {
    b.bundle().display().to_string()
}

#[test]
fn create_start_state_kill_delete_like_containerd() {
    if !require_root() {
        return;
    }
    let b = TestBundle::new(&["sh", "-c", "echo out; exec sleep 100"]).expect("bundle");
    let pid_file = b.bundle().join("init.pid");
    let log = b.bundle().join("log.json");
    // containerd: runc --root R --log F --log-format json create --bundle B --pid-file P ID, with the container's stdio as ours.
    let output = b.bundle().join("container.out");
    let pid_arg = pid_file.display().to_string();
    let log_arg = log.display().to_string();
    let args = [
        "--log",
        &log_arg,
        "--log-format",
        "json",
        "create",
        "--bundle",
        &bundle_arg(&b),
        "--pid-file",
        &pid_arg,
        &b.id,
    ];
    assert!(cli_detached(&b, &args, &output).success());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let st = state_json(&b);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], b.id.as_str());
    assert_eq!(st["bundle"], bundle_arg(&b));
    assert_eq!(st["ociVersion"], "1.0.2");
    assert!(
        st.get("berthInitStartTime").is_none(),
        "private fields leak: {st}"
    );
    ok(cli(&b, &["start", &b.id]));
    assert_eq!(state_json(&b)["status"], "running");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&output).expect("output"), "out\n");
    let list = ok(cli(&b, &["list", "-q"]));
    assert_eq!(list.trim(), b.id);
    let ps: Vec<i32> =
        serde_json::from_str(&ok(cli(&b, &["ps", "--format", "json", &b.id]))).expect("ps json");
    assert_eq!(ps, vec![pid]);
    let failed = cli(&b, &["delete", &b.id]);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("cannot delete a container that is running"),
        "{}",
        stderr(&failed)
    );
    ok(cli(&b, &["kill", &b.id, "KILL"]));
    for _ in 0..500 {
        if state_json(&b)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(state_json(&b)["status"], "stopped");
    let failed = cli(&b, &["kill", &b.id, "TERM"]);
    assert!(stderr(&failed).contains("container not running"));
    ok(cli(&b, &["delete", &b.id]));
    let failed = cli(&b, &["state", &b.id]);
    assert!(!failed.status.success());
    assert!(stderr(&failed).contains(&format!("container \"{}\" does not exist", b.id)));
    // Errors go to the JSON log as runc's lines.
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.is_empty()
            || text
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
}

#[test]
fn errors_reach_the_json_log() {
    if !require_root() {
        return;
    }
    let b = TestBundle::new(&["nosuch"]).expect("bundle");
    let log = b.bundle().join("log.json");
    let out = cli(
        &b,
        &[
            "--log",
            &log.display().to_string(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            &bundle_arg(&b),
            &b.id,
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("exec: \"nosuch\": executable file not found in $PATH"),
        "{}",
        stderr(&out)
    );
    let line = std::fs::read_to_string(&log).expect("log");
    let v: serde_json::Value =
        serde_json::from_str(line.lines().last().expect("a line")).expect("json line");
    assert_eq!(v["level"], "error");
    assert_eq!(
        v["msg"],
        "exec: \"nosuch\": executable file not found in $PATH"
    );
    assert!(v["time"].as_str().is_some());
    assert!(!b.state_root().join(&b.id).exists());
}

#[test]
fn run_waits_and_exits_with_the_containers_status() {
    if !require_root() {
        return;
    }
    let b = TestBundle::new(&["sh", "-c", "echo hello from $(hostname); exit 5"]).expect("bundle");
    let out = cli(&b, &["run", "--bundle", &bundle_arg(&b), &b.id]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(stdout(&out), "hello from berth-test\n");
    assert!(!b.state_root().join(&b.id).exists(), "run must delete");
    let b = TestBundle::new(&["sleep", "100"]).expect("bundle");
    let child = Command::new(env!("CARGO_BIN_EXE_berth-runtime"))
        .arg("--root")
        .arg(b.state_root())
        .args(["run", "--bundle", &bundle_arg(&b), &b.id])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    for _ in 0..500 {
        if cli(&b, &["state", &b.id]).status.success() && state_json(&b)["status"] == "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // sleep as PID 1 ignores SIGTERM: kill it with KILL through `kill`; run reports 128+9.
    ok(cli(&b, &["kill", &b.id, "9"]));
    let out = child.wait_with_output().expect("run");
    assert_eq!(out.status.code(), Some(137));
}

#[test]
fn run_forwards_signals_to_the_container() {
    if !require_root() {
        return;
    }
    let b = TestBundle::new(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; echo trapped > /tmp/ready; while true; do sleep 0.05; done",
    ])
    .expect("bundle");
    let child = Command::new(env!("CARGO_BIN_EXE_berth-runtime"))
        .arg("--root")
        .arg(b.state_root())
        .args(["run", "--bundle", &bundle_arg(&b), &b.id])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let ready = b.rootfs().join("tmp/ready");
    for _ in 0..500 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ready.exists(), "container never got ready");
    std::thread::sleep(std::time::Duration::from_millis(100));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal run");
    let out = child.wait_with_output().expect("run");
    assert_eq!(out.status.code(), Some(7));
    assert!(!b.state_root().join(&b.id).exists(), "run must delete");
}

#[test]
fn exec_runs_in_the_container() {
    if !require_root() {
        return;
    }
    let b = TestBundle::new(&["sleep", "100"]).expect("bundle");
    assert!(
        cli_detached(
            &b,
            &["run", "--detach", "--bundle", &bundle_arg(&b), &b.id],
            &b.bundle().join("out")
        )
        .success()
    );
    let out = cli(
        &b,
        &[
            "exec",
            "--env",
            "X=42",
            "--cwd",
            "/tmp",
            &b.id,
            "sh",
            "-c",
            "echo $X $(pwd) $(hostname); exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "42 /tmp berth-test\n");
    let out = cli(&b, &["exec", "--user", "65534:65534", &b.id, "id", "-u"]);
    assert_eq!(stdout(&out), "65534\n");
    let process = b.bundle().join("process.json");
    let mut p = b.spec.process().clone().expect("process");
    p.set_args(Some(vec![
        "sh".into(),
        "-c".into(),
        "echo from-process-file".into(),
    ]));
    std::fs::write(&process, serde_json::to_vec(&p).expect("json")).expect("write");
    let out = cli(
        &b,
        &["exec", "--process", &process.display().to_string(), &b.id],
    );
    assert_eq!(stdout(&out), "from-process-file\n");
    let table = ok(cli(&b, &["ps", &b.id]));
    assert!(table.starts_with("PID"), "{table}");
    let list = ok(cli(&b, &["list", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&list).expect("json");
    assert_eq!(v[0]["status"], "running");
    ok(cli(&b, &["pause", &b.id]));
    assert_eq!(state_json(&b)["status"], "paused");
    ok(cli(&b, &["resume", &b.id]));
    let stats: serde_json::Value =
        serde_json::from_str(&ok(cli(&b, &["events", "--stats", &b.id]))).expect("stats");
    assert_eq!(stats["type"], "stats");
    assert!(
        stats["data"]["pids"]["current"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{stats}"
    );
    ok(cli(&b, &["delete", "--force", &b.id]));
    assert!(!b.state_root().join(&b.id).exists());
    // Deleting something that is gone with --force is fine (containerd relies on it).
    ok(cli(&b, &["delete", "--force", &b.id]));
}

#[test]
fn spec_writes_a_runnable_config_and_features_is_json() {
    if !require_root() {
        return;
    }
    let b = TestBundle::new(&["true"]).expect("bundle");
    let dir = tempfile::tempdir().expect("tempdir");
    ok(cli(
        &b,
        &["spec", "--bundle", &dir.path().display().to_string()],
    ));
    let again = cli(&b, &["spec", "--bundle", &dir.path().display().to_string()]);
    assert!(!again.status.success(), "spec must not overwrite");
    // Run the template against the busybox rootfs, without a terminal.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).expect("read"))
            .expect("json");
    v["process"]["terminal"] = false.into();
    v["process"]["args"] = serde_json::json!(["sh", "-c", "cat /dev/null && echo ok"]);
    v["root"]["path"] = b.rootfs().display().to_string().into();
    v["linux"]["cgroupsPath"] = b.cgroup_path.clone().into();
    std::fs::write(dir.path().join("config.json"), v.to_string()).expect("write");
    let out = cli(
        &b,
        &["run", "--bundle", &dir.path().display().to_string(), &b.id],
    );
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "ok\n"),
        "{}",
        stderr(&out)
    );
    let f: serde_json::Value = serde_json::from_str(&ok(cli(&b, &["features"]))).expect("features");
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(
        f["linux"]["namespaces"]
            .as_array()
            .is_some_and(|a| a.len() == 7)
    );
    assert!(Path::new(env!("CARGO_BIN_EXE_berth-runtime")).exists());
}

#[test]
fn run_with_a_terminal_relays_the_pty() {
    if !require_root() {
        return;
    }
    let mut b = TestBundle::new(&["sh", "-c", "tty; echo hi; exit 4"]).expect("bundle");
    b.process_mut().set_terminal(Some(true));
    b.save().expect("save");
    let out = cli(&b, &["run", "--bundle", &bundle_arg(&b), &b.id]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/dev/pts/0\r\nhi\r\n");
    let detached = cli(&b, &["run", "--detach", "--bundle", &bundle_arg(&b), &b.id]);
    assert!(
        stderr(&detached).contains("console socket"),
        "{}",
        stderr(&detached)
    );
}
