//! The client against a scripted HTTP/1.1 peer on a real unix socket: version negotiation, error bodies, JSON
//! streams and hijacked multiplexed streams, byte for byte as Docker's daemon sends them.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_client::frames::encode_frame;
use berth_client::{Client, ClientError, ErrorKind, FrameDecoder, Host};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// A peer that answers each connection with the next canned reply and records request heads.
struct Peer {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn read_head(stream: &mut tokio::net::UnixStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

impl Peer {
    fn start(replies: Vec<Vec<u8>>) -> Peer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("d.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            for reply in replies {
                let (mut stream, _) = listener.accept().await.unwrap();
                let head = read_head(&mut stream).await;
                log.lock().unwrap().push(head);
                stream.write_all(&reply).await.unwrap();
                // Echo what the client sends after the reply (hijacked stdin), until it half-closes.
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest).await;
                let _ = stream.write_all(&encode_frame(1, &rest)).await;
                let _ = stream.shutdown().await;
            }
        });
        Peer {
            _dir: dir,
            socket,
            seen,
        }
    }

    fn client(&self) -> Client {
        Client::new(Host::parse(&format!("unix://{}", self.socket.display())).unwrap())
    }

    fn request_lines(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.lines().next().unwrap_or_default().to_string())
            .collect()
    }
}

fn reply(status: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ping(version: &str) -> Vec<u8> {
    reply(
        "200 OK",
        &format!("Api-Version: {version}\r\nContent-Type: text/plain\r\n"),
        "OK",
    )
}

#[tokio::test]
async fn negotiates_down_to_the_daemons_version() {
    let peer = Peer::start(vec![
        ping("1.43"),
        reply("200 OK", "Content-Type: application/json\r\n", "[]"),
    ]);
    let client = peer.client();
    let list = client.list_containers(&Default::default()).await.unwrap();
    assert!(list.is_empty());
    assert_eq!(
        peer.request_lines(),
        ["GET /_ping HTTP/1.1", "GET /v1.43/containers/json HTTP/1.1"]
    );
}

#[tokio::test]
async fn daemon_messages_become_typed_errors() {
    let peer = Peer::start(vec![
        ping("1.51"),
        reply(
            "404 Not Found",
            "Content-Type: application/json\r\n",
            r#"{"message":"No such container: x"}"#,
        ),
    ]);
    let err = peer.client().start_container("x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.is_daemon_error());
    assert_eq!(err.to_string(), "No such container: x");
    assert_eq!(
        peer.request_lines()[1],
        "POST /v1.51/containers/x/start HTTP/1.1"
    );
}

#[tokio::test]
async fn connection_errors_name_the_host() {
    let client = Client::new(Host::parse("unix:///nonexistent/berth-client.sock").unwrap());
    let err = client.start_container("x").await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }));
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        err.to_string(),
        "Cannot connect to the berth daemon at unix:///nonexistent/berth-client.sock. Is the berth daemon running?"
    );
}

#[tokio::test]
async fn json_streams_decode_as_they_arrive() {
    let body = "{\"status\":\"a\"}\r\n{\"status\":\"b\",\"id\":\"x\"}\r\n";
    let peer = Peer::start(vec![
        ping("1.51"),
        reply("200 OK", "Content-Type: application/json\r\n", body),
    ]);
    let client = peer.client();
    let resp = client
        .events(None, None, &Default::default())
        .await
        .unwrap();
    let values: Vec<serde_json::Value> = berth_client::stream::json_stream("/events", resp)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(values.len(), 2);
    assert_eq!(values[1]["id"], "x");
}

#[tokio::test]
async fn hijacked_attach_carries_frames_both_ways() {
    let mut upgrade = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
    upgrade.extend(encode_frame(1, b"out\n"));
    upgrade.extend(encode_frame(2, b"err\n"));
    let peer = Peer::start(vec![ping("1.51"), upgrade]);
    let client = peer.client();
    let query = berth_client::containers::AttachQuery {
        stdin: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut io = client.attach_container("c1", &query).await.unwrap();
    io.write_all(b"typed").await.unwrap();
    io.shutdown().await.unwrap();
    let mut all = Vec::new();
    io.read_to_end(&mut all).await.unwrap();
    let mut decoder = FrameDecoder::new();
    decoder.push(&all);
    let frames: Vec<_> = std::iter::from_fn(|| decoder.next_frame()).collect();
    let got: Vec<(u8, &[u8])> = frames.iter().map(|f| (f.stream, &f.data[..])).collect();
    assert_eq!(
        got,
        [(1, &b"out\n"[..]), (2, &b"err\n"[..]), (1, &b"typed"[..])]
    );
    let heads = peer.seen.lock().unwrap().clone();
    assert!(
        heads[1].starts_with(
            "POST /v1.51/containers/c1/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1"
        ),
        "{}",
        heads[1]
    );
    let lower = heads[1].to_ascii_lowercase();
    assert!(
        lower.contains("upgrade: tcp") && lower.contains("connection: upgrade"),
        "{}",
        heads[1]
    );
}
