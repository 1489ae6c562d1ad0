//! The registry server: the OCI distribution spec v1.1 as an axum router over [`Storage`],
//! with optional htpasswd basic auth and TLS. `berth-registry serve` runs it.

pub mod auth;
pub mod errors;
pub mod gc;
mod handlers;
pub mod routes;
pub mod storage;
pub mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub use auth::{Htpasswd, HtpasswdError};
pub use errors::{ApiError, Code};
pub use gc::{GcReport, collect_garbage};
pub use storage::{Storage, StorageError};

/// The default manifest size limit (4 MiB), as Docker's registry uses.
pub const DEFAULT_MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Everything the handlers share: storage, optional users, limits.
#[derive(Debug, Clone)]
pub struct Registry {
    storage: Storage,
    htpasswd: Option<Arc<Htpasswd>>,
    max_manifest_bytes: usize,
}

impl Registry {
    /// A registry over `storage` without authentication and with the default limits.
    pub fn new(storage: Storage) -> Registry {
        Registry {
            storage,
            htpasswd: None,
            max_manifest_bytes: DEFAULT_MAX_MANIFEST_BYTES,
        }
    }

    /// Opens storage under `root` and builds a registry on it.
    pub fn open(root: &Path) -> Result<Registry, StorageError> {
        Ok(Registry::new(Storage::open(root)?))
    }

    /// Requires basic auth against `users` for every request.
    pub fn with_htpasswd(mut self, users: Htpasswd) -> Registry {
        self.htpasswd = Some(Arc::new(users));
        self
    }

    /// Sets the largest manifest accepted.
    pub fn with_max_manifest_bytes(mut self, n: usize) -> Registry {
        self.max_manifest_bytes = n;
        self
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The axum router serving the distribution API.
    pub fn router(self) -> Router {
        Router::new().fallback(dispatch).with_state(self)
    }
}

async fn dispatch(State(reg): State<Registry>, req: Request) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let mut resp = if authorized(&reg, &req) {
        handlers::handle(reg, req)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    } else {
        unauthorized()
    };
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "registry request");
    resp
}

/// Whether the request may proceed: always without htpasswd, else with valid credentials.
fn authorized(reg: &Registry, req: &Request) -> bool {
    let Some(users) = &reg.htpasswd else {
        return true;
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    users.check_header(value)
}

fn unauthorized() -> Response {
    let mut resp = ApiError::new(Code::Unauthorized, "authentication required").into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"berth-registry\""),
    );
    resp
}

/// Serves `registry` on `listener` (plain HTTP, or HTTPS when `tls` is given) until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = registry.router();
    match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(cfg) => tls::serve_tls(listener, app, cfg, shutdown).await,
    }
}

/// Binds `addr` and returns the listener and the address actually bound (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let l = tokio::net::TcpListener::bind(addr).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

pub(crate) fn empty_body() -> Body {
    Body::empty()
}
