//! A fake backend with fixed data, used only to test the HTTP layer on its own (routes, parsing, encoding,
//! framing); the real engine is tested against the real server elsewhere.

use std::collections::HashMap;
use std::sync::Mutex;

use berth_api::config::{ContainerConfig, ContainerCreateBody, HostConfig};
use berth_api::container::*;
use berth_api::exec::{ExecCreateBody, ExecInspect, ExecStartBody};
use berth_api::image::*;
use berth_api::stats::{ContainerStats, StatsOptions};
use berth_api::stream::receiver_stream;
use berth_api::system::*;
use berth_api::*;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

/// Full id of the running, non-TTY container named `web`.
pub const WEB_ID: &str = "4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8";
/// Full id of the running TTY container named `term`.
pub const TERM_ID: &str = "9e8d7c6b5a49382716051f2e3d4c5b6a79881726354433221100ffeeddccbbaa";
/// Full id every successful create returns (a non-TTY container named `fresh`).
pub const CREATED_ID: &str = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff";
/// Id of busybox:latest.
pub const BUSYBOX_ID: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// The fake engine: fixed containers and images, a call log, and a wait that tests release.
pub struct FakeBackend {
    /// Every call with its arguments, for asserting what the server parsed.
    pub calls: Mutex<Vec<String>>,
    /// Set to true by tests to finish pending waits.
    pub wait_release: watch::Sender<bool>,
    /// Whether the last exec created asked for stdin.
    pub exec_stdin: Mutex<bool>,
}

impl Default for FakeBackend {
    fn default() -> Self {
        FakeBackend {
            calls: Mutex::new(Vec::new()),
            wait_release: watch::channel(false).0,
            exec_stdin: Mutex::new(true),
        }
    }
}

impl FakeBackend {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// The recorded calls so far.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// The last recorded call.
    pub fn last_call(&self) -> String {
        self.calls().last().cloned().unwrap_or_default()
    }
}

fn resolve(id: &str) -> ApiResult<(&'static str, &'static str, bool)> {
    match id {
        "web" | WEB_ID | "4f1c" => Ok((WEB_ID, "/web", false)),
        "term" | TERM_ID => Ok((TERM_ID, "/term", true)),
        "fresh" | CREATED_ID => Ok((CREATED_ID, "/fresh", false)),
        _ => Err(ApiError::no_such_container(id)),
    }
}

fn resolve_image(name: &str) -> ApiResult<&'static str> {
    match name {
        "busybox" | "busybox:latest" | BUSYBOX_ID | "localhost:5000/a/b:t" => Ok(BUSYBOX_ID),
        _ => Err(ApiError::no_such_image(name)),
    }
}

fn summary(id: &str, name: &str) -> ContainerSummary {
    ContainerSummary {
        id: id.to_string(),
        names: vec![name.to_string()],
        image: "busybox".into(),
        image_id: BUSYBOX_ID.into(),
        command: "sh".into(),
        created: 1_700_000_000,
        state: "running".into(),
        status: "Up 5 minutes".into(),
        labels: HashMap::from([("app".to_string(), "web".to_string())]),
        host_config: SummaryHostConfig {
            network_mode: "bridge".into(),
            annotations: None,
        },
        ..Default::default()
    }
}

fn inspect_of(id: &str, name: &str, tty: bool) -> ContainerInspect {
    ContainerInspect {
        id: id.to_string(),
        name: name.to_string(),
        created: "2023-11-14T22:13:20.000000000Z".into(),
        path: "sh".into(),
        args: vec![],
        image: BUSYBOX_ID.into(),
        driver: "overlay2".into(),
        platform: "linux".into(),
        state: ContainerState {
            status: "running".into(),
            running: true,
            pid: 4242,
            started_at: "2023-11-14T22:13:21.000000000Z".into(),
            finished_at: "0001-01-01T00:00:00Z".into(),
            ..Default::default()
        },
        config: ContainerConfig {
            image: Some("busybox".into()),
            cmd: Some(vec!["sh".into()]),
            tty: Some(tty),
            hostname: Some(id[..12].to_string()),
            ..Default::default()
        },
        host_config: HostConfig {
            network_mode: Some("bridge".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn chunk(kind: StreamKind, data: &'static str) -> OutputChunk {
    OutputChunk {
        kind,
        data: Bytes::from_static(data.as_bytes()),
    }
}

/// Streams: `hello` on stdout, `oops` on stderr, then stdin echoed back on stdout, then `bye` when stdin closes.
fn echo_session(with_stdin: bool, tty: bool) -> AttachedStreams {
    let (out_tx, out_rx) = mpsc::channel(16);
    let stdin = if with_stdin {
        let (in_tx, mut in_rx) = mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            let _ = out_tx.send(chunk(StreamKind::Stdout, "hello\n")).await;
            let _ = out_tx.send(chunk(StreamKind::Stderr, "oops\n")).await;
            while let Some(data) = in_rx.recv().await {
                let _ = out_tx
                    .send(OutputChunk {
                        kind: StreamKind::Stdout,
                        data,
                    })
                    .await;
            }
            let _ = out_tx.send(chunk(StreamKind::Stdout, "bye\n")).await;
        });
        Some(in_tx)
    } else {
        tokio::spawn(async move {
            let _ = out_tx.send(chunk(StreamKind::Stdout, "hello\n")).await;
            let _ = out_tx.send(chunk(StreamKind::Stderr, "oops\n")).await;
        });
        None
    };
    AttachedStreams {
        stdin,
        output: receiver_stream(out_rx),
        tty,
    }
}

impl SystemBackend for FakeBackend {
    async fn version(&self) -> ApiResult<SystemVersion> {
        Ok(SystemVersion {
            platform: PlatformName {
                name: "berth".into(),
            },
            components: vec![ComponentVersion {
                name: "Engine".into(),
                version: "0.1.0".into(),
                details: HashMap::new(),
            }],
            version: "0.1.0".into(),
            api_version: "wrong".into(),
            git_commit: "abcdef0".into(),
            go_version: "rustc".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            kernel_version: "6.18".into(),
            build_time: "2026-11-23T00:00:00Z".into(),
            ..Default::default()
        })
    }

    async fn info(&self) -> ApiResult<SystemInfo> {
        Ok(SystemInfo {
            id: "FAKE:ID".into(),
            containers: 2,
            containers_running: 2,
            images: 1,
            driver: "overlay2".into(),
            name: "fakehost".into(),
            server_version: "0.1.0".into(),
            os_type: "linux".into(),
            operating_system: "Fake OS".into(),
            architecture: "x86_64".into(),
            ncpu: 2,
            mem_total: 1 << 30,
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: "1".into(),
            logging_driver: "json-file".into(),
            docker_root_dir: "/var/lib/berth".into(),
            default_runtime: "berth-runtime".into(),
            ..Default::default()
        })
    }

    async fn disk_usage(&self, opts: DiskUsageOptions) -> ApiResult<DiskUsage> {
        self.record(format!("df {opts:?}"));
        Ok(DiskUsage {
            layers_size: 100,
            ..Default::default()
        })
    }

    async fn auth(&self, config: AuthConfig) -> ApiResult<AuthResponse> {
        self.record(format!("auth {:?}", config.username));
        if config.password.as_deref() == Some("secret") {
            Ok(AuthResponse {
                status: "Login Succeeded".into(),
                identity_token: None,
            })
        } else {
            Err(ApiError::new(
                ErrorKind::PermissionDenied,
                "unauthorized: incorrect username or password",
            ))
        }
    }
}

impl EventsBackend for FakeBackend {
    async fn events(&self, opts: EventsOptions) -> ApiResult<BoxStream<Event>> {
        self.record(format!("events {opts:?}"));
        let events = ["create", "start"].map(|action| Event {
            kind: "container".into(),
            action: action.into(),
            actor: EventActor {
                id: WEB_ID.into(),
                attributes: HashMap::from([("name".to_string(), "web".to_string())]),
            },
            scope: "local".into(),
            time: 1_700_000_000,
            time_nano: 1_700_000_000_000_000_000,
            ..Default::default()
        });
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
}

impl ContainerBackend for FakeBackend {
    async fn container_create(
        &self,
        opts: CreateOptions,
        body: ContainerCreateBody,
    ) -> ApiResult<CreateResponse> {
        self.record(format!("create-body {body:?}"));
        self.record(format!(
            "create {:?} {:?} {:?}",
            opts.name, body.config.image, body.config.cmd
        ));
        if opts.name.as_deref() == Some("web") {
            return Err(ApiError::name_in_use("web", WEB_ID));
        }
        let image = body.config.image.unwrap_or_default();
        resolve_image(&image)?;
        Ok(CreateResponse {
            id: CREATED_ID.to_string(),
            warnings: vec![],
        })
    }

    async fn container_list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>> {
        self.record(format!("list {opts:?}"));
        let all = vec![summary(WEB_ID, "/web"), summary(TERM_ID, "/term")];
        let wanted_status = opts.filters.get("status");
        Ok(all
            .into_iter()
            .filter(|c| wanted_status.is_empty() || wanted_status.contains(&c.state))
            .take(opts.limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn container_inspect(
        &self,
        id: &str,
        opts: InspectOptions,
    ) -> ApiResult<ContainerInspect> {
        self.record(format!("inspect {id} {opts:?}"));
        let (id, name, tty) = resolve(id)?;
        Ok(inspect_of(id, name, tty))
    }

    async fn container_start(&self, id: &str, detach_keys: Option<String>) -> ApiResult<()> {
        self.record(format!("start {id} {detach_keys:?}"));
        resolve(id)?;
        Err(ApiError::not_modified())
    }

    async fn container_stop(&self, id: &str, opts: StopOptions) -> ApiResult<()> {
        self.record(format!("stop {id} {opts:?}"));
        resolve(id).map(drop)
    }

    async fn container_restart(&self, id: &str, opts: StopOptions) -> ApiResult<()> {
        self.record(format!("restart {id} {opts:?}"));
        resolve(id).map(drop)
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> ApiResult<()> {
        self.record(format!("kill {id} {signal:?}"));
        resolve(id).map(drop)
    }

    async fn container_wait(&self, id: &str, condition: WaitCondition) -> ApiResult<WaitFuture> {
        self.record(format!("wait {id} {condition:?}"));
        resolve(id)?;
        let mut released = self.wait_release.subscribe();
        Ok(Box::pin(async move {
            released
                .wait_for(|done| *done)
                .await
                .map_err(|_| ApiError::internal("wait abandoned"))?;
            Ok(WaitResponse {
                status_code: 3,
                error: None,
            })
        }))
    }

    async fn container_attach(&self, id: &str, opts: AttachOptions) -> ApiResult<AttachedStreams> {
        self.record(format!("attach {id} {opts:?}"));
        let (_, _, tty) = resolve(id)?;
        Ok(echo_session(opts.stdin, tty))
    }

    async fn container_logs(&self, id: &str, opts: LogsOptions) -> ApiResult<LogStream> {
        self.record(format!("logs {id} {opts:?}"));
        let (_, _, tty) = resolve(id)?;
        let ts = chrono::DateTime::from_timestamp(1_700_000_000, 5_000).unwrap_or_default();
        let records = vec![
            LogRecord {
                kind: StreamKind::Stdout,
                timestamp: ts,
                data: Bytes::from_static(b"line one\n"),
            },
            LogRecord {
                kind: StreamKind::Stderr,
                timestamp: ts,
                data: Bytes::from_static(b"line two\n"),
            },
        ];
        Ok(LogStream {
            tty,
            records: Box::pin(futures_util::stream::iter(records)),
        })
    }

    async fn container_remove(&self, id: &str, opts: RemoveOptions) -> ApiResult<()> {
        self.record(format!("remove {id} {opts:?}"));
        let (id, _, _) = resolve(id)?;
        if !opts.force {
            return Err(ApiError::remove_running(id));
        }
        Ok(())
    }

    async fn container_top(&self, id: &str, opts: TopOptions) -> ApiResult<TopResponse> {
        self.record(format!("top {id} {opts:?}"));
        resolve(id)?;
        Ok(TopResponse {
            titles: vec!["PID".into(), "CMD".into()],
            processes: vec![vec!["4242".into(), "sh".into()]],
        })
    }

    async fn container_stats(
        &self,
        id: &str,
        opts: StatsOptions,
    ) -> ApiResult<BoxStream<ContainerStats>> {
        self.record(format!("stats {id} {opts:?}"));
        let (id, name, _) = resolve(id)?;
        let sample = ContainerStats {
            id: id.into(),
            name: name.into(),
            ..Default::default()
        };
        Ok(Box::pin(futures_util::stream::iter(vec![sample; 3])))
    }

    async fn container_resize(&self, id: &str, size: ResizeOptions) -> ApiResult<()> {
        self.record(format!("resize {id} {size:?}"));
        resolve(id).map(drop)
    }

    async fn container_rename(&self, id: &str, new_name: String) -> ApiResult<()> {
        self.record(format!("rename {id} {new_name}"));
        resolve(id).map(drop)
    }

    async fn container_update(&self, id: &str, update: UpdateBody) -> ApiResult<UpdateResponse> {
        self.record(format!(
            "update {id} {:?} {:?}",
            update.resources.memory, update.restart_policy
        ));
        resolve(id)?;
        Ok(UpdateResponse { warnings: vec![] })
    }

    async fn container_export(&self, id: &str) -> ApiResult<ByteStream> {
        resolve(id)?;
        Ok(Box::pin(futures_util::stream::iter(vec![Ok(
            Bytes::from_static(b"TARDATA"),
        )])))
    }

    async fn container_changes(&self, id: &str) -> ApiResult<Vec<FilesystemChange>> {
        resolve(id)?;
        Ok(vec![FilesystemChange {
            path: "/tmp".into(),
            kind: 0,
        }])
    }

    async fn container_stat_path(&self, id: &str, path: &str) -> ApiResult<PathStat> {
        self.record(format!("stat {id} {path}"));
        resolve(id)?;
        Ok(PathStat {
            name: "etc".into(),
            size: 4096,
            mode: 0o755 | (1 << 31),
            mtime: "2023-11-14T22:13:20Z".into(),
            link_target: String::new(),
        })
    }

    async fn container_get_archive(
        &self,
        id: &str,
        path: &str,
    ) -> ApiResult<(PathStat, ByteStream)> {
        let stat = self.container_stat_path(id, path).await?;
        Ok((
            stat,
            Box::pin(futures_util::stream::iter(vec![Ok(Bytes::from_static(
                b"TAR",
            ))])),
        ))
    }

    async fn container_put_archive(
        &self,
        id: &str,
        opts: PutArchiveOptions,
        mut tar: ByteStream,
    ) -> ApiResult<()> {
        resolve(id)?;
        let mut size = 0;
        while let Some(chunk) = tar.next().await {
            size += chunk.map_err(|e| ApiError::invalid(e.to_string()))?.len();
        }
        self.record(format!("put_archive {id} {opts:?} {size}"));
        Ok(())
    }

    async fn container_prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse> {
        self.record(format!("container_prune {filters:?}"));
        Ok(ContainerPruneResponse {
            containers_deleted: vec![WEB_ID.into()],
            space_reclaimed: 42,
        })
    }

    async fn container_commit(
        &self,
        opts: CommitOptions,
        config: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse> {
        self.record(format!("commit {opts:?} {:?}", config.and_then(|c| c.cmd)));
        resolve(&opts.container)?;
        Ok(IdResponse {
            id: BUSYBOX_ID.into(),
        })
    }
}

impl ExecBackend for FakeBackend {
    async fn exec_create(&self, container: &str, body: ExecCreateBody) -> ApiResult<IdResponse> {
        self.record(format!("exec_create {container} {:?}", body.cmd));
        *self.exec_stdin.lock().unwrap() = body.attach_stdin.unwrap_or(false);
        resolve(container)?;
        Ok(IdResponse { id: "exec1".into() })
    }

    async fn exec_start(
        &self,
        id: &str,
        body: ExecStartBody,
    ) -> ApiResult<Option<AttachedStreams>> {
        self.record(format!("exec_start {id} {body:?}"));
        if id != "exec1" {
            return Err(ApiError::no_such_exec(id));
        }
        let stdin = *self.exec_stdin.lock().unwrap();
        Ok((!body.detach).then(|| echo_session(stdin, body.tty)))
    }

    async fn exec_inspect(&self, id: &str) -> ApiResult<ExecInspect> {
        if id != "exec1" {
            return Err(ApiError::no_such_exec(id));
        }
        Ok(ExecInspect {
            id: id.into(),
            container_id: WEB_ID.into(),
            exit_code: Some(0),
            ..Default::default()
        })
    }

    async fn exec_resize(&self, id: &str, size: ResizeOptions) -> ApiResult<()> {
        self.record(format!("exec_resize {id} {size:?}"));
        Ok(())
    }
}

impl ImageBackend for FakeBackend {
    async fn image_list(&self, opts: ImageListOptions) -> ApiResult<Vec<ImageSummary>> {
        self.record(format!("image_list {opts:?}"));
        Ok(vec![ImageSummary {
            id: BUSYBOX_ID.into(),
            repo_tags: vec!["busybox:latest".into()],
            repo_digests: vec![],
            created: 1_700_000_000,
            size: 2_000_000,
            shared_size: -1,
            containers: -1,
            ..Default::default()
        }])
    }

    async fn image_inspect(&self, name: &str) -> ApiResult<ImageInspect> {
        self.record(format!("image_inspect {name}"));
        let id = resolve_image(name)?;
        Ok(ImageInspect {
            id: id.into(),
            repo_tags: vec!["busybox:latest".into()],
            os: "linux".into(),
            architecture: "amd64".into(),
            created: "2023-11-14T22:13:20Z".into(),
            root_fs: RootFs {
                kind: "layers".into(),
                layers: vec![],
            },
            ..Default::default()
        })
    }

    async fn image_tag(&self, name: &str, opts: TagOptions) -> ApiResult<()> {
        self.record(format!("image_tag {name} {opts:?}"));
        resolve_image(name).map(drop)
    }

    async fn image_remove(
        &self,
        name: &str,
        opts: ImageRemoveOptions,
    ) -> ApiResult<Vec<ImageDeleteItem>> {
        self.record(format!("image_remove {name} {opts:?}"));
        let id = resolve_image(name)?;
        Ok(vec![
            ImageDeleteItem {
                untagged: Some(name.into()),
                deleted: None,
            },
            ImageDeleteItem {
                untagged: None,
                deleted: Some(id.into()),
            },
        ])
    }

    async fn image_history(&self, name: &str) -> ApiResult<Vec<HistoryItem>> {
        self.record(format!("image_history {name}"));
        let id = resolve_image(name)?;
        Ok(vec![HistoryItem {
            id: id.into(),
            created_by: "/bin/sh".into(),
            ..Default::default()
        }])
    }

    async fn image_load(
        &self,
        quiet: bool,
        mut tar: ByteStream,
    ) -> ApiResult<BoxStream<JsonMessage>> {
        let mut size = 0;
        while let Some(chunk) = tar.next().await {
            size += chunk.map_err(|e| ApiError::invalid(e.to_string()))?.len();
        }
        self.record(format!("image_load {quiet} {size}"));
        Ok(Box::pin(futures_util::stream::iter(vec![
            JsonMessage::stream("Loaded image: busybox:latest\n"),
        ])))
    }

    async fn image_export(&self, names: Vec<String>) -> ApiResult<ByteStream> {
        self.record(format!("image_export {names:?}"));
        for name in &names {
            resolve_image(name)?;
        }
        Ok(Box::pin(futures_util::stream::iter(vec![Ok(
            Bytes::from_static(b"SAVED"),
        )])))
    }

    async fn image_pull(&self, opts: PullOptions) -> ApiResult<BoxStream<JsonMessage>> {
        self.record(format!(
            "image_pull {} {:?} {:?}",
            opts.from_image,
            opts.tag,
            opts.auth.and_then(|a| a.username)
        ));
        Ok(Box::pin(futures_util::stream::iter(vec![
            JsonMessage::status("Pulling from library/busybox", Some("latest".into())),
            JsonMessage::error("registry unavailable"),
        ])))
    }

    async fn image_import(
        &self,
        opts: ImportOptions,
        mut tar: ByteStream,
    ) -> ApiResult<BoxStream<JsonMessage>> {
        let mut size = 0;
        while let Some(chunk) = tar.next().await {
            size += chunk.map_err(|e| ApiError::invalid(e.to_string()))?.len();
        }
        self.record(format!("image_import {opts:?} {size}"));
        Ok(Box::pin(futures_util::stream::iter(vec![
            JsonMessage::status(BUSYBOX_ID, None),
        ])))
    }

    async fn image_prune(&self, filters: Filters) -> ApiResult<ImagePruneResponse> {
        self.record(format!("image_prune {filters:?}"));
        Ok(ImagePruneResponse::default())
    }
}
