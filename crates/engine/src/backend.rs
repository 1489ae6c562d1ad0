//! The engine as the server's backend: each `berth_api` trait method delegates to one engine
//! operation.

use crate::Engine;
use berth_api::backend::{
    ContainerBackend, EventsBackend, ExecBackend, ImageBackend, SystemBackend,
};
use berth_api::config::{ContainerConfig, ContainerCreateBody};
use berth_api::container::*;
use berth_api::exec::{ExecCreateBody, ExecInspect, ExecStartBody};
use berth_api::image::*;
use berth_api::stats::{ContainerStats, StatsOptions};
use berth_api::system::{Event, EventsOptions, SystemInfo, SystemVersion};
use berth_api::{
    ApiError, ApiResult, AttachedStreams, BoxStream, ByteStream, Filters, JsonMessage, LogStream,
    WaitFuture,
};

impl SystemBackend for Engine {
    async fn version(&self) -> ApiResult<SystemVersion> {
        Engine::version(self).await
    }

    async fn info(&self) -> ApiResult<SystemInfo> {
        Engine::info(self).await
    }

    async fn auth(&self, config: AuthConfig) -> ApiResult<AuthResponse> {
        self.login(config).await
    }

    async fn disk_usage(
        &self,
        _opts: berth_api::system::DiskUsageOptions,
    ) -> ApiResult<berth_api::system::DiskUsage> {
        let images = self
            .inner
            .images
            .list(ImageListOptions {
                all: true,
                shared_size: true,
                ..Default::default()
            })
            .await?;
        let containers = self
            .list(ListOptions {
                all: true,
                ..Default::default()
            })
            .await?;
        // Shared layers are counted once per image here: an upper bound, good enough for `df`.
        let layers_size: i64 = images.iter().map(|i| i.size).sum();
        Ok(berth_api::system::DiskUsage {
            layers_size: layers_size.max(0),
            images,
            containers,
            volumes: Vec::new(),
            build_cache: Vec::new(),
        })
    }
}

impl EventsBackend for Engine {
    async fn events(&self, opts: EventsOptions) -> ApiResult<BoxStream<Event>> {
        let (past, mut rx) = self.inner.events.subscribe(opts.since);
        let (tx, out) = tokio::sync::mpsc::channel(64);
        let until_nanos = opts.until.map(|u| (u * 1e9) as i64);
        let filters = opts.filters.clone();
        tokio::spawn(async move {
            for e in past {
                if until_nanos.is_some_and(|u| e.time_nano > u) {
                    return;
                }
                if crate::events::matches(&e, &filters) && tx.send(e).await.is_err() {
                    return;
                }
            }
            let deadline = until_nanos.map(|u| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos() as i64;
                tokio::time::Instant::now()
                    + std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
            });
            loop {
                let next = async {
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                        None => Some(rx.recv().await),
                    }
                };
                tokio::select! {
                    got = next => match got {
                        Some(Ok(e)) => {
                            if crate::events::matches(&e, &filters) && tx.send(e).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                        _ => return,
                    },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(berth_api::stream::receiver_stream(out))
    }
}

impl ContainerBackend for Engine {
    async fn container_create(
        &self,
        opts: CreateOptions,
        body: ContainerCreateBody,
    ) -> ApiResult<CreateResponse> {
        self.create(opts, body).await
    }

    async fn container_list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>> {
        self.list(opts).await
    }

    async fn container_inspect(
        &self,
        id: &str,
        opts: InspectOptions,
    ) -> ApiResult<ContainerInspect> {
        self.inspect(id, opts).await
    }

    async fn container_start(&self, id: &str, _detach_keys: Option<String>) -> ApiResult<()> {
        self.start(id).await
    }

    async fn container_stop(&self, id: &str, opts: StopOptions) -> ApiResult<()> {
        self.stop(id, opts).await
    }

    async fn container_restart(&self, id: &str, opts: StopOptions) -> ApiResult<()> {
        self.restart(id, opts).await
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> ApiResult<()> {
        self.kill(id, signal).await
    }

    async fn container_wait(&self, id: &str, condition: WaitCondition) -> ApiResult<WaitFuture> {
        self.wait(id, condition).await
    }

    async fn container_attach(&self, id: &str, opts: AttachOptions) -> ApiResult<AttachedStreams> {
        self.attach(id, opts).await
    }

    async fn container_logs(&self, id: &str, opts: LogsOptions) -> ApiResult<LogStream> {
        self.logs(id, opts).await
    }

    async fn container_remove(&self, id: &str, opts: RemoveOptions) -> ApiResult<()> {
        self.remove(id, opts).await
    }

    async fn container_top(&self, id: &str, opts: TopOptions) -> ApiResult<TopResponse> {
        self.top(id, opts).await
    }

    async fn container_stats(
        &self,
        id: &str,
        opts: StatsOptions,
    ) -> ApiResult<BoxStream<ContainerStats>> {
        self.stats(id, opts).await
    }

    async fn container_resize(&self, id: &str, size: ResizeOptions) -> ApiResult<()> {
        let c = self.lookup(id)?;
        let rec = c.lock().await;
        if !rec.state.status.is_live() {
            return Err(ApiError::not_running(&rec.id));
        }
        self.shim(&rec.id)
            .call(&berth_shim::protocol::Request::Resize {
                exec_id: None,
                height: size.height,
                width: size.width,
            })
            .await
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))
    }

    async fn container_pause(&self, id: &str) -> ApiResult<()> {
        self.pause(id).await
    }

    async fn container_unpause(&self, id: &str) -> ApiResult<()> {
        self.unpause(id).await
    }

    async fn container_rename(&self, id: &str, new_name: String) -> ApiResult<()> {
        self.rename(id, new_name).await
    }

    async fn container_update(&self, id: &str, update: UpdateBody) -> ApiResult<UpdateResponse> {
        self.update(id, update).await
    }

    async fn container_export(&self, id: &str) -> ApiResult<ByteStream> {
        self.export(id).await
    }

    async fn container_changes(&self, id: &str) -> ApiResult<Vec<FilesystemChange>> {
        self.changes(id).await
    }

    async fn container_stat_path(&self, id: &str, path: &str) -> ApiResult<PathStat> {
        self.stat_path(id, path).await
    }

    async fn container_get_archive(
        &self,
        id: &str,
        path: &str,
    ) -> ApiResult<(PathStat, ByteStream)> {
        self.get_archive(id, path).await
    }

    async fn container_put_archive(
        &self,
        id: &str,
        opts: PutArchiveOptions,
        tar: ByteStream,
    ) -> ApiResult<()> {
        self.put_archive(id, opts, tar).await
    }

    async fn container_prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse> {
        self.prune(filters).await
    }

    async fn container_commit(
        &self,
        opts: CommitOptions,
        config: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse> {
        self.commit(opts, config).await
    }
}

impl ExecBackend for Engine {
    async fn exec_create(&self, container: &str, body: ExecCreateBody) -> ApiResult<IdResponse> {
        Engine::exec_create(self, container, body).await
    }

    async fn exec_start(
        &self,
        id: &str,
        body: ExecStartBody,
    ) -> ApiResult<Option<AttachedStreams>> {
        Engine::exec_start(self, id, body).await
    }

    async fn exec_inspect(&self, id: &str) -> ApiResult<ExecInspect> {
        Engine::exec_inspect(self, id).await
    }

    async fn exec_resize(&self, id: &str, size: ResizeOptions) -> ApiResult<()> {
        Engine::exec_resize(self, id, size).await
    }
}

impl ImageBackend for Engine {
    async fn image_list(&self, opts: ImageListOptions) -> ApiResult<Vec<ImageSummary>> {
        self.inner.images.list(opts).await
    }

    async fn image_inspect(&self, name: &str) -> ApiResult<ImageInspect> {
        self.inner.images.inspect(name).await
    }

    async fn image_tag(&self, name: &str, opts: TagOptions) -> ApiResult<()> {
        let (id, reference) = self.inner.images.tag(name, opts).await?;
        self.emit_image("tag", &id, &reference);
        Ok(())
    }

    async fn image_remove(
        &self,
        name: &str,
        opts: ImageRemoveOptions,
    ) -> ApiResult<Vec<ImageDeleteItem>> {
        let in_use = self.images_in_use().await;
        let items = self.inner.images.remove(name, opts, in_use).await?;
        for item in &items {
            if let Some(u) = &item.untagged {
                self.emit_image("untag", u, u);
            }
            if let Some(d) = &item.deleted {
                self.emit_image("delete", d, d);
            }
        }
        Ok(items)
    }

    async fn image_history(&self, name: &str) -> ApiResult<Vec<HistoryItem>> {
        self.inner.images.history(name).await
    }

    async fn image_load(&self, quiet: bool, tar: ByteStream) -> ApiResult<BoxStream<JsonMessage>> {
        let loaded = self.inner.images.load(tar).await?;
        let mut msgs = Vec::new();
        for (id, name) in loaded {
            self.emit_image("load", &id, &name);
            let _ = quiet;
            msgs.push(JsonMessage::stream(format!("Loaded image: {name}\n")));
        }
        Ok(Box::pin(futures_util::stream::iter(msgs)))
    }

    async fn image_export(&self, names: Vec<String>) -> ApiResult<ByteStream> {
        self.inner.images.save(names).await
    }

    async fn image_pull(&self, opts: PullOptions) -> ApiResult<BoxStream<JsonMessage>> {
        self.pull(opts).await
    }

    async fn image_import(
        &self,
        opts: ImportOptions,
        tar: ByteStream,
    ) -> ApiResult<BoxStream<JsonMessage>> {
        let id = self.inner.images.import(opts, tar).await?;
        self.emit_image("import", &id, &id);
        Ok(Box::pin(futures_util::stream::iter(vec![
            JsonMessage::status(id, None),
        ])))
    }

    async fn image_prune(&self, filters: Filters) -> ApiResult<ImagePruneResponse> {
        let in_use = self.images_in_use().await;
        self.inner.images.prune(filters, in_use).await
    }

    async fn image_push(&self, opts: PushOptions) -> ApiResult<BoxStream<JsonMessage>> {
        self.push(opts).await
    }
}

impl Engine {
    pub(crate) fn emit_image(&self, action: &str, id: &str, name: &str) {
        let mut attrs = std::collections::HashMap::new();
        attrs.insert("name".to_string(), name.to_string());
        self.inner.events.publish("image", action, id, attrs);
    }

    /// The containers using images (rmi refuses to delete them without force).
    async fn images_in_use(&self) -> Vec<crate::images::ImageUse> {
        let mut users = Vec::new();
        for c in self.all_containers() {
            let rec = c.lock().await;
            users.push(crate::images::ImageUse {
                container_id: rec.id.clone(),
                image_id: rec.image_id.clone(),
                running: rec.state.status.is_live(),
            });
        }
        users
    }
}
