//! Live restore at daemon start: reload every container record, re-adopt the shims still
//! running, collect the exits that happened while the daemon was down (from the shims or
//! their exit files), finish half-done removals and apply restart policies.

use crate::Engine;
use crate::container::Container;
use crate::record;
use crate::status::Status;
use std::sync::Arc;

impl Engine {
    pub(crate) async fn restore(&self) {
        let root = self.inner.cfg.data_root.join("containers");
        let Ok(entries) = std::fs::read_dir(&root) else {
            return;
        };
        let mut loaded = Vec::new();
        for entry in entries.flatten() {
            let dir = entry.path();
            match record::load(&dir) {
                Ok(rec) => loaded.push(Arc::new(Container::new(rec, dir))),
                Err(e) => tracing::warn!("skipping {}: {e}", dir.display()),
            }
        }
        let mut named = Vec::new();
        for c in &loaded {
            named.push((c.lock().await.name.clone(), c.clone()));
        }
        if let Ok(mut index) = self.inner.containers.lock() {
            for (name, c) in named {
                index.insert(&name, c);
            }
        }
        let known: Vec<String> = loaded.iter().map(|c| c.id.clone()).collect();
        self.inner.images.remove_orphan_rootfs(known).await;
        for c in loaded {
            self.restore_one(c).await;
        }
    }

    async fn restore_one(&self, c: Arc<Container>) {
        let status = c.lock().await.state.status;
        match status {
            Status::Running | Status::Paused => self.readopt(c).await,
            Status::Restarting => {
                let mut rec = c.lock().await;
                rec.state.status = Status::Exited;
                let _ = c.commit(&rec);
                drop(rec);
                self.apply_restart_policy_at_boot(c).await;
            }
            Status::Removing => {
                if let Err(e) = self.remove_now(&c).await {
                    tracing::warn!(container = %c.id, "finishing an interrupted removal: {}", e.message);
                }
            }
            Status::Exited => self.apply_restart_policy_at_boot(c).await,
            Status::Created | Status::Dead => {}
        }
    }

    /// Reconnects to a live shim, or records the exit it left behind.
    async fn readopt(&self, c: Arc<Container>) {
        let client = self.shim(&c.id);
        match client.state().await {
            Ok(state) if state.exit.is_none() => {
                let mut rec = c.lock().await;
                let paused = state.status == "paused";
                rec.state.status = if paused {
                    Status::Paused
                } else {
                    Status::Running
                };
                rec.state.pid = i64::from(state.pid);
                let _ = c.commit(&rec);
                drop(rec);
                tracing::info!(container = %c.id, "re-adopted the running container");
                crate::monitor::spawn(self.clone(), c);
            }
            _ => {
                let exit = crate::monitor::collect_exit(self, &c.id).await;
                self.handle_exit(&c, exit).await;
            }
        }
    }

    /// `always` restarts every container that was not stopped by the user; `unless-stopped`
    /// the same; others stay as they are.
    async fn apply_restart_policy_at_boot(&self, c: Arc<Container>) {
        let mut rec = c.lock().await;
        let policy = rec.host_config.restart_policy.clone().unwrap_or_default();
        let wanted = matches!(
            policy.name.as_deref(),
            Some("always") | Some("unless-stopped")
        );
        if !wanted || rec.manually_stopped || !rec.has_been_started {
            return;
        }
        if let Err(e) = self.start_locked(&c, &mut rec).await {
            tracing::warn!(container = %c.id, "restart at boot failed: {}", e.message);
        }
    }
}
