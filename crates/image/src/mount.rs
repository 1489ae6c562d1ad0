//! Descriptions of container root filesystem mounts (overlay over layer snapshots) and a
//! helper that performs them for callers that want it; storage describes, callers act.

use std::io;
use std::path::{Path, PathBuf};

use berth_oci::ErrorKind;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

/// The largest mount data the kernel accepts is one page; stay under it.
const MOUNT_DATA_MAX: usize = 4000;

/// Why a mount or unmount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The mount syscall failed.
    #[error("mount {kind} on {target}: {source}")]
    Mount {
        /// Filesystem type.
        kind: &'static str,
        /// Mount point.
        target: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The unmount failed.
    #[error("unmount {target}: {source}")]
    Unmount {
        /// Mount point.
        target: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Even relative lower paths do not fit in one page.
    #[error("too many layers for one overlay mount ({layers}): mount data is {len} bytes")]
    TooManyLayers {
        /// Number of lower layers.
        layers: usize,
        /// Length of the mount data.
        len: usize,
    },
}

impl MountError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            MountError::TooManyLayers { .. } => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        }
    }
}

/// How to mount a container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootfsMount {
    /// An overlay of read-only layers under a writable upper directory.
    Overlay(OverlayMount),
    /// The image has no layers: bind-mount the writable directory itself.
    Bind {
        /// The writable directory.
        source: PathBuf,
    },
}

/// An overlay mount: lower layer directories (top-most first), upper and work directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayMount {
    /// Layer directories, top-most first (absolute).
    pub lowerdirs: Vec<PathBuf>,
    /// The writable directory (absolute).
    pub upperdir: PathBuf,
    /// overlayfs's work directory (absolute, same filesystem as upperdir).
    pub workdir: PathBuf,
    /// The directory the paths are short relative to (`<data>/snapshots`): a caller that
    /// chdirs there may use [`OverlayMount::relative_data`] to fit many layers in one page.
    pub base: PathBuf,
}

impl OverlayMount {
    /// The mount data with absolute paths.
    pub fn data(&self) -> String {
        let lower: Vec<String> = self
            .lowerdirs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "lowerdir={},upperdir={},workdir={},index=off",
            lower.join(":"),
            self.upperdir.display(),
            self.workdir.display()
        )
    }

    /// The mount data with paths relative to [`OverlayMount::base`].
    pub fn relative_data(&self) -> String {
        let rel = |p: &Path| {
            p.strip_prefix(&self.base)
                .unwrap_or(p)
                .display()
                .to_string()
        };
        let lower: Vec<String> = self.lowerdirs.iter().map(|p| rel(p)).collect();
        format!(
            "lowerdir={},upperdir={},workdir={},index=off",
            lower.join(":"),
            rel(&self.upperdir),
            rel(&self.workdir)
        )
    }

    /// The mount as OCI runtime-spec options (`type: overlay`, `source: overlay`).
    pub fn options(&self) -> Vec<String> {
        self.data().split(',').map(str::to_string).collect()
    }
}

impl RootfsMount {
    /// Mounts the root filesystem on `target` (which must exist).
    pub fn mount(&self, target: &Path) -> Result<(), MountError> {
        match self {
            RootfsMount::Bind { source } => mount(
                Some(source.as_path()),
                target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| MountError::Mount {
                kind: "bind",
                target: target.to_path_buf(),
                source: e.into(),
            }),
            RootfsMount::Overlay(o) => mount_overlay(o, target),
        }
    }
}

fn mount_overlay(o: &OverlayMount, target: &Path) -> Result<(), MountError> {
    let err = |e: nix::errno::Errno| MountError::Mount {
        kind: "overlay",
        target: target.to_path_buf(),
        source: e.into(),
    };
    let data = o.data();
    if data.len() <= MOUNT_DATA_MAX {
        return mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(err);
    }
    let rel = o.relative_data();
    if rel.len() > MOUNT_DATA_MAX {
        return Err(MountError::TooManyLayers {
            layers: o.lowerdirs.len(),
            len: rel.len(),
        });
    }
    // Relative paths need the base as working directory; a thread with its own fs context
    // (unshare CLONE_FS) can chdir without disturbing the rest of the process.
    let base = o.base.clone();
    let target = target.to_path_buf();
    let joined = std::thread::spawn(move || -> Result<(), nix::errno::Errno> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
        nix::unistd::chdir(&base)?;
        mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            MsFlags::empty(),
            Some(rel.as_str()),
        )
    })
    .join();
    match joined {
        Ok(r) => r.map_err(err),
        Err(_) => Err(err(nix::errno::Errno::EINTR)),
    }
}

/// Unmounts a root filesystem mounted by [`RootfsMount::mount`]; `detach` makes it lazy.
pub fn unmount(target: &Path, detach: bool) -> Result<(), MountError> {
    let flags = if detach {
        MntFlags::MNT_DETACH
    } else {
        MntFlags::empty()
    };
    umount2(target, flags).map_err(|e| MountError::Unmount {
        target: target.to_path_buf(),
        source: e.into(),
    })
}
