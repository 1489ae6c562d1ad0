//! berth's registry server over real HTTP: uploads (monolithic, chunked, mount, cancel),
//! blobs with Range, manifest validation and limits, error codes, catalog, referrers,
//! deletes and garbage collection.

#![allow(clippy::unwrap_used)]

mod common;

use berth_distribution::server::{Storage, collect_garbage};
use berth_oci::{Digest, media_type};
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn error_code(resp: reqwest::Response) -> String {
    let v: Value = resp.json().await.unwrap();
    v["errors"][0]["code"].as_str().unwrap().to_string()
}

async fn put_blob(reg: &TestRegistry, repo: &str, data: &[u8]) -> Digest {
    let d = Digest::sha256_of(data);
    let resp = http()
        .post(reg.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    d
}

/// Uploads a config and a layer and returns an image manifest referencing them.
async fn image_manifest(reg: &TestRegistry, repo: &str, seed: u8) -> Vec<u8> {
    let layer = gzip(&layer_tar("x", 1000, seed));
    let config = berth_image::testing::simple_config(&[Digest::sha256_of(&layer)], &["sh"]);
    let ld = put_blob(reg, repo, &layer).await;
    let cd = put_blob(reg, repo, &config).await;
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": cd, "size": config.len()},
        "layers": [{"mediaType": media_type::OCI_LAYER_GZIP, "digest": ld, "size": layer.len()}],
    }))
    .unwrap()
}

async fn put_manifest(
    reg: &TestRegistry,
    repo: &str,
    r: &str,
    mt: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    http()
        .put(reg.url(&format!("/v2/{repo}/manifests/{r}")))
        .header("content-type", mt)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_endpoint_and_name_validation() {
    let reg = TestRegistry::start().await;
    let resp = http().get(reg.url("/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    let resp = http()
        .get(reg.url("/v2/Bad_Name/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "NAME_INVALID");
    let resp = http()
        .get(reg.url("/v2/nothing/here/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NAME_UNKNOWN");
    let resp = http()
        .get(reg.url(&format!("/v2/a/blobs/{}", Digest::sha256_of(b"none"))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
    let resp = http()
        .get(reg.url("/v2/a/blobs/sha256:zz"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monolithic_upload_and_ranged_reads() {
    let reg = TestRegistry::start().await;
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let d = put_blob(&reg, "mono/a", &data).await;
    let h = http();
    let head = h
        .head(reg.url(&format!("/v2/mono/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "10000");
    assert_eq!(
        head.headers()["docker-content-digest"],
        d.to_string().as_str()
    );
    let got = h
        .get(reg.url(&format!("/v2/mono/a/blobs/{d}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &data[..]);
    let part = h
        .get(reg.url(&format!("/v2/mono/a/blobs/{d}")))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(&part.bytes().await.unwrap()[..], &data[100..200]);
    let bad = h
        .get(reg.url(&format!("/v2/mono/a/blobs/{d}")))
        .header("range", "bytes=20000-")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // The blob is linked into its repository only.
    let other = h
        .head(reg.url(&format!("/v2/other/b/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    // Digest mismatch on a monolithic upload.
    let resp = h
        .post(reg.url(&format!(
            "/v2/mono/a/blobs/uploads/?digest={}",
            Digest::sha256_of(b"other")
        )))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
    let uploads = std::fs::read_dir(reg.dir.path().join("registry/uploads"))
        .unwrap()
        .count();
    assert_eq!(uploads, 0, "failed uploads leave nothing behind");
    // Delete unlinks the blob from the repository.
    let del = h
        .delete(reg.url(&format!("/v2/mono/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::ACCEPTED);
    let gone = h
        .head(reg.url(&format!("/v2/mono/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_checks_ranges_and_digest() {
    let reg = TestRegistry::start().await;
    let h = http();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256_of(&data);
    let start = h
        .post(reg.url("/v2/chunk/a/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::ACCEPTED);
    assert_eq!(start.headers()["range"], "0-0");
    let loc = start.headers()["location"].to_str().unwrap().to_string();
    let p1 = h
        .patch(reg.url(&loc))
        .header("content-range", "0-999")
        .body(data[..1000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(p1.status(), StatusCode::ACCEPTED);
    assert_eq!(p1.headers()["range"], "0-999");
    let loc = p1.headers()["location"].to_str().unwrap().to_string();
    // Out of order: refused with 416.
    let bad = h
        .patch(reg.url(&loc))
        .header("content-range", "0-999")
        .body(data[..1000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let status = h.get(reg.url(&loc)).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(status.headers()["range"], "0-999");
    let p2 = h
        .patch(reg.url(&loc))
        .header("content-range", "1000-2999")
        .body(data[1000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(p2.status(), StatusCode::ACCEPTED);
    // Wrong digest at the end: refused and the session is gone.
    let wrong = h
        .put(reg.url(&format!("{loc}?digest={}", Digest::sha256_of(b"x"))))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(wrong).await, "DIGEST_INVALID");
    let gone = h.get(reg.url(&loc)).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(gone).await, "BLOB_UPLOAD_UNKNOWN");
    // Again, with the right digest and the last chunk in the PUT.
    let start = h
        .post(reg.url("/v2/chunk/a/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = start.headers()["location"].to_str().unwrap().to_string();
    h.patch(reg.url(&loc))
        .body(data[..2000].to_vec())
        .send()
        .await
        .unwrap();
    let done = h
        .put(reg.url(&format!("{loc}?digest={d}")))
        .body(data[2000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::CREATED);
    assert_eq!(
        done.headers()["location"],
        format!("/v2/chunk/a/blobs/{d}").as_str()
    );
    let got = h
        .get(reg.url(&format!("/v2/chunk/a/blobs/{d}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &data[..]);
    // Cancel.
    let start = h
        .post(reg.url("/v2/chunk/a/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = start.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        h.delete(reg.url(&loc)).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.get(reg.url(&loc)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_repository_mount() {
    let reg = TestRegistry::start().await;
    let d = put_blob(&reg, "src/repo", b"shared layer").await;
    let h = http();
    let m = h
        .post(reg.url(&format!(
            "/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), StatusCode::CREATED);
    assert_eq!(m.headers()["docker-content-digest"], d.to_string().as_str());
    assert_eq!(
        h.head(reg.url(&format!("/v2/dst/repo/blobs/{d}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // From a repository without the blob: an ordinary upload session starts instead.
    let m = h
        .post(reg.url(&format!(
            "/v2/dst2/repo/blobs/uploads/?mount={d}&from=nowhere/x"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), StatusCode::ACCEPTED);
    assert!(m.headers().contains_key("location"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_validated() {
    let reg = TestRegistry::start().await;
    let body = image_manifest(&reg, "man/a", 1).await;
    let d = Digest::sha256_of(&body);
    let ok = put_manifest(&reg, "man/a", "v1", media_type::OCI_MANIFEST, body.clone()).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(
        ok.headers()["docker-content-digest"],
        d.to_string().as_str()
    );
    for r in ["v1".to_string(), d.to_string()] {
        let g = http()
            .get(reg.url(&format!("/v2/man/a/manifests/{r}")))
            .send()
            .await
            .unwrap();
        assert_eq!(g.status(), StatusCode::OK);
        assert_eq!(g.headers()["content-type"], media_type::OCI_MANIFEST);
        assert_eq!(g.headers()["docker-content-digest"], d.to_string().as_str());
        assert_eq!(&g.bytes().await.unwrap()[..], &body[..]);
    }
    let head = http()
        .head(reg.url("/v2/man/a/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.headers()["content-length"],
        body.len().to_string().as_str()
    );

    // Unknown media type.
    let r = put_manifest(
        &reg,
        "man/a",
        "x",
        "application/vnd.example.unknown",
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    // Referenced blob missing.
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["layers"][0]["digest"] = json!(Digest::sha256_of(b"missing"));
    let r = put_manifest(
        &reg,
        "man/a",
        "x",
        media_type::OCI_MANIFEST,
        serde_json::to_vec(&v).unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    // Digest reference not matching the body.
    let r = put_manifest(
        &reg,
        "man/a",
        &Digest::sha256_of(b"x").to_string(),
        media_type::OCI_MANIFEST,
        body.clone(),
    )
    .await;
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // Malformed JSON.
    let r = put_manifest(
        &reg,
        "man/a",
        "x",
        media_type::OCI_MANIFEST,
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    // Invalid tag.
    let r = put_manifest(
        &reg,
        "man/a",
        "-bad",
        media_type::OCI_MANIFEST,
        body.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Oversized.
    let mut big: Value = serde_json::from_slice(&body).unwrap();
    big["annotations"] = json!({"pad": "x".repeat(5 * 1024 * 1024)});
    let r = put_manifest(
        &reg,
        "man/a",
        "big",
        media_type::OCI_MANIFEST,
        serde_json::to_vec(&big).unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "SIZE_INVALID");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("4194304")
    );
    // Unknown manifest.
    let r = http()
        .get(reg.url("/v2/man/a/manifests/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    // An index referencing the manifest, in Docker's list type.
    let idx = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_MANIFEST_LIST,
        "manifests": [{"mediaType": media_type::OCI_MANIFEST, "digest": d, "size": body.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    }))
    .unwrap();
    let r = put_manifest(
        &reg,
        "man/a",
        "multi",
        media_type::DOCKER_MANIFEST_LIST,
        idx,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Delete by tag, then by digest.
    assert_eq!(
        http()
            .delete(reg.url("/v2/man/a/manifests/multi"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        http()
            .delete(reg.url(&format!("/v2/man/a/manifests/{d}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let r = http()
        .get(reg.url("/v2/man/a/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_referrers_and_garbage_collection() {
    let reg = TestRegistry::start().await;
    let body = image_manifest(&reg, "cat/a", 1).await;
    let subject = Digest::sha256_of(&body);
    put_manifest(&reg, "cat/a", "v1", media_type::OCI_MANIFEST, body.clone()).await;
    let b2 = image_manifest(&reg, "cat/b", 2).await;
    put_manifest(&reg, "cat/b", "v1", media_type::OCI_MANIFEST, b2).await;

    let h = http();
    let c: Value = h
        .get(reg.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["repositories"], json!(["cat/a", "cat/b"]));
    let r = h.get(reg.url("/v2/_catalog?n=1")).send().await.unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/_catalog?n=1&last=cat%2Fa>; rel=\"next\""
    );

    // An artifact referring to the image.
    let empty = put_blob(&reg, "cat/a", b"{}").await;
    let sig = put_blob(&reg, "cat/a", b"signature").await;
    let art = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": media_type::OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sig, "size": 9}],
        "subject": {"mediaType": media_type::OCI_MANIFEST, "digest": subject, "size": body.len()},
        "annotations": {"k": "v"},
    }))
    .unwrap();
    let art_digest = Digest::sha256_of(&art);
    let r = put_manifest(
        &reg,
        "cat/a",
        &art_digest.to_string(),
        media_type::OCI_MANIFEST,
        art,
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["oci-subject"], subject.to_string().as_str());
    let refs = h
        .get(reg.url(&format!("/v2/cat/a/referrers/{subject}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refs.headers()["content-type"], media_type::OCI_INDEX);
    let v: Value = refs.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], art_digest.to_string());
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sig"
    );
    assert_eq!(v["manifests"][0]["annotations"]["k"], "v");
    let f = h
        .get(reg.url(&format!(
            "/v2/cat/a/referrers/{subject}?artifactType=application/other"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(f.headers()["oci-filters-applied"], "artifactType");
    let v: Value = f.json().await.unwrap();
    assert!(v["manifests"].as_array().unwrap().is_empty());

    // An orphan blob and a deleted image: GC removes exactly what nothing references.
    let orphan = put_blob(&reg, "cat/a", b"orphan").await;
    let b_digest = {
        let r = h
            .head(reg.url("/v2/cat/b/manifests/v1"))
            .send()
            .await
            .unwrap();
        r.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_string()
    };
    h.delete(reg.url(&format!("/v2/cat/b/manifests/{b_digest}")))
        .send()
        .await
        .unwrap();
    let storage = Storage::open(&reg.dir.path().join("registry")).unwrap();
    let dry = collect_garbage(&storage, true).unwrap();
    assert!(dry.blobs_removed.contains(&orphan));
    assert_eq!(
        dry.blobs_removed.len(),
        4,
        "orphan + cat/b's manifest, config, layer: {dry:?}"
    );
    let report = collect_garbage(&storage, false).unwrap();
    assert_eq!(report, dry);
    assert_eq!(
        h.get(reg.url(&format!("/v2/cat/a/blobs/{orphan}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let still = h
        .get(reg.url("/v2/cat/a/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    assert_eq!(
        h.get(reg.url(&format!("/v2/cat/a/blobs/{sig}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert!(
        collect_garbage(&storage, false)
            .unwrap()
            .blobs_removed
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_abandoned_uploads_only() {
    let reg = TestRegistry::start().await;
    let h = http();
    let mut locs = Vec::new();
    for _ in 0..2 {
        let r = h
            .post(reg.url("/v2/up/a/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        locs.push(r.headers()["location"].to_str().unwrap().to_string());
    }
    let old_uuid = locs[0].rsplit('/').next().unwrap();
    let data = reg
        .dir
        .path()
        .join("registry/uploads")
        .join(old_uuid)
        .join("data");
    let st = std::process::Command::new("touch")
        .args(["-d", "3 days ago"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(st.success());
    let storage = Storage::open(&reg.dir.path().join("registry")).unwrap();
    assert_eq!(collect_garbage(&storage, false).unwrap().uploads_removed, 1);
    assert_eq!(
        h.get(reg.url(&locs[0])).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(reg.url(&locs[1])).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
}
