//! berth's OCI runtime: turns an OCI runtime spec and a root filesystem into an isolated, limited process.
//!
//! The crate is synchronous on purpose: it forks and clones, which is only sound outside an async
//! runtime. It knows nothing of HTTP or the daemon; the shim and `berth-runtime` call it in-process.

pub mod capabilities;
pub mod cgroups;
pub mod seccomp;
