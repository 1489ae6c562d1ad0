//! The registry client's errors, worded as Docker words them where users grep for them
//! (`unauthorized: authentication required`, `manifest unknown`).

use berth_oci::{Digest, ErrorKind};

use super::credentials::CredentialsError;

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed (after retries where they apply).
    #[error("{op} {url}: {source}")]
    Http {
        /// What was being done.
        op: &'static str,
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry refused the credentials or requires some.
    #[error("{message}")]
    Unauthorized {
        /// The registry.
        registry: String,
        /// Docker-style text, e.g. `unauthorized: authentication required`.
        message: String,
    },
    /// The registry does not have it.
    #[error("{message}")]
    NotFound {
        /// Docker-style text, e.g. `manifest for x:tag not found: manifest unknown`.
        message: String,
    },
    /// The registry answered with an error status.
    #[error("{op} {url}: {status}: {message}")]
    Status {
        /// What was being done.
        op: &'static str,
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error code and message, or the body.
        message: String,
    },
    /// Downloaded or uploaded content does not match its digest.
    #[error("digest mismatch for {digest}: content hashes to {actual}")]
    DigestMismatch {
        /// The expected digest.
        digest: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// A blob ended early or ran long.
    #[error("blob {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// The descriptor's size.
        expected: u64,
        /// What arrived.
        actual: u64,
    },
    /// A blob transfer kept breaking until the retries ran out.
    #[error("downloading {digest}: received {received} of {total} bytes: {source}")]
    Transfer {
        /// The blob.
        digest: Digest,
        /// Bytes received before giving up.
        received: u64,
        /// The blob's size.
        total: u64,
        /// The last failure.
        #[source]
        source: Box<ClientError>,
    },
    /// The registry served something berth cannot use.
    #[error("unsupported media type {media_type} for {what}")]
    UnsupportedMediaType {
        /// What was fetched.
        what: String,
        /// The media type.
        media_type: String,
    },
    /// A manifest list has no entry for the platform.
    #[error("no matching manifest for {platform} in the manifest list entries")]
    NoMatchingPlatform {
        /// The requested platform.
        platform: String,
    },
    /// A manifest or config is malformed.
    #[error("{what}: {source}")]
    Format {
        /// What was being parsed.
        what: String,
        /// The parse error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The image store failed.
    #[error(transparent)]
    Store(#[from] berth_image::StoreError),
    /// The content store failed.
    #[error(transparent)]
    Content(#[from] berth_image::ContentError),
    /// TLS could not be configured.
    #[error("TLS setup for {host}: {source}")]
    Tls {
        /// The registry.
        host: String,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },
    /// A client certificate in the certs directory is unusable (Docker's wording for a
    /// missing half of a pair).
    #[error("client certificate for {host}: {message}")]
    ClientCert {
        /// The registry.
        host: String,
        /// What is wrong, naming the files.
        message: String,
    },
    /// A local file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

impl ClientError {
    /// The error class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Http { .. } | ClientError::Transfer { .. } => ErrorKind::Unavailable,
            ClientError::Unauthorized { .. } => ErrorKind::PermissionDenied,
            ClientError::NotFound { .. } => ErrorKind::NotFound,
            ClientError::Status { status, .. } => match status {
                401 | 403 => ErrorKind::PermissionDenied,
                404 => ErrorKind::NotFound,
                400..=499 => ErrorKind::InvalidArgument,
                _ => ErrorKind::Unavailable,
            },
            ClientError::DigestMismatch { .. }
            | ClientError::SizeMismatch { .. }
            | ClientError::Format { .. }
            | ClientError::UnsupportedMediaType { .. } => ErrorKind::InvalidArgument,
            ClientError::NoMatchingPlatform { .. } => ErrorKind::NotFound,
            ClientError::Credentials(e) => e.kind(),
            ClientError::Store(e) => e.kind(),
            ClientError::Content(e) => e.kind(),
            ClientError::Tls { .. } | ClientError::ClientCert { .. } => ErrorKind::InvalidArgument,
            ClientError::Io { .. } | ClientError::Task(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn format(
        what: impl Into<String>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> ClientError {
        ClientError::Format {
            what: what.into(),
            source: Box::new(e),
        }
    }
}

/// Turns a registry error body into `code: message` text (`unauthorized: authentication
/// required`), as Docker prints it.
pub(crate) fn describe_error_body(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<One>,
    }
    #[derive(serde::Deserialize)]
    struct One {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|x| format!("{}: {}", x.code.to_lowercase().replace('_', " "), x.message))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::from_utf8_lossy(&body[..body.len().min(512)])
            .trim()
            .to_string(),
    }
}
