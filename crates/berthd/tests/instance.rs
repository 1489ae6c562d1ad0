//! A second berthd on a data root already in use stops before touching it, with a message that
//! says why, and the running daemon keeps serving with its pid file intact.

mod common;

use common::{Daemon, berthd_binary, need_root};
use std::process::{Command, Stdio};

#[test]
fn a_second_daemon_on_the_same_data_root_is_refused() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    d.ok(&["run", "-d", "--name", "keeper", "busybox", "sleep", "300"]);
    let pidfile = d.root.path().join("berthd.pid");
    let before = std::fs::read_to_string(&pidfile).unwrap_or_default();
    let out = Command::new(berthd_binary())
        .arg("-H")
        .arg(format!(
            "unix://{}",
            d.root.path().join("second.sock").display()
        ))
        .arg("--data-root")
        .arg(d.data_root())
        .arg("--exec-root")
        .arg(d.root.path().join("run2"))
        .arg("--pidfile")
        .arg(d.root.path().join("second.pid"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("starting the second berthd: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second daemon started: {stderr}");
    assert!(
        stderr.contains("another berthd is using the data root"),
        "{stderr}"
    );
    assert!(!d.root.path().join("second.sock").exists());
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap_or_default(),
        before
    );
    let running = d.ok(&["inspect", "-f", "{{.State.Running}}", "keeper"]);
    assert_eq!(running.trim(), "true");
    d.ok(&["rm", "-f", "keeper"]);
}
