//! Downloads one blob with retries: a broken or truncated transfer is resumed with a Range
//! request from the last byte received (or, when the registry ignores Range, the bytes
//! already delivered are skipped), so consumers see each byte exactly once.

use std::time::Duration;

use berth_oci::Descriptor;
use bytes::Bytes;
use reqwest::{Method, StatusCode};

use super::error::ClientError;
use super::progress::{LayerEvent, Progress, ProgressSink};
use super::transport::{Session, status_error};

/// Where downloaded bytes go.
pub(crate) trait BlobSink {
    /// Takes the next bytes of the blob.
    fn accept(
        &mut self,
        b: Bytes,
    ) -> impl std::future::Future<Output = Result<(), ClientError>> + Send;
}

/// How one attempt ended.
enum Attempt {
    /// The response ended (maybe short).
    Ended,
    /// The connection broke; worth retrying.
    Broken(ClientError),
}

/// Streams blob `desc` into `sink`, retrying broken transfers up to `retries` times; emits
/// `Downloading` progress under `id`.
pub(crate) async fn fetch_blob<S: BlobSink + Send>(
    session: &Session,
    desc: &Descriptor,
    sink: &mut S,
    retries: u32,
    id: &str,
    progress: &ProgressSink,
) -> Result<u64, ClientError> {
    let total = u64::try_from(desc.size).unwrap_or(0);
    let mut done = 0u64;
    let mut failures = 0u32;
    let mut meter = Meter::new(id, total, progress.clone());
    loop {
        let outcome = attempt(session, desc, done, total, sink, &mut done, &mut meter).await?;
        let err = match outcome {
            Attempt::Ended if done == total => return Ok(done),
            Attempt::Ended => ClientError::SizeMismatch {
                digest: desc.digest.clone(),
                expected: total,
                actual: done,
            },
            Attempt::Broken(e) => e,
        };
        failures += 1;
        if failures > retries {
            return Err(ClientError::Transfer {
                digest: desc.digest.clone(),
                received: done,
                total,
                source: Box::new(err),
            });
        }
        let wait = Duration::from_millis(200u64 << failures.min(5));
        tracing::warn!(digest = %desc.digest, offset = done, error = %err, "blob download broke; resuming");
        progress(Progress::Layer {
            id: id.to_string(),
            event: LayerEvent::Retrying {
                seconds: wait.as_secs().max(1),
            },
        });
        tokio::time::sleep(wait).await;
    }
}

async fn attempt<S: BlobSink + Send>(
    session: &Session,
    desc: &Descriptor,
    offset: u64,
    total: u64,
    sink: &mut S,
    done: &mut u64,
    meter: &mut Meter,
) -> Result<Attempt, ClientError> {
    let url = session.url(&format!("blobs/{}", desc.digest));
    let mut rb = session.request(Method::GET, &url);
    if offset > 0 {
        rb = rb.header(reqwest::header::RANGE, format!("bytes={offset}-"));
    }
    let mut resp = match session.send("download", rb).await {
        Ok(r) => r,
        Err(e @ ClientError::Http { .. }) => return Ok(Attempt::Broken(e)),
        Err(e) => return Err(e),
    };
    let status = resp.status();
    if status == StatusCode::NOT_FOUND {
        return Err(ClientError::NotFound {
            message: format!("blob {} not found: blob unknown", desc.digest),
        });
    }
    if status.is_server_error() {
        return Ok(Attempt::Broken(status_error("download", resp).await));
    }
    if !status.is_success() {
        return Err(status_error("download", resp).await);
    }
    // A registry that ignores Range resends from byte 0: skip what the sink already has.
    let mut skip = if status == StatusCode::PARTIAL_CONTENT {
        0
    } else {
        offset
    };
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(Attempt::Ended),
            Err(source) => {
                return Ok(Attempt::Broken(ClientError::Http {
                    op: "download",
                    url,
                    source,
                }));
            }
        };
        let mut chunk = chunk;
        if skip > 0 {
            let n = skip.min(chunk.len() as u64) as usize;
            skip -= n as u64;
            chunk = chunk.slice(n..);
            if chunk.is_empty() {
                continue;
            }
        }
        let len = chunk.len() as u64;
        if *done + len > total {
            return Err(ClientError::SizeMismatch {
                digest: desc.digest.clone(),
                expected: total,
                actual: *done + len,
            });
        }
        sink.accept(chunk).await?;
        *done += len;
        meter.update(*done);
    }
}

/// Emits `Downloading` every 1% of the blob (at least every 64 KiB) and at the end.
struct Meter {
    id: String,
    total: u64,
    last: u64,
    step: u64,
    progress: ProgressSink,
}

impl Meter {
    fn new(id: &str, total: u64, progress: ProgressSink) -> Meter {
        Meter {
            id: id.to_string(),
            total,
            last: 0,
            step: (total / 100).max(64 * 1024),
            progress,
        }
    }

    fn update(&mut self, current: u64) {
        if current - self.last < self.step && current != self.total {
            return;
        }
        self.last = current;
        (self.progress)(Progress::Layer {
            id: self.id.clone(),
            event: LayerEvent::Downloading {
                current,
                total: self.total,
            },
        });
    }
}
