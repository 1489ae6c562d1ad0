//! Typed calls for the image endpoints (`/images/...`, `/auth`).

use berth_api::image::{
    AuthResponse, HistoryItem, ImageDeleteItem, ImagePruneResponse, ImageSummary,
};
use http::{HeaderMap, HeaderValue, Method, Response};
use hyper::body::Incoming;

use crate::containers::{FilterMap, encode_filters, push_flag};
use crate::error::ClientError;
use crate::transport::{Body, Client, empty_body};

/// Options of `GET /images/json`.
#[derive(Debug, Clone, Default)]
pub struct ListImages {
    /// Include intermediate images.
    pub all: bool,
    /// Include digests.
    pub digests: bool,
    /// Filters.
    pub filters: FilterMap,
}

fn auth_headers(registry_auth: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(v) = registry_auth.and_then(|a| HeaderValue::from_str(a).ok()) {
        headers.insert("X-Registry-Auth", v);
    }
    headers
}

impl Client {
    /// `GET /images/json`.
    pub async fn list_images(&self, opts: &ListImages) -> Result<Vec<ImageSummary>, ClientError> {
        let mut query = Vec::new();
        push_flag(&mut query, "all", opts.all);
        push_flag(&mut query, "digests", opts.digests);
        if let Some(f) = encode_filters(&opts.filters) {
            query.push(("filters", f));
        }
        self.get_json("/images/json", &query).await
    }

    /// `GET /images/{name}/json` as raw JSON.
    pub async fn inspect_image_raw(&self, name: &str) -> Result<serde_json::Value, ClientError> {
        self.get_json(&format!("/images/{name}/json"), &[]).await
    }

    /// `GET /images/{name}/history`.
    pub async fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>, ClientError> {
        self.get_json(&format!("/images/{name}/history"), &[]).await
    }

    /// `POST /images/{name}/tag`.
    pub async fn tag_image(
        &self,
        name: &str,
        repo: &str,
        tag: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut query = vec![("repo", repo.to_string())];
        if let Some(t) = tag {
            query.push(("tag", t.to_string()));
        }
        self.post_empty(&format!("/images/{name}/tag"), &query)
            .await
    }

    /// `DELETE /images/{name}`.
    pub async fn remove_image(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<ImageDeleteItem>, ClientError> {
        let mut query = Vec::new();
        push_flag(&mut query, "force", force);
        push_flag(&mut query, "noprune", noprune);
        self.delete_json(&format!("/images/{name}"), &query).await
    }

    /// `POST /images/prune`.
    pub async fn prune_images(
        &self,
        filters: &FilterMap,
    ) -> Result<ImagePruneResponse, ClientError> {
        let query: Vec<_> = encode_filters(filters)
            .map(|f| ("filters", f))
            .into_iter()
            .collect();
        self.post_json::<(), _>("/images/prune", &query, None).await
    }

    /// `POST /images/load` with a tar body; the reply is a JSON message stream.
    pub async fn load_images(
        &self,
        body: Body,
        quiet: bool,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut query = Vec::new();
        push_flag(&mut query, "quiet", quiet);
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-tar"),
        );
        self.request(Method::POST, "/images/load", &query, body, headers)
            .await
    }

    /// `GET /images/get?names=...` (a docker-save tar stream).
    pub async fn save_images(&self, names: &[String]) -> Result<Response<Incoming>, ClientError> {
        let query: Vec<_> = names.iter().map(|n| ("names", n.clone())).collect();
        self.request(
            Method::GET,
            "/images/get",
            &query,
            empty_body(),
            HeaderMap::new(),
        )
        .await
    }

    /// `POST /images/create?fromImage=...&tag=...` (pull); the reply is a JSON progress stream.
    pub async fn pull_image(
        &self,
        image: &str,
        tag: &str,
        platform: Option<&str>,
        registry_auth: Option<&str>,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut query = vec![("fromImage", image.to_string()), ("tag", tag.to_string())];
        if let Some(p) = platform {
            query.push(("platform", p.to_string()));
        }
        self.request(
            Method::POST,
            "/images/create",
            &query,
            empty_body(),
            auth_headers(registry_auth),
        )
        .await
    }

    /// `POST /images/create?fromSrc=-` (import) with the tarball as body; `query` carries repo, tag, message, changes.
    pub async fn import_image(
        &self,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-tar"),
        );
        self.request(Method::POST, "/images/create", query, body, headers)
            .await
    }

    /// `POST /images/{name}/push`; the reply is a JSON progress stream.
    pub async fn push_image(
        &self,
        name: &str,
        tag: Option<&str>,
        registry_auth: Option<&str>,
    ) -> Result<Response<Incoming>, ClientError> {
        let query: Vec<_> = tag.map(|t| ("tag", t.to_string())).into_iter().collect();
        self.request(
            Method::POST,
            &format!("/images/{name}/push"),
            &query,
            empty_body(),
            auth_headers(registry_auth),
        )
        .await
    }

    /// `POST /auth`.
    pub async fn auth(&self, config: &serde_json::Value) -> Result<AuthResponse, ClientError> {
        self.post_json("/auth", &[], Some(config)).await
    }
}
