//! Container lifecycle operations: create, start, stop, kill, restart, pause, unpause,
//! rename, remove and wait, each checking the state machine under the container's lock.

use crate::container::Container;
use crate::record::{ContainerRecord, StateRecord};
use crate::shim_client::{self, ShimClient};
use crate::spec::{self, SpecInputs};
use crate::status::Status;
use crate::{Engine, names, signals};
use berth_api::config::ContainerCreateBody;
use berth_api::container::{
    CreateOptions, CreateResponse, RemoveOptions, StopOptions, WaitCondition, WaitResponse,
};
use berth_api::{ApiError, ApiResult, WaitFuture};
use berth_shim::config::{CONFIG_FILE, ShimConfig};
use berth_shim::protocol::Request;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Docker's zero time, shown for containers that never started or finished.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The OCI bundle's spec file inside the shim directory.
pub const BUNDLE_SPEC: &str = "config.json";

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("{what}: {e}"))
}

impl Engine {
    /// A generated `/adjective_surnameNN` name no container has yet. Like Docker, a generated
    /// name that is taken is drawn again instead of failing the create; the create's own
    /// conflict check still guards the (tiny) window before the name is inserted.
    fn unused_generated_name(&self) -> ApiResult<String> {
        let index = self
            .inner
            .containers
            .lock()
            .map_err(|_| ApiError::internal("index poisoned"))?;
        names::first_unused(|n| index.name_owner(n).is_some(), names::generate).ok_or_else(|| {
            ApiError::internal("could not generate a container name that is not in use")
        })
    }

    /// Creates a container from an image and a create request.
    pub async fn create(
        &self,
        opts: CreateOptions,
        body: ContainerCreateBody,
    ) -> ApiResult<CreateResponse> {
        let image_name = body.config.image.clone().unwrap_or_default();
        if image_name.is_empty() {
            return Err(ApiError::invalid("config.Image must be set"));
        }
        let image = self.inner.images.resolve(&image_name).await?;
        let id = names::new_id();
        let name = match opts.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) if !names::valid(n) => {
                return Err(ApiError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
            Some(n) => format!("/{}", n.trim_start_matches('/')),
            None => self.unused_generated_name()?,
        };
        let mut record = crate::container_config::merge(&id, &name, &image, body)?;
        let dir = self.container_dir(&id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| internal("creating the container directory", e))?;
        let cleanup_dir = scopeguard_dir(dir.clone());
        crate::container_config::write_etc_files(&dir, &record)
            .map_err(|e| internal("writing /etc files", e))?;
        let (key, graph) = self.inner.images.prepare_rootfs(&id, &image.id).await?;
        record.snapshot_key = key;
        record.graph_data = graph;
        let c = Arc::new(Container::new(record.clone(), dir.clone()));
        let conflict = {
            let mut index = self
                .inner
                .containers
                .lock()
                .map_err(|_| ApiError::internal("index poisoned"))?;
            match index.name_owner(&name) {
                Some(owner) => Some(owner.clone()),
                None => {
                    index.insert(&name, c.clone());
                    None
                }
            }
        };
        if let Some(owner) = conflict {
            let _ = self.inner.images.remove_rootfs(&record.snapshot_key).await;
            return Err(ApiError::name_in_use(&name, &owner));
        }
        c.commit(&record)
            .map_err(|e| internal("saving the container", e))?;
        cleanup_dir.disarm();
        self.emit_container("create", &record, HashMap::new());
        Ok(CreateResponse {
            id,
            warnings: Vec::new(),
        })
    }

    /// Starts a created or exited container.
    pub async fn start(&self, name: &str) -> ApiResult<()> {
        let c = self.lookup(name)?;
        let mut rec = c.lock().await;
        match rec.state.status {
            Status::Running => return Err(ApiError::not_modified()),
            Status::Paused => {
                return Err(ApiError::conflict(
                    "cannot start a paused container, try unpause instead",
                ));
            }
            s if !s.can_start() => {
                return Err(ApiError::conflict(format!(
                    "cannot start a container in state {s}"
                )));
            }
            _ => {}
        }
        c.cancel_restart();
        rec.manually_stopped = false;
        let result = self.start_locked(&c, &mut rec).await;
        if result.is_err() && rec.host_config.auto_remove.unwrap_or(false) {
            drop(rec);
            let _ = self.remove_now(&c).await;
        }
        result
    }

    /// Starts the container whose lock the caller holds.
    pub(crate) async fn start_locked(
        &self,
        c: &Arc<Container>,
        rec: &mut ContainerRecord,
    ) -> ApiResult<()> {
        match self.spawn_shim(c, rec).await {
            Ok(pid) => {
                rec.state = StateRecord {
                    status: Status::Running,
                    pid: i64::from(pid),
                    exit_code: 0,
                    oom_killed: false,
                    error: String::new(),
                    started_at: berth_shim::timestamp::now(),
                    finished_at: rec.state.finished_at.clone(),
                };
                rec.has_been_started = true;
                // An `--rm` container's running state need not survive a power loss (the
                // container is gone with it); skipping its fsync shortens `run --rm`.
                let durable = !rec.host_config.auto_remove.unwrap_or(false);
                c.commit_with(rec, durable)
                    .map_err(|e| internal("saving the container", e))?;
                self.emit_container("start", rec, HashMap::new());
                crate::monitor::spawn(self.clone(), c.clone());
                if let Some(check) = &rec.config.healthcheck {
                    self.spawn_healthcheck(c, rec.state.started_at.clone(), check);
                }
                Ok(())
            }
            Err(failure) => {
                rec.state.status = if rec.has_been_started {
                    Status::Exited
                } else {
                    Status::Created
                };
                rec.state.exit_code = failure.exit_code;
                rec.state.error = failure.error.message.clone();
                rec.state.pid = 0;
                let _ = c.commit(rec);
                let _ = self.inner.images.unmount_rootfs(&c.dir).await;
                c.pending.lock().map(|mut p| p.clear()).ok();
                Err(failure.error)
            }
        }
    }

    async fn spawn_shim(
        &self,
        c: &Arc<Container>,
        rec: &ContainerRecord,
    ) -> Result<i32, StartFailure> {
        let fail = |e: ApiError| StartFailure {
            exit_code: 128,
            error: e,
        };
        tracing::debug!(container = %rec.id, "starting");
        let rootfs = self
            .inner
            .images
            .mount_rootfs(&rec.snapshot_key, &c.dir)
            .await
            .map_err(fail)?;
        tracing::debug!(container = %rec.id, "rootfs mounted");
        let cgroups_path = format!("/berth/{}", rec.id);
        let built = spec::build(&SpecInputs {
            record: rec,
            rootfs: &rootfs,
            container_dir: &c.dir,
            cgroups_path: cgroups_path.clone(),
            init_binary: self.inner.cfg.init_binary.as_deref(),
            default_ulimits: &self.inner.cfg.default_ulimits,
        })
        .map_err(|e| match e {
            spec::SpecError::Internal(_) => fail(internal("building the spec", e)),
            other => fail(ApiError::invalid(other.to_string())),
        })?;
        for w in &built.warnings {
            tracing::warn!(container = %rec.id, "{w}");
        }
        let shim_dir = self.shim_dir(&rec.id);
        let _ = std::fs::remove_dir_all(&shim_dir);
        std::fs::create_dir_all(&shim_dir)
            .map_err(|e| fail(internal("creating the shim directory", e)))?;
        let spec_json =
            serde_json::to_vec(&built.spec).map_err(|e| fail(internal("encoding the spec", e)))?;
        std::fs::write(shim_dir.join(BUNDLE_SPEC), spec_json)
            .map_err(|e| fail(internal("writing the spec", e)))?;
        let shim_cfg = self.shim_config(rec, &shim_dir, cgroups_path);
        let cfg_json = serde_json::to_vec(&shim_cfg)
            .map_err(|e| fail(internal("encoding the shim config", e)))?;
        std::fs::write(shim_dir.join(CONFIG_FILE), cfg_json)
            .map_err(|e| fail(internal("writing the shim config", e)))?;
        let pid = match shim_client::spawn(&self.inner.cfg.shim_binary, &shim_dir).await {
            Ok(pid) => pid,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&shim_dir);
                return Err(create_failure(&e));
            }
        };
        tracing::debug!(container = %rec.id, pid, "shim ready");
        let client = self.shim(&rec.id);
        let pending: Vec<_> = c
            .pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        for p in pending {
            if let Err(e) = crate::attach::connect(&client, p).await {
                tracing::warn!(container = %rec.id, "attach before start failed: {e}");
            }
        }
        if let Err(e) = client.call(&Request::Start).await {
            if client.call(&Request::Delete).await.is_err() {
                self.delete_without_shim(&rec.id).await;
            }
            let _ = std::fs::remove_dir_all(&shim_dir);
            return Err(create_failure(&e));
        }
        Ok(pid)
    }

    fn shim_config(
        &self,
        rec: &ContainerRecord,
        shim_dir: &std::path::Path,
        cgroup: String,
    ) -> ShimConfig {
        let opts = rec
            .host_config
            .log_config
            .as_ref()
            .map(|l| l.config.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| self.inner.cfg.log_opts.clone());
        ShimConfig {
            id: rec.id.clone(),
            bundle: shim_dir.to_path_buf(),
            runtime_root: self.runtime_root(),
            log_path: Some(crate::logs::log_path(&self.container_dir(&rec.id), &rec.id)),
            log_max_size: opts
                .get("max-size")
                .and_then(|s| parse_size(s))
                .unwrap_or(0),
            log_max_files: opts
                .get("max-file")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1),
            tty: rec.tty(),
            open_stdin: rec.config.open_stdin.unwrap_or(false),
            // Docker closes a container's stdin when an attach ends only for StdinOnce
            // without a TTY (`docker run -i`); `-it` and `-dit` sessions may detach and come back.
            stdin_once: rec.config.stdin_once.unwrap_or(false) && !rec.tty(),
            cgroup_path: Some(cgroup),
        }
    }

    /// Removes a container from the runtime when its shim is gone (it crashed): kills what
    /// is left and removes the cgroup and runtime state, so nothing leaks.
    pub(crate) async fn delete_without_shim(&self, id: &str) {
        let runtime = berth_runtime::Runtime::new(self.runtime_root());
        let id = id.to_string();
        let _ = tokio::task::spawn_blocking(move || runtime.delete(&id, true)).await;
    }

    /// A client for the container's shim.
    pub(crate) fn shim(&self, id: &str) -> ShimClient {
        ShimClient::new(self.shim_dir(id).join(berth_shim::config::SOCKET_FILE))
    }

    /// Stops: StopSignal, then SIGKILL after the timeout.
    pub async fn stop(&self, name: &str, opts: StopOptions) -> ApiResult<()> {
        let c = self.lookup(name)?;
        let (signal, timeout) = {
            let mut rec = c.lock().await;
            match rec.state.status {
                Status::Restarting => {
                    c.cancel_restart();
                    rec.manually_stopped = true;
                    rec.state.status = Status::Exited;
                    c.commit(&rec)
                        .map_err(|e| internal("saving the container", e))?;
                    return Ok(());
                }
                s if !s.is_live() => return Err(ApiError::not_modified()),
                _ => {}
            }
            rec.manually_stopped = true;
            c.commit(&rec)
                .map_err(|e| internal("saving the container", e))?;
            let sig_name = opts
                .signal
                .clone()
                .or_else(|| rec.config.stop_signal.clone())
                .unwrap_or_else(|| "SIGTERM".into());
            let signal = signals::parse(&sig_name)
                .ok_or_else(|| ApiError::invalid(format!("Invalid signal: {sig_name}")))?;
            let timeout = opts.timeout.or(rec.config.stop_timeout).unwrap_or(10);
            if rec.state.status == Status::Paused {
                let _ = self.shim(&rec.id).call(&Request::Resume).await;
            }
            (signal, timeout)
        };
        let client = self.shim(&c.id);
        if timeout != 0 {
            let _ = client.call(&Request::Kill { signal, all: false }).await;
        }
        let limit = if timeout < 0 {
            None
        } else {
            Some(Duration::from_secs(timeout as u64))
        };
        if !wait_not_live(&c, limit).await {
            let _ = client
                .call(&Request::Kill {
                    signal: libc::SIGKILL,
                    all: true,
                })
                .await;
            wait_not_live(&c, Some(Duration::from_secs(30))).await;
        }
        let rec = c.lock().await;
        self.emit_container("stop", &rec, HashMap::new());
        Ok(())
    }

    /// Sends a signal to a running container.
    pub async fn kill(&self, name: &str, signal: Option<String>) -> ApiResult<()> {
        let c = self.lookup(name)?;
        let sig_name = signal.unwrap_or_else(|| "SIGKILL".into());
        let sig = signals::parse(&sig_name)
            .ok_or_else(|| ApiError::invalid(format!("Invalid signal: {sig_name}")))?;
        let rec = c.lock().await;
        match rec.state.status {
            Status::Running => {}
            Status::Paused => return Err(ApiError::paused(&rec.id)),
            _ => return Err(ApiError::not_running(&rec.id)),
        }
        self.shim(&rec.id)
            .call(&Request::Kill {
                signal: sig,
                all: false,
            })
            .await
            .map_err(|e| ApiError::new(e.kind(), format!("Cannot kill container: {name}: {e}")))?;
        let mut attrs = HashMap::new();
        attrs.insert("signal".to_string(), sig.to_string());
        self.emit_container("kill", &rec, attrs);
        Ok(())
    }

    /// Stops (if running) and starts again.
    pub async fn restart(&self, name: &str, opts: StopOptions) -> ApiResult<()> {
        let c = self.lookup(name)?;
        match self.stop(name, opts).await {
            Ok(()) => {}
            Err(e) if e.kind == berth_api::ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        let mut rec = c.lock().await;
        if rec.state.status.is_live() {
            return Ok(());
        }
        rec.manually_stopped = false;
        self.start_locked(&c, &mut rec).await?;
        self.emit_container("restart", &rec, HashMap::new());
        Ok(())
    }

    /// Freezes a running container.
    pub async fn pause(&self, name: &str) -> ApiResult<()> {
        let c = self.lookup(name)?;
        let mut rec = c.lock().await;
        match rec.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "Container {} is already paused",
                    rec.id
                )));
            }
            _ => return Err(ApiError::not_running(&rec.id)),
        }
        self.shim(&rec.id)
            .call(&Request::Pause)
            .await
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))?;
        rec.state.status = Status::Paused;
        c.commit(&rec)
            .map_err(|e| internal("saving the container", e))?;
        self.emit_container("pause", &rec, HashMap::new());
        Ok(())
    }

    /// Thaws a paused container.
    pub async fn unpause(&self, name: &str) -> ApiResult<()> {
        let c = self.lookup(name)?;
        let mut rec = c.lock().await;
        if rec.state.status != Status::Paused {
            return Err(ApiError::conflict(format!(
                "Container {} is not paused",
                rec.id
            )));
        }
        self.shim(&rec.id)
            .call(&Request::Resume)
            .await
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))?;
        rec.state.status = Status::Running;
        c.commit(&rec)
            .map_err(|e| internal("saving the container", e))?;
        self.emit_container("unpause", &rec, HashMap::new());
        Ok(())
    }

    /// Renames a container.
    pub async fn rename(&self, name: &str, new_name: String) -> ApiResult<()> {
        let c = self.lookup(name)?;
        if !names::valid(&new_name) {
            return Err(ApiError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let mut rec = c.lock().await;
        let new = format!("/{}", new_name.trim_start_matches('/'));
        if new == rec.name {
            return Err(ApiError::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        {
            let mut index = self
                .inner
                .containers
                .lock()
                .map_err(|_| ApiError::internal("index poisoned"))?;
            if let Some(owner) = index.name_owner(&new) {
                return Err(ApiError::name_in_use(&new, owner));
            }
            index.rename(&rec.name, &new, &rec.id);
        }
        let old = std::mem::replace(&mut rec.name, new);
        c.commit(&rec)
            .map_err(|e| internal("saving the container", e))?;
        let mut attrs = HashMap::new();
        attrs.insert("oldName".to_string(), old);
        self.emit_container("rename", &rec, attrs);
        Ok(())
    }

    /// Removes a container (killing it first with `force`).
    pub async fn remove(&self, name: &str, opts: RemoveOptions) -> ApiResult<()> {
        let c = self.lookup(name)?;
        {
            let rec = c.lock().await;
            match rec.state.status {
                Status::Removing => {
                    return Err(ApiError::conflict(format!(
                        "removal of container {} is already in progress",
                        rec.id
                    )));
                }
                s if (s.is_live() || s == Status::Restarting) && !opts.force => {
                    if s == Status::Paused {
                        return Err(ApiError::conflict(format!(
                            "You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove",
                            rec.id
                        )));
                    }
                    return Err(ApiError::remove_running(&rec.id));
                }
                _ => {}
            }
            c.cancel_restart();
            if rec.state.status.is_live() {
                let client = self.shim(&rec.id);
                if rec.state.status == Status::Paused {
                    let _ = client.call(&Request::Resume).await;
                }
                let _ = client
                    .call(&Request::Kill {
                        signal: libc::SIGKILL,
                        all: true,
                    })
                    .await;
            }
        }
        wait_not_live(&c, Some(Duration::from_secs(30))).await;
        self.remove_now(&c).await
    }

    /// Removes a container that is not live (the caller made sure).
    pub(crate) async fn remove_now(&self, c: &Arc<Container>) -> ApiResult<()> {
        let mut rec = c.lock().await;
        if rec.state.status == Status::Removing && c.snapshot().removed {
            return Ok(());
        }
        rec.state.status = Status::Removing;
        // Losing this state in a power cut only means the removal is not finished at boot.
        let _ = c.commit_with(&rec, false);
        let shim_dir = self.shim_dir(&rec.id);
        if shim_dir.exists() {
            let _ = self.shim(&rec.id).call(&Request::Delete).await;
            let _ = std::fs::remove_dir_all(&shim_dir);
        }
        if let Err(e) = self.inner.images.unmount_rootfs(&c.dir).await {
            rec.state.status = Status::Dead;
            let _ = c.commit(&rec);
            return Err(e);
        }
        let _ = std::fs::remove_dir_all(&c.dir);
        if let Ok(mut index) = self.inner.containers.lock() {
            index.remove(&rec.id);
        }
        if let Ok(mut execs) = self.inner.execs.lock() {
            execs.retain(|_, e| e.container_id != rec.id);
        }
        self.emit_container("destroy", &rec, HashMap::new());
        c.note_removed();
        // The writable layer goes last: waiters (`run --rm`) need not wait for the store's
        // transaction; a crash here leaves an orphan layer that the next start removes.
        if let Err(e) = self.inner.images.remove_rootfs(&rec.snapshot_key).await {
            tracing::warn!(container = %rec.id, "removing the rootfs: {}", e.message);
        }
        tracing::debug!(container = %rec.id, "removed");
        Ok(())
    }

    /// Waits for a condition; the returned future resolves with the exit code.
    pub async fn wait(&self, name: &str, condition: WaitCondition) -> ApiResult<WaitFuture> {
        let c = self.lookup(name)?;
        let mut rx = c.subscribe();
        let start = rx.borrow().clone();
        Ok(Box::pin(async move {
            loop {
                let s = rx.borrow_and_update().clone();
                let done = match condition {
                    WaitCondition::NotRunning => {
                        !s.status.is_live() && s.status != Status::Restarting
                    }
                    WaitCondition::NextExit => s.exits > start.exits,
                    WaitCondition::Removed => s.removed,
                };
                if done {
                    return Ok(WaitResponse {
                        status_code: s.exit_code,
                        error: None,
                    });
                }
                if rx.changed().await.is_err() {
                    let s = rx.borrow().clone();
                    return Ok(WaitResponse {
                        status_code: s.exit_code,
                        error: None,
                    });
                }
            }
        }))
    }

    /// Publishes a container event with Docker's attributes (name, image, labels).
    pub(crate) fn emit_container(
        &self,
        action: &str,
        rec: &ContainerRecord,
        mut attrs: HashMap<String, String>,
    ) {
        attrs.insert("name".into(), rec.bare_name().to_string());
        attrs.insert("image".into(), rec.image_ref.clone());
        for (k, v) in rec.config.labels.iter().flatten() {
            attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.inner
            .events
            .publish("container", action, &rec.id, attrs);
    }
}

/// A start failure with the exit code Docker records for it.
struct StartFailure {
    exit_code: i64,
    error: ApiError,
}

/// Maps a shim/runtime create error to Docker's message and exit code (127 not found, 126
/// not executable, 128 otherwise).
fn create_failure(e: &shim_client::ShimError) -> StartFailure {
    let msg = e.to_string();
    let exit_code =
        if msg.contains("executable file not found") || msg.contains("no such file or directory") {
            127
        } else if msg.contains("permission denied") {
            126
        } else {
            128
        };
    let kind = if exit_code == 128 {
        berth_api::ErrorKind::Internal
    } else {
        berth_api::ErrorKind::InvalidArgument
    };
    StartFailure {
        exit_code,
        error: ApiError::new(
            kind,
            format!(
                "failed to create task for container: failed to create shim task: OCI runtime create failed: {msg}: unknown"
            ),
        ),
    }
}

/// Waits until the container is no longer live; false on timeout.
pub(crate) async fn wait_not_live(c: &Container, limit: Option<Duration>) -> bool {
    let mut rx = c.subscribe();
    let fut = async {
        loop {
            let s = rx.borrow_and_update().status;
            if !s.is_live() {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    };
    match limit {
        Some(d) => tokio::time::timeout(d, fut).await.is_ok(),
        None => {
            fut.await;
            true
        }
    }
}

/// Parses Docker's sizes (`10m`, `1g`, `512k`, `100`).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_lowercase();
    let s = s.trim_end_matches('b');
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .map(|n| (n * mult as f64) as u64)
}

/// Removes a directory on drop unless disarmed (undo a half-done create).
struct DirGuard(Option<std::path::PathBuf>);

fn scopeguard_dir(p: std::path::PathBuf) -> DirGuard {
    DirGuard(Some(p))
}

impl DirGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}
