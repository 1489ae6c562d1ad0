//! Pure OCI and Docker formats: digests, image references, media types, manifests and configs.
