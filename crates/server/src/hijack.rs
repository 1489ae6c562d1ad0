//! Hijacked connections for attach and exec start: answer `101 UPGRADED`, then pump stdin from the client and
//! container output back (framed without a TTY) until the output ends.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use berth_api::detach::{DetachKeys, Scanned};
use berth_api::{ApiError, AttachedStreams, OutputChunk};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::framing::{encode_output, stream_content_type, streaming_response};
use crate::versioning::RequestedVersion;

/// Size of each read from the client's stdin.
const STDIN_CHUNK: usize = 32 * 1024;

/// Whether the client asked to switch protocols (`Connection: Upgrade` + `Upgrade: tcp`), as Docker clients do.
pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    let has = |name: header::HeaderName, word: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(word)))
                .unwrap_or(false)
        })
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "tcp")
}

/// What a hijacking handler learns from the request before calling the backend.
pub struct Hijack {
    /// The client's API version (chooses the content type).
    pub version: RequestedVersion,
    /// Whether the client asked for `Upgrade: tcp`.
    pub upgrade_asked: bool,
    /// The connection's upgrade handle (absent when not served by hyper, e.g. in `oneshot` tests).
    pub on_upgrade: Option<OnUpgrade>,
    /// The sequence that detaches: stdin stops there and is reported closed to the backend, as on EOF.
    pub detach_keys: DetachKeys,
}

impl Hijack {
    /// Takes the upgrade handle out of the request; detach keys default to Docker's `ctrl-p,ctrl-q`.
    pub fn from_request(req: &mut Request, version: RequestedVersion) -> Self {
        Hijack {
            version,
            upgrade_asked: wants_upgrade(req.headers()),
            on_upgrade: req.extensions_mut().remove::<OnUpgrade>(),
            detach_keys: DetachKeys::default(),
        }
    }

    /// Uses the given detach keys (Docker's notation) instead of the default; bad notation is a 400.
    pub fn with_detach_keys(mut self, spec: Option<&str>) -> Result<Self, ApiError> {
        if let Some(spec) = spec.filter(|s| !s.is_empty()) {
            self.detach_keys = DetachKeys::parse(spec)
                .map_err(|_| ApiError::invalid(format!("Invalid detach keys ({spec}) provided")))?;
        }
        Ok(self)
    }

    /// Builds the reply and starts forwarding the streams.
    /// With an upgrade request: `101 UPGRADED` and a full-duplex stream. Without one (old clients): a `200`
    /// whose body is the output; stdin is closed since there is no way to read it.
    pub fn respond(self, streams: AttachedStreams) -> Response {
        let content_type = stream_content_type(streams.tty, self.version);
        if !self.upgrade_asked {
            return output_only_response(content_type, streams);
        }
        match self.on_upgrade {
            Some(on_upgrade) => {
                let detach_keys = self.detach_keys;
                tokio::spawn(async move {
                    match on_upgrade.await {
                        Ok(upgraded) => pump(TokioIo::new(upgraded), streams, detach_keys).await,
                        Err(e) => {
                            tracing::debug!(error = %e, "client went away before the upgrade")
                        }
                    }
                });
            }
            None => tracing::debug!("connection cannot be upgraded; dropping the streams"),
        }
        upgraded_response(content_type)
    }
}

/// The `101 UPGRADED` head Docker sends.
fn upgraded_response(content_type: &'static str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    response
        .extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
    response
}

/// The fallback for clients that do not upgrade: stream the output as the body.
fn output_only_response(content_type: &'static str, streams: AttachedStreams) -> Response {
    drop(streams.stdin);
    let tty = streams.tty;
    let body = streams
        .output
        .map(move |chunk| Ok::<_, Infallible>(encode_output(tty, chunk.kind, &chunk.data)));
    streaming_response(StatusCode::OK, content_type, Body::from_stream(body))
}

/// Forwards stdin and output over an upgraded connection until the output ends or the client types the
/// detach sequence, then closes it. A client half-close only closes the container's stdin; output keeps
/// flowing. A detach ends the whole session, as in Docker: the container keeps running.
pub async fn pump<IO>(io: IO, streams: AttachedStreams, detach_keys: DetachKeys)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, mut writer) = tokio::io::split(io);
    let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
    let stdin_task = streams.stdin.map(|stdin| {
        tokio::spawn(async move {
            if forward_stdin(reader, stdin, detach_keys).await == StdinEnd::Detached {
                let _ = detached_tx.send(());
            }
        })
    });
    let tty = streams.tty;
    let mut output = streams.output;
    // Until the stdin task ends, a detach may come; after a plain EOF only output matters.
    let mut may_detach = stdin_task.is_some();
    loop {
        let chunk = tokio::select! {
            chunk = output.next() => chunk,
            detached = &mut detached_rx, if may_detach => match detached {
                Ok(()) => None,
                Err(_) => {
                    may_detach = false;
                    continue;
                }
            },
        };
        let Some(OutputChunk { kind, data }) = chunk else {
            break;
        };
        let encoded = encode_output(tty, kind, &data);
        if let Err(e) = write_and_flush(&mut writer, &encoded).await {
            tracing::debug!(error = %e, "attached client went away");
            break;
        }
    }
    if let Err(e) = writer.shutdown().await {
        tracing::debug!(error = %e, "closing attached connection");
    }
    if let Some(task) = stdin_task {
        task.abort();
    }
}

async fn write_and_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    data: &[u8],
) -> std::io::Result<()> {
    writer.write_all(data).await?;
    writer.flush().await
}

/// Why the client's stdin stopped being forwarded.
#[derive(Debug, PartialEq, Eq)]
enum StdinEnd {
    /// EOF, a read error, or the backend stopped taking stdin.
    Closed,
    /// The client typed the detach sequence.
    Detached,
}

/// Copies client bytes to the container's stdin until EOF or the detach sequence; returning drops the
/// sender, which tells the backend this session's stdin ended (the backend decides, from the
/// container's StdinOnce, whether the container's stdin closes too).
async fn forward_stdin<R: AsyncRead + Unpin>(
    mut reader: R,
    stdin: mpsc::Sender<Bytes>,
    detach_keys: DetachKeys,
) -> StdinEnd {
    let mut scanner = detach_keys.scanner();
    let mut buf = vec![0u8; STDIN_CHUNK];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => return StdinEnd::Closed,
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "reading attached stdin");
                return StdinEnd::Closed;
            }
        };
        let (data, detached) = match scanner.feed(&buf[..n]) {
            Scanned::Forward(data) => (data, false),
            Scanned::Detach(data) => (data, true),
        };
        if !data.is_empty() && stdin.send(data).await.is_err() {
            return StdinEnd::Closed;
        }
        if detached {
            tracing::debug!("client detached");
            return StdinEnd::Detached;
        }
    }
}
