//! The store itself: the data root, its SQLite metadata, layer snapshots keyed by chain id
//! (each unpacked once, reference counted), crash repair at open, and garbage collection.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_oci::{Digest, Digester, ErrorKind, ReferenceError};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::apply::{ApplyError, apply_tar};
use crate::compression::decompress;
use crate::content::{BlobInfo, ContentError, ContentStore, Ingest};
use crate::db;
use crate::diff::DiffError;
use crate::mount::MountError;

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A content store operation failed.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// A layer could not be applied.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// A diff could not be computed.
    #[error(transparent)]
    Diff(#[from] DiffError),
    /// A mount failed.
    #[error(transparent)]
    Mount(#[from] MountError),
    /// A reference is malformed.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The metadata database failed.
    #[error("image database: {source}")]
    Db {
        /// The SQLite error.
        #[from]
        source: rusqlite::Error,
    },
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
    /// No image matches the name or id.
    #[error("No such image: {name}")]
    ImageNotFound {
        /// What the user asked for.
        name: String,
    },
    /// The reference to remove does not exist.
    #[error("No such image: {name}")]
    ReferenceNotFound {
        /// The reference.
        name: String,
    },
    /// A layer the operation needs is not in the store.
    #[error("layer {chain_id} not found")]
    LayerNotFound {
        /// Its chain id.
        chain_id: Digest,
    },
    /// The unpacked layer's digest differs from the config's diff id.
    #[error("layer diff id mismatch: expected {expected}, got {actual}")]
    DiffIdMismatch {
        /// The diff id from the image config.
        expected: Digest,
        /// The digest of the uncompressed layer.
        actual: Digest,
    },
    /// An image config could not be parsed.
    #[error("invalid image config {digest}: {source}")]
    Config {
        /// The config's digest.
        digest: Digest,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The container has no root filesystem in this store.
    #[error("no root filesystem for container {container_id}")]
    RootfsNotFound {
        /// The container.
        container_id: String,
    },
    /// The container already has a root filesystem.
    #[error("root filesystem for container {container_id} already exists")]
    RootfsExists {
        /// The container.
        container_id: String,
    },
    /// An archive (docker-save tar or OCI layout) is malformed.
    #[error("invalid image archive: {reason}")]
    InvalidArchive {
        /// What is wrong.
        reason: String,
    },
    /// The operation conflicts with the store's state (image in use, ambiguous prefix, ...);
    /// the message is Docker's.
    #[error("{message}")]
    Conflict {
        /// The full message.
        message: String,
    },
}

impl StoreError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Content(e) => e.kind(),
            StoreError::Apply(e) => e.kind(),
            StoreError::Diff(e) => e.kind(),
            StoreError::Mount(e) => e.kind(),
            StoreError::Reference(e) => e.kind(),
            StoreError::Db { .. } | StoreError::Io { .. } => ErrorKind::Internal,
            StoreError::ImageNotFound { .. }
            | StoreError::ReferenceNotFound { .. }
            | StoreError::LayerNotFound { .. }
            | StoreError::RootfsNotFound { .. } => ErrorKind::NotFound,
            StoreError::RootfsExists { .. } => ErrorKind::AlreadyExists,
            StoreError::DiffIdMismatch { .. }
            | StoreError::Config { .. }
            | StoreError::InvalidArchive { .. } => ErrorKind::InvalidArgument,
            StoreError::Conflict { .. } => ErrorKind::Conflict,
        }
    }
}

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

/// Where berth keeps its data unless told otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";

/// The chain id of a layer: its diff id for the base layer, else
/// `sha256(parent_chain + " " + diff_id)`.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(p) => Digest::sha256_of(format!("{p} {diff_id}").as_bytes()),
    }
}

/// The chain ids of a list of diff ids, base first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let c = chain_id(out.last(), d);
        out.push(c);
    }
    out
}

/// A layer unpacked in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Chain id (identity of the layer stack up to and including this layer).
    pub chain_id: Digest,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Chain id of the layer below.
    pub parent: Option<Digest>,
    /// The blob this layer was unpacked from, as stored in the content store.
    pub blob: Option<BlobInfo>,
    /// Media type of that blob.
    pub blob_media_type: Option<String>,
    /// Size of the uncompressed tar.
    pub diff_size: u64,
    /// Bytes of file content in the layer.
    pub content_size: u64,
    /// Snapshot number (`snapshots/<n>`).
    pub snapshot_id: i64,
}

/// Where a layer's bytes come from and what they must hash to.
#[derive(Debug, Clone, Default)]
pub struct BlobSpec {
    /// The (compressed) blob digest, verified while streaming.
    pub digest: Option<Digest>,
    /// The blob size, verified while streaming.
    pub size: Option<u64>,
    /// The blob's media type, recorded for push and save.
    pub media_type: Option<String>,
}

/// berth's image store under one data root. `Send + Sync`; synchronous, so async callers use
/// `spawn_blocking`.
pub struct Store {
    pub(crate) root: PathBuf,
    pub(crate) content: ContentStore,
    db: Mutex<Connection>,
    chain_locks: Mutex<HashMap<Digest, Arc<Mutex<()>>>>,
    /// Number of live leases; garbage collection holds the lock while it runs and does
    /// nothing while any lease is live.
    leases: Mutex<usize>,
}

/// Held by an operation that adds content not yet referenced by an image (a pull, a load,
/// a commit), so garbage collection leaves that content alone. Leases nest freely.
pub struct Lease<'a> {
    store: &'a Store,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut n = self.store.leases.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
    }
}

impl Store {
    /// Opens (creating) the store under `root` and repairs what a crash left behind:
    /// unfinished ingests, half-unpacked snapshots, directories without records, records
    /// without directories, layers no image uses.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        fs::create_dir_all(root.join("snapshots")).map_err(io_err("create", root))?;
        let content = ContentStore::open(&root.join("content"))?;
        let conn = db::open(&root.join("berth.db"))?;
        let store = Store {
            root: root.to_path_buf(),
            content,
            db: Mutex::new(conn),
            chain_locks: Mutex::new(HashMap::new()),
            leases: Mutex::new(0),
        };
        store.repair()?;
        Ok(store)
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The content store (blobs by digest).
    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    /// Keeps garbage collection away while the caller adds unreferenced content.
    pub fn lease(&self) -> Lease<'_> {
        let mut n = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        Lease { store: self }
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub(crate) fn snapshot_dir(&self, id: i64) -> PathBuf {
        self.snapshots_dir().join(id.to_string())
    }

    pub(crate) fn chain_lock(&self, chain: &Digest) -> Arc<Mutex<()>> {
        let mut m = self.chain_locks.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(chain.clone()).or_default().clone()
    }

    fn repair(&self) -> Result<(), StoreError> {
        let n = self.content.remove_stale_ingests()?;
        if n > 0 {
            tracing::warn!(count = n, "removed unfinished ingests");
        }
        let preparing: Vec<i64> = {
            let conn = self.conn();
            let mut st = conn.prepare("SELECT id FROM snapshots WHERE state = 'preparing'")?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        for id in preparing {
            tracing::warn!(snapshot = id, "removing half-prepared snapshot");
            self.abort_snapshot(id)?;
        }
        self.repair_missing_dirs()?;
        self.remove_unrecorded_dirs()?;
        self.remove_unused_layers()?;
        Ok(())
    }

    /// Records whose directories vanished: rw snapshots get empty directories back, images
    /// on a missing layer are removed; both loudly.
    fn repair_missing_dirs(&self) -> Result<(), StoreError> {
        let rows: Vec<(i64, String, Option<String>)> = {
            let conn = self.conn();
            let mut st = conn.prepare("SELECT id, kind, key FROM snapshots")?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        for (id, kind, key) in rows {
            let dir = self.snapshot_dir(id);
            if dir.join("fs").is_dir() {
                continue;
            }
            if kind == "rw" {
                tracing::warn!(snapshot = id, container = ?key, "rw snapshot directory missing; recreating it empty");
                for d in ["fs", "work"] {
                    fs::create_dir_all(dir.join(d)).map_err(io_err("create", &dir))?;
                }
                continue;
            }
            tracing::warn!(snapshot = id, chain = ?key, "layer directory missing; removing images that use it");
            let images: Vec<String> = {
                let conn = self.conn();
                let mut st = conn.prepare(
                    "SELECT DISTINCT il.image_id FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id WHERE l.snapshot_id = ?1",
                )?;
                st.query_map([id], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for img in images {
                if let Ok(d) = Digest::parse(&img) {
                    self.remove_image_record(&d)?;
                }
            }
        }
        Ok(())
    }

    fn remove_unrecorded_dirs(&self) -> Result<(), StoreError> {
        let known: std::collections::HashSet<i64> = {
            let conn = self.conn();
            let mut st = conn.prepare("SELECT id FROM snapshots")?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        let dir = self.snapshots_dir();
        for e in fs::read_dir(&dir).map_err(io_err("read", &dir))? {
            let e = e.map_err(io_err("read", &dir))?;
            let keep = e
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i64>().ok())
                .is_some_and(|id| known.contains(&id));
            if !keep {
                tracing::warn!(path = %e.path().display(), "removing snapshot directory without a record");
                remove_tree(&e.path())?;
            }
        }
        Ok(())
    }

    /// Removes committed layers nothing references (left by interrupted loads or deletes).
    pub(crate) fn remove_unused_layers(&self) -> Result<usize, StoreError> {
        let mut removed_dirs = Vec::new();
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            loop {
                let ids: Vec<i64> = {
                    let mut st = tx.prepare(
                        "SELECT id FROM snapshots WHERE kind = 'layer' AND state = 'committed' AND refcount <= 0",
                    )?;
                    st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
                };
                if ids.is_empty() {
                    break;
                }
                for id in ids {
                    removed_dirs.extend(delete_snapshot_row(&tx, id)?);
                }
            }
            tx.commit()?;
        }
        for id in &removed_dirs {
            remove_tree(&self.snapshot_dir(*id))?;
        }
        Ok(removed_dirs.len())
    }

    /// Inserts a 'preparing' snapshot record and creates its directories.
    pub(crate) fn begin_snapshot(
        &self,
        kind: &str,
        key: Option<&str>,
        parent: Option<i64>,
        image_id: Option<&Digest>,
    ) -> Result<i64, StoreError> {
        let id = {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO snapshots (key, parent, kind, state, refcount, image_id, created) VALUES (?1, ?2, ?3, 'preparing', 0, ?4, ?5)",
                params![key, parent, kind, image_id.map(|d| d.to_string()), db::now()],
            )?;
            conn.last_insert_rowid()
        };
        let dir = self.snapshot_dir(id);
        let mut subdirs = vec!["fs"];
        if kind == "rw" {
            subdirs.push("work");
        }
        for d in subdirs {
            if let Err(e) = fs::create_dir_all(dir.join(d)) {
                self.abort_snapshot(id)?;
                return Err(StoreError::Io {
                    op: "create",
                    path: dir,
                    source: e,
                });
            }
        }
        Ok(id)
    }

    /// Removes a snapshot that never got committed (directory first, then record).
    pub(crate) fn abort_snapshot(&self, id: i64) -> Result<(), StoreError> {
        remove_tree(&self.snapshot_dir(id))?;
        let conn = self.conn();
        conn.execute(
            "DELETE FROM snapshots WHERE id = ?1 AND state = 'preparing'",
            [id],
        )?;
        Ok(())
    }

    /// Looks up a committed layer by chain id.
    pub fn layer(&self, chain: &Digest) -> Result<Option<LayerInfo>, StoreError> {
        let conn = self.conn();
        layer_row(&conn, chain)
    }

    /// Every committed layer.
    pub fn layers(&self) -> Result<Vec<LayerInfo>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!("{LAYER_SELECT} ORDER BY l.snapshot_id"))?;
        let rows = st
            .query_map([], layer_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().collect()
    }

    /// Unpacks a layer from a stream (compressed or not) in one pass: the raw bytes go to the
    /// content store (verified against `blob`), the uncompressed bytes are hashed (verified
    /// against `expected_diff_id` when given) and untarred into a new snapshot on top of
    /// `parent`. A layer already present is not unpacked again.
    pub fn apply_layer_stream<R: Read>(
        &self,
        parent: Option<&Digest>,
        reader: R,
        blob: &BlobSpec,
        expected_diff_id: Option<&Digest>,
    ) -> Result<LayerInfo, StoreError> {
        let _lease = self.lease();
        let ingest = self.content.begin_ingest()?;
        self.unpack(parent, reader, Some((ingest, blob)), None, expected_diff_id)
    }

    /// Unpacks a layer whose blob is already in the content store.
    pub fn apply_layer_blob(
        &self,
        parent: Option<&Digest>,
        blob: &Digest,
        media_type: Option<&str>,
        expected_diff_id: Option<&Digest>,
    ) -> Result<LayerInfo, StoreError> {
        let _lease = self.lease();
        if let Some(diff) = expected_diff_id
            && let Some(l) = self.layer(&chain_id(parent, diff))?
        {
            return Ok(l);
        }
        let file = fs::File::open(self.blob_file(blob)?)
            .map_err(io_err("open", &self.content.blob_path(blob)))?;
        let size = file
            .metadata()
            .map_err(io_err("stat", &self.content.blob_path(blob)))?
            .len();
        let known = (
            BlobInfo {
                digest: blob.clone(),
                size,
            },
            media_type.map(str::to_string),
        );
        self.unpack(
            parent,
            io::BufReader::with_capacity(1 << 16, file),
            None,
            Some(known),
            expected_diff_id,
        )
    }

    fn unpack<R: Read>(
        &self,
        parent: Option<&Digest>,
        reader: R,
        ingest: Option<(Ingest, &BlobSpec)>,
        known_blob: Option<(BlobInfo, Option<String>)>,
        expected_diff_id: Option<&Digest>,
    ) -> Result<LayerInfo, StoreError> {
        let early_lock = expected_diff_id.map(|d| self.chain_lock(&chain_id(parent, d)));
        let _early_guard = early_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(d) = expected_diff_id
            && let Some(l) = self.layer(&chain_id(parent, d))?
        {
            return Ok(l);
        }
        let parent_snapshot = match parent {
            Some(p) => Some(
                self.layer(p)?
                    .ok_or_else(|| StoreError::LayerNotFound {
                        chain_id: p.clone(),
                    })?
                    .snapshot_id,
            ),
            None => None,
        };
        let id = self.begin_snapshot("layer", None, parent_snapshot, None)?;
        let unpacked = self.unpack_into(id, reader, ingest, expected_diff_id);
        let (diff_id, diff_size, content_size, blob_info, media_type) = match unpacked {
            Ok(mut u) => {
                if let Some((b, mt)) = known_blob {
                    u.3 = Some(b);
                    u.4 = mt;
                }
                u
            }
            Err(e) => {
                self.abort_snapshot(id)?;
                return Err(e);
            }
        };
        let chain = chain_id(parent, &diff_id);
        let late_lock = if early_lock.is_none() {
            Some(self.chain_lock(&chain))
        } else {
            None
        };
        let _late_guard = late_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(existing) = self.layer(&chain)? {
            self.abort_snapshot(id)?;
            return Ok(existing);
        }
        let info = LayerInfo {
            chain_id: chain,
            diff_id,
            parent: parent.cloned(),
            blob: blob_info,
            blob_media_type: media_type,
            diff_size,
            content_size,
            snapshot_id: id,
        };
        if let Err(e) = self.commit_layer(&info, parent_snapshot) {
            self.abort_snapshot(id)?;
            return Err(e);
        }
        Ok(info)
    }

    #[allow(clippy::type_complexity)]
    fn unpack_into<R: Read>(
        &self,
        id: i64,
        reader: R,
        ingest: Option<(Ingest, &BlobSpec)>,
        expected_diff_id: Option<&Digest>,
    ) -> Result<(Digest, u64, u64, Option<BlobInfo>, Option<String>), StoreError> {
        let fs_dir = self.snapshot_dir(id).join("fs");
        let (mut ingest, spec) = match ingest {
            Some((i, s)) => (Some(i), Some(s)),
            None => (None, None),
        };
        let (stats, diff_id, diff_size) = {
            let tee = TeeReader {
                inner: reader,
                sink: ingest.as_mut(),
            };
            let (_, decoded) = decompress(tee).map_err(|source| ApplyError::Read { source })?;
            let mut hashed = HashingReader {
                inner: decoded,
                digester: Digester::new(),
            };
            let stats = apply_tar(&mut hashed, &fs_dir)?;
            io::copy(&mut hashed, &mut io::sink()).map_err(|source| ApplyError::Read { source })?;
            let len = hashed.digester.len();
            (stats, hashed.digester.finish(), len)
        };
        if let Some(exp) = expected_diff_id
            && exp != &diff_id
        {
            return Err(StoreError::DiffIdMismatch {
                expected: exp.clone(),
                actual: diff_id,
            });
        }
        let blob = match (ingest, spec) {
            (Some(i), Some(s)) => Some(i.commit(s.digest.as_ref(), s.size)?),
            _ => None,
        };
        sync_dir(&fs_dir)?;
        Ok((
            diff_id,
            diff_size,
            stats.content_size,
            blob,
            spec.and_then(|s| s.media_type.clone()),
        ))
    }

    fn commit_layer(
        &self,
        info: &LayerInfo,
        parent_snapshot: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE snapshots SET key = ?1, state = 'committed' WHERE id = ?2",
            params![info.chain_id.to_string(), info.snapshot_id],
        )?;
        tx.execute(
            "INSERT INTO layers (chain_id, diff_id, parent_chain, snapshot_id, blob_digest, blob_media_type, blob_size, diff_size, content_size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                info.chain_id.to_string(),
                info.diff_id.to_string(),
                info.parent.as_ref().map(|d| d.to_string()),
                info.snapshot_id,
                info.blob.as_ref().map(|b| b.digest.to_string()),
                info.blob_media_type,
                info.blob.as_ref().map(|b| b.size as i64),
                info.diff_size as i64,
                info.content_size as i64
            ],
        )?;
        if let Some(p) = parent_snapshot {
            tx.execute(
                "UPDATE snapshots SET refcount = refcount + 1 WHERE id = ?1",
                [p],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes unused layers and every blob no image or layer references; returns the number
    /// of blob bytes freed. Does nothing while a [`Lease`] is live (a load or pull is adding
    /// content no image references yet).
    pub fn gc(&self) -> Result<u64, StoreError> {
        let leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if *leases > 0 {
            return Ok(0);
        }
        self.remove_unused_layers()?;
        let referenced: std::collections::HashSet<String> = {
            let conn = self.conn();
            let mut st = conn.prepare(
                "SELECT id FROM images UNION SELECT manifest_digest FROM images WHERE manifest_digest IS NOT NULL
                 UNION SELECT blob_digest FROM layers WHERE blob_digest IS NOT NULL",
            )?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        let mut freed = 0;
        for b in self.content.list()? {
            if !referenced.contains(&b.digest.to_string()) {
                self.content.delete(&b.digest)?;
                freed += b.size;
            }
        }
        drop(leases);
        Ok(freed)
    }

    /// Decrements a snapshot's reference count inside `tx`; snapshots reaching zero are
    /// deleted with their parents as needed. Returns the ids whose directories must go.
    pub(crate) fn release_snapshot(tx: &Transaction<'_>, id: i64) -> Result<Vec<i64>, StoreError> {
        tx.execute(
            "UPDATE snapshots SET refcount = refcount - 1 WHERE id = ?1",
            [id],
        )?;
        let rc: i64 = tx.query_row("SELECT refcount FROM snapshots WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
        if rc > 0 {
            return Ok(Vec::new());
        }
        delete_snapshot_row(tx, id)
    }
}

/// A layer unpacked into a snapshot of its own before its parent is in the store, so a pull
/// can unpack every layer while it downloads and commit them in order afterwards. Dropping it
/// uncommitted removes the snapshot (directory and record).
pub struct StagedLayer {
    store: Arc<Store>,
    snapshot_id: i64,
    diff_id: Digest,
    diff_size: u64,
    content_size: u64,
    blob: Option<BlobInfo>,
    media_type: Option<String>,
    committed: bool,
}

impl std::fmt::Debug for StagedLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedLayer")
            .field("snapshot_id", &self.snapshot_id)
            .field("diff_id", &self.diff_id)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Unpacks a layer from a stream (compressed or not) into an uncommitted snapshot, in one
    /// pass like [`Store::apply_layer_stream`] (raw bytes verified into the content store,
    /// diff id checked), without needing its parent: an overlay layer's directory does not
    /// depend on the layers below it. [`StagedLayer::commit`] puts it on its parent.
    pub fn stage_layer_stream<R: Read>(
        self: &Arc<Self>,
        reader: R,
        blob: &BlobSpec,
        expected_diff_id: Option<&Digest>,
    ) -> Result<StagedLayer, StoreError> {
        let _lease = self.lease();
        let ingest = self.content.begin_ingest()?;
        self.stage(reader, Some((ingest, blob)), None, expected_diff_id)
    }

    /// Unpacks a layer whose blob is already in the content store into an uncommitted
    /// snapshot (see [`Store::stage_layer_stream`]).
    pub fn stage_layer_blob(
        self: &Arc<Self>,
        blob: &Digest,
        media_type: Option<&str>,
        expected_diff_id: Option<&Digest>,
    ) -> Result<StagedLayer, StoreError> {
        let _lease = self.lease();
        let file = fs::File::open(self.blob_file(blob)?)
            .map_err(io_err("open", &self.content.blob_path(blob)))?;
        let size = file
            .metadata()
            .map_err(io_err("stat", &self.content.blob_path(blob)))?
            .len();
        let known = (
            BlobInfo {
                digest: blob.clone(),
                size,
            },
            media_type.map(str::to_string),
        );
        self.stage(
            io::BufReader::with_capacity(1 << 16, file),
            None,
            Some(known),
            expected_diff_id,
        )
    }

    fn stage<R: Read>(
        self: &Arc<Self>,
        reader: R,
        ingest: Option<(Ingest, &BlobSpec)>,
        known_blob: Option<(BlobInfo, Option<String>)>,
        expected_diff_id: Option<&Digest>,
    ) -> Result<StagedLayer, StoreError> {
        let id = self.begin_snapshot("layer", None, None, None)?;
        let (diff_id, diff_size, content_size, mut blob, mut media_type) =
            match self.unpack_into(id, reader, ingest, expected_diff_id) {
                Ok(u) => u,
                Err(e) => {
                    self.abort_snapshot(id)?;
                    return Err(e);
                }
            };
        if let Some((b, mt)) = known_blob {
            blob = Some(b);
            media_type = mt;
        }
        Ok(StagedLayer {
            store: self.clone(),
            snapshot_id: id,
            diff_id,
            diff_size,
            content_size,
            blob,
            media_type,
            committed: false,
        })
    }
}

impl StagedLayer {
    /// The digest of the uncompressed layer.
    pub fn diff_id(&self) -> &Digest {
        &self.diff_id
    }

    /// Commits the layer on top of `parent` (a committed chain id); when that layer stack is
    /// in the store already (a concurrent pull), the staged copy is dropped and the existing
    /// layer returned.
    pub fn commit(mut self, parent: Option<&Digest>) -> Result<LayerInfo, StoreError> {
        let store = self.store.clone();
        let chain = chain_id(parent, &self.diff_id);
        let lock = store.chain_lock(&chain);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = store.layer(&chain)? {
            return Ok(existing);
        }
        let parent_snapshot = match parent {
            Some(p) => Some(
                store
                    .layer(p)?
                    .ok_or_else(|| StoreError::LayerNotFound {
                        chain_id: p.clone(),
                    })?
                    .snapshot_id,
            ),
            None => None,
        };
        store.conn().execute(
            "UPDATE snapshots SET parent = ?1 WHERE id = ?2 AND state = 'preparing'",
            params![parent_snapshot, self.snapshot_id],
        )?;
        let info = LayerInfo {
            chain_id: chain,
            diff_id: self.diff_id.clone(),
            parent: parent.cloned(),
            blob: self.blob.take(),
            blob_media_type: self.media_type.take(),
            diff_size: self.diff_size,
            content_size: self.content_size,
            snapshot_id: self.snapshot_id,
        };
        store.commit_layer(&info, parent_snapshot)?;
        self.committed = true;
        Ok(info)
    }
}

impl Drop for StagedLayer {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Err(e) = self.store.abort_snapshot(self.snapshot_id) {
            tracing::warn!(snapshot = self.snapshot_id, error = %e, "could not remove a staged layer");
        }
    }
}

/// Deletes a snapshot record (and its layer row), releasing its parent; returns the ids whose
/// directories must be removed after the transaction commits.
pub(crate) fn delete_snapshot_row(tx: &Transaction<'_>, id: i64) -> Result<Vec<i64>, StoreError> {
    let parent: Option<i64> =
        tx.query_row("SELECT parent FROM snapshots WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
    tx.execute("DELETE FROM layers WHERE snapshot_id = ?1", [id])?;
    tx.execute("DELETE FROM snapshots WHERE id = ?1", [id])?;
    let mut out = vec![id];
    if let Some(p) = parent {
        out.extend(Store::release_snapshot(tx, p)?);
    }
    Ok(out)
}

pub(crate) const LAYER_SELECT: &str = "SELECT l.chain_id, l.diff_id, l.parent_chain, l.blob_digest, l.blob_size, l.blob_media_type, l.diff_size, l.content_size, l.snapshot_id FROM layers l";

type LayerRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    i64,
);

pub(crate) fn layer_from_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<LayerInfo, StoreError>> {
    let row: LayerRow = (
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    );
    Ok(layer_from_tuple(row))
}

fn layer_from_tuple(row: LayerRow) -> Result<LayerInfo, StoreError> {
    let (chain, diff, parent, blob, blob_size, mt, diff_size, content_size, snapshot_id) = row;
    let blob = match blob {
        Some(b) => Some(BlobInfo {
            digest: parse_db_digest(&b)?,
            size: blob_size.unwrap_or(0) as u64,
        }),
        None => None,
    };
    Ok(LayerInfo {
        chain_id: parse_db_digest(&chain)?,
        diff_id: parse_db_digest(&diff)?,
        parent: parent.as_deref().map(parse_db_digest).transpose()?,
        blob,
        blob_media_type: mt,
        diff_size: diff_size as u64,
        content_size: content_size as u64,
        snapshot_id,
    })
}

pub(crate) fn layer_row(
    conn: &Connection,
    chain: &Digest,
) -> Result<Option<LayerInfo>, StoreError> {
    let mut st = conn.prepare(&format!("{LAYER_SELECT} WHERE l.chain_id = ?1"))?;
    let row = st
        .query_row([chain.to_string()], layer_from_row)
        .optional()?;
    row.transpose()
}

pub(crate) fn parse_db_digest(s: &str) -> Result<Digest, StoreError> {
    Digest::parse(s).map_err(|e| StoreError::Db {
        source: rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            Box::new(e),
        ),
    })
}

/// Removes a directory tree; a missing tree is fine.
pub(crate) fn remove_tree(path: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Io {
            op: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let f = fs::File::open(dir).map_err(io_err("open", dir))?;
    nix::unistd::syncfs(&f).map_err(|e| StoreError::Io {
        op: "syncfs",
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// Copies what it reads into a sink (the content store ingest) on the way through.
struct TeeReader<'a, R> {
    inner: R,
    sink: Option<&'a mut Ingest>,
}

impl<R: Read> Read for TeeReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(s) = self.sink.as_mut() {
            s.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// Hashes what it reads (the uncompressed layer: its digest is the diff id).
struct HashingReader<R> {
    inner: R,
    digester: Digester,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
}
