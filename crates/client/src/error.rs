//! The client's error type: the daemon's `{"message"}` replies stay verbatim so the CLI can print them as Docker does.

use std::io;

/// Broad classes of failure, matching the daemon's error kinds so callers can branch without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object does not exist (HTTP 404).
    NotFound,
    /// The object already exists.
    AlreadyExists,
    /// The object is in a state that forbids the operation (HTTP 409).
    Conflict,
    /// The request was malformed (HTTP 400).
    InvalidArgument,
    /// Not allowed (HTTP 401/403).
    PermissionDenied,
    /// The daemon cannot be reached or is not ready (HTTP 503, connection errors).
    Unavailable,
    /// Anything else.
    Internal,
}

/// Why a request to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached.
    #[error("Cannot connect to the berth daemon at {host}. Is the berth daemon running?")]
    Connect {
        /// The host URL as the user gave it.
        host: String,
        /// The connect error.
        #[source]
        source: io::Error,
    },
    /// The daemon answered with an error status; `message` is its `{"message"}` text.
    #[error("{message}")]
    Daemon {
        /// HTTP status.
        status: u16,
        /// The daemon's message.
        message: String,
    },
    /// The host string cannot be used.
    #[error("{reason}: {host}")]
    UnsupportedHost {
        /// The host as given.
        host: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP exchange failed; the message names the root cause (hyper's own text is generic).
    #[error("error during connect: {path}: {}", with_causes(.source))]
    Http {
        /// Request path.
        path: String,
        /// The hyper error.
        #[source]
        source: hyper::Error,
    },
    /// The request could not be built (a bad header value, for instance).
    #[error("invalid request {path}: {source}")]
    Request {
        /// Request path.
        path: String,
        /// The http error.
        #[source]
        source: http::Error,
    },
    /// A reply body was not the JSON we expected.
    #[error("error decoding the reply of {path}: {source}")]
    Decode {
        /// Request path.
        path: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The daemon did not switch protocols for an attach/exec stream.
    #[error("the daemon did not upgrade the connection for {path} (HTTP {status})")]
    NotUpgraded {
        /// Request path.
        path: String,
        /// Status the daemon sent instead of 101.
        status: u16,
    },
    /// A TLS file (CA, certificate, key) could not be read or parsed.
    #[error("could not read TLS file {path}: {source}")]
    TlsFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The TLS configuration was rejected (a bad certificate or key).
    #[error("invalid TLS configuration: {source}")]
    TlsSetup {
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// The TLS handshake with the daemon failed (untrusted certificate, no client certificate, ...).
    #[error("error during connect: TLS handshake with {host} failed: {source}")]
    TlsHandshake {
        /// The host URL.
        host: String,
        /// The handshake error.
        #[source]
        source: io::Error,
    },
    /// Reading or writing a local stream failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// An error's text followed by its causes (`connection error: received fatal alert: ...`).
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

impl ClientError {
    /// The class of the failure, for callers that branch on it (e.g. "not found" while pulling on run).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Daemon { status, .. } => match status {
                404 => ErrorKind::NotFound,
                409 => ErrorKind::Conflict,
                400 => ErrorKind::InvalidArgument,
                401 | 403 => ErrorKind::PermissionDenied,
                503 => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            },
            ClientError::Connect { .. } => ErrorKind::Unavailable,
            ClientError::UnsupportedHost { .. }
            | ClientError::TlsFile { .. }
            | ClientError::TlsSetup { .. } => ErrorKind::InvalidArgument,
            ClientError::TlsHandshake { .. } => ErrorKind::PermissionDenied,
            _ => ErrorKind::Internal,
        }
    }

    /// Whether the daemon itself refused the request (Docker prints these as `Error response from daemon: ...`).
    pub fn is_daemon_error(&self) -> bool {
        matches!(self, ClientError::Daemon { .. })
    }

    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        ClientError::Io {
            context: context.into(),
            source,
        }
    }
}
