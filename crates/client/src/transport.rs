//! HTTP/1.1 to the daemon with hyper, over a unix socket, TCP or TLS: one connection per request (connecting
//! a unix socket costs microseconds), lazy version negotiation, error replies decoded into [`ClientError::Daemon`], and hijacked
//! connections for attach/exec.

use std::io;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::OnceCell;

use crate::connection::Connection;
use crate::error::ClientError;
use crate::host::{Endpoint, Host};
use crate::tls::{self, TlsSettings};

/// Request bodies: empty, a buffer, or a stream (tar uploads).
pub type Body = BoxBody<Bytes, io::Error>;

/// Query parameters in order, already stringified.
pub type Query<'a> = &'a [(&'a str, String)];

/// The API version we speak when the daemon does not ask for less.
pub const CLIENT_API_VERSION: &str = "1.51";

/// A hijacked attach/exec connection: a raw duplex byte stream.
pub type Hijacked = TokioIo<hyper::upgrade::Upgraded>;

/// An Engine API client bound to one daemon address.
#[derive(Debug)]
pub struct Client {
    host: Host,
    version: OnceCell<String>,
    tls_config: std::sync::OnceLock<std::sync::Arc<rustls::ClientConfig>>,
}

/// An empty request body.
pub fn empty_body() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A request body from a buffer.
pub fn full_body(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A streamed request body (for tar uploads of unknown length).
pub fn stream_body<S>(stream: S) -> Body
where
    S: Stream<Item = Result<Bytes, io::Error>> + Send + Sync + 'static,
{
    BodyExt::boxed(StreamBody::new(stream.map_ok(Frame::data)))
}

fn version_override() -> Option<String> {
    ["BERTH_API_VERSION", "DOCKER_API_VERSION"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// Picks the lower of our version and the server's (`1.43` < `1.51` compared numerically).
pub fn negotiate(server: Option<&str>) -> String {
    let parse = |v: &str| -> Option<(u32, u32)> {
        let (a, b) = v.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    match server.and_then(|s| parse(s).map(|p| (s, p))) {
        Some((s, p)) if parse(CLIENT_API_VERSION).is_some_and(|ours| p < ours) => s.to_string(),
        _ => CLIENT_API_VERSION.to_string(),
    }
}

impl Client {
    /// A client for `host`; nothing is connected yet.
    pub fn new(host: Host) -> Self {
        let version = OnceCell::new();
        if let Some(v) = version_override() {
            let _ = version.set(v);
        }
        Client {
            host,
            version,
            tls_config: std::sync::OnceLock::new(),
        }
    }

    /// The daemon address.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The negotiated API version (pings the daemon the first time unless overridden by the environment).
    pub async fn api_version(&self) -> Result<&str, ClientError> {
        self.version
            .get_or_try_init(|| async {
                let resp = self
                    .send_raw(Method::GET, "/_ping", empty_body(), HeaderMap::new())
                    .await?;
                let server = resp
                    .headers()
                    .get("Api-Version")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                Ok(negotiate(server.as_deref()))
            })
            .await
            .map(String::as_str)
    }

    /// Opens a connection to the daemon (TLS handshake included).
    async fn connect(&self) -> Result<Connection, ClientError> {
        let connect_err = |source| ClientError::Connect {
            host: self.host.url.clone(),
            source,
        };
        let (host, port) = match &self.host.endpoint {
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path).await.map_err(connect_err)?;
                return Ok(Connection::Unix(stream));
            }
            Endpoint::Tcp { host, port } => (host, *port),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((bare, port))
            .await
            .map_err(connect_err)?;
        tcp.set_nodelay(true)
            .map_err(|e| ClientError::io("setting TCP_NODELAY", e))?;
        let Some(settings) = &self.host.tls else {
            return Ok(Connection::Tcp(tcp));
        };
        let connector = tokio_rustls::TlsConnector::from(self.tls_config(settings)?);
        let stream = connector
            .connect(tls::server_name(host)?, tcp)
            .await
            .map_err(|source| ClientError::TlsHandshake {
                host: self.host.url.clone(),
                source,
            })?;
        Ok(Connection::Tls(Box::new(stream)))
    }

    /// The TLS configuration, built once per client.
    fn tls_config(
        &self,
        settings: &TlsSettings,
    ) -> Result<std::sync::Arc<rustls::ClientConfig>, ClientError> {
        if let Some(config) = self.tls_config.get() {
            return Ok(config.clone());
        }
        let config = tls::client_config(settings)?;
        Ok(self.tls_config.get_or_init(|| config).clone())
    }

    fn build(
        method: Method,
        uri: &str,
        body: Body,
        headers: HeaderMap,
    ) -> Result<Request<Body>, ClientError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "api.moby.localhost")
            .header(
                header::USER_AGENT,
                concat!("berth/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(h) = builder.headers_mut() {
            h.extend(headers);
        }
        builder.body(body).map_err(|source| ClientError::Request {
            path: uri.to_string(),
            source,
        })
    }

    /// Sends one request on a fresh connection, without version prefix or status check.
    async fn send_raw(
        &self,
        method: Method,
        uri: &str,
        body: Body,
        headers: HeaderMap,
    ) -> Result<Response<Incoming>, ClientError> {
        let stream = self.connect().await?;
        let http_err = |source| ClientError::Http {
            path: uri.to_string(),
            source,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_err)?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let req = Self::build(method, uri, body, headers)?;
        sender.send_request(req).await.map_err(http_err)
    }

    /// The full URI for an API path: version prefix plus encoded query.
    pub async fn uri(&self, path: &str, query: Query<'_>) -> Result<String, ClientError> {
        let version = self.api_version().await?;
        let mut uri = format!("/v{version}{path}");
        if !query.is_empty() {
            let encoded = serde_urlencoded::to_string(query).unwrap_or_default();
            uri.push('?');
            uri.push_str(&encoded);
        }
        Ok(uri)
    }

    /// Sends a request and turns error statuses into [`ClientError::Daemon`] with the daemon's message.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: Query<'_>,
        body: Body,
        headers: HeaderMap,
    ) -> Result<Response<Incoming>, ClientError> {
        let uri = self.uri(path, query).await?;
        let resp = self.send_raw(method, &uri, body, headers).await?;
        check_status(&uri, resp).await
    }

    /// GET a JSON reply.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Query<'_>,
    ) -> Result<T, ClientError> {
        let resp = self
            .request(Method::GET, path, query, empty_body(), HeaderMap::new())
            .await?;
        read_json(path, resp).await
    }

    /// GET a reply body as text, unparsed (inspect keeps the daemon's key order this way).
    pub async fn get_text(&self, path: &str, query: Query<'_>) -> Result<String, ClientError> {
        let resp = self
            .request(Method::GET, path, query, empty_body(), HeaderMap::new())
            .await?;
        let bytes = read_bytes(path, resp).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// POST with an optional JSON body and decode a JSON reply.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: Query<'_>,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let resp = self.post(path, query, body).await?;
        read_json(path, resp).await
    }

    /// POST with an optional JSON body; the reply is returned unread (for streams and empty replies).
    pub async fn post<B: Serialize>(
        &self,
        path: &str,
        query: Query<'_>,
        body: Option<&B>,
    ) -> Result<Response<Incoming>, ClientError> {
        let (body, headers) = json_request_body(path, body)?;
        self.request(Method::POST, path, query, body, headers).await
    }

    /// POST without a body and drain the reply (start, stop, kill, ...).
    pub async fn post_empty(&self, path: &str, query: Query<'_>) -> Result<(), ClientError> {
        let resp = self
            .request(Method::POST, path, query, empty_body(), HeaderMap::new())
            .await?;
        read_bytes(path, resp).await.map(drop)
    }

    /// DELETE and decode a JSON reply (image removal lists what it deleted).
    pub async fn delete_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Query<'_>,
    ) -> Result<T, ClientError> {
        let resp = self
            .request(Method::DELETE, path, query, empty_body(), HeaderMap::new())
            .await?;
        read_json(path, resp).await
    }

    /// DELETE and drain the reply.
    pub async fn delete(&self, path: &str, query: Query<'_>) -> Result<(), ClientError> {
        let resp = self
            .request(Method::DELETE, path, query, empty_body(), HeaderMap::new())
            .await?;
        read_bytes(path, resp).await.map(drop)
    }

    /// Opens a hijacked stream (`Connection: Upgrade`, `Upgrade: tcp`) for attach and exec start.
    pub async fn hijack<B: Serialize>(
        &self,
        path: &str,
        query: Query<'_>,
        body: Option<&B>,
    ) -> Result<Hijacked, ClientError> {
        let (body, mut headers) = json_request_body(path, body)?;
        headers.insert(
            header::CONNECTION,
            http::HeaderValue::from_static("Upgrade"),
        );
        headers.insert(header::UPGRADE, http::HeaderValue::from_static("tcp"));
        let uri = self.uri(path, query).await?;
        let resp = self.send_raw(Method::POST, &uri, body, headers).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = resp.status().as_u16();
            check_status(&uri, resp).await?;
            return Err(ClientError::NotUpgraded { path: uri, status });
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|source| ClientError::Http { path: uri, source })?;
        Ok(TokioIo::new(upgraded))
    }
}

fn json_request_body<B: Serialize>(
    path: &str,
    body: Option<&B>,
) -> Result<(Body, HeaderMap), ClientError> {
    let mut headers = HeaderMap::new();
    let Some(body) = body else {
        return Ok((empty_body(), headers));
    };
    let data = serde_json::to_vec(body).map_err(|source| ClientError::Decode {
        path: path.to_string(),
        source,
    })?;
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok((full_body(data), headers))
}

/// Passes 1xx-3xx replies through; reads 4xx/5xx bodies into [`ClientError::Daemon`].
async fn check_status(
    uri: &str,
    resp: Response<Incoming>,
) -> Result<Response<Incoming>, ClientError> {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(resp);
    }
    let body = read_bytes(uri, resp).await.unwrap_or_default();
    Err(ClientError::Daemon {
        status: status.as_u16(),
        message: error_message(status, &body),
    })
}

/// The daemon's `{"message": ...}` text, or the raw body, or the status reason.
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        return e.message;
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    }
}

/// Reads a whole reply body.
pub async fn read_bytes(path: &str, resp: Response<Incoming>) -> Result<Bytes, ClientError> {
    resp.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|source| ClientError::Http {
            path: path.to_string(),
            source,
        })
}

/// Reads and decodes a whole JSON reply body.
pub async fn read_json<T: DeserializeOwned>(
    path: &str,
    resp: Response<Incoming>,
) -> Result<T, ClientError> {
    let bytes = read_bytes(path, resp).await?;
    serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
        path: path.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_lower_version() {
        assert_eq!(negotiate(Some("1.43")), "1.43");
        assert_eq!(negotiate(Some("1.51")), "1.51");
        assert_eq!(negotiate(Some("1.52")), "1.51");
        assert_eq!(negotiate(Some("1.100")), "1.51");
        assert_eq!(negotiate(Some("garbage")), "1.51");
        assert_eq!(negotiate(None), "1.51");
    }

    #[test]
    fn error_message_prefers_the_json_message() {
        assert_eq!(
            error_message(
                StatusCode::NOT_FOUND,
                br#"{"message":"No such container: x"}"#
            ),
            "No such container: x"
        );
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, b"page not found\n"),
            "page not found"
        );
        assert_eq!(error_message(StatusCode::CONFLICT, b""), "Conflict");
    }
}
