//! Background helpers of an attached session: keep the remote TTY the size of ours (now and on SIGWINCH) and
//! forward our signals to the container (`--sig-proxy`).

use std::sync::Arc;

use berth_client::Client;
use tokio::signal::unix::{SignalKind, signal};

/// Which helpers to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyOptions {
    /// `Some("containers")` or `Some("exec")`: resize that object's TTY.
    pub resize: Option<&'static str>,
    /// Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to the container.
    pub signals: bool,
}

async fn resize_now(client: &Client, kind: &str, id: &str) {
    if let Some((h, w)) = crate::terminal::window_size() {
        let _ = client.resize(kind, id, h, w).await;
    }
}

/// Spawns the helpers; they end with the process.
pub fn spawn_helpers(client: &Arc<Client>, id: &str, opts: ProxyOptions) {
    if let Some(kind) = opts.resize {
        let client = Arc::clone(client);
        let id = id.to_string();
        tokio::spawn(async move {
            resize_now(&client, kind, &id).await;
            let Ok(mut winch) = signal(SignalKind::window_change()) else {
                return;
            };
            while winch.recv().await.is_some() {
                resize_now(&client, kind, &id).await;
            }
        });
    }
    if opts.signals {
        let forwarded = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
            (SignalKind::user_defined1(), "SIGUSR1"),
            (SignalKind::user_defined2(), "SIGUSR2"),
        ];
        for (kind, name) in forwarded {
            let Ok(mut stream) = signal(kind) else {
                continue;
            };
            let client = Arc::clone(client);
            let id = id.to_string();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    let _ = client.kill_container(&id, Some(name)).await;
                }
            });
        }
    }
}
