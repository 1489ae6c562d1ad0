//! `docker exec`: exec instances (created, then started attached or detached) run by the
//! container's shim, with the container's process settings and the request's overrides.

use crate::Engine;
use crate::attach::{channels, pump};
use crate::lifecycle::BUNDLE_SPEC;
use crate::status::Status;
use crate::user;
use berth_api::container::{IdResponse, ResizeOptions};
use berth_api::exec::{ExecCreateBody, ExecInspect, ExecProcessConfig, ExecStartBody};
use berth_api::{ApiError, ApiResult, AttachedStreams};
use berth_shim::protocol::Request;
use oci_spec::runtime::{Process, Spec};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One exec instance.
pub struct ExecRecord {
    /// Its id.
    pub id: String,
    /// The container it runs in.
    pub container_id: String,
    /// What was asked.
    pub body: ExecCreateBody,
    state: Mutex<ExecState>,
}

#[derive(Default, Clone)]
struct ExecState {
    started: bool,
    running: bool,
    pid: i32,
    exit_code: Option<i64>,
}

impl ExecRecord {
    fn set(&self, f: impl FnOnce(&mut ExecState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
    }

    fn get(&self) -> ExecState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Engine {
    /// Creates an exec instance in a running container.
    pub async fn exec_create(
        &self,
        container: &str,
        body: ExecCreateBody,
    ) -> ApiResult<IdResponse> {
        let c = self.lookup(container)?;
        let rec = c.lock().await;
        match rec.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    rec.id
                )));
            }
            _ => return Err(ApiError::not_running(&rec.id)),
        }
        if body.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(ApiError::invalid("No exec command specified"));
        }
        let id = crate::names::new_id();
        let record = Arc::new(ExecRecord {
            id: id.clone(),
            container_id: rec.id.clone(),
            body,
            state: Mutex::new(ExecState::default()),
        });
        self.inner
            .execs
            .lock()
            .map_err(|_| ApiError::internal("exec table poisoned"))?
            .insert(id.clone(), record);
        let mut attrs = HashMap::new();
        attrs.insert("execID".to_string(), id.clone());
        self.emit_container("exec_create", &rec, attrs);
        Ok(IdResponse { id })
    }

    fn exec_record(&self, id: &str) -> ApiResult<Arc<ExecRecord>> {
        self.inner
            .execs
            .lock()
            .map_err(|_| ApiError::internal("exec table poisoned"))?
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::no_such_exec(id))
    }

    /// Starts an exec; attached unless `Detach`.
    pub async fn exec_start(
        &self,
        id: &str,
        body: ExecStartBody,
    ) -> ApiResult<Option<AttachedStreams>> {
        let ex = self.exec_record(id)?;
        if ex.get().started {
            return Err(ApiError::conflict(format!(
                "Error: Exec command {id} has already run"
            )));
        }
        let c = self.lookup(&ex.container_id)?;
        let rec = c.lock().await;
        if rec.state.status != Status::Running {
            return Err(ApiError::not_running(&rec.id));
        }
        let tty = ex.body.tty.unwrap_or(false) || body.tty;
        let mut process = self.exec_process(&rec.id, &ex.body, tty)?;
        let size = body
            .console_size
            .as_deref()
            .or(ex.body.console_size.as_deref());
        if let Some(size) =
            crate::spec::console_size(tty, size).and_then(|v| serde_json::from_value(v).ok())
        {
            process.set_console_size(Some(size));
        }
        let stdin = ex.body.attach_stdin.unwrap_or(false) && !body.detach;
        let attach = !body.detach;
        ex.set(|s| {
            s.started = true;
            s.running = true;
        });
        let client = self.shim(&rec.id);
        let (pid, stream) = client.exec(id, process, stdin, attach).await.map_err(|e| {
            ex.set(|s| {
                s.running = false;
                s.exit_code = Some(126);
            });
            let msg = e.to_string();
            let kind = if msg.contains("executable file not found") || msg.contains("no such file")
            {
                berth_api::ErrorKind::InvalidArgument
            } else {
                e.kind()
            };
            ApiError::new(
                kind,
                format!("OCI runtime exec failed: exec failed: {msg}: unknown"),
            )
        })?;
        ex.set(|s| s.pid = pid);
        let mut attrs = HashMap::new();
        attrs.insert("execID".to_string(), id.to_string());
        let cmd = ex.body.cmd.clone().unwrap_or_default().join(" ");
        attrs.insert("exec_start".to_string(), cmd);
        self.emit_container("exec_start", &rec, attrs);
        drop(rec);
        let engine = self.clone();
        let finish = move |exit_code: i64| {
            ex.set(|s| {
                s.running = false;
                s.exit_code = Some(exit_code);
            });
            let mut attrs = HashMap::new();
            attrs.insert("execID".to_string(), ex.id.clone());
            attrs.insert("exitCode".to_string(), exit_code.to_string());
            let container_id = ex.container_id.clone();
            tokio::spawn(async move {
                if let Ok(c) = engine.lookup(&container_id) {
                    let rec = c.lock().await;
                    engine.emit_container("exec_die", &rec, attrs);
                }
            });
        };
        match stream {
            Some(stream) => {
                let (streams, pending) = channels(stdin, true, true, tty);
                let (stdin_rx, out) = pending.into_parts();
                pump(
                    stream,
                    stdin_rx,
                    out,
                    Some(Box::new(move |exit| finish(i64::from(exit.exit_code)))),
                );
                Ok(Some(streams))
            }
            None => {
                let exec_id = id.to_string();
                tokio::spawn(async move {
                    let code = client
                        .wait(Some(exec_id))
                        .await
                        .map(|e| i64::from(e.exit_code))
                        .unwrap_or(-1);
                    finish(code);
                });
                Ok(None)
            }
        }
    }

    /// Builds the exec's OCI process from the container's spec and the request.
    pub(crate) fn exec_process(
        &self,
        container_id: &str,
        body: &ExecCreateBody,
        tty: bool,
    ) -> ApiResult<Process> {
        let path = self.shim_dir(container_id).join(BUNDLE_SPEC);
        let spec = Spec::load(&path)
            .map_err(|e| ApiError::internal(format!("reading {}: {e}", path.display())))?;
        let mut process = spec
            .process()
            .clone()
            .ok_or_else(|| ApiError::internal("the container spec has no process"))?;
        process.set_args(body.cmd.clone());
        process.set_terminal(Some(tty));
        let mut env = process.env().clone().unwrap_or_default();
        for kv in body.env.iter().flatten() {
            let key = kv.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        process.set_env(Some(env));
        if let Some(w) = body.working_dir.as_ref().filter(|w| !w.is_empty()) {
            process.set_cwd(w.into());
        }
        if let Some(u) = body.user.as_ref().filter(|u| !u.is_empty()) {
            let rootfs = spec
                .root()
                .as_ref()
                .map(|r| r.path().clone())
                .unwrap_or_default();
            let resolved =
                user::resolve(&rootfs, u, &[]).map_err(|e| ApiError::invalid(e.to_string()))?;
            let mut user = process.user().clone();
            user.set_uid(resolved.uid);
            user.set_gid(resolved.gid);
            user.set_additional_gids(Some(resolved.additional_gids));
            process.set_user(user);
        }
        if body.privileged.unwrap_or(false)
            && let Ok(all) = berth_runtime::capabilities::host_available()
        {
            let set: oci_spec::runtime::Capabilities = all.into_iter().collect();
            let mut caps = process.capabilities().clone().unwrap_or_default();
            caps.set_bounding(Some(set.clone()));
            caps.set_effective(Some(set.clone()));
            caps.set_permitted(Some(set));
            process.set_capabilities(Some(caps));
        }
        Ok(process)
    }

    /// Inspects an exec instance.
    pub async fn exec_inspect(&self, id: &str) -> ApiResult<ExecInspect> {
        let ex = self.exec_record(id)?;
        let s = ex.get();
        let cmd = ex.body.cmd.clone().unwrap_or_default();
        Ok(ExecInspect {
            can_remove: false,
            container_id: ex.container_id.clone(),
            detach_keys: String::new(),
            exit_code: s.exit_code,
            id: ex.id.clone(),
            open_stdin: ex.body.attach_stdin.unwrap_or(false),
            open_stderr: ex.body.attach_stderr.unwrap_or(false),
            open_stdout: ex.body.attach_stdout.unwrap_or(false),
            process_config: ExecProcessConfig {
                entrypoint: cmd.first().cloned().unwrap_or_default(),
                arguments: cmd.iter().skip(1).cloned().collect(),
                privileged: ex.body.privileged.unwrap_or(false),
                tty: ex.body.tty.unwrap_or(false),
                user: ex.body.user.clone().unwrap_or_default(),
            },
            running: s.running,
            pid: i64::from(s.pid),
        })
    }

    /// Resizes an exec's terminal.
    pub async fn exec_resize(&self, id: &str, size: ResizeOptions) -> ApiResult<()> {
        let ex = self.exec_record(id)?;
        self.shim(&ex.container_id)
            .call(&Request::Resize {
                exec_id: Some(id.to_string()),
                height: size.height,
                width: size.width,
            })
            .await
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))
    }
}
