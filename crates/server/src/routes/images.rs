//! `/images/...`, `/build`: names may contain `/`, so `/images/{*rest}` is split on its trailing action here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use base64::Engine as _;
use berth_api::image::{
    AuthConfig, BuildOptions, ImageListOptions, ImageRemoveOptions, ImportOptions, PullOptions,
    PushOptions, TagOptions,
};
use berth_api::{ApiError, Backend};
use http::{HeaderMap, StatusCode};

use crate::body::byte_stream;
use crate::error::{HttpResult, page_not_found};
use crate::framing::{bytes_response, json_stream_response};
use crate::params::Params;

/// The backend as handlers receive it.
type Shared<B> = State<Arc<B>>;

/// Splits `name/action` into the image name and the action, when the action is one of `actions`.
fn split_action<'a>(rest: &'a str, actions: &[&str]) -> Option<(&'a str, &'a str)> {
    let (name, action) = rest.rsplit_once('/')?;
    (!name.is_empty() && actions.contains(&action)).then_some((name, action))
}

/// Decodes a base64 (URL-safe or standard, padded or not) JSON header; malformed values are ignored as Docker does.
fn decode_b64_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, name: &str) -> Option<T> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let raw = headers.get(name)?.to_str().ok()?.trim();
    if raw.is_empty() {
        return None;
    }
    [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(raw).ok())
        .and_then(|json| serde_json::from_slice(&json).ok())
}

/// Credentials from `X-Registry-Auth`.
fn registry_auth(headers: &HeaderMap) -> Option<AuthConfig> {
    decode_b64_json(headers, "x-registry-auth")
}

/// `GET /images/json`.
pub async fn list<B: Backend>(State(b): Shared<B>, params: Params) -> HttpResult {
    let mut filters = params.filters()?;
    if let Some(reference) = params.string("filter") {
        filters
            .0
            .entry("reference".into())
            .or_default()
            .push(reference);
    }
    let opts = ImageListOptions {
        all: params.bool("all")?,
        filters,
        digests: params.bool("digests")?,
        shared_size: params.bool("shared-size")?,
    };
    Ok(Json(b.image_list(opts).await?).into_response())
}

/// `GET /images/{name}/json|history|get`.
pub async fn get_by_name<B: Backend>(State(b): Shared<B>, Path(rest): Path<String>) -> HttpResult {
    let Some((name, action)) = split_action(&rest, &["json", "history", "get"]) else {
        return Ok(page_not_found().await);
    };
    match action {
        "json" => Ok(Json(b.image_inspect(name).await?).into_response()),
        "history" => Ok(Json(b.image_history(name).await?).into_response()),
        _ => Ok(bytes_response(
            "application/x-tar",
            b.image_export(vec![name.to_string()]).await?,
        )),
    }
}

/// `POST /images/{name}/tag|push`.
pub async fn post_by_name<B: Backend>(
    State(b): Shared<B>,
    Path(rest): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> HttpResult {
    let Some((name, action)) = split_action(&rest, &["tag", "push"]) else {
        return Ok(page_not_found().await);
    };
    if action == "tag" {
        let opts = TagOptions {
            repo: params.string("repo").unwrap_or_default(),
            tag: params.string("tag"),
        };
        b.image_tag(name, opts).await?;
        return Ok(StatusCode::CREATED.into_response());
    }
    let opts = PushOptions {
        name: name.to_string(),
        tag: params.string("tag"),
        auth: registry_auth(&headers),
    };
    Ok(json_stream_response(b.image_push(opts).await?))
}

/// `DELETE /images/{name}`.
pub async fn remove<B: Backend>(
    State(b): Shared<B>,
    Path(name): Path<String>,
    params: Params,
) -> HttpResult {
    let opts = ImageRemoveOptions {
        force: params.bool("force")?,
        noprune: params.bool("noprune")?,
    };
    Ok(Json(b.image_remove(&name, opts).await?).into_response())
}

/// `POST /images/create`: pull with `fromImage`, import with `fromSrc`.
pub async fn create<B: Backend>(
    State(b): Shared<B>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> HttpResult {
    if let Some(from_image) = params.string("fromImage") {
        let opts = PullOptions {
            from_image,
            tag: params.string("tag"),
            platform: params.string("platform"),
            auth: registry_auth(&headers),
        };
        return Ok(json_stream_response(b.image_pull(opts).await?));
    }
    let Some(from_src) = params.string("fromSrc") else {
        return Err(ApiError::invalid("either fromImage or fromSrc must be given").into());
    };
    let opts = ImportOptions {
        from_src,
        repo: params.string("repo"),
        tag: params.string("tag"),
        message: params.string("message"),
        changes: params
            .all("changes")
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect(),
        platform: params.string("platform"),
    };
    Ok(json_stream_response(
        b.image_import(opts, byte_stream(body)).await?,
    ))
}

/// `POST /images/load`.
pub async fn load<B: Backend>(State(b): Shared<B>, params: Params, body: Body) -> HttpResult {
    let quiet = params.bool("quiet")?;
    Ok(json_stream_response(
        b.image_load(quiet, byte_stream(body)).await?,
    ))
}

/// `GET /images/get?names=a&names=b`.
pub async fn export<B: Backend>(State(b): Shared<B>, params: Params) -> HttpResult {
    let names: Vec<String> = params
        .all("names")
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(ApiError::invalid("no image names given").into());
    }
    Ok(bytes_response(
        "application/x-tar",
        b.image_export(names).await?,
    ))
}

/// `POST /images/prune`.
pub async fn prune<B: Backend>(State(b): Shared<B>, params: Params) -> HttpResult {
    let filters = params.filters()?;
    filters.check_keys(&["dangling", "until", "label", "label!"])?;
    Ok(Json(b.image_prune(filters).await?).into_response())
}

/// `POST /build`: the body is the build context tar; output is a JSON message stream.
pub async fn build<B: Backend>(
    State(b): Shared<B>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> HttpResult {
    let opts = build_options(&params, &headers)?;
    Ok(json_stream_response(
        b.build(opts, byte_stream(body)).await?,
    ))
}

fn build_options(params: &Params, headers: &HeaderMap) -> Result<BuildOptions, ApiError> {
    Ok(BuildOptions {
        dockerfile: params
            .string("dockerfile")
            .unwrap_or_else(|| "Dockerfile".to_string()),
        tags: params
            .all("t")
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect(),
        quiet: params.bool("q")?,
        nocache: params.bool("nocache")?,
        pull: params.bool("pull")?,
        rm: params.bool_or("rm", true)?,
        forcerm: params.bool("forcerm")?,
        build_args: params.json("buildargs")?,
        labels: params.json("labels")?,
        target: params.string("target"),
        platform: params.string("platform"),
        network_mode: params.string("networkmode"),
        memory: params.num("memory")?,
        cache_from: params.json("cachefrom")?,
        extra_hosts: params
            .all("extrahosts")
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect(),
        registry_config: decode_b64_json::<HashMap<String, AuthConfig>>(
            headers,
            "x-registry-config",
        )
        .unwrap_or_default(),
    })
}
