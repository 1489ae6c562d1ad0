//! End-to-end container tests: a real berthd driven by the stock docker CLI.

mod common;

use common::{Daemon, need_root};
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn inspect(d: &Daemon, name: &str, format: &str) -> String {
    d.ok(&["inspect", "-f", format, name]).trim().to_string()
}

#[test]
fn run_prints_output_and_propagates_exit_codes() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        d.ok(&["run", "--rm", "busybox", "echo", "hi", "there"]),
        "hi there\n"
    );
    let out = d.docker(&["run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stderr(&out), "err\n");
    let out = d.docker(&["run", "--rm", "busybox", "nosuch"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#"failed to create task for container: "#)
            && stderr(&out)
                .contains(r#"exec: "nosuch": executable file not found in $PATH: unknown"#),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["run", "--rm", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("Unable to find image 'nosuchimage:latest' locally"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Pulling from library/nosuchimage"),
        "the CLI pulls after create's 404: {}",
        stderr(&out)
    );
    let mut child = d
        .docker_cmd(&["run", "-i", "--rm", "busybox", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    child
        .stdin
        .take()
        .map(|mut s| s.write_all(b"hi from stdin\n"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi from stdin\n");
    let ids = d.container_ids();
    assert!(ids.is_empty(), "--rm left containers: {ids:?}");
    d.assert_no_leaks(&ids);
}

#[test]
fn tty_run_gets_a_terminal() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let cmd = format!(
        "DOCKER_HOST={} /usr/local/bin/docker run --rm -t busybox sh -c 'tty; echo done'",
        d.host()
    );
    let out = std::process::Command::new("timeout")
        .args(["20", "script", "-qec", &cmd, "/dev/null"])
        .env("DOCKER_CONFIG", d.root.path().join("dockercfg"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", stderr(&out));
    assert!(
        text.contains("/dev/pts/0") && text.contains("done"),
        "{text}"
    );
}

#[test]
fn detached_container_lifecycle() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do echo tick; sleep 0.2; done",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    assert!(d.ok(&["ps"]).contains("web"));
    assert_eq!(
        inspect(&d, "web", "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );
    assert!(
        inspect(&d, "web", "{{.State.Pid}}")
            .parse::<i64>()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(inspect(&d, "web", "{{.Config.Hostname}}"), id[..12]);
    assert_eq!(inspect(&d, "web", "{{.GraphDriver.Name}}"), "overlay2");
    assert!(inspect(&d, "web", "{{.State.StartedAt}}").starts_with("20"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.ok(&["logs", "web"]).starts_with("tick\ntick\n"));
    assert_eq!(d.ok(&["logs", "--tail", "1", "web"]), "tick\n");
    // exec: exit code, env, workdir, user
    let out = d.docker(&["exec", "web", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    let got = d.ok(&[
        "exec",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "web",
        "sh",
        "-c",
        "echo $FOO; pwd; id -u",
    ]);
    assert_eq!(got, "bar\n/tmp\n65534\n");
    // top and stats
    let top = d.ok(&["top", "web"]);
    assert!(top.contains("PID") && top.contains("while true"), "{top}");
    let stats = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "web",
    ]);
    assert!(stats.starts_with("web "), "{stats}");
    // pause/unpause
    d.ok(&["pause", "web"]);
    assert_eq!(inspect(&d, "web", "{{.State.Status}}"), "paused");
    let out = d.docker(&["exec", "web", "true"]);
    assert!(!out.status.success());
    d.ok(&["unpause", "web"]);
    // rm of a running container without -f
    let out = d.docker(&["rm", "web"]);
    assert!(stderr(&out).contains(&format!("You cannot remove a running container {id}. Stop the container before attempting removal or force remove")), "{}", stderr(&out));
    // name conflict
    let out = d.docker(&["create", "--name", "web", "busybox"]);
    assert!(
        stderr(&out)
            .contains(r#"Conflict. The container name "/web" is already in use by container"#),
        "{}",
        stderr(&out)
    );
    // rename
    d.ok(&["rename", "web", "web2"]);
    assert_eq!(inspect(&d, "web2", "{{.Name}}"), "/web2");
    // stop honours the trap: exits 0 quickly
    let t = Instant::now();
    d.ok(&["stop", "web2"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(
        inspect(&d, "web2", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    assert!(inspect(&d, "web2", "{{.State.FinishedAt}}").starts_with("20"));
    assert!(d.ok(&["ps", "-a"]).contains("web2"));
    assert!(!d.ok(&["ps"]).contains("web2"));
    // restart brings it back
    d.ok(&["restart", "web2"]);
    assert_eq!(inspect(&d, "web2", "{{.State.Status}}"), "running");
    // kill -s
    d.ok(&["kill", "-s", "KILL", "web2"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while inspect(&d, "web2", "{{.State.Status}}") != "exited" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(inspect(&d, "web2", "{{.State.ExitCode}}"), "137");
    d.ok(&["rm", "web2"]);
    d.assert_no_leaks(&[id]);
}

#[test]
fn stop_kills_after_the_timeout() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "100"])
        .trim()
        .to_string();
    let t = Instant::now();
    d.ok(&["stop", "-t", "1", &id]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(inspect(&d, &id, "{{.State.ExitCode}}"), "137");
    d.ok(&["rm", &id]);
    d.assert_no_leaks(&[id]);
}

#[test]
fn logs_follow_until_exit() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let id = d
        .ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.3; done; printf partial",
        ])
        .trim()
        .to_string();
    let out = d.ok(&["logs", "-f", &id]);
    assert_eq!(out, "line1\nline2\nline3\npartial");
    let stamped = d.ok(&["logs", "-t", &id]);
    assert!(
        stamped
            .lines()
            .all(|l| l.starts_with("20") && l.contains('Z')),
        "{stamped}"
    );
    let log_path = inspect(&d, &id, "{{.LogPath}}");
    let raw = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        raw.starts_with(r#"{"log":"line1\n","stream":"stdout","time":""#),
        "{raw}"
    );
    d.ok(&["rm", &id]);
    d.assert_no_leaks(&[id]);
}

#[test]
fn files_in_and_out() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "100"])
        .trim()
        .to_string();
    let src = d.root.path().join("in.txt");
    std::fs::write(&src, "hello cp\n").unwrap_or_else(|e| panic!("{e}"));
    d.ok(&[
        "cp",
        &src.display().to_string(),
        &format!("{id}:/tmp/in.txt"),
    ]);
    assert_eq!(d.ok(&["exec", &id, "cat", "/tmp/in.txt"]), "hello cp\n");
    let dst = d.root.path().join("passwd");
    d.ok(&[
        "cp",
        &format!("{id}:/etc/passwd"),
        &dst.display().to_string(),
    ]);
    assert!(
        std::fs::read_to_string(&dst)
            .unwrap_or_default()
            .starts_with("root:x:0:0")
    );
    let diff = d.ok(&["diff", &id]);
    assert!(diff.contains("A /tmp/in.txt"), "{diff}");
    let export = d
        .docker_cmd(&["export", &id])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(export.status.success());
    let listing = std::process::Command::new("tar")
        .arg("t")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().map(|mut s| s.write_all(&export.stdout));
            c.wait_with_output()
        });
    let listing =
        String::from_utf8_lossy(&listing.unwrap_or_else(|e| panic!("{e}")).stdout).into_owned();
    assert!(
        listing.contains("bin/busybox") && listing.contains("tmp/in.txt"),
        "{listing}"
    );
    d.ok(&["commit", &id, "committed:1"]);
    assert_eq!(
        d.ok(&["run", "--rm", "committed:1", "cat", "/tmp/in.txt"]),
        "hello cp\n"
    );
    d.ok(&["rm", "-f", &id]);
    d.assert_no_leaks(&[id]);
}

#[test]
fn memory_limit_oom_kills() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let out = d.docker(&[
        "run",
        "--name",
        "hog",
        "--memory",
        "8m",
        "busybox",
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert_eq!(
        inspect(&d, "hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    assert_eq!(inspect(&d, "hog", "{{.HostConfig.Memory}}"), "8388608");
    let ids = d.container_ids();
    d.ok(&["rm", "hog"]);
    d.assert_no_leaks(&ids);
}

#[test]
fn restart_policies_apply() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    d.ok(&[
        "run",
        "-d",
        "--name",
        "fail",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "exit 5",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ok",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.1; exit 1",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while inspect(&d, "fail", "{{.RestartCount}} {{.State.Status}}") != "2 exited"
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        inspect(
            &d,
            "fail",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"
        ),
        "2 exited 5"
    );
    assert_eq!(inspect(&d, "ok", "{{.RestartCount}}"), "0");
    let restarts = || {
        inspect(&d, "always", "{{.RestartCount}}")
            .parse::<i64>()
            .unwrap_or(0)
    };
    while restarts() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(restarts() >= 2);
    d.ok(&["stop", "always"]);
    let count = inspect(&d, "always", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        inspect(&d, "always", "{{.RestartCount}} {{.State.Status}}"),
        format!("{count} exited")
    );
    let ids = d.container_ids();
    d.ok(&["rm", "-f", "fail", "ok", "always"]);
    d.assert_no_leaks(&ids);
}

#[test]
fn killed_daemon_readopts_its_containers() {
    if !need_root() {
        return;
    }
    let mut d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    d.ok(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo n$i; i=$((i+1)); sleep 0.1; done",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "ender",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    let pid = inspect(&d, "live", "{{.State.Pid}}");
    d.kill9();
    let before = std::fs::read_to_string(std::path::Path::new(&format!("/proc/{pid}/cmdline")))
        .unwrap_or_default();
    assert!(!before.is_empty(), "the container died with the daemon");
    std::thread::sleep(Duration::from_millis(1500));
    d.spawn().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        inspect(&d, "live", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    assert_eq!(
        inspect(&d, "ender", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    let logs = d.ok(&["logs", "live"]);
    assert!(
        logs.lines().count() >= 12,
        "logging stopped while the daemon was down: {logs}"
    );
    assert_eq!(
        d.ok(&["exec", "live", "echo", "still here"]),
        "still here\n"
    );
    let ids = d.container_ids();
    d.ok(&["rm", "-f", "live", "ender"]);
    d.assert_no_leaks(&ids);
}

#[test]
fn fifty_containers_start_and_go_without_leaks() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let mut cmd = d.docker_cmd(&[
                "run",
                "-d",
                "--name",
                &format!("c{i}"),
                "busybox",
                "sleep",
                "60",
            ]);
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    for h in handles {
        let out = h.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let running = d.ok(&["ps", "-q"]);
    assert_eq!(running.lines().count(), 50);
    let ids = d.container_ids();
    let names: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    d.ok(&args);
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    d.assert_no_leaks(&ids);
}

#[test]
fn healthchecks_report_status() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    d.ok(&[
        "run",
        "-d",
        "--name",
        "good",
        "--health-cmd",
        "test -d /tmp",
        "--health-interval",
        "200ms",
        "busybox",
        "sleep",
        "60",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "bad",
        "--health-cmd",
        "exit 1",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = |n: &str| inspect(&d, n, "{{.State.Health.Status}}");
    while (status("good") != "healthy" || status("bad") != "unhealthy") && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status("good"), "healthy");
    assert_eq!(status("bad"), "unhealthy");
    assert!(d.ok(&["ps"]).contains("(healthy)"));
    let ids = d.container_ids();
    d.ok(&["rm", "-f", "good", "bad"]);
    d.assert_no_leaks(&ids);
}

#[test]
fn init_runs_the_command_under_tini() {
    if !need_root() {
        return;
    }
    if !std::path::Path::new("/usr/bin/tini-static").exists() {
        panic!("--init needs Debian's tini installed (apt-get install -y tini)");
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let out = d.ok(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    ]);
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("/sbin/docker-init -- sh"),
        "{out}"
    );
    assert_ne!(lines.next(), Some("1"));
}

#[test]
fn update_changes_limits_of_a_running_container() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let id = d
        .ok(&["run", "-d", "--memory", "64m", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    let limit = || {
        std::fs::read_to_string(format!(
            "/sys/fs/cgroup/memory/berth/{id}/memory.limit_in_bytes"
        ))
        .unwrap_or_default()
    };
    assert_eq!(limit().trim(), (64u64 << 20).to_string());
    d.ok(&[
        "update",
        "--memory",
        "32m",
        "--memory-swap",
        "64m",
        "--restart",
        "always",
        &id,
    ]);
    assert_eq!(limit().trim(), (32u64 << 20).to_string());
    assert_eq!(
        inspect(
            &d,
            &id,
            "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"
        ),
        format!("{} always", 32u64 << 20)
    );
    d.ok(&["rm", "-f", &id]);
    d.assert_no_leaks(&[id]);
}

/// Attaches over the raw API with stdin, types `keys`, and returns whether the daemon closed
/// the connection (ended the session) within a few seconds.
fn attach_and_type(d: &Daemon, id: &str, keys: &[u8]) -> bool {
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::connect(d.socket())
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let req = format!(
        "POST /v1.47/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n\
         Host: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("reading head: {other:?} {head:?}"),
        }
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    s.write_all(b"echo typed\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(keys).unwrap_or_else(|e| panic!("{e}"));
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}

#[test]
fn detach_keys_leave_a_tty_container_running() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let id = d.ok(&["run", "-dit", "busybox", "sh"]).trim().to_string();
    assert!(
        attach_and_type(&d, &id, b"\x10\x11"),
        "the session did not end on ctrl-p ctrl-q"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inspect(&d, &id, "{{.State.Status}}"), "running");
    assert_eq!(d.ok(&["exec", &id, "echo", "still"]), "still\n");
    // A second session works and detaches too: the shell's stdin stayed open.
    assert!(attach_and_type(&d, &id, b"\x10\x11"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(inspect(&d, &id, "{{.State.Status}}"), "running");
    // Without a TTY and without StdinOnce (-di), a detach leaves stdin open as well.
    let id2 = d.ok(&["run", "-di", "busybox", "sh"]).trim().to_string();
    assert!(attach_and_type(&d, &id2, b"\x10\x11"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inspect(&d, &id2, "{{.State.Status}}"), "running");
    d.ok(&["rm", "-f", &id, &id2]);
    d.assert_no_leaks(&[id, id2]);
}

#[test]
fn long_exec_root_still_starts_containers() {
    if !need_root() {
        return;
    }
    // /tmp/bdXXXXXX/ is ~16 bytes; make the exec root ~100 bytes long.
    let dir = format!("run-{}", "x".repeat(90));
    let d = Daemon::start_with_exec_dir(&dir).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(d.exec_root().as_os_str().len() >= 100);
    assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "long"]), "long\n");
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    assert_eq!(d.ok(&["exec", &id, "echo", "in"]), "in\n");
    // The daemon finds its shims again after a restart.
    let mut d = d;
    d.kill9();
    d.spawn().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(inspect(&d, &id, "{{.State.Status}}"), "running");
    assert_eq!(d.ok(&["exec", &id, "echo", "again"]), "again\n");
    d.ok(&["rm", "-f", &id]);
    d.assert_no_leaks(&[id]);
}

#[test]
fn run_rm_of_a_missing_command_does_not_hang() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    for _ in 0..3 {
        let out = d
            .docker_cmd(&["run", "--rm", "busybox", "nonexist"])
            .stdin(Stdio::null())
            .output_with_timeout(Duration::from_secs(20));
        let out =
            out.unwrap_or_else(|| panic!("docker run --rm hung\n{}", common::tail(&d.log(), 30)));
        assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(r#"exec: "nonexist": executable file not found in $PATH"#),
            "{}",
            stderr(&out)
        );
    }
    let ids = d.container_ids();
    assert!(ids.is_empty(), "--rm left containers: {ids:?}");
}

#[test]
fn events_container_filter_excludes_other_types() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs() - 1)
        .unwrap_or(0);
    d.ok(&["create", "--name", "evc", "busybox", "true"]);
    d.ok(&["tag", "busybox", "evc:tagged"]);
    d.ok(&["rm", "evc"]);
    let until = (start + 1 + 5).to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let args = |filter: &str| {
        vec![
            "events".to_string(),
            "--since".to_string(),
            start.to_string(),
            "--until".to_string(),
            until.clone(),
            "--filter".to_string(),
            filter.to_string(),
            "--format".to_string(),
            "{{.Type}} {{.Action}}".to_string(),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        d.docker_cmd(&a)
            .output_with_timeout(Duration::from_secs(20))
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|| panic!("events hung"))
    };
    let got = run(args("container=evc"));
    let lines: Vec<&str> = got.lines().collect();
    assert!(lines.contains(&"container create"), "{got}");
    assert!(lines.contains(&"container destroy"), "{got}");
    assert!(lines.iter().all(|l| l.starts_with("container ")), "{got}");
    let all = run(args("type=image"));
    assert!(all.lines().any(|l| l == "image tag"), "{all}");
}

#[test]
fn system_prune_all_removes_unused_images() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    d.ok(&["tag", "busybox", "other:1"]);
    d.ok(&["run", "--rm", "busybox", "true"]);
    assert!(!d.ok(&["images", "-q"]).trim().is_empty());
    d.ok(&["system", "prune", "-af"]);
    assert_eq!(d.ok(&["images", "-a", "-q"]).trim(), "");
    // image prune -a as well, on a freshly loaded image.
    let d2 = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    d2.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(d2.ok(&["images", "-a", "-q"]).trim(), "");
}

/// Runs a command, killing it after `limit`; None when it had to be killed.
trait OutputWithTimeout {
    fn output_with_timeout(&mut self, limit: Duration) -> Option<std::process::Output>;
}

impl OutputWithTimeout for std::process::Command {
    fn output_with_timeout(&mut self, limit: Duration) -> Option<std::process::Output> {
        let mut child = self
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return child.wait_with_output().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}
