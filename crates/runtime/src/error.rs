//! The runtime's public error: one enum whose `kind()` tells callers (shim, CLI, daemon) how to react.

use crate::state::Status;

/// How a caller should treat a [`RuntimeError`] (mapped to exit codes or HTTP statuses elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// The container (or a file the spec names) does not exist.
    NotFound,
    /// A container with this id already exists.
    AlreadyExists,
    /// The container is in a state that does not allow the operation.
    Conflict,
    /// The request or the spec is invalid.
    InvalidArgument,
    /// The kernel refused an operation for lack of privilege.
    PermissionDenied,
    /// Anything else: a bug, or the kernel failing in an unexpected way.
    Internal,
}

/// Every failure of a runtime operation, naming the container, file or step involved.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No state directory for this id.
    #[error("container \"{id}\" does not exist")]
    NotFound {
        /// The container id asked for.
        id: String,
    },
    /// `create` with an id already in use.
    #[error("container \"{id}\" already exists")]
    AlreadyExists {
        /// The container id asked for.
        id: String,
    },
    /// The operation does not fit the container's current state.
    #[error("cannot {action} a container that is {status}{hint}")]
    Conflict {
        /// The container id.
        id: String,
        /// What was attempted ("start", "delete", ...).
        action: &'static str,
        /// The state it was in.
        status: Status,
        /// Extra words some callers grep for (containerd looks for "container not running").
        hint: &'static str,
    },
    /// A bad id, option or spec.
    #[error("{0}")]
    InvalidArgument(String),
    /// The container's init or exec process failed while being set up and told us why.
    #[error("{message}")]
    Child {
        /// How to treat the failure.
        kind: ErrorKind,
        /// The child's message, e.g. `exec: "nosuch": executable file not found in $PATH`.
        message: String,
    },
    /// A file-system operation of the runtime itself failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing, with the path involved.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A system call made by the runtime itself failed.
    #[error("{context}: {source}")]
    Sys {
        /// What we were doing.
        context: String,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// Creating, configuring or reading the container's cgroup failed.
    #[error("cgroup of container \"{id}\": {source}")]
    Cgroup {
        /// The container id.
        id: String,
        /// The cgroup module's error.
        #[source]
        source: crate::cgroups::CgroupError,
    },
    /// Compiling the spec's seccomp profile failed.
    #[error("seccomp profile of container \"{id}\": {source}")]
    Seccomp {
        /// The container id.
        id: String,
        /// The seccomp module's error.
        #[source]
        source: crate::seccomp::SeccompError,
    },
    /// A lifecycle hook failed.
    #[error("{hook} hook {path}: {message}")]
    Hook {
        /// Which hook list ("prestart", "poststop", ...).
        hook: &'static str,
        /// The hook's program.
        path: String,
        /// What went wrong (exit status, timeout, spawn error).
        message: String,
    },
}

impl RuntimeError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RuntimeError::NotFound { .. } => ErrorKind::NotFound,
            RuntimeError::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            RuntimeError::Conflict { .. } => ErrorKind::Conflict,
            RuntimeError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            RuntimeError::Child { kind, .. } => *kind,
            RuntimeError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                _ => ErrorKind::Internal,
            },
            RuntimeError::Sys { source, .. } => match source {
                nix::Error::EPERM | nix::Error::EACCES => ErrorKind::PermissionDenied,
                nix::Error::ENOENT => ErrorKind::NotFound,
                _ => ErrorKind::Internal,
            },
            RuntimeError::Cgroup { .. }
            | RuntimeError::Seccomp { .. }
            | RuntimeError::Hook { .. } => ErrorKind::Internal,
        }
    }

    /// Wraps an I/O error with what we were doing.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            context: context.into(),
            source,
        }
    }

    /// Wraps an errno with what we were doing.
    pub(crate) fn sys(context: impl Into<String>, source: nix::Error) -> RuntimeError {
        RuntimeError::Sys {
            context: context.into(),
            source,
        }
    }
}
