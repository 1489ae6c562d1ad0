//! One-pass `load`: reads a docker-save tarball or OCI image layout once, unpacking every layer
//! into a staging snapshot while its bytes stream past (the blob itself is teed into the
//! content store's ingest directory), then commits the layers under their chain ids once
//! manifest.json / index.json (wherever they sit in the tar) say which image they belong to.
//! Nothing is fsynced per file: one `syncfs` of the store makes snapshots and blobs durable
//! before the blobs are renamed in place and the metadata is committed, so a crash at any
//! point leaves only ingests and 'preparing' snapshots, which `Store::open` removes.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};

use berth_oci::manifest::DockerSaveEntry;
use berth_oci::{Descriptor, Digest, Digester, Index, Manifest, Platform, Reference, media_type};
use rusqlite::{OptionalExtension, params};

use crate::apply::apply_tar;
use crate::archive::{
    LoadedImage, MAX_METADATA_SIZE, clean_archive_path, descriptor_name, invalid, parse_config,
};
use crate::compression::decompress;
use crate::content::{BlobInfo, Ingest, VerifiedIngest};
use crate::store::{Store, StoreError, chain_id, io_err};
use crate::tarsplit::SplitRecorder;

/// Archive files read whole into memory rather than treated as blobs.
const METADATA_FILES: [&str; 4] = ["manifest.json", "index.json", "repositories", "oci-layout"];

/// Read size while streaming a layer out of the archive.
const STREAM_BUFFER: usize = 1 << 20;

/// How far an archive may nest OCI indexes.
const MAX_INDEX_DEPTH: u32 = 4;

/// A layer unpacked into a staging snapshot (no parent, no chain id yet).
struct Unpacked {
    snapshot: i64,
    content_size: u64,
    /// Digest and size of the uncompressed tar; for an uncompressed blob they are the
    /// blob's own, filled in once the blob is verified.
    diff: Option<(Digest, u64)>,
    /// Whether a tar-split was written next to the snapshot: the layer's tar can be rebuilt
    /// from it, so the blob itself is not kept.
    split: bool,
}

/// One regular file of the archive that may be a blob (layer, config, manifest).
struct ArchiveBlob {
    info: BlobInfo,
    /// The verified blob, until it is moved into the content store (or dropped, which
    /// removes it, when it is a layer nothing references).
    ingest: Option<VerifiedIngest>,
    /// The bytes of a small file that is not a layer (configs, manifests, indexes).
    bytes: Option<Vec<u8>>,
    /// Whether the file looked like a (compressed) tar.
    is_layer: bool,
    /// The staging snapshot it was unpacked into, until committed.
    unpacked: Option<Unpacked>,
}

/// One image the archive describes, resolved against its files.
struct PlannedImage {
    config: Vec<u8>,
    manifest: Option<Digest>,
    layers: Vec<PlannedLayer>,
    refs: Vec<Reference>,
}

/// One layer of a planned image: which archive file, what it must hash to uncompressed.
struct PlannedLayer {
    file: usize,
    diff_id: Digest,
    media_type: Option<String>,
}

/// The state of one streaming load; dropping it removes every staging snapshot it did not
/// commit and every blob it did not move in place.
struct StreamLoad<'s> {
    store: &'s Store,
    /// Archive path -> index into `blobs`.
    files: HashMap<String, usize>,
    blobs: Vec<ArchiveBlob>,
    metadata: HashMap<String, Vec<u8>>,
    /// Symlinks and hard links of the archive: path -> target path.
    links: Vec<(String, String)>,
    /// Staging snapshots not committed (yet).
    staged: HashSet<i64>,
}

impl Drop for StreamLoad<'_> {
    fn drop(&mut self) {
        for id in self.staged.drain() {
            if let Err(e) = self.store.abort_snapshot(id) {
                tracing::warn!(snapshot = id, error = %e, "cannot remove staging snapshot");
            }
        }
    }
}

fn read_err(e: io::Error) -> StoreError {
    invalid(format!("reading archive: {e}"))
}

impl Store {
    /// Loads every image of a docker-save tarball or OCI image layout (plain, gzip or zstd
    /// compressed) in one pass over `reader`; see the module documentation.
    pub(crate) fn load_streaming<R: Read>(
        &self,
        reader: R,
    ) -> Result<Vec<LoadedImage>, StoreError> {
        let _lease = self.lease();
        let mut load = StreamLoad {
            store: self,
            files: HashMap::new(),
            blobs: Vec::new(),
            metadata: HashMap::new(),
            links: Vec::new(),
            staged: HashSet::new(),
        };
        load.read_archive(reader)?;
        let plans = load.plan()?;
        load.make_durable(&plans)?;
        load.commit(plans)
    }
}

impl StreamLoad<'_> {
    fn read_archive<R: Read>(&mut self, reader: R) -> Result<(), StoreError> {
        let (_, reader) = decompress(reader).map_err(read_err)?;
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(read_err)? {
            let mut entry = entry.map_err(read_err)?;
            let path = clean_archive_path(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    self.links.push((
                        path.clone(),
                        resolve_link(&path, &target, kind == tar::EntryType::Symlink),
                    ));
                    continue;
                }
                _ => continue,
            }
            let size = entry.size();
            if METADATA_FILES.contains(&path.as_str()) {
                if size > MAX_METADATA_SIZE {
                    return Err(invalid(format!("{path} is too large")));
                }
                let mut v = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut v).map_err(read_err)?;
                self.metadata.insert(path, v);
                continue;
            }
            let expected = match path.strip_prefix("blobs/sha256/") {
                Some(hex) => Some(
                    Digest::from_sha256_hex(hex).map_err(|e| invalid(format!("{path}: {e}")))?,
                ),
                None if path.ends_with(".json") || path.ends_with("layer.tar") => None,
                None => continue,
            };
            let blob = self.read_blob(&mut entry, expected.as_ref(), size)?;
            self.files.insert(path, self.blobs.len());
            self.blobs.push(blob);
        }
        self.resolve_links();
        Ok(())
    }

    /// Maps every link to the file it points at (links to links too, a few levels deep).
    fn resolve_links(&mut self) {
        for _ in 0..8 {
            for (path, target) in &self.links {
                if let Some(i) = self.files.get(target).copied() {
                    self.files.entry(path.clone()).or_insert(i);
                }
            }
        }
    }

    /// Streams one archive file into an ingest, unpacking it on the way when it is a layer.
    fn read_blob<R: Read>(
        &mut self,
        entry: &mut R,
        expected: Option<&Digest>,
        size: u64,
    ) -> Result<ArchiveBlob, StoreError> {
        let mut head = Vec::with_capacity(512);
        entry.take(512).read_to_end(&mut head).map_err(read_err)?;
        let sniffed = sniff(&head);
        let mut ingest = self.store.content().begin_ingest()?;
        let mut rest = io::Cursor::new(head).chain(entry);
        let mut bytes = None;
        let mut unpacked = None;
        match sniffed {
            Sniffed::Other if size <= MAX_METADATA_SIZE => {
                let mut v = Vec::with_capacity(size as usize);
                rest.read_to_end(&mut v).map_err(read_err)?;
                ingest.write_all(&v).map_err(read_err)?;
                bytes = Some(v);
            }
            Sniffed::Other => {
                io::copy(&mut rest, &mut ingest).map_err(read_err)?;
            }
            Sniffed::Tar | Sniffed::Compressed => {
                unpacked =
                    self.unpack_layer(rest, &mut ingest, sniffed == Sniffed::Compressed, expected)?;
            }
        }
        let verified = ingest.verify(expected, Some(size))?;
        let info = verified.info().clone();
        if let Some(u) = unpacked.as_mut()
            && u.diff.is_none()
        {
            u.diff = Some((info.digest.clone(), info.size));
        }
        Ok(ArchiveBlob {
            info,
            ingest: Some(verified),
            bytes,
            is_layer: sniffed != Sniffed::Other,
            unpacked,
        })
    }

    /// Whether a layer with this diff id (or unpacked from this blob) is in the store.
    fn layer_present(&self, digest: &Digest) -> Result<bool, StoreError> {
        let conn = self.store.conn();
        Ok(conn
            .query_row(
                "SELECT 1 FROM layers WHERE diff_id = ?1 OR blob_digest = ?1 LIMIT 1",
                [digest.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Unpacks a layer into a new staging snapshot while teeing its raw bytes into `ingest`.
    /// A layer already in the store is only kept as a blob (it is unpacked from there in the
    /// rare case its chain turns out to be new). A file that does not unpack (not really a
    /// tar, a rejected entry) is kept as a blob too: if the manifest names it as a layer,
    /// applying it from the blob reports the error.
    fn unpack_layer<R: Read>(
        &mut self,
        reader: R,
        ingest: &mut Ingest,
        compressed: bool,
        known: Option<&Digest>,
    ) -> Result<Option<Unpacked>, StoreError> {
        // Big reads from the archive, big writes to the ingest; the tar parser's 512-byte
        // header reads are served from the buffer.
        let mut tee = io::BufReader::with_capacity(
            STREAM_BUFFER,
            TeeReader {
                inner: reader,
                sink: ingest,
            },
        );
        if let Some(d) = known
            && self.layer_present(d)?
        {
            io::copy(&mut tee, &mut io::sink()).map_err(read_err)?;
            return Ok(None);
        }
        let id = self.store.begin_snapshot("layer", None, None, None)?;
        self.staged.insert(id);
        let fs_dir = self.store.snapshot_dir(id).join("fs");
        let (applied, diff, split) = if compressed {
            let (applied, diff) = apply_compressed(&mut tee, &fs_dir);
            io::copy(&mut tee, &mut io::sink()).map_err(read_err)?;
            (applied, diff, false)
        } else {
            let mut recorder = SplitRecorder::new(&mut tee);
            let applied = apply_tar(&mut recorder, &fs_dir);
            io::copy(&mut recorder, &mut io::sink()).map_err(read_err)?;
            let split = applied.is_ok() && self.keep_tar_split(id, recorder);
            (
                applied.map(|s| s.content_size).map_err(StoreError::from),
                None,
                split,
            )
        };
        match (applied, diff) {
            (Ok(content_size), diff) if compressed == diff.is_some() => Ok(Some(Unpacked {
                snapshot: id,
                content_size,
                diff,
                split,
            })),
            (res, _) => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "archive file did not unpack; keeping it as a blob");
                }
                self.staged.remove(&id);
                self.store.abort_snapshot(id)?;
                Ok(None)
            }
        }
    }

    /// Writes the layer's tar-split next to its staging snapshot when the recorder could
    /// describe the stream exactly; returns whether it did (else the blob is kept).
    fn keep_tar_split<R: Read>(&self, snapshot: i64, recorder: SplitRecorder<R>) -> bool {
        let split = match recorder.finish() {
            Ok(s) => s,
            Err(why) => {
                tracing::debug!(snapshot, reason = %why, "keeping the layer blob: no tar-split");
                return false;
            }
        };
        let dir = self.store.snapshot_dir(snapshot);
        let written = split
            .check_files(&dir.join("fs"))
            .and_then(|()| split.write_to(&dir));
        if let Err(e) = written {
            tracing::warn!(snapshot, error = %e, "cannot write tar-split; keeping the layer blob");
            return false;
        }
        true
    }

    /// The bytes of a small archive file (config, manifest, index).
    fn small_file(&self, path: &str) -> Result<(usize, &[u8]), StoreError> {
        let path = clean_archive_path(path);
        let i = *self
            .files
            .get(&path)
            .ok_or_else(|| invalid(format!("{path} referenced by the archive is missing")))?;
        let bytes = self.blobs[i]
            .bytes
            .as_deref()
            .ok_or_else(|| invalid(format!("{path} is not a JSON document")))?;
        Ok((i, bytes))
    }

    fn file_index(&self, path: &str) -> Result<usize, StoreError> {
        let path = clean_archive_path(path);
        self.files
            .get(&path)
            .copied()
            .ok_or_else(|| invalid(format!("{path} referenced by the archive is missing")))
    }

    /// What the archive's manifest.json (or else index.json) says to create.
    fn plan(&self) -> Result<Vec<PlannedImage>, StoreError> {
        if let Some(m) = self.metadata.get("manifest.json") {
            let entries: Vec<DockerSaveEntry> =
                serde_json::from_slice(m).map_err(|e| invalid(format!("manifest.json: {e}")))?;
            return entries.iter().map(|e| self.plan_save_entry(e)).collect();
        }
        if let Some(i) = self.metadata.get("index.json") {
            let index = Index::from_json(i).map_err(|e| invalid(format!("index.json: {e}")))?;
            let mut out = Vec::new();
            for d in &index.manifests {
                self.plan_oci_descriptor(d, d, &mut out, 0)?;
            }
            return Ok(out);
        }
        Err(invalid("neither manifest.json nor index.json found"))
    }

    fn plan_save_entry(&self, e: &DockerSaveEntry) -> Result<PlannedImage, StoreError> {
        let (ci, config) = self.small_file(&e.config)?;
        let config_digest = &self.blobs[ci].info.digest;
        let parsed = parse_config(config_digest, config)?;
        let diff_ids = &parsed.rootfs.diff_ids;
        if diff_ids.len() != e.layers.len() {
            return Err(invalid(format!(
                "image {config_digest} has {} diff ids but {} layers",
                diff_ids.len(),
                e.layers.len()
            )));
        }
        let layers = e
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(path, diff_id)| {
                Ok(PlannedLayer {
                    file: self.file_index(path)?,
                    diff_id: diff_id.clone(),
                    media_type: None,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let refs = e
            .repo_tags
            .iter()
            .map(|t| Reference::parse_normalized_tagged(t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PlannedImage {
            config: config.to_vec(),
            manifest: None,
            layers,
            refs,
        })
    }

    fn blob_path(d: &Digest) -> String {
        format!("blobs/{}/{}", d.algorithm().as_str(), d.hex())
    }

    fn plan_oci_descriptor(
        &self,
        d: &Descriptor,
        named_by: &Descriptor,
        out: &mut Vec<PlannedImage>,
        depth: u32,
    ) -> Result<(), StoreError> {
        if depth > MAX_INDEX_DEPTH {
            return Err(invalid("index nesting too deep"));
        }
        let (_, data) = self.small_file(&Self::blob_path(&d.digest))?;
        let is_index = media_type::is_index(&d.media_type)
            || (!media_type::is_manifest(&d.media_type)
                && serde_json::from_slice::<serde_json::Value>(data)
                    .ok()
                    .and_then(|v| v.get("manifests").cloned())
                    .is_some());
        if is_index {
            let idx =
                Index::from_json(data).map_err(|e| invalid(format!("index {}: {e}", d.digest)))?;
            let chosen = idx.select(&Platform::host()).ok_or_else(|| {
                invalid(format!(
                    "index {} has no manifest for {}",
                    d.digest,
                    Platform::host()
                ))
            })?;
            return self.plan_oci_descriptor(chosen, named_by, out, depth + 1);
        }
        let m = Manifest::from_json(data)
            .map_err(|e| invalid(format!("manifest {}: {e}", d.digest)))?;
        let (_, config) = self.small_file(&Self::blob_path(&m.config.digest))?;
        let parsed = parse_config(&m.config.digest, config)?;
        if parsed.rootfs.diff_ids.len() != m.layers.len() {
            return Err(invalid(format!(
                "manifest {} layer count differs from its config",
                d.digest
            )));
        }
        let mut layers = Vec::with_capacity(m.layers.len());
        for (layer, diff_id) in m.layers.iter().zip(&parsed.rootfs.diff_ids) {
            let file = self
                .file_index(&Self::blob_path(&layer.digest))
                .map_err(|_| invalid(format!("layer blob {} is missing", layer.digest)))?;
            layers.push(PlannedLayer {
                file,
                diff_id: diff_id.clone(),
                media_type: Some(layer.media_type.clone()),
            });
        }
        out.push(PlannedImage {
            config: config.to_vec(),
            manifest: Some(d.digest.clone()),
            layers,
            refs: descriptor_name(named_by).into_iter().collect(),
        });
        Ok(())
    }

    /// One `syncfs` for every snapshot and blob written, then the blobs move in place (layer
    /// blobs no image references are dropped) and the renames are made durable. Blobs of
    /// layers with a tar-split are dropped before the sync, so their pages are never written.
    fn make_durable(&mut self, plans: &[PlannedImage]) -> Result<(), StoreError> {
        for b in &mut self.blobs {
            if b.unpacked.as_ref().is_some_and(|u| u.split) {
                b.ingest = None;
            }
        }
        let root = self.store.root();
        let f = File::open(root).map_err(io_err("open", root))?;
        nix::unistd::syncfs(&f).map_err(|e| StoreError::Io {
            op: "syncfs",
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        let referenced: HashSet<usize> = plans
            .iter()
            .flat_map(|p| p.layers.iter().map(|l| l.file))
            .collect();
        for (i, b) in self.blobs.iter_mut().enumerate() {
            let Some(ingest) = b.ingest.take() else {
                continue;
            };
            if !b.is_layer || referenced.contains(&i) {
                ingest.persist_synced()?;
            }
        }
        self.store.content().sync_blob_dir()?;
        Ok(())
    }

    fn commit(mut self, plans: Vec<PlannedImage>) -> Result<Vec<LoadedImage>, StoreError> {
        let mut out = Vec::with_capacity(plans.len());
        for p in plans {
            let mut parent: Option<Digest> = None;
            for l in &p.layers {
                parent = Some(self.commit_layer(parent.as_ref(), l)?);
            }
            let img = self
                .store
                .create_image(&p.config, p.manifest.as_ref(), &p.refs)?;
            out.push(LoadedImage {
                id: img.id,
                refs: p.refs,
            });
        }
        Ok(out)
    }

    /// Puts one layer of an image in place on `parent`: already there, committed from its
    /// staging snapshot, or (rarely: a layer that did not unpack while streaming, or one
    /// used on two different parents) unpacked from its stored blob. Returns its chain id.
    fn commit_layer(
        &mut self,
        parent: Option<&Digest>,
        l: &PlannedLayer,
    ) -> Result<Digest, StoreError> {
        let chain = chain_id(parent, &l.diff_id);
        {
            let lock = self.store.chain_lock(&chain);
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            if self.store.layer(&chain)?.is_some() {
                return Ok(chain);
            }
            if let Some(u) = self.blobs[l.file].unpacked.take() {
                let (diff_id, diff_size) = u.diff.clone().ok_or_else(|| {
                    invalid(format!(
                        "layer {} has no digest",
                        self.blobs[l.file].info.digest
                    ))
                })?;
                if diff_id != l.diff_id {
                    return Err(StoreError::DiffIdMismatch {
                        expected: l.diff_id.clone(),
                        actual: diff_id,
                    });
                }
                let blob = self.blobs[l.file].info.clone();
                self.commit_staged(parent, &chain, &u, diff_size, blob, l.media_type.as_deref())?;
                self.staged.remove(&u.snapshot);
                return Ok(chain);
            }
        }
        let blob = self.blobs[l.file].info.digest.clone();
        let info = self.store.apply_layer_blob(
            parent,
            &blob,
            l.media_type.as_deref(),
            Some(&l.diff_id),
        )?;
        Ok(info.chain_id)
    }

    /// Gives a staging snapshot its chain id and parent and records the layer, atomically.
    fn commit_staged(
        &self,
        parent: Option<&Digest>,
        chain: &Digest,
        u: &Unpacked,
        diff_size: u64,
        blob: BlobInfo,
        media_type: Option<&str>,
    ) -> Result<(), StoreError> {
        let parent_snapshot = match parent {
            Some(p) => Some(
                self.store
                    .layer(p)?
                    .ok_or_else(|| StoreError::LayerNotFound {
                        chain_id: p.clone(),
                    })?
                    .snapshot_id,
            ),
            None => None,
        };
        let diff_id = u.diff.as_ref().map(|(d, _)| d.to_string());
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE snapshots SET key = ?1, parent = ?2, state = 'committed' WHERE id = ?3 AND state = 'preparing'",
            params![chain.to_string(), parent_snapshot, u.snapshot],
        )?;
        tx.execute(
            "INSERT INTO layers (chain_id, diff_id, parent_chain, snapshot_id, blob_digest, blob_media_type, blob_size, diff_size, content_size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                chain.to_string(),
                diff_id,
                parent.map(|d| d.to_string()),
                u.snapshot,
                blob.digest.to_string(),
                media_type,
                blob.size as i64,
                diff_size as i64,
                u.content_size as i64
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
}

/// Unpacks a compressed layer, hashing the uncompressed stream; returns the bytes of file
/// content written and, when the whole stream decoded, the diff id and size.
fn apply_compressed<R: Read>(
    reader: R,
    fs_dir: &std::path::Path,
) -> (Result<u64, StoreError>, Option<(Digest, u64)>) {
    let decoded = match decompress(reader) {
        Ok((_, d)) => d,
        Err(e) => return (Err(read_err(e)), None),
    };
    let mut hashed = HashingReader {
        inner: decoded,
        digester: Digester::new(),
    };
    let applied = apply_tar(&mut hashed, fs_dir)
        .map(|s| s.content_size)
        .map_err(StoreError::from);
    if io::copy(&mut hashed, &mut io::sink()).is_err() {
        return (applied, None);
    }
    let len = hashed.digester.len();
    let diff = (hashed.digester.finish(), len);
    (applied, Some(diff))
}

/// Where an archive link points, as a clean archive path.
fn resolve_link(path: &str, target: &str, symlink: bool) -> String {
    if symlink && !target.starts_with('/') {
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        clean_archive_path(&format!("{dir}/{target}"))
    } else {
        clean_archive_path(target)
    }
}

/// What the first bytes of an archive file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    /// A plain tar (ustar/GNU magic at offset 257).
    Tar,
    /// gzip or zstd: only layers come compressed.
    Compressed,
    /// Anything else (JSON documents).
    Other,
}

fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Sniffed::Compressed
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Sniffed::Tar
    } else {
        Sniffed::Other
    }
}

/// Copies what it reads into the ingest (which hashes it) on the way through.
struct TeeReader<'a, R> {
    inner: R,
    sink: &'a mut Ingest,
}

impl<R: Read> Read for TeeReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
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
