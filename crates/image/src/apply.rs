//! Applies a layer tar to a directory safely: every path is resolved beneath the layer root
//! (openat2 `RESOLVE_BENEATH`), so `..`, symlinks and hard links in a hostile tar can never
//! write outside it; OCI whiteouts become overlayfs whiteouts. The same applier extracts
//! archives into container root filesystems with `RESOLVE_IN_ROOT` (chroot-like symlinks).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_oci::ErrorKind;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fstatat, makedev, mkdirat, mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, linkat, symlinkat, unlinkat};
use xattr::FileExt;

/// Prefix of whiteout entries in OCI/Docker layers.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Entry marking its directory opaque.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// Prefix of aufs metadata entries, which are skipped.
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
/// The xattr overlayfs reads to make a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// Why a layer could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The tar tries to do something unsafe or impossible with an entry.
    #[error("layer entry {entry:?}: {reason}")]
    Rejected {
        /// The entry's path as written in the tar.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// A filesystem operation on an entry failed.
    #[error("layer entry {entry:?}: {op}: {source}")]
    Io {
        /// The entry's path as written in the tar.
        entry: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The tar stream itself could not be read (corrupt, truncated, bad compression).
    #[error("reading layer tar: {source}")]
    Read {
        /// The read error.
        #[source]
        source: io::Error,
    },
    /// The layer root could not be opened.
    #[error("opening layer root {path}: {source}")]
    Root {
        /// The root directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ApplyError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApplyError::Rejected { .. } | ApplyError::Read { .. } => ErrorKind::InvalidArgument,
            ApplyError::Io { .. } | ApplyError::Root { .. } => ErrorKind::Internal,
        }
    }
}

/// What applying a layer produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Bytes of regular file content written (the layer's size on disk, roughly).
    pub content_size: u64,
    /// Number of tar entries processed.
    pub entries: u64,
}

/// Applies the (uncompressed) layer tar stream `reader` into the directory `root`: paths may
/// not leave `root` at all (through `..` or any symlink), whiteouts become overlay whiteouts.
pub fn apply_tar<R: Read>(reader: R, root: &Path) -> Result<ApplyStats, ApplyError> {
    apply_tar_with(reader, root, None)
}

/// Extracts a tar into the directory `dest` (a path inside the container, e.g. `/tmp`) of a
/// container's root filesystem `root` (`docker cp`, `PUT /archive`): symlinks resolve as if
/// `root` were `/` (openat2 `RESOLVE_IN_ROOT`), so nothing can land outside it, and `.wh.`
/// names are ordinary files.
pub fn extract_tar_in_root<R: Read>(
    reader: R,
    root: &Path,
    dest: &Path,
) -> Result<ApplyStats, ApplyError> {
    let prefix =
        clean_components(dest.as_os_str().as_bytes()).map_err(|reason| ApplyError::Rejected {
            entry: dest.display().to_string(),
            reason,
        })?;
    apply_tar_with(reader, root, Some(prefix))
}

fn apply_tar_with<R: Read>(
    reader: R,
    root: &Path,
    in_root: Option<Vec<OsString>>,
) -> Result<ApplyStats, ApplyError> {
    let root_file = File::open(root).map_err(|source| ApplyError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    let mut applier = Applier {
        root: root_file,
        stats: ApplyStats::default(),
        dir_times: Vec::new(),
        cached_parent: None,
        copy_buf: Vec::new(),
        in_root: in_root.is_some(),
        prefix: in_root.unwrap_or_default(),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|source| ApplyError::Read { source })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| ApplyError::Read { source })?;
        applier.apply_entry(&mut entry)?;
    }
    applier.finish_dir_times();
    Ok(applier.stats)
}

/// Splits a tar path into clean components; `..` may not climb above the root. Leading `/`
/// and `./` are dropped, as Docker makes absolute entries relative.
pub fn clean_components(raw: &[u8]) -> Result<Vec<OsString>, String> {
    let mut out: Vec<OsString> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err("path escapes the layer root".to_string());
                }
            }
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Ok(out)
}

fn join(comps: &[OsString]) -> PathBuf {
    if comps.is_empty() {
        return PathBuf::from(".");
    }
    comps.iter().collect()
}

fn proc_path(dir: &impl AsRawFd, name: &OsStr) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

/// Per-entry data the handlers need.
struct EntryMeta {
    display: String,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

struct Applier {
    /// Reused for file contents: big reads and writes instead of `io::copy`'s 8 KiB.
    copy_buf: Vec<u8>,
    root: File,
    stats: ApplyStats,
    dir_times: Vec<(Vec<OsString>, i64)>,
    cached_parent: Option<(Vec<OsString>, OwnedFd)>,
    /// Resolve symlinks inside the root (container rootfs) rather than refusing them (layers).
    in_root: bool,
    /// Components prepended to every entry (the destination directory inside the root).
    prefix: Vec<OsString>,
}

impl Applier {
    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ApplyError> {
        self.stats.entries += 1;
        let raw_path = entry.path_bytes().into_owned();
        let display = String::from_utf8_lossy(&raw_path).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        let comps = self
            .full_path(&raw_path)
            .map_err(|reason| ApplyError::Rejected {
                entry: display.clone(),
                reason,
            })?;
        let meta = read_meta(entry, display)?;
        let Some((name, parent)) = comps.split_last() else {
            return self.apply_root_dir(kind, &meta);
        };
        self.invalidate_cache_under(&comps);
        let name_bytes = name.as_bytes();
        if !self.in_root && name_bytes.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.apply_whiteout(parent, name_bytes, &meta);
        }
        let dir = self.parent_dir(parent, &meta.display)?;
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.write_file(&dir, name, entry, &meta)
            }
            tar::EntryType::Directory => {
                self.make_dir(&dir, name, &meta)?;
                self.dir_times.push((comps.clone(), meta.mtime));
                Ok(())
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| reject(&meta, "symlink without target"))?
                    .into_owned();
                self.make_symlink(&dir, parent, name, &target, &meta)
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| reject(&meta, "hard link without target"))?
                    .into_owned();
                self.make_hardlink(&dir, name, &target, &meta)
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let hdr = entry.header();
                let major = hdr.device_major().ok().flatten().unwrap_or(0);
                let minor = hdr.device_minor().ok().flatten().unwrap_or(0);
                self.make_node(&dir, name, kind, major, minor, &meta)
            }
            other => {
                tracing::warn!(entry = %meta.display, kind = ?other, "skipping unsupported tar entry type");
                Ok(())
            }
        }
    }

    fn full_path(&self, raw: &[u8]) -> Result<Vec<OsString>, String> {
        let mut comps = self.prefix.clone();
        comps.extend(clean_components(raw)?);
        Ok(comps)
    }

    /// Drops the cached parent fd when this entry may replace one of its components.
    fn invalidate_cache_under(&mut self, comps: &[OsString]) {
        if let Some((cached, _)) = &self.cached_parent
            && cached.starts_with(comps)
        {
            self.cached_parent = None;
        }
    }

    fn resolve_flags(&self) -> ResolveFlag {
        let scope = if self.in_root {
            ResolveFlag::RESOLVE_IN_ROOT
        } else {
            ResolveFlag::RESOLVE_BENEATH
        };
        scope | ResolveFlag::RESOLVE_NO_MAGICLINKS
    }

    fn open_beneath(&self, rel: &Path) -> Result<OwnedFd, Errno> {
        let how = OpenHow::new()
            .flags(OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC)
            .resolve(self.resolve_flags());
        openat2(self.root.as_fd(), rel, how)
    }

    /// Opens (creating missing directories, mode 0755) the directory `comps` under the root.
    fn parent_dir(&mut self, comps: &[OsString], display: &str) -> Result<File, ApplyError> {
        if let Some((cached, fd)) = &self.cached_parent
            && cached.as_slice() == comps
        {
            let dup = fd.try_clone().map_err(|source| ApplyError::Io {
                entry: display.to_string(),
                op: "dup parent directory",
                source,
            })?;
            return Ok(File::from(dup));
        }
        let fd = match self.open_beneath(&join(comps)) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => self.create_dirs(comps, display)?,
            Err(e) => return Err(resolve_error(display, e)),
        };
        let dup = fd.try_clone().map_err(|source| ApplyError::Io {
            entry: display.to_string(),
            op: "dup parent directory",
            source,
        })?;
        self.cached_parent = Some((comps.to_vec(), fd));
        Ok(File::from(dup))
    }

    fn create_dirs(&self, comps: &[OsString], display: &str) -> Result<OwnedFd, ApplyError> {
        let mut cur = self
            .open_beneath(Path::new("."))
            .map_err(|e| resolve_error(display, e))?;
        for i in 0..comps.len() {
            let path = join(&comps[..=i]);
            cur = match self.open_beneath(&path) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    match mkdirat(&cur, comps[i].as_os_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(io_error(display, "create parent directory", e)),
                    }
                    self.open_beneath(&path)
                        .map_err(|e| resolve_error(display, e))?
                }
                Err(e) => return Err(resolve_error(display, e)),
            };
        }
        Ok(cur)
    }

    fn apply_root_dir(&mut self, kind: tar::EntryType, meta: &EntryMeta) -> Result<(), ApplyError> {
        if kind != tar::EntryType::Directory {
            return Err(reject(
                meta,
                "entry names the layer root but is not a directory",
            ));
        }
        let root = self
            .open_beneath(Path::new("."))
            .map_err(|e| resolve_error(&meta.display, e))?;
        let root = File::from(root);
        set_owner_mode_fd(&root, meta)?;
        set_xattrs_fd(&root, meta);
        self.dir_times.push((Vec::new(), meta.mtime));
        Ok(())
    }

    fn apply_whiteout(
        &mut self,
        parent: &[OsString],
        name: &[u8],
        meta: &EntryMeta,
    ) -> Result<(), ApplyError> {
        let dir = self.parent_dir(parent, &meta.display)?;
        if name == OPAQUE_WHITEOUT.as_bytes() {
            return dir
                .set_xattr(OVERLAY_OPAQUE_XATTR, b"y")
                .map_err(|source| ApplyError::Io {
                    entry: meta.display.clone(),
                    op: "mark directory opaque",
                    source,
                });
        }
        if name.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            return Ok(());
        }
        let hidden = OsStr::from_bytes(&name[WHITEOUT_PREFIX.len()..]);
        if hidden.is_empty() {
            return Err(reject(meta, "whiteout without a name"));
        }
        remove_existing(&dir, hidden, false, meta)?;
        mknodat(&dir, hidden, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
            .map_err(|e| io_error(&meta.display, "create whiteout", e))?;
        fchownat(
            &dir,
            hidden,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_error(&meta.display, "chown whiteout", e))
    }

    fn write_file<R: Read>(
        &mut self,
        dir: &File,
        name: &OsStr,
        entry: &mut tar::Entry<'_, R>,
        meta: &EntryMeta,
    ) -> Result<(), ApplyError> {
        remove_existing(dir, name, false, meta)?;
        let how = OpenHow::new()
            .flags(
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
            )
            .mode(Mode::from_bits_truncate(0o600))
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = openat2(dir.as_fd(), name, how)
            .map_err(|e| io_error(&meta.display, "create file", e))?;
        let mut file = File::from(fd);
        let n = copy_large(entry, &mut file, &mut self.copy_buf, &meta.display)?;
        self.stats.content_size += n;
        set_owner_mode_fd(&file, meta)?;
        set_xattrs_fd(&file, meta);
        set_mtime(dir, name, meta)
    }

    fn make_dir(&mut self, dir: &File, name: &OsStr, meta: &EntryMeta) -> Result<(), ApplyError> {
        if !remove_existing(dir, name, true, meta)? {
            mkdirat(dir, name, Mode::from_bits_truncate(0o700))
                .map_err(|e| io_error(&meta.display, "create directory", e))?;
        }
        let how = OpenHow::new()
            .flags(OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = openat2(dir.as_fd(), name, how)
            .map_err(|e| io_error(&meta.display, "open directory", e))?;
        let d = File::from(fd);
        set_owner_mode_fd(&d, meta)?;
        set_xattrs_fd(&d, meta);
        Ok(())
    }

    fn make_symlink(
        &mut self,
        dir: &File,
        parent: &[OsString],
        name: &OsStr,
        target: &[u8],
        meta: &EntryMeta,
    ) -> Result<(), ApplyError> {
        if !target.starts_with(b"/") {
            let mut joined: Vec<u8> = join(parent).as_os_str().as_bytes().to_vec();
            joined.push(b'/');
            joined.extend_from_slice(target);
            if clean_components(&joined).is_err() {
                return Err(reject(
                    meta,
                    &format!(
                        "symlink target {:?} escapes the layer root",
                        String::from_utf8_lossy(target)
                    ),
                ));
            }
        }
        remove_existing(dir, name, false, meta)?;
        symlinkat(OsStr::from_bytes(target), dir, name)
            .map_err(|e| io_error(&meta.display, "create symlink", e))?;
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_error(&meta.display, "chown symlink", e))?;
        set_mtime(dir, name, meta)
    }

    fn make_hardlink(
        &mut self,
        dir: &File,
        name: &OsStr,
        target: &[u8],
        meta: &EntryMeta,
    ) -> Result<(), ApplyError> {
        let tcomps = self.full_path(target).map_err(|_| {
            reject(
                meta,
                &format!(
                    "hard link target {:?} escapes the layer root",
                    String::from_utf8_lossy(target)
                ),
            )
        })?;
        let Some((tname, tparent)) = tcomps.split_last() else {
            return Err(reject(meta, "hard link to the layer root"));
        };
        let tdir = match self.open_beneath(&join(tparent)) {
            Ok(fd) => File::from(fd),
            Err(e) => return Err(resolve_error(&meta.display, e)),
        };
        remove_existing(dir, name, false, meta)?;
        linkat(&tdir, tname.as_os_str(), dir, name, AtFlags::empty()).map_err(|e| match e {
            Errno::ENOENT => reject(
                meta,
                &format!(
                    "hard link target {:?} does not exist in the layer",
                    String::from_utf8_lossy(target)
                ),
            ),
            e => io_error(&meta.display, "create hard link", e),
        })
    }

    fn make_node(
        &mut self,
        dir: &File,
        name: &OsStr,
        kind: tar::EntryType,
        major: u32,
        minor: u32,
        meta: &EntryMeta,
    ) -> Result<(), ApplyError> {
        remove_existing(dir, name, false, meta)?;
        let (sflag, dev) = match kind {
            tar::EntryType::Char => (SFlag::S_IFCHR, makedev(major.into(), minor.into())),
            tar::EntryType::Block => (SFlag::S_IFBLK, makedev(major.into(), minor.into())),
            _ => (SFlag::S_IFIFO, 0),
        };
        mknodat(
            dir,
            name,
            sflag,
            Mode::from_bits_truncate(meta.mode & 0o777),
            dev,
        )
        .map_err(|e| io_error(&meta.display, "create device node", e))?;
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_error(&meta.display, "chown", e))?;
        nix::sys::stat::fchmodat(
            dir,
            name,
            Mode::from_bits_truncate(meta.mode & 0o7777),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| io_error(&meta.display, "chmod", e))?;
        for (k, v) in &meta.xattrs {
            if let Err(e) = xattr::set(proc_path(dir, name), k, v) {
                tracing::warn!(entry = %meta.display, xattr = ?k, error = %e, "cannot set xattr");
            }
        }
        set_mtime(dir, name, meta)
    }

    /// Directory mtimes are set last: creating children changes them.
    fn finish_dir_times(&mut self) {
        self.cached_parent = None;
        let times = std::mem::take(&mut self.dir_times);
        for (comps, mtime) in times.iter().rev() {
            let ts = TimeSpec::new(*mtime, 0);
            let res = match comps.split_last() {
                None => self
                    .open_beneath(Path::new("."))
                    .and_then(|fd| nix::sys::stat::futimens(&fd, &ts, &ts)),
                Some((name, parent)) => self.open_beneath(&join(parent)).and_then(|fd| {
                    utimensat(
                        &fd,
                        name.as_os_str(),
                        &ts,
                        &ts,
                        UtimensatFlags::NoFollowSymlink,
                    )
                }),
            };
            if let Err(e) = res {
                tracing::debug!(dir = ?comps, error = %e, "cannot set directory mtime");
            }
        }
    }
}

fn read_meta<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    display: String,
) -> Result<EntryMeta, ApplyError> {
    let hdr = entry.header();
    let bad = |what: &str| ApplyError::Rejected {
        entry: display.clone(),
        reason: format!("invalid {what} in tar header"),
    };
    let mode = hdr.mode().map_err(|_| bad("mode"))?;
    let uid = hdr.uid().map_err(|_| bad("uid"))?;
    let gid = hdr.gid().map_err(|_| bad("gid"))?;
    let mtime = hdr.mtime().map_err(|_| bad("mtime"))?;
    let (uid, gid) = (
        u32::try_from(uid).map_err(|_| bad("uid"))?,
        u32::try_from(gid).map_err(|_| bad("gid"))?,
    );
    let mut xattrs = Vec::new();
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            if let Some(name) = ext.key_bytes().strip_prefix(PAX_XATTR_PREFIX.as_bytes()) {
                xattrs.push((
                    OsStr::from_bytes(name).to_os_string(),
                    ext.value_bytes().to_vec(),
                ));
            }
        }
    }
    Ok(EntryMeta {
        display,
        mode,
        uid,
        gid,
        mtime: i64::try_from(mtime).unwrap_or(i64::MAX),
        xattrs,
    })
}

/// Size of the buffer file contents are copied through.
const COPY_BUFFER: usize = 256 << 10;

/// Copies a file's contents through a large reusable buffer; read errors are the tar
/// stream's, write errors the file's.
fn copy_large<R: Read>(
    mut from: R,
    to: &mut File,
    buf: &mut Vec<u8>,
    entry: &str,
) -> Result<u64, ApplyError> {
    if buf.len() < COPY_BUFFER {
        buf.resize(COPY_BUFFER, 0);
    }
    let mut total = 0u64;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(ApplyError::Read { source }),
        };
        io::Write::write_all(to, &buf[..n]).map_err(|source| ApplyError::Io {
            entry: entry.to_string(),
            op: "write file",
            source,
        })?;
        total += n as u64;
    }
}

fn reject(meta: &EntryMeta, reason: &str) -> ApplyError {
    ApplyError::Rejected {
        entry: meta.display.clone(),
        reason: reason.to_string(),
    }
}

fn io_error(entry: &str, op: &'static str, e: Errno) -> ApplyError {
    ApplyError::Io {
        entry: entry.to_string(),
        op,
        source: io::Error::from(e),
    }
}

fn resolve_error(entry: &str, e: Errno) -> ApplyError {
    let reason = match e {
        Errno::EXDEV => "path escapes the layer root through a symlink or \"..\"".to_string(),
        Errno::ELOOP => "too many levels of symlinks in path".to_string(),
        Errno::ENOTDIR => "a parent of the path is not a directory".to_string(),
        Errno::ENOENT => "a parent of the path does not exist".to_string(),
        e => return io_error(entry, "resolve path", e),
    };
    ApplyError::Rejected {
        entry: entry.to_string(),
        reason,
    }
}

/// Removes whatever is at `name` unless it is a directory and `keep_dir` is set; returns
/// whether a kept directory is there.
fn remove_existing(
    dir: &File,
    name: &OsStr,
    keep_dir: bool,
    meta: &EntryMeta,
) -> Result<bool, ApplyError> {
    let st = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(io_error(&meta.display, "stat existing entry", e)),
    };
    let is_dir = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR;
    if is_dir && keep_dir {
        return Ok(true);
    }
    if is_dir {
        std::fs::remove_dir_all(proc_path(dir, name)).map_err(|source| ApplyError::Io {
            entry: meta.display.clone(),
            op: "remove existing directory",
            source,
        })?;
    } else {
        unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| io_error(&meta.display, "remove existing entry", e))?;
    }
    Ok(false)
}

fn set_owner_mode_fd(f: &File, meta: &EntryMeta) -> Result<(), ApplyError> {
    nix::unistd::fchown(
        f,
        Some(Uid::from_raw(meta.uid)),
        Some(Gid::from_raw(meta.gid)),
    )
    .map_err(|e| io_error(&meta.display, "chown", e))?;
    nix::sys::stat::fchmod(f, Mode::from_bits_truncate(meta.mode & 0o7777))
        .map_err(|e| io_error(&meta.display, "chmod", e))
}

fn set_xattrs_fd(f: &File, meta: &EntryMeta) {
    for (k, v) in &meta.xattrs {
        if let Err(e) = f.set_xattr(k, v) {
            tracing::warn!(entry = %meta.display, xattr = ?k, error = %e, "cannot set xattr");
        }
    }
}

fn set_mtime(dir: &File, name: &OsStr, meta: &EntryMeta) -> Result<(), ApplyError> {
    let ts = TimeSpec::new(meta.mtime, 0);
    utimensat(dir, name, &ts, &ts, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| io_error(&meta.display, "set mtime", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths_like_docker() {
        let c = |s: &str| clean_components(s.as_bytes()).map(|v| join(&v));
        assert_eq!(c("/etc/passwd").unwrap(), PathBuf::from("etc/passwd"));
        assert_eq!(c("./a/./b/").unwrap(), PathBuf::from("a/b"));
        assert_eq!(c("a/../b").unwrap(), PathBuf::from("b"));
        assert!(c("../x").is_err());
        assert!(c("a/../../x").is_err());
        assert_eq!(c("./").unwrap(), PathBuf::from("."));
    }

    proptest::proptest! {
        #[test]
        fn cleaned_paths_never_escape(s in "[a-z./]{0,40}") {
            if let Ok(comps) = clean_components(s.as_bytes()) {
                for c in &comps {
                    proptest::prop_assert!(c != ".." && c != "." && !c.is_empty());
                    proptest::prop_assert!(!c.as_bytes().contains(&b'/'));
                }
            }
        }
    }
}
