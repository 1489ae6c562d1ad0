//! Pull: resolve a reference to a manifest (choosing a platform from an index), fetch the
//! config, then download layers in parallel into berth's image store. The layer whose parent
//! is already unpacked streams straight into the snapshot (download, digest check,
//! decompression and untar in one pass); layers that finish ahead of their turn wait in the
//! content store and are unpacked from there.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_image::{BlobSpec, ContentError, Image, Store, StoreError, chain_ids};
use berth_oci::{
    Descriptor, Digest, ImageConfig, Index, Manifest, Platform, Reference, media_type,
};
use bytes::Bytes;
use reqwest::Method;
use tokio::sync::{Semaphore, mpsc};

use super::credentials::AuthConfig;
use super::error::{ClientError, describe_error_body};
use super::fetch::{BlobSink, fetch_blob};
use super::progress::{LayerEvent, Progress, ProgressSink};
use super::transport::{Session, status_error};
use super::{Client, blocking};

/// The largest manifest berth accepts from a registry.
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The platform to select from an index; the host's when `None`.
    pub platform: Option<Platform>,
    /// Explicit credentials (from `X-Registry-Auth`); docker's config.json otherwise.
    pub auth: Option<AuthConfig>,
}

/// What a pull produced.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// The image as recorded in the store.
    pub image: Image,
    /// The digest of the (platform) manifest.
    pub manifest_digest: Digest,
    /// Whether the image was already present under that reference.
    pub up_to_date: bool,
}

/// A manifest as fetched: digest, media type, bytes.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The digest of the bytes.
    pub digest: Digest,
    /// The media type the registry declared (or the document did).
    pub media_type: String,
    /// The raw document.
    pub bytes: Vec<u8>,
}

fn short_id(d: &Digest) -> String {
    d.hex().chars().take(12).collect()
}

impl Client {
    /// Fetches manifest `reference` (a tag or `sha256:` digest) from the session's repository,
    /// verifying a digest reference against the bytes.
    pub async fn fetch_manifest(
        &self,
        session: &Session,
        reference: &str,
        shown: &str,
    ) -> Result<FetchedManifest, ClientError> {
        let url = session.url(&format!("manifests/{reference}"));
        let rb = session
            .request(Method::GET, &url)
            .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT);
        let resp = session.send("fetch manifest", rb).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(ClientError::NotFound {
                message: format!(
                    "manifest for {shown} not found: {}",
                    describe_error_body(&body)
                ),
            });
        }
        if !resp.status().is_success() {
            return Err(status_error("fetch manifest", resp).await);
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES as u64)
        {
            return Err(ClientError::format(
                format!("manifest {shown}"),
                io::Error::other("manifest exceeds 4 MiB"),
            ));
        }
        let header_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let bytes = resp.bytes().await.map_err(|source| ClientError::Http {
            op: "read manifest",
            url: url.clone(),
            source,
        })?;
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ClientError::format(
                format!("manifest {shown}"),
                io::Error::other("manifest exceeds 4 MiB"),
            ));
        }
        let digest = Digest::sha256_of(&bytes);
        if let Ok(expected) = Digest::parse(reference)
            && expected != digest
        {
            return Err(ClientError::DigestMismatch {
                digest: expected,
                actual: digest,
            });
        }
        let media_type = manifest_media_type(&header_type, &bytes).ok_or_else(|| {
            ClientError::UnsupportedMediaType {
                what: format!("manifest {shown}"),
                media_type: header_type.clone(),
            }
        })?;
        Ok(FetchedManifest {
            digest,
            media_type,
            bytes: bytes.to_vec(),
        })
    }

    /// Resolves `reference` to an image manifest for `platform`, following an index.
    pub async fn resolve_image_manifest(
        &self,
        session: &Session,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<(FetchedManifest, Manifest), ClientError> {
        let tag_or_digest = match (reference.digest(), reference.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        let shown = reference.familiar();
        let mut fetched = self.fetch_manifest(session, &tag_or_digest, &shown).await?;
        if media_type::is_index(&fetched.media_type) {
            let idx = Index::from_json(&fetched.bytes)
                .map_err(|e| ClientError::format(format!("index {shown}"), e))?;
            let entry = idx
                .select(platform)
                .ok_or_else(|| ClientError::NoMatchingPlatform {
                    platform: platform.to_string(),
                })?;
            let d = entry.digest.to_string();
            fetched = self.fetch_manifest(session, &d, &shown).await?;
            if !media_type::is_manifest(&fetched.media_type) {
                return Err(ClientError::UnsupportedMediaType {
                    what: format!("manifest {shown}@{d}"),
                    media_type: fetched.media_type,
                });
            }
        }
        let m = Manifest::from_json(&fetched.bytes)
            .map_err(|e| ClientError::format(format!("manifest {shown}"), e))?;
        Ok((fetched, m))
    }

    /// Fetches a small blob (a config) whole, verifying its digest.
    pub async fn fetch_small_blob(
        &self,
        session: &Session,
        desc: &Descriptor,
    ) -> Result<Vec<u8>, ClientError> {
        let mut sink = VecSink(Vec::new());
        fetch_blob(
            session,
            desc,
            &mut sink,
            self.config().max_retries,
            &short_id(&desc.digest),
            &super::progress::discard(),
        )
        .await?;
        let actual = Digest::sha256_of(&sink.0);
        if actual != desc.digest {
            return Err(ClientError::DigestMismatch {
                digest: desc.digest.clone(),
                actual,
            });
        }
        Ok(sink.0)
    }

    /// Pulls `reference` into `store`: Docker's `docker pull`.
    pub async fn pull(
        &self,
        store: Arc<Store>,
        reference: &Reference,
        opts: &PullOptions,
        progress: ProgressSink,
    ) -> Result<PullOutcome, ClientError> {
        let reference = reference.clone().with_default_tag();
        let shown_tag = reference
            .tag()
            .map(str::to_string)
            .or_else(|| reference.digest().map(|d| d.to_string()))
            .unwrap_or_default();
        progress(Progress::Status {
            id: Some(shown_tag),
            status: format!("Pulling from {}", reference.path()),
        });
        let platform = opts.platform.clone().unwrap_or_else(Platform::host);
        let (session, fetched, manifest) = self
            .resolve_for_pull(&reference, &platform, opts.auth.as_ref())
            .await?;
        check_media_types(&manifest)?;
        let config_bytes = self.fetch_small_blob(&session, &manifest.config).await?;
        let config = ImageConfig::from_json(&config_bytes).map_err(|e| {
            ClientError::format(format!("image config {}", manifest.config.digest), e)
        })?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(ClientError::format(
                format!("image config {}", manifest.config.digest),
                io::Error::other("layer count differs from the manifest's"),
            ));
        }
        let existing = {
            let (s, name) = (store.clone(), reference.to_string());
            blocking(move || Ok::<_, ClientError>(s.resolve(&name).ok())).await?
        };
        let up_to_date = existing.is_some_and(|i| i.id == manifest.config.digest);
        let _lease = store.lease();
        self.fetch_layers(
            &store,
            &session,
            &manifest,
            &config.rootfs.diff_ids,
            up_to_date,
            &progress,
        )
        .await?;
        let mut refs = vec![reference.with_digest(fetched.digest.clone())];
        if reference.digest().is_none() {
            refs.insert(0, reference.clone());
        }
        let image = {
            let (s, md) = (store.clone(), fetched.digest.clone());
            blocking(move || s.create_image(&config_bytes, Some(&md), &refs)).await?
        };
        progress(Progress::status(format!("Digest: {}", fetched.digest)));
        progress(Progress::status(if up_to_date {
            format!("Status: Image is up to date for {}", reference.familiar())
        } else {
            format!(
                "Status: Downloaded newer image for {}",
                reference.familiar()
            )
        }));
        Ok(PullOutcome {
            image,
            manifest_digest: fetched.digest,
            up_to_date,
        })
    }

    /// Finds the manifest on the first mirror that has it (Docker Hub only), else on the
    /// registry itself; returns the session that found it.
    async fn resolve_for_pull(
        &self,
        reference: &Reference,
        platform: &Platform,
        auth: Option<&AuthConfig>,
    ) -> Result<(Session, FetchedManifest, Manifest), ClientError> {
        for mirror in self
            .mirror_sessions(reference.domain(), reference.path())
            .await
        {
            match self
                .resolve_image_manifest(&mirror, reference, platform)
                .await
            {
                Ok((f, m)) => return Ok((mirror, f, m)),
                Err(e) => tracing::warn!(
                    mirror = %mirror.endpoint.base, error = %e,
                    "mirror cannot serve the image; trying the next endpoint"
                ),
            }
        }
        let session = self
            .session(reference.domain(), reference.path(), "pull", &[], auth)
            .await?;
        let (f, m) = self
            .resolve_image_manifest(&session, reference, platform)
            .await?;
        Ok((session, f, m))
    }

    /// Downloads and unpacks every layer not yet in the store, in parallel, in order.
    async fn fetch_layers(
        &self,
        store: &Arc<Store>,
        session: &Session,
        manifest: &Manifest,
        diff_ids: &[Digest],
        quiet: bool,
        progress: &ProgressSink,
    ) -> Result<(), ClientError> {
        let chains = chain_ids(diff_ids);
        let mut present = Vec::with_capacity(chains.len());
        for c in &chains {
            let (s, c) = (store.clone(), c.clone());
            present.push(blocking(move || s.layer(&c)).await?.is_some());
        }
        let emit = |d: &Digest, event| {
            if !quiet {
                progress(Progress::Layer {
                    id: short_id(d),
                    event,
                })
            }
        };
        for (l, p) in manifest.layers.iter().zip(&present) {
            emit(
                &l.digest,
                if *p {
                    LayerEvent::AlreadyExists
                } else {
                    LayerEvent::PullingFsLayer
                },
            );
        }
        let limit = self.config().max_concurrent_downloads.max(1);
        let semaphore = Arc::new(Semaphore::new(limit));
        let applied = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for (i, layer) in manifest.layers.iter().enumerate() {
            if present[i] {
                applied.fetch_max(i + 1, Ordering::SeqCst);
                tasks.push(None);
                continue;
            }
            if i >= limit {
                emit(&layer.digest, LayerEvent::Waiting);
            }
            let job = LayerJob {
                client: self.clone(),
                store: store.clone(),
                session: session.clone(),
                layer: layer.clone(),
                index: i,
                parent: i.checked_sub(1).map(|p| chains[p].clone()),
                diff_id: diff_ids[i].clone(),
                applied: applied.clone(),
                progress: progress.clone(),
            };
            let sem = semaphore.clone();
            tasks.push(Some(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                job.run().await
            })));
        }
        let abort_all = |tasks: &[Option<tokio::task::JoinHandle<_>>]| {
            for t in tasks.iter().flatten() {
                t.abort();
            }
        };
        for i in 0..tasks.len() {
            let Some(task) = tasks[i].take() else {
                continue;
            };
            let done = match task.await {
                Ok(r) => r,
                Err(e) => Err(ClientError::Task(e.to_string())),
            };
            let done = match done {
                Ok(d) => d,
                Err(e) => {
                    abort_all(&tasks);
                    return Err(e);
                }
            };
            let layer = &manifest.layers[i];
            if let LayerDone::Downloaded = done {
                let parent = i.checked_sub(1).map(|p| chains[p].clone());
                let r =
                    unpack_from_content(store, layer, parent, diff_ids[i].clone(), progress).await;
                if let Err(e) = r {
                    abort_all(&tasks);
                    return Err(e);
                }
            }
            applied.store(i + 1, Ordering::SeqCst);
            emit(&layer.digest, LayerEvent::PullComplete);
        }
        Ok(())
    }

    /// Lists every tag of `reference`'s repository, following `Link` pagination.
    pub async fn list_tags(
        &self,
        reference: &Reference,
        auth: Option<&AuthConfig>,
    ) -> Result<Vec<String>, ClientError> {
        let session = self
            .session(reference.domain(), reference.path(), "pull", &[], auth)
            .await?;
        let mut url = session.url("tags/list");
        let mut tags = Vec::new();
        loop {
            let resp = session
                .send("list tags", session.request(Method::GET, &url))
                .await?;
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                let body = resp.bytes().await.unwrap_or_default();
                return Err(ClientError::NotFound {
                    message: format!(
                        "repository {} not found: {}",
                        reference.familiar_name(),
                        describe_error_body(&body)
                    ),
                });
            }
            if !resp.status().is_success() {
                return Err(status_error("list tags", resp).await);
            }
            let next = resp
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_link_next);
            #[derive(serde::Deserialize)]
            struct TagList {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let page: TagList = resp.json().await.map_err(|source| ClientError::Http {
                op: "read tags from",
                url: url.clone(),
                source,
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => url = session.resolve(&n),
                None => break,
            }
        }
        Ok(tags)
    }

    /// Pulls every tag of `reference`'s repository (`docker pull -a`).
    pub async fn pull_all_tags(
        &self,
        store: Arc<Store>,
        reference: &Reference,
        opts: &PullOptions,
        progress: ProgressSink,
    ) -> Result<Vec<PullOutcome>, ClientError> {
        let mut out = Vec::new();
        for t in self.list_tags(reference, opts.auth.as_ref()).await? {
            out.push(
                self.pull(
                    store.clone(),
                    &reference.with_tag(&t),
                    opts,
                    progress.clone(),
                )
                .await?,
            );
        }
        Ok(out)
    }
}

/// `<url>; rel="next"` -> url.
fn parse_link_next(v: &str) -> Option<String> {
    v.split(',').find_map(|part| {
        let (u, rest) = part.split_once(';')?;
        rest.contains("rel=\"next\"").then(|| {
            u.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// The manifest's media type from the header, else from the document's `mediaType`, else
/// guessed from its shape; `None` when it is not a manifest or index.
fn manifest_media_type(header: &str, body: &[u8]) -> Option<String> {
    let known = |mt: &str| media_type::is_manifest(mt) || media_type::is_index(mt);
    if known(header) {
        return Some(header.to_string());
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(mt) = v.get("mediaType").and_then(|m| m.as_str()) {
        return known(mt).then(|| mt.to_string());
    }
    if !header.is_empty() && header != "application/json" && header != "text/plain" {
        return None;
    }
    if v.get("manifests").is_some() {
        Some(media_type::OCI_INDEX.to_string())
    } else if v.get("config").is_some() {
        Some(media_type::OCI_MANIFEST.to_string())
    } else {
        None
    }
}

fn check_media_types(m: &Manifest) -> Result<(), ClientError> {
    if !media_type::is_config(&m.config.media_type) {
        return Err(ClientError::UnsupportedMediaType {
            what: format!("config {}", m.config.digest),
            media_type: m.config.media_type.clone(),
        });
    }
    for l in &m.layers {
        if media_type::layer_compression(&l.media_type).is_none()
            || media_type::is_foreign_layer(&l.media_type)
        {
            return Err(ClientError::UnsupportedMediaType {
                what: format!("layer {}", l.digest),
                media_type: l.media_type.clone(),
            });
        }
    }
    Ok(())
}

/// How a layer job ended.
enum LayerDone {
    /// Streamed straight into a snapshot.
    Applied,
    /// Verified into the content store; still to unpack.
    Downloaded,
}

struct LayerJob {
    client: Client,
    store: Arc<Store>,
    session: Session,
    layer: Descriptor,
    index: usize,
    parent: Option<Digest>,
    diff_id: Digest,
    applied: Arc<AtomicUsize>,
    progress: ProgressSink,
}

impl LayerJob {
    fn emit(&self, event: LayerEvent) {
        (self.progress)(Progress::Layer {
            id: short_id(&self.layer.digest),
            event,
        });
    }

    async fn run(self) -> Result<LayerDone, ClientError> {
        let (s, d) = (self.store.clone(), self.layer.digest.clone());
        if blocking(move || s.content().stat(&d)).await?.is_some() {
            self.emit(LayerEvent::DownloadComplete);
            return Ok(LayerDone::Downloaded);
        }
        if self.applied.load(Ordering::SeqCst) == self.index {
            self.stream_into_snapshot().await?;
            return Ok(LayerDone::Applied);
        }
        self.download_to_content().await?;
        Ok(LayerDone::Downloaded)
    }

    /// Download, verification, decompression and untar in one pass.
    async fn stream_into_snapshot(&self) -> Result<(), ClientError> {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
        let store = self.store.clone();
        let spec = BlobSpec {
            digest: Some(self.layer.digest.clone()),
            size: u64::try_from(self.layer.size).ok(),
            media_type: Some(self.layer.media_type.clone()),
        };
        let (parent, diff_id) = (self.parent.clone(), self.diff_id.clone());
        let unpack = tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                rx,
                current: Bytes::new(),
            };
            store.apply_layer_stream(parent.as_ref(), reader, &spec, Some(&diff_id))
        });
        let mut sink = ChannelSink {
            tx,
            digester: berth_oci::Digester::new(),
            closed: false,
        };
        let id = short_id(&self.layer.digest);
        let fetched = fetch_blob(
            &self.session,
            &self.layer,
            &mut sink,
            self.client.config().max_retries,
            &id,
            &self.progress,
        )
        .await;
        if let Err(e) = &fetched {
            let _ = sink.tx.send(Err(io::Error::other(e.to_string()))).await;
        }
        let ChannelSink { tx, digester, .. } = sink;
        drop(tx);
        self.emit(LayerEvent::VerifyingChecksum);
        let unpacked = unpack.await.map_err(|e| ClientError::Task(e.to_string()))?;
        fetched?;
        let actual = digester.finish();
        if actual != self.layer.digest {
            return Err(ClientError::DigestMismatch {
                digest: self.layer.digest.clone(),
                actual,
            });
        }
        unpacked.map_err(|e| store_error(e, &self.layer.digest))?;
        self.emit(LayerEvent::DownloadComplete);
        let total = u64::try_from(self.layer.size).unwrap_or(0);
        self.emit(LayerEvent::Extracting {
            current: total,
            total,
        });
        Ok(())
    }

    /// Downloads into a content-store ingest; the digest is checked before it is kept.
    async fn download_to_content(&self) -> Result<(), ClientError> {
        let ingest = self.store.content().begin_ingest()?;
        let mut sink = IngestSink(Some(ingest));
        let id = short_id(&self.layer.digest);
        fetch_blob(
            &self.session,
            &self.layer,
            &mut sink,
            self.client.config().max_retries,
            &id,
            &self.progress,
        )
        .await?;
        self.emit(LayerEvent::VerifyingChecksum);
        let ingest = sink.0.take();
        let (d, size) = (
            self.layer.digest.clone(),
            u64::try_from(self.layer.size).ok(),
        );
        let d2 = d.clone();
        let committed = tokio::task::spawn_blocking(move || match ingest {
            Some(i) => i.commit(Some(&d2), size),
            None => Err(ContentError::NotFound { digest: d2 }),
        })
        .await
        .map_err(|e| ClientError::Task(e.to_string()))?;
        committed.map_err(|e| content_error(e, &d))?;
        self.emit(LayerEvent::DownloadComplete);
        Ok(())
    }
}

async fn unpack_from_content(
    store: &Arc<Store>,
    layer: &Descriptor,
    parent: Option<Digest>,
    diff_id: Digest,
    progress: &ProgressSink,
) -> Result<(), ClientError> {
    let total = u64::try_from(layer.size).unwrap_or(0);
    progress(Progress::Layer {
        id: short_id(&layer.digest),
        event: LayerEvent::Extracting { current: 0, total },
    });
    let (s, l) = (store.clone(), layer.clone());
    let r = tokio::task::spawn_blocking(move || {
        s.apply_layer_blob(
            parent.as_ref(),
            &l.digest,
            Some(&l.media_type),
            Some(&diff_id),
        )
    })
    .await
    .map_err(|e| ClientError::Task(e.to_string()))?;
    r.map_err(|e| store_error(e, &layer.digest))?;
    progress(Progress::Layer {
        id: short_id(&layer.digest),
        event: LayerEvent::Extracting {
            current: total,
            total,
        },
    });
    Ok(())
}

fn content_error(e: ContentError, digest: &Digest) -> ClientError {
    match e {
        ContentError::DigestMismatch { actual, .. } => ClientError::DigestMismatch {
            digest: digest.clone(),
            actual,
        },
        ContentError::SizeMismatch {
            expected, actual, ..
        } => ClientError::SizeMismatch {
            digest: digest.clone(),
            expected,
            actual,
        },
        e => ClientError::Content(e),
    }
}

fn store_error(e: StoreError, digest: &Digest) -> ClientError {
    match e {
        StoreError::Content(c) => content_error(c, digest),
        e => ClientError::Store(e),
    }
}

struct VecSink(Vec<u8>);

impl BlobSink for VecSink {
    async fn accept(&mut self, b: Bytes) -> Result<(), ClientError> {
        if self.0.len() + b.len() > MAX_MANIFEST_BYTES {
            return Err(ClientError::format(
                "config blob",
                io::Error::other("larger than 4 MiB"),
            ));
        }
        self.0.extend_from_slice(&b);
        Ok(())
    }
}

struct IngestSink(Option<berth_image::content::Ingest>);

impl BlobSink for IngestSink {
    async fn accept(&mut self, b: Bytes) -> Result<(), ClientError> {
        use std::io::Write;
        let Some(i) = self.0.as_mut() else {
            return Err(ClientError::Task("ingest already committed".into()));
        };
        i.write_all(&b).map_err(|source| ClientError::Io {
            op: "write",
            path: "content ingest".into(),
            source,
        })
    }
}

/// Feeds the unpacker and hashes what it sends; when the unpacker stops early (corrupt
/// data), keeps hashing the rest so the error can name a digest mismatch.
struct ChannelSink {
    tx: mpsc::Sender<io::Result<Bytes>>,
    digester: berth_oci::Digester,
    closed: bool,
}

impl BlobSink for ChannelSink {
    async fn accept(&mut self, b: Bytes) -> Result<(), ClientError> {
        self.digester.update(&b);
        if !self.closed && self.tx.send(Ok(b)).await.is_err() {
            self.closed = true;
        }
        Ok(())
    }
}

/// The blocking side of the stream: the unpacker reads downloaded bytes from the channel.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_and_media_type_parsing() {
        assert_eq!(
            parse_link_next(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(parse_link_next("</x>; rel=\"prev\""), None);
        assert_eq!(
            manifest_media_type(media_type::DOCKER_MANIFEST, b"{}").as_deref(),
            Some(media_type::DOCKER_MANIFEST)
        );
        assert_eq!(
            manifest_media_type("application/json", br#"{"manifests":[]}"#).as_deref(),
            Some(media_type::OCI_INDEX)
        );
        assert_eq!(
            manifest_media_type("application/x-foo", br#"{"config":{}}"#),
            None
        );
    }
}
