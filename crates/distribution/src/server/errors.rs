//! The distribution spec's error codes and JSON error body, so every failure the registry
//! returns has the shape clients (docker, skopeo, berth) parse.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error code from the OCI distribution spec (plus the ones Docker's registry adds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The blob is not in the repository.
    BlobUnknown,
    /// The upload failed or its state is invalid.
    BlobUploadInvalid,
    /// The upload session does not exist.
    BlobUploadUnknown,
    /// The content does not match the digest it was sent with.
    DigestInvalid,
    /// A blob the manifest references is missing.
    ManifestBlobUnknown,
    /// The manifest is malformed or unacceptable.
    ManifestInvalid,
    /// The manifest is not in the repository.
    ManifestUnknown,
    /// The repository name is malformed.
    NameInvalid,
    /// The repository does not exist.
    NameUnknown,
    /// Content length or range does not match.
    SizeInvalid,
    /// Authentication is required.
    Unauthorized,
    /// The operation is not supported.
    Unsupported,
}

impl Code {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Unsupported => "UNSUPPORTED",
        }
    }

    fn default_status(self) -> StatusCode {
        match self {
            Code::BlobUnknown | Code::BlobUploadUnknown | Code::ManifestUnknown => {
                StatusCode::NOT_FOUND
            }
            Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// One failed request: a spec code, a message, and the HTTP status to send.
#[derive(Debug)]
pub struct ApiError {
    /// The spec code.
    pub code: Code,
    /// Human-readable detail.
    pub message: String,
    /// HTTP status.
    pub status: StatusCode,
}

impl ApiError {
    /// An error with the code's usual status.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status: code.default_status(),
        }
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// A storage failure the client cannot fix.
    pub fn internal(err: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %err, "registry storage error");
        ApiError {
            code: Code::BlobUploadInvalid,
            message: format!("internal error: {err}"),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{"code": self.code.as_str(), "message": self.message, "detail": null}]
        });
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}
