//! Pull unpacks layers while they stream: a later layer is unpacked completely while its
//! parent is still downloading (the registry holds the parent back until it sees that), then
//! both are committed in order.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_distribution::client::PullOptions;
use berth_oci::{Digest, media_type};
use bytes::Bytes;
use common::*;

const TOP_SIZE: usize = 400_000;

#[derive(Clone)]
struct Gated {
    manifest: Bytes,
    config: (Bytes, Digest),
    base: (Bytes, Digest),
    top: (Bytes, Digest),
    /// The store the client pulls into: the base layer is served once the top layer's file
    /// is unpacked there.
    store_root: PathBuf,
    top_unpacked_first: Arc<AtomicBool>,
}

/// Whether some snapshot under `root` holds the top layer's file, complete.
fn top_is_unpacked(root: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(root.join("snapshots")) else {
        return false;
    };
    rd.flatten().any(|e| {
        std::fs::metadata(e.path().join("fs/data")).is_ok_and(|m| m.len() == TOP_SIZE as u64)
    })
}

impl Gated {
    fn new(store_root: PathBuf) -> Gated {
        let base_tar = layer_tar("base", 1000, 1);
        let top_tar = layer_tar("data", TOP_SIZE, 2);
        let (base, top) = (Bytes::from(gzip(&base_tar)), Bytes::from(gzip(&top_tar)));
        let config = Bytes::from(berth_image::testing::simple_config(
            &[Digest::sha256_of(&base_tar), Digest::sha256_of(&top_tar)],
            &["sh"],
        ));
        let desc = |mt: &str, b: &Bytes| serde_json::json!({"mediaType": mt, "digest": Digest::sha256_of(b), "size": b.len()});
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": desc(media_type::OCI_CONFIG, &config),
            "layers": [desc(media_type::OCI_LAYER_GZIP, &base), desc(media_type::OCI_LAYER_GZIP, &top)],
        });
        let with_digest = |b: Bytes| {
            let d = Digest::sha256_of(&b);
            (b, d)
        };
        Gated {
            manifest: Bytes::from(serde_json::to_vec(&manifest).unwrap()),
            config: with_digest(config),
            base: with_digest(base),
            top: with_digest(top),
            store_root,
            top_unpacked_first: Arc::default(),
        }
    }

    async fn handle(self, req: Request) -> Response {
        let path = req.uri().path().to_string();
        if path == "/v2/" {
            return StatusCode::OK.into_response();
        }
        if path.ends_with("/manifests/latest") {
            let mut r = Response::new(Body::from(self.manifest.clone()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(media_type::OCI_MANIFEST),
            );
            return r;
        }
        let blob =
            |(b, d): &(Bytes, Digest)| path.ends_with(&format!("/blobs/{d}")).then(|| b.clone());
        if let Some(b) = blob(&self.config).or_else(|| blob(&self.top)) {
            return Response::new(Body::from(b));
        }
        if let Some(b) = blob(&self.base) {
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if top_is_unpacked(&self.store_root) {
                    self.top_unpacked_first.store(true, Ordering::SeqCst);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return Response::new(Body::from(b));
        }
        StatusCode::NOT_FOUND.into_response()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_layer_unpacks_while_its_parent_still_downloads() {
    if !require_root() {
        return;
    }
    let (st, _d) = store();
    let fake = Gated::new(st.root().to_path_buf());
    let f = fake.clone();
    let app = axum::Router::new().fallback(move |req: Request| f.clone().handle(req));
    let server = serve_router(app).await;
    let r = berth_oci::Reference::parse_normalized(&format!("{}/gated/img:latest", server.addr))
        .unwrap();
    let rec = Recorder::default();
    let out = client()
        .pull(st.clone(), &r, &PullOptions::default(), rec.sink())
        .await
        .unwrap();
    assert!(
        fake.top_unpacked_first.load(Ordering::SeqCst),
        "the top layer was unpacked before its parent finished downloading"
    );
    assert_eq!(out.image.id, fake.config.1);
    let layers = st.image_layers(&out.image).unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[1].parent.as_ref(), Some(&layers[0].chain_id));
    assert_eq!(
        layers[1].blob.as_ref().map(|b| &b.digest),
        Some(&fake.top.1),
        "the raw blob is kept for push"
    );
    let lines = rec.lines();
    let short = |d: &Digest| d.hex()[..12].to_string();
    let pos = |needle: String| lines.iter().position(|l| *l == needle);
    let top_done = pos(format!("{}: Pull complete", short(&fake.top.1))).unwrap();
    let base_done = pos(format!("{}: Pull complete", short(&fake.base.1))).unwrap();
    assert!(base_done < top_done, "committed in order: {lines:?}");
    assert!(
        pos(format!("{}: Extracting", short(&fake.top.1))).is_some(),
        "{lines:?}"
    );
    assert!(rec.has("Download complete"), "{lines:?}");
    // Nothing staged is left over.
    let dirs = std::fs::read_dir(st.root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(dirs, 2);
}
