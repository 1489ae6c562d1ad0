//! A Docker Engine API client over a unix socket, TCP or TLS, used by the berth CLI.
//!
//! Cheap to create (no connection until the first request, one unix connection per request, no pool set-up),
//! so the CLI starts in a few milliseconds on a current-thread tokio runtime. The API version is negotiated
//! lazily with `/_ping` unless `BERTH_API_VERSION`/`DOCKER_API_VERSION` fixes it.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod connection;
pub mod containers;
pub mod error;
pub mod frames;
pub mod host;
pub mod images;
pub mod stream;
pub mod system;
pub mod tls;
pub mod transport;

pub use error::{ClientError, ErrorKind};
pub use frames::{Frame, FrameDecoder};
pub use host::{Endpoint, Host};
pub use tls::{TlsFlags, TlsSettings};
pub use transport::{Body, Client, Hijacked, Query};
