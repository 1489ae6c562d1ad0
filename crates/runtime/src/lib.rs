//! berth's OCI runtime: turns an OCI runtime spec and a root filesystem into an isolated, limited process.
//!
//! The crate is synchronous on purpose: it forks and clones, which is only sound outside an async
//! runtime. It knows nothing of HTTP or the daemon; the shim and `berth-runtime` call it in-process.
//! Start with [`Runtime`]: `create` (init set up, blocked until `start`), `start`, `state`,
//! `kill`, `delete`, `pause`, `resume`, `ps`, `list`, `exec`, `stats`.

pub mod capabilities;
pub mod cgroups;
pub mod seccomp;

mod console;
mod container;
pub mod error;
mod exec;
mod hooks;
mod init;
mod namespaces;
mod process;
mod rootfs;
mod spawn;
pub mod spec;
pub mod state;
mod sync;
#[cfg(feature = "testing")]
pub mod testing;

pub use console::receive_pty_master;
pub use container::{ConsoleSocket, CreateOptions, ExecOptions, Runtime, Stdio};
pub use error::{ErrorKind, RuntimeError};
pub use state::{State, Status};
