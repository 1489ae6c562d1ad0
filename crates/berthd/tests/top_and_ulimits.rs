//! `docker top` with ps arguments (the host's ps, filtered to the container's pids, Docker's
//! errors), and the daemon's default ulimits (daemon.json `default-ulimits`, `--default-ulimit`)
//! for containers that do not set their own.

mod common;

use common::{Daemon, need_root};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn top_runs_ps_with_the_clients_arguments() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    d.ok(&["run", "-d", "--name", "top1", "busybox", "sleep", "300"]);
    let default = d.ok(&["top", "top1"]);
    let mut lines = default.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "only the container's process: {default}");
    assert!(rows[0].ends_with("sleep 300"), "{default}");

    let custom = d.ok(&["top", "top1", "-o", "pid,comm"]);
    let lines: Vec<Vec<&str>> = custom
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["PID", "COMMAND"], "{custom}");
    assert_eq!(lines.len(), 2, "{custom}");
    assert_eq!(lines[1][1], "sleep");
    let inspect_pid = d.ok(&["inspect", "-f", "{{.State.Pid}}", "top1"]);
    assert_eq!(lines[1][0], inspect_pid.trim());

    let bsd = d.ok(&["top", "top1", "aux"]);
    assert!(bsd.starts_with("USER"), "{bsd}");
    assert!(bsd.contains("%CPU") && bsd.contains("sleep 300"), "{bsd}");
    assert_eq!(bsd.lines().count(), 2, "{bsd}");

    let bad = d.docker(&["top", "top1", "--bogus"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("Error response from daemon: ps: error: unknown gnu long option"),
        "{}",
        stderr(&bad)
    );
    let renamed = d.docker(&["top", "top1", "-o", "user=PID"]);
    assert!(
        stderr(&renamed).contains("specifying \"user=PID\" is not allowed"),
        "{}",
        stderr(&renamed)
    );
    d.ok(&["rm", "-f", "top1"]);
    let stopped = d.docker(&["top", "nosuch"]);
    assert!(
        stderr(&stopped).contains("No such container: nosuch"),
        "{}",
        stderr(&stopped)
    );
}

#[test]
fn default_ulimits_apply_to_containers_without_their_own() {
    if !need_root() {
        return;
    }
    let d = Daemon::start_with_args(|root| {
        let config =
            r#"{"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1234, "Hard": 2345}}}"#;
        std::fs::write(root.join("daemon.json"), config)
            .unwrap_or_else(|e| panic!("writing daemon.json: {e}"));
        vec!["--default-ulimit".into(), "sigpending=50:77".into()]
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let script = "ulimit -n; ulimit -Hn; ulimit -Hi";
    assert_eq!(
        d.ok(&["run", "--rm", "busybox", "sh", "-c", script]),
        "1234\n2345\n77\n"
    );
    assert_eq!(
        d.ok(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            "busybox",
            "sh",
            "-c",
            script
        ]),
        "100\n200\n77\n",
        "the container's own limit wins"
    );
    // Inspect shows only what the container asked for, as Docker's does.
    d.ok(&["create", "--name", "plain", "busybox", "true"]);
    let own = d.ok(&["inspect", "-f", "{{json .HostConfig.Ulimits}}", "plain"]);
    assert!(
        matches!(own.trim(), "null" | "[]"),
        "defaults leaked into the container's config: {own}"
    );
    d.ok(&["rm", "plain"]);
}
