//! `/containers/...` and `/commit`: parse the query and body, call [`ContainerBackend`], encode the reply.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use berth_api::config::{ContainerConfig, ContainerCreateBody};
use berth_api::container::{
    AttachOptions, CommitOptions, CreateOptions, InspectOptions, ListOptions, LogsOptions,
    PutArchiveOptions, RemoveOptions, ResizeOptions, StopOptions, TopOptions, UpdateBody,
    WaitCondition, WaitExitError, WaitResponse,
};
use berth_api::stats::StatsOptions;
use berth_api::{ApiError, Backend, StreamKind};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode};

use crate::body::{byte_stream, json_body, json_body_or_default};
use crate::error::HttpResult;
use crate::framing::{
    bytes_response, encode_log_record, json_line, json_stream_response, stream_content_type,
    streaming_response,
};
use crate::hijack::Hijack;
use crate::params::Params;
use crate::routes::system::timestamp_param;
use crate::versioning::RequestedVersion;

/// The backend as handlers receive it.
type Shared<B> = State<Arc<B>>;

/// The header carrying a base64 JSON [`berth_api::container::PathStat`].
const PATH_STAT_HEADER: &str = "x-docker-container-path-stat";

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Checks a requested container name against Docker's pattern `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_container_name(name: &str) -> Result<(), ApiError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest: Vec<char> = chars.collect();
    let rest_ok = !rest.is_empty()
        && rest
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

/// `POST /containers/create`.
pub async fn create<B: Backend>(State(b): Shared<B>, params: Params, body: Body) -> HttpResult {
    let name = params.string("name");
    if let Some(name) = &name {
        validate_container_name(name)?;
    }
    let opts = CreateOptions {
        name,
        platform: params.string("platform"),
    };
    let body: ContainerCreateBody = json_body(body).await?;
    let created = b.container_create(opts, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET /containers/json`.
pub async fn list<B: Backend>(State(b): Shared<B>, params: Params) -> HttpResult {
    let limit = params.num::<i64>("limit")?.filter(|n| *n > 0);
    let opts = ListOptions {
        all: params.bool("all")?,
        limit: limit.and_then(|n| usize::try_from(n).ok()),
        size: params.bool("size")?,
        filters: params.filters()?,
    };
    Ok(Json(b.container_list(opts).await?).into_response())
}

/// `GET /containers/{id}/json`.
pub async fn inspect<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let opts = InspectOptions {
        size: params.bool("size")?,
    };
    Ok(Json(b.container_inspect(&id, opts).await?).into_response())
}

/// `POST /containers/{id}/start`.
pub async fn start<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    b.container_start(&id, params.string("detachKeys")).await?;
    Ok(no_content())
}

fn stop_options(params: &Params) -> Result<StopOptions, ApiError> {
    Ok(StopOptions {
        timeout: params.num("t")?,
        signal: params.string("signal"),
    })
}

/// `POST /containers/{id}/stop`.
pub async fn stop<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    b.container_stop(&id, stop_options(&params)?).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/restart`.
pub async fn restart<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    b.container_restart(&id, stop_options(&params)?).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/kill`.
pub async fn kill<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    b.container_kill(&id, params.string("signal")).await?;
    Ok(no_content())
}

fn wait_condition(params: &Params) -> Result<WaitCondition, ApiError> {
    match params.str("condition").unwrap_or("") {
        "" | "not-running" => Ok(WaitCondition::NotRunning),
        "next-exit" => Ok(WaitCondition::NextExit),
        "removed" => Ok(WaitCondition::Removed),
        other => Err(ApiError::invalid(format!("invalid condition: \"{other}\""))),
    }
}

/// `POST /containers/{id}/wait`: headers go out at once (the CLI starts the container only after seeing
/// them); the body follows when the condition is met.
pub async fn wait<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let waiting = b.container_wait(&id, wait_condition(&params)?).await?;
    let body = futures_util::stream::once(async move {
        let reply = waiting.await.unwrap_or_else(|e| WaitResponse {
            status_code: -1,
            error: Some(WaitExitError { message: e.message }),
        });
        Ok::<_, Infallible>(json_line(&reply))
    });
    Ok(streaming_response(
        StatusCode::OK,
        "application/json",
        Body::from_stream(body),
    ))
}

/// `POST /containers/{id}/attach`: hijacks the connection.
pub async fn attach<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    version: RequestedVersion,
    params: Params,
    mut req: Request,
) -> HttpResult {
    let opts = AttachOptions {
        stream: params.bool("stream")?,
        logs: params.bool("logs")?,
        stdin: params.bool("stdin")?,
        stdout: params.bool("stdout")?,
        stderr: params.bool("stderr")?,
        detach_keys: params.string("detachKeys"),
    };
    let hijack =
        Hijack::from_request(&mut req, version).with_detach_keys(opts.detach_keys.as_deref())?;
    let streams = b.container_attach(&id, opts).await?;
    Ok(hijack.respond(streams))
}

/// `GET /containers/{id}/logs`: framed (or raw with a TTY) records, timestamps added here.
pub async fn logs<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    version: RequestedVersion,
    params: Params,
) -> HttpResult {
    let opts = LogsOptions {
        follow: params.bool("follow")?,
        stdout: params.bool("stdout")?,
        stderr: params.bool("stderr")?,
        since: timestamp_param(&params, "since")?,
        // dockerd reads `until=0` (bollard's default) as no limit.
        until: timestamp_param(&params, "until")?.filter(|u| *u != 0.0),
        timestamps: params.bool("timestamps")?,
        tail: tail_param(&params)?,
    };
    if !opts.stdout && !opts.stderr {
        return Err(
            ApiError::invalid("Bad parameters: you must choose at least one stream").into(),
        );
    }
    let (want_out, want_err, timestamps) = (opts.stdout, opts.stderr, opts.timestamps);
    let logs = b.container_logs(&id, opts).await?;
    let tty = logs.tty;
    let body = logs
        .records
        .filter(move |r| {
            let keep = match r.kind {
                StreamKind::Stderr => want_err,
                StreamKind::Stdout | StreamKind::Stdin => want_out,
            };
            std::future::ready(keep)
        })
        .map(move |r| Ok::<_, Infallible>(encode_log_record(tty, timestamps, &r)));
    Ok(streaming_response(
        StatusCode::OK,
        stream_content_type(tty, version),
        Body::from_stream(body),
    ))
}

/// `tail`: `all` (or absent) for everything, otherwise a line count.
fn tail_param(params: &Params) -> Result<Option<usize>, ApiError> {
    match params.str("tail").map(str::trim) {
        None | Some("") | Some("all") => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n < 0 => Ok(None),
            Ok(n) => Ok(usize::try_from(n).ok()),
            Err(_) => Err(ApiError::invalid(format!(
                "invalid value for tail: {raw:?} is not a number"
            ))),
        },
    }
}

/// `GET /containers/{id}/top`.
pub async fn top<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let opts = TopOptions {
        ps_args: params.string("ps_args"),
    };
    Ok(Json(b.container_top(&id, opts).await?).into_response())
}

/// `GET /containers/{id}/stats`: one JSON object, or a JSON line per sample when streaming.
pub async fn stats<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let opts = StatsOptions {
        stream: params.bool_or("stream", true)?,
        one_shot: params.bool("one-shot")?,
    };
    let mut samples = b.container_stats(&id, opts).await?;
    if opts.stream {
        return Ok(json_stream_response(samples));
    }
    match samples.next().await {
        Some(sample) => Ok(Json(sample).into_response()),
        None => Err(ApiError::internal(format!("no stats available for container {id}")).into()),
    }
}

/// Reads `h` and `w` of a resize request; both are required.
pub fn resize_options(params: &Params) -> Result<ResizeOptions, ApiError> {
    let dim = |key: &str| -> Result<u16, ApiError> {
        params
            .num::<u16>(key)?
            .ok_or_else(|| ApiError::invalid(format!("invalid value for {key}: missing")))
    };
    Ok(ResizeOptions {
        height: dim("h")?,
        width: dim("w")?,
    })
}

/// `POST /containers/{id}/resize`.
pub async fn resize<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    b.container_resize(&id, resize_options(&params)?).await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /containers/{id}/pause`.
pub async fn pause<B: Backend>(State(b): Shared<B>, Path(id): Path<String>) -> HttpResult {
    b.container_pause(&id).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/unpause`.
pub async fn unpause<B: Backend>(State(b): Shared<B>, Path(id): Path<String>) -> HttpResult {
    b.container_unpause(&id).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/rename`.
pub async fn rename<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let name = params
        .string("name")
        .ok_or_else(|| ApiError::invalid("Neither old nor new names may be empty"))?;
    validate_container_name(&name)?;
    b.container_rename(&id, name).await?;
    Ok(no_content())
}

/// `POST /containers/{id}/update`.
pub async fn update<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult {
    let update: UpdateBody = json_body_or_default(body).await?;
    Ok(Json(b.container_update(&id, update).await?).into_response())
}

/// `GET /containers/{id}/export`.
pub async fn export<B: Backend>(State(b): Shared<B>, Path(id): Path<String>) -> HttpResult {
    Ok(bytes_response(
        "application/x-tar",
        b.container_export(&id).await?,
    ))
}

/// `GET /containers/{id}/changes`.
pub async fn changes<B: Backend>(State(b): Shared<B>, Path(id): Path<String>) -> HttpResult {
    Ok(Json(b.container_changes(&id).await?).into_response())
}

fn archive_path(params: &Params) -> Result<String, ApiError> {
    params
        .string("path")
        .ok_or_else(|| ApiError::invalid("bad parameter: path cannot be empty"))
}

fn path_stat_header(stat: &berth_api::container::PathStat) -> Result<HeaderValue, ApiError> {
    let json = serde_json::to_vec(stat)
        .map_err(|e| ApiError::internal(format!("encoding path stat: {e}")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(json);
    HeaderValue::from_str(&encoded)
        .map_err(|e| ApiError::internal(format!("path stat header: {e}")))
}

/// `HEAD /containers/{id}/archive`: only the stat header.
pub async fn stat_path<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let stat = b.container_stat_path(&id, &archive_path(&params)?).await?;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(PATH_STAT_HEADER, path_stat_header(&stat)?);
    Ok(response)
}

/// `GET /containers/{id}/archive`: the stat header and a tar of the path.
pub async fn get_archive<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let (stat, tar) = b
        .container_get_archive(&id, &archive_path(&params)?)
        .await?;
    let mut response = bytes_response("application/x-tar", tar);
    response
        .headers_mut()
        .insert(PATH_STAT_HEADER, path_stat_header(&stat)?);
    Ok(response)
}

/// `PUT /containers/{id}/archive`: extract the body (a tar) into `path`.
pub async fn put_archive<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
    body: Body,
) -> HttpResult {
    let opts = PutArchiveOptions {
        path: archive_path(&params)?,
        no_overwrite_dir_non_dir: params.bool("noOverwriteDirNonDir")?,
        copy_uid_gid: params.bool("copyUIDGID")?,
    };
    b.container_put_archive(&id, opts, byte_stream(body))
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /containers/{id}`.
pub async fn remove<B: Backend>(
    State(b): Shared<B>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    let opts = RemoveOptions {
        volumes: params.bool("v")?,
        force: params.bool("force")?,
        link: params.bool("link")?,
    };
    b.container_remove(&id, opts).await?;
    Ok(no_content())
}

/// `POST /containers/prune`.
pub async fn prune<B: Backend>(State(b): Shared<B>, params: Params) -> HttpResult {
    let filters = params.filters()?;
    filters.check_keys(&["until", "label", "label!"])?;
    Ok(Json(b.container_prune(filters).await?).into_response())
}

/// `POST /commit`: the body, when present, is a `Config` that overrides the container's.
pub async fn commit<B: Backend>(State(b): Shared<B>, params: Params, body: Body) -> HttpResult {
    let container = params
        .string("container")
        .ok_or_else(|| ApiError::invalid("No container specified"))?;
    let opts = CommitOptions {
        container,
        repo: params.string("repo"),
        tag: params.string("tag"),
        comment: params.string("comment"),
        author: params.string("author"),
        pause: params.bool_or("pause", true)?,
        changes: params
            .all("changes")
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect(),
    };
    let config: Option<ContainerConfig> = json_body_or_default(body).await?;
    let created = b.container_commit(opts, config).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}
