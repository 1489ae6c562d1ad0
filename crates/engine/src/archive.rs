//! Files in and out of a container's root filesystem: `docker export`, `docker cp` both ways
//! (archive stat/get/put) and `docker diff`. Paths are resolved inside the root (symlinks
//! never lead out); stopped containers get their root mounted for the operation.

use crate::Engine;
use crate::container::Container;
use berth_api::container::{FilesystemChange, PathStat, PutArchiveOptions};
use berth_api::{ApiError, ApiResult, ByteStream};
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Go's os.FileMode type bits, which Docker's path stat uses.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;

/// Resolves `path` (absolute in the container) to a host path inside `root`, following
/// symlinks of intermediate components within the root; the last component is not followed.
pub fn resolve_in_root(root: &Path, path: &str) -> PathBuf {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = Path::new(path)
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            parts.pop();
            continue;
        }
        let candidate: PathBuf = root.join(parts.iter().collect::<PathBuf>()).join(&part);
        let is_last = pending.is_empty();
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() && !is_last && hops < 40 => {
                hops += 1;
                let target = std::fs::read_link(&candidate).unwrap_or_default();
                if target.is_absolute() {
                    parts.clear();
                }
                let comps: Vec<std::ffi::OsString> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_owned()),
                        Component::ParentDir => Some("..".into()),
                        _ => None,
                    })
                    .collect();
                pending.extend(comps.into_iter().rev());
            }
            _ => parts.push(part),
        }
    }
    root.join(parts.iter().collect::<PathBuf>())
}

fn stat_of(host: &Path, name: &str) -> std::io::Result<PathStat> {
    let m = std::fs::symlink_metadata(host)?;
    let mut mode = m.mode() & 0o777;
    if m.is_dir() {
        mode |= GO_MODE_DIR;
    }
    let mut link_target = String::new();
    if m.file_type().is_symlink() {
        mode |= GO_MODE_SYMLINK;
        link_target = std::fs::read_link(host)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
    }
    let mtime = chrono::DateTime::from_timestamp(m.mtime(), m.mtime_nsec() as u32)
        .unwrap_or_default()
        .to_rfc3339();
    Ok(PathStat {
        name: name.to_string(),
        size: m.len() as i64,
        mode,
        mtime,
        link_target,
    })
}

fn base_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into())
}

/// A writer that sends what it gets as stream chunks (for tar producers in blocking tasks).
pub(crate) struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reader over a byte stream, for tar consumers in blocking tasks.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Feeds a byte stream into a blocking reader.
pub fn stream_reader(mut stream: ByteStream) -> impl Read + Send + 'static {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    ChannelReader {
        rx,
        current: Bytes::new(),
    }
}

/// Runs a tar producer in a blocking task; the returned stream carries its output.
pub(crate) fn produce(
    f: impl FnOnce(&mut ChannelWriter) -> std::io::Result<()> + Send + 'static,
    after: impl FnOnce() + Send + 'static,
) -> ByteStream {
    let (tx, rx) = mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter { tx: tx.clone() };
        if let Err(e) = f(&mut w) {
            let _ = tx.blocking_send(Err(e));
        }
        after();
    });
    berth_api::stream::receiver_stream(rx)
}

impl Engine {
    /// Mounts the root of a container that is not running; returns (rootfs, whether we mounted).
    async fn rootfs_for_io(&self, c: &Arc<Container>) -> ApiResult<(PathBuf, bool)> {
        let rec = c.lock().await;
        let rootfs = c.dir.join("rootfs");
        if rec.state.status.is_live() {
            return Ok((rootfs, false));
        }
        let path = self
            .inner
            .images
            .mount_rootfs(&rec.snapshot_key, &c.dir)
            .await?;
        Ok((path, true))
    }

    fn release_later(&self, c: &Arc<Container>, mounted: bool) -> impl FnOnce() + Send + 'static {
        let engine = self.clone();
        let c = c.clone();
        let handle = tokio::runtime::Handle::current();
        move || {
            if mounted {
                handle.spawn(async move {
                    let rec = c.lock().await;
                    if !rec.state.status.is_live() {
                        let _ = engine.inner.images.unmount_rootfs(&c.dir).await;
                    }
                });
            }
        }
    }

    /// `docker export`: the whole root filesystem as a tar.
    pub async fn export(&self, name: &str) -> ApiResult<ByteStream> {
        let c = self.lookup(name)?;
        let (root, mounted) = self.rootfs_for_io(&c).await?;
        let release = self.release_later(&c, mounted);
        Ok(produce(
            move |w| {
                let mut b = tar::Builder::new(w);
                b.follow_symlinks(false);
                b.append_dir_all(".", &root)?;
                b.finish()
            },
            release,
        ))
    }

    /// Stat of a path in the container (HEAD archive).
    pub async fn stat_path(&self, name: &str, path: &str) -> ApiResult<PathStat> {
        let c = self.lookup(name)?;
        let (root, mounted) = self.rootfs_for_io(&c).await?;
        let host = resolve_in_root(&root, path);
        let r = stat_of(&host, &base_name(path));
        self.release_later(&c, mounted)();
        r.map_err(|_| {
            ApiError::not_found(format!(
                "Could not find the file {path} in container {name}"
            ))
        })
    }

    /// GET archive: a tar of the path (a file, or a directory with its contents).
    pub async fn get_archive(&self, name: &str, path: &str) -> ApiResult<(PathStat, ByteStream)> {
        let c = self.lookup(name)?;
        let (root, mounted) = self.rootfs_for_io(&c).await?;
        let host = resolve_in_root(&root, path);
        let base = base_name(path);
        let stat = match stat_of(&host, &base) {
            Ok(s) => s,
            Err(_) => {
                self.release_later(&c, mounted)();
                return Err(ApiError::not_found(format!(
                    "Could not find the file {path} in container {name}"
                )));
            }
        };
        let release = self.release_later(&c, mounted);
        let stream = produce(
            move |w| {
                let mut b = tar::Builder::new(w);
                b.follow_symlinks(false);
                if std::fs::symlink_metadata(&host)?.is_dir() {
                    b.append_dir_all(&base, &host)?;
                } else {
                    b.append_path_with_name(&host, &base)?;
                }
                b.finish()
            },
            release,
        );
        Ok((stat, stream))
    }

    /// PUT archive: extracts a tar into a directory of the container.
    pub async fn put_archive(
        &self,
        name: &str,
        opts: PutArchiveOptions,
        tar: ByteStream,
    ) -> ApiResult<()> {
        let c = self.lookup(name)?;
        let (root, mounted) = self.rootfs_for_io(&c).await?;
        let dest = resolve_in_root(&root, &opts.path);
        let release = self.release_later(&c, mounted);
        let is_dir = std::fs::metadata(&dest)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if !is_dir {
            release();
            return Err(ApiError::not_found(format!(
                "Could not find the file {} in container {name}",
                opts.path
            )));
        }
        let reader = stream_reader(tar);
        let result =
            tokio::task::spawn_blocking(move || berth_image::apply::apply_tar(reader, &dest))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
        release();
        result
            .map(|_| ())
            .map_err(|e| ApiError::invalid(format!("extracting the archive: {e}")))
    }

    /// `docker diff`: changes of the writable layer against the image.
    pub async fn changes(&self, name: &str) -> ApiResult<Vec<FilesystemChange>> {
        let c = self.lookup(name)?;
        let key = c.lock().await.snapshot_key.clone();
        let changes = self.inner.images.changes(&key).await?;
        Ok(changes
            .into_iter()
            .map(|ch| FilesystemChange {
                path: ch.path,
                kind: ch.kind.code(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_in_root;

    #[test]
    fn symlinks_stay_inside_the_root() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc"))?;
        std::os::unix::fs::symlink("/etc", root.join("link"))?;
        std::os::unix::fs::symlink("../../../..", root.join("up"))?;
        assert_eq!(
            resolve_in_root(root, "/link/passwd"),
            root.join("etc/passwd")
        );
        assert_eq!(resolve_in_root(root, "/up/etc"), root.join("etc"));
        assert_eq!(resolve_in_root(root, "/../../x"), root.join("x"));
        assert_eq!(resolve_in_root(root, "/link"), root.join("link"));
        Ok(())
    }
}
