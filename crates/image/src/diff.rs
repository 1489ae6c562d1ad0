//! Turns a container's overlay upper directory back into an OCI layer (whiteout files for
//! overlay whiteouts and opaque directories) and into `docker diff`'s A/C/D list.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_oci::ErrorKind;

use crate::apply::{OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};

/// Why a diff could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// Reading the upper directory failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The path being read.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing the tar failed.
    #[error("writing layer tar: {source}")]
    Write {
        /// The write error.
        #[source]
        source: io::Error,
    },
}

impl DiffError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

/// The kind of a filesystem change, as `docker diff` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ChangeKind {
    /// Modified (Docker's 0, "C").
    Modified,
    /// Added (Docker's 1, "A").
    Added,
    /// Deleted (Docker's 2, "D").
    Deleted,
}

impl ChangeKind {
    /// Docker's numeric code in `GET /containers/{id}/changes`.
    pub fn code(self) -> u8 {
        match self {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }

    /// The letter `docker diff` prints.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path (absolute, inside the container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The path, starting with `/`.
    pub path: String,
    /// What happened to it.
    pub kind: ChangeKind,
}

fn is_whiteout(md: &fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    matches!(xattr::get(path, OVERLAY_OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

/// Whether `rel` is visible in the merged view of `lowers` (top-most first).
fn exists_in_lowers(rel: &Path, lowers: &[PathBuf]) -> bool {
    for lower in lowers {
        let p = lower.join(rel);
        if let Ok(md) = fs::symlink_metadata(&p) {
            return !is_whiteout(&md);
        }
        // An opaque ancestor in this layer hides everything below it.
        let mut anc = rel.parent();
        while let Some(a) = anc {
            if a.as_os_str().is_empty() {
                break;
            }
            if is_opaque(&lower.join(a)) {
                return false;
            }
            anc = a.parent();
        }
    }
    false
}

fn sorted_walk(upper: &Path) -> walkdir::IntoIter {
    walkdir::WalkDir::new(upper)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
}

fn walk_err(upper: &Path, e: walkdir::Error) -> DiffError {
    let path = e
        .path()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| upper.to_path_buf());
    DiffError::Read {
        path,
        source: e.into(),
    }
}

/// The changes an upper directory makes over its lower layers (`lowers` top-most first),
/// sorted by path: what `docker diff` shows.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, DiffError> {
    let mut out = Vec::new();
    for e in sorted_walk(upper) {
        let e = e.map_err(|e| walk_err(upper, e))?;
        let rel = e.path().strip_prefix(upper).unwrap_or(e.path());
        let md = e.metadata().map_err(|e| walk_err(upper, e))?;
        let kind = if is_whiteout(&md) {
            ChangeKind::Deleted
        } else if exists_in_lowers(rel, lowers) {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        out.push(Change {
            path: format!("/{}", rel.display()),
            kind,
        });
        if kind == ChangeKind::Modified && md.is_dir() && is_opaque(e.path()) {
            out.extend(hidden_by_opaque_dir(e.path(), rel, lowers));
        }
    }
    // Component-wise, like the walk itself: `/d`, `/d/new`, `/d/old`, `/d-x`.
    out.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    Ok(out)
}

/// The entries of the lower layers an opaque directory of the upper layer hides (a directory
/// removed and created again): `docker diff` reports them deleted, as Docker's naive diff of
/// the two mounted trees does (`C /d`, `A /d/new`, `D /d/old`).
fn hidden_by_opaque_dir(dir: &Path, rel: &Path, lowers: &[PathBuf]) -> Vec<Change> {
    lower_names(rel, lowers)
        .into_iter()
        .filter(|name| fs::symlink_metadata(dir.join(name)).is_err())
        .map(|name| Change {
            path: format!("/{}", rel.join(name).display()),
            kind: ChangeKind::Deleted,
        })
        .collect()
}

/// The names visible in directory `rel` of the merged view of `lowers` (top-most first).
fn lower_names(rel: &Path, lowers: &[PathBuf]) -> Vec<std::ffi::OsString> {
    let mut seen = std::collections::BTreeMap::new();
    for lower in lowers {
        let dir = lower.join(rel);
        let Ok(md) = fs::symlink_metadata(&dir) else {
            if hidden_by_ancestor(rel, lower) {
                break;
            }
            continue;
        };
        if !md.is_dir() {
            break;
        }
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                let visible = e.metadata().map(|m| !is_whiteout(&m)).unwrap_or(false);
                seen.entry(e.file_name()).or_insert(visible);
            }
        }
        if is_opaque(&dir) {
            break;
        }
    }
    seen.into_iter()
        .filter_map(|(name, visible)| visible.then_some(name))
        .collect()
}

/// Whether an ancestor of `rel` in `layer` is a whiteout, a non-directory or opaque, so
/// nothing below it in deeper layers shows.
fn hidden_by_ancestor(rel: &Path, layer: &Path) -> bool {
    let mut anc = rel.parent();
    while let Some(a) = anc {
        if a.as_os_str().is_empty() {
            break;
        }
        let p = layer.join(a);
        if let Ok(md) = fs::symlink_metadata(&p)
            && (!md.is_dir() || is_opaque(&p))
        {
            return true;
        }
        anc = a.parent();
    }
    false
}

/// Writes the upper directory as an OCI layer tar to `w` (whiteouts become `.wh.` entries,
/// opaque directories get `.wh..wh..opq`); returns the writer.
pub fn write_layer_tar<W: Write>(upper: &Path, w: W) -> Result<W, DiffError> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    let mut inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for e in sorted_walk(upper) {
        let e = e.map_err(|e| walk_err(upper, e))?;
        let rel = e
            .path()
            .strip_prefix(upper)
            .unwrap_or(e.path())
            .to_path_buf();
        let md = e.metadata().map_err(|e| walk_err(upper, e))?;
        if is_whiteout(&md) {
            let name = rel
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let wh = rel.with_file_name(format!("{WHITEOUT_PREFIX}{name}"));
            append_empty_file(&mut b, &wh, &md)?;
            continue;
        }
        if md.is_file() && md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = inodes.get(&key) {
                append_hardlink(&mut b, &rel, first, &md)?;
                continue;
            }
            inodes.insert(key, rel.clone());
        }
        append_xattrs(&mut b, e.path())?;
        b.append_path_with_name(e.path(), &rel)
            .map_err(|source| DiffError::Write { source })?;
        if md.is_dir() && is_opaque(e.path()) {
            append_empty_file(&mut b, &rel.join(OPAQUE_WHITEOUT), &md)?;
        }
    }
    b.into_inner().map_err(|source| DiffError::Write { source })
}

fn base_header(kind: tar::EntryType, md: &fs::Metadata) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_uid(md.uid().into());
    h.set_gid(md.gid().into());
    h.set_mtime(u64::try_from(md.mtime()).unwrap_or(0));
    h
}

fn append_empty_file<W: Write>(
    b: &mut tar::Builder<W>,
    path: &Path,
    md: &fs::Metadata,
) -> Result<(), DiffError> {
    let mut h = base_header(tar::EntryType::Regular, md);
    b.append_data(&mut h, path, io::empty())
        .map_err(|source| DiffError::Write { source })
}

fn append_hardlink<W: Write>(
    b: &mut tar::Builder<W>,
    path: &Path,
    target: &Path,
    md: &fs::Metadata,
) -> Result<(), DiffError> {
    let mut h = base_header(tar::EntryType::Link, md);
    h.set_mode(md.mode() & 0o7777);
    b.append_link(&mut h, path, target)
        .map_err(|source| DiffError::Write { source })
}

/// Adds a PAX header with the entry's xattrs (except overlay's own) before the entry.
fn append_xattrs<W: Write>(b: &mut tar::Builder<W>, path: &Path) -> Result<(), DiffError> {
    let Ok(names) = xattr::list(path) else {
        return Ok(());
    };
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    for n in names {
        let name = n.to_string_lossy().into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        if let Ok(Some(v)) = xattr::get(path, &n) {
            records.push((format!("SCHILY.xattr.{name}"), v));
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    let data = pax_records(&records);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, "PaxHeaders/xattrs", &data[..])
        .map_err(|source| DiffError::Write { source })
}

/// Encodes PAX records: `"<len> <key>=<value>\n"`, where len counts the whole record.
pub fn pax_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = body + body.to_string().len();
        if len.to_string().len() != body.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} {k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}
