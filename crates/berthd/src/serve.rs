//! Wires the daemon: logging, the instance lock and pid file, the API listeners (unix sockets 0660 with stale sockets
//! removed, TCP with or without TLS), the engine, and graceful shutdown on SIGTERM/SIGINT.

use crate::listen::ListenAddr;
use crate::options::Options;
use anyhow::Context;
use berth_engine::{Engine, EngineConfig};
use berth_server::{TlsFiles, TlsListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Sets up tracing to stderr with the given filter.
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// A bound API listener.
enum Bound {
    Unix(tokio::net::UnixListener, PathBuf),
    Tcp(tokio::net::TcpListener),
    Tls(TlsListener),
}

/// Runs the daemon until a stop signal.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.exec_root)
        .with_context(|| format!("creating {}", opts.exec_root.display()))?;
    std::fs::create_dir_all(&opts.data_root)
        .with_context(|| format!("creating {}", opts.data_root.display()))?;
    let _instance = crate::instance_lock::claim(&opts.data_root, &opts.pidfile)?;
    let mut cfg = EngineConfig::new(opts.data_root.clone(), opts.exec_root.clone());
    cfg.log_opts = opts.log_opts.clone();
    cfg.registry = opts.registry.clone();
    cfg.default_ulimits = opts.default_ulimits.clone();
    let engine = Arc::new(Engine::open(cfg).await.context("opening the engine")?);
    let mut bound = Vec::new();
    for addr in &opts.listeners {
        bound.push(bind(addr, opts.tls.as_ref()).await?);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = JoinSet::new();
    let mut sockets = Vec::new();
    for listener in bound {
        let engine = engine.clone();
        let stop = stopped(stop_rx.clone());
        match listener {
            Bound::Unix(l, path) => {
                sockets.push(path);
                servers.spawn(berth_server::serve(l, engine, stop));
            }
            Bound::Tcp(l) => {
                servers.spawn(berth_server::serve(l, engine, stop));
            }
            Bound::Tls(l) => {
                servers.spawn(berth_server::serve(l, engine, stop));
            }
        }
    }
    wait_for_stop_signal().await?;
    let _ = stop_tx.send(true);
    while let Some(result) = servers.join_next().await {
        match result {
            Ok(Err(e)) => tracing::warn!(error = %e, "API listener ended with an error"),
            Err(e) => tracing::warn!(error = %e, "API listener task failed"),
            Ok(Ok(())) => {}
        }
    }
    for path in sockets {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down; containers keep running");
    Ok(())
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn bind(addr: &ListenAddr, tls: Option<&TlsFiles>) -> anyhow::Result<Bound> {
    match addr {
        ListenAddr::Unix(path) => {
            let listener = bind_unix(path)?;
            tracing::info!(socket = %path.display(), "berthd listening");
            Ok(Bound::Unix(listener, path.clone()))
        }
        ListenAddr::Tcp(hostport) => {
            let tcp = tokio::net::TcpListener::bind(hostport.as_str())
                .await
                .with_context(|| format!("binding {addr}"))?;
            match tls {
                Some(files) => {
                    let config = berth_server::server_config(files)
                        .with_context(|| format!("setting up TLS for {addr}"))?;
                    if files.client_ca.is_none() {
                        warn_unauthenticated(addr);
                    }
                    tracing::info!(host = %addr, "berthd listening (TLS)");
                    Ok(Bound::Tls(TlsListener::new(tcp, config)))
                }
                None => {
                    warn_unauthenticated(addr);
                    tracing::info!(host = %addr, "berthd listening");
                    Ok(Bound::Tcp(tcp))
                }
            }
        }
    }
}

/// dockerd's warnings for a TCP listener that does not verify clients.
fn warn_unauthenticated(addr: &ListenAddr) {
    let host = addr.to_string();
    tracing::warn!(host = %host, "Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.");
    tracing::warn!(host = %host, "Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!");
}

fn bind_unix(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
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
