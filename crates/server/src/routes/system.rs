//! `/_ping`, `/version`, `/info`, `/system/df`, `/events` and `/auth`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use berth_api::image::AuthConfig;
use berth_api::system::{DiskUsageOptions, EventsOptions};
use berth_api::{ApiError, Backend, CURRENT_API_VERSION};
use http::{HeaderValue, Method, header};

use crate::body::json_body_or_default;
use crate::error::HttpResult;
use crate::framing::json_stream_response;
use crate::params::Params;
use crate::versioning::{min_version_string, version_header};

/// `GET|HEAD /_ping`: `OK` plus the headers clients negotiate the version from.
pub async fn ping(method: Method) -> Response {
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from("OK")
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert("api-version", version_header(CURRENT_API_VERSION));
    headers.insert("builder-version", HeaderValue::from_static("1"));
    headers.insert("swarm", HeaderValue::from_static("inactive"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `GET /version`.
pub async fn version<B: Backend>(State(backend): State<Arc<B>>) -> HttpResult {
    let mut version = backend.version().await?;
    version.api_version = CURRENT_API_VERSION.to_string();
    version.min_api_version = min_version_string();
    for component in &mut version.components {
        if component.name == "Engine" {
            component
                .details
                .insert("ApiVersion".into(), version.api_version.clone());
            component
                .details
                .insert("MinAPIVersion".into(), version.min_api_version.clone());
        }
    }
    Ok(Json(version).into_response())
}

/// `GET /info`. An empty `SystemTime` is filled in: the Docker CLI refuses to print info without one.
pub async fn info<B: Backend>(State(backend): State<Arc<B>>) -> HttpResult {
    let mut info = backend.info().await?;
    if info.system_time.is_empty() {
        info.system_time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    }
    Ok(Json(info).into_response())
}

/// `GET /system/df`.
pub async fn disk_usage<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> HttpResult {
    let opts = DiskUsageOptions {
        types: params.all("type"),
    };
    Ok(Json(backend.disk_usage(opts).await?).into_response())
}

/// `GET /events`: newline-delimited JSON until `until` or the client leaves.
pub async fn events<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> HttpResult {
    let opts = EventsOptions {
        since: timestamp_param(&params, "since")?,
        until: timestamp_param(&params, "until")?,
        filters: params.filters()?,
    };
    Ok(json_stream_response(backend.events(opts).await?))
}

/// `POST /auth`.
pub async fn auth<B: Backend>(State(backend): State<Arc<B>>, body: Body) -> HttpResult {
    let config: AuthConfig = json_body_or_default(body).await?;
    Ok(Json(backend.auth(config).await?).into_response())
}

/// A time parameter as Docker clients send it: Unix seconds with an optional fraction, or RFC 3339.
pub fn timestamp_param(params: &Params, key: &str) -> Result<Option<f64>, ApiError> {
    let Some(raw) = params.str(key).map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(secs) = raw.parse::<f64>()
        && secs.is_finite()
    {
        return Ok(Some(secs));
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9))
        .map_err(|_| {
            ApiError::invalid(format!(
                "invalid value for {key}: {raw:?} is not a timestamp"
            ))
        })
}
