//! Watches a running container's shim for the init's exit, records it, deletes the shim,
//! then applies AutoRemove or the restart policy (Docker's back-off: 100 ms doubling, reset
//! after 10 s of running).

use crate::Engine;
use crate::container::Container;
use crate::record::ContainerRecord;
use crate::status::Status;
use berth_shim::config::{EXIT_FILE, ExitRecord};
use berth_shim::protocol::Request;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Spawns the exit watcher of a live container.
pub fn spawn(engine: Engine, c: Arc<Container>) {
    tokio::spawn(async move {
        let exit = collect_exit(&engine, &c.id).await;
        engine.handle_exit(&c, exit).await;
    });
}

/// Waits for the shim's exit reply; if the shim is gone, reads its exit file, else reports
/// the container as died with 255 (its exit was not recorded).
pub(crate) async fn collect_exit(engine: &Engine, id: &str) -> ExitRecord {
    match engine.shim(id).wait(None).await {
        Ok(exit) => exit,
        Err(e) => {
            let path = engine.shim_dir(id).join(EXIT_FILE);
            match std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                Some(exit) => exit,
                None => {
                    tracing::warn!(container = %id, "lost the shim ({e}); the exit status is unknown");
                    ExitRecord {
                        exit_code: 255,
                        signal: None,
                        finished_at: berth_shim::timestamp::now(),
                        oom_killed: false,
                    }
                }
            }
        }
    }
}

impl Engine {
    /// Records an exit and decides what happens next.
    pub(crate) async fn handle_exit(&self, c: &Arc<Container>, exit: ExitRecord) {
        tracing::debug!(container = %c.id, code = exit.exit_code, "exit collected");
        let mut rec = c.lock().await;
        if !rec.state.status.is_live() {
            return;
        }
        rec.state.status = Status::Exited;
        rec.state.exit_code = i64::from(exit.exit_code);
        rec.state.oom_killed = exit.oom_killed;
        rec.state.finished_at = exit.finished_at.clone();
        rec.state.pid = 0;
        if self.shim(&rec.id).call(&Request::Delete).await.is_err() {
            self.delete_without_shim(&rec.id).await;
        }
        let _ = std::fs::remove_dir_all(self.shim_dir(&rec.id));
        let _ = self.inner.images.unmount_rootfs(&c.dir).await;
        tracing::debug!(container = %rec.id, "shim deleted, rootfs unmounted");
        // An auto-removed container's exit only needs to survive until its removal just below:
        // skip the fsync (the slowest step of `run --rm` on a disk).
        let durable = !rec.host_config.auto_remove.unwrap_or(false);
        if let Err(e) = c.commit_with(&rec, durable) {
            tracing::error!(container = %rec.id, "saving the exit: {e}");
        }
        if exit.oom_killed {
            self.emit_container("oom", &rec, HashMap::new());
        }
        let mut attrs = HashMap::new();
        attrs.insert("exitCode".to_string(), exit.exit_code.to_string());
        self.emit_container("die", &rec, attrs);
        let restart = should_restart(&rec);
        let auto_remove = rec.host_config.auto_remove.unwrap_or(false);
        if restart {
            self.schedule_restart(c, &mut rec);
        }
        c.note_exit();
        drop(rec);
        if !restart
            && auto_remove
            && let Err(e) = self.remove_now(c).await
        {
            tracing::warn!(container = %c.id, "auto-remove failed: {}", e.message);
        }
    }

    fn schedule_restart(&self, c: &Arc<Container>, rec: &mut ContainerRecord) {
        let delay = backoff(c, rec);
        rec.state.status = Status::Restarting;
        let _ = c.commit(rec);
        let epoch = c.restart_epoch.load(Ordering::SeqCst);
        let engine = self.clone();
        let c = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if c.restart_epoch.load(Ordering::SeqCst) != epoch {
                return;
            }
            let mut rec = c.lock().await;
            if rec.state.status != Status::Restarting {
                return;
            }
            rec.restart_count += 1;
            if let Err(e) = engine.start_locked(&c, &mut rec).await {
                tracing::warn!(container = %c.id, "restart failed: {}", e.message);
            }
        });
    }
}

/// Whether the restart policy wants the container back.
fn should_restart(rec: &ContainerRecord) -> bool {
    if rec.manually_stopped {
        return false;
    }
    let policy = rec.host_config.restart_policy.clone().unwrap_or_default();
    match policy.name.as_deref().unwrap_or("") {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            let max = policy.maximum_retry_count.unwrap_or(0);
            rec.state.exit_code != 0 && (max <= 0 || rec.restart_count < max)
        }
        _ => false,
    }
}

/// The next delay: 100 ms, doubling up to a minute, back to 100 ms after 10 s of running.
fn backoff(c: &Container, rec: &ContainerRecord) -> Duration {
    let ran = ran_for(rec);
    let prev = c.backoff_ms.load(Ordering::SeqCst);
    let next = if prev == 0 || ran >= Duration::from_secs(10) {
        100
    } else {
        (prev * 2).min(60_000)
    };
    c.backoff_ms.store(next, Ordering::SeqCst);
    Duration::from_millis(next)
}

fn ran_for(rec: &ContainerRecord) -> Duration {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(&rec.state.started_at), parse(&rec.state.finished_at)) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}
