//! Typed calls for the container and exec endpoints (`/containers/...`, `/exec/...`, `/commit`).

use std::collections::BTreeMap;

use base64::Engine as _;
use berth_api::config::{ContainerConfig, ContainerCreateBody};
use berth_api::container::{
    ContainerInspect, ContainerPruneResponse, ContainerSummary, CreateResponse, FilesystemChange,
    IdResponse, PathStat, TopResponse, UpdateBody, UpdateResponse, WaitResponse,
};
use berth_api::exec::{ExecCreateBody, ExecInspect, ExecStartBody};
use http::{HeaderMap, Method, Response};
use hyper::body::Incoming;

use crate::error::ClientError;
use crate::transport::{Body, Client, Hijacked, empty_body, read_json};

/// Filters as Docker encodes them in the `filters` query parameter: `{"key":["value",...]}`.
pub type FilterMap = BTreeMap<String, Vec<String>>;

/// Encodes a filter map for the query string; `None` when empty so the parameter is left out.
pub fn encode_filters(filters: &FilterMap) -> Option<String> {
    if filters.is_empty() {
        None
    } else {
        serde_json::to_string(filters).ok()
    }
}

/// Pushes `(key, "1")` when `on`: Docker sends flags as `1` and leaves false ones out.
pub fn push_flag(query: &mut Vec<(&'static str, String)>, key: &'static str, on: bool) {
    if on {
        query.push((key, "1".to_string()));
    }
}

/// Options of `GET /containers/json`.
#[derive(Debug, Clone, Default)]
pub struct ListContainers {
    /// Include stopped containers.
    pub all: bool,
    /// Only the last N created (`-n`); `None` for all.
    pub limit: Option<i64>,
    /// Compute sizes.
    pub size: bool,
    /// Filters.
    pub filters: FilterMap,
}

/// Options of `GET /containers/{id}/logs`.
#[derive(Debug, Clone, Default)]
pub struct LogsQuery {
    /// Keep streaming.
    pub follow: bool,
    /// Prefix timestamps.
    pub timestamps: bool,
    /// Only since this time (as the user gave it, already converted to Unix seconds).
    pub since: Option<String>,
    /// Only until this time.
    pub until: Option<String>,
    /// `all` or a number.
    pub tail: Option<String>,
}

/// Options of `POST /containers/{id}/attach`.
#[derive(Debug, Clone, Default)]
pub struct AttachQuery {
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr.
    pub stderr: bool,
    /// Replay logs first.
    pub logs: bool,
    /// Detach key sequence.
    pub detach_keys: Option<String>,
}

/// A wait request whose headers arrived: the container may now be started without missing its exit.
#[derive(Debug)]
pub struct PendingWait {
    path: String,
    resp: Response<Incoming>,
}

impl PendingWait {
    /// Waits for the condition and returns the exit status.
    pub async fn result(self) -> Result<WaitResponse, ClientError> {
        read_json(&self.path, self.resp).await
    }
}

fn container_path(id: &str, action: &str) -> String {
    if action.is_empty() {
        format!("/containers/{id}")
    } else {
        format!("/containers/{id}/{action}")
    }
}

impl Client {
    /// `POST /containers/create`.
    pub async fn create_container(
        &self,
        body: &ContainerCreateBody,
        name: Option<&str>,
        platform: Option<&str>,
    ) -> Result<CreateResponse, ClientError> {
        let mut query = Vec::new();
        if let Some(name) = name {
            query.push(("name", name.to_string()));
        }
        if let Some(p) = platform {
            query.push(("platform", p.to_string()));
        }
        self.post_json("/containers/create", &query, Some(body))
            .await
    }

    /// `GET /containers/{id}/json` as raw JSON (templates see every field the daemon sent).
    pub async fn inspect_container_raw(
        &self,
        id: &str,
        size: bool,
    ) -> Result<serde_json::Value, ClientError> {
        let mut query = Vec::new();
        push_flag(&mut query, "size", size);
        self.get_json(&container_path(id, "json"), &query).await
    }

    /// `GET /containers/{id}/json` typed.
    pub async fn inspect_container(&self, id: &str) -> Result<ContainerInspect, ClientError> {
        self.get_json(&container_path(id, "json"), &[]).await
    }

    /// `GET /containers/json`.
    pub async fn list_containers(
        &self,
        opts: &ListContainers,
    ) -> Result<Vec<ContainerSummary>, ClientError> {
        let mut query = Vec::new();
        push_flag(&mut query, "all", opts.all);
        push_flag(&mut query, "size", opts.size);
        if let Some(n) = opts.limit {
            query.push(("limit", n.to_string()));
        }
        if let Some(f) = encode_filters(&opts.filters) {
            query.push(("filters", f));
        }
        self.get_json("/containers/json", &query).await
    }

    /// `POST /containers/{id}/start`.
    pub async fn start_container(&self, id: &str) -> Result<(), ClientError> {
        self.post_empty(&container_path(id, "start"), &[]).await
    }

    /// `POST /containers/{id}/stop` (or `restart` when `action` says so) with optional timeout and signal.
    pub async fn stop_like(
        &self,
        id: &str,
        action: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut query = Vec::new();
        if let Some(t) = timeout {
            query.push(("t", t.to_string()));
        }
        if let Some(s) = signal {
            query.push(("signal", s.to_string()));
        }
        self.post_empty(&container_path(id, action), &query).await
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<(), ClientError> {
        let query: Vec<_> = signal
            .map(|s| ("signal", s.to_string()))
            .into_iter()
            .collect();
        self.post_empty(&container_path(id, "kill"), &query).await
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove_container(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
        link: bool,
    ) -> Result<(), ClientError> {
        let mut query = Vec::new();
        push_flag(&mut query, "force", force);
        push_flag(&mut query, "v", volumes);
        push_flag(&mut query, "link", link);
        self.delete(&container_path(id, ""), &query).await
    }

    /// Sends `POST /containers/{id}/wait` and returns once the daemon sent the reply headers.
    pub async fn wait_begin(&self, id: &str, condition: &str) -> Result<PendingWait, ClientError> {
        let path = container_path(id, "wait");
        let query = [("condition", condition.to_string())];
        let resp = self
            .request(Method::POST, &path, &query, empty_body(), HeaderMap::new())
            .await?;
        Ok(PendingWait { path, resp })
    }

    /// `POST /containers/{id}/attach` hijacked.
    pub async fn attach_container(
        &self,
        id: &str,
        opts: &AttachQuery,
    ) -> Result<Hijacked, ClientError> {
        let mut query = vec![("stream", "1".to_string())];
        push_flag(&mut query, "stdin", opts.stdin);
        push_flag(&mut query, "stdout", opts.stdout);
        push_flag(&mut query, "stderr", opts.stderr);
        push_flag(&mut query, "logs", opts.logs);
        if let Some(k) = &opts.detach_keys {
            query.push(("detachKeys", k.clone()));
        }
        self.hijack::<()>(&container_path(id, "attach"), &query, None)
            .await
    }

    /// `GET /containers/{id}/logs`; the body is framed unless the container has a TTY.
    pub async fn container_logs(
        &self,
        id: &str,
        opts: &LogsQuery,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut query = vec![("stdout", "1".to_string()), ("stderr", "1".to_string())];
        push_flag(&mut query, "follow", opts.follow);
        push_flag(&mut query, "timestamps", opts.timestamps);
        for (key, value) in [
            ("since", &opts.since),
            ("until", &opts.until),
            ("tail", &opts.tail),
        ] {
            if let Some(v) = value {
                query.push((key, v.clone()));
            }
        }
        let path = container_path(id, "logs");
        self.request(Method::GET, &path, &query, empty_body(), HeaderMap::new())
            .await
    }

    /// `POST /containers/{id}/resize` (or `/exec/{id}/resize` with `kind = "exec"`).
    pub async fn resize(
        &self,
        kind: &str,
        id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), ClientError> {
        let query = [("h", height.to_string()), ("w", width.to_string())];
        self.post_empty(&format!("/{kind}/{id}/resize"), &query)
            .await
    }

    /// `POST /containers/{id}/rename`.
    pub async fn rename_container(&self, id: &str, name: &str) -> Result<(), ClientError> {
        self.post_empty(&container_path(id, "rename"), &[("name", name.to_string())])
            .await
    }

    /// `POST /containers/{id}/pause` or `unpause` (the `action`).
    pub async fn container_action(&self, id: &str, action: &str) -> Result<(), ClientError> {
        self.post_empty(&container_path(id, action), &[]).await
    }

    /// `POST /containers/{id}/update`.
    pub async fn update_container(
        &self,
        id: &str,
        body: &UpdateBody,
    ) -> Result<UpdateResponse, ClientError> {
        self.post_json(&container_path(id, "update"), &[], Some(body))
            .await
    }

    /// `GET /containers/{id}/top`.
    pub async fn top(&self, id: &str, ps_args: Option<&str>) -> Result<TopResponse, ClientError> {
        let query: Vec<_> = ps_args
            .map(|a| ("ps_args", a.to_string()))
            .into_iter()
            .collect();
        self.get_json(&container_path(id, "top"), &query).await
    }

    /// `GET /containers/{id}/changes`.
    pub async fn changes(&self, id: &str) -> Result<Option<Vec<FilesystemChange>>, ClientError> {
        self.get_json(&container_path(id, "changes"), &[]).await
    }

    /// `GET /containers/{id}/export` (a tar stream).
    pub async fn export_container(&self, id: &str) -> Result<Response<Incoming>, ClientError> {
        let path = container_path(id, "export");
        self.request(Method::GET, &path, &[], empty_body(), HeaderMap::new())
            .await
    }

    /// `GET /containers/{id}/stats`.
    pub async fn stats(&self, id: &str, stream: bool) -> Result<Response<Incoming>, ClientError> {
        let query = [("stream", if stream { "1" } else { "0" }.to_string())];
        let path = container_path(id, "stats");
        self.request(Method::GET, &path, &query, empty_body(), HeaderMap::new())
            .await
    }

    /// `GET /containers/{id}/archive`: the stat header and the tar stream.
    pub async fn get_archive(
        &self,
        id: &str,
        path_in_container: &str,
    ) -> Result<(Option<PathStat>, Response<Incoming>), ClientError> {
        let path = container_path(id, "archive");
        let query = [("path", path_in_container.to_string())];
        let resp = self
            .request(Method::GET, &path, &query, empty_body(), HeaderMap::new())
            .await?;
        let stat = resp
            .headers()
            .get("X-Docker-Container-Path-Stat")
            .and_then(|v| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_bytes())
                    .ok()
            })
            .and_then(|raw| serde_json::from_slice(&raw).ok());
        Ok((stat, resp))
    }

    /// `PUT /containers/{id}/archive` with a tar body.
    pub async fn put_archive(
        &self,
        id: &str,
        dir_in_container: &str,
        body: Body,
        copy_uid_gid: bool,
    ) -> Result<(), ClientError> {
        let path = container_path(id, "archive");
        let mut query = vec![
            ("path", dir_in_container.to_string()),
            ("noOverwriteDirNonDir", "true".to_string()),
        ];
        push_flag(&mut query, "copyUIDGID", copy_uid_gid);
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-tar"),
        );
        let resp = self
            .request(Method::PUT, &path, &query, body, headers)
            .await?;
        crate::transport::read_bytes(&path, resp).await.map(drop)
    }

    /// `POST /containers/prune`.
    pub async fn prune_containers(
        &self,
        filters: &FilterMap,
    ) -> Result<ContainerPruneResponse, ClientError> {
        let query: Vec<_> = encode_filters(filters)
            .map(|f| ("filters", f))
            .into_iter()
            .collect();
        self.post_json::<(), _>("/containers/prune", &query, None)
            .await
    }

    /// `POST /commit`; `query` carries container, repo, tag, comment, author, pause, changes.
    pub async fn commit(
        &self,
        query: &[(&str, String)],
        config: Option<&ContainerConfig>,
    ) -> Result<IdResponse, ClientError> {
        self.post_json("/commit", query, config).await
    }

    /// `POST /containers/{id}/exec`.
    pub async fn create_exec(
        &self,
        id: &str,
        body: &ExecCreateBody,
    ) -> Result<IdResponse, ClientError> {
        self.post_json(&container_path(id, "exec"), &[], Some(body))
            .await
    }

    /// `POST /exec/{id}/start` hijacked (attached exec).
    pub async fn start_exec_attached(
        &self,
        exec_id: &str,
        body: &ExecStartBody,
    ) -> Result<Hijacked, ClientError> {
        self.hijack(&format!("/exec/{exec_id}/start"), &[], Some(body))
            .await
    }

    /// `POST /exec/{id}/start` with `Detach: true`.
    pub async fn start_exec_detached(
        &self,
        exec_id: &str,
        body: &ExecStartBody,
    ) -> Result<(), ClientError> {
        let path = format!("/exec/{exec_id}/start");
        let resp = self.post(&path, &[], Some(body)).await?;
        crate::transport::read_bytes(&path, resp).await.map(drop)
    }

    /// `GET /exec/{id}/json`.
    pub async fn inspect_exec(&self, exec_id: &str) -> Result<ExecInspect, ClientError> {
        self.get_json(&format!("/exec/{exec_id}/json"), &[]).await
    }
}
