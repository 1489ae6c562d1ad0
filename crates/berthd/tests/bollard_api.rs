//! End-to-end tests through the `bollard` Docker client: a tty container driven over the
//! attach API, wait, inspect and events.

mod common;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, EventsOptions, RemoveContainerOptions,
    StartContainerOptions, WaitContainerOptions,
};
use common::{Daemon, need_root};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn client(d: &Daemon) -> Docker {
    Docker::connect_with_unix(
        &d.socket().display().to_string(),
        30,
        bollard::API_DEFAULT_VERSION,
    )
    .unwrap_or_else(|e| panic!("connecting: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tty_container_over_the_attach_api() {
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let docker = client(&d);
    let mut filters = HashMap::new();
    filters.insert("type".to_string(), vec!["container".to_string()]);
    // The events request is sent when first polled: replay from a moment before the create.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() - 1)
        .unwrap_or(0);
    let mut events = docker.events(Some(EventsOptions {
        since: Some(since.to_string()),
        filters: Some(filters),
        ..Default::default()
    }));
    let body = ContainerCreateBody {
        image: Some("busybox".into()),
        cmd: Some(vec!["sh".into()]),
        tty: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some("tty1".into()),
                ..Default::default()
            }),
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("create: {e}"));
    let mut attached = docker
        .attach_container(
            &created.id,
            Some(AttachContainerOptions {
                stream: true,
                stdin: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("attach: {e}"));
    docker
        .start_container(&created.id, None::<StartContainerOptions>)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    attached
        .input
        .write_all(b"tty && echo from-$((40+2))\nexit 5\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    attached
        .input
        .flush()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let collect = async {
        while let Some(Ok(item)) = attached.output.next().await {
            match item {
                LogOutput::Console { message } | LogOutput::StdOut { message } => {
                    out.extend_from_slice(&message)
                }
                other => panic!("unexpected frame on a tty: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .unwrap_or_else(|_| panic!("attach did not end"));
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("/dev/pts/0") && text.contains("from-42"),
        "{text}"
    );
    let waited: Vec<_> = docker
        .wait_container(&created.id, None::<WaitContainerOptions>)
        .collect()
        .await;
    let code = match waited.first() {
        Some(Ok(r)) => r.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => *code,
        other => panic!("wait: {other:?}"),
    };
    assert_eq!(code, 5);
    let info = docker
        .inspect_container(
            &created.id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await;
    let info = info.unwrap_or_else(|e| panic!("inspect: {e}"));
    let state = info.state.unwrap_or_default();
    assert_eq!(state.exit_code, Some(5));
    assert_eq!(info.config.and_then(|c| c.tty), Some(true));
    docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("rm: {e}"));
    let mut actions = Vec::new();
    let gather = async {
        while let Some(Ok(e)) = events.next().await {
            let action = e.action.unwrap_or_default();
            let done = action == "destroy";
            actions.push(action);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), gather)
        .await
        .unwrap_or_else(|_| panic!("events: {actions:?}"));
    for wanted in ["create", "attach", "start", "die", "destroy"] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "missing {wanted} in {actions:?}"
        );
    }
    d.assert_no_leaks(&[created.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_exec_still_records_its_exit_code() {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    if !need_root() {
        return;
    }
    let d = Daemon::start().unwrap_or_else(|e| panic!("{e:#}"));
    let docker = client(&d);
    let id = d
        .ok(&["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    let exec = docker
        .create_exec(
            &id,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                tty: Some(true),
                cmd: Some(vec!["sh", "-c", "read x; sleep 0.5; exit 7"]),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("exec create: {e}"));
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = docker
        .start_exec(&exec.id, None)
        .await
        .unwrap_or_else(|e| panic!("exec start: {e}"))
    else {
        panic!("exec started detached");
    };
    input
        .write_all(b"\x10\x11")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    input.flush().await.unwrap_or_else(|e| panic!("{e}"));
    let drained = async { while let Some(Ok(_)) = output.next().await {} };
    tokio::time::timeout(Duration::from_secs(5), drained)
        .await
        .unwrap_or_else(|_| panic!("the exec session did not end on detach"));
    let mut code = None;
    for _ in 0..100 {
        let info = docker
            .inspect_exec(&exec.id)
            .await
            .unwrap_or_else(|e| panic!("exec inspect: {e}"));
        if info.running == Some(false) {
            code = info.exit_code;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code, Some(7));
    d.ok(&["rm", "-f", &id]);
    d.assert_no_leaks(&[id]);
}
