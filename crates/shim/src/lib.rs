//! The shim's wire contract with berthd, shared so both sides agree on one set of types.
//!
//! The shim binary (`src/main.rs` and its modules) implements this contract; the engine
//! crate speaks it over `<exec-root>/shims/<id>/shim.sock`.

pub mod config;
pub mod protocol;
pub mod socket_path;
pub mod timestamp;
