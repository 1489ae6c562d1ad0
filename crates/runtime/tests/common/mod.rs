//! Shared helpers for the runtime's root integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};

use berth_runtime::testing::TestBundle;
use berth_runtime::{CreateOptions, Stdio};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

/// False (and the test returns early) when not root and BERTH_SKIP_ROOT_TESTS=1; panics when not root otherwise.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip it)");
}

/// A bundle running `sh -c script`.
pub fn shell_bundle(script: &str) -> TestBundle {
    TestBundle::new(&["sh", "-c", script]).expect("bundle")
}

/// Exit code as a shell reports it (128+signal when killed).
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        other => panic!("unexpected wait status {other:?}"),
    }
}

/// Waits for our child `pid`.
pub fn wait(pid: i32) -> i32 {
    exit_code(waitpid(Pid::from_raw(pid), None).expect("waitpid"))
}

/// A pipe (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe().expect("pipe")
}

/// Creates with stdout+stderr into a pipe, returns (init pid, read end).
pub fn create_captured(b: &TestBundle) -> (i32, OwnedFd) {
    let (r, w) = pipe();
    let devnull = std::fs::File::open("/dev/null").expect("devnull");
    let opts = CreateOptions {
        id: b.id.clone(),
        bundle: b.bundle().to_path_buf(),
        stdio: Stdio::Fds([devnull.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()]),
        ..Default::default()
    };
    let st = b.runtime().create(&opts).expect("create");
    (st.pid, r)
}

/// Reads a pipe to its end.
pub fn read_all(r: OwnedFd) -> String {
    let mut f = std::fs::File::from(r);
    let mut s = String::new();
    f.read_to_string(&mut s).expect("read");
    s
}

/// create + start + wait + delete; returns (exit code, output).
pub fn run(b: &TestBundle) -> (i32, String) {
    let rt = b.runtime();
    let (pid, r) = create_captured(b);
    rt.start(&b.id).expect("start");
    let out = read_all(r);
    let code = wait(pid);
    rt.delete(&b.id, false).expect("delete");
    (code, out)
}

/// The container's own process description with other args (for exec).
pub fn process_with_args(b: &TestBundle, args: &[&str]) -> oci_spec::runtime::Process {
    let mut p = b.spec.process().clone().expect("process");
    p.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
    p
}

/// Creates and starts a container whose output is discarded; returns the init pid.
pub fn start_detached(b: &TestBundle) -> i32 {
    let devnull = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .expect("devnull");
    let fd = devnull.as_raw_fd();
    let opts = CreateOptions {
        id: b.id.clone(),
        bundle: b.bundle().to_path_buf(),
        stdio: Stdio::Fds([fd, fd, fd]),
        ..Default::default()
    };
    let st = b.runtime().create(&opts).expect("create");
    b.runtime().start(&b.id).expect("start");
    st.pid
}

/// Creates a container expected to fail; returns the error.
pub fn create_err(b: &TestBundle) -> berth_runtime::RuntimeError {
    let devnull = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .expect("devnull");
    let fd = devnull.as_raw_fd();
    let opts = CreateOptions {
        id: b.id.clone(),
        bundle: b.bundle().to_path_buf(),
        stdio: Stdio::Fds([fd, fd, fd]),
        ..Default::default()
    };
    b.runtime().create(&opts).expect_err("create must fail")
}

/// Host mount count, for leak checks.
pub fn host_mount_count() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .count()
}

/// Every cgroup v1/v2 directory of `path` that exists on the host.
pub fn cgroup_dirs(path: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            let dir = e.path().join(path.trim_start_matches('/'));
            if dir.exists() {
                out.push(dir);
            }
        }
    }
    let v2 = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    if v2.exists() {
        out.push(v2);
    }
    out
}

/// Pids of our own children (live or zombie), for leak checks.
pub fn children_of_self() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(|p| p == me))
                .unwrap_or(false)
        })
        .collect()
}
