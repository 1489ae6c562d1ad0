//! Manifests, indexes and descriptors that accept both OCI and Docker schema2 documents, plus
//! the `manifest.json` of docker-save archives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ErrorKind;
use crate::digest::Digest;
use crate::media_type;
use crate::platform::Platform;

/// Why a manifest or index document was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The JSON does not have the expected shape.
    #[error("invalid {what} document: {source}")]
    Json {
        /// Which document ("manifest", "index", ...).
        what: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The document parses but has a media type berth cannot use here.
    #[error("unsupported media type {media_type:?} for {what}")]
    MediaType {
        /// Which document.
        what: &'static str,
        /// The media type found.
        media_type: String,
    },
}

impl ManifestError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

/// A content descriptor: what a blob is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes of the referenced content.
    pub size: i64,
    /// Alternate download locations (foreign layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Arbitrary metadata (e.g. `org.opencontainers.image.ref.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform of the referenced manifest (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor without urls, annotations or platform.
    pub fn new(media_type: &str, digest: Digest, size: i64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// Annotation holding the tag (or full reference) of an index entry in OCI layouts.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation containerd and Docker 25+ write with the full image name in saved layouts.
pub const ANNOTATION_CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";

/// An image manifest (OCI or Docker schema2): one config and an ordered list of layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type (required by Docker schema2, optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// Layer blobs, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
}

impl Manifest {
    /// Parses a manifest, refusing documents that declare an index media type.
    pub fn from_json(data: &[u8]) -> Result<Manifest, ManifestError> {
        let m: Manifest = serde_json::from_slice(data).map_err(|source| ManifestError::Json {
            what: "manifest",
            source,
        })?;
        if let Some(mt) = &m.media_type
            && !media_type::is_manifest(mt)
        {
            return Err(ManifestError::MediaType {
                what: "manifest",
                media_type: mt.clone(),
            });
        }
        Ok(m)
    }
}

/// An image index or Docker manifest list: one manifest per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type (required by Docker schema2, optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Index {
    /// Parses an index or manifest list, refusing documents that declare a manifest type.
    pub fn from_json(data: &[u8]) -> Result<Index, ManifestError> {
        let i: Index = serde_json::from_slice(data).map_err(|source| ManifestError::Json {
            what: "index",
            source,
        })?;
        if let Some(mt) = &i.media_type
            && !media_type::is_index(mt)
        {
            return Err(ManifestError::MediaType {
                what: "index",
                media_type: mt.clone(),
            });
        }
        Ok(i)
    }

    /// The entry for `platform`: the first manifest whose platform matches, or the only entry
    /// when entries carry no platform.
    pub fn select(&self, platform: &Platform) -> Option<&Descriptor> {
        self.manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
            .or_else(|| {
                let untagged: Vec<_> = self
                    .manifests
                    .iter()
                    .filter(|d| d.platform.is_none())
                    .collect();
                (untagged.len() == 1).then(|| untagged[0])
            })
    }
}

/// The `oci-layout` file of an OCI image layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciLayout {
    /// "1.0.0".
    #[serde(rename = "imageLayoutVersion")]
    pub image_layout_version: String,
}

/// One entry of a docker-save `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DockerSaveEntry {
    /// Path of the config file inside the archive (`<id>.json` or `blobs/sha256/<hex>`).
    pub config: String,
    /// Familiar tags (`busybox:latest`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub repo_tags: Vec<String>,
    /// Paths of the layer tars, base first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub layers: Vec<String>,
    /// The parent image id (legacy, rarely set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Descriptors of foreign layers, keyed by diff id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_sources: Option<BTreeMap<String, Descriptor>>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_docker_manifest_list() {
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[
            {{"mediaType":"{}","digest":"{D1}","size":527,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
            {{"mediaType":"{}","digest":"{D1}","size":528,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            media_type::DOCKER_MANIFEST_LIST,
            media_type::DOCKER_MANIFEST,
            media_type::DOCKER_MANIFEST
        );
        let idx = Index::from_json(doc.as_bytes()).unwrap();
        let amd = Platform::parse("linux/amd64").unwrap();
        assert_eq!(idx.select(&amd).unwrap().size, 528);
        assert!(Manifest::from_json(doc.as_bytes()).is_err());
    }

    #[test]
    fn parses_docker_and_oci_manifests() {
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{D1}","size":1}},
            "layers":[{{"mediaType":"{}","digest":"{D1}","size":2}}]}}"#,
            media_type::DOCKER_MANIFEST,
            media_type::DOCKER_CONFIG,
            media_type::DOCKER_LAYER_GZIP
        );
        let m = Manifest::from_json(doc.as_bytes()).unwrap();
        assert_eq!(m.layers.len(), 1);
        let oci = r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":1},"layers":[]}"#;
        assert!(
            Manifest::from_json(oci.as_bytes())
                .unwrap()
                .media_type
                .is_none()
        );
        assert!(Index::from_json(doc.as_bytes()).is_err());
    }

    #[test]
    fn parses_docker_save_manifest_json() {
        let doc = r#"[{"Config":"abc.json","RepoTags":null,"Layers":["x/layer.tar"]},
                      {"Config":"blobs/sha256/abc","RepoTags":["busybox:latest"],"Layers":[]}]"#;
        let v: Vec<DockerSaveEntry> = serde_json::from_str(doc).unwrap();
        assert!(v[0].repo_tags.is_empty());
        assert_eq!(v[1].repo_tags, vec!["busybox:latest"]);
    }
}
