//! `berth-registry`: serves berth's OCI distribution registry (`serve`) and collects its
//! garbage (`gc`). All logic lives in `berth_distribution::server`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use berth_distribution::server::{self, Htpasswd, Registry};
use clap::{Parser, Subcommand};

/// An OCI distribution registry.
#[derive(Parser)]
#[command(name = "berth-registry", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the registry API.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:5000")]
        addr: SocketAddr,
        /// Storage root.
        #[arg(long, default_value = "/var/lib/berth-registry")]
        root: PathBuf,
        /// Require basic auth against this htpasswd file (bcrypt entries).
        #[arg(long)]
        htpasswd: Option<PathBuf>,
        /// TLS certificate chain (PEM).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Require client certificates issued by the CAs in this PEM file (mutual TLS).
        #[arg(long, requires = "tls_cert")]
        tls_client_ca: Option<PathBuf>,
    },
    /// Delete blobs no manifest references (run while the server is stopped).
    Gc {
        /// Storage root.
        #[arg(long, default_value = "/var/lib/berth-registry")]
        root: PathBuf,
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().cmd {
        Cmd::Serve {
            addr,
            root,
            htpasswd,
            tls_cert,
            tls_key,
            tls_client_ca,
        } => serve(
            addr,
            root,
            htpasswd,
            tls_cert.zip(tls_key).map(|(cert, key)| TlsFiles {
                cert,
                key,
                client_ca: tls_client_ca,
            }),
        ),
        Cmd::Gc { root, dry_run } => {
            let storage = server::Storage::open(&root)?;
            let report = server::collect_garbage(&storage, dry_run)?;
            for d in &report.blobs_removed {
                println!("{}{d}", if dry_run { "would remove " } else { "removed " });
            }
            println!(
                "{} blobs, {} bytes {}",
                report.blobs_removed.len(),
                report.bytes_freed,
                if dry_run { "reclaimable" } else { "freed" }
            );
            if report.uploads_removed > 0 {
                println!("removed {} abandoned uploads", report.uploads_removed);
            }
            Ok(())
        }
    }
}

/// The PEM files of `serve --tls-*`.
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

fn serve(
    addr: SocketAddr,
    root: PathBuf,
    htpasswd: Option<PathBuf>,
    tls: Option<TlsFiles>,
) -> anyhow::Result<()> {
    let mut registry = Registry::open(&root).with_context(|| format!("open {}", root.display()))?;
    if let Some(p) = htpasswd {
        registry = registry.with_htpasswd(Htpasswd::load(&p)?);
    }
    let tls = tls
        .map(|t| server::tls::server_config_with_client_ca(&t.cert, &t.key, t.client_ca.as_deref()))
        .transpose()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (listener, bound) = server::bind(addr).await?;
        tracing::info!(addr = %bound, root = %root.display(), tls = tls.is_some(), "berth-registry listening");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        server::serve(listener, registry, tls, shutdown).await?;
        Ok(())
    })
}
