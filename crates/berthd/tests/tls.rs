//! The API over TCP with TLS, as dockerd serves it: berthd on 127.0.0.1:<free port> with
//! `--tlsverify`, driven by the stock docker CLI (flags and DOCKER_HOST/DOCKER_TLS_VERIFY/
//! DOCKER_CERT_PATH), hijacked attach and exec streams through TLS, clients without a trusted
//! certificate refused; and plain TCP with dockerd's warning.

mod common;

use common::{Daemon, need_root};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("finding a free port: {e}"))
}

fn make_certs(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/tls-certs.sh");
    let st = Command::new(script)
        .arg(&certs)
        .status()
        .unwrap_or_else(|e| panic!("tls-certs.sh: {e}"));
    assert!(st.success(), "tls-certs.sh failed");
    certs
}

/// A berthd with a unix socket (for the harness) and a TLS TCP listener verifying clients.
struct TlsDaemon {
    d: Daemon,
    port: u16,
}

impl TlsDaemon {
    fn start() -> TlsDaemon {
        let port = free_port();
        let d = Daemon::start_with_args(|root| {
            let certs = make_certs(root);
            let s = |p: &str| certs.join(p).display().to_string();
            vec![
                "-H".into(),
                format!("tcp://127.0.0.1:{port}"),
                "--tlsverify".into(),
                format!("--tlscacert={}", s("server/ca.pem")),
                format!("--tlscert={}", s("server/cert.pem")),
                format!("--tlskey={}", s("server/key.pem")),
            ]
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
        TlsDaemon { d, port }
    }

    fn certs(&self, who: &str) -> PathBuf {
        self.d.root.path().join("certs").join(who)
    }

    fn tcp_host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// The docker CLI with TLS flags for the cert dir `who` (no DOCKER_HOST in the environment).
    fn docker_flags(&self, who: &str, args: &[&str]) -> Command {
        let c = self.certs(who);
        let mut cmd = Command::new("/usr/local/bin/docker");
        cmd.env_remove("DOCKER_HOST")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env("DOCKER_CONFIG", self.d.root.path().join("dockercfg"))
            .arg("--tlsverify")
            .arg(format!("--tlscacert={}", c.join("ca.pem").display()))
            .arg(format!("--tlscert={}", c.join("cert.pem").display()))
            .arg(format!("--tlskey={}", c.join("key.pem").display()))
            .arg("-H")
            .arg(self.tcp_host())
            .args(args);
        cmd
    }

    /// The docker CLI configured only through DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
    fn docker_env(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("/usr/local/bin/docker");
        cmd.env("DOCKER_HOST", self.tcp_host())
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", self.certs("client"))
            .env("DOCKER_CONFIG", self.d.root.path().join("dockercfg"))
            .args(args);
        cmd
    }
}

fn output(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning: {e}"));
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data)
            .unwrap_or_else(|e| panic!("writing stdin: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting: {e}"))
}

fn ok(d: &Daemon, cmd: Command, stdin: Option<&[u8]>) -> String {
    let desc = format!("{cmd:?}");
    let out = output(cmd, stdin);
    assert!(
        out.status.success(),
        "{desc} failed ({}): {}\n--- berthd log ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        common::tail(&d.log(), 30)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn docker_cli_runs_containers_over_tls_with_flags_and_environment() {
    if !need_root() {
        return;
    }
    let t = TlsDaemon::start();
    let d = &t.d;
    assert_eq!(
        ok(
            d,
            t.docker_flags("client", &["run", "--rm", "busybox", "echo", "hi"]),
            None
        ),
        "hi\n"
    );
    assert_eq!(
        ok(
            d,
            t.docker_env(&["run", "--rm", "busybox", "echo", "from env"]),
            None
        ),
        "from env\n"
    );
    let version = ok(
        d,
        t.docker_env(&["version", "--format", "{{.Server.APIVersion}}"]),
        None,
    );
    assert_eq!(version.trim(), "1.51");
    let ids = d.container_ids();
    assert!(ids.is_empty(), "--rm left containers: {ids:?}");
}

#[test]
fn attach_and_exec_streams_work_through_tls() {
    if !need_root() {
        return;
    }
    let t = TlsDaemon::start();
    let d = &t.d;
    // Attach with stdin: the CLI half-closes its write side (a TLS close_notify) after stdin's
    // EOF, and the output must keep flowing after that.
    let out = ok(
        d,
        t.docker_env(&[
            "run",
            "--rm",
            "-i",
            "busybox",
            "sh",
            "-c",
            "cat; echo after-eof",
        ]),
        Some(b"line one\nline two\n"),
    );
    assert_eq!(out, "line one\nline two\nafter-eof\n");
    let stderr_split = output(
        t.docker_env(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ]),
        None,
    );
    assert_eq!(String::from_utf8_lossy(&stderr_split.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&stderr_split.stderr), "err\n");
    ok(
        d,
        t.docker_env(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "300"]),
        None,
    );
    assert_eq!(
        ok(
            d,
            t.docker_env(&["exec", "sleeper", "echo", "exec-over-tls"]),
            None
        ),
        "exec-over-tls\n"
    );
    assert_eq!(
        ok(
            d,
            t.docker_env(&["exec", "-i", "sleeper", "cat"]),
            Some(b"piped through exec\n")
        ),
        "piped through exec\n"
    );
    ok(d, t.docker_env(&["rm", "-f", "sleeper"]), None);
    let ids = d.container_ids();
    d.assert_no_leaks(&ids);
}

#[test]
fn clients_without_a_trusted_certificate_are_refused() {
    if !need_root() {
        return;
    }
    let t = TlsDaemon::start();
    let d = &t.d;
    // TLS, but no client certificate at all (an empty cert dir holding only the CA).
    let bare = d.root.path().join("certs/bare");
    std::fs::create_dir_all(&bare).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(t.certs("client").join("ca.pem"), bare.join("ca.pem"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut no_cert = Command::new("/usr/local/bin/docker");
    no_cert
        .env("DOCKER_HOST", t.tcp_host())
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", &bare)
        .args(["version", "--format", "{{.Server.APIVersion}}"]);
    let out = output(no_cert, None);
    assert!(
        !out.status.success(),
        "a client without a certificate got in"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "server answered: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A certificate signed by another CA.
    let out = output(t.docker_flags("rogue", &["ps", "-q"]), None);
    assert!(
        !out.status.success(),
        "a client with a rogue certificate got in"
    );
    // Plain HTTP on the TLS port gets no API answer.
    let mut plain = Command::new("/usr/local/bin/docker");
    plain
        .env("DOCKER_HOST", t.tcp_host())
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .args(["ps", "-q"]);
    let out = output(plain, None);
    assert!(
        !out.status.success(),
        "plain HTTP was served on the TLS port"
    );
    // The trusted client still works on the same daemon.
    assert!(ok(d, t.docker_flags("client", &["ps", "-q"]), None).is_empty());
}

#[test]
fn plain_tcp_is_served_with_dockerds_warning() {
    if !need_root() {
        return;
    }
    let port = free_port();
    let d = Daemon::start_with_args(|_| vec!["-H".into(), format!("tcp://127.0.0.1:{port}")])
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut cmd = Command::new("/usr/local/bin/docker");
    cmd.env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env_remove("DOCKER_TLS_VERIFY")
        .env("DOCKER_CONFIG", d.root.path().join("dockercfg"))
        .args(["run", "--rm", "busybox", "echo", "plain"]);
    assert_eq!(ok(&d, cmd, None), "plain\n");
    assert!(
        d.log()
            .contains("Binding to IP address without --tlsverify is insecure"),
        "no warning in: {}",
        d.log()
    );
}
