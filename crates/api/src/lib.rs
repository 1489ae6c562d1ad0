//! Docker Engine API models, version negotiation, error bodies and the backend traits the daemon core implements.
//!
//! Pure data and traits: no HTTP, no syscalls. Field names follow Docker's JSON exactly.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod backend;
pub mod config;
pub mod container;
pub mod detach;
pub mod error;
pub mod exec;
pub mod filters;
pub mod go_time;
pub mod image;
pub mod nullable;
pub mod stats;
pub mod stream;
pub mod system;
pub mod ulimit;
pub mod version;

pub use backend::{
    Backend, ContainerBackend, EventsBackend, ExecBackend, ImageBackend, SystemBackend, WaitFuture,
};
pub use error::{ApiError, ApiResult, ErrorBody, ErrorKind};
pub use filters::Filters;
pub use stream::{
    AttachedStreams, BoxStream, ByteStream, JsonMessage, LogRecord, LogStream, OutputChunk,
    StreamKind,
};
pub use version::{ApiVersion, CURRENT_API_VERSION, MIN_API_VERSION};
