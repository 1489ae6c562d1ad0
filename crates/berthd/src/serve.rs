//! Wires the daemon: logging, pid file, the API socket (0660, stale socket removed), the
//! engine, and graceful shutdown on SIGTERM/SIGINT.

use crate::options::Options;
use anyhow::Context;
use berth_engine::{Engine, EngineConfig};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

/// Sets up tracing to stderr with the given filter.
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the daemon until a stop signal.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.exec_root)
        .with_context(|| format!("creating {}", opts.exec_root.display()))?;
    std::fs::create_dir_all(&opts.data_root)
        .with_context(|| format!("creating {}", opts.data_root.display()))?;
    std::fs::write(&opts.pidfile, std::process::id().to_string())
        .with_context(|| format!("writing {}", opts.pidfile.display()))?;
    let mut cfg = EngineConfig::new(opts.data_root.clone(), opts.exec_root.clone());
    cfg.log_opts = opts.log_opts.clone();
    cfg.registry = opts.registry.clone();
    let engine = Engine::open(cfg).await.context("opening the engine")?;
    let listener = bind(&opts.socket)?;
    tracing::info!(socket = %opts.socket.display(), "berthd listening");
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down; containers keep running");
    };
    berth_server::serve(listener, Arc::new(engine), shutdown).await?;
    let _ = std::fs::remove_file(&opts.socket);
    let _ = std::fs::remove_file(&opts.pidfile);
    Ok(())
}

fn bind(path: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        anyhow::bail!("{} is in use by another daemon", path.display());
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}
