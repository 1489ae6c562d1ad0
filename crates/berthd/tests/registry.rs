//! End-to-end registry tests: a real `berth-registry` on a free loopback port, a real berthd,
//! and the stock docker CLI pushing to, pulling from and logging in to it.

mod common;

use anyhow::{Context, Result, bail};
use common::{Daemon, need_root, tail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `berth-registry serve` process on a temp root; killed and removed on drop.
struct Registry {
    port: u16,
    root: tempfile::TempDir,
    child: Child,
}

/// `berth-registry` next to berthd, built on demand (it lives in another package).
fn registry_binary() -> Result<PathBuf> {
    let berthd = PathBuf::from(env!("CARGO_BIN_EXE_berthd"));
    let dir = berthd.parent().context("berthd has no directory")?;
    let bin = dir.join("berth-registry");
    if bin.exists() {
        return Ok(bin);
    }
    let target = dir.parent().context("no target dir")?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "-p", "berth-registry"])
        .env("CARGO_TARGET_DIR", target);
    if dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    if !cmd.status().context("running cargo build")?.success() {
        bail!("building berth-registry failed");
    }
    Ok(bin)
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Registry {
    /// Starts a registry; with `users`, it requires basic auth from an htpasswd file.
    fn start(users: &[(&str, &str)]) -> Result<Registry> {
        let bin = registry_binary()?;
        let root = tempfile::Builder::new().prefix("reg").tempdir_in("/tmp")?;
        let port = free_port()?;
        let log = std::fs::File::create(root.path().join("registry.log"))?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--root")
            .arg(root.path().join("data"));
        if !users.is_empty() {
            let file = root.path().join("htpasswd");
            write_htpasswd(&file, users)?;
            cmd.arg("--htpasswd").arg(file);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting berth-registry")?;
        let mut reg = Registry { port, root, child };
        reg.wait_listening()?;
        Ok(reg)
    }

    fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("berth-registry exited with {status}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("berth-registry did not listen in time: {}", self.log())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT/<path>`.
    fn image(&self, path: &str) -> String {
        format!("127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes bcrypt `user:hash` lines.
fn write_htpasswd(path: &Path, users: &[(&str, &str)]) -> Result<()> {
    let mut text = String::new();
    for (user, password) in users {
        let hash = bcrypt::hash(password, 4)?;
        text.push_str(&format!("{user}:{hash}\n"));
    }
    std::fs::write(path, text)?;
    Ok(())
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// POSTs to the daemon without a body; returns the status line.
fn raw_post(d: &Daemon, path: &str) -> Result<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut conn = std::os::unix::net::UnixStream::connect(d.socket())?;
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Image event actions recorded so far, oldest first.
fn image_actions(d: &Daemon) -> Vec<String> {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs() + 1)
        .unwrap_or_default()
        .to_string();
    d.ok(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "type=image",
        "--format",
        "{{.Action}}",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn push_then_pull_round_trips_through_the_registry() -> Result<()> {
    if !need_root() {
        return Ok(());
    }
    let d = Daemon::start()?;
    let reg = Registry::start(&[])?;
    let name = reg.image("test/busybox:v1");
    d.ok(&["tag", "busybox", &name]);

    let pushed = d.ok(&["push", &name]);
    assert!(
        pushed.contains("v1: digest: sha256:"),
        "push said: {pushed}"
    );

    d.ok(&["rmi", &name]);
    let pulled = d.ok(&["pull", &name]);
    assert!(
        pulled.contains("Status: Downloaded newer image"),
        "pull said: {pulled}"
    );
    assert!(pulled.contains("Digest: sha256:"), "pull said: {pulled}");
    let id_local = d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let id_pulled = d.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    assert_eq!(id_local, id_pulled, "the pulled image is the pushed one");

    let again = d.ok(&["pull", &name]);
    assert!(
        again.contains("Image is up to date"),
        "second pull: {again}"
    );

    let out = d.docker(&["run", "--rm", &name, "echo", "from-pulled"]);
    assert!(
        stdout(&out).contains("from-pulled"),
        "run of the pulled image: {}",
        stderr(&out)
    );

    let missing = d.docker(&["pull", &reg.image("test/busybox:nope")]);
    assert!(!missing.status.success(), "pull of a missing tag succeeded");
    assert!(
        stderr(&missing).contains("manifest unknown"),
        "missing tag: {}\n{}",
        stderr(&missing),
        tail(&d.log(), 20)
    );

    let status = raw_post(&d, "/images/create?fromImage=Bad%20Name&tag=v1")?;
    assert!(
        status.starts_with("HTTP/1.1 400"),
        "invalid reference answered {status}"
    );

    let actions = image_actions(&d);
    for action in ["tag", "push", "pull"] {
        assert!(
            actions.iter().any(|a| a == action),
            "no {action} event in {actions:?}"
        );
    }
    Ok(())
}

#[test]
fn run_pulls_a_missing_image_from_the_registry() -> Result<()> {
    if !need_root() {
        return Ok(());
    }
    let d = Daemon::start()?;
    let reg = Registry::start(&[])?;
    let name = reg.image("test/other:v1");
    d.ok(&["tag", "busybox", &name]);
    d.ok(&["push", &name]);
    d.ok(&["rmi", &name]);

    let out = d.docker(&["run", "--rm", &name, "echo", "hi"]);
    assert!(
        out.status.success(),
        "run failed: {}\n{}",
        stderr(&out),
        tail(&d.log(), 20)
    );
    assert!(
        stderr(&out).contains("Unable to find image"),
        "stderr: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&out).trim(), "hi");

    let out = d.docker(&["run", "--rm", &reg.image("test/absent:v1"), "true"]);
    assert!(
        !out.status.success(),
        "run of an image nobody has succeeded"
    );
    Ok(())
}

#[test]
fn all_tags_push_and_pull() -> Result<()> {
    if !need_root() {
        return Ok(());
    }
    let d = Daemon::start()?;
    let reg = Registry::start(&[])?;
    let repo = reg.image("test/many");
    for tag in ["a", "b"] {
        d.ok(&["tag", "busybox", &format!("{repo}:{tag}")]);
    }
    let pushed = d.ok(&["push", "--all-tags", &repo]);
    assert!(
        pushed.contains("a: digest: sha256:") && pushed.contains("b: digest: sha256:"),
        "push -a said: {pushed}"
    );
    for tag in ["a", "b"] {
        d.ok(&["rmi", &format!("{repo}:{tag}")]);
    }
    d.ok(&["pull", "--all-tags", &repo]);
    let listed = d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for tag in ["a", "b"] {
        let name = format!("{repo}:{tag}");
        assert!(
            listed.lines().any(|l| l == name),
            "{name} missing after pull -a: {listed}"
        );
    }
    Ok(())
}

#[test]
fn login_checks_credentials_and_push_uses_them() -> Result<()> {
    if !need_root() {
        return Ok(());
    }
    let d = Daemon::start()?;
    let reg = Registry::start(&[("alice", "s3cret")])?;
    let server = reg.image("").trim_end_matches('/').to_string();
    let name = reg.image("private/busybox:v1");
    d.ok(&["tag", "busybox", &name]);

    let anonymous = d.docker(&["push", &name]);
    assert!(!anonymous.status.success(), "anonymous push succeeded");
    assert!(
        stderr(&anonymous).contains("unauthorized") || stdout(&anonymous).contains("unauthorized"),
        "anonymous push: {}{}",
        stdout(&anonymous),
        stderr(&anonymous)
    );

    let wrong = d.docker(&["login", &server, "-u", "alice", "-p", "wrong"]);
    assert!(
        !wrong.status.success(),
        "login with a wrong password succeeded"
    );
    assert!(
        stderr(&wrong).contains("unauthorized"),
        "wrong login: {}",
        stderr(&wrong)
    );

    let right = d.ok(&["login", &server, "-u", "alice", "-p", "s3cret"]);
    assert!(right.contains("Login Succeeded"), "login said: {right}");

    let pushed = d.ok(&["push", &name]);
    assert!(
        pushed.contains("v1: digest: sha256:"),
        "push said: {pushed}"
    );
    d.ok(&["rmi", &name]);
    let pulled = d.ok(&["pull", &name]);
    assert!(
        pulled.contains("Status: Downloaded newer image"),
        "pull said: {pulled}"
    );
    Ok(())
}
