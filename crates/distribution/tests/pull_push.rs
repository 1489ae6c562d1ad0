//! The client against a real berth registry on a loopback port: push, pull, chunked uploads,
//! cross-repository mounts, tag pagination, htpasswd and bearer-token auth.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use berth_distribution::client::{AuthConfig, ClientError, PullOptions, PushOptions};
use berth_distribution::server::Htpasswd;
use common::*;
use tower::ServiceExt;

fn short(d: &berth_oci::Digest) -> String {
    d.hex()[..12].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_then_pull_round_trips_with_docker_progress() {
    if !require_root() {
        return;
    }
    let reg = TestRegistry::start().await;
    let (src, _d1) = store();
    let r = reg.reference("test/img:v1");
    let l1 = layer_tar("a", 300_000, 1);
    let l2 = layer_tar("b", 200_000, 2);
    let img = make_image(&src, &r, &[l1.clone(), l2.clone()]);
    let c = client();

    let rec = Recorder::default();
    let pushed = c
        .push(src.clone(), &r, &PushOptions::default(), rec.sink())
        .await
        .unwrap();
    assert!(rec.has(&format!(
        "The push refers to repository [{}/test/img]",
        reg.host()
    )));
    assert!(
        rec.has("Preparing") && rec.has("Pushed"),
        "{:?}",
        rec.lines()
    );
    assert!(rec.has(&format!(
        "v1: digest: {} size: {}",
        pushed.digest, pushed.size
    )));

    let rec2 = Recorder::default();
    c.push(src.clone(), &r, &PushOptions::default(), rec2.sink())
        .await
        .unwrap();
    assert!(rec2.has("Layer already exists"), "{:?}", rec2.lines());

    let (dst, _d2) = store();
    let rec3 = Recorder::default();
    let out = c
        .pull(dst.clone(), &r, &PullOptions::default(), rec3.sink())
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);
    assert_eq!(out.manifest_digest, pushed.digest);
    assert!(!out.up_to_date);
    let lines = rec3.lines();
    assert_eq!(lines[0], "v1: Pulling from test/img");
    for s in [
        "Pulling fs layer",
        "Downloading",
        "Verifying Checksum",
        "Download complete",
        "Pull complete",
    ] {
        assert!(rec3.has(s), "missing {s}: {lines:?}");
    }
    assert!(rec3.has(&format!("Digest: {}", pushed.digest)));
    assert!(rec3.has(&format!(
        "Status: Downloaded newer image for {}",
        r.familiar()
    )));
    let layers = dst.image_layers(&out.image).unwrap();
    assert_eq!(layers.len(), 2);
    let snap = dst
        .root()
        .join("snapshots")
        .join(layers[1].snapshot_id.to_string())
        .join("fs/b");
    assert_eq!(std::fs::metadata(&snap).unwrap().len(), 200_000);
    assert!(
        out.image
            .repo_digests
            .iter()
            .any(|d| d.digest() == Some(&pushed.digest))
    );

    let rec4 = Recorder::default();
    let again = c
        .pull(dst.clone(), &r, &PullOptions::default(), rec4.sink())
        .await
        .unwrap();
    assert!(again.up_to_date);
    assert!(rec4.has(&format!("Status: Image is up to date for {}", r.familiar())));

    // A second image sharing the base layer: that layer is "Already exists".
    let r2 = reg.reference("test/img:v2");
    make_image(&src, &r2, &[l1.clone(), layer_tar("c", 1000, 3)]);
    c.push(
        src.clone(),
        &r2,
        &PushOptions::default(),
        common::Recorder::default().sink(),
    )
    .await
    .unwrap();
    let rec5 = Recorder::default();
    c.pull(dst.clone(), &r2, &PullOptions::default(), rec5.sink())
        .await
        .unwrap();
    let base = berth_oci::Digest::sha256_of(&gzip(&l1));
    assert!(
        rec5.has(&format!("{}: Already exists", short(&base))),
        "{:?}",
        rec5.lines()
    );

    // By digest.
    let (dst2, _d3) = store();
    let by_digest = r.with_digest(pushed.digest.clone());
    let out = c
        .pull(
            dst2,
            &by_digest,
            &PullOptions::default(),
            common::Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);

    // Tags.
    let mut tags = c.list_tags(&r, None).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);

    // Unknown tag: Docker's wording.
    let err = c
        .pull(
            dst.clone(),
            &reg.reference("test/img:nope"),
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("manifest unknown"), "{err}");
    assert!(err.to_string().contains("test/img:nope not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_uploads_and_cross_repository_mounts() {
    if !require_root() {
        return;
    }
    let reg = TestRegistry::start().await;
    let (src, _d1) = store();
    let r = reg.reference("chunk/a:latest");
    let img = make_image(&src, &r, &[layer_tar("big", 250_000, 7)]);
    let c = client_with(|mut cfg| {
        cfg.upload_chunk_size = Some(64 * 1024);
        cfg
    });
    let rec = Recorder::default();
    c.push(src.clone(), &r, &PushOptions::default(), rec.sink())
        .await
        .unwrap();
    let pushing = rec.lines().iter().filter(|l| l.contains("Pushing")).count();
    assert!(pushing >= 4, "one Pushing per chunk: {:?}", rec.lines());

    // Same image under another repository: the layer is mounted, not uploaded.
    let r2 = reg.reference("chunk/b:latest");
    src.tag(&img.id.to_string(), &r2).unwrap();
    let rec2 = Recorder::default();
    c.push(src.clone(), &r2, &PushOptions::default(), rec2.sink())
        .await
        .unwrap();
    assert!(rec2.has("Mounted from chunk/a"), "{:?}", rec2.lines());
    assert!(!rec2.has("Pushing"), "{:?}", rec2.lines());

    let (dst, _d2) = store();
    let out = c
        .pull(
            dst,
            &r2,
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_listing_follows_pagination() {
    if !require_root() {
        return;
    }
    let reg = TestRegistry::start().await;
    let (src, _d) = store();
    let r = reg.reference("pages/x:t0");
    let img = make_image(&src, &r, &[layer_tar("f", 10, 1)]);
    let c = client();
    c.push(
        src.clone(),
        &r,
        &PushOptions::default(),
        Recorder::default().sink(),
    )
    .await
    .unwrap();
    for i in 1..5 {
        let t = reg.reference(&format!("pages/x:t{i}"));
        src.tag(&img.id.to_string(), &t).unwrap();
        c.push(
            src.clone(),
            &t,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    }
    let http = http();
    let resp = http
        .get(reg.url("/v2/pages/x/tags/list?n=2"))
        .send()
        .await
        .unwrap();
    let link = resp
        .headers()
        .get("link")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(link, "</v2/pages/x/tags/list?n=2&last=t1>; rel=\"next\"");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["t0", "t1"]));
    let v: serde_json::Value = http
        .get(reg.url("/v2/pages/x/tags/list?n=2&last=t3"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], serde_json::json!(["t4"]));
    let all = c.list_tags(&r, None).await.unwrap();
    assert_eq!(all, ["t0", "t1", "t2", "t3", "t4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_rejects_wrong_credentials_and_accepts_right_ones() {
    if !require_root() {
        return;
    }
    let hash = bcrypt::hash("pw", 4).unwrap();
    let users = Htpasswd::parse(&format!("alice:{hash}\n")).unwrap();
    let reg = TestRegistry::start_with(|r| r.with_htpasswd(users)).await;
    let (src, _d) = store();
    let r = reg.reference("secure/img:latest");
    make_image(&src, &r, &[layer_tar("f", 1000, 1)]);
    let c = client();

    let err = c
        .push(
            src.clone(),
            &r,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("unauthorized: authentication required"),
        "{err}"
    );

    let wrong = PushOptions {
        auth: Some(AuthConfig::basic("alice", "nope")),
    };
    let err = c
        .push(src.clone(), &r, &wrong, Recorder::default().sink())
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("unauthorized"), "{err}");
    assert!(
        c.login(&reg.host(), &AuthConfig::basic("alice", "nope"))
            .await
            .is_err()
    );
    c.login(&reg.host(), &AuthConfig::basic("alice", "pw"))
        .await
        .unwrap();

    let right = AuthConfig::basic("alice", "pw");
    c.push(
        src.clone(),
        &r,
        &PushOptions {
            auth: Some(right.clone()),
        },
        Recorder::default().sink(),
    )
    .await
    .unwrap();
    // Credentials from an X-Registry-Auth header value.
    let header = right.to_header();
    let (dst, _d2) = store();
    let opts = PullOptions {
        auth: Some(AuthConfig::from_header(&header).unwrap()),
        ..PullOptions::default()
    };
    c.pull(dst, &r, &opts, Recorder::default().sink())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_docker_config() {
    if !require_root() {
        return;
    }
    let hash = bcrypt::hash("cfgpw", 4).unwrap();
    let users = Htpasswd::parse(&format!("bob:{hash}\n")).unwrap();
    let reg = TestRegistry::start_with(|r| r.with_htpasswd(users)).await;
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("config.json");
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:cfgpw");
    std::fs::write(
        &cfg,
        serde_json::json!({"auths": {reg.host(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let c = client_with(|mut c| {
        c.docker_config = Some(cfg.clone());
        c
    });
    let (src, _d) = store();
    let r = reg.reference("cfg/img:latest");
    make_image(&src, &r, &[layer_tar("f", 100, 1)]);
    c.push(src, &r, &PushOptions::default(), Recorder::default().sink())
        .await
        .unwrap();
}

/// A token server and a registry front that wants `Bearer <token>`; behind it, berth's
/// registry router.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_flow_with_cached_tokens() {
    if !require_root() {
        return;
    }
    let backend = TestRegistry::start().await;
    let inner = backend.registry.clone().router();
    let scopes: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = scopes.clone();
    let port_cell: Arc<Mutex<u16>> = Arc::default();
    let port_for_app = port_cell.clone();
    let app = axum::Router::new().fallback(move |req: Request| {
        let inner = inner.clone();
        let seen = seen.clone();
        let port = *port_for_app.lock().unwrap();
        async move { front(req, inner, seen, port).await }
    });
    let server = serve_router(app).await;
    *port_cell.lock().unwrap() = server.addr.port();
    let host = server.addr.to_string();

    let (src, _d) = store();
    let r = berth_oci::Reference::parse_normalized(&format!("{host}/tok/img:latest")).unwrap();
    make_image(&src, &r, &[layer_tar("f", 5000, 1)]);
    let c = client();
    let err = c
        .push(
            src.clone(),
            &r,
            &PushOptions {
                auth: Some(AuthConfig::basic("u", "bad")),
            },
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized { .. }), "{err:?}");
    let good = Some(AuthConfig::basic("u", "good"));
    c.push(
        src.clone(),
        &r,
        &PushOptions { auth: good.clone() },
        Recorder::default().sink(),
    )
    .await
    .unwrap();
    let (dst, _d2) = store();
    c.pull(
        dst.clone(),
        &r,
        &PullOptions {
            auth: good.clone(),
            ..Default::default()
        },
        Recorder::default().sink(),
    )
    .await
    .unwrap();
    c.pull(
        dst,
        &r,
        &PullOptions {
            auth: good.clone(),
            ..Default::default()
        },
        Recorder::default().sink(),
    )
    .await
    .unwrap();
    let s = scopes.lock().unwrap().clone();
    assert!(
        s.contains(&"repository:tok/img:pull,push".to_string()),
        "{s:?}"
    );
    let pulls = s.iter().filter(|x| *x == "repository:tok/img:pull").count();
    assert_eq!(pulls, 1, "the pull token is cached: {s:?}");
    c.login(&host, &AuthConfig::basic("u", "good"))
        .await
        .unwrap();
    assert!(
        c.login(&host, &AuthConfig::basic("u", "bad"))
            .await
            .is_err()
    );
}

async fn front(
    req: Request,
    inner: axum::Router,
    seen: Arc<Mutex<Vec<String>>>,
    port: u16,
) -> Response {
    use axum::http::{StatusCode, header};
    use base64::Engine as _;
    if req.uri().path() == "/token" {
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:good")
        );
        if req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            != Some(good.as_str())
        {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let q: Vec<(String, String)> =
            serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
        let mut s = seen.lock().unwrap();
        for (k, v) in q {
            if k == "scope" {
                s.push(v);
            }
        }
        return axum::Json(serde_json::json!({"token": "T0K3N", "expires_in": 300}))
            .into_response();
    }
    if req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some("Bearer T0K3N")
    {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test-registry\"")
                .parse()
                .unwrap(),
        );
        return r;
    }
    inner.oneshot(req).await.into_response()
}

/// Uploads a one-layer image for `arch` with raw API calls; returns its manifest bytes.
async fn raw_image(
    reg: &TestRegistry,
    repo: &str,
    arch: &str,
    seed: u8,
) -> (Vec<u8>, berth_oci::Digest) {
    use berth_oci::{Digest, media_type};
    let h = http();
    let tar = layer_tar("f", 3000, seed);
    let layer = gzip(&tar);
    let mut cfg: serde_json::Value = serde_json::from_slice(&berth_image::testing::simple_config(
        &[Digest::sha256_of(&tar)],
        &["sh"],
    ))
    .unwrap();
    cfg["architecture"] = serde_json::json!(arch);
    let config = serde_json::to_vec(&cfg).unwrap();
    for blob in [&layer, &config] {
        let d = Digest::sha256_of(blob);
        let r = h
            .post(reg.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
            .body(blob.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_MANIFEST,
        "config": {"mediaType": media_type::DOCKER_CONFIG, "digest": Digest::sha256_of(&config), "size": config.len()},
        "layers": [{"mediaType": media_type::DOCKER_LAYER_GZIP, "digest": Digest::sha256_of(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let d = Digest::sha256_of(&m);
    let r = h
        .put(reg.url(&format!("/v2/{repo}/manifests/{d}")))
        .header("content-type", media_type::DOCKER_MANIFEST)
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    (m, Digest::sha256_of(&config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_lists_select_the_platform_and_all_tags_pull() {
    if !require_root() {
        return;
    }
    use berth_oci::{Digest, Platform, media_type};
    let reg = TestRegistry::start().await;
    let host = Platform::host();
    let other_arch = if host.architecture == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let (m_host, id_host) = raw_image(&reg, "multi/img", &host.architecture, 1).await;
    let (m_other, id_other) = raw_image(&reg, "multi/img", other_arch, 2).await;
    let entry = |m: &[u8], arch: &str| {
        let mut p = serde_json::json!({"architecture": arch, "os": "linux"});
        if arch == "arm64" {
            p["variant"] = serde_json::json!("v8");
        }
        serde_json::json!({"mediaType": media_type::DOCKER_MANIFEST, "digest": Digest::sha256_of(m), "size": m.len(), "platform": p})
    };
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_MANIFEST_LIST,
        "manifests": [entry(&m_other, other_arch), entry(&m_host, &host.architecture)],
    }))
    .unwrap();
    for tag in ["latest", "second"] {
        let r = http()
            .put(reg.url(&format!("/v2/multi/img/manifests/{tag}")))
            .header("content-type", media_type::DOCKER_MANIFEST_LIST)
            .body(list.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let c = client();
    let (st, _d) = store();
    let r = reg.reference("multi/img:latest");
    let out = c
        .pull(
            st.clone(),
            &r,
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.image.id, id_host, "the host platform is the default");
    assert_eq!(out.manifest_digest, Digest::sha256_of(&m_host));
    let opts = PullOptions {
        platform: Platform::parse(&format!("linux/{other_arch}")),
        ..PullOptions::default()
    };
    let out = c
        .pull(st.clone(), &r, &opts, Recorder::default().sink())
        .await
        .unwrap();
    assert_eq!(out.image.id, id_other);
    let none = PullOptions {
        platform: Platform::parse("linux/s390x"),
        ..PullOptions::default()
    };
    let err = c
        .pull(st.clone(), &r, &none, Recorder::default().sink())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::NoMatchingPlatform { .. }),
        "{err:?}"
    );
    let all = c
        .pull_all_tags(
            st.clone(),
            &r,
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        st.resolve(&reg.reference("multi/img:second").to_string())
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_hub_pulls_go_through_mirrors() {
    if !require_root() {
        return;
    }
    let reg = TestRegistry::start().await;
    let (src, _d) = store();
    let on_mirror = reg.reference("library/mirrored:v1");
    let img = make_image(&src, &on_mirror, &[layer_tar("m", 100, 1)]);
    client()
        .push(
            src,
            &on_mirror,
            &PushOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    let c = client_with(|mut c| {
        c.mirrors = vec![format!("http://{}", reg.host())];
        c
    });
    let (dst, _d2) = store();
    let hub = berth_oci::Reference::parse_normalized("mirrored:v1").unwrap();
    let out = c
        .pull(
            dst.clone(),
            &hub,
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);
    assert!(dst.resolve("mirrored:v1").is_ok());
    // Not on the mirror: the client falls back to Docker Hub itself (unreachable here, so
    // the error names the upstream registry, not the mirror's "manifest unknown").
    let missing = berth_oci::Reference::parse_normalized("not-mirrored:v1").unwrap();
    let err = c
        .pull(
            dst,
            &missing,
            &PullOptions::default(),
            Recorder::default().sink(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("registry-1.docker.io"), "{err}");
}

/// Token server state for the expiry test: every token serves two GETs, then is refused.
#[derive(Default)]
struct Expiring {
    issued: u32,
    gets: std::collections::HashMap<String, u32>,
}

async fn expiring_front(
    req: Request,
    inner: axum::Router,
    state: Arc<Mutex<Expiring>>,
    port: u16,
) -> Response {
    use axum::http::{Method, StatusCode, header};
    if req.uri().path() == "/token" {
        let mut st = state.lock().unwrap();
        st.issued += 1;
        let tok = format!("tok-{}", st.issued);
        return axum::Json(serde_json::json!({"token": tok, "expires_in": 300})).into_response();
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let ok = {
        let mut st = state.lock().unwrap();
        match presented {
            Some(t) if req.method() == Method::GET && req.uri().path() != "/v2/" => {
                let n = st.gets.entry(t).or_default();
                *n += 1;
                *n <= 2
            }
            Some(_) => true,
            None => false,
        }
    };
    if !ok {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"t\"")
                .parse()
                .unwrap(),
        );
        return r;
    }
    inner.oneshot(req).await.into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_bearer_tokens_are_renewed_mid_pull() {
    if !require_root() {
        return;
    }
    let backend = TestRegistry::start().await;
    let inner = backend.registry.clone().router();
    let state: Arc<Mutex<Expiring>> = Arc::default();
    let port_cell: Arc<Mutex<u16>> = Arc::default();
    let (st, pc) = (state.clone(), port_cell.clone());
    let app = axum::Router::new().fallback(move |req: Request| {
        let (inner, st) = (inner.clone(), st.clone());
        let port = *pc.lock().unwrap();
        async move { expiring_front(req, inner, st, port).await }
    });
    let server = serve_router(app).await;
    *port_cell.lock().unwrap() = server.addr.port();
    let r = berth_oci::Reference::parse_normalized(&format!("{}/exp/img:v1", server.addr)).unwrap();
    let (src, _d) = store();
    let img = make_image(
        &src,
        &r,
        &[
            layer_tar("a", 1000, 1),
            layer_tar("b", 1000, 2),
            layer_tar("c", 1000, 3),
        ],
    );
    let c = client();
    c.push(src, &r, &PushOptions::default(), Recorder::default().sink())
        .await
        .unwrap();
    let (dst, _d2) = store();
    let out = c
        .pull(dst, &r, &PullOptions::default(), Recorder::default().sink())
        .await
        .unwrap();
    assert_eq!(out.image.id, img.id);
    let issued = state.lock().unwrap().issued;
    assert!(
        issued >= 3,
        "five GETs at two per token need renewals: {issued}"
    );
}
