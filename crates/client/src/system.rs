//! Typed calls for the system endpoints (`/version`, `/info`, `/system/df`, `/events`).

use http::{HeaderMap, Method, Response};
use hyper::body::Incoming;

use crate::containers::{FilterMap, encode_filters};
use crate::error::ClientError;
use crate::transport::{Client, empty_body};

impl Client {
    /// `GET /version` as raw JSON (templates see every field).
    pub async fn version_raw(&self) -> Result<serde_json::Value, ClientError> {
        self.get_json("/version", &[]).await
    }

    /// `GET /info` as raw JSON.
    pub async fn info_raw(&self) -> Result<serde_json::Value, ClientError> {
        self.get_json("/info", &[]).await
    }

    /// `GET /system/df` as raw JSON.
    pub async fn disk_usage_raw(&self) -> Result<serde_json::Value, ClientError> {
        self.get_json("/system/df", &[]).await
    }

    /// `GET /events`; the reply is a JSON stream of events.
    pub async fn events(
        &self,
        since: Option<&str>,
        until: Option<&str>,
        filters: &FilterMap,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut query = Vec::new();
        if let Some(s) = since {
            query.push(("since", s.to_string()));
        }
        if let Some(u) = until {
            query.push(("until", u.to_string()));
        }
        if let Some(f) = encode_filters(filters) {
            query.push(("filters", f));
        }
        self.request(
            Method::GET,
            "/events",
            &query,
            empty_body(),
            HeaderMap::new(),
        )
        .await
    }

    /// `POST /{kind}/prune` for kinds without a typed wrapper (volumes, networks, build cache).
    pub async fn prune_raw(
        &self,
        kind: &str,
        filters: &FilterMap,
    ) -> Result<serde_json::Value, ClientError> {
        let query: Vec<_> = encode_filters(filters)
            .map(|f| ("filters", f))
            .into_iter()
            .collect();
        self.post_json::<(), _>(&format!("/{kind}/prune"), &query, None)
            .await
    }
}
