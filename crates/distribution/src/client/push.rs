//! Push: send an image from berth's store to a registry as Docker does: a HEAD check per
//! blob (`Layer already exists`), cross-repository mounts (`Mounted from ...`), monolithic
//! or chunked uploads, then the manifest and the `<tag>: digest: ... size: N` line.

use std::path::PathBuf;
use std::sync::Arc;

use berth_image::{LayerInfo, Store};
use berth_oci::{Descriptor, Digest, Manifest, Reference, media_type};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode, Url};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use super::credentials::AuthConfig;
use super::error::ClientError;
use super::progress::{LayerEvent, Progress, ProgressSink};
use super::transport::{Session, status_error};
use super::{Client, blocking};

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Explicit credentials (from `X-Registry-Auth`); docker's config.json otherwise.
    pub auth: Option<AuthConfig>,
}

/// What a push produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// The tag (or digest) pushed.
    pub tag: String,
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest size.
    pub size: u64,
}

/// One blob to send: where its bytes are and what it is.
#[derive(Debug, Clone)]
pub struct BlobSource {
    /// The descriptor (digest, size, media type).
    pub desc: Descriptor,
    /// Bytes held in memory (configs), else read from `path`.
    pub data: Option<Bytes>,
    /// The file holding the blob.
    pub path: Option<PathBuf>,
}

fn short_id(d: &Digest) -> String {
    d.hex().chars().take(12).collect()
}

/// How a blob reached the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobPushed {
    /// It was there already.
    Exists,
    /// Mounted from another repository.
    Mounted(String),
    /// Uploaded.
    Uploaded,
}

impl Client {
    /// Pushes the image `reference` names in `store` to its registry: `docker push`.
    pub async fn push(
        &self,
        store: Arc<Store>,
        reference: &Reference,
        opts: &PushOptions,
        progress: ProgressSink,
    ) -> Result<PushOutcome, ClientError> {
        let reference = reference.clone().with_default_tag();
        let (image, layers) = {
            let (s, name) = (store.clone(), reference.to_string());
            blocking(move || {
                let img = s.resolve(&name)?;
                let layers = s.image_layers(&img)?;
                Ok::<_, berth_image::StoreError>((img, layers))
            })
            .await?
        };
        let (manifest_bytes, manifest_type) = {
            let (s, img, l) = (store.clone(), image.clone(), layers.clone());
            blocking(move || Ok::<_, ClientError>(manifest_for(&s, &img, &l))).await??
        };
        let manifest = Manifest::from_json(&manifest_bytes)
            .map_err(|e| ClientError::format("manifest to push", e))?;
        progress(Progress::status(format!(
            "The push refers to repository [{}]",
            reference.name()
        )));
        let mount_sources: Vec<String> = image
            .repo_tags
            .iter()
            .chain(image.repo_digests.iter())
            .filter(|r| r.domain() == reference.domain() && r.path() != reference.path())
            .map(|r| r.path().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let scopes: Vec<String> = mount_sources
            .iter()
            .map(|p| format!("repository:{p}:pull"))
            .collect();
        let session = self
            .session(
                reference.domain(),
                reference.path(),
                "pull,push",
                &scopes,
                opts.auth.as_ref(),
            )
            .await?;
        let mut sources = Vec::new();
        for (l, info) in manifest.layers.iter().zip(&layers) {
            // A loaded layer may keep only a tar-split: the store writes its blob back first.
            let path = match info.blob.as_ref() {
                Some(b) => {
                    let (s, d) = (store.clone(), b.digest.clone());
                    Some(blocking(move || s.blob_file(&d)).await?)
                }
                None => None,
            };
            sources.push(BlobSource {
                desc: l.clone(),
                data: None,
                path,
            });
        }
        self.push_layers(&session, &sources, &mount_sources, &progress)
            .await?;
        let config = BlobSource {
            desc: manifest.config.clone(),
            data: Some(Bytes::from(image.config_bytes.clone())),
            path: None,
        };
        self.push_blob(
            &session,
            &config,
            &mount_sources,
            &super::progress::discard(),
        )
        .await?;
        let tag = reference
            .tag()
            .map(str::to_string)
            .or_else(|| reference.digest().map(|d| d.to_string()))
            .unwrap_or_else(|| "latest".into());
        let digest = self
            .put_manifest(&session, &tag, &manifest_type, manifest_bytes.clone())
            .await?;
        let size = manifest_bytes.len() as u64;
        progress(Progress::Pushed {
            tag: tag.clone(),
            digest: digest.to_string(),
            size,
        });
        Ok(PushOutcome { tag, digest, size })
    }

    async fn push_layers(
        &self,
        session: &Session,
        sources: &[BlobSource],
        mount_sources: &[String],
        progress: &ProgressSink,
    ) -> Result<(), ClientError> {
        let emit = |d: &Digest, event| {
            progress(Progress::Layer {
                id: short_id(d),
                event,
            })
        };
        let limit = self.config().max_concurrent_uploads.max(1);
        for s in sources.iter().rev() {
            emit(&s.desc.digest, LayerEvent::Preparing);
        }
        for s in sources.iter().rev().skip(limit) {
            emit(&s.desc.digest, LayerEvent::Waiting);
        }
        let sem = Arc::new(Semaphore::new(limit));
        let mut tasks = Vec::new();
        for s in sources.iter().rev() {
            let (client, session, s, mounts, progress, sem) = (
                self.clone(),
                session.clone(),
                s.clone(),
                mount_sources.to_vec(),
                progress.clone(),
                sem.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                let how = client.push_blob(&session, &s, &mounts, &progress).await?;
                let event = match how {
                    BlobPushed::Exists => LayerEvent::LayerAlreadyExists,
                    BlobPushed::Mounted(from) => LayerEvent::MountedFrom { repo: from },
                    BlobPushed::Uploaded => LayerEvent::Pushed,
                };
                progress(Progress::Layer {
                    id: short_id(&s.desc.digest),
                    event,
                });
                Ok::<_, ClientError>(())
            }));
        }
        let mut first_err = None;
        for t in tasks {
            let r = t
                .await
                .map_err(|e| ClientError::Task(e.to_string()))
                .and_then(|r| r);
            if let Err(e) = r
                && first_err.is_none()
            {
                first_err = Some(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Makes sure the registry has blob `src` in the session's repository: HEAD, then a
    /// mount from each of `mount_from`, then an upload.
    pub async fn push_blob(
        &self,
        session: &Session,
        src: &BlobSource,
        mount_from: &[String],
        progress: &ProgressSink,
    ) -> Result<BlobPushed, ClientError> {
        let d = &src.desc.digest;
        let head = session
            .send(
                "check blob",
                session.request(Method::HEAD, &session.url(&format!("blobs/{d}"))),
            )
            .await?;
        if head.status().is_success() {
            return Ok(BlobPushed::Exists);
        }
        let mut location = None;
        for from in mount_from {
            let url = session.url("blobs/uploads/");
            let rb = session
                .request(Method::POST, &url)
                .query(&[("mount", d.to_string()), ("from", from.clone())])
                .header(reqwest::header::CONTENT_LENGTH, "0");
            let resp = session.send("mount blob", rb).await?;
            if resp.status() == StatusCode::CREATED {
                return Ok(BlobPushed::Mounted(from.clone()));
            }
            if resp.status() == StatusCode::ACCEPTED {
                location = upload_location(session, &resp);
                break;
            }
        }
        let mut failures = 0;
        loop {
            let loc = match location.take() {
                Some(l) => l,
                None => self.start_upload(session).await?,
            };
            let sent = match self.config().upload_chunk_size {
                Some(chunk) if chunk > 0 => {
                    self.upload_chunked(session, src, loc, chunk, progress)
                        .await
                }
                _ => self.upload_monolithic(session, src, loc, progress).await,
            };
            match sent {
                Ok(()) => return Ok(BlobPushed::Uploaded),
                // A broken connection: start a fresh upload session, as Docker does.
                Err(e @ ClientError::Http { .. }) if failures < self.config().max_retries => {
                    failures += 1;
                    tracing::warn!(digest = %d, error = %e, "blob upload broke; retrying");
                    progress(Progress::Layer {
                        id: short_id(d),
                        event: LayerEvent::Retrying { seconds: 1 },
                    });
                    tokio::time::sleep(std::time::Duration::from_millis(200 << failures.min(5)))
                        .await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn start_upload(&self, session: &Session) -> Result<String, ClientError> {
        let rb = session
            .request(Method::POST, &session.url("blobs/uploads/"))
            .header(reqwest::header::CONTENT_LENGTH, "0");
        let resp = session.send("start upload", rb).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error("start upload", resp).await);
        }
        upload_location(session, &resp).ok_or_else(|| ClientError::Status {
            op: "start upload",
            url: session.url("blobs/uploads/"),
            status: 202,
            message: "no Location header".into(),
        })
    }

    async fn upload_monolithic(
        &self,
        session: &Session,
        src: &BlobSource,
        location: String,
        progress: &ProgressSink,
    ) -> Result<(), ClientError> {
        let size = u64::try_from(src.desc.size).unwrap_or(0);
        let body = match (&src.data, &src.path) {
            (Some(b), _) => reqwest::Body::from(b.clone()),
            (None, Some(p)) => {
                let f = tokio::fs::File::open(p)
                    .await
                    .map_err(|source| ClientError::Io {
                        op: "open",
                        path: p.display().to_string(),
                        source,
                    })?;
                let id = short_id(&src.desc.digest);
                let progress = progress.clone();
                let mut sent = 0u64;
                let mut last = 0u64;
                let step = (size / 100).max(256 * 1024);
                let stream =
                    tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).map(move |chunk| {
                        if let Ok(c) = &chunk {
                            sent += c.len() as u64;
                            if sent - last >= step || sent == size {
                                last = sent;
                                progress(Progress::Layer {
                                    id: id.clone(),
                                    event: LayerEvent::Pushing {
                                        current: sent,
                                        total: size,
                                    },
                                });
                            }
                        }
                        chunk
                    });
                reqwest::Body::wrap_stream(stream)
            }
            (None, None) => return Err(missing_blob(&src.desc.digest)),
        };
        let url = with_digest(&location, &src.desc.digest)?;
        let rb = session
            .request(Method::PUT, &url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, size.to_string())
            .body(body);
        let resp = session.send("upload blob", rb).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error("upload blob", resp).await);
        }
        Ok(())
    }

    async fn upload_chunked(
        &self,
        session: &Session,
        src: &BlobSource,
        mut location: String,
        chunk: u64,
        progress: &ProgressSink,
    ) -> Result<(), ClientError> {
        let size = u64::try_from(src.desc.size).unwrap_or(0);
        let mut reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match (&src.data, &src.path)
        {
            (Some(b), _) => Box::new(std::io::Cursor::new(b.clone())),
            (None, Some(p)) => {
                Box::new(
                    tokio::fs::File::open(p)
                        .await
                        .map_err(|source| ClientError::Io {
                            op: "open",
                            path: p.display().to_string(),
                            source,
                        })?,
                )
            }
            (None, None) => return Err(missing_blob(&src.desc.digest)),
        };
        let mut offset = 0u64;
        let id = short_id(&src.desc.digest);
        while offset < size {
            let want = chunk.min(size - offset) as usize;
            let mut buf = vec![0u8; want];
            reader
                .read_exact(&mut buf)
                .await
                .map_err(|source| ClientError::Io {
                    op: "read blob",
                    path: src.desc.digest.to_string(),
                    source,
                })?;
            let end = offset + want as u64 - 1;
            let url = session.resolve(&location);
            let rb = session
                .request(Method::PATCH, &url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_RANGE, format!("{offset}-{end}"))
                .header(reqwest::header::CONTENT_LENGTH, want.to_string())
                .body(buf);
            let resp = session.send("upload chunk", rb).await?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(status_error("upload chunk", resp).await);
            }
            if let Some(l) = upload_location(session, &resp) {
                location = l;
            }
            offset = end + 1;
            progress(Progress::Layer {
                id: id.clone(),
                event: LayerEvent::Pushing {
                    current: offset,
                    total: size,
                },
            });
        }
        let url = with_digest(&location, &src.desc.digest)?;
        let rb = session
            .request(Method::PUT, &url)
            .header(reqwest::header::CONTENT_LENGTH, "0");
        let resp = session.send("finish upload", rb).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error("finish upload", resp).await);
        }
        Ok(())
    }

    /// PUTs a manifest under `reference` (tag or digest) and returns its digest.
    pub async fn put_manifest(
        &self,
        session: &Session,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Digest, ClientError> {
        let digest = Digest::sha256_of(&bytes);
        let rb = session
            .request(Method::PUT, &session.url(&format!("manifests/{reference}")))
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(bytes);
        let resp = session.send("put manifest", rb).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error("put manifest", resp).await);
        }
        if let Some(d) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Digest::parse(v).ok())
            && d != digest
        {
            return Err(ClientError::DigestMismatch { digest, actual: d });
        }
        Ok(digest)
    }
}

fn missing_blob(d: &Digest) -> ClientError {
    ClientError::NotFound {
        message: format!("blob {d} is not in the local content store"),
    }
}

fn upload_location(session: &Session, resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| session.resolve(l))
}

fn with_digest(location: &str, d: &Digest) -> Result<String, ClientError> {
    let mut url = Url::parse(location)
        .map_err(|e| ClientError::format(format!("upload location {location}"), e))?;
    url.query_pairs_mut().append_pair("digest", &d.to_string());
    Ok(url.to_string())
}

/// The manifest to push: the one the image was pulled with when it still describes the
/// image exactly (so digests survive a pull/push round trip), else a new one.
fn manifest_for(
    store: &Store,
    image: &berth_image::Image,
    layers: &[LayerInfo],
) -> Result<(Vec<u8>, String), ClientError> {
    let blobs: Vec<(Digest, u64, String)> = layers
        .iter()
        .map(|l| {
            let b = l.blob.as_ref().ok_or_else(|| ClientError::NotFound {
                message: format!("layer {} has no stored blob to push", l.diff_id),
            })?;
            let mt = l
                .blob_media_type
                .clone()
                .unwrap_or_else(|| media_type::OCI_LAYER_TAR.to_string());
            Ok((b.digest.clone(), b.size, mt))
        })
        .collect::<Result<_, ClientError>>()?;
    if let Some(md) = &image.manifest_digest
        && let Ok(bytes) = store.content().read_blob(md)
        && let Ok(m) = Manifest::from_json(&bytes)
        && m.config.digest == image.id
        && m.layers.len() == blobs.len()
        && m.layers.iter().zip(&blobs).all(|(l, b)| l.digest == b.0)
    {
        let mt = m
            .media_type
            .clone()
            .unwrap_or_else(|| media_type::OCI_MANIFEST.to_string());
        return Ok((bytes, mt));
    }
    let docker = blobs
        .iter()
        .all(|b| b.2.starts_with("application/vnd.docker."));
    let (mt, config_mt) = if docker {
        (media_type::DOCKER_MANIFEST, media_type::DOCKER_CONFIG)
    } else {
        (media_type::OCI_MANIFEST, media_type::OCI_CONFIG)
    };
    let m = Manifest {
        schema_version: 2,
        media_type: Some(mt.to_string()),
        config: Descriptor::new(config_mt, image.id.clone(), image.config_bytes.len() as i64),
        layers: blobs
            .into_iter()
            .map(|(d, s, lmt)| Descriptor::new(&lmt, d, s as i64))
            .collect(),
        annotations: None,
        artifact_type: None,
        subject: None,
    };
    let bytes = serde_json::to_vec_pretty(&m).map_err(|e| ClientError::format("manifest", e))?;
    Ok((bytes, mt.to_string()))
}
