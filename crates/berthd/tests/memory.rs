//! berthd's memory after work: the daemon runs with its glibc malloc tunables (two arenas, large
//! buffers on mmap, heap trimming), and its anonymous memory after an image load, 20 `run --rm` and a
//! large log read stays close to where it was idle. Prints the numbers it measures.

mod common;

use common::{Daemon, need_root};

/// A field of /proc/<pid>/status in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for pid {pid}"))
}

fn berthd_pid(d: &Daemon) -> u32 {
    std::fs::read_to_string(d.root.path().join("berthd.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no berthd pid file"))
}

#[test]
fn berthd_memory_returns_near_idle_after_load_runs_and_logs() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let pid = berthd_pid(&d);
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let environ = String::from_utf8_lossy(&environ);
    if std::env::var("BERTHD_MALLOC_TUNING").as_deref() != Ok("0") {
        assert!(
            environ.contains("GLIBC_TUNABLES=glibc.malloc.arena_max=2"),
            "berthd runs without its malloc tunables"
        );
    }
    let idle = status_kib(pid, "RssAnon:");
    for _ in 0..20 {
        d.ok(&["run", "--rm", "busybox", "true"]);
    }
    let script = "i=0; while [ $i -lt 50000 ]; do echo line $i; i=$((i+1)); done";
    d.ok(&["run", "--name", "chatty", "busybox", "sh", "-c", script]);
    for _ in 0..2 {
        let logs = d.ok(&["logs", "chatty"]);
        assert_eq!(logs.lines().count(), 50_000);
    }
    d.ok(&["rm", "chatty"]);
    let after = status_kib(pid, "RssAnon:");
    eprintln!(
        "berthd anonymous RSS: idle {idle} KiB, after 20 run --rm and 2x logs of 50k lines {after} KiB; total RSS {} KiB",
        status_kib(pid, "VmRSS:")
    );
    assert!(
        after < idle + 5 * 1024,
        "berthd kept {} KiB after the work (idle {idle} KiB, now {after} KiB)",
        after.saturating_sub(idle)
    );
}
