//! Random bodies, paths and query strings through the whole router: it must never panic, never hang and
//! never answer 5xx (except 501 from endpoints the fake leaves unimplemented).

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod fake_backend;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use fake_backend::FakeBackend;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use tower::ServiceExt;

const PATHS: &[&str] = &[
    "/_ping",
    "/version",
    "/info",
    "/system/df",
    "/events",
    "/auth",
    "/containers/create",
    "/containers/json",
    "/containers/prune",
    "/containers/{id}",
    "/containers/{id}/json",
    "/containers/{id}/start",
    "/containers/{id}/stop",
    "/containers/{id}/restart",
    "/containers/{id}/kill",
    "/containers/{id}/wait",
    "/containers/{id}/attach",
    "/containers/{id}/logs",
    "/containers/{id}/top",
    "/containers/{id}/stats",
    "/containers/{id}/resize",
    "/containers/{id}/pause",
    "/containers/{id}/rename",
    "/containers/{id}/update",
    "/containers/{id}/export",
    "/containers/{id}/changes",
    "/containers/{id}/archive",
    "/containers/{id}/exec",
    "/exec/{id}/start",
    "/exec/{id}/resize",
    "/exec/{id}/json",
    "/commit",
    "/images/json",
    "/images/create",
    "/images/load",
    "/images/get",
    "/images/prune",
    "/images/{id}/json",
    "/images/{id}/history",
    "/images/{id}/tag",
    "/images/{id}/push",
    "/images/{id}/get",
    "/images/{id}",
    "/build",
];

const KEYS: &[&str] = &[
    "all",
    "limit",
    "size",
    "filters",
    "name",
    "t",
    "signal",
    "condition",
    "stream",
    "stdin",
    "stdout",
    "stderr",
    "logs",
    "follow",
    "since",
    "until",
    "timestamps",
    "tail",
    "ps_args",
    "h",
    "w",
    "path",
    "v",
    "force",
    "fromImage",
    "fromSrc",
    "tag",
    "repo",
    "changes",
    "names",
    "quiet",
    "buildargs",
    "labels",
    "cachefrom",
    "container",
    "pause",
    "one-shot",
    "detachKeys",
    "noOverwriteDirNonDir",
    "copyUIDGID",
    "type",
    "memory",
];

const IDS: &[&str] = &[
    "web",
    "term",
    "ghost",
    "exec1",
    "busybox",
    "localhost:5000/a/b:t",
    "%FF",
    "a%2Fb",
    "..",
    "",
];

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
    ])
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(PATHS),
        prop::sample::select(IDS),
        prop::option::of(prop::sample::select(vec![
            "/v1.24", "/v1.51", "/v1.99", "/v0.1", "/vx",
        ])),
    )
        .prop_map(|(p, id, prefix)| format!("{}{}", prefix.unwrap_or(""), p.replace("{id}", id)))
}

fn query() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("1".to_string()),
        Just("true".to_string()),
        Just("-5".to_string()),
        Just("%7B%22status%22%3A%5B%22x%22%5D%7D".to_string()),
        "[a-zA-Z0-9%{}\\[\\]\":,=.-]{0,12}",
    ];
    prop::collection::vec((prop::sample::select(KEYS), value), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        Just(b"{}".to_vec()),
        Just(br#"{"Image":"busybox","Cmd":"sh","HostConfig":{"Memory":-1}}"#.to_vec()),
        Just(br#"{"Cmd":["ls"],"Detach":true}"#.to_vec()),
        "\\{\"[A-Za-z]{1,10}\":[0-9a-z\\[\\]\"{}]{0,10}\\}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn router_never_panics_or_fails_on_input(method in method(), path in path(), query in query(), body in body()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = runtime.block_on(async {
            let backend = Arc::new(FakeBackend::default());
            backend.wait_release.send_replace(true);
            let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
            let Ok(req) = Request::builder().method(method.clone()).uri(&uri).body(Body::from(body.clone())) else {
                return StatusCode::OK; // not a valid HTTP request at all; hyper would refuse it first
            };
            let response = berth_server::app(backend).oneshot(req).await.unwrap();
            let status = response.status();
            tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
                .await
                .expect("body did not finish")
                .expect("body failed");
            status
        });
        prop_assert!(
            !status.is_server_error() || status == StatusCode::NOT_IMPLEMENTED,
            "{method} {path}?{query} -> {status}"
        );
    }
}
