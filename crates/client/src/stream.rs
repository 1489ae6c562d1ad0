//! Streaming replies: raw byte chunks (export, save, archive) and concatenated JSON values (events, pull, load,
//! stats), decoded as they arrive.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use crate::error::ClientError;

/// The reply body as a stream of chunks.
pub fn byte_stream(
    path: &str,
    resp: Response<Incoming>,
) -> impl Stream<Item = Result<Bytes, ClientError>> + Send + use<> {
    let path = path.to_string();
    futures_util::stream::unfold(Some(resp.into_body()), move |body| {
        let path = path.clone();
        async move {
            let mut body = body?;
            loop {
                match body.frame().await {
                    None => return None,
                    Some(Err(source)) => {
                        return Some((Err(ClientError::Http { path, source }), None));
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            return Some((Ok(data), Some(body)));
                        }
                    }
                }
            }
        }
    })
}

/// Splits a byte stream into JSON values; Docker writes them back to back, usually one per line.
#[derive(Debug, Default)]
pub struct JsonSplitter {
    buf: BytesMut,
}

impl JsonSplitter {
    /// Appends bytes and returns every complete value now available.
    pub fn push<T: DeserializeOwned>(&mut self, data: &[u8]) -> Result<Vec<T>, serde_json::Error> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut consumed = 0;
        let mut iter = serde_json::Deserializer::from_slice(&self.buf).into_iter::<T>();
        loop {
            match iter.next() {
                Some(Ok(v)) => {
                    out.push(v);
                    consumed = iter.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(e)) => return Err(e),
                None => {
                    consumed = iter.byte_offset();
                    break;
                }
            }
        }
        let _ = self.buf.split_to(consumed);
        Ok(out)
    }
}

/// The reply body as a stream of decoded JSON values.
pub fn json_stream<T: DeserializeOwned + Send + 'static>(
    path: &str,
    resp: Response<Incoming>,
) -> impl Stream<Item = Result<T, ClientError>> + Send + use<T> {
    let path = path.to_string();
    let bytes = Box::pin(byte_stream(&path, resp));
    let state = (bytes, JsonSplitter::default(), VecDeque::<T>::new(), path);
    futures_util::stream::unfold(Some(state), |state| async move {
        let (mut bytes, mut splitter, mut ready, path) = state?;
        loop {
            if let Some(v) = ready.pop_front() {
                return Some((Ok(v), Some((bytes, splitter, ready, path))));
            }
            use futures_util::StreamExt;
            match bytes.next().await? {
                Err(e) => return Some((Err(e), None)),
                Ok(chunk) => match splitter.push::<T>(&chunk) {
                    Ok(values) => ready.extend(values),
                    Err(source) => return Some((Err(ClientError::Decode { path, source }), None)),
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_values_across_chunks() {
        let mut s = JsonSplitter::default();
        let a: Vec<serde_json::Value> = s
            .push(
                br#"{"status":"a"}
{"stat"#,
            )
            .unwrap();
        assert_eq!(a.len(), 1);
        let b: Vec<serde_json::Value> = s
            .push(
                br#"us":"b"}{"status":"c"}
"#,
            )
            .unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[1]["status"], "c");
        assert!(s.push::<serde_json::Value>(b"}").is_err());
    }
}
