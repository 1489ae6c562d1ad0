//! One way to read any blob the store can produce: the file in the content store when there
//! is one, else an uncompressed layer reassembled from its tar-split and snapshot (loaded
//! layers keep no blob), else a stored compressed blob decoded to the layer tar asked for by
//! its diff id. Save, push and re-applying a layer all read blobs through here.

use std::io::{self, Read};
use std::path::PathBuf;

use berth_oci::Digest;
use rusqlite::params;

use crate::content::{BlobInfo, ContentError};
use crate::store::{Store, StoreError, io_err};
use crate::tarsplit::{TAR_SPLIT_FILE, TarSplit};

/// A blob being read: its bytes and how many there are.
pub struct BlobReader {
    /// The blob's bytes.
    pub reader: Box<dyn Read + Send>,
    /// Its size in bytes.
    pub size: u64,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Where a layer's uncompressed tar can be rebuilt from.
struct LayerSource {
    snapshot_id: i64,
    diff_size: u64,
    stored_blob: Option<Digest>,
}

impl Store {
    /// Opens the blob `digest`: the stored file, or a layer tar rebuilt from its tar-split
    /// (or decoded from its compressed blob) when `digest` is a layer's diff id.
    pub fn open_blob(&self, digest: &Digest) -> Result<BlobReader, StoreError> {
        match self.content.open_blob(digest) {
            Ok(file) => {
                let size = file
                    .metadata()
                    .map_err(io_err("stat", &self.content.blob_path(digest)))?
                    .len();
                return Ok(BlobReader {
                    reader: Box::new(file),
                    size,
                });
            }
            Err(ContentError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        for src in self.layer_sources(digest)? {
            if let Some(r) = self.open_layer_source(digest, &src)? {
                return Ok(r);
            }
        }
        Err(ContentError::NotFound {
            digest: digest.clone(),
        }
        .into())
    }

    /// The digest and size of the blob `digest` when the store can produce it
    /// ([`Store::open_blob`] would succeed), `None` otherwise.
    pub fn stat_blob(&self, digest: &Digest) -> Result<Option<BlobInfo>, StoreError> {
        if let Some(info) = self.content.stat(digest)? {
            return Ok(Some(info));
        }
        for src in self.layer_sources(digest)? {
            let dir = self.snapshot_dir(src.snapshot_id);
            let usable = dir.join(TAR_SPLIT_FILE).is_file()
                || src
                    .stored_blob
                    .as_ref()
                    .is_some_and(|b| self.content.blob_path(b).is_file());
            if usable {
                return Ok(Some(BlobInfo {
                    digest: digest.clone(),
                    size: src.diff_size,
                }));
            }
        }
        Ok(None)
    }

    /// A file holding the blob `digest`, for callers that need a path (push): a blob only
    /// held as a tar-split is written back into the content store (verified) first.
    pub fn blob_file(&self, digest: &Digest) -> Result<PathBuf, StoreError> {
        let path = self.content.blob_path(digest);
        if path.is_file() {
            return Ok(path);
        }
        let _lease = self.lease();
        let blob = self.open_blob(digest)?;
        self.content
            .ingest(blob.reader, Some(digest), Some(blob.size))?;
        Ok(path)
    }

    fn layer_sources(&self, digest: &Digest) -> Result<Vec<LayerSource>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT snapshot_id, diff_size, blob_digest FROM layers WHERE diff_id = ?1 ORDER BY snapshot_id",
        )?;
        let rows = st
            .query_map(params![digest.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .map(|(snapshot_id, diff_size, blob)| LayerSource {
                snapshot_id,
                diff_size: diff_size as u64,
                stored_blob: blob.and_then(|b| Digest::parse(&b).ok()),
            })
            .collect())
    }

    fn open_layer_source(
        &self,
        digest: &Digest,
        src: &LayerSource,
    ) -> Result<Option<BlobReader>, StoreError> {
        let dir = self.snapshot_dir(src.snapshot_id);
        match TarSplit::read_from(&dir) {
            Ok(split) => {
                let fs = dir.join("fs");
                let size = split.size();
                let reader = split.reassemble(&fs).map_err(io_err("reassemble", &fs))?;
                return Ok(Some(BlobReader {
                    reader: Box::new(reader),
                    size,
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("read tar-split in", &dir)(e)),
        }
        let Some(blob) = src.stored_blob.as_ref().filter(|b| *b != digest) else {
            return Ok(None);
        };
        let file = match self.content.open_blob(blob) {
            Ok(f) => f,
            Err(ContentError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let path = self.content.blob_path(blob);
        let reader = decoded_file(file).map_err(io_err("decompress", &path))?;
        Ok(Some(BlobReader {
            reader,
            size: src.diff_size,
        }))
    }
}

/// A stored (possibly compressed) layer blob decoded to its tar, as a `Send` reader.
fn decoded_file(file: std::fs::File) -> io::Result<Box<dyn Read + Send>> {
    let mut file = io::BufReader::new(file);
    let mut head = Vec::with_capacity(4);
    (&mut file).take(4).read_to_end(&mut head)?;
    let whole = io::Cursor::new(head.clone()).chain(file);
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(whole))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(whole)?)
    } else {
        Box::new(whole)
    })
}
