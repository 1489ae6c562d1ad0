//! One module per command group; each exposes clap `Args` structs and async functions returning an exit code.

pub mod exec;
pub mod images;
pub mod info;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod misc;
pub mod names;
pub mod progress;
pub mod ps;
pub mod registry;
pub mod run;
pub mod session;
pub mod transfer;
