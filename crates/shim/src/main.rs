//! berth-shim: one small process per container that owns its stdio, logs and exit status and outlives daemon restarts.

fn main() {}
