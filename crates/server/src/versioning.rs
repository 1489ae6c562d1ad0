//! Strips `/v1.NN` prefixes before routing, refuses versions we do not serve, and stamps every reply with
//! the headers Docker clients read (`Api-Version`, `Ostype`, ...).

use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_api::version::split_version_prefix;
use berth_api::{ApiError, ApiVersion, CURRENT_API_VERSION, MIN_API_VERSION};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Uri};

use crate::error::HttpError;

/// The API version a request asked for (the current one when unprefixed); in request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedVersion(pub ApiVersion);

/// The first version whose non-TTY streams are labelled `multiplexed-stream` (older ones always say raw).
pub const MULTIPLEXED_CONTENT_TYPE_SINCE: ApiVersion = ApiVersion {
    major: 1,
    minor: 42,
};

impl<S: Send + Sync> FromRequestParts<S> for RequestedVersion {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestedVersion>()
            .copied()
            .unwrap_or(RequestedVersion(CURRENT_API_VERSION)))
    }
}

impl RequestedVersion {
    /// Whether framed output is labelled `multiplexed-stream` for this client.
    pub fn labels_multiplexed_streams(self) -> bool {
        self.0 >= MULTIPLEXED_CONTENT_TYPE_SINCE
    }
}

/// Middleware: rewrite the path without its version prefix and check the version.
pub async fn strip_version_prefix(mut req: Request, next: Next) -> Response {
    let mut response = match rewrite(&mut req) {
        Ok(()) => next.run(req).await,
        Err(e) => HttpError(e).into_response(),
    };
    add_engine_headers(response.headers_mut());
    response
}

fn rewrite(req: &mut Request) -> Result<(), ApiError> {
    let split = split_version_prefix(req.uri().path());
    let Some(version) = split.version else {
        req.extensions_mut()
            .insert(RequestedVersion(CURRENT_API_VERSION));
        return Ok(());
    };
    version.check_supported()?;
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{}?{q}", split.path),
        None => split.path.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|e| ApiError::invalid(format!("invalid request path: {e}")))?,
    );
    *req.uri_mut() = Uri::from_parts(parts)
        .map_err(|e| ApiError::invalid(format!("invalid request path: {e}")))?;
    req.extensions_mut().insert(RequestedVersion(version));
    Ok(())
}

/// Headers every Docker Engine reply carries.
fn add_engine_headers(headers: &mut HeaderMap) {
    headers.insert("api-version", version_header(CURRENT_API_VERSION));
    headers.insert("docker-experimental", HeaderValue::from_static("false"));
    headers.insert("ostype", HeaderValue::from_static("linux"));
    headers.insert(
        http::header::SERVER,
        HeaderValue::from_static(concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
}

/// A version as a header value.
pub fn version_header(v: ApiVersion) -> HeaderValue {
    HeaderValue::from_str(&v.to_string()).unwrap_or(HeaderValue::from_static("1.51"))
}

/// The oldest version, for `/version`'s `MinAPIVersion`.
pub fn min_version_string() -> String {
    MIN_API_VERSION.to_string()
}
