//! Test fixtures for berth's crates: the busybox image, built from Debian's static busybox by
//! `scripts/busybox-rootfs.sh` and packed reproducibly as a docker-save tarball.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_oci::{Digest, Reference};

use crate::archive::{ArchiveWriter, SaveImage};
use crate::store::StoreError;

/// The PATH every Docker image sets.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `scripts/busybox-rootfs.sh` lives in this checkout.
pub fn rootfs_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-rootfs.sh")
}

/// Builds the busybox root filesystem into `dir` with the project's script.
pub fn busybox_rootfs(dir: &Path) -> io::Result<()> {
    let out = Command::new("sh").arg(rootfs_script()).arg(dir).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "busybox-rootfs.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Packs a directory as a layer tar reproducibly: sorted entries, mtime 0, owner 0:0.
pub fn reproducible_layer_tar(dir: &Path) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for e in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let e = e.map_err(io::Error::other)?;
        let rel = e.path().strip_prefix(dir).map_err(io::Error::other)?;
        let md = e.path().symlink_metadata()?;
        let mut h = tar::Header::new_gnu();
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        if md.file_type().is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, rel, fs::read_link(e.path())?)?;
        } else if md.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, rel, io::empty())?;
        } else if md.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            b.append_data(&mut h, rel, fs::File::open(e.path())?)?;
        }
    }
    b.into_inner()
}

/// A minimal image config for one layer, reproducible (fixed creation time).
pub fn simple_config(diff_ids: &[Digest], cmd: &[&str]) -> Vec<u8> {
    let host = berth_oci::Platform::host();
    let v = serde_json::json!({
        "architecture": host.architecture,
        "os": host.os,
        "created": "1970-01-01T00:00:00Z",
        "config": { "Env": [DEFAULT_PATH_ENV], "Cmd": cmd },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": diff_ids.iter().map(|_| serde_json::json!({
            "created": "1970-01-01T00:00:00Z", "created_by": "berth fixture"
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Writes a docker-save archive of uncompressed `layers` with `config` tagged `tags`.
pub fn write_image_archive<W: Write>(
    w: W,
    layers: &[Vec<u8>],
    config: &[u8],
    tags: &[&str],
) -> Result<W, StoreError> {
    let mut out = ArchiveWriter::new(w);
    let mut descs = Vec::new();
    for l in layers {
        let d = Digest::sha256_of(l);
        if !out.has(&d) {
            out.add_blob(&d, l.len() as u64, &l[..])?;
        }
        descs.push((d, l.len() as u64));
    }
    let tags = tags
        .iter()
        .map(|t| Reference::parse_normalized_tagged(t))
        .collect::<Result<Vec<_>, _>>()?;
    out.finish(&[SaveImage {
        config: config.to_vec(),
        tags,
        layers: descs,
    }])
}

/// Writes the busybox image (one layer, `Cmd ["sh"]`, Docker's PATH) tagged `name` as a
/// docker-save tarball to `w`; returns the image id.
pub fn write_busybox_image<W: Write>(w: W, name: &str) -> Result<(W, Digest), StoreError> {
    let tmp = tempfile::tempdir().map_err(|e| StoreError::Io {
        op: "create temp dir",
        path: std::env::temp_dir(),
        source: e,
    })?;
    let io_err = |e| StoreError::Io {
        op: "build busybox rootfs in",
        path: tmp.path().to_path_buf(),
        source: e,
    };
    busybox_rootfs(tmp.path()).map_err(io_err)?;
    let layer = reproducible_layer_tar(tmp.path()).map_err(io_err)?;
    let config = simple_config(&[Digest::sha256_of(&layer)], &["sh"]);
    let w = write_image_archive(w, &[layer], &config, &[name])?;
    Ok((w, Digest::sha256_of(&config)))
}

/// Writes the busybox image tagged `name` to the file `path`; returns the image id.
pub fn busybox_image_tar(path: &Path, name: &str) -> Result<Digest, StoreError> {
    let f = fs::File::create(path).map_err(|e| StoreError::Io {
        op: "create",
        path: path.to_path_buf(),
        source: e,
    })?;
    let (f, id) = write_busybox_image(io::BufWriter::new(f), name)?;
    f.into_inner()
        .map_err(|e| StoreError::Io {
            op: "write",
            path: path.to_path_buf(),
            source: e.into_error(),
        })?
        .sync_all()
        .map_err(|e| StoreError::Io {
            op: "fsync",
            path: path.to_path_buf(),
            source: e,
        })?;
    Ok(id)
}
