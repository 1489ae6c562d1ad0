//! Image endpoints' options and reply bodies (list, inspect, history, delete, pull/import/load, build, push).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::ContainerConfig;
use crate::container::GraphDriverData;
use crate::filters::Filters;

/// Query of `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageListOptions {
    /// Include intermediate images.
    pub all: bool,
    /// Filters (`dangling`, `label`, `reference`, `before`, `since`, `until`).
    pub filters: Filters,
    /// Include digests.
    pub digests: bool,
    /// Compute `SharedSize`.
    pub shared_size: bool,
}

/// One entry of `GET /images/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageSummary {
    /// Image id (`sha256:...`).
    pub id: String,
    /// Parent id, empty when none.
    pub parent_id: String,
    /// Tags (`busybox:latest`).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub repo_tags: Vec<String>,
    /// Digests (`busybox@sha256:...`).
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub repo_digests: Vec<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Total size in bytes.
    pub size: i64,
    /// Bytes shared with other images; -1 when not computed.
    pub shared_size: i64,
    /// Labels.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub labels: HashMap<String, String>,
    /// Containers using it; -1 when not computed.
    pub containers: i64,
}

/// `RootFS` of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Diff ids of the layers, bottom first.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub layers: Vec<String>,
}

/// `Metadata` of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageMetadata {
    /// Last time a tag was added (RFC 3339), or the zero time.
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub last_tag_time: String,
}

/// Reply of `GET /images/{name}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageInspect {
    /// Image id.
    pub id: String,
    /// Tags.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub repo_tags: Vec<String>,
    /// Digests.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub repo_digests: Vec<String>,
    /// Parent id.
    pub parent: String,
    /// Commit message.
    pub comment: String,
    /// Creation time (RFC 3339 nano).
    #[serde(serialize_with = "crate::go_time::serialize")]
    pub created: String,
    /// Docker version that built it.
    pub docker_version: String,
    /// Author.
    pub author: String,
    /// Default container configuration.
    pub config: ContainerConfig,
    /// CPU architecture.
    pub architecture: String,
    /// Architecture variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Operating system.
    pub os: String,
    /// OS version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// Storage driver data.
    pub graph_driver: GraphDriverData,
    /// Layers.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// Metadata.
    pub metadata: ImageMetadata,
}

/// One entry of `GET /images/{name}/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HistoryItem {
    /// Image id of this step or `<missing>`.
    pub id: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// The instruction that made it.
    pub created_by: String,
    /// Tags of this step's image.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub tags: Vec<String>,
    /// Layer size.
    pub size: i64,
    /// Comment.
    pub comment: String,
}

/// Query of `POST /images/{name}/tag`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagOptions {
    /// Target repository.
    pub repo: String,
    /// Target tag (default `latest`).
    pub tag: Option<String>,
}

/// Query of `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRemoveOptions {
    /// Remove even if used by stopped containers or tagged several times.
    pub force: bool,
    /// Keep untagged parents.
    pub noprune: bool,
}

/// One entry of an image delete reply: either `Untagged` or `Deleted` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDeleteItem {
    /// A reference removed.
    #[serde(rename = "Untagged", skip_serializing_if = "Option::is_none", default)]
    pub untagged: Option<String>,
    /// An image id deleted.
    #[serde(rename = "Deleted", skip_serializing_if = "Option::is_none", default)]
    pub deleted: Option<String>,
}

/// Reply of `POST /images/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagePruneResponse {
    /// What was removed.
    #[serde(default, deserialize_with = "crate::nullable::or_default")]
    pub images_deleted: Vec<ImageDeleteItem>,
    /// Bytes freed.
    pub space_reclaimed: u64,
}

/// Credentials for a registry (`X-Registry-Auth` header, body of `/auth`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Base64 `user:password`.
    pub auth: Option<String>,
    /// Email (deprecated).
    pub email: Option<String>,
    /// Registry address.
    pub serveraddress: Option<String>,
    /// OAuth identity token.
    pub identitytoken: Option<String>,
    /// Registry bearer token.
    pub registrytoken: Option<String>,
}

/// Reply of `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthResponse {
    /// `Login Succeeded`.
    pub status: String,
    /// Token to use instead of the password, if the registry issued one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub identity_token: Option<String>,
}

/// Query of `POST /images/create` with `fromImage`: a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullOptions {
    /// Image to pull (may include tag or digest).
    pub from_image: String,
    /// Tag or digest, when not in `from_image`.
    pub tag: Option<String>,
    /// Platform (`linux/amd64`).
    pub platform: Option<String>,
    /// Registry credentials.
    pub auth: Option<AuthConfig>,
}

/// Query of `POST /images/create` with `fromSrc`: an import of a rootfs tarball.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `-` for the request body, otherwise a URL.
    pub from_src: String,
    /// Repository to tag the result with.
    pub repo: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Commit message.
    pub message: Option<String>,
    /// Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// Platform.
    pub platform: Option<String>,
}

/// Query of `POST /images/{name}/push`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOptions {
    /// Image name (without tag).
    pub name: String,
    /// Tag; empty pushes all tags.
    pub tag: Option<String>,
    /// Registry credentials.
    pub auth: Option<AuthConfig>,
}

/// Query of `POST /build` (the legacy builder).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildOptions {
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    /// Names to tag the result with.
    pub tags: Vec<String>,
    /// Suppress verbose output.
    pub quiet: bool,
    /// Do not use the cache.
    pub nocache: bool,
    /// Always pull the base image.
    pub pull: bool,
    /// Remove intermediate containers.
    pub rm: bool,
    /// Always remove intermediate containers.
    pub forcerm: bool,
    /// `--build-arg` values (`null` values mean "from the environment").
    pub build_args: HashMap<String, Option<String>>,
    /// Labels for the image.
    pub labels: HashMap<String, String>,
    /// Target stage.
    pub target: Option<String>,
    /// Platform.
    pub platform: Option<String>,
    /// Network mode for RUN steps.
    pub network_mode: Option<String>,
    /// Memory limit for RUN steps.
    pub memory: Option<i64>,
    /// Images to consider as cache sources.
    pub cache_from: Vec<String>,
    /// Extra hosts for RUN steps.
    pub extra_hosts: Vec<String>,
    /// Registry credentials keyed by registry (`X-Registry-Config`).
    pub registry_config: HashMap<String, AuthConfig>,
}
