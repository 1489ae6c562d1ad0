//! The registry's filesystem storage: blobs stored once by digest for every repository,
//! per-repository links (layers, manifests, tags, referrers) and upload sessions, every
//! write atomic (temp file + fsync + rename).
//!
//! Layout under the root:
//! `blobs/sha256/<hex>`, `uploads/<uuid>/{data,repo}`,
//! `repositories/<name>/_layers/sha256/<hex>`, `_manifests/sha256/<hex>` (holds the media
//! type), `_tags/<tag>` (holds the digest), `_referrers/<subject hex>/<hex>` (descriptor JSON).
//! Repository path components never start with `_`, so these names cannot collide.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_oci::{Descriptor, Digest, Digester, ErrorKind};

use super::routes::valid_tag;

/// A storage failure, naming what was being done to which path.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The uploaded content does not hash to the digest the client gave.
    #[error("digest mismatch: expected {expected}, content is {actual}")]
    DigestMismatch {
        /// What the client claimed.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// The upload session does not exist.
    #[error("upload {uuid} unknown")]
    UploadUnknown {
        /// The session id.
        uuid: String,
    },
}

impl StorageError {
    /// The error class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StorageError::Io { .. } => ErrorKind::Internal,
            StorageError::DigestMismatch { .. } => ErrorKind::InvalidArgument,
            StorageError::UploadUnknown { .. } => ErrorKind::NotFound,
        }
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The registry's storage root; cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    root: Arc<PathBuf>,
}

impl Storage {
    /// Opens (creating) storage under `root`.
    pub fn open(root: &Path) -> Result<Storage, StorageError> {
        for d in ["blobs/sha256", "uploads", "repositories"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        Ok(Storage {
            root: Arc::new(root.to_path_buf()),
        })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where blob `d` lives (whether or not it exists).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    /// The size of blob `d`, or `None` when it is absent.
    pub fn blob_size(&self, d: &Digest) -> Result<Option<u64>, StorageError> {
        let p = self.blob_path(d);
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("stat", &p)(e)),
        }
    }

    /// Reads a whole (small) blob, `None` when absent.
    pub fn read_blob(&self, d: &Digest) -> Result<Option<Vec<u8>>, StorageError> {
        let p = self.blob_path(d);
        match fs::read(&p) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &p)(e)),
        }
    }

    /// Stores `data` as a blob (atomically) and returns its digest.
    pub fn put_blob(&self, data: &[u8]) -> Result<Digest, StorageError> {
        let d = Digest::sha256_of(data);
        let dest = self.blob_path(&d);
        if dest.exists() {
            return Ok(d);
        }
        write_atomic(&dest, data)?;
        Ok(d)
    }

    /// Removes blob `d` (garbage collection); absent is fine.
    pub fn remove_blob(&self, d: &Digest) -> Result<(), StorageError> {
        remove_file_if_present(&self.blob_path(d))
    }

    /// Every blob stored.
    pub fn blobs(&self) -> Result<Vec<Digest>, StorageError> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err("read", &dir))? {
            let e = e.map_err(io_err("read", &dir))?;
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|h| Digest::from_sha256_hex(h).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    fn repo_dir(&self, name: &str) -> PathBuf {
        self.root.join("repositories").join(name)
    }

    fn link_path(&self, name: &str, kind: &str, d: &Digest) -> PathBuf {
        self.repo_dir(name)
            .join(kind)
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    /// Whether repository `name` has any content.
    pub fn repo_exists(&self, name: &str) -> bool {
        let dir = self.repo_dir(name);
        ["_layers", "_manifests", "_tags"]
            .iter()
            .any(|k| dir.join(k).is_dir())
    }

    /// Whether blob `d` is linked into repository `name` and present.
    pub fn has_layer(&self, name: &str, d: &Digest) -> Result<Option<u64>, StorageError> {
        if !self.link_path(name, "_layers", d).exists() {
            return Ok(None);
        }
        self.blob_size(d)
    }

    /// Links blob `d` into repository `name`.
    pub fn link_layer(&self, name: &str, d: &Digest) -> Result<(), StorageError> {
        write_atomic(&self.link_path(name, "_layers", d), b"")
    }

    /// Unlinks blob `d` from repository `name`; returns whether it was linked.
    pub fn unlink_layer(&self, name: &str, d: &Digest) -> Result<bool, StorageError> {
        let p = self.link_path(name, "_layers", d);
        let was = p.exists();
        remove_file_if_present(&p)?;
        Ok(was)
    }

    /// Records manifest `d` (already stored as a blob) in repository `name`.
    pub fn link_manifest(
        &self,
        name: &str,
        d: &Digest,
        media_type: &str,
    ) -> Result<(), StorageError> {
        write_atomic(
            &self.link_path(name, "_manifests", d),
            media_type.as_bytes(),
        )
    }

    /// The media type of manifest `d` in repository `name`, `None` when not there.
    pub fn manifest_media_type(
        &self,
        name: &str,
        d: &Digest,
    ) -> Result<Option<String>, StorageError> {
        let p = self.link_path(name, "_manifests", d);
        match fs::read_to_string(&p) {
            Ok(s) if self.blob_path(d).exists() => Ok(Some(s)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &p)(e)),
        }
    }

    /// Every manifest digest of repository `name`.
    pub fn manifests(&self, name: &str) -> Result<Vec<Digest>, StorageError> {
        let dir = self.repo_dir(name).join("_manifests/sha256");
        read_digests(&dir)
    }

    /// Every layer link of repository `name`.
    pub fn layers(&self, name: &str) -> Result<Vec<Digest>, StorageError> {
        read_digests(&self.repo_dir(name).join("_layers/sha256"))
    }

    /// Removes manifest `d` and every tag pointing at it; returns whether it existed.
    pub fn delete_manifest(&self, name: &str, d: &Digest) -> Result<bool, StorageError> {
        let p = self.link_path(name, "_manifests", d);
        let was = p.exists();
        remove_file_if_present(&p)?;
        for t in self.tags(name)?.unwrap_or_default() {
            if self.tag_digest(name, &t)?.as_ref() == Some(d) {
                self.delete_tag(name, &t)?;
            }
        }
        Ok(was)
    }

    /// Points tag `tag` of repository `name` at manifest `d`; callers validate the tag.
    pub fn set_tag(&self, name: &str, tag: &str, d: &Digest) -> Result<(), StorageError> {
        debug_assert!(valid_tag(tag));
        write_atomic(
            &self.repo_dir(name).join("_tags").join(tag),
            d.to_string().as_bytes(),
        )
    }

    /// The manifest tag `tag` points at, `None` when there is no such tag.
    pub fn tag_digest(&self, name: &str, tag: &str) -> Result<Option<Digest>, StorageError> {
        if !valid_tag(tag) {
            return Ok(None);
        }
        let p = self.repo_dir(name).join("_tags").join(tag);
        match fs::read_to_string(&p) {
            Ok(s) => Ok(Digest::parse(s.trim()).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &p)(e)),
        }
    }

    /// Removes tag `tag`; returns whether it existed.
    pub fn delete_tag(&self, name: &str, tag: &str) -> Result<bool, StorageError> {
        if !valid_tag(tag) {
            return Ok(false);
        }
        let p = self.repo_dir(name).join("_tags").join(tag);
        let was = p.exists();
        remove_file_if_present(&p)?;
        Ok(was)
    }

    /// The sorted tags of repository `name`, `None` when the repository does not exist.
    pub fn tags(&self, name: &str) -> Result<Option<Vec<String>>, StorageError> {
        if !self.repo_exists(name) {
            return Ok(None);
        }
        let dir = self.repo_dir(name).join("_tags");
        let mut tags = Vec::new();
        match fs::read_dir(&dir) {
            Ok(rd) => {
                for e in rd {
                    let e = e.map_err(io_err("read", &dir))?;
                    if let Some(s) = e.file_name().to_str()
                        && !s.starts_with('.')
                    {
                        tags.push(s.to_string());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("read", &dir)(e)),
        }
        tags.sort();
        Ok(Some(tags))
    }

    /// Every repository name, sorted.
    pub fn repositories(&self) -> Result<Vec<String>, StorageError> {
        let base = self.root.join("repositories");
        let mut out = Vec::new();
        collect_repositories(&base, &base, &mut out)?;
        out.sort();
        Ok(out)
    }

    /// Records `referrer` (a manifest whose `subject` is `subject`) in repository `name`.
    pub fn add_referrer(
        &self,
        name: &str,
        subject: &Digest,
        referrer: &Descriptor,
    ) -> Result<(), StorageError> {
        let p = self
            .repo_dir(name)
            .join("_referrers")
            .join(subject.hex())
            .join(referrer.digest.hex());
        let json =
            serde_json::to_vec(referrer).map_err(|e| io_err("encode", &p)(io::Error::other(e)))?;
        write_atomic(&p, &json)
    }

    /// The descriptors of manifests referring to `subject` that still exist.
    pub fn referrers(&self, name: &str, subject: &Digest) -> Result<Vec<Descriptor>, StorageError> {
        let dir = self.repo_dir(name).join("_referrers").join(subject.hex());
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &dir)(e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(io_err("read", &dir))?;
            let data = fs::read(e.path()).map_err(io_err("read", &e.path()))?;
            let Ok(desc) = serde_json::from_slice::<Descriptor>(&data) else {
                continue;
            };
            if self.manifest_media_type(name, &desc.digest)?.is_some() {
                out.push(desc);
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    fn upload_dir(&self, uuid: &str) -> PathBuf {
        self.root.join("uploads").join(uuid)
    }

    /// Starts an upload session for repository `name` and returns its id.
    pub fn start_upload(&self, name: &str) -> Result<String, StorageError> {
        let uuid = new_uuid();
        let dir = self.upload_dir(&uuid);
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let data = dir.join("data");
        File::create(&data).map_err(io_err("create", &data))?;
        write_atomic(&dir.join("repo"), name.as_bytes())?;
        Ok(uuid)
    }

    /// The data file of upload `uuid` and its current size, checking it belongs to `name`.
    pub fn upload(&self, name: &str, uuid: &str) -> Result<(PathBuf, u64), StorageError> {
        let unknown = || StorageError::UploadUnknown {
            uuid: uuid.to_string(),
        };
        if uuid.is_empty() || !uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(unknown());
        }
        let dir = self.upload_dir(uuid);
        let repo = fs::read_to_string(dir.join("repo")).map_err(|_| unknown())?;
        if repo != name {
            return Err(unknown());
        }
        let data = dir.join("data");
        let size = fs::metadata(&data).map_err(|_| unknown())?.len();
        Ok((data, size))
    }

    /// Removes upload sessions untouched for longer than `age`; returns how many.
    pub fn remove_stale_uploads(&self, age: std::time::Duration) -> Result<usize, StorageError> {
        let dir = self.root.join("uploads");
        let mut n = 0;
        for e in fs::read_dir(&dir).map_err(io_err("read", &dir))? {
            let e = e.map_err(io_err("read", &dir))?;
            let data = e.path().join("data");
            let touched = fs::metadata(&data)
                .or_else(|_| e.metadata())
                .and_then(|m| m.modified())
                .map_err(io_err("stat", &data))?;
            if touched.elapsed().unwrap_or_default() > age {
                fs::remove_dir_all(e.path()).map_err(io_err("remove", &e.path()))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Removes upload `uuid`.
    pub fn cancel_upload(&self, uuid: &str) -> Result<(), StorageError> {
        let dir = self.upload_dir(uuid);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &dir)(e)),
            _ => Ok(()),
        }
    }

    /// Verifies upload `uuid` hashes to `expected`, moves it into the blob store (fsync +
    /// rename) and links it into `name`. A mismatch removes the upload.
    pub fn finish_upload(
        &self,
        name: &str,
        uuid: &str,
        expected: &Digest,
    ) -> Result<u64, StorageError> {
        let (data, size) = self.upload(name, uuid)?;
        let actual = hash_file(&data)?;
        if &actual != expected {
            self.cancel_upload(uuid)?;
            return Err(StorageError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        let f = File::open(&data).map_err(io_err("open", &data))?;
        f.sync_all().map_err(io_err("fsync", &data))?;
        let dest = self.blob_path(expected);
        fs::rename(&data, &dest).map_err(io_err("rename into", &dest))?;
        self.cancel_upload(uuid)?;
        self.link_layer(name, expected)?;
        Ok(size)
    }
}

fn hash_file(path: &Path) -> Result<Digest, StorageError> {
    let mut f = File::open(path).map_err(io_err("open", path))?;
    let mut dg = Digester::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io_err("read", path))?;
        if n == 0 {
            break;
        }
        dg.update(&buf[..n]);
    }
    Ok(dg.finish())
}

fn read_digests(dir: &Path) -> Result<Vec<Digest>, StorageError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", dir)(e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(io_err("read", dir))?;
        if let Some(d) = e
            .file_name()
            .to_str()
            .and_then(|h| Digest::from_sha256_hex(h).ok())
        {
            out.push(d);
        }
    }
    Ok(out)
}

fn collect_repositories(
    base: &Path,
    dir: &Path,
    out: &mut Vec<String>,
) -> Result<(), StorageError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("read", dir)(e)),
    };
    let mut is_repo = false;
    for e in rd {
        let e = e.map_err(io_err("read", dir))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == "_manifests" {
            is_repo = true;
        } else if !name.starts_with('_') && e.path().is_dir() {
            collect_repositories(base, &e.path(), out)?;
        }
    }
    if is_repo && let Ok(rel) = dir.strip_prefix(base) {
        out.push(rel.to_string_lossy().into_owned());
    }
    Ok(())
}

/// Writes `data` to `dest` through a temp file in the same directory, fsynced then renamed.
pub(crate) fn write_atomic(dest: &Path, data: &[u8]) -> Result<(), StorageError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io_err("create temp in", dir))?;
    tmp.write_all(data).map_err(io_err("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err("fsync", dest))?;
    tmp.persist(dest)
        .map_err(|e| io_err("rename into", dest)(e.error))?;
    Ok(())
}

fn remove_file_if_present(p: &Path) -> Result<(), StorageError> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", p)(e)),
        _ => Ok(()),
    }
}

fn new_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
