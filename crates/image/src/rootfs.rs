//! Container root filesystems: a writable snapshot on top of an image's layers, described as
//! an overlay mount; its changes (`docker diff`), its export as a layer, and `commit`.

use std::io::Write;
use std::path::PathBuf;

use berth_oci::{ContainerConfig, Digest, History, ImageConfig, Reference};
use rusqlite::{OptionalExtension, params};

use crate::diff::{self, Change};
use crate::images::Image;
use crate::mount::{OverlayMount, RootfsMount};
use crate::store::{BlobSpec, Store, StoreError, io_err, remove_tree};
use crate::{db, media_type_tar};

/// What `docker commit` changes besides adding the layer.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The new image's container defaults (None keeps the base image's).
    pub config: Option<ContainerConfig>,
    /// `--author`.
    pub author: Option<String>,
    /// `--message`.
    pub comment: Option<String>,
    /// The reference to tag the new image with.
    pub reference: Option<Reference>,
}

impl Store {
    /// Creates the writable snapshot of container `container_id` on top of `image` and returns
    /// how to mount it.
    pub fn prepare_rootfs(
        &self,
        container_id: &str,
        image: &Digest,
    ) -> Result<RootfsMount, StoreError> {
        let img = self.image_by_id(image)?;
        let top = match img.layers.last() {
            Some(c) => Some(
                self.layer(c)?
                    .ok_or_else(|| StoreError::LayerNotFound {
                        chain_id: c.clone(),
                    })?
                    .snapshot_id,
            ),
            None => None,
        };
        if self.rw_snapshot(container_id)?.is_some() {
            return Err(StoreError::RootfsExists {
                container_id: container_id.to_string(),
            });
        }
        let id = self
            .begin_snapshot("rw", Some(&rw_key(container_id)), top, Some(&img.id))
            .map_err(|e| match e {
                StoreError::Db { .. } => StoreError::RootfsExists {
                    container_id: container_id.to_string(),
                },
                e => e,
            })?;
        let committed = (|| -> Result<(), StoreError> {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE snapshots SET state = 'committed' WHERE id = ?1",
                [id],
            )?;
            if let Some(p) = top {
                tx.execute(
                    "UPDATE snapshots SET refcount = refcount + 1 WHERE id = ?1",
                    [p],
                )?;
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = committed {
            self.abort_snapshot(id)?;
            return Err(e);
        }
        self.rootfs(container_id)
    }

    /// How to mount the root filesystem of `container_id`.
    pub fn rootfs(&self, container_id: &str) -> Result<RootfsMount, StoreError> {
        let (id, parent, _) =
            self.rw_snapshot(container_id)?
                .ok_or_else(|| StoreError::RootfsNotFound {
                    container_id: container_id.to_string(),
                })?;
        let dir = self.snapshot_dir(id);
        let lowerdirs = self.lower_dirs(parent)?;
        if lowerdirs.is_empty() {
            return Ok(RootfsMount::Bind {
                source: dir.join("fs"),
            });
        }
        Ok(RootfsMount::Overlay(OverlayMount {
            lowerdirs,
            upperdir: dir.join("fs"),
            workdir: dir.join("work"),
            base: self.snapshots_dir(),
        }))
    }

    /// The writable directory of a container (its overlay upper dir).
    pub fn rootfs_upper(&self, container_id: &str) -> Result<PathBuf, StoreError> {
        let (id, _, _) =
            self.rw_snapshot(container_id)?
                .ok_or_else(|| StoreError::RootfsNotFound {
                    container_id: container_id.to_string(),
                })?;
        Ok(self.snapshot_dir(id).join("fs"))
    }

    /// Bytes of file content the container wrote (Docker's `SizeRw`).
    pub fn rootfs_size(&self, container_id: &str) -> Result<u64, StoreError> {
        let upper = self.rootfs_upper(container_id)?;
        let mut total = 0;
        for e in walkdir::WalkDir::new(&upper) {
            let e = e.map_err(|e| StoreError::Io {
                op: "walk",
                path: upper.clone(),
                source: e.into(),
            })?;
            if e.file_type().is_file() {
                total += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        Ok(total)
    }

    /// The directory holding a layer's files (for `GraphDriver` data in image inspect).
    pub fn layer_dir(&self, layer: &crate::store::LayerInfo) -> PathBuf {
        self.snapshot_dir(layer.snapshot_id).join("fs")
    }

    /// Removes a container's writable snapshot (it must be unmounted).
    pub fn remove_rootfs(&self, container_id: &str) -> Result<(), StoreError> {
        let (id, parent, _) =
            self.rw_snapshot(container_id)?
                .ok_or_else(|| StoreError::RootfsNotFound {
                    container_id: container_id.to_string(),
                })?;
        let dirs = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM snapshots WHERE id = ?1", [id])?;
            let dirs = match parent {
                Some(p) => Store::release_snapshot(&tx, p)?,
                None => Vec::new(),
            };
            tx.commit()?;
            dirs
        };
        remove_tree(&self.snapshot_dir(id))?;
        for d in dirs {
            remove_tree(&self.snapshot_dir(d))?;
        }
        Ok(())
    }

    /// Containers with a root filesystem here and the image each was made from.
    pub fn rootfs_users(&self) -> Result<Vec<(String, Option<Digest>)>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT key, image_id FROM snapshots WHERE kind = 'rw' AND state = 'committed'",
        )?;
        let rows: Vec<(String, Option<String>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows
            .into_iter()
            .map(|(k, i)| {
                (
                    k.trim_start_matches("rw:").to_string(),
                    i.and_then(|i| Digest::parse(&i).ok()),
                )
            })
            .collect())
    }

    /// `docker diff`: what the container changed, sorted by path.
    pub fn changes(&self, container_id: &str) -> Result<Vec<Change>, StoreError> {
        let (id, parent, _) =
            self.rw_snapshot(container_id)?
                .ok_or_else(|| StoreError::RootfsNotFound {
                    container_id: container_id.to_string(),
                })?;
        let lowers = self.lower_dirs(parent)?;
        Ok(diff::changes(&self.snapshot_dir(id).join("fs"), &lowers)?)
    }

    /// Writes the container's changes as an OCI layer tar.
    pub fn export_diff<W: Write>(&self, container_id: &str, w: W) -> Result<W, StoreError> {
        let upper = self.rootfs_upper(container_id)?;
        Ok(diff::write_layer_tar(&upper, w)?)
    }

    /// `docker commit`: the container's changes become a new layer on top of its image, with
    /// a new config; tagged with `opts.reference` when given.
    pub fn commit(&self, container_id: &str, opts: &CommitOptions) -> Result<Image, StoreError> {
        let _lease = self.lease();
        let (_, _, image_id) =
            self.rw_snapshot(container_id)?
                .ok_or_else(|| StoreError::RootfsNotFound {
                    container_id: container_id.to_string(),
                })?;
        let base_id = image_id.ok_or_else(|| StoreError::RootfsNotFound {
            container_id: container_id.to_string(),
        })?;
        let base = self.image_by_id(&base_id)?;
        let mut ingest = self.content.begin_ingest()?;
        let upper = self.rootfs_upper(container_id)?;
        diff::write_layer_tar(&upper, &mut ingest)?;
        ingest.flush().map_err(io_err("write", &upper))?;
        let blob = ingest.commit(None, None)?;
        let layer = self.apply_layer_blob(
            base.layers.last(),
            &blob.digest,
            Some(media_type_tar()),
            None,
        )?;
        let now = db::now();
        let mut cfg: ImageConfig = base.config.clone();
        cfg.rootfs.diff_ids.push(layer.diff_id.clone());
        cfg.history.push(History {
            created: Some(now.clone()),
            created_by: None,
            author: opts.author.clone(),
            comment: opts.comment.clone(),
            empty_layer: false,
        });
        cfg.created = Some(now);
        cfg.author = opts.author.clone();
        cfg.comment = opts.comment.clone();
        cfg.container = Some(container_id.to_string());
        cfg.parent = Some(base.id.to_string());
        if let Some(c) = &opts.config {
            cfg.config = Some(c.clone());
        }
        let bytes = serde_json::to_vec(&cfg).map_err(|source| StoreError::Config {
            digest: base.id.clone(),
            source,
        })?;
        let refs: Vec<Reference> = opts
            .reference
            .iter()
            .map(|r| r.clone().with_default_tag())
            .collect();
        self.create_image(&bytes, None, &refs)
    }

    /// Imports a root filesystem tarball (plain or compressed) as a one-layer image with
    /// `config` (the caller applies CMD/ENV/... changes to it first).
    pub fn import<R: std::io::Read>(
        &self,
        reader: R,
        mut config: ImageConfig,
        comment: Option<&str>,
        reference: Option<&Reference>,
    ) -> Result<Image, StoreError> {
        let _lease = self.lease();
        let layer = self.apply_layer_stream(None, reader, &BlobSpec::default(), None)?;
        let now = db::now();
        if config.architecture.is_empty() {
            let host = berth_oci::Platform::host();
            config.architecture = host.architecture;
            config.os = host.os;
            config.variant = host.variant;
        }
        config.rootfs.diff_ids = vec![layer.diff_id.clone()];
        config.history = vec![History {
            created: Some(now.clone()),
            created_by: Some("berth import".to_string()),
            author: None,
            comment: Some(comment.unwrap_or("Imported from -").to_string()),
            empty_layer: false,
        }];
        config.created = Some(now);
        config.comment = comment.map(str::to_string);
        let bytes = serde_json::to_vec(&config).map_err(|source| StoreError::Config {
            digest: layer.diff_id.clone(),
            source,
        })?;
        let refs: Vec<Reference> = reference
            .iter()
            .map(|r| (*r).clone().with_default_tag())
            .collect();
        self.create_image(&bytes, None, &refs)
    }

    fn rw_snapshot(&self, container_id: &str) -> Result<Option<RwSnapshot>, StoreError> {
        let conn = self.conn();
        let row: Option<(i64, Option<i64>, Option<String>)> = conn
            .query_row(
                "SELECT id, parent, image_id FROM snapshots WHERE key = ?1 AND kind = 'rw' AND state = 'committed'",
                params![rw_key(container_id)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.map(|(i, p, img)| (i, p, img.and_then(|x| Digest::parse(&x).ok()))))
    }

    /// Layer directories from `top` down to the base (top-most first).
    fn lower_dirs(&self, mut cur: Option<i64>) -> Result<Vec<PathBuf>, StoreError> {
        let conn = self.conn();
        let mut out = Vec::new();
        while let Some(id) = cur {
            out.push(self.snapshot_dir(id).join("fs"));
            cur = conn.query_row("SELECT parent FROM snapshots WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        }
        Ok(out)
    }
}

/// A container's writable snapshot: its id, the layer snapshot below it, its image.
type RwSnapshot = (i64, Option<i64>, Option<Digest>);

/// rw snapshot keys live in the same column as chain ids; the prefix keeps them apart.
fn rw_key(container_id: &str) -> String {
    format!("rw:{container_id}")
}
