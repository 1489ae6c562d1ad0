//! Request bodies: JSON decoded with a size limit and serde's message on failure; tarballs passed on as streams.

use std::io;

use axum::body::Body;
use berth_api::{ApiError, ByteStream};
use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;

/// The largest JSON body we read (Docker has no limit; 32 MiB is far above any real config).
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// Reads the whole body, failing with 413-like 400 when it is larger than `limit`.
async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| ApiError::invalid(format!("error reading request body: {e}")))
}

/// Decodes a JSON body; an empty body is an error (Docker answers "invalid JSON: EOF" style messages).
pub async fn json_body<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = read_limited(body, MAX_JSON_BODY).await?;
    decode_json(&bytes)
}

/// Decodes a JSON body, treating an empty (or whitespace) body as `T::default()`.
pub async fn json_body_or_default<T: DeserializeOwned + Default>(
    body: Body,
) -> Result<T, ApiError> {
    let bytes = read_limited(body, MAX_JSON_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    decode_json(&bytes)
}

/// Decodes JSON bytes with serde's message as the 400 text.
fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
}

/// Streams the body (tarballs) to the backend without buffering it.
pub fn byte_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(io::Error::other))
}
