//! The berth CLI: Docker's commands and flags, talking to berthd over the Engine API.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod app;
mod autostart;
mod commands;
mod exit;
mod opts;
mod output;
mod stdio;
mod terminal;
mod usage;

fn main() {
    let code = app::main_with_args(std::env::args_os());
    std::process::exit(code);
}
