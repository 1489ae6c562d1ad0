//! OCI distribution for berth: the registry client (pull into the image store, push from it,
//! auth, progress events that map to Docker's JSON messages) and the registry server.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod client;
pub mod server;

pub use client::{
    AuthConfig, Client, ClientConfig, ClientError, LayerEvent, Progress, ProgressSink,
};
