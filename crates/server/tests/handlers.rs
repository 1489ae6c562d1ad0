//! HTTP-layer tests: each route's status codes, JSON shapes and query parsing, driven through the router with
//! `oneshot` against the fake backend.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod fake_backend;

use std::sync::Arc;

use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use fake_backend::{BUSYBOX_ID, FakeBackend, WEB_ID};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn message(&self) -> String {
        self.json()["message"].as_str().unwrap().to_string()
    }

    fn json_lines(&self) -> Vec<Value> {
        self.body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }
}

fn fake() -> Arc<FakeBackend> {
    Arc::new(FakeBackend::default())
}

async fn send(backend: &Arc<FakeBackend>, req: Request<Body>) -> Reply {
    let response = berth_server::app(backend.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

async fn call(backend: &Arc<FakeBackend>, method: Method, uri: &str, body: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(backend, req).await
}

async fn get(backend: &Arc<FakeBackend>, uri: &str) -> Reply {
    call(backend, Method::GET, uri, "").await
}

async fn post(backend: &Arc<FakeBackend>, uri: &str, body: &str) -> Reply {
    call(backend, Method::POST, uri, body).await
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

#[tokio::test]
async fn ping_get_and_head_carry_negotiation_headers() {
    let b = fake();
    for method in [Method::GET, Method::HEAD] {
        let r = call(&b, method.clone(), "/_ping", "").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["api-version"], "1.51");
        assert_eq!(r.headers["docker-experimental"], "false");
        assert_eq!(r.headers["ostype"], "linux");
        assert_eq!(r.headers["builder-version"], "1");
        assert_eq!(
            r.headers["cache-control"],
            "no-cache, no-store, must-revalidate"
        );
        assert_eq!(r.headers["pragma"], "no-cache");
        let want: &[u8] = if method == Method::GET { b"OK" } else { b"" };
        assert_eq!(&r.body[..], want);
    }
}

#[tokio::test]
async fn version_prefixes_are_stripped_and_checked() {
    let b = fake();
    let r = get(&b, "/v1.43/version").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["ApiVersion"], "1.51");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Components"][0]["Details"]["ApiVersion"], "1.51");
    assert_eq!(v["Os"], "linux");

    let r = get(&b, "/v1.99/version").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.message(),
        "client version 1.99 is too new. Maximum supported API version is 1.51"
    );
    assert_eq!(r.headers["api-version"], "1.51");

    let r = get(&b, "/v1.12/info").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.message()
            .starts_with("client version 1.12 is too old. Minimum supported API version is 1.24")
    );

    assert_eq!(get(&b, "/v1.24/_ping").await.status, StatusCode::OK);
    assert_eq!(
        get(&b, "/v1.51/containers/json?x=1").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_routes_are_page_not_found() {
    let b = fake();
    for (method, uri) in [
        (Method::GET, "/nope"),
        (Method::GET, "/vfoo/info"),
        (Method::DELETE, "/version"),
        (Method::GET, "/images/busybox/bogus"),
        (Method::POST, "/images/busybox"),
    ] {
        let r = call(&b, method, uri, "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.message(), "page not found", "{uri}");
    }
}

#[tokio::test]
async fn info_and_df_shapes() {
    let b = fake();
    let v = get(&b, "/info").await.json();
    assert_eq!(v["ID"], "FAKE:ID");
    assert_eq!(v["NCPU"], 2);
    assert_eq!(v["OSType"], "linux");
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
    let r = get(&b, "/system/df?type=image&type=container").await;
    assert_eq!(r.json()["LayersSize"], 100);
    assert!(b.last_call().contains(r#"types: ["image", "container"]"#));
}

#[tokio::test]
async fn container_list_parses_query() {
    let b = fake();
    let q = enc(r#"{"status":["running"]}"#);
    let r = get(
        &b,
        &format!("/containers/json?all=1&limit=1&size=true&filters={q}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["Id"], WEB_ID);
    assert_eq!(list[0]["Names"][0], "/web");
    assert_eq!(list[0]["ImageID"], BUSYBOX_ID);
    assert_eq!(list[0]["HostConfig"]["NetworkMode"], "bridge");
    let call = b.last_call();
    assert!(
        call.contains("all: true")
            && call.contains("limit: Some(1)")
            && call.contains("size: true"),
        "{call}"
    );

    let q = enc(r#"{"status":{"exited":true}}"#);
    let r = get(&b, &format!("/containers/json?filters={q}")).await;
    assert_eq!(r.json().as_array().unwrap().len(), 0);

    for bad in ["all=maybe", "limit=x", "filters=%7B", "size=2"] {
        let r = get(&b, &format!("/containers/json?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        get(&b, "/containers/json?unknown=zzz").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn container_inspect_found_and_not_found() {
    let b = fake();
    let r = get(&b, "/containers/web/json?size=1").await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["Id"], WEB_ID);
    assert_eq!(v["Name"], "/web");
    assert_eq!(v["State"]["Running"], true);
    assert_eq!(v["State"]["Pid"], 4242);
    assert_eq!(v["Config"]["Cmd"][0], "sh");
    assert_eq!(v["HostConfig"]["NetworkMode"], "bridge");
    assert!(v["NetworkSettings"]["Networks"].is_object());
    assert!(b.last_call().contains("size: true"));

    let r = get(&b, "/containers/nope/json").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "No such container: nope");
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn container_create_statuses() {
    let b = fake();
    let body =
        r#"{"Image":"busybox","Cmd":["echo","hi"],"HostConfig":{"Memory":1048576},"Bogus":true}"#;
    let r = post(&b, "/containers/create?name=fresh", body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["Id"].as_str().unwrap().len(), 64);
    assert!(r.json()["Warnings"].is_array());
    assert!(
        b.last_call()
            .contains(r#"Some("fresh") Some("busybox") Some(["echo", "hi"])"#)
    );

    let r = post(&b, "/containers/create?name=web", body).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.message(),
        format!(
            "Conflict. The container name \"/web\" is already in use by container \"{WEB_ID}\". You have to remove (or rename) that container to be able to reuse that name."
        )
    );

    let r = post(&b, "/containers/create?name=b%20ad", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().starts_with("Invalid container name (b ad)"));

    let r = post(&b, "/containers/create", r#"{"Image":"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("EOF"), "{}", r.message());

    let r = post(&b, "/containers/create", r#"{"Image":5}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("invalid type"), "{}", r.message());

    let r = post(&b, "/containers/create", r#"{"Image":"ghost"}"#).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "No such image: ghost");
}

#[tokio::test]
async fn container_lifecycle_statuses() {
    let b = fake();
    let r = post(&b, "/containers/web/start?detachKeys=ctrl-x", "").await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert!(b.last_call().contains(r#"Some("ctrl-x")"#));

    let r = post(&b, "/containers/web/stop?t=5&signal=SIGINT", "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        b.last_call()
            .contains(r#"timeout: Some(5), signal: Some("SIGINT")"#)
    );
    assert_eq!(
        post(&b, "/containers/web/stop?t=abc", "").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(&b, "/containers/web/restart?t=-1", "").await.status,
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        post(&b, "/containers/web/kill?signal=HUP", "").await.status,
        StatusCode::NO_CONTENT
    );
    assert!(b.last_call().contains(r#"Some("HUP")"#));
    assert_eq!(
        post(&b, "/containers/ghost/kill", "").await.status,
        StatusCode::NOT_FOUND
    );

    let r = call(&b, Method::DELETE, "/containers/web?v=1", "").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.message(),
        format!(
            "You cannot remove a running container {WEB_ID}. Stop the container before attempting removal or force remove"
        )
    );
    let r = call(
        &b,
        Method::DELETE,
        "/containers/web?force=true&v=1&link=0",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        b.last_call()
            .contains("volumes: true, force: true, link: false")
    );

    assert_eq!(
        post(&b, "/containers/web/rename?name=web2", "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post(&b, "/containers/web/rename", "").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(&b, "/containers/web/resize?h=40&w=120", "")
            .await
            .status,
        StatusCode::OK
    );
    assert!(b.last_call().contains("height: 40, width: 120"));
    assert_eq!(
        post(&b, "/containers/web/resize?h=40", "").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(&b, "/containers/web/resize?h=40&w=-1", "")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let r = post(&b, "/containers/web/pause", "").await;
    assert_eq!(
        r.status,
        StatusCode::NOT_IMPLEMENTED,
        "default trait methods answer 501"
    );
    assert!(r.message().contains("pause"));
}

#[tokio::test]
async fn container_update_top_changes_export() {
    let b = fake();
    let r = post(
        &b,
        "/containers/web/update",
        r#"{"Memory":2048,"RestartPolicy":{"Name":"always"}}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["Warnings"], serde_json::json!([]));
    assert!(b.last_call().contains("Some(2048)") && b.last_call().contains("always"));

    let r = get(&b, "/containers/web/top?ps_args=aux").await;
    assert_eq!(r.json()["Titles"][0], "PID");
    assert_eq!(r.json()["Processes"][0][1], "sh");
    assert!(b.last_call().contains(r#"Some("aux")"#));

    let r = get(&b, "/containers/web/changes").await;
    assert_eq!(r.json()[0]["Path"], "/tmp");
    assert_eq!(r.json()[0]["Kind"], 0);

    let r = get(&b, "/containers/web/export").await;
    assert_eq!(r.headers["content-type"], "application/x-tar");
    assert_eq!(&r.body[..], b"TARDATA");
}

#[tokio::test]
async fn wait_replies_status_code_and_checks_condition() {
    let b = fake();
    let releaser = b.clone();
    let waiter = tokio::spawn({
        let b = b.clone();
        async move { post(&b, "/containers/web/wait?condition=next-exit", "").await }
    });
    while !b.calls().iter().any(|c| c.starts_with("wait")) {
        tokio::task::yield_now().await;
    }
    releaser.wait_release.send_replace(true);
    let r = waiter.await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"{\"StatusCode\":3,\"Error\":null}\n");
    assert!(b.calls().iter().any(|c| c.contains("NextExit")));

    assert_eq!(
        post(&b, "/containers/web/wait?condition=sometime", "")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(&b, "/containers/ghost/wait", "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn logs_are_framed_with_timestamps() {
    let b = fake();
    let r = get(
        &b,
        "/containers/web/logs?stdout=1&stderr=1&timestamps=1&tail=10&since=1699999999.5",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.docker.multiplexed-stream"
    );
    let line1 = b"2023-11-14T22:13:20.000005000Z line one\n";
    let line2 = b"2023-11-14T22:13:20.000005000Z line two\n";
    let mut want = vec![1, 0, 0, 0, 0, 0, 0, line1.len() as u8];
    want.extend_from_slice(line1);
    want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, line2.len() as u8]);
    want.extend_from_slice(line2);
    assert_eq!(&r.body[..], &want[..]);
    let call = b.last_call();
    assert!(
        call.contains("tail: Some(10)") && call.contains("since: Some(1699999999.5)"),
        "{call}"
    );

    get(&b, "/containers/web/logs?stdout=1&since=0&until=0").await;
    let call = b.last_call();
    assert!(
        call.contains("since: Some(0.0)") && call.contains("until: None"),
        "bollard's until=0 means no limit: {call}"
    );

    let r = get(&b, "/containers/web/logs?stderr=1").await;
    assert_eq!(&r.body[..8], &[2, 0, 0, 0, 0, 0, 0, 9]);
    assert_eq!(r.body.len(), 8 + 9);

    let r = get(&b, "/containers/term/logs?stdout=1&stderr=1&tail=all").await;
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.docker.raw-stream"
    );
    assert_eq!(&r.body[..], b"line one\nline two\n");

    let r = get(&b, "/v1.41/containers/web/logs?stdout=1").await;
    assert_eq!(
        r.headers["content-type"], "application/vnd.docker.raw-stream",
        "pre-1.42 clients"
    );
    assert_eq!(&r.body[..8], &[1, 0, 0, 0, 0, 0, 0, 9], "still framed");

    let r = get(&b, "/containers/web/logs").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.message(),
        "Bad parameters: you must choose at least one stream"
    );
    assert_eq!(
        get(&b, "/containers/web/logs?stdout=1&tail=x").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&b, "/containers/web/logs?stdout=1&since=yesterday")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn attach_without_upgrade_streams_framed_output() {
    let b = fake();
    let r = post(&b, "/containers/web/attach?stream=1&stdout=1&stderr=1", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.docker.multiplexed-stream"
    );
    let mut want = vec![1, 0, 0, 0, 0, 0, 0, 6];
    want.extend_from_slice(b"hello\n");
    want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 5]);
    want.extend_from_slice(b"oops\n");
    assert_eq!(&r.body[..], &want[..]);
}

#[tokio::test]
async fn attach_with_upgrade_answers_101() {
    let b = fake();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1.51/containers/term/attach?stream=1&stdin=1&stdout=1")
        .header("connection", "Upgrade")
        .header("upgrade", "tcp")
        .body(Body::empty())
        .unwrap();
    let r = send(&b, req).await;
    assert_eq!(r.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.docker.raw-stream"
    );
    assert_eq!(r.headers["upgrade"], "tcp");
    assert!(b.last_call().contains("stdin: true"));
    let r = post(&b, "/containers/ghost/attach?stream=1", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(
        &b,
        "/containers/web/attach?stream=1&detachKeys=ctrl-%3F",
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "Invalid detach keys (ctrl-?) provided");
}

#[tokio::test]
async fn stats_one_object_or_a_stream() {
    let b = fake();
    let r = get(&b, "/containers/web/stats?stream=false&one-shot=true").await;
    assert_eq!(r.json()["id"], WEB_ID);
    assert!(r.json()["cpu_stats"]["cpu_usage"]["total_usage"].is_number());
    assert!(b.last_call().contains("stream: false, one_shot: true"));
    let r = get(&b, "/containers/web/stats").await;
    assert_eq!(r.json_lines().len(), 3);
}

#[tokio::test]
async fn archive_stat_get_put() {
    let b = fake();
    let r = call(&b, Method::HEAD, "/containers/web/archive?path=/etc", "").await;
    assert_eq!(r.status, StatusCode::OK);
    let raw = r.headers["x-docker-container-path-stat"].to_str().unwrap();
    let stat: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stat["name"], "etc");
    assert_eq!(stat["linkTarget"], "");
    assert!(r.body.is_empty());

    let r = get(&b, "/containers/web/archive?path=/etc").await;
    assert_eq!(&r.body[..], b"TAR");
    assert!(r.headers.contains_key("x-docker-container-path-stat"));
    assert_eq!(
        get(&b, "/containers/web/archive").await.status,
        StatusCode::BAD_REQUEST
    );

    let r = call(
        &b,
        Method::PUT,
        "/containers/web/archive?path=/tmp&noOverwriteDirNonDir=1&copyUIDGID=true",
        "0123456789",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        b.last_call()
            .contains("no_overwrite_dir_non_dir: true, copy_uid_gid: true } 10"),
        "{}",
        b.last_call()
    );
}

#[tokio::test]
async fn prune_and_commit() {
    let b = fake();
    let q = enc(r#"{"until":["24h"],"label":["a=b"]}"#);
    let r = post(&b, &format!("/containers/prune?filters={q}"), "").await;
    assert_eq!(r.json()["ContainersDeleted"][0], WEB_ID);
    assert_eq!(r.json()["SpaceReclaimed"], 42);
    let q = enc(r#"{"status":["exited"]}"#);
    let r = post(&b, &format!("/containers/prune?filters={q}"), "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "invalid filter 'status'");

    let r = post(
        &b,
        "/commit?container=web&repo=img&tag=v1&comment=c&author=me&pause=0&changes=CMD%20ls",
        r#"{"Cmd":["ls"]}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["Id"], BUSYBOX_ID);
    let call = b.last_call();
    assert!(
        call.contains("pause: false")
            && call.contains(r#"changes: ["CMD ls"]"#)
            && call.contains(r#"Some(["ls"])"#),
        "{call}"
    );
    assert_eq!(
        post(&b, "/commit?container=web", "").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        post(&b, "/commit", "").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn exec_routes() {
    let b = fake();
    let r = post(
        &b,
        "/containers/web/exec",
        r#"{"Cmd":["ls","-l"],"AttachStdout":true}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["Id"], "exec1");
    let r = post(&b, "/containers/web/exec", r#"{"Cmd":[]}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "No exec command specified");
    assert_eq!(
        post(&b, "/containers/ghost/exec", r#"{"Cmd":["ls"]}"#)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        post(&b, "/exec/exec1/start", r#"{"Detach":true}"#)
            .await
            .status,
        StatusCode::OK
    );
    let r = post(&b, "/exec/nope/start", r#"{}"#).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "No such exec instance: nope");

    let r = get(&b, "/exec/exec1/json").await;
    assert_eq!(r.json()["ID"], "exec1");
    assert_eq!(r.json()["ExitCode"], 0);
    assert_eq!(r.json()["ContainerID"], WEB_ID);
    assert_eq!(
        post(&b, "/exec/exec1/resize?h=1&w=2", "").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn image_routes_with_slashed_names() {
    let b = fake();
    let r = get(&b, "/images/json?all=1&digests=1&shared-size=1").await;
    assert_eq!(r.json()[0]["RepoTags"][0], "busybox:latest");
    assert_eq!(r.json()[0]["Id"], BUSYBOX_ID);
    assert!(b.last_call().contains("all: true") && b.last_call().contains("shared_size: true"));

    let r = get(&b, "/v1.51/images/localhost:5000/a/b:t/json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["RootFS"]["Type"], "layers");
    assert_eq!(b.last_call(), "image_inspect localhost:5000/a/b:t");

    let r = get(&b, "/images/ghost/json").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "No such image: ghost");

    let r = get(&b, "/images/localhost:5000/a/b:t/history").await;
    assert_eq!(r.json()[0]["CreatedBy"], "/bin/sh");

    let r = post(&b, "/images/localhost:5000/a/b:t/tag?repo=x/y&tag=2", "").await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(
        b.last_call().contains(
            r#"image_tag localhost:5000/a/b:t TagOptions { repo: "x/y", tag: Some("2") }"#
        )
    );

    let r = call(
        &b,
        Method::DELETE,
        "/images/localhost:5000/a/b:t?force=1",
        "",
    )
    .await;
    assert_eq!(r.json()[0]["Untagged"], "localhost:5000/a/b:t");
    assert_eq!(r.json()[1]["Deleted"], BUSYBOX_ID);
    assert!(r.json()[0].get("Deleted").is_none());

    let r = get(&b, "/images/busybox/get").await;
    assert_eq!(&r.body[..], b"SAVED");
    let r = get(&b, "/images/get?names=busybox&names=localhost:5000/a/b:t").await;
    assert_eq!(&r.body[..], b"SAVED");
    assert!(
        b.last_call()
            .contains(r#"["busybox", "localhost:5000/a/b:t"]"#)
    );
    assert_eq!(get(&b, "/images/get").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn image_streams_load_pull_import_prune_build() {
    let b = fake();
    let r = post(&b, "/images/load?quiet=1", "tarbytes").await;
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        &r.body[..],
        b"{\"stream\":\"Loaded image: busybox:latest\\n\"}\n"
    );
    assert_eq!(b.last_call(), "image_load true 8");

    let auth =
        base64::engine::general_purpose::URL_SAFE.encode(r#"{"username":"bob","password":"x"}"#);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/images/create?fromImage=busybox&tag=latest")
        .header("x-registry-auth", auth)
        .body(Body::empty())
        .unwrap();
    let r = send(&b, req).await;
    let lines = r.json_lines();
    assert_eq!(lines[0]["status"], "Pulling from library/busybox");
    assert_eq!(lines[1]["errorDetail"]["message"], "registry unavailable");
    assert_eq!(
        b.last_call(),
        r#"image_pull busybox Some("latest") Some("bob")"#
    );

    let r = post(
        &b,
        "/images/create?fromSrc=-&repo=imp&tag=1&message=m&changes=CMD%20sh",
        "rootfs",
    )
    .await;
    assert_eq!(r.json_lines()[0]["status"], BUSYBOX_ID);
    assert!(b.last_call().contains(r#"changes: ["CMD sh"]"#) && b.last_call().ends_with(" 6"));
    assert_eq!(
        post(&b, "/images/create", "").await.status,
        StatusCode::BAD_REQUEST
    );

    let q = enc(r#"{"dangling":["true"]}"#);
    let r = post(&b, &format!("/images/prune?filters={q}"), "").await;
    assert_eq!(r.json()["SpaceReclaimed"], 0);

    let r = post(
        &b,
        "/build?t=x:1&buildargs=%7B%22A%22%3A%221%22%7D",
        "context",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert!(r.message().contains("build"));
    assert_eq!(
        post(&b, "/build?buildargs=%7B", "").await.status,
        StatusCode::BAD_REQUEST
    );
    let r = post(&b, "/images/busybox/push", "").await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test]
async fn events_stream_json_lines() {
    let b = fake();
    let q = enc(r#"{"type":["container"]}"#);
    let r = get(
        &b,
        &format!("/events?since=1700000000&until=2023-11-14T22:13:30Z&filters={q}"),
    )
    .await;
    let lines = r.json_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["Type"], "container");
    assert_eq!(lines[0]["Action"], "create");
    assert_eq!(lines[0]["Actor"]["ID"], WEB_ID);
    assert_eq!(lines[0]["timeNano"], 1_700_000_000_000_000_000i64);
    let call = b.last_call();
    assert!(
        call.contains("since: Some(1700000000.0), until: Some(1700000010.0)"),
        "{call}"
    );
    assert_eq!(
        get(&b, "/events?since=soon").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn auth_maps_permission_denied() {
    let b = fake();
    let r = post(
        &b,
        "/auth",
        r#"{"username":"bob","password":"secret","serveraddress":"r"}"#,
    )
    .await;
    assert_eq!(r.json()["Status"], "Login Succeeded");
    let r = post(&b, "/auth", r#"{"username":"bob","password":"bad"}"#).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn oversized_json_bodies_are_refused() {
    let b = fake();
    let huge = format!(
        r#"{{"Image":"busybox","Env":["{}"]}}"#,
        "x".repeat(berth_server::body::MAX_JSON_BODY)
    );
    let r = post(&b, "/containers/create", &huge).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.message().starts_with("error reading request body"),
        "{}",
        r.message()
    );
    assert!(!b.calls().iter().any(|c| c.starts_with("create")));
}
