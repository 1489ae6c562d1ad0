//! The client against small registries that misbehave on purpose: wrong bytes, truncated
//! blobs, connections dropped mid-layer (resumed with Range), unknown media types.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_distribution::client::{ClientError, PullOptions};
use berth_oci::{Digest, media_type};
use bytes::Bytes;
use common::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Serve everything correctly.
    Good,
    /// Serve the layer with its bytes altered (same length).
    WrongBytes,
    /// Always stop the layer halfway (Content-Length promises more).
    Truncated,
    /// Stop halfway the first time only; honour Range afterwards.
    DropOnce,
    /// Serve the manifest with an unknown media type.
    UnknownMediaType,
}

#[derive(Clone)]
struct Fake {
    manifest: Bytes,
    config: Bytes,
    config_digest: Digest,
    layer: Bytes,
    layer_digest: Digest,
    /// A good layer served before the faulty one (so the faulty one takes the content path).
    base: Option<(Bytes, Digest)>,
    mode: Mode,
    layer_requests: Arc<Mutex<Vec<Option<String>>>>,
}

impl Fake {
    fn new(mode: Mode) -> Fake {
        Fake::build(mode, false)
    }

    fn build(mode: Mode, with_base: bool) -> Fake {
        let tar = layer_tar("data", 400_000, 9);
        let layer = Bytes::from(gzip(&tar));
        let layer_digest = Digest::sha256_of(&layer);
        let base_tar = layer_tar("base", 1000, 5);
        let base = with_base.then(|| {
            let b = Bytes::from(gzip(&base_tar));
            let d = Digest::sha256_of(&b);
            (b, d)
        });
        let mut diff_ids = Vec::new();
        let mut layers = Vec::new();
        if let Some((b, d)) = &base {
            diff_ids.push(Digest::sha256_of(&base_tar));
            layers.push(serde_json::json!({"mediaType": media_type::OCI_LAYER_GZIP, "digest": d, "size": b.len()}));
        }
        diff_ids.push(Digest::sha256_of(&tar));
        layers.push(serde_json::json!({"mediaType": media_type::OCI_LAYER_GZIP, "digest": layer_digest, "size": layer.len()}));
        let config = Bytes::from(berth_image::testing::simple_config(&diff_ids, &["sh"]));
        let config_digest = Digest::sha256_of(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": {"mediaType": media_type::OCI_CONFIG, "digest": config_digest, "size": config.len()},
            "layers": layers,
        });
        Fake {
            manifest: Bytes::from(serde_json::to_vec(&manifest).unwrap()),
            config,
            config_digest,
            layer,
            layer_digest,
            base,
            mode,
            layer_requests: Arc::default(),
        }
    }

    async fn handle(self, req: Request) -> Response {
        let path = req.uri().path().to_string();
        if path == "/v2/" {
            return StatusCode::OK.into_response();
        }
        if path.ends_with("/manifests/latest") {
            let mt = if self.mode == Mode::UnknownMediaType {
                "application/vnd.example.unknown+json"
            } else {
                media_type::OCI_MANIFEST
            };
            let body = if self.mode == Mode::UnknownMediaType {
                Bytes::from(
                    r#"{"schemaVersion":2,"mediaType":"application/vnd.example.unknown+json"}"#,
                )
            } else {
                self.manifest.clone()
            };
            let mut r = Response::new(Body::from(body));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(mt));
            return r;
        }
        if let Some((b, d)) = &self.base
            && path.ends_with(&format!("/blobs/{d}"))
        {
            return Response::new(Body::from(b.clone()));
        }
        if path.ends_with(&format!("/blobs/{}", self.config_digest)) {
            return Response::new(Body::from(self.config.clone()));
        }
        if path.ends_with(&format!("/blobs/{}", self.layer_digest)) {
            let range = req
                .headers()
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let first = {
                let mut log = self.layer_requests.lock().unwrap();
                log.push(range.clone());
                log.len() == 1
            };
            return self.layer_response(range, first);
        }
        StatusCode::NOT_FOUND.into_response()
    }

    fn layer_response(&self, range: Option<String>, first: bool) -> Response {
        let total = self.layer.len();
        let half = total / 2;
        match self.mode {
            Mode::WrongBytes => {
                let mut v = self.layer.to_vec();
                let i = v.len() - 30;
                v[i] ^= 0xff;
                Response::new(Body::from(v))
            }
            Mode::Truncated => truncated(self.layer.slice(..half), total),
            Mode::DropOnce if first => truncated(self.layer.slice(..half), total),
            _ => {
                let start = range
                    .as_deref()
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|r| r.parse::<usize>().ok());
                match start {
                    Some(s) => {
                        let mut r = Response::new(Body::from(self.layer.slice(s..)));
                        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                        r.headers_mut().insert(
                            header::CONTENT_RANGE,
                            format!("bytes {s}-{}/{total}", total - 1).parse().unwrap(),
                        );
                        r
                    }
                    None => Response::new(Body::from(self.layer.clone())),
                }
            }
        }
    }
}

/// A response promising `total` bytes that ends after `part`: the connection drops.
fn truncated(part: Bytes, total: usize) -> Response {
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let part = part.clone();
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(part), 1)),
                1 => {
                    // Let the first half reach the client before the connection drops.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    Some((
                        Err(std::io::Error::other("connection dropped on purpose")),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, total.to_string().parse().unwrap());
    r
}

async fn start(mode: Mode) -> (Fake, ServerGuard) {
    start_fake(Fake::new(mode)).await
}

async fn start_fake(fake: Fake) -> (Fake, ServerGuard) {
    let f = fake.clone();
    let app = axum::Router::new().fallback(move |req: Request| f.clone().handle(req));
    (fake, serve_router(app).await)
}

fn reference(g: &ServerGuard) -> berth_oci::Reference {
    berth_oci::Reference::parse_normalized(&format!("{}/fake/img:latest", g.addr)).unwrap()
}

fn few_retries() -> berth_distribution::Client {
    client_with(|mut c| {
        c.max_retries = 2;
        c
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_with_wrong_bytes_is_discarded_naming_its_digest() {
    if !require_root() {
        return;
    }
    let (fake, g) = start(Mode::WrongBytes).await;
    let (st, _d) = store();
    let err = few_retries()
        .pull(
            st.clone(),
            &reference(&g),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::DigestMismatch { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&fake.layer_digest.to_string()),
        "{err}"
    );
    assert!(st.layers().unwrap().is_empty());
    assert!(st.content().stat(&fake.layer_digest).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_blob_fails_after_retries_naming_its_digest() {
    if !require_root() {
        return;
    }
    let (fake, g) = start(Mode::Truncated).await;
    let (st, _d) = store();
    let err = few_retries()
        .pull(
            st.clone(),
            &reference(&g),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&fake.layer_digest.to_string()),
        "{err}"
    );
    assert!(st.layers().unwrap().is_empty());
    assert_eq!(
        fake.layer_requests.lock().unwrap().len(),
        3,
        "first try plus two retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_is_resumed_with_range() {
    if !require_root() {
        return;
    }
    let (fake, g) = start(Mode::DropOnce).await;
    let (st, _d) = store();
    let rec = Recorder::default();
    let out = few_retries()
        .pull(
            st.clone(),
            &reference(&g),
            &PullOptions::default(),
            rec.sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.image.id, fake.config_digest);
    let reqs = fake.layer_requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0], None);
    let half = fake.layer.len() / 2;
    assert_eq!(reqs[1].as_deref(), Some(format!("bytes={half}-").as_str()));
    assert!(rec.has("Retrying in"), "{:?}", rec.lines());
    assert!(rec.has("Pull complete"));
    assert_eq!(
        st.content()
            .stat(&fake.layer_digest)
            .unwrap()
            .map(|b| b.size),
        Some(fake.layer.len() as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_fake_registry_pulls() {
    if !require_root() {
        return;
    }
    let (fake, g) = start(Mode::Good).await;
    let (st, _d) = store();
    let out = client()
        .pull(
            st,
            &reference(&g),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.image.id, fake.config_digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_manifest_media_type_is_refused() {
    if !require_root() {
        return;
    }
    let (_fake, g) = start(Mode::UnknownMediaType).await;
    let (st, _d) = store();
    let err = client()
        .pull(
            st,
            &reference(&g),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::UnsupportedMediaType { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("application/vnd.example.unknown+json"),
        "{err}"
    );
}

/// A registry front whose first blob upload PUT kills the connection: the push starts a
/// fresh upload session and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_upload_is_retried_with_a_new_session() {
    if !require_root() {
        return;
    }
    let backend = TestRegistry::start().await;
    let inner = backend.registry.clone().router();
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = broken.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let inner = inner.clone();
        let flag = flag.clone();
        async move {
            use tower::ServiceExt;
            let is_put = req.method() == axum::http::Method::PUT
                && req.uri().path().contains("/blobs/uploads/");
            if is_put && !flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return abort_connection();
            }
            inner.oneshot(req).await.into_response()
        }
    });
    let g = serve_router(app).await;
    let (src, _d) = store();
    let r = berth_oci::Reference::parse_normalized(&format!("{}/retry/img:v1", g.addr)).unwrap();
    let img = make_image(&src, &r, &[layer_tar("f", 10_000, 3)]);
    let rec = Recorder::default();
    client()
        .push(
            src,
            &r,
            &berth_distribution::client::PushOptions::default(),
            rec.sink(),
        )
        .await
        .unwrap();
    assert!(broken.load(std::sync::atomic::Ordering::SeqCst));
    assert!(rec.has("Retrying in"), "{:?}", rec.lines());
    let (dst, _d2) = store();
    let out = client()
        .pull(dst, &r, &PullOptions::default(), Recorder::default().sink())
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);
}

/// A response that promises a body and fails at once: hyper closes the connection before
/// the status line is complete for the client.
fn abort_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, _>(std::io::Error::other("connection killed on purpose"))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, "100".parse().unwrap());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bytes_in_a_later_layer_are_discarded_from_the_content_store() {
    if !require_root() {
        return;
    }
    let (fake, g) = start_fake(Fake::build(Mode::WrongBytes, true)).await;
    let (st, _d) = store();
    let err = few_retries()
        .pull(
            st.clone(),
            &reference(&g),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::DigestMismatch { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&fake.layer_digest.to_string()),
        "{err}"
    );
    assert!(st.content().stat(&fake.layer_digest).unwrap().is_none());
    let ingest = st.root().join("content/ingest");
    let left = std::fs::read_dir(&ingest).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no partial download left in {}", ingest.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_layer_resumes_into_the_content_store() {
    if !require_root() {
        return;
    }
    let (fake, g) = start_fake(Fake::build(Mode::DropOnce, true)).await;
    let (st, _d) = store();
    let out = few_retries()
        .pull(
            st.clone(),
            &reference(&g),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.image.id, fake.config_digest);
    assert_eq!(fake.layer_requests.lock().unwrap().len(), 2);
    assert_eq!(st.image_layers(&out.image).unwrap().len(), 2);
}
