//! Networks, volumes and a build cache do not exist in this daemon yet, so there is nothing
//! of theirs to prune: their prune endpoints answer with empty reports, which lets
//! `docker system prune` go on to the containers and images it does remove.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `POST /networks/prune`: no networks exist, none are removed.
pub async fn prune_networks() -> Response {
    Json(json!({ "NetworksDeleted": [] })).into_response()
}

/// `POST /volumes/prune`: no volumes exist, none are removed.
pub async fn prune_volumes() -> Response {
    Json(json!({ "VolumesDeleted": [], "SpaceReclaimed": 0 })).into_response()
}

/// `POST /build/prune`: the legacy builder keeps no separate cache (its cache is images).
pub async fn prune_build_cache() -> Response {
    Json(json!({ "CachesDeleted": [], "SpaceReclaimed": 0 })).into_response()
}
