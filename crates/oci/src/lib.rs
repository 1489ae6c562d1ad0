//! Pure OCI and Docker formats: digests, image references, media types, manifests and configs.
//!
//! Everything here is data and parsing; no file or network I/O, so every other berth crate can
//! share one definition of what a digest, a reference or an image config is.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
pub mod digest;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod reference;

pub use config::{ContainerConfig, HealthConfig, History, ImageConfig, RootFs};
pub use digest::{Algorithm, Digest, DigestError, Digester};
pub use manifest::{Descriptor, Index, Manifest, ManifestError};
pub use platform::Platform;
pub use reference::{Reference, ReferenceError};

/// The `oci-spec` image types (manifests, indexes, configs) for callers that want the full OCI
/// model; berth's own [`Manifest`] and [`Index`] also accept Docker's schema2 documents.
pub use oci_spec::image as spec;

/// Broad classes of errors, shared by every berth crate so the server can map them to HTTP
/// statuses in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The named thing does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The operation conflicts with the current state (in use, ambiguous, ...).
    Conflict,
    /// The caller gave a malformed or unacceptable argument.
    InvalidArgument,
    /// The operation is not allowed.
    PermissionDenied,
    /// A resource the operation needs is not available right now.
    Unavailable,
    /// Something broke inside berth or the host.
    Internal,
}
