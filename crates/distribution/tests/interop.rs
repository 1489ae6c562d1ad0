//! Interop with other implementations: berth's client against Debian's `docker-registry`
//! (distribution 2.8), and `skopeo copy` against berth's registry. Each test prints why it
//! skips when the peer is not installed.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_distribution::client::{PullOptions, PushOptions};
use berth_oci::{Digest, media_type};
use common::*;
use serde_json::json;

/// Kills and reaps the child when dropped.
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

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

fn have(bin: &str) -> bool {
    Path::new(bin).exists()
}

fn start_docker_registry(dir: &Path) -> (ChildGuard, String) {
    let port = free_port();
    let cfg = dir.join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("/usr/bin/docker-registry")
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    wait_for_port(port);
    (guard, format!("127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_client_pushes_to_and_pulls_from_docker_registry() {
    if !require_root() {
        return;
    }
    if !have("/usr/bin/docker-registry") {
        eprintln!(
            "skipping: /usr/bin/docker-registry missing (apt-get install -y docker-registry)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_reg, host) = start_docker_registry(dir.path());
    let (src, _d1) = store();
    let r = berth_oci::Reference::parse_normalized(&format!("{host}/interop/img:v1")).unwrap();
    let img = make_image(
        &src,
        &r,
        &[layer_tar("a", 200_000, 1), layer_tar("b", 1000, 2)],
    );
    for chunk in [None, Some(64 * 1024)] {
        let c = client_with(|mut c| {
            c.upload_chunk_size = chunk;
            c
        });
        let tag = r.with_tag(if chunk.is_some() { "chunked" } else { "mono" });
        src.tag(&img.id.to_string(), &tag).unwrap();
        let rec = Recorder::default();
        let pushed = c
            .push(src.clone(), &tag, &PushOptions::default(), rec.sink())
            .await
            .unwrap();
        let (dst, _d2) = store();
        let out = c
            .pull(
                dst,
                &tag,
                &PullOptions::default(),
                Recorder::default().sink(),
            )
            .await
            .unwrap();
        assert_eq!(out.image.id, img.id);
        assert_eq!(out.manifest_digest, pushed.digest);
    }
    let mut tags = client().list_tags(&r, None).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["chunked", "mono"]);
}

/// Writes an OCI image layout with one image tagged `tag`; returns the manifest digest.
fn write_oci_layout(dir: &Path, tag: &str) -> Digest {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = Digest::sha256_of(data);
        std::fs::write(blobs.join(d.hex()), data).unwrap();
        d
    };
    let tar = layer_tar("hello", 50_000, 4);
    let layer = gzip(&tar);
    let ld = put(&layer);
    let config = berth_image::testing::simple_config(&[Digest::sha256_of(&tar)], &["sh"]);
    let cd = put(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": cd, "size": config.len()},
        "layers": [{"mediaType": media_type::OCI_LAYER_GZIP, "digest": ld, "size": layer.len()}],
    }))
    .unwrap();
    let md = put(&manifest);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": media_type::OCI_MANIFEST, "digest": md, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    md
}

fn skopeo(args: &[&str]) {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copies_an_oci_layout_into_berth_registry_and_back() {
    if !require_root() {
        return;
    }
    if !have("/usr/bin/skopeo") {
        eprintln!("skipping: /usr/bin/skopeo missing (apt-get install -y skopeo)");
        return;
    }
    let reg = TestRegistry::start().await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("in");
    let md = write_oci_layout(&layout, "v1");
    let dest = format!("docker://{}/skopeo/img:v1", reg.host());
    let src = format!("oci:{}:v1", layout.display());
    let back = format!("oci:{}:v1", work.path().join("out").display());
    let (s1, d1, s2) = (src.clone(), dest.clone(), back.clone());
    tokio::task::spawn_blocking(move || {
        skopeo(&["copy", "--dest-tls-verify=false", &s1, &d1]);
        skopeo(&["copy", "--src-tls-verify=false", &d1, &s2]);
    })
    .await
    .unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("out/index.json")).unwrap())
            .unwrap();
    assert_eq!(
        index["manifests"][0]["digest"],
        md.to_string(),
        "the manifest survives unchanged"
    );
    // berth's client sees the same image.
    let (st, _d) = store();
    let out = client()
        .pull(
            st,
            &reg.reference("skopeo/img:v1"),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.manifest_digest, md);
}
