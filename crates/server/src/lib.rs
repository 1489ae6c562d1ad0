//! The Engine API over HTTP: axum routes that parse requests, call the backend traits and encode Docker's replies.
//!
//! [`app`] builds the service (version prefixes stripped, request logging, error mapping); [`serve`] runs it
//! on a unix or TCP listener. Handlers stay thin: parse, call one backend method, encode.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod access_log;
pub mod body;
pub mod error;
pub mod framing;
pub mod hijack;
pub mod params;
pub mod routes;
pub mod serve;
pub mod tls;
pub mod versioning;

use std::sync::Arc;

use axum::Router;
use berth_api::Backend;

pub use serve::{Listener, serve, serve_router};
pub use tls::{TlsFiles, TlsListener, server_config};

/// The complete HTTP service for a backend: version-prefix stripping and request logging wrapped around the
/// routes. The prefix is stripped before routing, so the routes are nested as a fallback service.
pub fn app<B: Backend>(backend: Arc<B>) -> Router {
    Router::new()
        .fallback_service(routes::api_routes(backend))
        .layer(axum::middleware::from_fn(versioning::strip_version_prefix))
        .layer(axum::middleware::from_fn(access_log::log_request))
}
