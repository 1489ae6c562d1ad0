//! The route table: which handler serves which method and path (paths here are without the version prefix).

pub mod absent_kinds;
pub mod containers;
pub mod exec;
pub mod images;
pub mod system;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};
use berth_api::Backend;

use crate::error::page_not_found;

/// All Engine API routes, served against `backend`.
pub fn api_routes<B: Backend>(backend: Arc<B>) -> Router {
    Router::new()
        .merge(system_routes::<B>())
        .merge(container_routes::<B>())
        .merge(exec_routes::<B>())
        .merge(image_routes::<B>())
        .fallback(page_not_found)
        .method_not_allowed_fallback(page_not_found)
        .with_state(backend)
}

fn system_routes<B: Backend>() -> Router<Arc<B>> {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version::<B>))
        .route("/info", get(system::info::<B>))
        .route("/system/df", get(system::disk_usage::<B>))
        .route("/events", get(system::events::<B>))
        .route("/auth", post(system::auth::<B>))
        .route("/networks/prune", post(absent_kinds::prune_networks))
        .route("/volumes/prune", post(absent_kinds::prune_volumes))
        .route("/build/prune", post(absent_kinds::prune_build_cache))
}

fn container_routes<B: Backend>() -> Router<Arc<B>> {
    use containers as c;
    Router::new()
        .route("/containers/create", post(c::create::<B>))
        .route("/containers/json", get(c::list::<B>))
        .route("/containers/prune", post(c::prune::<B>))
        .route("/containers/{id}", delete(c::remove::<B>))
        .route("/containers/{id}/json", get(c::inspect::<B>))
        .route("/containers/{id}/start", post(c::start::<B>))
        .route("/containers/{id}/stop", post(c::stop::<B>))
        .route("/containers/{id}/restart", post(c::restart::<B>))
        .route("/containers/{id}/kill", post(c::kill::<B>))
        .route("/containers/{id}/wait", post(c::wait::<B>))
        .route("/containers/{id}/attach", post(c::attach::<B>))
        .route("/containers/{id}/logs", get(c::logs::<B>))
        .route("/containers/{id}/top", get(c::top::<B>))
        .route("/containers/{id}/stats", get(c::stats::<B>))
        .route("/containers/{id}/resize", post(c::resize::<B>))
        .route("/containers/{id}/pause", post(c::pause::<B>))
        .route("/containers/{id}/unpause", post(c::unpause::<B>))
        .route("/containers/{id}/rename", post(c::rename::<B>))
        .route("/containers/{id}/update", post(c::update::<B>))
        .route("/containers/{id}/export", get(c::export::<B>))
        .route("/containers/{id}/changes", get(c::changes::<B>))
        .route(
            "/containers/{id}/archive",
            get(c::get_archive::<B>)
                .head(c::stat_path::<B>)
                .put(c::put_archive::<B>),
        )
        .route("/commit", post(c::commit::<B>))
}

fn exec_routes<B: Backend>() -> Router<Arc<B>> {
    Router::new()
        .route("/containers/{id}/exec", post(exec::create::<B>))
        .route("/exec/{id}/start", post(exec::start::<B>))
        .route("/exec/{id}/resize", post(exec::resize::<B>))
        .route("/exec/{id}/json", get(exec::inspect::<B>))
}

fn image_routes<B: Backend>() -> Router<Arc<B>> {
    use images as i;
    Router::new()
        .route("/images/json", get(i::list::<B>))
        .route("/images/create", post(i::create::<B>))
        .route("/images/load", post(i::load::<B>))
        .route("/images/get", get(i::export::<B>))
        .route("/images/prune", post(i::prune::<B>))
        .route(
            "/images/{*rest}",
            get(i::get_by_name::<B>)
                .post(i::post_by_name::<B>)
                .delete(i::remove::<B>),
        )
        .route("/build", post(i::build::<B>))
}
