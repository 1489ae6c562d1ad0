//! The distribution endpoints: blobs, uploads, manifests, tags, catalog and referrers, each
//! turning a request into storage calls and a spec-shaped response.

use std::collections::HashMap;
use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::{Descriptor, Digest, Index, Manifest, media_type};
use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::errors::{ApiError, Code};
use super::routes::{self, Route};
use super::storage::{Storage, StorageError};
use super::{Registry, empty_body};

type Result<T> = std::result::Result<T, ApiError>;

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::DigestMismatch { .. } => {
                ApiError::new(Code::DigestInvalid, e.to_string())
            }
            StorageError::UploadUnknown { .. } => {
                ApiError::new(Code::BlobUploadUnknown, e.to_string())
            }
            StorageError::Io { .. } => ApiError::internal(e),
        }
    }
}

/// Runs blocking storage work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, StorageError> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::internal(e)),
    }
}

pub(super) async fn handle(reg: Registry, req: Request) -> Result<Response> {
    let path = req.uri().path().to_string();
    let route = routes::parse(&path).ok_or_else(|| {
        ApiError::new(Code::Unsupported, format!("no such endpoint: {path}"))
            .with_status(StatusCode::NOT_FOUND)
    })?;
    if let Some(name) = route.name()
        && !routes::valid_name(name)
    {
        return Err(ApiError::new(
            Code::NameInvalid,
            format!("invalid repository name: {name}"),
        ));
    }
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
    let method = req.method().clone();
    let s = reg.storage.clone();
    match (route, method) {
        (Route::Base, Method::GET | Method::HEAD) => Ok(json_response(StatusCode::OK, "{}")),
        (Route::Catalog, Method::GET) => catalog(s, &query).await,
        (Route::Tags(name), Method::GET) => tags(s, name, &query).await,
        (Route::Blob(name, d), m @ (Method::GET | Method::HEAD)) => {
            get_blob(s, name, d, req.headers(), m == Method::HEAD).await
        }
        (Route::Blob(name, d), Method::DELETE) => delete_blob(s, name, d).await,
        (Route::UploadStart(name), Method::POST) => start_upload(s, name, &query, req).await,
        (Route::Upload(name, id), Method::PATCH) => patch_upload(s, name, id, req).await,
        (Route::Upload(name, id), Method::PUT) => finish_upload(s, name, id, &query, req).await,
        (Route::Upload(name, id), Method::GET) => upload_status(s, name, id).await,
        (Route::Upload(name, id), Method::DELETE) => {
            blocking(move || {
                s.upload(&name, &id)?;
                s.cancel_upload(&id)
            })
            .await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (Route::Manifest(name, r), m @ (Method::GET | Method::HEAD)) => {
            get_manifest(s, name, r, m == Method::HEAD).await
        }
        (Route::Manifest(name, r), Method::PUT) => put_manifest(&reg, name, r, req).await,
        (Route::Manifest(name, r), Method::DELETE) => delete_manifest(s, name, r).await,
        (Route::Referrers(name, d), Method::GET) => referrers(s, name, d, &query).await,
        (_, m) => Err(
            ApiError::new(Code::Unsupported, format!("method {m} not allowed"))
                .with_status(StatusCode::METHOD_NOT_ALLOWED),
        ),
    }
}

fn json_response(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn set(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| ApiError::new(Code::DigestInvalid, e.to_string()))
}

/// Parses `n` and `last` and returns the page of `items` after `last`, plus whether more remain.
fn paginate(items: Vec<String>, q: &HashMap<String, String>) -> Result<(Vec<String>, bool)> {
    let last = q.get("last").cloned().unwrap_or_default();
    let mut rest: Vec<String> = items.into_iter().filter(|t| *t > last).collect();
    let n = match q.get("n") {
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            ApiError::new(Code::Unsupported, format!("invalid n: {n}"))
                .with_status(StatusCode::BAD_REQUEST)
        })?),
        None => None,
    };
    let more = n.is_some_and(|n| rest.len() > n);
    if let Some(n) = n {
        rest.truncate(n);
    }
    Ok((rest, more))
}

fn link_header(path: &str, n: Option<&String>, last: Option<&String>) -> String {
    let mut q = Vec::new();
    if let Some(n) = n {
        q.push(("n", n.as_str()));
    }
    if let Some(l) = last {
        q.push(("last", l.as_str()));
    }
    let qs = serde_urlencoded::to_string(q).unwrap_or_default();
    format!("<{path}?{qs}>; rel=\"next\"")
}

async fn catalog(s: Storage, q: &HashMap<String, String>) -> Result<Response> {
    let repos = blocking(move || s.repositories()).await?;
    let (page, more) = paginate(repos, q)?;
    let mut r = json_response(
        StatusCode::OK,
        serde_json::json!({ "repositories": page }).to_string(),
    );
    if more {
        set(
            &mut r,
            "Link",
            &link_header("/v2/_catalog", q.get("n"), page.last()),
        );
    }
    Ok(r)
}

async fn tags(s: Storage, name: String, q: &HashMap<String, String>) -> Result<Response> {
    let n2 = name.clone();
    let tags = blocking(move || s.tags(&n2)).await?.ok_or_else(|| {
        ApiError::new(
            Code::NameUnknown,
            format!("repository name not known to registry: {name}"),
        )
    })?;
    let (page, more) = paginate(tags, q)?;
    let mut r = json_response(
        StatusCode::OK,
        serde_json::json!({ "name": name, "tags": page }).to_string(),
    );
    if more {
        let path = format!("/v2/{name}/tags/list");
        set(&mut r, "Link", &link_header(&path, q.get("n"), page.last()));
    }
    Ok(r)
}

fn blob_unknown(d: &Digest) -> ApiError {
    ApiError::new(Code::BlobUnknown, format!("blob unknown to registry: {d}"))
}

/// Parses `bytes=a-b` / `bytes=a-` against a blob of `size` bytes.
fn parse_range(v: &str, size: u64) -> Option<(u64, u64)> {
    let spec = v.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end: u64 = if b.trim().is_empty() {
        size.checked_sub(1)?
    } else {
        b.trim().parse::<u64>().ok()?.min(size.checked_sub(1)?)
    };
    (start <= end && start < size).then_some((start, end))
}

async fn get_blob(
    s: Storage,
    name: String,
    d: String,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response> {
    let d = parse_digest(&d)?;
    let (s2, n2, d2) = (s.clone(), name.clone(), d.clone());
    let size = blocking(move || s2.has_layer(&n2, &d2))
        .await?
        .ok_or_else(|| blob_unknown(&d))?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size.saturating_sub(1)),
        Some(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b),
        Some(None) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            set(&mut r, "Content-Range", &format!("bytes */{size}"));
            return Ok(r);
        }
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    let body = if head || len == 0 {
        empty_body()
    } else {
        let path = s.blob_path(&d);
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|_| blob_unknown(&d))?;
        f.seek(SeekFrom::Start(start))
            .await
            .map_err(ApiError::internal)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(
            tokio::io::AsyncReadExt::take(f, len),
            256 * 1024,
        );
        Body::from_stream(stream)
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    set(&mut r, "Content-Length", &len.to_string());
    set(&mut r, "Content-Type", "application/octet-stream");
    set(&mut r, "Docker-Content-Digest", &d.to_string());
    set(&mut r, "Accept-Ranges", "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            &mut r,
            "Content-Range",
            &format!("bytes {start}-{end}/{size}"),
        );
    }
    Ok(r)
}

async fn delete_blob(s: Storage, name: String, d: String) -> Result<Response> {
    let d = parse_digest(&d)?;
    let d2 = d.clone();
    if !blocking(move || s.unlink_layer(&name, &d2)).await? {
        return Err(blob_unknown(&d));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

fn upload_response(status: StatusCode, name: &str, uuid: &str, size: u64) -> Response {
    let mut r = status.into_response();
    set(
        &mut r,
        "Location",
        &format!("/v2/{name}/blobs/uploads/{uuid}"),
    );
    set(&mut r, "Docker-Upload-UUID", uuid);
    let range = if size == 0 {
        "0-0".to_string()
    } else {
        format!("0-{}", size - 1)
    };
    set(&mut r, "Range", &range);
    set(&mut r, "Content-Length", "0");
    r
}

fn blob_created(name: &str, d: &Digest) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    set(&mut r, "Location", &format!("/v2/{name}/blobs/{d}"));
    set(&mut r, "Docker-Content-Digest", &d.to_string());
    set(&mut r, "Content-Length", "0");
    r
}

async fn start_upload(
    s: Storage,
    name: String,
    q: &HashMap<String, String>,
    req: Request,
) -> Result<Response> {
    if let (Some(mount), Some(from)) = (q.get("mount"), q.get("from")) {
        let d = parse_digest(mount)?;
        let (s2, n2, d2, f2) = (s.clone(), name.clone(), d.clone(), from.clone());
        let mounted = blocking(move || {
            if routes::valid_name(&f2) && s2.has_layer(&f2, &d2)?.is_some() {
                s2.link_layer(&n2, &d2)?;
                return Ok(true);
            }
            Ok(false)
        })
        .await?;
        if mounted {
            return Ok(blob_created(&name, &d));
        }
    }
    let (s2, n2) = (s.clone(), name.clone());
    let uuid = blocking(move || s2.start_upload(&n2)).await?;
    if let Some(d) = q.get("digest") {
        let d = parse_digest(d)?;
        let (path, _) = s.upload(&name, &uuid)?;
        if let Err(e) = append_body(&path, req.into_body()).await {
            let _ = s.cancel_upload(&uuid);
            return Err(e);
        }
        let (s2, n2, u2, d2) = (s.clone(), name.clone(), uuid.clone(), d.clone());
        blocking(move || s2.finish_upload(&n2, &u2, &d2)).await?;
        return Ok(blob_created(&name, &d));
    }
    Ok(upload_response(StatusCode::ACCEPTED, &name, &uuid, 0))
}

/// Appends a request body to an upload's data file; returns the bytes written.
async fn append_body(path: &std::path::Path, body: Body) -> Result<u64> {
    let mut f = tokio::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(Code::BlobUploadInvalid, format!("reading upload body: {e}"))
        })?;
        f.write_all(&chunk).await.map_err(ApiError::internal)?;
        n += chunk.len() as u64;
    }
    f.flush().await.map_err(ApiError::internal)?;
    Ok(n)
}

/// Parses a `Content-Range` of `a-b` (or `bytes a-b/*`) into its start.
fn content_range_start(v: &str) -> Option<u64> {
    let v = v.trim().trim_start_matches("bytes").trim();
    let (a, _) = v.split_once('-')?;
    a.trim().parse().ok()
}

async fn patch_upload(s: Storage, name: String, uuid: String, req: Request) -> Result<Response> {
    let (path, size) = s.upload(&name, &uuid)?;
    if let Some(cr) = req.headers().get(header::CONTENT_RANGE) {
        let start = cr.to_str().ok().and_then(content_range_start);
        if start != Some(size) {
            let mut r = ApiError::new(
                Code::BlobUploadInvalid,
                format!("content range {cr:?} does not continue the upload at byte {size}"),
            )
            .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
            .into_response();
            set(&mut r, "Range", &format!("0-{}", size.saturating_sub(1)));
            set(
                &mut r,
                "Location",
                &format!("/v2/{name}/blobs/uploads/{uuid}"),
            );
            return Ok(r);
        }
    }
    let n = append_body(&path, req.into_body()).await?;
    Ok(upload_response(
        StatusCode::ACCEPTED,
        &name,
        &uuid,
        size + n,
    ))
}

async fn finish_upload(
    s: Storage,
    name: String,
    uuid: String,
    q: &HashMap<String, String>,
    req: Request,
) -> Result<Response> {
    let d = q
        .get("digest")
        .ok_or_else(|| ApiError::new(Code::DigestInvalid, "digest parameter missing"))?;
    let d = parse_digest(d)?;
    let (path, _) = s.upload(&name, &uuid)?;
    append_body(&path, req.into_body()).await?;
    let (s2, n2, d2) = (s.clone(), name.clone(), d.clone());
    blocking(move || s2.finish_upload(&n2, &uuid, &d2)).await?;
    Ok(blob_created(&name, &d))
}

async fn upload_status(s: Storage, name: String, uuid: String) -> Result<Response> {
    let (_, size) = s.upload(&name, &uuid)?;
    Ok(upload_response(StatusCode::NO_CONTENT, &name, &uuid, size))
}

fn manifest_unknown(name: &str, r: &str) -> ApiError {
    ApiError::new(
        Code::ManifestUnknown,
        format!("manifest unknown: {name}:{r}"),
    )
}

/// Resolves a tag or digest to a manifest digest present in the repository, with its type.
fn resolve_manifest(
    s: &Storage,
    name: &str,
    r: &str,
) -> std::result::Result<Option<(Digest, String)>, StorageError> {
    let d = match Digest::parse(r) {
        Ok(d) => d,
        Err(_) => match s.tag_digest(name, r)? {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    Ok(s.manifest_media_type(name, &d)?.map(|mt| (d, mt)))
}

async fn get_manifest(s: Storage, name: String, r: String, head: bool) -> Result<Response> {
    if r.contains(':') {
        parse_digest(&r)?;
    }
    let (s2, n2, r2) = (s.clone(), name.clone(), r.clone());
    let found = blocking(move || {
        let Some((d, mt)) = resolve_manifest(&s2, &n2, &r2)? else {
            return Ok(None);
        };
        Ok(s2.read_blob(&d)?.map(|b| (d, mt, b)))
    })
    .await?;
    let Some((d, mt, bytes)) = found else {
        if !s.repo_exists(&name) {
            return Err(ApiError::new(
                Code::NameUnknown,
                format!("repository name not known to registry: {name}"),
            ));
        }
        return Err(manifest_unknown(&name, &r));
    };
    let len = bytes.len();
    let mut resp = Response::new(if head {
        empty_body()
    } else {
        Body::from(bytes)
    });
    set(&mut resp, "Content-Type", &mt);
    set(&mut resp, "Content-Length", &len.to_string());
    set(&mut resp, "Docker-Content-Digest", &d.to_string());
    Ok(resp)
}

/// The media types a manifest PUT may carry.
fn accepted_manifest_type(mt: &str) -> bool {
    media_type::is_manifest(mt) || media_type::is_index(mt)
}

/// What a manifest references and its artifact type, for validation and referrers.
struct Parsed {
    blobs: Vec<Digest>,
    manifests: Vec<Digest>,
    subject: Option<Descriptor>,
    artifact_type: Option<String>,
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

fn parse_manifest(mt: &str, body: &[u8]) -> Result<Parsed> {
    let invalid = |e: &dyn std::fmt::Display| {
        ApiError::new(Code::ManifestInvalid, format!("manifest invalid: {e}"))
    };
    let declared: Option<String> = serde_json::from_slice::<serde_json::Value>(body)
        .map_err(|e| invalid(&e))?
        .get("mediaType")
        .and_then(|v| v.as_str().map(str::to_string));
    if let Some(d) = &declared
        && d != mt
    {
        return Err(invalid(&format!(
            "mediaType {d} does not match Content-Type {mt}"
        )));
    }
    if media_type::is_index(mt) {
        let idx = Index::from_json(body).map_err(|e| invalid(&e))?;
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| invalid(&e))?;
        return Ok(Parsed {
            blobs: Vec::new(),
            manifests: idx.manifests.iter().map(|m| m.digest.clone()).collect(),
            subject: v
                .get("subject")
                .and_then(|s| serde_json::from_value(s.clone()).ok()),
            artifact_type: v
                .get("artifactType")
                .and_then(|s| s.as_str().map(str::to_string)),
            annotations: idx.annotations.clone(),
        });
    }
    let m = Manifest::from_json(body).map_err(|e| invalid(&e))?;
    if m.schema_version != 2 {
        return Err(invalid(&format!(
            "schemaVersion {} is not 2",
            m.schema_version
        )));
    }
    let mut blobs = vec![m.config.digest.clone()];
    blobs.extend(
        m.layers
            .iter()
            .filter(|l| l.urls.as_ref().is_none_or(Vec::is_empty))
            .map(|l| l.digest.clone()),
    );
    let artifact_type = m.artifact_type.clone().or_else(|| {
        (m.config.media_type != media_type::OCI_CONFIG
            && m.config.media_type != media_type::DOCKER_CONFIG)
            .then(|| m.config.media_type.clone())
    });
    Ok(Parsed {
        blobs,
        manifests: Vec::new(),
        subject: m.subject,
        artifact_type,
        annotations: m.annotations,
    })
}

async fn read_manifest_body(reg: &Registry, req: Request) -> Result<bytes::Bytes> {
    let limit = reg.max_manifest_bytes;
    let too_big = |n: String| {
        ApiError::new(
            Code::SizeInvalid,
            format!("manifest too big: {n} bytes exceeds the limit of {limit} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut stream = req.into_body().into_data_stream();
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(Code::ManifestInvalid, format!("reading manifest body: {e}"))
        })?;
        seen += chunk.len();
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > limit {
        // The body was read (up to DRAIN_LIMIT) so the client sees the error, not a reset.
        return Err(too_big(declared.unwrap_or(seen).to_string()));
    }
    Ok(bytes::Bytes::from(buf))
}

/// How much of an oversized manifest is read and dropped before answering.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

async fn put_manifest(reg: &Registry, name: String, r: String, req: Request) -> Result<Response> {
    let mt = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    if !accepted_manifest_type(&mt) {
        return Err(ApiError::new(
            Code::Unsupported,
            format!("manifest media type {mt:?} is not supported"),
        ));
    }
    let tag = if r.contains(':') {
        None
    } else if routes::valid_tag(&r) {
        Some(r.clone())
    } else {
        return Err(ApiError::new(
            Code::ManifestInvalid,
            format!("invalid tag: {r}"),
        ));
    };
    let body = read_manifest_body(reg, req).await?;
    let digest = Digest::sha256_of(&body);
    if tag.is_none() && parse_digest(&r)? != digest {
        return Err(ApiError::new(
            Code::DigestInvalid,
            format!("manifest digest {digest} does not match {r}"),
        ));
    }
    let parsed = parse_manifest(&mt, &body)?;
    let s = reg.storage.clone();
    let (n2, d2, mt2) = (name.clone(), digest.clone(), mt.clone());
    let subject = parsed.subject.as_ref().map(|d| d.digest.to_string());
    let missing =
        blocking(move || store_manifest(&s, &n2, &d2, &mt2, &body, &parsed, tag.as_deref()))
            .await?;
    if let Some(e) = missing {
        return Err(e);
    }
    let mut resp = StatusCode::CREATED.into_response();
    if let Some(subject) = subject {
        set(&mut resp, "OCI-Subject", &subject);
    }
    set(
        &mut resp,
        "Location",
        &format!("/v2/{name}/manifests/{digest}"),
    );
    set(&mut resp, "Docker-Content-Digest", &digest.to_string());
    set(&mut resp, "Content-Length", "0");
    Ok(resp)
}

/// Checks references, stores the manifest and its links; returns the spec error for a
/// missing reference instead of storing.
fn store_manifest(
    s: &Storage,
    name: &str,
    digest: &Digest,
    mt: &str,
    body: &[u8],
    parsed: &Parsed,
    tag: Option<&str>,
) -> std::result::Result<Option<ApiError>, StorageError> {
    for b in &parsed.blobs {
        if s.blob_size(b)?.is_none() {
            return Ok(Some(ApiError::new(
                Code::ManifestBlobUnknown,
                format!("blob unknown to registry: {b}"),
            )));
        }
    }
    for m in &parsed.manifests {
        if s.manifest_media_type(name, m)?.is_none() {
            return Ok(Some(
                ApiError::new(
                    Code::ManifestUnknown,
                    format!("manifest unknown: {m} (referenced by the index)"),
                )
                .with_status(StatusCode::BAD_REQUEST),
            ));
        }
    }
    for b in &parsed.blobs {
        s.link_layer(name, b)?;
    }
    s.put_blob(body)?;
    s.link_manifest(name, digest, mt)?;
    if let Some(t) = tag {
        s.set_tag(name, t, digest)?;
    }
    if let Some(subject) = &parsed.subject {
        let mut desc = Descriptor::new(mt, digest.clone(), body.len() as i64);
        desc.artifact_type = parsed.artifact_type.clone();
        desc.annotations = parsed.annotations.clone();
        s.add_referrer(name, &subject.digest, &desc)?;
    }
    Ok(None)
}

async fn delete_manifest(s: Storage, name: String, r: String) -> Result<Response> {
    let r2 = r.clone();
    let n2 = name.clone();
    let found = blocking(move || match Digest::parse(&r2) {
        Ok(d) => s.delete_manifest(&n2, &d),
        Err(_) => s.delete_tag(&n2, &r2),
    })
    .await?;
    if !found {
        return Err(manifest_unknown(&name, &r));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn referrers(
    s: Storage,
    name: String,
    d: String,
    q: &HashMap<String, String>,
) -> Result<Response> {
    let d = parse_digest(&d)?;
    let mut list = blocking(move || s.referrers(&name, &d)).await?;
    let filter = q.get("artifactType");
    if let Some(at) = filter {
        list.retain(|x| x.artifact_type.as_deref() == Some(at.as_str()));
    }
    let idx = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": list,
    });
    let mut r = json_response(StatusCode::OK, idx.to_string());
    set(&mut r, "Content-Type", media_type::OCI_INDEX);
    if filter.is_some() {
        set(&mut r, "OCI-Filters-Applied", "artifactType");
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_within_the_blob() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=90-200", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(content_range_start("10-19"), Some(10));
        assert_eq!(content_range_start("bytes 0-9/*"), Some(0));
    }
}
