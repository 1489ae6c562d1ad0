//! Parsers for Docker's flag value syntaxes (sizes, env files, mounts, ulimits, volumes, filters, durations);
//! pure functions so they are unit-tested against the strings docker accepts and rejects.

pub mod duration;
pub mod env;
pub mod filter;
pub mod mount;
pub mod size;
pub mod ulimit;
pub mod volume;
