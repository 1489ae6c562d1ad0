//! `docker load` / `docker save`: docker-save tarballs (old and Docker 25+ layouts) and OCI
//! image layouts in, docker-save-that-is-also-an-OCI-layout out, streamed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};

use berth_oci::manifest::{
    ANNOTATION_CONTAINERD_IMAGE_NAME, ANNOTATION_REF_NAME, DockerSaveEntry, OciLayout,
};
use berth_oci::{
    Descriptor, Digest, ImageConfig, Index, Manifest, Platform, Reference, media_type,
};

use crate::compression::decompress;
use crate::store::{Store, StoreError, chain_id, io_err};

/// Small archive files are read whole; anything bigger than this is not a manifest.
const MAX_METADATA_SIZE: u64 = 64 << 20;

/// An image a load created or updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The image id.
    pub id: Digest,
    /// The references the archive gave it.
    pub refs: Vec<Reference>,
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::InvalidArchive {
        reason: reason.into(),
    }
}

/// What the first pass over an archive found.
#[derive(Default)]
struct ArchiveContents {
    /// Archive path -> blob ingested from it.
    files: HashMap<String, Digest>,
    /// manifest.json, index.json, repositories, oci-layout.
    metadata: HashMap<String, Vec<u8>>,
    /// Symlinks and hard links: path -> target path.
    links: Vec<(String, String)>,
}

fn clean_archive_path(p: &str) -> String {
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
        let _lease = self.lease();
        let contents = self.ingest_archive(reader)?;
        if let Some(m) = contents.metadata.get("manifest.json") {
            let entries: Vec<DockerSaveEntry> =
                serde_json::from_slice(m).map_err(|e| invalid(format!("manifest.json: {e}")))?;
            return entries
                .iter()
                .map(|e| self.load_save_entry(&contents, e))
                .collect();
        }
        if let Some(i) = contents.metadata.get("index.json") {
            let index = Index::from_json(i).map_err(|e| invalid(format!("index.json: {e}")))?;
            let mut out = Vec::new();
            for d in &index.manifests {
                self.load_oci_descriptor(d, d, &mut out, 0)?;
            }
            return Ok(out);
        }
        Err(invalid("neither manifest.json nor index.json found"))
    }

    fn ingest_archive<R: Read>(&self, reader: R) -> Result<ArchiveContents, StoreError> {
        let mut c = ArchiveContents::default();
        let read_err = |e: io::Error| invalid(format!("reading archive: {e}"));
        let (_, reader) = decompress(reader).map_err(read_err)?;
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(read_err)? {
            let mut entry = entry.map_err(read_err)?;
            let path = clean_archive_path(&String::from_utf8_lossy(&entry.path_bytes()));
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    let resolved = if entry.header().entry_type() == tar::EntryType::Symlink
                        && !target.starts_with('/')
                    {
                        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        clean_archive_path(&format!("{dir}/{target}"))
                    } else {
                        clean_archive_path(&target)
                    };
                    c.links.push((path, resolved));
                    continue;
                }
                _ => continue,
            }
            let size = entry.size();
            if matches!(
                path.as_str(),
                "manifest.json" | "index.json" | "repositories" | "oci-layout"
            ) {
                if size > MAX_METADATA_SIZE {
                    return Err(invalid(format!("{path} is too large")));
                }
                let mut v = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut v).map_err(read_err)?;
                c.metadata.insert(path, v);
                continue;
            }
            let expected = match path.strip_prefix("blobs/sha256/") {
                Some(hex) => Some(
                    Digest::from_sha256_hex(hex).map_err(|e| invalid(format!("{path}: {e}")))?,
                ),
                None if path.ends_with(".json") || path.ends_with("layer.tar") => None,
                None => continue,
            };
            let info = self
                .content
                .ingest(&mut entry, expected.as_ref(), Some(size))?;
            c.files.insert(path, info.digest);
        }
        for _ in 0..8 {
            for (path, target) in &c.links {
                if let Some(d) = c.files.get(target).cloned() {
                    c.files.entry(path.clone()).or_insert(d);
                }
            }
        }
        Ok(c)
    }

    fn load_save_entry(
        &self,
        c: &ArchiveContents,
        e: &DockerSaveEntry,
    ) -> Result<LoadedImage, StoreError> {
        let lookup = |p: &str| {
            let p = clean_archive_path(p);
            c.files
                .get(&p)
                .cloned()
                .ok_or_else(|| invalid(format!("{p} referenced by manifest.json is missing")))
        };
        let config_digest = lookup(&e.config)?;
        let config_bytes = self.content.read_blob(&config_digest)?;
        let config = parse_config(&config_digest, &config_bytes)?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != e.layers.len() {
            return Err(invalid(format!(
                "image {config_digest} has {} diff ids but {} layers",
                diff_ids.len(),
                e.layers.len()
            )));
        }
        let mut parent: Option<Digest> = None;
        for (path, diff_id) in e.layers.iter().zip(diff_ids) {
            let blob = lookup(path)?;
            let l = self.apply_layer_blob(parent.as_ref(), &blob, None, Some(diff_id))?;
            parent = Some(l.chain_id);
        }
        let refs = e
            .repo_tags
            .iter()
            .map(|t| Reference::parse_normalized_tagged(t))
            .collect::<Result<Vec<_>, _>>()?;
        let img = self.create_image(&config_bytes, None, &refs)?;
        Ok(LoadedImage { id: img.id, refs })
    }

    fn load_oci_descriptor(
        &self,
        d: &Descriptor,
        named_by: &Descriptor,
        out: &mut Vec<LoadedImage>,
        depth: u32,
    ) -> Result<(), StoreError> {
        if depth > 4 {
            return Err(invalid("index nesting too deep"));
        }
        let data = self.content.read_blob(&d.digest)?;
        let is_index = media_type::is_index(&d.media_type)
            || (!media_type::is_manifest(&d.media_type)
                && serde_json::from_slice::<serde_json::Value>(&data)
                    .ok()
                    .and_then(|v| v.get("manifests").cloned())
                    .is_some());
        if is_index {
            let idx =
                Index::from_json(&data).map_err(|e| invalid(format!("index {}: {e}", d.digest)))?;
            let chosen = idx.select(&Platform::host()).ok_or_else(|| {
                invalid(format!(
                    "index {} has no manifest for {}",
                    d.digest,
                    Platform::host()
                ))
            })?;
            return self.load_oci_descriptor(chosen, named_by, out, depth + 1);
        }
        let m = Manifest::from_json(&data)
            .map_err(|e| invalid(format!("manifest {}: {e}", d.digest)))?;
        let config_bytes = self.content.read_blob(&m.config.digest)?;
        let config = parse_config(&m.config.digest, &config_bytes)?;
        if config.rootfs.diff_ids.len() != m.layers.len() {
            return Err(invalid(format!(
                "manifest {} layer count differs from its config",
                d.digest
            )));
        }
        let mut parent: Option<Digest> = None;
        for (layer, diff_id) in m.layers.iter().zip(&config.rootfs.diff_ids) {
            if self.layer(&chain_id(parent.as_ref(), diff_id))?.is_none()
                && self.content.stat(&layer.digest)?.is_none()
            {
                return Err(invalid(format!("layer blob {} is missing", layer.digest)));
            }
            let l = self.apply_layer_blob(
                parent.as_ref(),
                &layer.digest,
                Some(&layer.media_type),
                Some(diff_id),
            )?;
            parent = Some(l.chain_id);
        }
        let refs = descriptor_name(named_by).into_iter().collect::<Vec<_>>();
        let img = self.create_image(&config_bytes, Some(&d.digest), &refs)?;
        out.push(LoadedImage { id: img.id, refs });
        Ok(())
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
                    let file = self.content.open_blob(&blob.digest)?;
                    let path = self.content.blob_path(&blob.digest);
                    let (_, reader) =
                        decompress(io::BufReader::new(file)).map_err(io_err("read", &path))?;
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

fn parse_config(digest: &Digest, data: &[u8]) -> Result<ImageConfig, StoreError> {
    ImageConfig::from_json(data).map_err(|source| StoreError::Config {
        digest: digest.clone(),
        source,
    })
}

/// The name an OCI layout index entry gives its image.
fn descriptor_name(d: &Descriptor) -> Option<Reference> {
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
