//! Images in the store: creation from layers and a config, tags and digests, resolving what
//! users type, listing with the API's filters, Docker's untag-vs-delete rules, prune, history
//! and sizes.

use std::collections::{BTreeMap, HashMap, HashSet};

use berth_oci::{Digest, ImageConfig, Reference};
use rusqlite::{OptionalExtension, params};

use crate::db;
use crate::store::{LayerInfo, Store, StoreError, chain_ids, parse_db_digest, remove_tree};

/// An image as the store knows it.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image id: the digest of its config.
    pub id: Digest,
    /// The parsed config.
    pub config: ImageConfig,
    /// The config exactly as stored (its digest is the id).
    pub config_bytes: Vec<u8>,
    /// Digest of the manifest it was pulled or loaded with, if any.
    pub manifest_digest: Option<Digest>,
    /// The image it was committed or built from.
    pub parent: Option<Digest>,
    /// Chain ids of its layers, base first.
    pub layers: Vec<Digest>,
    /// Tags pointing at it.
    pub repo_tags: Vec<Reference>,
    /// Digest references pointing at it.
    pub repo_digests: Vec<Reference>,
    /// Bytes of file content in all its layers.
    pub size: u64,
}

impl Image {
    /// Tags as Docker shows them (`busybox:latest`).
    pub fn familiar_tags(&self) -> Vec<String> {
        self.repo_tags.iter().map(Reference::familiar).collect()
    }

    /// Digest references as Docker shows them (`busybox@sha256:...`).
    pub fn familiar_digests(&self) -> Vec<String> {
        self.repo_digests.iter().map(Reference::familiar).collect()
    }

    /// Creation time as Unix seconds (0 when unknown).
    pub fn created_unix(&self) -> i64 {
        created_unix(self.config.created.as_deref())
    }
}

fn created_unix(s: Option<&str>) -> i64 {
    s.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// A container that uses an image, as the engine reports it for delete and prune decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// The container id.
    pub container_id: String,
    /// The image it was created from.
    pub image_id: Digest,
    /// Whether it is running (running containers block even forced deletes).
    pub running: bool,
}

/// One line of an image delete or prune report, as Docker's API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteItem {
    /// A reference was removed (familiar form).
    Untagged(String),
    /// An image or layer was removed.
    Deleted(Digest),
}

/// Filters of `GET /images/json` and `docker images`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Show intermediate images (untagged parents of other images) too.
    pub all: bool,
    /// `dangling=true|false`: only untagged, or only tagged images.
    pub dangling: Option<bool>,
    /// `reference=` globs matched against familiar `name:tag` or `name` (any matches).
    pub reference: Vec<String>,
    /// `label=key` or `label=key=value` (all must match).
    pub label: Vec<String>,
    /// `before=<image>`: created before that image.
    pub before: Option<String>,
    /// `since=<image>`: created after that image.
    pub since: Option<String>,
}

/// One entry of an image listing.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    /// The image.
    pub image: Image,
    /// Bytes shared with other images (layers they also use).
    pub shared_size: u64,
    /// Containers using it (rootfs prepared from it).
    pub containers: u64,
}

/// One row of `docker history`, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The image id for the top entry, `<missing>` for the others (as Docker prints).
    pub id: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// The command.
    pub created_by: String,
    /// Tags (on the top entry).
    pub tags: Vec<String>,
    /// Layer size (0 for empty layers).
    pub size: u64,
    /// Comment.
    pub comment: String,
}

/// Options of an image delete (`docker rmi`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeleteOptions {
    /// `-f`: remove all tags of an image named by id, and images used by stopped containers.
    pub force: bool,
    /// `--no-prune` (API `noprune=1`): keep the untagged parents of a deleted image, which
    /// are otherwise deleted with it (as long as nothing else uses them).
    pub no_prune: bool,
}

/// Which images `docker image prune` removes.
#[derive(Debug, Clone, Default)]
pub struct PruneFilter {
    /// Every image no container uses, not only dangling ones (`-a`, `dangling=false`).
    pub all: bool,
    /// `label=k` / `label=k=v`: only images carrying all of these.
    pub labels: Vec<String>,
    /// `label!=k` / `label!=k=v`: not images matching all of these.
    pub labels_not: Vec<String>,
    /// `until=`: only images created before this Unix time (seconds).
    pub until: Option<i64>,
}

impl PruneFilter {
    fn selects(&self, img: &Image) -> bool {
        let labels = img.config.labels();
        if !matches_labels(&labels, &self.labels) {
            return false;
        }
        if !self.labels_not.is_empty() && matches_labels(&labels, &self.labels_not) {
            return false;
        }
        self.until.is_none_or(|u| img.created_unix() < u)
    }
}

impl Store {
    /// Records an image made of already unpacked layers (its config's diff ids) and points
    /// `refs` at it. Creating an image that exists only adds the references.
    pub fn create_image(
        &self,
        config_bytes: &[u8],
        manifest_digest: Option<&Digest>,
        refs: &[Reference],
    ) -> Result<Image, StoreError> {
        let blob = self.content.put_bytes(config_bytes)?;
        let id = blob.digest;
        let config = ImageConfig::from_json(config_bytes).map_err(|source| StoreError::Config {
            digest: id.clone(),
            source,
        })?;
        let chains = chain_ids(&config.rootfs.diff_ids);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let exists: bool = tx
            .query_row(
                "SELECT 1 FROM images WHERE id = ?1",
                [id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !exists {
            let mut snapshots = Vec::with_capacity(chains.len());
            for c in &chains {
                let snap: Option<i64> = tx
                    .query_row(
                        "SELECT snapshot_id FROM layers WHERE chain_id = ?1",
                        [c.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?;
                snapshots.push(snap.ok_or_else(|| StoreError::LayerNotFound {
                    chain_id: c.clone(),
                })?);
            }
            tx.execute(
                "INSERT INTO images (id, config, created, manifest_digest, parent, top_chain, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id.to_string(),
                    config_bytes,
                    config.created,
                    manifest_digest.map(|d| d.to_string()),
                    config.parent.as_deref().filter(|p| !p.is_empty()),
                    chains.last().map(|d| d.to_string()),
                    db::now()
                ],
            )?;
            for (i, c) in chains.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?1, ?2, ?3)",
                    params![id.to_string(), i as i64, c.to_string()],
                )?;
            }
            if let Some(s) = snapshots.last() {
                tx.execute(
                    "UPDATE snapshots SET refcount = refcount + 1 WHERE id = ?1",
                    [s],
                )?;
            }
        } else if let Some(m) = manifest_digest {
            tx.execute(
                "UPDATE images SET manifest_digest = ?1 WHERE id = ?2 AND manifest_digest IS NULL",
                params![m.to_string(), id.to_string()],
            )?;
        }
        for r in refs {
            tx.execute(
                "INSERT INTO refs (name, image_id, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, created = excluded.created",
                params![r.to_string(), id.to_string(), db::now()],
            )?;
        }
        tx.commit()?;
        drop(conn);
        self.image_by_id(&id)
    }

    /// Points `reference` (a tag or digest reference) at the image `target` names.
    pub fn tag(&self, target: &str, reference: &Reference) -> Result<(), StoreError> {
        let img = self.resolve(target)?;
        let r = reference.clone().with_default_tag();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO refs (name, image_id, created) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, created = excluded.created",
            params![r.to_string(), img.id.to_string(), db::now()],
        )?;
        Ok(())
    }

    /// Removes one reference; the image stays (possibly dangling).
    pub fn untag(&self, reference: &Reference) -> Result<Digest, StoreError> {
        let r = reference.clone().with_default_tag();
        let conn = self.conn();
        let id: Option<String> = conn
            .query_row(
                "SELECT image_id FROM refs WHERE name = ?1",
                [r.to_string()],
                |x| x.get(0),
            )
            .optional()?;
        let id = id.ok_or_else(|| StoreError::ReferenceNotFound { name: r.familiar() })?;
        conn.execute("DELETE FROM refs WHERE name = ?1", [r.to_string()])?;
        parse_db_digest(&id)
    }

    /// Finds the image a user string names: a reference (`busybox`, `name:tag`,
    /// `name@sha256:...`), a full id (`sha256:...` or 64 hex) or a unique id prefix.
    pub fn resolve(&self, name: &str) -> Result<Image, StoreError> {
        self.resolve_with_ref(name).map(|(i, _)| i)
    }

    /// Like [`Store::resolve`], also telling which reference matched (None when by id).
    pub fn resolve_with_ref(&self, name: &str) -> Result<(Image, Option<Reference>), StoreError> {
        let not_found = || StoreError::ImageNotFound {
            name: name.to_string(),
        };
        if let Some(hex) = name.strip_prefix("sha256:") {
            return Ok((self.image_by_prefix(hex)?.ok_or_else(not_found)?, None));
        }
        let is_hex = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if name.len() == 64 && is_hex {
            return Ok((self.image_by_prefix(name)?.ok_or_else(not_found)?, None));
        }
        let parsed = Reference::parse_normalized(name);
        if let Ok(r) = &parsed {
            let r = r.clone().with_default_tag();
            if let Some(img) = self.image_by_ref(&r)? {
                return Ok((img, Some(r)));
            }
        }
        if is_hex && let Some(img) = self.image_by_prefix(name)? {
            return Ok((img, None));
        }
        parsed?;
        Err(not_found())
    }

    fn image_by_ref(&self, r: &Reference) -> Result<Option<Image>, StoreError> {
        let key = match (r.tag(), r.digest()) {
            (Some(_), Some(d)) => Reference::parse_normalized(&r.name())?
                .with_digest(d.clone())
                .to_string(),
            _ => r.to_string(),
        };
        let id: Option<String> = {
            let conn = self.conn();
            conn.query_row("SELECT image_id FROM refs WHERE name = ?1", [key], |x| {
                x.get(0)
            })
            .optional()?
        };
        match id {
            Some(id) => Ok(Some(self.image_by_id(&parse_db_digest(&id)?)?)),
            None => Ok(None),
        }
    }

    fn image_by_prefix(&self, hex: &str) -> Result<Option<Image>, StoreError> {
        if hex.is_empty() || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Ok(None);
        }
        let ids: Vec<String> = {
            let conn = self.conn();
            let mut st =
                conn.prepare("SELECT id FROM images WHERE id >= ?1 AND id < ?2 LIMIT 2")?;
            let lo = format!("sha256:{hex}");
            let hi = format!("sha256:{hex}\u{7f}");
            st.query_map([lo, hi], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        match ids.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(self.image_by_id(&parse_db_digest(one)?)?)),
            _ => Err(StoreError::Conflict {
                message: format!("multiple IDs found with provided prefix: {hex}"),
            }),
        }
    }

    /// The image with exactly this id.
    pub fn image_by_id(&self, id: &Digest) -> Result<Image, StoreError> {
        let conn = self.conn();
        let row: Option<(Vec<u8>, Option<String>, Option<String>)> = conn
            .query_row(
                "SELECT config, manifest_digest, parent FROM images WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (config_bytes, manifest, parent) = row.ok_or_else(|| StoreError::ImageNotFound {
            name: id.to_string(),
        })?;
        let config =
            ImageConfig::from_json(&config_bytes).map_err(|source| StoreError::Config {
                digest: id.clone(),
                source,
            })?;
        let mut st = conn.prepare(
            "SELECT il.chain_id, l.content_size FROM image_layers il JOIN layers l ON l.chain_id = il.chain_id WHERE il.image_id = ?1 ORDER BY il.idx",
        )?;
        let layer_rows: Vec<(String, i64)> = st
            .query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut st = conn.prepare("SELECT name FROM refs WHERE image_id = ?1 ORDER BY name")?;
        let names: Vec<String> = st
            .query_map([id.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let (mut repo_tags, mut repo_digests) = (Vec::new(), Vec::new());
        for n in names {
            let r = Reference::parse_normalized(&n)?;
            if r.digest().is_some() {
                repo_digests.push(r);
            } else {
                repo_tags.push(r);
            }
        }
        Ok(Image {
            id: id.clone(),
            config,
            config_bytes,
            manifest_digest: manifest.as_deref().map(parse_db_digest).transpose()?,
            parent: parent.as_deref().and_then(|p| Digest::parse(p).ok()),
            layers: layer_rows
                .iter()
                .map(|(c, _)| parse_db_digest(c))
                .collect::<Result<_, _>>()?,
            repo_tags,
            repo_digests,
            size: layer_rows.iter().map(|(_, s)| *s as u64).sum(),
        })
    }

    /// The layers of an image, base first.
    pub fn image_layers(&self, image: &Image) -> Result<Vec<LayerInfo>, StoreError> {
        image
            .layers
            .iter()
            .map(|c| {
                self.layer(c)?.ok_or_else(|| StoreError::LayerNotFound {
                    chain_id: c.clone(),
                })
            })
            .collect()
    }

    /// Ids of every image.
    pub fn image_ids(&self) -> Result<Vec<Digest>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id FROM images ORDER BY id")?;
        let ids: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        ids.iter().map(|s| parse_db_digest(s)).collect()
    }

    /// Lists images with Docker's filters, newest first, with shared sizes and container
    /// counts (what `docker images` and `docker system df` show).
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<ImageSummary>, StoreError> {
        let images: Vec<Image> = self
            .image_ids()?
            .iter()
            .map(|id| self.image_by_id(id))
            .collect::<Result<_, _>>()?;
        let before = filter
            .before
            .as_deref()
            .map(|b| self.resolve(b))
            .transpose()?
            .map(|i| i.created_unix());
        let since = filter
            .since
            .as_deref()
            .map(|b| self.resolve(b))
            .transpose()?
            .map(|i| i.created_unix());
        let parents: HashSet<Digest> = images.iter().filter_map(|i| i.parent.clone()).collect();
        let mut layer_users: HashMap<Digest, u64> = HashMap::new();
        for i in &images {
            for l in &i.layers {
                *layer_users.entry(l.clone()).or_default() += 1;
            }
        }
        let containers = self.container_counts()?;
        let mut out = Vec::new();
        for img in images {
            let tagged = !img.repo_tags.is_empty() || !img.repo_digests.is_empty();
            if !filter.all && !tagged && parents.contains(&img.id) && filter.dangling.is_none() {
                continue;
            }
            if let Some(d) = filter.dangling
                && d != img.repo_tags.is_empty()
            {
                continue;
            }
            if !filter.reference.is_empty() && !matches_reference(&img, &filter.reference) {
                continue;
            }
            if !matches_labels(&img.config.labels(), &filter.label) {
                continue;
            }
            if before.is_some_and(|b| img.created_unix() >= b)
                || since.is_some_and(|s| img.created_unix() <= s)
            {
                continue;
            }
            let mut shared = 0;
            for l in &img.layers {
                if layer_users.get(l).copied().unwrap_or(0) > 1 {
                    shared += self.layer(l)?.map(|x| x.content_size).unwrap_or(0);
                }
            }
            let n = containers.get(&img.id).copied().unwrap_or(0);
            out.push(ImageSummary {
                image: img,
                shared_size: shared,
                containers: n,
            });
        }
        out.sort_by(|a, b| {
            b.image
                .created_unix()
                .cmp(&a.image.created_unix())
                .then(a.image.id.cmp(&b.image.id))
        });
        Ok(out)
    }

    fn container_counts(&self) -> Result<HashMap<Digest, u64>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT image_id, COUNT(*) FROM snapshots WHERE kind = 'rw' AND image_id IS NOT NULL GROUP BY image_id")?;
        let rows: Vec<(String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut m = HashMap::new();
        for (id, n) in rows {
            m.insert(parse_db_digest(&id)?, n as u64);
        }
        Ok(m)
    }

    /// `docker history`: one row per history entry, newest first, layer sizes attached.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>, StoreError> {
        let img = self.resolve(name)?;
        let layers = self.image_layers(&img)?;
        let mut sizes = layers.iter().map(|l| l.content_size);
        let mut rows = Vec::new();
        if img.config.history.is_empty() {
            for l in &layers {
                rows.push(HistoryItem {
                    id: "<missing>".to_string(),
                    created: img.created_unix(),
                    created_by: String::new(),
                    tags: Vec::new(),
                    size: l.content_size,
                    comment: String::new(),
                });
            }
        }
        for h in &img.config.history {
            let size = if h.empty_layer {
                0
            } else {
                sizes.next().unwrap_or(0)
            };
            rows.push(HistoryItem {
                id: "<missing>".to_string(),
                created: created_unix(h.created.as_deref()),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: Vec::new(),
                size,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        rows.reverse();
        if let Some(top) = rows.first_mut() {
            top.id = img.id.to_string();
            top.tags = img.familiar_tags();
        }
        Ok(rows)
    }

    /// `docker rmi`: removes the named reference, and the image when nothing else names it,
    /// with Docker's rules: an image named by id with several tags needs `force`; an image
    /// used by a container needs `force` (and is never removed while it runs).
    pub fn delete(
        &self,
        name: &str,
        opts: DeleteOptions,
        users: &[ImageUser],
    ) -> Result<Vec<DeleteItem>, StoreError> {
        let (img, by_ref) = self.resolve_with_ref(name)?;
        let all_users = users;
        let users: Vec<&ImageUser> = users.iter().filter(|u| u.image_id == img.id).collect();
        let mut items = Vec::new();
        if let Some(r) = &by_ref {
            let others = img.repo_tags.iter().filter(|t| *t != r).count();
            if others > 0 || (r.digest().is_some() && !img.repo_tags.is_empty()) {
                self.untag(r)?;
                items.push(DeleteItem::Untagged(r.familiar()));
                return Ok(items);
            }
        } else if img.repo_tags.len() > 1 && !opts.force {
            return Err(StoreError::Conflict {
                message: format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    img.id.short()
                ),
            });
        }
        if let Some(u) = users.iter().find(|u| u.running) {
            return Err(StoreError::Conflict {
                message: format!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                    display_name(name, &img),
                    short_id(&u.container_id)
                ),
            });
        }
        if let Some(u) = users.first()
            && !opts.force
        {
            return Err(StoreError::Conflict {
                message: format!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    display_name(name, &img),
                    short_id(&u.container_id)
                ),
            });
        }
        if self.has_children(&img.id)? {
            return Err(StoreError::Conflict {
                message: format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    img.id.short()
                ),
            });
        }
        for r in img.repo_tags.iter().chain(img.repo_digests.iter()) {
            items.push(DeleteItem::Untagged(r.familiar()));
        }
        self.remove_image_record(&img.id)?;
        items.push(DeleteItem::Deleted(img.id.clone()));
        if !opts.no_prune {
            self.delete_untagged_parents(img.parent.clone(), all_users, &mut items)?;
        }
        self.gc()?;
        Ok(items)
    }

    /// Docker's rmi without `--no-prune`: walks up the parent chain deleting parents that
    /// nothing names or uses any more; stops quietly at the first one still needed.
    fn delete_untagged_parents(
        &self,
        mut parent: Option<Digest>,
        users: &[ImageUser],
        items: &mut Vec<DeleteItem>,
    ) -> Result<(), StoreError> {
        while let Some(p) = parent {
            let img = match self.image_by_id(&p) {
                Ok(img) => img,
                Err(StoreError::ImageNotFound { .. }) => break,
                Err(e) => return Err(e),
            };
            let needed = !img.repo_tags.is_empty()
                || users.iter().any(|u| u.image_id == p)
                || self.has_children(&p)?;
            if needed {
                break;
            }
            for r in &img.repo_digests {
                items.push(DeleteItem::Untagged(r.familiar()));
            }
            self.remove_image_record(&p)?;
            items.push(DeleteItem::Deleted(p));
            parent = img.parent;
        }
        Ok(())
    }

    fn has_children(&self, id: &Digest) -> Result<bool, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT 1 FROM images WHERE parent = ?1 LIMIT 1",
                [id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Deletes an image record and its references, releasing its layers.
    pub(crate) fn remove_image_record(&self, id: &Digest) -> Result<(), StoreError> {
        let dirs = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let top: Option<Option<String>> = tx
                .query_row(
                    "SELECT top_chain FROM images WHERE id = ?1",
                    [id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(top) = top else {
                return Ok(());
            };
            tx.execute("DELETE FROM images WHERE id = ?1", [id.to_string()])?;
            let mut dirs = Vec::new();
            if let Some(top) = top {
                let snap: Option<i64> = tx
                    .query_row(
                        "SELECT snapshot_id FROM layers WHERE chain_id = ?1",
                        [top],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(s) = snap {
                    dirs = Store::release_snapshot(&tx, s)?;
                }
            }
            tx.commit()?;
            dirs
        };
        for d in dirs {
            remove_tree(&self.snapshot_dir(d))?;
        }
        Ok(())
    }

    /// `docker image prune`: removes dangling images (or, with `all`, every image no
    /// container uses) that match `labels`; returns what went and the bytes reclaimed.
    pub fn prune(
        &self,
        all: bool,
        labels: &[String],
        users: &[ImageUser],
    ) -> Result<(Vec<DeleteItem>, u64), StoreError> {
        let filter = PruneFilter {
            all,
            labels: labels.to_vec(),
            ..PruneFilter::default()
        };
        self.prune_matching(&filter, users)
    }

    /// `docker image prune` with all of its filters (`dangling`, `label`, `label!`, `until`).
    pub fn prune_matching(
        &self,
        filter: &PruneFilter,
        users: &[ImageUser],
    ) -> Result<(Vec<DeleteItem>, u64), StoreError> {
        let all = filter.all;
        let used: HashSet<&Digest> = users.iter().map(|u| &u.image_id).collect();
        let counts = self.container_counts()?;
        let mut items = Vec::new();
        let mut reclaimed = 0;
        let before_dirs = self.snapshot_bytes()?;
        for id in self.image_ids()? {
            let img = self.image_by_id(&id)?;
            let dangling = img.repo_tags.is_empty();
            if (!all && !dangling) || used.contains(&id) || counts.contains_key(&id) {
                continue;
            }
            if !filter.selects(&img) || self.has_children(&id)? {
                continue;
            }
            for r in img.repo_tags.iter().chain(img.repo_digests.iter()) {
                items.push(DeleteItem::Untagged(r.familiar()));
            }
            self.remove_image_record(&id)?;
            items.push(DeleteItem::Deleted(id));
        }
        reclaimed += self.gc()?;
        reclaimed += before_dirs.saturating_sub(self.snapshot_bytes()?);
        Ok((items, reclaimed))
    }

    fn snapshot_bytes(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn.query_row(
            "SELECT COALESCE(SUM(content_size), 0) FROM layers",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn display_name(name: &str, img: &Image) -> String {
    if name.starts_with("sha256:") || img.id.hex().starts_with(name) {
        img.id.short().to_string()
    } else {
        name.to_string()
    }
}

fn matches_labels(labels: &BTreeMap<String, String>, wanted: &[String]) -> bool {
    wanted.iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(w.as_str()),
    })
}

fn matches_reference(img: &Image, patterns: &[String]) -> bool {
    img.repo_tags
        .iter()
        .chain(img.repo_digests.iter())
        .any(|r| {
            let name = r.familiar_name();
            let full = r.familiar();
            patterns.iter().any(|p| {
                // A tag or digest lives in the last path component only: the ':' of a
                // registry port (`127.0.0.1:5000/x`) is part of the name.
                let last = p.rsplit('/').next().unwrap_or(p);
                if last.contains(':') || p.contains('@') {
                    glob_match(p, &full)
                } else {
                    glob_match(p, &name)
                }
            })
        })
}

/// Go's `path.Match` subset Docker's reference filter uses: `*` (not across `/`), `?`, and
/// literal characters.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| go(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && t[0] != '/' && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_go_path_match() {
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("*", "busybox"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("*/*", "a/b"));
        assert!(glob_match("busybox:l?test", "busybox:latest"));
        assert!(!glob_match("busybox", "busybox2"));
    }
}
