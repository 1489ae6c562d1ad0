//! The content store: blobs addressed by digest under `content/blobs/sha256/<hex>`, written
//! through `content/ingest/` so a blob is either complete and verified or absent.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use berth_oci::{Digest, Digester, ErrorKind};

/// Errors of the content store.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The bytes written do not hash to the digest the caller expected.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the caller announced.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// The number of bytes differs from the announced size.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob's digest.
        digest: Digest,
        /// Announced size.
        expected: u64,
        /// Received size.
        actual: u64,
    },
    /// No blob with this digest.
    #[error("blob {digest} not found")]
    NotFound {
        /// The missing digest.
        digest: Digest,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ContentError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ContentError::DigestMismatch { .. } | ContentError::SizeMismatch { .. } => {
                ErrorKind::InvalidArgument
            }
            ContentError::NotFound { .. } => ErrorKind::NotFound,
            ContentError::Io { .. } => ErrorKind::Internal,
        }
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ContentError {
    let path = path.to_path_buf();
    move |source| ContentError::Io { op, path, source }
}

/// What the store knows about a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// Blobs by digest in a directory tree.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Opens (creating directories as needed) the content store under `root` (`<data>/content`).
    pub fn open(root: &Path) -> Result<ContentStore, ContentError> {
        for d in ["blobs/sha256", "ingest"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(io_err("create", &p))?;
        }
        Ok(ContentStore {
            root: root.to_path_buf(),
        })
    }

    /// Removes unfinished ingests left by a crash.
    pub fn remove_stale_ingests(&self) -> Result<usize, ContentError> {
        let dir = self.root.join("ingest");
        let mut n = 0;
        for e in fs::read_dir(&dir).map_err(io_err("read", &dir))? {
            let e = e.map_err(io_err("read", &dir))?;
            let p = e.path();
            let r = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            r.map_err(io_err("remove", &p))?;
            n += 1;
        }
        Ok(n)
    }

    /// The path of the blob `digest` (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Starts writing a new blob; bytes are hashed as they are written.
    pub fn begin_ingest(&self) -> Result<Ingest, ContentError> {
        let dir = self.root.join("ingest");
        let file = tempfile::Builder::new()
            .prefix("ingest-")
            .tempfile_in(&dir)
            .map_err(io_err("create ingest in", &dir))?;
        Ok(Ingest {
            store: self.clone(),
            file: Some(file),
            digester: Digester::new(),
        })
    }

    /// Streams `reader` into the store, verifying `expected` digest and size when given.
    pub fn ingest<R: Read>(
        &self,
        mut reader: R,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<BlobInfo, ContentError> {
        let mut ing = self.begin_ingest()?;
        let path = self.root.join("ingest");
        io::copy(&mut reader, &mut ing).map_err(io_err("write ingest in", &path))?;
        ing.commit(expected, expected_size)
    }

    /// Stores `data` as a blob.
    pub fn put_bytes(&self, data: &[u8]) -> Result<BlobInfo, ContentError> {
        self.ingest(data, None, None)
    }

    /// Opens a blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File, ContentError> {
        let p = self.blob_path(digest);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ContentError::NotFound {
                digest: digest.clone(),
            },
            _ => ContentError::Io {
                op: "open",
                path: p,
                source: e,
            },
        })
    }

    /// Reads a whole (small) blob.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        let mut f = self.open_blob(digest)?;
        let mut v = Vec::new();
        f.read_to_end(&mut v)
            .map_err(io_err("read", &self.blob_path(digest)))?;
        Ok(v)
    }

    /// Size of a blob, or `None` when absent.
    pub fn stat(&self, digest: &Digest) -> Result<Option<BlobInfo>, ContentError> {
        let p = self.blob_path(digest);
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(BlobInfo {
                digest: digest.clone(),
                size: m.len(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ContentError::Io {
                op: "stat",
                path: p,
                source: e,
            }),
        }
    }

    /// Deletes a blob; deleting an absent blob is not an error.
    pub fn delete(&self, digest: &Digest) -> Result<(), ContentError> {
        let p = self.blob_path(digest);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ContentError::Io {
                op: "remove",
                path: p,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Every blob in the store.
    pub fn list(&self) -> Result<Vec<BlobInfo>, ContentError> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(io_err("read", &dir))? {
            let e = e.map_err(io_err("read", &dir))?;
            let name = e.file_name();
            let Some(d) = name.to_str().and_then(|h| Digest::from_sha256_hex(h).ok()) else {
                continue;
            };
            let size = e.metadata().map_err(io_err("stat", &e.path()))?.len();
            out.push(BlobInfo { digest: d, size });
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }
}

/// A blob being written: hashes as it writes; `commit` verifies, fsyncs and renames it into
/// place, dropping it without commit removes the temp file.
pub struct Ingest {
    store: ContentStore,
    file: Option<tempfile::NamedTempFile>,
    digester: Digester,
}

impl Ingest {
    /// Verifies the expected digest and size (when given), fsyncs and moves the blob in place.
    pub fn commit(
        self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<BlobInfo, ContentError> {
        let verified = self.verify(expected, expected_size)?;
        let tmp = verified.file.path().to_path_buf();
        verified
            .file
            .as_file()
            .sync_all()
            .map_err(io_err("fsync", &tmp))?;
        verified.persist_synced()
    }

    /// Verifies the expected digest and size (when given) but leaves the blob in the ingest
    /// directory, unsynced: a caller writing many blobs syncs the filesystem once and then
    /// moves them all in place with [`VerifiedIngest::persist_synced`].
    pub fn verify(
        mut self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<VerifiedIngest, ContentError> {
        let digester = std::mem::take(&mut self.digester);
        let size = digester.len();
        let actual = digester.finish();
        if let Some(exp) = expected
            && exp != &actual
        {
            return Err(ContentError::DigestMismatch {
                expected: exp.clone(),
                actual,
            });
        }
        if let Some(exp) = expected_size
            && exp != size
        {
            return Err(ContentError::SizeMismatch {
                digest: actual,
                expected: exp,
                actual: size,
            });
        }
        let Some(file) = self.file.take() else {
            return Err(ContentError::Io {
                op: "commit",
                path: self.store.root.join("ingest"),
                source: io::Error::other("ingest already committed"),
            });
        };
        Ok(VerifiedIngest {
            store: self.store.clone(),
            file,
            info: BlobInfo {
                digest: actual,
                size,
            },
        })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.digester.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.digester.is_empty()
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("ingest committed"))?;
        let n = f.write(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// A blob whose digest and size were verified, still in the ingest directory (removed when
/// dropped): it becomes visible only through [`VerifiedIngest::persist_synced`].
pub struct VerifiedIngest {
    store: ContentStore,
    file: tempfile::NamedTempFile,
    info: BlobInfo,
}

impl VerifiedIngest {
    /// The blob's digest and size.
    pub fn info(&self) -> &BlobInfo {
        &self.info
    }

    /// Moves the blob in place. The caller guarantees its bytes are already durable (an
    /// fsync of the file or a `syncfs` of the store's filesystem after the last write), so a
    /// crash can never leave a torn blob under a valid name.
    pub fn persist_synced(self) -> Result<BlobInfo, ContentError> {
        let dest = self.store.blob_path(&self.info.digest);
        self.file.persist(&dest).map_err(|e| ContentError::Io {
            op: "rename into",
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(self.info)
    }
}

impl ContentStore {
    /// Makes the renames of blobs moved in place durable (fsync of the blob directory).
    pub fn sync_blob_dir(&self) -> Result<(), ContentError> {
        let dir = self.root.join("blobs/sha256");
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync", &dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_verifies_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let cs = ContentStore::open(dir.path()).unwrap();
        let good = Digest::sha256_of(b"hello");
        let info = cs.ingest(&b"hello"[..], Some(&good), Some(5)).unwrap();
        assert_eq!(info.digest, good);
        assert_eq!(cs.read_blob(&good).unwrap(), b"hello");
        let wrong = Digest::sha256_of(b"other");
        let err = cs.ingest(&b"hello!"[..], Some(&wrong), None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&wrong.to_string())
                && msg.contains(&Digest::sha256_of(b"hello!").to_string()),
            "{msg}"
        );
        assert!(matches!(
            cs.ingest(&b"hello"[..], None, Some(4)),
            Err(ContentError::SizeMismatch { .. })
        ));
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
        assert_eq!(cs.list().unwrap().len(), 1);
        assert!(cs.stat(&wrong).unwrap().is_none());
        cs.delete(&good).unwrap();
        assert!(matches!(
            cs.open_blob(&good),
            Err(ContentError::NotFound { .. })
        ));
    }
}
