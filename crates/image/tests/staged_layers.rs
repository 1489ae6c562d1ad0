//! Staged layers (what a streaming pull uses): a layer unpacks into a snapshot before its
//! parent is in the store and is committed on top of it later; a staged layer dropped
//! uncommitted, or one whose bytes do not match, leaves nothing behind.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use berth_image::store::StagedLayer;
use berth_image::{BlobSpec, Store, StoreError, chain_id};
use berth_oci::{Digest, media_type};

fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("BERTH_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: needs root");
        return false;
    }
    panic!("this test needs root (set BERTH_SKIP_ROOT_TESTS=1 to skip it)");
}

fn one_file_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn spec(gz: &[u8]) -> BlobSpec {
    BlobSpec {
        digest: Some(Digest::sha256_of(gz)),
        size: Some(gz.len() as u64),
        media_type: Some(media_type::DOCKER_LAYER_GZIP.to_string()),
    }
}

fn stage(store: &Arc<Store>, tar: &[u8]) -> StagedLayer {
    let gz = gzip(tar);
    store
        .stage_layer_stream(&gz[..], &spec(&gz), Some(&Digest::sha256_of(tar)))
        .unwrap()
}

fn entries(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_child_unpacks_before_its_parent_and_commits_after_it() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("s")).unwrap());
    let base = one_file_tar("base", b"base layer");
    let top = one_file_tar("top", b"top layer");
    let (base_diff, top_diff) = (Digest::sha256_of(&base), Digest::sha256_of(&top));
    let base_chain = chain_id(None, &base_diff);

    // The child first, while its parent is not in the store at all.
    let staged_top = stage(&store, &top);
    assert_eq!(staged_top.diff_id(), &top_diff);
    assert!(store.layers().unwrap().is_empty(), "nothing committed yet");
    let err = stage(&store, &top).commit(Some(&base_chain)).unwrap_err();
    assert!(
        matches!(err, StoreError::LayerNotFound { .. }),
        "a parent that is not committed: {err:?}"
    );

    let base_info = stage(&store, &base).commit(None).unwrap();
    assert_eq!(base_info.chain_id, base_chain);
    let top_info = staged_top.commit(Some(&base_chain)).unwrap();
    assert_eq!(top_info.chain_id, chain_id(Some(&base_chain), &top_diff));
    assert_eq!(top_info.parent.as_ref(), Some(&base_chain));
    assert_eq!(
        store.layer(&top_info.chain_id).unwrap(),
        Some(top_info.clone())
    );
    let top_file = dir
        .path()
        .join("s/snapshots")
        .join(top_info.snapshot_id.to_string())
        .join("fs/top");
    assert_eq!(fs::read(top_file).unwrap(), b"top layer");
    // The raw blob went to the content store for push and save.
    let blob = top_info.blob.unwrap();
    assert!(store.content().stat(&blob.digest).unwrap().is_some());
    // The failed commit above and the committed ones left exactly two snapshot directories.
    assert_eq!(entries(&dir.path().join("s/snapshots")), 2);

    // The same stack staged again (a concurrent pull): commit returns the existing layer and
    // removes the duplicate.
    let again = stage(&store, &base).commit(None).unwrap();
    assert_eq!(again.snapshot_id, base_info.snapshot_id);
    assert_eq!(entries(&dir.path().join("s/snapshots")), 2);
}

#[test]
fn dropped_or_corrupt_staged_layers_leave_nothing_behind() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("s")).unwrap());
    let tar = one_file_tar("f", &[7u8; 100_000]);
    drop(stage(&store, &tar));
    assert_eq!(entries(&dir.path().join("s/snapshots")), 0);
    // The verified blob stays in the content store until garbage collection; corrupt ones
    // below never get there.
    let blobs = store.content().list().unwrap();

    let gz = gzip(&tar);
    let mut wrong = spec(&gz);
    wrong.digest = Some(Digest::sha256_of(b"something else"));
    let err = store
        .stage_layer_stream(&gz[..], &wrong, Some(&Digest::sha256_of(&tar)))
        .unwrap_err();
    assert!(matches!(err, StoreError::Content(_)), "{err:?}");
    let err = store
        .stage_layer_stream(&gz[..], &spec(&gz), Some(&Digest::sha256_of(b"not it")))
        .unwrap_err();
    assert!(matches!(err, StoreError::DiffIdMismatch { .. }), "{err:?}");
    assert_eq!(entries(&dir.path().join("s/snapshots")), 0);
    assert_eq!(entries(&dir.path().join("s/content/ingest")), 0);
    assert_eq!(store.content().list().unwrap(), blobs);
    // Reopening (crash repair) finds nothing to repair either.
    drop(store);
    let store = Store::open(&dir.path().join("s")).unwrap();
    assert!(store.layers().unwrap().is_empty());
}
