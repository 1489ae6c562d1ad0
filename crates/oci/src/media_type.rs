//! Media types of OCI and Docker schema2 documents and layers, so every crate names them the
//! same way and recognizes both families.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable (foreign) uncompressed layer.
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable (foreign) gzip layer.
pub const OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable (foreign) zstd layer.
pub const OCI_LAYER_NONDIST_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
/// OCI empty descriptor (artifacts).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Docker schema2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker uncompressed layer (seen in some docker-save derived manifests).
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign layer (Windows base layers).
pub const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// How a layer's bytes are compressed, as its media type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// Whether `mt` names an image manifest (OCI or Docker).
pub fn is_manifest(mt: &str) -> bool {
    mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
}

/// Whether `mt` names an index or manifest list.
pub fn is_index(mt: &str) -> bool {
    mt == OCI_INDEX || mt == DOCKER_MANIFEST_LIST
}

/// Whether `mt` names an image config.
pub fn is_config(mt: &str) -> bool {
    mt == OCI_CONFIG || mt == DOCKER_CONFIG
}

/// Whether `mt` names a foreign (non-distributable) layer that registries may not serve.
pub fn is_foreign_layer(mt: &str) -> bool {
    matches!(
        mt,
        OCI_LAYER_NONDIST_TAR
            | OCI_LAYER_NONDIST_GZIP
            | OCI_LAYER_NONDIST_ZSTD
            | DOCKER_LAYER_FOREIGN
    )
}

/// The compression of a layer media type, or `None` when `mt` is not a layer type.
pub fn layer_compression(mt: &str) -> Option<LayerCompression> {
    match mt {
        OCI_LAYER_TAR | OCI_LAYER_NONDIST_TAR | DOCKER_LAYER_TAR => Some(LayerCompression::None),
        OCI_LAYER_GZIP | OCI_LAYER_NONDIST_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN => {
            Some(LayerCompression::Gzip)
        }
        OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD => Some(LayerCompression::Zstd),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_both_families() {
        assert!(is_manifest(DOCKER_MANIFEST) && is_manifest(OCI_MANIFEST));
        assert!(is_index(DOCKER_MANIFEST_LIST) && is_index(OCI_INDEX));
        assert!(is_config(DOCKER_CONFIG) && !is_config(OCI_MANIFEST));
        assert_eq!(
            layer_compression(DOCKER_LAYER_GZIP),
            Some(LayerCompression::Gzip)
        );
        assert_eq!(
            layer_compression(OCI_LAYER_ZSTD),
            Some(LayerCompression::Zstd)
        );
        assert_eq!(
            layer_compression(OCI_LAYER_TAR),
            Some(LayerCompression::None)
        );
        assert_eq!(layer_compression(OCI_CONFIG), None);
        assert!(is_foreign_layer(DOCKER_LAYER_FOREIGN) && !is_foreign_layer(OCI_LAYER_GZIP));
    }
}
