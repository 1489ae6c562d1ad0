//! Pull: resolve a reference to a manifest (choosing a platform from an index), fetch the
//! config, then download layers in parallel into berth's image store. Every layer streams
//! straight into a staged snapshot of its own (download, digest check, decompression and
//! untar in one pass, the raw bytes kept in the content store); staged layers are committed
//! in order, each on top of its parent, as soon as the parent is.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_image::store::StagedLayer;
use berth_image::{BlobSpec, ContentError, Image, Store, StoreError, chain_ids};
use berth_oci::{
    Descriptor, Digest, ImageConfig, Index, Manifest, Platform, Reference, media_type,
};
use bytes::Bytes;
use reqwest::Method;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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

    /// Downloads and unpacks every layer not yet in the store: up to the download limit at
    /// once, each one unpacking into a staged snapshot while it streams, then committed in
    /// order on top of its parent.
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
        let cancel = CancellationToken::new();
        // Dropping the pull (a client that went away) stops the layer jobs too.
        let _stop_jobs = cancel.clone().drop_guard();
        let mut tasks = Vec::new();
        for (i, layer) in manifest.layers.iter().enumerate() {
            if present[i] {
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
                diff_id: diff_ids[i].clone(),
                cancel: cancel.clone(),
                progress: progress.clone(),
            };
            let sem = semaphore.clone();
            tasks.push(Some(tokio::spawn(async move {
                let _permit = tokio::select! {
                    p = sem.acquire_owned() => p,
                    _ = job.cancel.cancelled() => return Err(cancelled()),
                };
                job.run().await
            })));
        }
        for i in 0..tasks.len() {
            let Some(task) = tasks[i].take() else {
                continue;
            };
            let layer = &manifest.layers[i];
            let parent = i.checked_sub(1).map(|p| chains[p].clone());
            if let Err(e) = commit_staged(task, parent, &layer.digest).await {
                cancel.cancel();
                discard_staged(&mut tasks[i + 1..]).await;
                return Err(e);
            }
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

/// The error a layer job ends with when the pull stopped for another reason.
fn cancelled() -> ClientError {
    ClientError::Task("pull cancelled".into())
}

/// Waits for a layer job and commits what it staged on top of `parent`.
async fn commit_staged(
    task: JoinHandle<Result<StagedLayer, ClientError>>,
    parent: Option<Digest>,
    digest: &Digest,
) -> Result<(), ClientError> {
    let staged = task.await.map_err(|e| ClientError::Task(e.to_string()))??;
    let committed = blocking(move || Ok::<_, ClientError>(staged.commit(parent.as_ref()))).await?;
    committed.map_err(|e| store_error(e, digest))?;
    Ok(())
}

/// After a failure: waits for the remaining (cancelled) layer jobs, so their snapshots and
/// ingests are gone before the pull reports the error, and removes what they staged.
async fn discard_staged(tasks: &mut [Option<JoinHandle<Result<StagedLayer, ClientError>>>]) {
    for task in tasks.iter_mut().filter_map(Option::take) {
        if let Ok(Ok(staged)) = task.await {
            let _ = blocking(move || {
                drop(staged);
                Ok::<_, ClientError>(())
            })
            .await;
        }
    }
}

/// Downloads one layer and unpacks it into a staged snapshot.
struct LayerJob {
    client: Client,
    store: Arc<Store>,
    session: Session,
    layer: Descriptor,
    diff_id: Digest,
    cancel: CancellationToken,
    progress: ProgressSink,
}

impl LayerJob {
    fn emit(&self, event: LayerEvent) {
        (self.progress)(Progress::Layer {
            id: short_id(&self.layer.digest),
            event,
        });
    }

    async fn run(self) -> Result<StagedLayer, ClientError> {
        let (s, d) = (self.store.clone(), self.layer.digest.clone());
        if blocking(move || s.stat_blob(&d)).await?.is_some() {
            self.emit(LayerEvent::DownloadComplete);
            return self.stage_from_content().await;
        }
        self.stream_into_staging().await
    }

    /// Download, verification, decompression and untar in one pass, into a staged snapshot.
    async fn stream_into_staging(&self) -> Result<StagedLayer, ClientError> {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(16);
        let store = self.store.clone();
        let spec = BlobSpec {
            digest: Some(self.layer.digest.clone()),
            size: u64::try_from(self.layer.size).ok(),
            media_type: Some(self.layer.media_type.clone()),
        };
        let diff_id = self.diff_id.clone();
        let downloaded = Arc::new(AtomicBool::new(false));
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
            meter: ExtractMeter::new(
                short_id(&self.layer.digest),
                u64::try_from(self.layer.size).unwrap_or(0),
                downloaded.clone(),
                self.progress.clone(),
            ),
        };
        let unpack = tokio::task::spawn_blocking(move || {
            store.stage_layer_stream(reader, &spec, Some(&diff_id))
        });
        let mut sink = ChannelSink {
            tx,
            digester: berth_oci::Digester::new(),
            closed: false,
        };
        let id = short_id(&self.layer.digest);
        let fetched = tokio::select! {
            r = fetch_blob(
                &self.session,
                &self.layer,
                &mut sink,
                self.client.config().max_retries,
                &id,
                &self.progress,
            ) => r,
            _ = self.cancel.cancelled() => Err(cancelled()),
        };
        if let Err(e) = &fetched {
            let _ = sink.tx.send(Err(io::Error::other(e.to_string()))).await;
        }
        let ChannelSink { tx, digester, .. } = sink;
        drop(tx);
        if fetched.is_ok() {
            self.emit(LayerEvent::VerifyingChecksum);
            self.emit(LayerEvent::DownloadComplete);
            downloaded.store(true, Ordering::SeqCst);
        }
        // Always waited for, so a failed unpack has removed its snapshot and ingest before
        // the pull reports the error.
        let staged = unpack.await.map_err(|e| ClientError::Task(e.to_string()))?;
        fetched?;
        let actual = digester.finish();
        if actual != self.layer.digest {
            return Err(ClientError::DigestMismatch {
                digest: self.layer.digest.clone(),
                actual,
            });
        }
        let staged = staged.map_err(|e| store_error(e, &self.layer.digest))?;
        let total = u64::try_from(self.layer.size).unwrap_or(0);
        self.emit(LayerEvent::Extracting {
            current: total,
            total,
        });
        Ok(staged)
    }

    /// Unpacks a blob an earlier, interrupted pull left in the content store.
    async fn stage_from_content(&self) -> Result<StagedLayer, ClientError> {
        let total = u64::try_from(self.layer.size).unwrap_or(0);
        self.emit(LayerEvent::Extracting { current: 0, total });
        let (s, l, diff_id) = (self.store.clone(), self.layer.clone(), self.diff_id.clone());
        let staged = tokio::task::spawn_blocking(move || {
            s.stage_layer_blob(&l.digest, Some(&l.media_type), Some(&diff_id))
        })
        .await
        .map_err(|e| ClientError::Task(e.to_string()))?
        .map_err(|e| store_error(e, &self.layer.digest))?;
        self.emit(LayerEvent::Extracting {
            current: total,
            total,
        });
        Ok(staged)
    }
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
    meter: ExtractMeter,
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
        self.meter.consumed(n as u64);
        Ok(n)
    }
}

/// Emits `Extracting` as the unpacker consumes the blob, once the download is complete (until
/// then the unpacker keeps pace with the download and `Downloading` tells the story); every 1%
/// of the blob, at least every 64 KiB.
struct ExtractMeter {
    id: String,
    total: u64,
    current: u64,
    last: u64,
    step: u64,
    downloaded: Arc<AtomicBool>,
    progress: ProgressSink,
}

impl ExtractMeter {
    fn new(id: String, total: u64, downloaded: Arc<AtomicBool>, progress: ProgressSink) -> Self {
        ExtractMeter {
            id,
            total,
            current: 0,
            last: 0,
            step: (total / 100).max(64 * 1024),
            downloaded,
            progress,
        }
    }

    fn consumed(&mut self, n: u64) {
        self.current += n;
        if self.current - self.last < self.step || !self.downloaded.load(Ordering::Relaxed) {
            return;
        }
        self.last = self.current;
        (self.progress)(Progress::Layer {
            id: self.id.clone(),
            event: LayerEvent::Extracting {
                current: self.current,
                total: self.total,
            },
        });
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
