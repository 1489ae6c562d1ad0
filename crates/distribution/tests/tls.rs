//! HTTPS between berth's client and server on a non-loopback address: trust through
//! `<certs_dir>/<host:port>/*.crt`, refusal without it, the insecure list, and no plain HTTP
//! for registries that are neither loopback nor listed insecure; client certificates
//! (`client.cert` + `client.key`) against a registry that requires them.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;

use berth_distribution::client::{ClientError, PullOptions, PushOptions};
use berth_distribution::server::{self, Registry};
use common::*;

fn host_ip() -> Option<IpAddr> {
    let out = Command::new("hostname").arg("-I").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for `ip`, in `dir`.
fn make_certs(dir: &Path, ip: IpAddr) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=berth-test",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), format!("subjectAltName=IP:{ip}\n")).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

struct Served {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn serve_on(ip: IpAddr, tls: Option<std::sync::Arc<rustls::ServerConfig>>) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(&dir.path().join("r")).unwrap();
    let (listener, addr) = server::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, reg, tls, async move {
        let _ = rx.await;
    }));
    Served {
        addr,
        _stop: tx,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_trust_comes_from_certs_dir_and_plain_http_needs_opt_in() {
    if !require_root() {
        return;
    }
    let Some(ip) = host_ip() else {
        eprintln!("skipping: no non-loopback IPv4 address on this host");
        return;
    };
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipping: openssl missing");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    make_certs(work.path(), ip);
    let cfg =
        server::tls::server_config(&work.path().join("srv.crt"), &work.path().join("srv.key"))
            .unwrap();
    let https = serve_on(ip, Some(cfg)).await;
    let host = https.addr.to_string();
    let certs = work.path().join("certs.d");
    std::fs::create_dir_all(certs.join(&host)).unwrap();
    std::fs::copy(work.path().join("ca.crt"), certs.join(&host).join("ca.crt")).unwrap();

    let (src, _d) = store();
    let r = berth_oci::Reference::parse_normalized(&format!("{host}/tls/img:v1")).unwrap();
    let img = make_image(&src, &r, &[layer_tar("f", 20_000, 1)]);

    let untrusting = client_with(|mut c| {
        c.certs_dir = work.path().join("empty");
        c
    });
    let err = untrusting
        .push(
            src.clone(),
            &r,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Http { .. }),
        "an unknown CA is refused: {err:?}"
    );

    let trusting = client_with(|mut c| {
        c.certs_dir = certs.clone();
        c
    });
    trusting
        .push(
            src.clone(),
            &r,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    let (dst, _d2) = store();
    let out = trusting
        .pull(dst, &r, &PullOptions::default(), Recorder::default().sink())
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);

    let insecure = client_with(|mut c| {
        c.certs_dir = work.path().join("empty");
        c.insecure_registries = vec![host.clone()];
        c
    });
    let (dst, _d3) = store();
    insecure
        .pull(dst, &r, &PullOptions::default(), Recorder::default().sink())
        .await
        .unwrap();

    // Plain HTTP on a non-loopback address: refused unless listed insecure.
    let plain = serve_on(ip, None).await;
    let pr =
        berth_oci::Reference::parse_normalized(&format!("{}/plain/img:v1", plain.addr)).unwrap();
    src.tag(&img.id.to_string(), &pr).unwrap();
    assert!(
        client()
            .push(
                src.clone(),
                &pr,
                &PushOptions::default(),
                Recorder::default().sink()
            )
            .await
            .is_err()
    );
    let listed = client_with(|mut c| {
        c.insecure_registries = vec![plain.addr.to_string()];
        c
    });
    listed
        .push(
            src.clone(),
            &pr,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
}

/// A client certificate (with the clientAuth usage) signed by the test CA in `dir`.
fn make_client_cert(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=berth-test-client",
        ],
    );
    std::fs::write(dir.join("client-ext.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.cert",
            "-days",
            "2",
            "-extfile",
            "client-ext.cnf",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_in_certs_dir_pass_mutual_tls() {
    if !require_root() {
        return;
    }
    let Some(ip) = host_ip() else {
        eprintln!("skipping: no non-loopback IPv4 address on this host");
        return;
    };
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipping: openssl missing");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    make_certs(w, ip);
    make_client_cert(w);
    let cfg = server::tls::server_config_with_client_ca(
        &w.join("srv.crt"),
        &w.join("srv.key"),
        Some(&w.join("ca.crt")),
    )
    .unwrap();
    let https = serve_on(ip, Some(cfg)).await;
    let host = https.addr.to_string();
    let (src, _d) = store();
    let r = berth_oci::Reference::parse_normalized(&format!("{host}/mtls/img:v1")).unwrap();
    let img = make_image(&src, &r, &[layer_tar("f", 30_000, 4)]);
    let with_certs_dir = |dir: std::path::PathBuf| {
        client_with(move |mut c| {
            c.certs_dir = dir;
            c
        })
    };

    // The CA alone: the server refuses the handshake without a client certificate.
    let ca_only = w.join("ca-only");
    std::fs::create_dir_all(ca_only.join(&host)).unwrap();
    std::fs::copy(w.join("ca.crt"), ca_only.join(&host).join("ca.crt")).unwrap();
    let err = with_certs_dir(ca_only)
        .push(
            src.clone(),
            &r,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Http { .. }),
        "no client certificate is refused: {err:?}"
    );

    // A certificate without its key: Docker's error, naming the missing file.
    let half = w.join("half");
    std::fs::create_dir_all(half.join(&host)).unwrap();
    std::fs::copy(w.join("ca.crt"), half.join(&host).join("ca.crt")).unwrap();
    std::fs::copy(w.join("client.cert"), half.join(&host).join("client.cert")).unwrap();
    let err = with_certs_dir(half)
        .push(
            src.clone(),
            &r,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::ClientCert { .. }), "{err:?}");
    assert!(err.to_string().contains("missing key"), "{err}");
    assert!(err.to_string().contains("client.key"), "{err}");

    // CA, client.cert and client.key: push and pull work.
    let full = w.join("full");
    std::fs::create_dir_all(full.join(&host)).unwrap();
    for f in ["ca.crt", "client.cert", "client.key"] {
        std::fs::copy(w.join(f), full.join(&host).join(f)).unwrap();
    }
    let c = with_certs_dir(full);
    c.push(
        src.clone(),
        &r,
        &PushOptions::default(),
        Recorder::default().sink(),
    )
    .await
    .unwrap();
    let (dst, _d2) = store();
    let out = c
        .pull(dst, &r, &PullOptions::default(), Recorder::default().sink())
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);
}
