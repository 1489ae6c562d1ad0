//! Streaming values backends hand to the server: container stdio, log records, progress messages and raw bytes.
//! The server owns every wire format (frame headers, timestamps, newline-delimited JSON); backends give data.

use std::io;

use bytes::Bytes;
use futures_util::stream::BoxStream as FuturesBoxStream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A boxed, sendable stream of `T` with no borrowed data.
pub type BoxStream<T> = FuturesBoxStream<'static, T>;

/// Raw bytes (tarballs in and out); an `Err` aborts the transfer.
pub type ByteStream = BoxStream<Result<Bytes, io::Error>>;

/// Turns a channel receiver into a stream, the easiest way for a backend to produce one of these streams.
pub fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> BoxStream<T> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// Which standard stream bytes came from; the number is the frame header's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// Standard input (only seen in logs of some drivers).
    Stdin = 0,
    /// Standard output.
    Stdout = 1,
    /// Standard error.
    Stderr = 2,
}

/// A piece of container output. With a TTY everything is `Stdout` and the server writes it unframed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    /// Where it came from.
    pub kind: StreamKind,
    /// The bytes.
    pub data: Bytes,
}

/// What attach and exec start return: where to write stdin and the output to forward.
pub struct AttachedStreams {
    /// Stdin sink when stdin was asked for. The server drops it when the client's stdin ends: EOF (half-close)
    /// or the detach key sequence, which the server strips. Docker's policy on that, for the backend to apply:
    /// with `StdinOnce` and no TTY close the process's stdin and keep the output going; otherwise end
    /// this session's output (the process keeps its stdin).
    pub stdin: Option<mpsc::Sender<Bytes>>,
    /// Output until the process ends or the session is over; the end of this stream ends the connection.
    pub output: BoxStream<OutputChunk>,
    /// Whether the process has a TTY: the server then sends raw bytes instead of multiplexed frames.
    pub tty: bool,
}

impl std::fmt::Debug for AttachedStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachedStreams")
            .field("stdin", &self.stdin.is_some())
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

/// One log line (or partial line) as the log driver recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Stream it was written to.
    pub kind: StreamKind,
    /// When it was written.
    pub timestamp: chrono::DateTime<chrono::Utc>,
    /// The bytes, including the trailing newline if there was one.
    pub data: Bytes,
}

/// What the logs endpoint gets from the backend.
pub struct LogStream {
    /// Whether the container has a TTY (then output is not framed).
    pub tty: bool,
    /// Records in order; ends when not following, or when following and the container has exited.
    pub records: BoxStream<LogRecord>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream")
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

/// Progress numbers of a [`JsonMessage`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressDetail {
    /// Bytes done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<i64>,
    /// Bytes in total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// The error part of a [`JsonMessage`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonError {
    /// Numeric code, often absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Text.
    pub message: String,
}

/// One line of the JSON progress streams of pull, push, load, import and build (Docker's `jsonmessage`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonMessage {
    /// Build output text (`Step 1/3 : FROM busybox\n`) or load text (`Loaded image: x\n`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Status text (`Pulling fs layer`, `Download complete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Progress numbers.
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// Rendered progress bar (old clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Layer or object id the status is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Failure; clients stop and print it.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<JsonError>,
    /// Deprecated copy of the error text, still read by clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Extra structured data (`{"ID":"sha256:..."}` after a build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// A message carrying build/load output text.
    pub fn stream(text: impl Into<String>) -> Self {
        JsonMessage {
            stream: Some(text.into()),
            ..Default::default()
        }
    }

    /// A status line, optionally about an id.
    pub fn status(status: impl Into<String>, id: Option<String>) -> Self {
        JsonMessage {
            status: Some(status.into()),
            id,
            ..Default::default()
        }
    }

    /// An error line; clients stop at it and show the message.
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        JsonMessage {
            error_detail: Some(JsonError {
                code: None,
                message: message.clone(),
            }),
            error: Some(message),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_message_shapes() {
        let s =
            serde_json::to_string(&JsonMessage::stream("Loaded image: busybox:latest\n")).unwrap();
        assert_eq!(s, r#"{"stream":"Loaded image: busybox:latest\n"}"#);
        let s = serde_json::to_string(&JsonMessage::error("boom")).unwrap();
        assert_eq!(s, r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#);
    }

    #[tokio::test]
    async fn receiver_stream_ends_when_senders_drop() {
        use futures_util::StreamExt;
        let (tx, rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        drop(tx);
        let got: Vec<i32> = receiver_stream(rx).collect().await;
        assert_eq!(got, vec![1]);
    }
}
