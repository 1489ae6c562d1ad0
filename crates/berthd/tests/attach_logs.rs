//! `POST /containers/{id}/attach?logs=1`: the container's json log is replayed before (or, with
//! stream=0, instead of) the live stream, stdout and stderr kept apart in multiplexed frames; driven
//! through bollard as docker-py's `container.attach(logs=True)` drives dockerd.

mod common;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, LogsOptions, StartContainerOptions,
    WaitContainerOptions,
};
use common::{Daemon, need_root};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

fn client(d: &Daemon) -> Docker {
    Docker::connect_with_unix(
        &d.socket().display().to_string(),
        30,
        bollard::API_DEFAULT_VERSION,
    )
    .unwrap_or_else(|e| panic!("connecting: {e}"))
}

async fn create_and_start(docker: &Docker, name: &str, body: ContainerCreateBody) -> String {
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.into()),
                ..Default::default()
            }),
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    docker
        .start_container(&created.id, None::<StartContainerOptions>)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    created.id
}

/// Stdout and stderr text of a finite attach.
async fn replay(docker: &Docker, id: &str, stdout: bool, stderr: bool) -> (String, String) {
    let attached = docker
        .attach_container(
            id,
            Some(AttachContainerOptions {
                logs: true,
                stream: false,
                stdout,
                stderr,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("attach: {e}"));
    let mut output = attached.output;
    let (mut out, mut err) = (String::new(), String::new());
    let collect = async {
        while let Some(item) = output.next().await {
            match item.unwrap_or_else(|e| panic!("attach stream: {e}")) {
                LogOutput::StdOut { message } => out.push_str(&String::from_utf8_lossy(&message)),
                LogOutput::StdErr { message } => err.push_str(&String::from_utf8_lossy(&message)),
                other => panic!("unexpected frame {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .unwrap_or_else(|_| panic!("a logs-only attach did not end"));
    (out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_replays_the_log_of_an_exited_container_by_stream() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let docker = client(&d);
    let id = create_and_start(
        &docker,
        "exited",
        ContainerCreateBody {
            image: Some("busybox".into()),
            cmd: Some(
                [
                    "sh",
                    "-c",
                    "echo out1; echo err1 >&2; echo out2; echo err2 >&2",
                ]
                .map(String::from)
                .to_vec(),
            ),
            ..Default::default()
        },
    )
    .await;
    let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
    while let Some(r) = wait.next().await {
        r.unwrap_or_else(|e| panic!("wait: {e}"));
    }
    assert_eq!(
        replay(&docker, &id, true, true).await,
        ("out1\nout2\n".to_string(), "err1\nerr2\n".to_string())
    );
    assert_eq!(
        replay(&docker, &id, true, false).await,
        ("out1\nout2\n".to_string(), String::new())
    );
    assert_eq!(
        replay(&docker, &id, false, true).await,
        (String::new(), "err1\nerr2\n".to_string())
    );
    // Without logs and without stream there is nothing to send, and no error for a stopped container.
    let attached = docker
        .attach_container(
            &id,
            Some(AttachContainerOptions {
                stdout: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("attach: {e}"));
    assert_eq!(attached.output.count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_with_logs_replays_then_streams_a_running_container() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let docker = client(&d);
    let id = create_and_start(
        &docker,
        "live",
        ContainerCreateBody {
            image: Some("busybox".into()),
            cmd: Some(
                [
                    "sh",
                    "-c",
                    "echo before; echo warn >&2; read line; echo got $line",
                ]
                .map(String::from)
                .to_vec(),
            ),
            open_stdin: Some(true),
            ..Default::default()
        },
    )
    .await;
    // Wait until the first lines are in the log.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut logs = docker.logs(
            &id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let mut n = 0;
        while let Some(item) = logs.next().await {
            item.unwrap_or_else(|e| panic!("logs: {e}"));
            n += 1;
        }
        if n >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the container printed nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut attached = docker
        .attach_container(
            &id,
            Some(AttachContainerOptions {
                logs: true,
                stream: true,
                stdin: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("attach: {e}"));
    let (mut out, mut err) = (String::new(), String::new());
    let mut sent = false;
    let session = async {
        while let Some(item) = attached.output.next().await {
            match item.unwrap_or_else(|e| panic!("attach stream: {e}")) {
                LogOutput::StdOut { message } => out.push_str(&String::from_utf8_lossy(&message)),
                LogOutput::StdErr { message } => err.push_str(&String::from_utf8_lossy(&message)),
                other => panic!("unexpected frame {other:?}"),
            }
            if !sent && out.contains("before\n") && err.contains("warn\n") {
                sent = true;
                attached
                    .input
                    .write_all(b"live-input\n")
                    .await
                    .unwrap_or_else(|e| panic!("stdin: {e}"));
                attached
                    .input
                    .flush()
                    .await
                    .unwrap_or_else(|e| panic!("stdin: {e}"));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), session)
        .await
        .unwrap_or_else(|_| panic!("attach did not end; got {out:?} / {err:?}"));
    assert_eq!(out, "before\ngot live-input\n");
    assert_eq!(err, "warn\n");
}
