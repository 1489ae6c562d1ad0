//! The engine's door into the image store (helper crate `berth_image`): every store call runs
//! in `spawn_blocking`; store errors become API errors with Docker's words; container root
//! filesystems are prepared, mounted at `containers/<id>/rootfs` and removed here.

use crate::OpenError;
use berth_api::config::ContainerConfig;
use berth_api::image::{
    HistoryItem, ImageDeleteItem, ImageInspect, ImageListOptions, ImagePruneResponse,
    ImageRemoveOptions, ImageSummary, ImportOptions, RootFs, TagOptions,
};
use berth_api::{ApiError, ApiResult, ByteStream, ErrorKind, Filters};
use berth_image::Store;
use berth_oci::Reference;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An image resolved for a container create.
pub struct ResolvedImage {
    /// `sha256:...`.
    pub id: String,
    /// The name as the user gave it (Docker shows it in `ps`).
    pub reference: String,
    /// The image's container defaults.
    pub config: ContainerConfig,
}

/// A container that uses an image.
pub struct ImageUse {
    /// Container id.
    pub container_id: String,
    /// Image id.
    pub image_id: String,
    /// Whether the container is live.
    pub running: bool,
}

/// The image store, shared with blocking tasks.
pub struct Images {
    store: Arc<Store>,
}

fn store_error(e: berth_image::StoreError) -> ApiError {
    let kind = match e.kind() {
        berth_oci::ErrorKind::NotFound => ErrorKind::NotFound,
        berth_oci::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
        berth_oci::ErrorKind::Conflict => ErrorKind::Conflict,
        berth_oci::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
        berth_oci::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        berth_oci::ErrorKind::Unavailable => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

impl Images {
    /// Opens (and repairs) the store under the data root.
    pub async fn open(data_root: &Path) -> Result<Images, OpenError> {
        let root = data_root.to_path_buf();
        let store = tokio::task::spawn_blocking(move || Store::open(&root))
            .await
            .map_err(|e| OpenError::Images(e.to_string()))?
            .map_err(|e| OpenError::Images(e.to_string()))?;
        Ok(Images {
            store: Arc::new(store),
        })
    }

    /// The store itself, for the registry client (it runs its own blocking work).
    pub(crate) fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The local tags of `repo`'s repository (`docker push --all-tags`).
    pub(crate) async fn repo_tags(&self, repo: &Reference) -> ApiResult<Vec<Reference>> {
        let name = repo.name();
        self.blocking(move |s| {
            let mut tags = Vec::new();
            for id in s.image_ids()? {
                let img = s.image_by_id(&id)?;
                tags.extend(img.repo_tags.into_iter().filter(|r| r.name() == name));
            }
            tags.sort_by_key(|r| r.to_string());
            Ok(tags)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, berth_image::StoreError> + Send + 'static,
    ) -> ApiResult<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ApiError::internal(format!("image store task: {e}")))?
            .map_err(store_error)
    }

    /// Resolves what the user typed; a missing image is Docker's "No such image: x:latest".
    pub async fn resolve(&self, name: &str) -> ApiResult<ResolvedImage> {
        let n = name.to_string();
        let familiar = Reference::parse_normalized(name)
            .map(|r| r.with_default_tag().familiar())
            .unwrap_or_else(|_| name.to_string());
        let img = self.blocking(move |s| s.resolve(&n)).await.map_err(|e| {
            if e.kind == ErrorKind::NotFound {
                ApiError::no_such_image(&familiar)
            } else {
                e
            }
        })?;
        let config = img
            .config
            .config
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Ok(ResolvedImage {
            id: img.id.to_string(),
            reference: name.to_string(),
            config,
        })
    }

    /// Number of images, for `docker info`.
    pub async fn count(&self) -> i64 {
        self.blocking(|s| s.image_ids())
            .await
            .map(|v| v.len() as i64)
            .unwrap_or(0)
    }

    /// Prepares the writable layer of container `id` on image `image_id`; returns the key to
    /// mount and remove it (the container id), and GraphDriver.Data.
    pub async fn prepare_rootfs(
        &self,
        id: &str,
        image_id: &str,
    ) -> ApiResult<(String, HashMap<String, String>)> {
        let digest: berth_oci::Digest = image_id
            .parse()
            .map_err(|e| ApiError::invalid(format!("image id {image_id}: {e}")))?;
        let key = id.to_string();
        let mount = self
            .blocking(move |s| s.prepare_rootfs(&key, &digest))
            .await?;
        let mut data = HashMap::new();
        match &mount {
            berth_image::RootfsMount::Overlay(o) => {
                let lower: Vec<String> = o
                    .lowerdirs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                data.insert("LowerDir".to_string(), lower.join(":"));
                data.insert("UpperDir".to_string(), o.upperdir.display().to_string());
                data.insert("WorkDir".to_string(), o.workdir.display().to_string());
            }
            berth_image::RootfsMount::Bind { source } => {
                data.insert("UpperDir".to_string(), source.display().to_string());
            }
        }
        Ok((id.to_string(), data))
    }

    /// Mounts the container's root filesystem at `<dir>/rootfs` (idempotent).
    pub async fn mount_rootfs(&self, key: &str, dir: &Path) -> ApiResult<PathBuf> {
        let target = dir.join("rootfs");
        let key = key.to_string();
        let t = target.clone();
        self.blocking(move |s| {
            if is_mounted(&t) {
                return Ok(());
            }
            std::fs::create_dir_all(&t).map_err(|source| berth_image::StoreError::Io {
                op: "mkdir",
                path: t.clone(),
                source,
            })?;
            let m = s.rootfs(&key)?;
            m.mount(&t)?;
            Ok(())
        })
        .await?;
        Ok(target)
    }

    /// Unmounts `<dir>/rootfs` if mounted.
    pub async fn unmount_rootfs(&self, dir: &Path) -> ApiResult<()> {
        let target = dir.join("rootfs");
        tokio::task::spawn_blocking(move || unmount_if_mounted(&target))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
    }

    /// Removes the container's writable layer.
    pub async fn remove_rootfs(&self, key: &str) -> ApiResult<()> {
        if key.is_empty() {
            return Ok(());
        }
        let key = key.to_string();
        match self.blocking(move |s| s.remove_rootfs(&key)).await {
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Removes writable layers whose container has no record any more (a crash between the
    /// record's removal and the layer's).
    pub async fn remove_orphan_rootfs(&self, known: Vec<String>) {
        let orphans = self
            .blocking(move |s| {
                Ok(s.rootfs_users()?
                    .into_iter()
                    .map(|(id, _)| id)
                    .filter(|id| !known.contains(id))
                    .collect::<Vec<_>>())
            })
            .await
            .unwrap_or_default();
        for id in orphans {
            tracing::info!(container = %id, "removing an orphaned writable layer");
            let _ = self.remove_rootfs(&id).await;
        }
    }

    /// The upper directory of a container's layer and the changes in it (`docker diff`).
    pub async fn changes(&self, key: &str) -> ApiResult<Vec<berth_image::Change>> {
        let key = key.to_string();
        self.blocking(move |s| s.changes(&key)).await
    }

    /// `docker commit`: returns the new image id.
    pub async fn commit(
        &self,
        key: &str,
        opts: berth_image::rootfs::CommitOptions,
    ) -> ApiResult<String> {
        let key = key.to_string();
        Ok(self
            .blocking(move |s| s.commit(&key, &opts))
            .await?
            .id
            .to_string())
    }

    /// `docker images`.
    pub async fn list(&self, opts: ImageListOptions) -> ApiResult<Vec<ImageSummary>> {
        let filter = list_filter(&opts)?;
        let rows = self.blocking(move |s| s.list(&filter)).await?;
        Ok(rows
            .into_iter()
            .map(|r| ImageSummary {
                id: r.image.id.to_string(),
                parent_id: r
                    .image
                    .parent
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                repo_tags: r.image.familiar_tags(),
                repo_digests: r.image.familiar_digests(),
                created: r.image.created_unix(),
                size: r.image.size as i64,
                shared_size: if opts.shared_size {
                    r.shared_size as i64
                } else {
                    -1
                },
                labels: r.image.config.labels().into_iter().collect(),
                containers: r.containers as i64,
            })
            .collect())
    }

    /// `docker image inspect`.
    pub async fn inspect(&self, name: &str) -> ApiResult<ImageInspect> {
        let n = name.to_string();
        let img = self
            .blocking(move |s| s.resolve(&n))
            .await
            .map_err(|e| not_found_as(e, name))?;
        let c = &img.config;
        Ok(ImageInspect {
            id: img.id.to_string(),
            repo_tags: img.familiar_tags(),
            repo_digests: img.familiar_digests(),
            parent: img
                .parent
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            comment: c.comment.clone().unwrap_or_default(),
            created: c.created.clone().unwrap_or_default(),
            docker_version: c.docker_version.clone().unwrap_or_default(),
            author: c.author.clone().unwrap_or_default(),
            config: c
                .config
                .as_ref()
                .and_then(|v| serde_json::to_value(v).ok())
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            architecture: c.architecture.clone(),
            variant: c.variant.clone(),
            os: c.os.clone(),
            os_version: c.os_version.clone(),
            size: img.size as i64,
            graph_driver: berth_api::container::GraphDriverData {
                name: "overlay2".into(),
                data: HashMap::new(),
            },
            root_fs: RootFs {
                kind: "layers".into(),
                layers: c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
            },
            metadata: Default::default(),
        })
    }

    /// `docker tag`; returns (image id, new familiar name).
    pub async fn tag(&self, name: &str, opts: TagOptions) -> ApiResult<(String, String)> {
        let target = name.to_string();
        let full = match &opts.tag {
            Some(t) if !t.is_empty() => format!("{}:{t}", opts.repo),
            _ => opts.repo.clone(),
        };
        let reference = Reference::parse_normalized(&full)
            .map_err(|e| ApiError::invalid(e.to_string()))?
            .with_default_tag();
        let familiar = reference.familiar();
        let t2 = target.clone();
        self.blocking(move |s| s.tag(&t2, &reference))
            .await
            .map_err(|e| not_found_as(e, &target))?;
        let t3 = target.clone();
        let id = self.blocking(move |s| s.resolve(&t3)).await?.id.to_string();
        Ok((id, familiar))
    }

    /// `docker rmi`.
    pub async fn remove(
        &self,
        name: &str,
        opts: ImageRemoveOptions,
        users: Vec<ImageUse>,
    ) -> ApiResult<Vec<ImageDeleteItem>> {
        let users = image_users(users);
        let n = name.to_string();
        let items = self
            .blocking(move |s| {
                s.delete(
                    &n,
                    berth_image::images::DeleteOptions {
                        force: opts.force,
                        no_prune: opts.noprune,
                    },
                    &users,
                )
            })
            .await
            .map_err(|e| not_found_as(e, name))?;
        Ok(items.into_iter().map(delete_item).collect())
    }

    /// `docker history`.
    pub async fn history(&self, name: &str) -> ApiResult<Vec<HistoryItem>> {
        let n = name.to_string();
        let rows = self
            .blocking(move |s| s.history(&n))
            .await
            .map_err(|e| not_found_as(e, name))?;
        Ok(rows
            .into_iter()
            .map(|h| HistoryItem {
                id: h.id,
                created: h.created,
                created_by: h.created_by,
                tags: h.tags,
                size: h.size as i64,
                comment: h.comment,
            })
            .collect())
    }

    /// `docker image prune`.
    pub async fn prune(
        &self,
        filters: Filters,
        users: Vec<ImageUse>,
    ) -> ApiResult<ImagePruneResponse> {
        let users = image_users(users);
        let filter = prune_filter(&filters)?;
        let (items, reclaimed) = self
            .blocking(move |s| s.prune_matching(&filter, &users))
            .await?;
        Ok(ImagePruneResponse {
            images_deleted: items.into_iter().map(delete_item).collect(),
            space_reclaimed: reclaimed,
        })
    }

    /// `docker load`: returns (image id, familiar name or id) per loaded image.
    pub async fn load(&self, tar: ByteStream) -> ApiResult<Vec<(String, String)>> {
        let reader = crate::archive::stream_reader(tar);
        let loaded = self.blocking(move |s| s.load(reader)).await?;
        let mut out = Vec::new();
        for img in loaded {
            if img.refs.is_empty() {
                out.push((img.id.to_string(), format!("ID: {}", img.id)));
            }
            for r in &img.refs {
                out.push((img.id.to_string(), r.familiar()));
            }
        }
        Ok(out)
    }

    /// `docker save`.
    pub async fn save(&self, names: Vec<String>) -> ApiResult<ByteStream> {
        for n in &names {
            let n2 = n.clone();
            self.blocking(move |s| s.resolve(&n2))
                .await
                .map_err(|e| not_found_as(e, n))?;
        }
        let store = self.store.clone();
        Ok(crate::archive::produce(
            move |w| {
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                store
                    .save(&refs, w)
                    .map(|_| ())
                    .map_err(std::io::Error::other)
            },
            || {},
        ))
    }

    /// `docker import`; returns the new image id.
    pub async fn import(&self, opts: ImportOptions, tar: ByteStream) -> ApiResult<String> {
        let reference = match opts_reference(&opts) {
            Some(r) => Some(
                Reference::parse_normalized(&r)
                    .map_err(|e| ApiError::invalid(e.to_string()))?
                    .with_default_tag(),
            ),
            None => None,
        };
        let mut config = berth_oci::ImageConfig::default();
        let mut cc = berth_oci::ContainerConfig::default();
        for change in &opts.changes {
            apply_change(&mut cc, change)?;
        }
        config.config = Some(cc);
        let comment = opts.message.clone();
        let reader = crate::archive::stream_reader(tar);
        let img = self
            .blocking(move |s| s.import(reader, config, comment.as_deref(), reference.as_ref()))
            .await?;
        Ok(img.id.to_string())
    }
}

fn opts_reference(opts: &ImportOptions) -> Option<String> {
    let repo = opts.repo.clone().filter(|r| !r.is_empty())?;
    Some(match opts.tag.as_ref().filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    })
}

/// Applies one Dockerfile-style `--change` (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL,
/// EXPOSE, STOPSIGNAL) to an image config.
pub fn apply_change(cc: &mut berth_oci::ContainerConfig, change: &str) -> ApiResult<()> {
    let (instr, rest) = change
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((change.trim(), ""));
    let rest = rest.trim();
    let words = || -> Vec<String> {
        serde_json::from_str::<Vec<String>>(rest)
            .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
    };
    match instr.to_uppercase().as_str() {
        "CMD" => cc.cmd = Some(words()),
        "ENTRYPOINT" => cc.entrypoint = Some(words()),
        "ENV" => {
            let kv = match rest.split_once('=') {
                Some((k, v)) => format!("{k}={v}"),
                None => rest.replacen(' ', "=", 1),
            };
            cc.env.get_or_insert_with(Vec::new).push(kv);
        }
        "WORKDIR" => cc.working_dir = Some(rest.to_string()),
        "USER" => cc.user = Some(rest.to_string()),
        "STOPSIGNAL" => cc.stop_signal = Some(rest.to_string()),
        "LABEL" => {
            let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
            cc.labels
                .get_or_insert_with(Default::default)
                .insert(k.to_string(), v.trim_matches('"').to_string());
        }
        "EXPOSE" => {
            let port = if rest.contains('/') {
                rest.to_string()
            } else {
                format!("{rest}/tcp")
            };
            cc.exposed_ports
                .get_or_insert_with(Default::default)
                .insert(port, serde_json::json!({}));
        }
        other => {
            return Err(ApiError::invalid(format!(
                "{other} is not a valid change command"
            )));
        }
    }
    Ok(())
}

fn not_found_as(e: ApiError, name: &str) -> ApiError {
    if e.kind == ErrorKind::NotFound {
        ApiError::no_such_image(name)
    } else {
        e
    }
}

fn image_users(users: Vec<ImageUse>) -> Vec<berth_image::images::ImageUser> {
    users
        .into_iter()
        .filter_map(|u| {
            Some(berth_image::images::ImageUser {
                container_id: u.container_id,
                image_id: u.image_id.parse().ok()?,
                running: u.running,
            })
        })
        .collect()
}

fn delete_item(item: berth_image::images::DeleteItem) -> ImageDeleteItem {
    match item {
        berth_image::images::DeleteItem::Untagged(r) => ImageDeleteItem {
            untagged: Some(r),
            deleted: None,
        },
        berth_image::images::DeleteItem::Deleted(d) => ImageDeleteItem {
            untagged: None,
            deleted: Some(d.to_string()),
        },
    }
}

fn list_filter(opts: &ImageListOptions) -> ApiResult<berth_image::images::ListFilter> {
    let f = &opts.filters;
    let one = |k: &str| f.get(k).first().cloned();
    Ok(berth_image::images::ListFilter {
        all: opts.all,
        dangling: one("dangling").map(|d| d == "true" || d == "1"),
        reference: f.get("reference").to_vec(),
        label: f.get("label").to_vec(),
        before: one("before"),
        since: one("since"),
    })
}

/// Whether something is mounted exactly at `target`.
fn is_mounted(target: &Path) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let t = target.display().to_string();
    mountinfo
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(t.as_str()))
}

/// Unmounts `target` when something is mounted there.
fn unmount_if_mounted(target: &Path) -> ApiResult<()> {
    let t = target.display().to_string();
    while is_mounted(target) {
        berth_image::unmount(target, false)
            .or_else(|_| berth_image::unmount(target, true))
            .map_err(|e| ApiError::internal(format!("unmounting {t}: {e}")))?;
    }
    Ok(())
}

/// Docker's image prune filters: `dangling`, `label`, `label!`, `until`; anything else is an
/// error, as in Docker.
fn prune_filter(filters: &Filters) -> ApiResult<berth_image::PruneFilter> {
    filters.check_keys(&["dangling", "label", "label!", "until"])?;
    let until = match filters.get("until").first() {
        Some(u) => Some(crate::maintenance::parse_until(u).ok_or_else(|| {
            ApiError::invalid(format!(
                "failed to parse value as time or duration: \"{u}\""
            ))
        })?),
        None => None,
    };
    Ok(berth_image::PruneFilter {
        all: filters
            .get("dangling")
            .iter()
            .any(|d| d == "false" || d == "0"),
        labels: filters.get("label").to_vec(),
        labels_not: filters.get("label!").to_vec(),
        until,
    })
}
