//! Accept loops: serve the router on a unix socket (the daemon's default) or TCP, with upgrades for hijacked
//! streams and a graceful stop.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use berth_api::Backend;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::app;

/// How long in-flight requests get to finish after shutdown is asked for.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Something that yields connections: a unix or TCP listener.
pub trait Listener: Send + 'static {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;
    /// Waits for the next connection.
    fn accept_io(&self) -> impl Future<Output = std::io::Result<Self::Io>> + Send;
}

impl Listener for UnixListener {
    type Io = tokio::net::UnixStream;
    async fn accept_io(&self) -> std::io::Result<Self::Io> {
        self.accept().await.map(|(io, _)| io)
    }
}

impl Listener for TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept_io(&self) -> std::io::Result<Self::Io> {
        let (io, _) = self.accept().await?;
        io.set_nodelay(true)?;
        Ok(io)
    }
}

/// Serves the Engine API for `backend` on `listener` until `shutdown` resolves, then lets open requests
/// finish for up to [`DRAIN_TIMEOUT`]. Hijacked attach/exec streams are not cut by shutdown.
pub async fn serve<L, B, F>(listener: L, backend: Arc<B>, shutdown: F) -> std::io::Result<()>
where
    L: Listener,
    B: Backend,
    F: Future<Output = ()> + Send,
{
    serve_router(listener, app(backend), shutdown).await
}

/// Like [`serve`] for an already built router (for callers that add routes or layers).
pub async fn serve_router<L, F>(listener: L, router: Router, shutdown: F) -> std::io::Result<()>
where
    L: Listener,
    F: Future<Output = ()> + Send,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept_io() => match accepted {
                Ok(io) => {
                    connections.spawn(serve_connection(io, router.clone(), stop_rx.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an API connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!("closing API connections still open after the drain timeout");
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves one HTTP/1.1 connection with upgrades enabled; asks it to finish when `stop` flips.
async fn serve_connection<IO>(io: IO, router: Router, mut stop: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let router = router.clone();
        async move { Ok::<_, Infallible>(router.oneshot(req).await.unwrap_or_else(|e| match e {})) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_connection_end(result),
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            log_connection_end(conn.await);
        }
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "API connection ended with an error");
    }
}
