//! berth-runtime: an OCI runtime with runc's command line, built on the berth-runtime library.

fn main() {}
