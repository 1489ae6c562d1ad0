//! The one error type every backend call returns, so the server can map it to an HTTP status in one place.

use serde::{Deserialize, Serialize};

/// What went wrong, coarsely: the server turns this into the HTTP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The object (container, image, exec, ...) does not exist: 404.
    NotFound,
    /// The object already exists (a name in use): 409.
    AlreadyExists,
    /// The object is in the wrong state for the operation: 409.
    Conflict,
    /// The request is malformed or asks for something impossible: 400.
    InvalidArgument,
    /// The caller may not do this: 403.
    PermissionDenied,
    /// A dependency (registry, shim, builder) is not available right now: 503.
    Unavailable,
    /// A bug or an unexpected failure inside the daemon: 500.
    Internal,
    /// Nothing to do, e.g. starting a running container: 304.
    NotModified,
    /// The endpoint exists but this daemon does not implement it yet: 501.
    NotImplemented,
}

impl ErrorKind {
    /// The HTTP status code Docker answers with for this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::AlreadyExists | ErrorKind::Conflict => 409,
            ErrorKind::InvalidArgument => 400,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
            ErrorKind::NotModified => 304,
            ErrorKind::NotImplemented => 501,
        }
    }
}

/// An error as the Engine API reports it: a kind (the status code) and Docker's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Which HTTP status this becomes.
    pub kind: ErrorKind,
    /// The text clients show to users, worded as Docker words it.
    pub message: String,
}

impl ApiError {
    /// Builds an error of any kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// The kind, for callers that branch on it.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// A 404 with a free-form message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A 409 for a wrong state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// A 400 for bad input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// A 500 for unexpected failures.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A 503 when a dependency is missing.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// A 501 for endpoints this daemon does not implement yet.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }

    /// A 304 for operations with nothing to do.
    pub fn not_modified() -> Self {
        Self::new(ErrorKind::NotModified, "")
    }

    /// Docker's "No such container: x".
    pub fn no_such_container(id: &str) -> Self {
        Self::not_found(format!("No such container: {id}"))
    }

    /// Docker's "No such image: x".
    pub fn no_such_image(name: &str) -> Self {
        Self::not_found(format!("No such image: {name}"))
    }

    /// Docker's "No such exec instance: x".
    pub fn no_such_exec(id: &str) -> Self {
        Self::not_found(format!("No such exec instance: {id}"))
    }

    /// Docker's message when a container name is taken.
    pub fn name_in_use(name: &str, by_id: &str) -> Self {
        let name = name.trim_start_matches('/');
        Self::new(
            ErrorKind::AlreadyExists,
            format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{by_id}\". You have to remove (or rename) that container to be able to reuse that name."
            ),
        )
    }

    /// Docker's message when removing a running container without force.
    pub fn remove_running(id: &str) -> Self {
        Self::conflict(format!(
            "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
        ))
    }

    /// Docker's message for a container that is not running (exec, attach, kill, pause).
    pub fn not_running(id: &str) -> Self {
        Self::conflict(format!("Container {id} is not running"))
    }

    /// Docker's message for a container that is paused.
    pub fn paused(id: &str) -> Self {
        Self::conflict(format!(
            "Container {id} is paused, unpause the container before stopping or killing"
        ))
    }
}

/// The JSON body of every error reply: `{"message":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error text.
    pub message: String,
}

impl From<&ApiError> for ErrorBody {
    fn from(e: &ApiError) -> Self {
        ErrorBody {
            message: e.message.clone(),
        }
    }
}

/// Results of backend calls.
pub type ApiResult<T> = Result<T, ApiError>;
