//! `/containers/{id}/exec` and `/exec/{id}/...`: create, start (hijacked unless detached), resize, inspect.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::response::IntoResponse;
use berth_api::exec::{ExecCreateBody, ExecStartBody};
use berth_api::{ApiError, Backend};
use http::StatusCode;

use crate::body::{json_body, json_body_or_default};
use crate::error::HttpResult;
use crate::hijack::Hijack;
use crate::params::Params;
use crate::routes::containers::resize_options;
use crate::versioning::RequestedVersion;

/// `POST /containers/{id}/exec`.
pub async fn create<B: Backend>(
    State(b): State<Arc<B>>,
    Path(id): Path<String>,
    req: Request,
) -> HttpResult {
    let body: ExecCreateBody = json_body(req.into_body()).await?;
    if body.cmd.as_ref().is_none_or(|c| c.is_empty()) {
        return Err(ApiError::invalid("No exec command specified").into());
    }
    let created = b.exec_create(&id, body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `POST /exec/{id}/start`: 200 when detached, otherwise the connection is hijacked like attach, with the
/// detach keys the exec was created with.
pub async fn start<B: Backend>(
    State(b): State<Arc<B>>,
    Path(id): Path<String>,
    version: RequestedVersion,
    mut req: Request,
) -> HttpResult {
    let hijack = Hijack::from_request(&mut req, version);
    let body: ExecStartBody = json_body_or_default(req.into_body()).await?;
    let detached = body.detach;
    let hijack = if detached {
        hijack
    } else {
        let keys = b.exec_inspect(&id).await?.detach_keys;
        hijack.with_detach_keys(Some(&keys))?
    };
    match b.exec_start(&id, body).await? {
        None => Ok(StatusCode::OK.into_response()),
        Some(streams) => Ok(hijack.respond(streams)),
    }
}

/// `POST /exec/{id}/resize`.
pub async fn resize<B: Backend>(
    State(b): State<Arc<B>>,
    Path(id): Path<String>,
    params: Params,
) -> HttpResult {
    b.exec_resize(&id, resize_options(&params)?).await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /exec/{id}/json`.
pub async fn inspect<B: Backend>(State(b): State<Arc<B>>, Path(id): Path<String>) -> HttpResult {
    Ok(Json(b.exec_inspect(&id).await?).into_response())
}
