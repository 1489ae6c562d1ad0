//! Wire formats of streamed replies: Docker's 8-byte multiplexing headers, log timestamps and
//! newline-delimited JSON.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use berth_api::{BoxStream, ByteStream, LogRecord, StreamKind};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::versioning::RequestedVersion;

/// Content type of unframed container output (TTY).
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// Content type of framed container output (no TTY).
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// Content type for container output: `multiplexed-stream` when framed, except for clients older than API
/// 1.42, which Docker always told `raw-stream`.
pub fn stream_content_type(tty: bool, version: RequestedVersion) -> &'static str {
    if tty || !version.labels_multiplexed_streams() {
        RAW_STREAM
    } else {
        MULTIPLEXED_STREAM
    }
}

/// Wraps `data` in Docker's frame `[stream,0,0,0,len as big-endian u32]`, splitting chunks over 4 GiB.
pub fn frame(kind: StreamKind, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 8);
    for chunk in data.chunks(u32::MAX as usize) {
        out.put_u8(kind as u8);
        out.put_bytes(0, 3);
        // chunks() bounds the length to u32::MAX, so the conversion cannot fail.
        out.put_u32(u32::try_from(chunk.len()).unwrap_or(u32::MAX));
        out.put_slice(chunk);
    }
    out.freeze()
}

/// Encodes container output for the wire: raw with a TTY, framed otherwise.
pub fn encode_output(tty: bool, kind: StreamKind, data: &[u8]) -> Bytes {
    if tty {
        Bytes::copy_from_slice(data)
    } else {
        frame(kind, data)
    }
}

/// Docker's fixed-width RFC 3339 nano timestamp for log lines (`2006-01-02T15:04:05.000000000Z`).
pub fn log_timestamp(ts: &chrono::DateTime<chrono::Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// Encodes one log record: optional timestamp prefix, then framed unless the container has a TTY.
pub fn encode_log_record(tty: bool, timestamps: bool, record: &LogRecord) -> Bytes {
    if !timestamps {
        return encode_output(tty, record.kind, &record.data);
    }
    let mut line = log_timestamp(&record.timestamp).into_bytes();
    line.push(b' ');
    line.extend_from_slice(&record.data);
    encode_output(tty, record.kind, &line)
}

/// One JSON value followed by a newline, as Go's `json.Encoder` writes it.
pub fn json_line<T: Serialize>(value: &T) -> Bytes {
    let mut out = serde_json::to_vec(value).unwrap_or_else(|e| {
        serde_json::to_vec(&serde_json::json!({ "error": e.to_string() })).unwrap_or_default()
    });
    out.push(b'\n');
    Bytes::from(out)
}

/// A 200 reply whose body is a stream of newline-delimited JSON values.
pub fn json_stream_response<T: Serialize + Send + 'static>(items: BoxStream<T>) -> Response {
    let body = items.map(|item| Ok::<_, Infallible>(json_line(&item)));
    streaming_response(StatusCode::OK, "application/json", Body::from_stream(body))
}

/// A 200 reply streaming raw bytes (tarballs).
pub fn bytes_response(content_type: &'static str, bytes: ByteStream) -> Response {
    streaming_response(StatusCode::OK, content_type, Body::from_stream(bytes))
}

/// A reply with a content type and a streamed body.
pub fn streaming_response(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_docker_headers() {
        let f = frame(StreamKind::Stderr, b"hi");
        assert_eq!(&f[..], &[2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(&encode_output(true, StreamKind::Stderr, b"hi")[..], b"hi");
    }

    #[test]
    fn log_timestamps_are_fixed_width() {
        let ts = chrono::DateTime::from_timestamp(1_700_000_000, 5_000).unwrap();
        assert_eq!(log_timestamp(&ts), "2023-11-14T22:13:20.000005000Z");
        let rec = LogRecord {
            kind: StreamKind::Stdout,
            timestamp: ts,
            data: Bytes::from_static(b"x\n"),
        };
        assert_eq!(
            &encode_log_record(true, true, &rec)[..],
            b"2023-11-14T22:13:20.000005000Z x\n"
        );
    }
}
