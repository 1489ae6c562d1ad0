//! The traits the daemon core implements and the server calls: one narrow async method per Engine API operation.
//! Methods with a default body answer 501 (not implemented) so a backend can grow one endpoint at a time.

use std::future::Future;

use futures_util::future::BoxFuture;

use crate::config::{ContainerConfig, ContainerCreateBody};
use crate::container::{
    AttachOptions, CommitOptions, ContainerInspect, ContainerPruneResponse, ContainerSummary,
    CreateOptions, CreateResponse, FilesystemChange, IdResponse, InspectOptions, ListOptions,
    LogsOptions, PathStat, PutArchiveOptions, RemoveOptions, ResizeOptions, StopOptions,
    TopOptions, TopResponse, UpdateBody, UpdateResponse, WaitCondition, WaitResponse,
};
use crate::error::{ApiError, ApiResult};
use crate::exec::{ExecCreateBody, ExecInspect, ExecStartBody};
use crate::filters::Filters;
use crate::image::{
    AuthConfig, AuthResponse, BuildOptions, HistoryItem, ImageDeleteItem, ImageInspect,
    ImageListOptions, ImagePruneResponse, ImageRemoveOptions, ImageSummary, ImportOptions,
    PullOptions, PushOptions, TagOptions,
};
use crate::stats::{ContainerStats, StatsOptions};
use crate::stream::{AttachedStreams, BoxStream, ByteStream, JsonMessage, LogStream};
use crate::system::{DiskUsage, DiskUsageOptions, Event, EventsOptions, SystemInfo, SystemVersion};

/// A future that resolves when a wait condition is met; returned after the wait is registered.
pub type WaitFuture = BoxFuture<'static, ApiResult<WaitResponse>>;

fn unimplemented_endpoint<T>(what: &str) -> ApiResult<T> {
    Err(ApiError::not_implemented(format!(
        "{what} is not implemented by this daemon yet"
    )))
}

/// Daemon-wide information: `/version`, `/info`, `/system/df`, `/auth`.
pub trait SystemBackend: Send + Sync + 'static {
    /// `GET /version`. The server overwrites `ApiVersion`/`MinAPIVersion`.
    fn version(&self) -> impl Future<Output = ApiResult<SystemVersion>> + Send;

    /// `GET /info`.
    fn info(&self) -> impl Future<Output = ApiResult<SystemInfo>> + Send;

    /// `GET /system/df`.
    fn disk_usage(
        &self,
        opts: DiskUsageOptions,
    ) -> impl Future<Output = ApiResult<DiskUsage>> + Send {
        let _ = opts;
        async { unimplemented_endpoint("disk usage") }
    }

    /// `POST /auth`: check credentials against a registry.
    fn auth(&self, config: AuthConfig) -> impl Future<Output = ApiResult<AuthResponse>> + Send {
        let _ = config;
        async { unimplemented_endpoint("registry login") }
    }
}

/// `GET /events`.
pub trait EventsBackend: Send + Sync + 'static {
    /// Past events matching `since`/filters, then live ones; the stream ends at `until` (if given).
    fn events(
        &self,
        opts: EventsOptions,
    ) -> impl Future<Output = ApiResult<BoxStream<Event>>> + Send;
}

/// Container lifecycle and inspection. `id` is whatever the client sent: a full id, a unique prefix or a name.
pub trait ContainerBackend: Send + Sync + 'static {
    /// `POST /containers/create`.
    fn container_create(
        &self,
        opts: CreateOptions,
        body: ContainerCreateBody,
    ) -> impl Future<Output = ApiResult<CreateResponse>> + Send;

    /// `GET /containers/json`.
    fn container_list(
        &self,
        opts: ListOptions,
    ) -> impl Future<Output = ApiResult<Vec<ContainerSummary>>> + Send;

    /// `GET /containers/{id}/json`.
    fn container_inspect(
        &self,
        id: &str,
        opts: InspectOptions,
    ) -> impl Future<Output = ApiResult<ContainerInspect>> + Send;

    /// `POST /containers/{id}/start`; `NotModified` when already running.
    fn container_start(
        &self,
        id: &str,
        detach_keys: Option<String>,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// `POST /containers/{id}/stop`; `NotModified` when already stopped.
    fn container_stop(
        &self,
        id: &str,
        opts: StopOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// `POST /containers/{id}/restart`.
    fn container_restart(
        &self,
        id: &str,
        opts: StopOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// `POST /containers/{id}/kill`; `signal` is a name (`SIGKILL`, `KILL`) or number, `None` for SIGKILL.
    fn container_kill(
        &self,
        id: &str,
        signal: Option<String>,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// `POST /containers/{id}/wait`. Must register the wait (and fail for unknown containers) before returning;
    /// the server then sends headers at once and awaits the returned future for the body.
    fn container_wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> impl Future<Output = ApiResult<WaitFuture>> + Send;

    /// `POST /containers/{id}/attach`. Must be attached when it returns (the CLI starts the container next).
    fn container_attach(
        &self,
        id: &str,
        opts: AttachOptions,
    ) -> impl Future<Output = ApiResult<AttachedStreams>> + Send;

    /// `GET /containers/{id}/logs`. The server frames records and adds timestamps.
    fn container_logs(
        &self,
        id: &str,
        opts: LogsOptions,
    ) -> impl Future<Output = ApiResult<LogStream>> + Send;

    /// `DELETE /containers/{id}`.
    fn container_remove(
        &self,
        id: &str,
        opts: RemoveOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// `GET /containers/{id}/top`.
    fn container_top(
        &self,
        id: &str,
        opts: TopOptions,
    ) -> impl Future<Output = ApiResult<TopResponse>> + Send {
        let _ = (id, opts);
        async { unimplemented_endpoint("top") }
    }

    /// `GET /containers/{id}/stats`: one sample when not streaming, otherwise one per second until the client leaves.
    fn container_stats(
        &self,
        id: &str,
        opts: StatsOptions,
    ) -> impl Future<Output = ApiResult<BoxStream<ContainerStats>>> + Send {
        let _ = (id, opts);
        async { unimplemented_endpoint("stats") }
    }

    /// `POST /containers/{id}/resize`.
    fn container_resize(
        &self,
        id: &str,
        size: ResizeOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let _ = (id, size);
        async { unimplemented_endpoint("resize") }
    }

    /// `POST /containers/{id}/pause`.
    fn container_pause(&self, id: &str) -> impl Future<Output = ApiResult<()>> + Send {
        let _ = id;
        async { unimplemented_endpoint("pause") }
    }

    /// `POST /containers/{id}/unpause`.
    fn container_unpause(&self, id: &str) -> impl Future<Output = ApiResult<()>> + Send {
        let _ = id;
        async { unimplemented_endpoint("unpause") }
    }

    /// `POST /containers/{id}/rename`.
    fn container_rename(
        &self,
        id: &str,
        new_name: String,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let _ = (id, new_name);
        async { unimplemented_endpoint("rename") }
    }

    /// `POST /containers/{id}/update`.
    fn container_update(
        &self,
        id: &str,
        update: UpdateBody,
    ) -> impl Future<Output = ApiResult<UpdateResponse>> + Send {
        let _ = (id, update);
        async { unimplemented_endpoint("update") }
    }

    /// `GET /containers/{id}/export`: the container filesystem as a tar stream.
    fn container_export(&self, id: &str) -> impl Future<Output = ApiResult<ByteStream>> + Send {
        let _ = id;
        async { unimplemented_endpoint("export") }
    }

    /// `GET /containers/{id}/changes`.
    fn container_changes(
        &self,
        id: &str,
    ) -> impl Future<Output = ApiResult<Vec<FilesystemChange>>> + Send {
        let _ = id;
        async { unimplemented_endpoint("changes") }
    }

    /// `HEAD /containers/{id}/archive`.
    fn container_stat_path(
        &self,
        id: &str,
        path: &str,
    ) -> impl Future<Output = ApiResult<PathStat>> + Send {
        let _ = (id, path);
        async { unimplemented_endpoint("archive") }
    }

    /// `GET /containers/{id}/archive`: stat of the path and a tar of it.
    fn container_get_archive(
        &self,
        id: &str,
        path: &str,
    ) -> impl Future<Output = ApiResult<(PathStat, ByteStream)>> + Send {
        let _ = (id, path);
        async { unimplemented_endpoint("archive") }
    }

    /// `PUT /containers/{id}/archive`: extract a tar into a directory.
    fn container_put_archive(
        &self,
        id: &str,
        opts: PutArchiveOptions,
        tar: ByteStream,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let _ = (id, opts, tar);
        async { unimplemented_endpoint("archive") }
    }

    /// `POST /containers/prune`.
    fn container_prune(
        &self,
        filters: Filters,
    ) -> impl Future<Output = ApiResult<ContainerPruneResponse>> + Send {
        let _ = filters;
        async { unimplemented_endpoint("container prune") }
    }

    /// `POST /commit`: a new image from a container's layer; `config` overrides the container's config.
    fn container_commit(
        &self,
        opts: CommitOptions,
        config: Option<ContainerConfig>,
    ) -> impl Future<Output = ApiResult<IdResponse>> + Send {
        let _ = (opts, config);
        async { unimplemented_endpoint("commit") }
    }
}

/// Processes started inside running containers.
pub trait ExecBackend: Send + Sync + 'static {
    /// `POST /containers/{id}/exec`.
    fn exec_create(
        &self,
        container: &str,
        body: ExecCreateBody,
    ) -> impl Future<Output = ApiResult<IdResponse>> + Send;

    /// `POST /exec/{id}/start`: `None` when detached, otherwise the process's streams.
    fn exec_start(
        &self,
        id: &str,
        body: ExecStartBody,
    ) -> impl Future<Output = ApiResult<Option<AttachedStreams>>> + Send;

    /// `GET /exec/{id}/json`.
    fn exec_inspect(&self, id: &str) -> impl Future<Output = ApiResult<ExecInspect>> + Send;

    /// `POST /exec/{id}/resize`.
    fn exec_resize(
        &self,
        id: &str,
        size: ResizeOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let _ = (id, size);
        async { unimplemented_endpoint("exec resize") }
    }
}

/// Images: the local store, transfers and builds. `name` is a reference, an id or an id prefix.
pub trait ImageBackend: Send + Sync + 'static {
    /// `GET /images/json`.
    fn image_list(
        &self,
        opts: ImageListOptions,
    ) -> impl Future<Output = ApiResult<Vec<ImageSummary>>> + Send;

    /// `GET /images/{name}/json`.
    fn image_inspect(&self, name: &str) -> impl Future<Output = ApiResult<ImageInspect>> + Send;

    /// `POST /images/{name}/tag`.
    fn image_tag(&self, name: &str, opts: TagOptions)
    -> impl Future<Output = ApiResult<()>> + Send;

    /// `DELETE /images/{name}`.
    fn image_remove(
        &self,
        name: &str,
        opts: ImageRemoveOptions,
    ) -> impl Future<Output = ApiResult<Vec<ImageDeleteItem>>> + Send;

    /// `GET /images/{name}/history`.
    fn image_history(
        &self,
        name: &str,
    ) -> impl Future<Output = ApiResult<Vec<HistoryItem>>> + Send {
        let _ = name;
        async { unimplemented_endpoint("image history") }
    }

    /// `POST /images/load`: a docker-save or OCI-layout tar; progress as JSON messages.
    fn image_load(
        &self,
        quiet: bool,
        tar: ByteStream,
    ) -> impl Future<Output = ApiResult<BoxStream<JsonMessage>>> + Send {
        let _ = (quiet, tar);
        async { unimplemented_endpoint("image load") }
    }

    /// `GET /images/get` and `/images/{name}/get`: a docker-save tar of the named images.
    fn image_export(
        &self,
        names: Vec<String>,
    ) -> impl Future<Output = ApiResult<ByteStream>> + Send {
        let _ = names;
        async { unimplemented_endpoint("image save") }
    }

    /// `POST /images/create?fromImage=`: pull from a registry.
    fn image_pull(
        &self,
        opts: PullOptions,
    ) -> impl Future<Output = ApiResult<BoxStream<JsonMessage>>> + Send {
        let _ = opts;
        async { unimplemented_endpoint("image pull") }
    }

    /// `POST /images/create?fromSrc=-`: import a rootfs tarball as a one-layer image.
    fn image_import(
        &self,
        opts: ImportOptions,
        tar: ByteStream,
    ) -> impl Future<Output = ApiResult<BoxStream<JsonMessage>>> + Send {
        let _ = (opts, tar);
        async { unimplemented_endpoint("image import") }
    }

    /// `POST /images/prune`.
    fn image_prune(
        &self,
        filters: Filters,
    ) -> impl Future<Output = ApiResult<ImagePruneResponse>> + Send {
        let _ = filters;
        async { unimplemented_endpoint("image prune") }
    }

    /// `POST /images/{name}/push`.
    fn image_push(
        &self,
        opts: PushOptions,
    ) -> impl Future<Output = ApiResult<BoxStream<JsonMessage>>> + Send {
        let _ = opts;
        async { unimplemented_endpoint("image push") }
    }

    /// `POST /build` (legacy builder): the context tar in, build output as JSON messages
    /// (`{"stream":"Step 1/2 : ..."}`, finally `{"aux":{"ID":"sha256:..."}}`).
    fn build(
        &self,
        opts: BuildOptions,
        context: ByteStream,
    ) -> impl Future<Output = ApiResult<BoxStream<JsonMessage>>> + Send {
        let _ = (opts, context);
        async { unimplemented_endpoint("build") }
    }
}

/// Everything the server needs; implemented automatically for any type implementing all the parts.
pub trait Backend:
    SystemBackend + EventsBackend + ContainerBackend + ExecBackend + ImageBackend
{
}

impl<T> Backend for T where
    T: SystemBackend + EventsBackend + ContainerBackend + ExecBackend + ImageBackend
{
}
