//! The berth CLI: Docker's commands and flags, talking to berthd over the Engine API.

fn main() {}
