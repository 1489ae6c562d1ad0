//! `docker load` / `docker save`: docker-save tarballs (old and Docker 25+ layouts) and OCI
//! image layouts in, docker-save-that-is-also-an-OCI-layout out, streamed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};

use berth_oci::manifest::{
    ANNOTATION_CONTAINERD_IMAGE_NAME, ANNOTATION_REF_NAME, DockerSaveEntry, OciLayout,
};
use berth_oci::{Descriptor, Digest, ImageConfig, Index, Manifest, Reference, media_type};

use crate::compression::decompress;
use crate::store::{Store, StoreError, io_err};

/// Small archive files are read whole; anything bigger than this is not a manifest.
pub(crate) const MAX_METADATA_SIZE: u64 = 64 << 20;

/// An image a load created or updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The image id.
    pub id: Digest,
    /// The references the archive gave it.
    pub refs: Vec<Reference>,
}

/// An invalid-archive error with `reason`.
pub(crate) fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::InvalidArchive {
        reason: reason.into(),
    }
}

/// Normalizes an archive path (`./a/../b/` -> `b`).
pub(crate) fn clean_archive_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

impl Store {
    /// Loads every image of a docker-save tarball or OCI image layout tar (plain, gzip or
    /// zstd compressed, like `docker load`) streamed from `reader`; layers already present are
    /// not unpacked again.
    pub fn load<R: Read>(&self, reader: R) -> Result<Vec<LoadedImage>, StoreError> {
        self.load_streaming(reader)
    }

    /// Writes the images `names` name as a docker-save tarball that is also an OCI image layout
    /// (Docker 25+'s format: blobs/sha256, index.json, manifest.json, oci-layout, repositories).
    /// A name that is a tag saves that tag; an id saves every tag of the image.
    pub fn save<W: Write>(&self, names: &[&str], w: W) -> Result<W, StoreError> {
        let mut order: Vec<Digest> = Vec::new();
        let mut tags: HashMap<Digest, Vec<Reference>> = HashMap::new();
        for n in names {
            let (img, by_ref) = self.resolve_with_ref(n)?;
            let t = tags.entry(img.id.clone()).or_default();
            if !order.contains(&img.id) {
                order.push(img.id.clone());
            }
            match by_ref {
                Some(r) if r.digest().is_none() => t.push(r),
                Some(_) => {}
                None => t.extend(img.repo_tags.iter().cloned()),
            }
        }
        let mut out = ArchiveWriter::new(w);
        let mut images = Vec::new();
        for id in &order {
            let img = self.image_by_id(id)?;
            let mut layers = Vec::new();
            for l in self.image_layers(&img)? {
                if !out.has(&l.diff_id) {
                    let blob = l.blob.clone().ok_or_else(|| {
                        invalid(format!("layer {} has no stored blob", l.diff_id))
                    })?;
                    let file = self.open_blob(&blob.digest)?.reader;
                    let path = self.content.blob_path(&blob.digest);
                    let (_, reader) = decompress(io::BufReader::with_capacity(1 << 20, file))
                        .map_err(io_err("read", &path))?;
                    out.add_blob(&l.diff_id, l.diff_size, reader)?;
                }
                layers.push((l.diff_id.clone(), l.diff_size));
            }
            let mut t = tags.remove(id).unwrap_or_default();
            t.dedup();
            images.push(SaveImage {
                config: img.config_bytes.clone(),
                tags: t,
                layers,
            });
        }
        out.finish(&images)
    }
}

/// Parses an image config, naming its digest in the error.
pub(crate) fn parse_config(digest: &Digest, data: &[u8]) -> Result<ImageConfig, StoreError> {
    ImageConfig::from_json(data).map_err(|source| StoreError::Config {
        digest: digest.clone(),
        source,
    })
}

/// The name an OCI layout index entry gives its image.
pub(crate) fn descriptor_name(d: &Descriptor) -> Option<Reference> {
    if let Some(n) = d.annotation(ANNOTATION_CONTAINERD_IMAGE_NAME)
        && let Ok(r) = Reference::parse_normalized_tagged(n)
    {
        return Some(r);
    }
    let n = d.annotation(ANNOTATION_REF_NAME)?;
    if n.contains('/') || n.contains(':') {
        return Reference::parse_normalized_tagged(n).ok();
    }
    None
}

/// One image to write into a docker-save archive.
pub struct SaveImage {
    /// Config bytes (their digest is the image id).
    pub config: Vec<u8>,
    /// Tags to record.
    pub tags: Vec<Reference>,
    /// Uncompressed layers (diff id, size), base first; their blobs must have been added.
    pub layers: Vec<(Digest, u64)>,
}

/// Writes docker-save / OCI layout archives: blobs first, then the index and manifests.
pub struct ArchiveWriter<W: Write> {
    tar: tar::Builder<W>,
    written: HashSet<Digest>,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive on `w`.
    pub fn new(w: W) -> ArchiveWriter<W> {
        ArchiveWriter {
            tar: tar::Builder::new(w),
            written: HashSet::new(),
        }
    }

    /// Whether the blob was written already.
    pub fn has(&self, d: &Digest) -> bool {
        self.written.contains(d)
    }

    fn write_err(e: io::Error) -> StoreError {
        StoreError::Io {
            op: "write archive",
            path: "-".into(),
            source: e,
        }
    }

    fn header(size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h
    }

    fn add_file(&mut self, path: &str, data: &[u8]) -> Result<(), StoreError> {
        let mut h = Self::header(data.len() as u64, tar::EntryType::Regular, 0o644);
        self.tar
            .append_data(&mut h, path, data)
            .map_err(Self::write_err)
    }

    /// Adds `blobs/sha256/<hex>` with exactly `size` bytes from `r` (checked).
    pub fn add_blob<R: Read>(
        &mut self,
        digest: &Digest,
        size: u64,
        r: R,
    ) -> Result<(), StoreError> {
        if self.written.is_empty() {
            for d in ["blobs/", "blobs/sha256/"] {
                let mut h = Self::header(0, tar::EntryType::Directory, 0o755);
                self.tar
                    .append_data(&mut h, d, io::empty())
                    .map_err(Self::write_err)?;
            }
        }
        let mut h = Self::header(size, tar::EntryType::Regular, 0o644);
        let mut counted = r.take(size);
        self.tar
            .append_data(
                &mut h,
                format!("blobs/sha256/{}", digest.hex()),
                &mut counted,
            )
            .map_err(Self::write_err)?;
        if counted.limit() != 0 {
            return Err(invalid(format!(
                "blob {digest} is shorter than its recorded size {size}"
            )));
        }
        self.written.insert(digest.clone());
        Ok(())
    }

    fn add_json_blob(&mut self, data: &[u8]) -> Result<Digest, StoreError> {
        let d = Digest::sha256_of(data);
        if !self.has(&d) {
            self.add_blob(&d, data.len() as u64, data)?;
        }
        Ok(d)
    }

    /// Writes configs, manifests, index.json, manifest.json, oci-layout and repositories.
    pub fn finish(mut self, images: &[SaveImage]) -> Result<W, StoreError> {
        let mut index = Index {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_string()),
            manifests: Vec::new(),
            annotations: None,
        };
        let mut save_entries = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for img in images {
            let config = self.add_json_blob(&img.config)?;
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(media_type::OCI_MANIFEST.to_string()),
                config: Descriptor::new(
                    media_type::OCI_CONFIG,
                    config.clone(),
                    img.config.len() as i64,
                ),
                layers: img
                    .layers
                    .iter()
                    .map(|(d, s)| Descriptor::new(media_type::OCI_LAYER_TAR, d.clone(), *s as i64))
                    .collect(),
                annotations: None,
                artifact_type: None,
                subject: None,
            };
            let mbytes = serde_json::to_vec(&manifest).map_err(|e| invalid(e.to_string()))?;
            let mdigest = self.add_json_blob(&mbytes)?;
            let mdesc = Descriptor::new(media_type::OCI_MANIFEST, mdigest, mbytes.len() as i64);
            if img.tags.is_empty() {
                index.manifests.push(mdesc.clone());
            }
            for t in &img.tags {
                let mut d = mdesc.clone();
                let mut ann = BTreeMap::new();
                ann.insert(ANNOTATION_CONTAINERD_IMAGE_NAME.to_string(), t.to_string());
                ann.insert(
                    ANNOTATION_REF_NAME.to_string(),
                    t.tag().unwrap_or("latest").to_string(),
                );
                d.annotations = Some(ann);
                index.manifests.push(d);
                if let (Some(tag), Some((top, _))) = (t.tag(), img.layers.last()) {
                    repositories
                        .entry(t.familiar_name())
                        .or_default()
                        .insert(tag.to_string(), top.hex().to_string());
                }
            }
            save_entries.push(DockerSaveEntry {
                config: format!("blobs/sha256/{}", config.hex()),
                repo_tags: img.tags.iter().map(Reference::familiar).collect(),
                layers: img
                    .layers
                    .iter()
                    .map(|(d, _)| format!("blobs/sha256/{}", d.hex()))
                    .collect(),
                parent: None,
                layer_sources: None,
            });
        }
        let json = |v: &dyn erased::Json| v.to_vec().map_err(|e| invalid(e.to_string()));
        self.add_file("index.json", &json(&index)?)?;
        self.add_file("manifest.json", &json(&save_entries)?)?;
        let layout = OciLayout {
            image_layout_version: "1.0.0".to_string(),
        };
        self.add_file("oci-layout", &json(&layout)?)?;
        if !repositories.is_empty() {
            self.add_file("repositories", &json(&repositories)?)?;
        }
        self.tar.into_inner().map_err(Self::write_err)
    }
}

/// A tiny object-safe JSON encoder so `finish` can serialize its documents with one helper.
mod erased {
    /// Something that serializes to JSON.
    pub trait Json {
        /// The JSON bytes.
        fn to_vec(&self) -> serde_json::Result<Vec<u8>>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec(self)
        }
    }
}
