//! Shared fixtures for the distribution tests: an in-process berth registry on a loopback
//! port, image stores in temp dirs with gzip layers, progress recorders.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use berth_distribution::client::{Client, ClientConfig, Progress, ProgressSink};
use berth_distribution::server::Registry;
use berth_image::{BlobSpec, Image, Store};
use berth_oci::{Digest, Reference, media_type};

/// Fails loudly without root unless BERTH_SKIP_ROOT_TESTS=1 (then returns false: skip).
pub fn require_root() -> bool {
    if nix_is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip)");
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A server task that is aborted (and its port closed) when dropped.
pub struct ServerGuard {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves any axum router on a fresh loopback port.
pub async fn serve_router(app: axum::Router) -> ServerGuard {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    ServerGuard { addr, task }
}

/// A berth registry with its storage in a temp dir.
pub struct TestRegistry {
    pub server: ServerGuard,
    pub registry: Registry,
    pub dir: tempfile::TempDir,
}

impl TestRegistry {
    pub async fn start() -> TestRegistry {
        TestRegistry::start_with(|r| r).await
    }

    pub async fn start_with(f: impl FnOnce(Registry) -> Registry) -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let registry = f(Registry::open(&dir.path().join("registry")).unwrap());
        let server = serve_router(registry.clone().router()).await;
        TestRegistry {
            server,
            registry,
            dir,
        }
    }

    pub fn host(&self) -> String {
        self.server.addr.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    pub fn reference(&self, repo_tag: &str) -> Reference {
        Reference::parse_normalized(&format!("{}/{repo_tag}", self.host())).unwrap()
    }
}

/// A client that reads no docker config.
pub fn client() -> Client {
    client_with(|c| c)
}

pub fn client_with(f: impl FnOnce(ClientConfig) -> ClientConfig) -> Client {
    Client::new(f(ClientConfig {
        docker_config: None,
        ..ClientConfig::default()
    }))
}

/// An image store in a temp dir (kept alive by the returned guard).
pub fn store() -> (Arc<Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("store")).unwrap();
    (Arc::new(s), dir)
}

/// A tar with one file `name` of `size` pseudo-random bytes.
pub fn layer_tar(name: &str, size: usize, seed: u8) -> Vec<u8> {
    let mut data = Vec::with_capacity(size);
    let mut x: u32 = 0x9e3779b9 ^ u32::from(seed);
    for _ in 0..size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push((x & 0xff) as u8);
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, &data[..]).unwrap();
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Puts an image made of `layers` (uncompressed tars, stored gzipped) into `store` as `name`.
pub fn make_image(store: &Store, name: &Reference, layers: &[Vec<u8>]) -> Image {
    let mut parent: Option<Digest> = None;
    let mut diff_ids = Vec::new();
    for l in layers {
        let gz = gzip(l);
        let diff = Digest::sha256_of(l);
        let info = store
            .apply_layer_stream(
                parent.as_ref(),
                &gz[..],
                &BlobSpec {
                    digest: Some(Digest::sha256_of(&gz)),
                    size: Some(gz.len() as u64),
                    media_type: Some(media_type::DOCKER_LAYER_GZIP.to_string()),
                },
                Some(&diff),
            )
            .unwrap();
        parent = Some(info.chain_id);
        diff_ids.push(diff);
    }
    let config = berth_image::testing::simple_config(&diff_ids, &["sh"]);
    store
        .create_image(&config, None, std::slice::from_ref(name))
        .unwrap()
}

/// Records progress events.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<Progress>>>);

impl Recorder {
    pub fn sink(&self) -> ProgressSink {
        let r = self.0.clone();
        Arc::new(move |p| r.lock().unwrap().push(p))
    }

    /// Every message as Docker's `status` text (with id when there is one).
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .flat_map(|p| p.to_json_messages())
            .filter_map(|v| {
                let s = v.get("status")?.as_str()?.to_string();
                Some(match v.get("id").and_then(|i| i.as_str()) {
                    Some(id) => format!("{id}: {s}"),
                    None => s,
                })
            })
            .collect()
    }

    pub fn has(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }
}

/// A plain reqwest client for raw API checks.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
