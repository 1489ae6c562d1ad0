//! Offline garbage collection for the registry's storage: marks every blob a manifest of any
//! repository references, then deletes the rest (and the layer links that pointed at them).
//! Run it while the server is stopped, as Docker's `registry garbage-collect`.

use std::collections::HashSet;

use berth_oci::{Digest, Index, Manifest, media_type};

use super::storage::{Storage, StorageError};

/// What a collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted.
    pub blobs_removed: Vec<Digest>,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Abandoned upload sessions removed (untouched for a day).
    pub uploads_removed: usize,
}

/// Upload sessions older than this are abandoned.
pub const STALE_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Deletes every blob no manifest references; `dry_run` only reports.
pub fn collect_garbage(s: &Storage, dry_run: bool) -> Result<GcReport, StorageError> {
    let marked = mark(s)?;
    let mut report = GcReport::default();
    for d in s.blobs()? {
        if marked.contains(&d) {
            continue;
        }
        report.bytes_freed += s.blob_size(&d)?.unwrap_or(0);
        if !dry_run {
            s.remove_blob(&d)?;
        }
        report.blobs_removed.push(d);
    }
    if !dry_run {
        report.uploads_removed = s.remove_stale_uploads(STALE_UPLOAD_AGE)?;
        for repo in s.repositories()? {
            for l in s.layers(&repo)? {
                if !marked.contains(&l) {
                    s.unlink_layer(&repo, &l)?;
                }
            }
        }
    }
    report.blobs_removed.sort();
    Ok(report)
}

fn mark(s: &Storage) -> Result<HashSet<Digest>, StorageError> {
    let mut marked = HashSet::new();
    for repo in s.repositories()? {
        for m in s.manifests(&repo)? {
            let Some(mt) = s.manifest_media_type(&repo, &m)? else {
                continue;
            };
            let Some(body) = s.read_blob(&m)? else {
                continue;
            };
            marked.insert(m);
            if media_type::is_index(&mt) {
                continue;
            }
            if let Ok(man) = Manifest::from_json(&body) {
                marked.insert(man.config.digest);
                marked.extend(man.layers.into_iter().map(|l| l.digest));
            } else if let Ok(idx) = Index::from_json(&body) {
                marked.extend(idx.manifests.into_iter().map(|l| l.digest));
            }
        }
    }
    Ok(marked)
}
