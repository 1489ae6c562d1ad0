//! `berth-registry` as a process: `serve` answers the distribution API (with htpasswd when
//! asked, and client certificates with `--tls-client-ca`) and stops on SIGTERM; `gc` removes
//! unreferenced blobs.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_berth-registry");

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "berth-registry did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request; returns the raw response head and body.
fn request(port: u16, method: &str, path: &str, extra: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn serve(args: &[&str]) -> (ChildGuard, u16) {
    let port = free_port();
    let child = Command::new(BIN)
        .arg("serve")
        .arg("--addr")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let g = ChildGuard(child);
    wait_for(port);
    (g, port)
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let (mut g, port) = serve(&["--root", root.to_str().unwrap()]);
    let r = request(port, "GET", "/v2/", "", b"");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(
        r.to_lowercase()
            .contains("docker-distribution-api-version: registry/2.0"),
        "{r}"
    );
    let r = request(port, "GET", "/v2/x/tags/list", "", b"");
    assert!(
        r.starts_with("HTTP/1.1 404") && r.contains("NAME_UNKNOWN"),
        "{r}"
    );
    let pid = g.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = g.0.try_wait().unwrap() {
            assert!(st.success(), "clean exit on SIGTERM: {st:?}");
            break;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_with_htpasswd_requires_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("pw", 4).unwrap();
    let pw = dir.path().join("htpasswd");
    std::fs::write(&pw, format!("alice:{hash}\n")).unwrap();
    let (_g, port) = serve(&[
        "--root",
        dir.path().join("root").to_str().unwrap(),
        "--htpasswd",
        pw.to_str().unwrap(),
    ]);
    let r = request(port, "GET", "/v2/", "", b"");
    assert!(
        r.starts_with("HTTP/1.1 401") && r.contains("UNAUTHORIZED"),
        "{r}"
    );
    assert!(r.to_lowercase().contains("www-authenticate: basic"), "{r}");
    // alice:pw
    let r = request(
        port,
        "GET",
        "/v2/",
        "Authorization: Basic YWxpY2U6cHc=\r\n",
        b"",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = request(
        port,
        "GET",
        "/v2/",
        "Authorization: Basic YWxpY2U6bm8=\r\n",
        b"",
    );
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
}

#[test]
fn gc_removes_unreferenced_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    {
        let (_g, port) = serve(&["--root", root.to_str().unwrap()]);
        // sha256("orphan")
        let d = "sha256:0b3e2b8b4b4c9b5f0f0e7e1b2c0e5e1f2f3c7b4d6c1f2a3e4b5c6d7e8f9a0b1c";
        let r = request(
            port,
            "POST",
            &format!("/v2/a/blobs/uploads/?digest={d}"),
            "",
            b"orphan",
        );
        assert!(r.contains("DIGEST_INVALID"), "wrong digest refused: {r}");
        let real = sha256_hex(b"orphan");
        let r = request(
            port,
            "POST",
            &format!("/v2/a/blobs/uploads/?digest=sha256:{real}"),
            "",
            b"orphan",
        );
        assert!(r.starts_with("HTTP/1.1 201"), "{r}");
    }
    let out = Command::new(BIN)
        .args(["gc", "--dry-run", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("would remove sha256:"),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["gc", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 blobs, 6 bytes freed"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_dir(root.join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

fn sha256_hex(data: &[u8]) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("sha256sum | cut -d' ' -f1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn run_ok(dir: &std::path::Path, prog: &str, args: &[&str]) {
    let out = Command::new(prog)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all made by openssl.
fn make_mtls_certs(dir: &std::path::Path) {
    let days = ["-days", "2"];
    run_ok(
        dir,
        "openssl",
        &[
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            ][..],
            &["-out", "ca.crt", "-subj", "/CN=berth-registry-test-ca"],
            &days,
        ]
        .concat(),
    );
    std::fs::write(dir.join("srv.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("cli.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, ext) in [("srv", "srv.cnf"), ("client", "cli.cnf")] {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subj = format!("/CN=berth-registry-test-{name}");
        run_ok(
            dir,
            "openssl",
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                &subj,
            ],
        );
        run_ok(
            dir,
            "openssl",
            &[
                &[
                    "x509", "-req", "-in", &csr, "-CA", "ca.crt", "-CAkey", "ca.key",
                ][..],
                &["-CAcreateserial", "-out", &crt, "-extfile", ext],
                &days,
            ]
            .concat(),
        );
    }
}

#[test]
fn serve_with_tls_client_ca_requires_client_certificates() {
    let have = |p: &str| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("curl") || Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipping: curl or openssl missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_mtls_certs(d);
    let (_g, port) = serve(&[
        "--root",
        d.join("root").to_str().unwrap(),
        "--tls-cert",
        d.join("srv.crt").to_str().unwrap(),
        "--tls-key",
        d.join("srv.key").to_str().unwrap(),
        "--tls-client-ca",
        d.join("ca.crt").to_str().unwrap(),
    ]);
    let url = format!("https://127.0.0.1:{port}/v2/");
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .current_dir(d)
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                "ca.crt",
            ])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let without = curl(&[]);
    assert!(
        !without.status.success() || String::from_utf8_lossy(&without.stdout) == "000",
        "no client certificate must be refused: {}",
        String::from_utf8_lossy(&without.stdout)
    );
    let with = curl(&["--cert", "client.crt", "--key", "client.key"]);
    assert_eq!(
        String::from_utf8_lossy(&with.stdout),
        "200",
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    // A certificate that the client CA did not sign is refused too.
    run_ok(
        d,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.crt",
            "-days",
            "2",
            "-subj",
            "/CN=other",
        ],
    );
    let foreign = curl(&["--cert", "other.crt", "--key", "other.key"]);
    assert_ne!(String::from_utf8_lossy(&foreign.stdout), "200");
}
