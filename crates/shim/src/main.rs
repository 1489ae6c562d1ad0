//! berth-shim: one small synchronous process per container, started by berthd with the
//! bundle ready; it creates the container in-process (so the init is its child), holds the
//! container's stdio, writes its json-file log, records its exit durably and serves the
//! daemon on `shim.sock`, surviving daemon restarts.

mod container;
mod detach;
mod exit_file;
mod json_log;
mod sigchld;
mod stdio;
mod supervisor;
mod trim;

use berth_shim::config::{CONFIG_FILE, PID_FILE, SOCKET_FILE, ShimConfig};
use berth_shim::protocol::Reply;
use berth_shim::socket_path::SocketPath;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

fn main() {
    let Some(state_dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: berth-shim STATE_DIR");
        std::process::exit(2);
    };
    let code = match run(&state_dir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth-shim: {e}");
            1
        }
    };
    std::process::exit(code)
}

fn run(state_dir: &Path) -> Result<(), String> {
    let cfg = read_config(state_dir)?;
    let ready = detach::detach().map_err(|e| format!("detaching: {e}"))?;
    let (shim, listener) = match start_container(&cfg, state_dir) {
        Ok(started) => started,
        Err(reply) => {
            ready.report(&reply);
            return Err(format!("container {} not created", cfg.id));
        }
    };
    ready.report(&Reply::Pid {
        pid: shim.init_pid(),
    });
    shim.run(listener);
    Ok(())
}

fn read_config(state_dir: &Path) -> Result<ShimConfig, String> {
    let path = state_dir.join(CONFIG_FILE);
    let text = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// Creates the container and binds the daemon's socket; failures become the ready reply.
fn start_container(
    cfg: &ShimConfig,
    state_dir: &Path,
) -> Result<(supervisor::Shim, UnixListener), Reply> {
    let socket = state_dir.join(SOCKET_FILE);
    let _ = std::fs::remove_file(&socket);
    let bind_err =
        |e: std::io::Error| Reply::error("Internal", format!("binding {}: {e}", socket.display()));
    let bind_path = SocketPath::new(&socket).map_err(bind_err)?;
    let listener = UnixListener::bind(bind_path.path()).map_err(bind_err)?;
    let shim = supervisor::Shim::create(cfg.clone(), state_dir.to_path_buf())?;
    let _ = std::fs::write(state_dir.join(PID_FILE), std::process::id().to_string());
    Ok((shim, listener))
}
