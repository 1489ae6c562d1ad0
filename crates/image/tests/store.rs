//! Root integration tests of the image store: real layer unpacking, real overlay mounts, real
//! crashes; every test works in its own temp data root and cleans up its mounts.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use berth_image::testing::{
    busybox_image_tar, reproducible_layer_tar, simple_config, write_image_archive,
};
use berth_image::{
    BlobSpec, ChangeKind, CommitOptions, DeleteItem, DeleteOptions, ImageUser, ListFilter,
    RootfsMount, Store, StoreError, unmount,
};
use berth_oci::{Digest, Reference};

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

/// Unmounts on drop, so a failing assertion never leaves a mount behind.
struct MountGuard(PathBuf);

impl MountGuard {
    fn mount(m: &RootfsMount, target: &Path) -> Result<MountGuard> {
        fs::create_dir_all(target)?;
        m.mount(target)?;
        Ok(MountGuard(target.to_path_buf()))
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = unmount(&self.0, true);
    }
}

/// A layer tar built from a list of simple entries.
#[derive(Default)]
struct LayerBuilder {
    b: Option<tar::Builder<Vec<u8>>>,
}

impl LayerBuilder {
    fn new() -> Self {
        LayerBuilder {
            b: Some(tar::Builder::new(Vec::new())),
        }
    }
    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }
    fn raw_name(mut h: tar::Header, name: &str) -> tar::Header {
        // Bypass the tar crate's path checks so hostile names can be written.
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name = [0; 100];
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        h
    }
    fn file(mut self, name: &str, data: &[u8]) -> Self {
        let h = Self::raw_name(
            Self::header(tar::EntryType::Regular, 0o644, data.len() as u64),
            name,
        );
        self.b.as_mut().unwrap().append(&h, data).unwrap();
        self
    }
    fn dir(mut self, name: &str) -> Self {
        let h = Self::raw_name(Self::header(tar::EntryType::Directory, 0o755, 0), name);
        self.b.as_mut().unwrap().append(&h, &[][..]).unwrap();
        self
    }
    fn link(mut self, kind: tar::EntryType, name: &str, target: &str) -> Self {
        let mut h = Self::raw_name(Self::header(kind, 0o777, 0), name);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.linkname = [0; 100];
        gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        self.b.as_mut().unwrap().append(&h, &[][..]).unwrap();
        self
    }
    fn symlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, name, target)
    }
    fn hardlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Link, name, target)
    }
    fn build(mut self) -> Vec<u8> {
        self.b.take().unwrap().into_inner().unwrap()
    }
}

fn archive(layers: &[Vec<u8>], tag: &str) -> Vec<u8> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256_of(l)).collect();
    let config = simple_config(&diff_ids, &["sh"]);
    write_image_archive(Vec::new(), layers, &config, &[tag]).unwrap()
}

fn snapshot_dirs(root: &Path) -> usize {
    fs::read_dir(root.join("snapshots")).unwrap().count()
}

fn dir_bytes(p: &Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// path -> (mode, uid, gid, content digest or link target)
fn tree(p: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for e in walkdir::WalkDir::new(p).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let md = e.path().symlink_metadata().unwrap();
        let what = if md.file_type().is_symlink() {
            format!("-> {}", fs::read_link(e.path()).unwrap().display())
        } else if md.is_file() {
            Digest::sha256_of(&fs::read(e.path()).unwrap()).to_string()
        } else {
            String::new()
        };
        let rel = e.path().strip_prefix(p).unwrap().display().to_string();
        m.insert(
            rel,
            format!("{:o} {}:{} {}", md.mode(), md.uid(), md.gid(), what),
        );
    }
    m
}

fn busybox_archive(dir: &Path, name: &str) -> (PathBuf, Digest) {
    let path = dir.join("busybox.tar");
    let id = busybox_image_tar(&path, name).unwrap();
    (path, id)
}

#[test]
fn ingest_rejects_wrong_digest_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let wrong = Digest::sha256_of(b"something else");
    let err = store
        .content()
        .ingest(&b"payload"[..], Some(&wrong), None)
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&wrong.to_string()), "{msg}");
    assert!(
        msg.contains(&Digest::sha256_of(b"payload").to_string()),
        "{msg}"
    );
    assert_eq!(
        fs::read_dir(tmp.path().join("content/ingest"))
            .unwrap()
            .count(),
        0
    );
    assert!(store.content().list().unwrap().is_empty());

    // A layer stream whose compressed digest is wrong leaves neither blob nor snapshot.
    let layer = LayerBuilder::new().file("a", b"x").build();
    let spec = BlobSpec {
        digest: Some(wrong.clone()),
        ..Default::default()
    };
    let err = store
        .apply_layer_stream(None, &layer[..], &spec, None)
        .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert_eq!(snapshot_dirs(tmp.path()), 0);
    assert!(store.layers().unwrap().is_empty());
}

#[test]
fn busybox_save_load_round_trip_keeps_id_and_files() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (tar_path, id) = busybox_archive(tmp.path(), "busybox:latest");
    let a = Store::open(&tmp.path().join("a")).unwrap();
    let loaded = a.load(fs::File::open(&tar_path).unwrap()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id, id);
    let img = a.resolve("busybox").unwrap();
    assert_eq!(img.id, id);
    assert_eq!(img.familiar_tags(), vec!["busybox:latest"]);
    assert_eq!(
        img.config.config.as_ref().unwrap().cmd.as_deref(),
        Some(&["sh".to_string()][..])
    );

    let saved = a.save(&["busybox"], Vec::new()).unwrap();
    let b = Store::open(&tmp.path().join("b")).unwrap();
    // `docker save | gzip` loads too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&saved).unwrap();
    let loaded = b.load(&gz.finish().unwrap()[..]).unwrap();
    assert_eq!(loaded[0].id, id);
    assert_eq!(b.resolve("busybox:latest").unwrap().id, id);
    let la = a.image_layers(&img).unwrap();
    let lb = b
        .image_layers(&b.resolve(&id.to_string()).unwrap())
        .unwrap();
    let dir = |root: &Path, l: &berth_image::LayerInfo| {
        root.join("snapshots")
            .join(l.snapshot_id.to_string())
            .join("fs")
    };
    let ta = tree(&dir(&tmp.path().join("a"), &la[0]));
    assert!(ta.contains_key("bin/busybox") && ta.contains_key("etc/passwd"));
    assert_eq!(ta, tree(&dir(&tmp.path().join("b"), &lb[0])));

    // The saved archive is an OCI layout and a docker-save tar at once.
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&saved[..]);
    for e in ar.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    for n in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    assert!(names.contains(&format!("blobs/sha256/{}", id.hex())));
}

#[test]
fn common_base_layer_is_stored_once() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let big = vec![7u8; 1 << 20];
    let base = LayerBuilder::new().file("base.bin", &big).build();
    let one = LayerBuilder::new().file("one", b"1").build();
    let two = LayerBuilder::new().file("two", b"2").build();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    store
        .load(&archive(&[base.clone(), one], "a:1")[..])
        .unwrap();
    store.load(&archive(&[base, two], "b:1")[..]).unwrap();
    assert_eq!(snapshot_dirs(&tmp.path().join("root")), 3);
    // File content only: each loaded layer also keeps a small tar-split next to its `fs`.
    let bytes: u64 = fs::read_dir(tmp.path().join("root/snapshots"))
        .unwrap()
        .map(|e| dir_bytes(&e.unwrap().path().join("fs")))
        .sum();
    assert!((1 << 20..(1 << 20) + 100).contains(&bytes), "{bytes}");
    let list = store.list(&ListFilter::default()).unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter()
            .all(|s| s.shared_size == 1 << 20 && s.image.size == (1 << 20) + 1)
    );

    // Deleting one image keeps the shared base; deleting both removes everything.
    let items = store.delete("a:1", DeleteOptions::default(), &[]).unwrap();
    assert!(items.contains(&DeleteItem::Untagged("a:1".into())));
    assert_eq!(snapshot_dirs(&tmp.path().join("root")), 2);
    store.delete("b:1", DeleteOptions::default(), &[]).unwrap();
    assert_eq!(snapshot_dirs(&tmp.path().join("root")), 0);
    assert!(store.content().list().unwrap().is_empty());
}

#[test]
fn whiteouts_and_opaque_dirs_hide_lower_files_in_a_real_overlay() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lower = LayerBuilder::new()
        .dir("a/")
        .file("a/gone", b"x")
        .file("a/kept", b"y")
        .dir("d/")
        .file("d/old1", b"1")
        .file("d/old2", b"2")
        .build();
    let upper = LayerBuilder::new()
        .file("a/.wh.gone", b"")
        .file("d/.wh..wh..opq", b"")
        .file("d/new", b"n")
        .build();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let loaded = store.load(&archive(&[lower, upper], "wh:1")[..]).unwrap();
    let m = store.prepare_rootfs("wh-test", &loaded[0].id).unwrap();
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target).unwrap();
        assert!(!target.join("a/gone").exists());
        assert_eq!(fs::read(target.join("a/kept")).unwrap(), b"y");
        let mut names: Vec<String> = fs::read_dir(target.join("d"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec!["new"]);
    }
    // The layer itself holds overlay's forms: a 0/0 char device and the opaque xattr.
    let img = store.resolve("wh:1").unwrap();
    let top = store.image_layers(&img).unwrap()[1].snapshot_id;
    let fsdir = tmp
        .path()
        .join("root/snapshots")
        .join(top.to_string())
        .join("fs");
    let md = fs::symlink_metadata(fsdir.join("a/gone")).unwrap();
    assert!(md.file_type().is_char_device() && md.rdev() == 0);
    assert_eq!(
        xattr::get(fsdir.join("d"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    store.remove_rootfs("wh-test").unwrap();
}

fn assert_rejected(layer: Vec<u8>, entry: &str, words: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let passwd_before = fs::read("/etc/passwd").unwrap();
    let err = store
        .apply_layer_stream(None, &layer[..], &BlobSpec::default(), None)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(entry) && msg.contains(words),
        "unexpected error for {entry}: {msg}"
    );
    assert!(matches!(err, StoreError::Apply(_)));
    assert_eq!(
        snapshot_dirs(&tmp.path().join("root")),
        0,
        "half-unpacked snapshot left for {entry}"
    );
    assert!(store.layers().unwrap().is_empty());
    assert_eq!(fs::read("/etc/passwd").unwrap(), passwd_before);
    assert!(!tmp.path().join("x").exists() && !tmp.path().join("root/x").exists());
}

#[test]
fn malicious_layers_are_rejected_and_leave_nothing() {
    if !require_root() {
        return;
    }
    assert_rejected(
        LayerBuilder::new()
            .file("ok", b"1")
            .file("../x", b"evil")
            .build(),
        "../x",
        "escapes the layer root",
    );
    assert_rejected(
        LayerBuilder::new()
            .symlink("a", "/etc")
            .file("a/passwd", b"evil")
            .build(),
        "a/passwd",
        "escapes the layer root",
    );
    assert_rejected(
        LayerBuilder::new()
            .hardlink("h", "../../etc/passwd")
            .build(),
        "\"h\"",
        "hard link target",
    );
    assert_rejected(
        LayerBuilder::new().symlink("s", "../../../etc").build(),
        "\"s\"",
        "symlink target",
    );
    assert_rejected(
        LayerBuilder::new()
            .dir("d/")
            .symlink("d/up", "..")
            .symlink("d/up2", "up/..")
            .file("d/up2/x", b"e")
            .build(),
        "d/up2/x",
        "escapes",
    );
}

#[test]
fn absolute_paths_are_made_relative_and_links_inside_work() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let layer = LayerBuilder::new()
        .file("/abs/file", b"abs")
        .symlink("abs/link", "/abs/file")
        .hardlink("abs/hard", "abs/file")
        .build();
    let l = store
        .apply_layer_stream(None, &layer[..], &BlobSpec::default(), None)
        .unwrap();
    let fsdir = tmp
        .path()
        .join("root/snapshots")
        .join(l.snapshot_id.to_string())
        .join("fs");
    assert_eq!(fs::read(fsdir.join("abs/file")).unwrap(), b"abs");
    assert_eq!(
        fs::read_link(fsdir.join("abs/link")).unwrap(),
        PathBuf::from("/abs/file")
    );
    assert_eq!(
        fs::metadata(fsdir.join("abs/hard")).unwrap().ino(),
        fs::metadata(fsdir.join("abs/file")).unwrap().ino()
    );
    assert_eq!(
        fs::metadata(fsdir.join("abs/file")).unwrap().mtime(),
        1_000_000
    );
    assert_eq!(l.diff_id, Digest::sha256_of(&layer));
}

#[test]
fn compressed_layers_stream_in_one_pass() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let layer = LayerBuilder::new().file("f", b"data").build();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let spec = BlobSpec {
        digest: Some(Digest::sha256_of(&gz)),
        size: Some(gz.len() as u64),
        media_type: Some(berth_oci::media_type::OCI_LAYER_GZIP.into()),
    };
    let l = store
        .apply_layer_stream(None, &gz[..], &spec, Some(&Digest::sha256_of(&layer)))
        .unwrap();
    assert_eq!(l.blob.as_ref().unwrap().digest, Digest::sha256_of(&gz));
    assert!(
        store
            .content()
            .stat(&Digest::sha256_of(&gz))
            .unwrap()
            .is_some()
    );
    let zs = zstd::encode_all(&layer[..], 3).unwrap();
    let tmp2 = tempfile::tempdir().unwrap();
    let s2 = Store::open(tmp2.path()).unwrap();
    let l2 = s2
        .apply_layer_stream(None, &zs[..], &BlobSpec::default(), None)
        .unwrap();
    assert_eq!(l2.diff_id, l.diff_id);
    // A wrong diff id is refused and leaves nothing.
    let tmp3 = tempfile::tempdir().unwrap();
    let s3 = Store::open(tmp3.path()).unwrap();
    let err = s3
        .apply_layer_stream(
            None,
            &gz[..],
            &BlobSpec::default(),
            Some(&Digest::sha256_of(b"no")),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::DiffIdMismatch { .. }), "{err}");
    assert_eq!(snapshot_dirs(tmp3.path()), 0);
}

#[test]
fn many_layers_mount() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layers: Vec<Vec<u8>> = (0..120)
        .map(|i| {
            LayerBuilder::new()
                .file(&format!("f{i}"), format!("{i}").as_bytes())
                .build()
        })
        .collect();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let loaded = store.load(&archive(&layers, "many:1")[..]).unwrap();
    let m = store.prepare_rootfs("many", &loaded[0].id).unwrap();
    let RootfsMount::Overlay(o) = &m else {
        panic!("expected overlay")
    };
    assert_eq!(o.lowerdirs.len(), 120);
    // Absolute paths would not fit in one page: this exercises the relative-path mount.
    assert!(o.data().len() > 4096, "{}", o.data().len());
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target).unwrap();
        for i in 0..120 {
            assert_eq!(
                fs::read_to_string(target.join(format!("f{i}"))).unwrap(),
                i.to_string()
            );
        }
    }
    store.remove_rootfs("many").unwrap();
}

#[test]
fn diff_changes_and_commit() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let base = LayerBuilder::new()
        .dir("etc/")
        .file("etc/conf", b"old")
        .file("etc/del", b"d")
        .dir("var/")
        .build();
    let store = Store::open(&tmp.path().join("root"))?;
    let loaded = store.load(&archive(&[base], "base:1")[..])?;
    let m = store.prepare_rootfs("c1", &loaded[0].id)?;
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target)?;
        fs::write(target.join("etc/conf"), "new")?;
        fs::remove_file(target.join("etc/del"))?;
        fs::create_dir(target.join("var/newdir"))?;
        fs::write(target.join("var/newdir/f"), "f")?;
    }
    let changes: Vec<(String, char)> = store
        .changes("c1")?
        .into_iter()
        .map(|c| (c.path, c.kind.letter()))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("/etc".to_string(), 'C'),
            ("/etc/conf".to_string(), 'C'),
            ("/etc/del".to_string(), 'D'),
            ("/var".to_string(), 'C'),
            ("/var/newdir".to_string(), 'A'),
            ("/var/newdir/f".to_string(), 'A'),
        ]
    );
    assert_eq!(ChangeKind::Deleted.code(), 2);
    let tar_bytes = store.export_diff("c1", Vec::new())?;
    let mut names = Vec::new();
    for e in tar::Archive::new(&tar_bytes[..]).entries()? {
        names.push(e?.path()?.display().to_string());
    }
    assert!(names.contains(&"etc/.wh.del".to_string()), "{names:?}");
    assert!(names.contains(&"var/newdir/f".to_string()), "{names:?}");

    let committed = store.commit(
        "c1",
        &CommitOptions {
            reference: Some(Reference::parse_normalized("committed:v1")?),
            comment: Some("msg".into()),
            ..Default::default()
        },
    )?;
    assert_eq!(committed.layers.len(), 2);
    assert_eq!(committed.parent.as_ref(), Some(&loaded[0].id));
    assert_eq!(store.resolve("committed:v1")?.id, committed.id);
    let hist = store.history("committed:v1")?;
    assert_eq!(hist[0].id, committed.id.to_string());
    assert_eq!(hist[0].comment, "msg");
    let m2 = store.prepare_rootfs("c2", &committed.id)?;
    let t2 = tmp.path().join("mnt2");
    {
        let _g = MountGuard::mount(&m2, &t2)?;
        assert_eq!(fs::read_to_string(t2.join("etc/conf"))?, "new");
        assert!(!t2.join("etc/del").exists());
        assert_eq!(fs::read_to_string(t2.join("var/newdir/f"))?, "f");
    }
    // The base image has a child now: it cannot be deleted.
    store.remove_rootfs("c1")?;
    store.remove_rootfs("c2")?;
    let err = store
        .delete(
            "base:1",
            DeleteOptions {
                force: true,
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
    assert!(err.to_string().contains("dependent child images"), "{err}");
    Ok(())
}

#[test]
fn concurrent_loads_of_one_archive_unpack_once() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layers: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            LayerBuilder::new()
                .file("big", &vec![i as u8; 300_000])
                .build()
        })
        .collect();
    let bytes = archive(&layers, "conc:1");
    let store = Store::open(&tmp.path().join("root")).unwrap();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..3).map(|_| s.spawn(|| store.load(&bytes[..]))).collect();
        let ids: Vec<Digest> = hs
            .into_iter()
            .map(|h| h.join().unwrap().unwrap()[0].id.clone())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
    });
    assert_eq!(snapshot_dirs(&tmp.path().join("root")), 4);
    assert_eq!(store.layers().unwrap().len(), 4);
}

/// A reader that hands out `first` bytes, writes `marker`, then blocks forever.
struct StallingReader<R> {
    inner: R,
    left: u64,
    marker: PathBuf,
}

impl<R: Read> Read for StallingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            fs::write(&self.marker, "stalled")?;
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        let n = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Child half of `crash_during_load_leaves_no_half_state`: only runs when re-executed.
#[test]
#[ignore = "helper run by crash_during_load_leaves_no_half_state"]
fn crash_child() {
    let Ok(spec) = std::env::var("BERTH_IMAGE_CRASH_CHILD") else {
        return;
    };
    let mut parts = spec.split('|');
    let (mode, root, input, marker) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let store = Store::open(Path::new(root)).unwrap();
    let len = fs::metadata(input).unwrap().len();
    let reader = StallingReader {
        inner: fs::File::open(input).unwrap(),
        left: len / 2,
        marker: PathBuf::from(marker),
    };
    if mode == "load" {
        let _ = store.load(reader);
    } else {
        let _ = store.apply_layer_stream(None, reader, &BlobSpec::default(), None);
    }
}

fn crash_in_child(mode: &str, root: &Path, input: &Path) {
    let marker = root.with_extension("marker");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .env(
            "BERTH_IMAGE_CRASH_CHILD",
            format!(
                "{mode}|{}|{}|{}",
                root.display(),
                input.display(),
                marker.display()
            ),
        )
        .spawn()
        .unwrap();
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "child never reached the stall point"
        );
        if let Some(st) = child.try_wait().unwrap() {
            panic!("child exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    drop(Reap(child));
}

#[test]
fn crash_during_load_leaves_no_half_state() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layers: Vec<Vec<u8>> = (0..2)
        .map(|i| {
            LayerBuilder::new()
                .file("big", &vec![i as u8; 2_000_000])
                .build()
        })
        .collect();
    let input = tmp.path().join("in.tar");
    fs::write(&input, archive(&layers, "crash:1")).unwrap();
    let layer_input = tmp.path().join("layer.tar");
    fs::write(&layer_input, &layers[0]).unwrap();

    for (mode, child_input) in [("load", &input), ("apply", &layer_input)] {
        let root = tmp.path().join(mode);
        Store::open(&root).unwrap();
        crash_in_child(mode, &root, child_input);
        // Before repair: the crash really left something half done.
        let leftovers =
            fs::read_dir(root.join("content/ingest")).unwrap().count() + snapshot_dirs(&root);
        assert!(leftovers > 0, "{mode}: the child left nothing to repair");
        let store = Store::open(&root).unwrap();
        assert_eq!(
            fs::read_dir(root.join("content/ingest")).unwrap().count(),
            0,
            "{mode}"
        );
        assert_eq!(snapshot_dirs(&root), 0, "{mode}");
        assert!(store.layers().unwrap().is_empty(), "{mode}");
        assert!(store.image_ids().unwrap().is_empty(), "{mode}");
        // And the store still works.
        let loaded = store.load(fs::File::open(&input).unwrap()).unwrap();
        assert_eq!(loaded.len(), 1);
    }
}

#[test]
fn docker_rmi_semantics() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let loaded = store
        .load(&archive(&[LayerBuilder::new().file("f", b"1").build()], "x:1")[..])
        .unwrap();
    let id = loaded[0].id.clone();
    store
        .tag("x:1", &Reference::parse_normalized("y").unwrap())
        .unwrap();
    assert_eq!(store.resolve(&id.hex()[..8]).unwrap().id, id);
    assert_eq!(store.resolve(&id.to_string()).unwrap().id, id);
    assert!(matches!(
        store.resolve("nope"),
        Err(StoreError::ImageNotFound { .. })
    ));
    assert_eq!(
        store.resolve("Nope").unwrap_err().to_string(),
        "invalid reference format: repository name (library/Nope) must be lowercase"
    );
    // By id with two tags: conflict unless forced.
    let err = store
        .delete(&id.hex()[..12], DeleteOptions::default(), &[])
        .unwrap_err();
    assert!(err.to_string().contains("must be forced"), "{err}");
    // By tag: only untag.
    assert_eq!(
        store.delete("y", DeleteOptions::default(), &[]).unwrap(),
        vec![DeleteItem::Untagged("y:latest".into())]
    );
    let users = [ImageUser {
        container_id: "c0ffee0123456789".into(),
        image_id: id.clone(),
        running: false,
    }];
    let err = store
        .delete("x:1", DeleteOptions::default(), &users)
        .unwrap_err();
    assert!(
        err.to_string().contains("stopped container c0ffee012345"),
        "{err}"
    );
    let running = [ImageUser {
        running: true,
        ..users[0].clone()
    }];
    assert!(
        store
            .delete(
                "x:1",
                DeleteOptions {
                    force: true,
                    ..Default::default()
                },
                &running
            )
            .is_err()
    );
    let items = store
        .delete(
            "x:1",
            DeleteOptions {
                force: true,
                ..Default::default()
            },
            &users,
        )
        .unwrap();
    assert_eq!(
        items,
        vec![DeleteItem::Untagged("x:1".into()), DeleteItem::Deleted(id)]
    );
    assert_eq!(snapshot_dirs(&tmp.path().join("root")), 0);

    // Prune removes dangling images only, unless all.
    store
        .load(&archive(&[LayerBuilder::new().file("g", b"2").build()], "keep:1")[..])
        .unwrap();
    let dangling = store
        .load(&archive(&[LayerBuilder::new().file("h", b"3").build()], "tmp:1")[..])
        .unwrap();
    store
        .untag(&Reference::parse_normalized("tmp:1").unwrap())
        .unwrap();
    let f = ListFilter {
        dangling: Some(true),
        ..Default::default()
    };
    assert_eq!(store.list(&f).unwrap().len(), 1);
    let f = ListFilter {
        reference: vec!["ke*".into()],
        ..Default::default()
    };
    assert_eq!(store.list(&f).unwrap().len(), 1);
    // A registry port is part of the name, not a tag.
    let keep = store.resolve("keep:1").unwrap();
    store
        .tag(
            &keep.id.to_string(),
            &Reference::parse_normalized("127.0.0.1:5000/team/keep:v2").unwrap(),
        )
        .unwrap();
    for (pattern, want) in [
        ("127.0.0.1:5000/team/keep", 1),
        ("127.0.0.1:5000/team/keep:v2", 1),
        ("127.0.0.1:5000/team/keep:v3", 0),
        ("127.0.0.1:5000/*/keep", 1),
    ] {
        let f = ListFilter {
            reference: vec![pattern.into()],
            ..Default::default()
        };
        assert_eq!(store.list(&f).unwrap().len(), want, "reference={pattern}");
    }
    store
        .untag(&Reference::parse_normalized("127.0.0.1:5000/team/keep:v2").unwrap())
        .unwrap();
    let (items, reclaimed) = store.prune(false, &[], &[]).unwrap();
    assert_eq!(items, vec![DeleteItem::Deleted(dangling[0].id.clone())]);
    assert!(reclaimed > 0);
    assert_eq!(store.list(&ListFilter::default()).unwrap().len(), 1);
}

#[test]
fn loads_legacy_docker_save_and_oci_layouts() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let l0 = LayerBuilder::new().file("a", b"a").build();
    let l1 = LayerBuilder::new().file("b", b"b").build();
    let diffs = [Digest::sha256_of(&l0), Digest::sha256_of(&l1)];
    let config = simple_config(&diffs, &["sh"]);
    let id = Digest::sha256_of(&config);

    // Pre-25 docker save: <id>.json, <layer>/layer.tar (one of them a symlink), repositories.
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(&mut b, "l0/layer.tar", &l0);
    add(&mut b, "l0/VERSION", b"1.0");
    add(&mut b, "real/layer.tar", &l1);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "l1/layer.tar", "../real/layer.tar")?;
    add(&mut b, &format!("{}.json", id.hex()), &config);
    let manifest = format!(
        r#"[{{"Config":"{}.json","RepoTags":["legacy:1"],"Layers":["l0/layer.tar","l1/layer.tar"]}}]"#,
        id.hex()
    );
    add(&mut b, "manifest.json", manifest.as_bytes());
    add(&mut b, "repositories", br#"{"legacy":{"1":"l1"}}"#);
    let legacy = b.into_inner()?;
    let store = Store::open(&tmp.path().join("root"))?;
    let loaded = store.load(&legacy[..])?;
    assert_eq!(loaded[0].id, id);
    assert_eq!(store.resolve("legacy:1")?.layers.len(), 2);

    // Pure OCI layout with gzip layers behind a multi-platform index.
    let gz = |d: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    };
    let (g0, g1) = (gz(&l0), gz(&l1));
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": berth_oci::media_type::OCI_MANIFEST,
        "config": {"mediaType": berth_oci::media_type::OCI_CONFIG, "digest": id, "size": config.len()},
        "layers": [
            {"mediaType": berth_oci::media_type::OCI_LAYER_GZIP, "digest": Digest::sha256_of(&g0), "size": g0.len()},
            {"mediaType": berth_oci::media_type::OCI_LAYER_GZIP, "digest": Digest::sha256_of(&g1), "size": g1.len()}
        ]
    });
    let mbytes = serde_json::to_vec(&manifest)?;
    let host = berth_oci::Platform::host();
    let inner = serde_json::json!({
        "schemaVersion": 2, "mediaType": berth_oci::media_type::OCI_INDEX,
        "manifests": [
            {"mediaType": berth_oci::media_type::OCI_MANIFEST, "digest": Digest::sha256_of(b"other"), "size": 1, "platform": {"os": "linux", "architecture": "s390x"}},
            {"mediaType": berth_oci::media_type::OCI_MANIFEST, "digest": Digest::sha256_of(&mbytes), "size": mbytes.len(), "platform": {"os": host.os, "architecture": host.architecture}}
        ]
    });
    let ibytes = serde_json::to_vec(&inner)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": berth_oci::media_type::OCI_INDEX, "digest": Digest::sha256_of(&ibytes), "size": ibytes.len(),
            "annotations": {"org.opencontainers.image.ref.name": "localhost:5000/oci/img:v2"}}]
    });
    let mut b = tar::Builder::new(Vec::new());
    for blob in [&g0, &g1, &config, &mbytes, &ibytes] {
        add(
            &mut b,
            &format!("blobs/sha256/{}", Digest::sha256_of(blob).hex()),
            blob,
        );
    }
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add(&mut b, "index.json", &serde_json::to_vec(&index)?);
    let oci = b.into_inner()?;
    let s2 = Store::open(&tmp.path().join("root2"))?;
    let loaded = s2.load(&oci[..]).context("load OCI layout")?;
    assert_eq!(loaded[0].id, id);
    let img = s2.resolve("localhost:5000/oci/img:v2")?;
    assert_eq!(img.manifest_digest, Some(Digest::sha256_of(&mbytes)));
    // Saved again, the gzip layers are written uncompressed under their diff ids.
    let saved = s2.save(&["localhost:5000/oci/img:v2"], Vec::new())?;
    let s3 = Store::open(&tmp.path().join("root3"))?;
    assert_eq!(s3.load(&saved[..])?[0].id, id);
    Ok(())
}

#[test]
fn reopen_keeps_everything_committed() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let id = {
        let store = Store::open(&root).unwrap();
        let loaded = store
            .load(&archive(&[LayerBuilder::new().file("f", b"1").build()], "p:1")[..])
            .unwrap();
        store.prepare_rootfs("ctr", &loaded[0].id).unwrap();
        loaded[0].id.clone()
    };
    let store = Store::open(&root).unwrap();
    assert_eq!(store.resolve("p:1").unwrap().id, id);
    assert!(store.rootfs("ctr").is_ok());
    assert_eq!(
        store.rootfs_users().unwrap(),
        vec![("ctr".to_string(), Some(id))]
    );
    assert_eq!(snapshot_dirs(&root), 2);
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
}

#[test]
fn busybox_fixture_is_reproducible() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let a = busybox_image_tar(&tmp.path().join("a.tar"), "busybox:latest").unwrap();
    let b = busybox_image_tar(&tmp.path().join("b.tar"), "busybox:latest").unwrap();
    assert_eq!(a, b);
    assert_eq!(
        fs::read(tmp.path().join("a.tar")).unwrap(),
        fs::read(tmp.path().join("b.tar")).unwrap()
    );
    let _ = reproducible_layer_tar;
}

#[test]
fn busybox_image_script_output_loads() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bb.tar");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-image.sh");
    let res = Command::new("sh")
        .arg(&script)
        .arg(&out)
        .arg("localhost:5000/bb:t")
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let printed = String::from_utf8(res.stdout).unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let loaded = store.load(fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(loaded[0].id.to_string(), printed.trim());
    let img = store.resolve("localhost:5000/bb:t").unwrap();
    assert_eq!(img.config.config.unwrap().cmd, Some(vec!["sh".to_string()]));
    let m = store.prepare_rootfs("bb", &img.id).unwrap();
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target).unwrap();
        assert!(
            fs::symlink_metadata(target.join("bin/sh"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::metadata(target.join("tmp")).unwrap().mode() & 0o7777,
            0o1777
        );
    }
    store.remove_rootfs("bb").unwrap();
}

#[test]
fn apply_preserves_owners_modes_xattrs_and_special_files() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let hdr = |kind: tar::EntryType, mode: u32, uid: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid + 1);
        h.set_mtime(1_234_567);
        h.set_size(0);
        h
    };
    // A PAX header carrying an xattr for the next entry.
    let pax = berth_image::diff::pax_records(&[(
        "SCHILY.xattr.user.color".to_string(),
        b"blue".to_vec(),
    )]);
    let mut ph = tar::Header::new_ustar();
    ph.set_entry_type(tar::EntryType::XHeader);
    ph.set_size(pax.len() as u64);
    ph.set_mode(0o644);
    b.append_data(&mut ph, "PaxHeaders/f", &pax[..]).unwrap();
    let mut h = hdr(tar::EntryType::Regular, 0o4755, 1000);
    h.set_size(3);
    b.append_data(&mut h, "dir/f", &b"abc"[..]).unwrap();
    b.append_data(
        &mut hdr(tar::EntryType::Directory, 0o1777, 0),
        "dir/",
        std::io::empty(),
    )
    .unwrap();
    b.append_data(
        &mut hdr(tar::EntryType::Fifo, 0o600, 5),
        "dir/fifo",
        std::io::empty(),
    )
    .unwrap();
    let mut dev = hdr(tar::EntryType::Char, 0o666, 0);
    dev.set_device_major(1).unwrap();
    dev.set_device_minor(3).unwrap();
    b.append_data(&mut dev, "dir/null", std::io::empty())
        .unwrap();
    b.append_link(&mut hdr(tar::EntryType::Link, 0, 0), "dir/hard", "dir/f")
        .unwrap();
    b.append_link(&mut hdr(tar::EntryType::Symlink, 0o777, 7), "dir/sym", "f")
        .unwrap();
    let layer = b.into_inner().unwrap();
    let l = store
        .apply_layer_stream(None, &layer[..], &BlobSpec::default(), None)
        .unwrap();
    let d = tmp
        .path()
        .join("root/snapshots")
        .join(l.snapshot_id.to_string())
        .join("fs/dir");
    let f = fs::metadata(d.join("f")).unwrap();
    assert_eq!(
        (f.mode() & 0o7777, f.uid(), f.gid(), f.mtime()),
        (0o4755, 1000, 1001, 1_234_567)
    );
    assert_eq!(
        xattr::get(d.join("f"), "user.color").unwrap().as_deref(),
        Some(&b"blue"[..])
    );
    let dm = fs::metadata(&d).unwrap();
    assert_eq!((dm.mode() & 0o7777, dm.mtime()), (0o1777, 1_234_567));
    assert!(fs::metadata(d.join("fifo")).unwrap().file_type().is_fifo());
    assert_eq!(fs::metadata(d.join("fifo")).unwrap().uid(), 5);
    let n = fs::metadata(d.join("null")).unwrap();
    assert!(n.file_type().is_char_device() && n.rdev() == nix::sys::stat::makedev(1, 3));
    assert_eq!(fs::metadata(d.join("hard")).unwrap().ino(), f.ino());
    let s = fs::symlink_metadata(d.join("sym")).unwrap();
    assert_eq!((s.uid(), s.mtime()), (7, 1_234_567));
    assert_eq!(l.content_size, 3);
}

#[test]
fn diff_of_a_replaced_directory_is_opaque() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let base = LayerBuilder::new().dir("d/").file("d/old", b"o").build();
    let store = Store::open(&tmp.path().join("root"))?;
    let loaded = store.load(&archive(&[base], "op:1")[..])?;
    let m = store.prepare_rootfs("op", &loaded[0].id)?;
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target)?;
        fs::remove_dir_all(target.join("d"))?;
        fs::create_dir(target.join("d"))?;
        fs::write(target.join("d/new"), "n")?;
    }
    let tar_bytes = store.export_diff("op", Vec::new())?;
    let mut names = Vec::new();
    for e in tar::Archive::new(&tar_bytes[..]).entries()? {
        names.push(e?.path()?.display().to_string());
    }
    assert!(names.contains(&"d/.wh..wh..opq".to_string()), "{names:?}");
    let committed = store.commit("op", &CommitOptions::default())?;
    let m2 = store.prepare_rootfs("op2", &committed.id)?;
    let t2 = tmp.path().join("mnt2");
    {
        let _g = MountGuard::mount(&m2, &t2)?;
        assert!(!t2.join("d/old").exists());
        assert!(t2.join("d/new").exists());
    }
    store.remove_rootfs("op")?;
    store.remove_rootfs("op2")?;
    Ok(())
}

#[test]
fn rootfs_size_counts_written_bytes() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let store = Store::open(&tmp.path().join("root"))?;
    let loaded =
        store.load(&archive(&[LayerBuilder::new().file("f", b"1").build()], "sz:1")[..])?;
    store.prepare_rootfs("sz", &loaded[0].id)?;
    assert!(matches!(
        store.prepare_rootfs("sz", &loaded[0].id),
        Err(StoreError::RootfsExists { .. })
    ));
    fs::write(store.rootfs_upper("sz")?.join("data"), vec![0u8; 4096])?;
    assert_eq!(store.rootfs_size("sz")?, 4096);
    let img = store.resolve("sz:1")?;
    let layers = store.image_layers(&img)?;
    assert!(store.layer_dir(&layers[0]).join("f").exists());
    // A used image is listed with its container count and survives a forced rmi's layers.
    assert_eq!(store.list(&ListFilter::default())?[0].containers, 1);
    store.remove_rootfs("sz")?;
    assert!(matches!(
        store.rootfs("sz"),
        Err(StoreError::RootfsNotFound { .. })
    ));
    Ok(())
}

#[test]
fn import_of_a_compressed_rootfs_tarball() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let store = Store::open(&tmp.path().join("root"))?;
    let rootfs = LayerBuilder::new()
        .dir("bin/")
        .file("bin/tool", b"#!/bin/sh\n")
        .build();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&rootfs)?;
    let gz = gz.finish()?;
    let config = berth_oci::ImageConfig {
        config: Some(berth_oci::ContainerConfig {
            cmd: Some(vec!["/bin/tool".into()]),
            env: Some(vec!["A=b".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let reference = Reference::parse_normalized("imported")?;
    let img = store.import(&gz[..], config, Some("from a test"), Some(&reference))?;
    assert_eq!(img.familiar_tags(), vec!["imported:latest"]);
    assert_eq!(img.config.rootfs.diff_ids, vec![Digest::sha256_of(&rootfs)]);
    assert_eq!(
        img.config.architecture,
        berth_oci::Platform::host().architecture
    );
    assert_eq!(
        img.config.config.as_ref().unwrap().cmd,
        Some(vec!["/bin/tool".to_string()])
    );
    let hist = store.history("imported")?;
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0].comment, "from a test");
    assert_eq!(hist[0].size, 10);
    // The imported image saves and loads like any other.
    let saved = store.save(&["imported"], Vec::new())?;
    let other = Store::open(&tmp.path().join("other"))?;
    assert_eq!(other.load(&saved[..])?[0].id, img.id);
    Ok(())
}

/// Interop with a real Docker daemon, when one is reachable through `BERTH_TEST_DOCKER_HOST`
/// (e.g. `unix:///tmp/docker.sock`): Docker loads and runs what berth saves, berth loads what
/// Docker saves, and the image id survives both ways.
#[test]
fn docker_interop_when_a_daemon_is_available() -> Result<()> {
    let Ok(host) = std::env::var("BERTH_TEST_DOCKER_HOST") else {
        eprintln!("skipping: BERTH_TEST_DOCKER_HOST is not set");
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let tag = format!("berth-interop-{}:t", std::process::id());
    let docker = |args: &[&str]| -> Result<String> {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &host)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (fixture, id) = busybox_archive(tmp.path(), &tag);
    let store = Store::open(&tmp.path().join("a"))?;
    store.load(fs::File::open(&fixture)?)?;
    let saved = tmp.path().join("berth-saved.tar");
    fs::write(&saved, store.save(&[&tag], Vec::new())?)?;
    struct RemoveImage<'a>(&'a dyn Fn(&[&str]) -> Result<String>, String);
    impl Drop for RemoveImage<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["rmi", "-f", &self.1]);
        }
    }
    let _cleanup = RemoveImage(&docker, tag.clone());
    let loaded = docker(&["load", "-i", saved.to_str().unwrap()])?;
    assert!(loaded.contains(&tag), "{loaded}");
    assert_eq!(
        docker(&["image", "inspect", "-f", "{{.Id}}", &tag])?.trim(),
        id.to_string()
    );
    let ran = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "sh",
        "-c",
        "echo hi; cat /etc/passwd | head -1",
    ])?;
    assert_eq!(ran, "hi\nroot:x:0:0:root:/root:/bin/sh\n");
    let docker_saved = tmp.path().join("docker-saved.tar");
    docker(&["save", "-o", docker_saved.to_str().unwrap(), &tag])?;
    let b = Store::open(&tmp.path().join("b"))?;
    let got = b.load(fs::File::open(&docker_saved)?)?;
    assert_eq!(got[0].id, id);
    assert_eq!(b.resolve(&tag)?.id, id);
    Ok(())
}

#[test]
fn save_of_several_images_loads_them_all() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let store = Store::open(&tmp.path().join("a"))?;
    let base = LayerBuilder::new().file("base", b"b").build();
    let one = store.load(
        &archive(
            &[base.clone(), LayerBuilder::new().file("1", b"1").build()],
            "one:1",
        )[..],
    )?;
    let two = store.load(
        &archive(
            &[base, LayerBuilder::new().file("2", b"2").build()],
            "two:2",
        )[..],
    )?;
    store.tag("one:1", &Reference::parse_normalized("one:alias")?)?;
    // By id: every tag of the image goes in; by tag: just that tag.
    let saved = store.save(&[&one[0].id.to_string(), "two:2"], Vec::new())?;
    let b = Store::open(&tmp.path().join("b"))?;
    let loaded = b.load(&saved[..])?;
    assert_eq!(loaded.len(), 2);
    assert_eq!(b.resolve("one:alias")?.id, one[0].id);
    assert_eq!(b.resolve("one:1")?.id, one[0].id);
    assert_eq!(b.resolve("two:2")?.id, two[0].id);
    assert_eq!(snapshot_dirs(&tmp.path().join("b")), 3);
    Ok(())
}

#[test]
fn extract_in_root_follows_symlinks_inside_the_root_only() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../../etc", root.join("rel")).unwrap();
    let tar_bytes = LayerBuilder::new()
        .file("abs/berth-test-a", b"a")
        .file("rel/berth-test-b", b"b")
        .file(".wh.keep", b"k")
        .build();
    berth_image::apply::extract_tar_in_root(&tar_bytes[..], &root, Path::new("/")).unwrap();
    assert_eq!(fs::read(root.join("etc/berth-test-a")).unwrap(), b"a");
    assert_eq!(fs::read(root.join("etc/berth-test-b")).unwrap(), b"b");
    assert!(!Path::new("/etc/berth-test-a").exists() && !Path::new("/etc/berth-test-b").exists());
    assert!(fs::metadata(root.join(".wh.keep")).unwrap().is_file());
    // Into a destination directory reached through an absolute symlink, hard links included.
    let more = LayerBuilder::new()
        .file("f", b"f")
        .hardlink("h", "f")
        .build();
    berth_image::apply::extract_tar_in_root(&more[..], &root, Path::new("/abs")).unwrap();
    assert_eq!(fs::read(root.join("etc/h")).unwrap(), b"f");
    // Entries climbing out of the archive are refused, as Docker does.
    let up = LayerBuilder::new().file("../up", b"u").build();
    let err =
        berth_image::apply::extract_tar_in_root(&up[..], &root, Path::new("/abs")).unwrap_err();
    assert!(err.to_string().contains("escapes"), "{err}");
}

fn snapshot_ids(root: &Path) -> Vec<i64> {
    let mut ids: Vec<i64> = fs::read_dir(root.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    ids.sort();
    ids
}

fn add_file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, data).unwrap();
}

#[test]
fn stream_load_skips_present_layers_and_drops_unreferenced_blobs() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let store = Store::open(&root).unwrap();
    let base = LayerBuilder::new().file("base", &[7u8; 50_000]).build();
    let one = LayerBuilder::new().file("one", b"1").build();
    let two = LayerBuilder::new().file("two", b"2").build();
    store
        .load(&archive(&[base.clone(), one], "a:1")[..])
        .unwrap();
    assert_eq!(snapshot_ids(&root), vec![1, 2]);
    // The base layer is in the store: the second load must not unpack it again, so the only
    // new snapshot (ids are never reused) is the next one.
    store
        .load(&archive(&[base, two.clone()], "b:1")[..])
        .unwrap();
    assert_eq!(snapshot_ids(&root), vec![1, 2, 3]);

    // An archive with an extra layer blob no manifest names: it is unpacked while streaming
    // (nothing says it is unused yet) but neither its snapshot nor its blob stays.
    let stray = LayerBuilder::new().file("stray", &[9u8; 10_000]).build();
    let three = LayerBuilder::new().file("three", b"3").build();
    let diffs = [Digest::sha256_of(&three)];
    let config = simple_config(&diffs, &["sh"]);
    let mut b = tar::Builder::new(Vec::new());
    add_file(
        &mut b,
        &format!("blobs/sha256/{}", Digest::sha256_of(&stray).hex()),
        &stray,
    );
    add_file(&mut b, &format!("blobs/sha256/{}", diffs[0].hex()), &three);
    add_file(
        &mut b,
        &format!("blobs/sha256/{}", Digest::sha256_of(&config).hex()),
        &config,
    );
    let manifest = format!(
        r#"[{{"Config":"blobs/sha256/{}","RepoTags":["c:1"],"Layers":["blobs/sha256/{}"]}}]"#,
        Digest::sha256_of(&config).hex(),
        diffs[0].hex()
    );
    add_file(&mut b, "manifest.json", manifest.as_bytes());
    store.load(&b.into_inner().unwrap()[..]).unwrap();
    assert_eq!(store.resolve("c:1").unwrap().layers.len(), 1);
    assert_eq!(snapshot_dirs(&root), 4);
    let blobs = store.content().list().unwrap();
    assert!(blobs.iter().all(|b| b.digest != Digest::sha256_of(&stray)));
    // The layer keeps a tar-split instead of its blob, and reads back through the store.
    assert!(blobs.iter().all(|b| b.digest != diffs[0]));
    assert_eq!(
        store.stat_blob(&diffs[0]).unwrap().map(|b| b.size),
        Some(three.len() as u64)
    );
    assert_eq!(
        fs::read_dir(root.join("content/ingest")).unwrap().count(),
        0
    );
    // The kept layer blobs are byte-exact: save and load elsewhere gives the same image.
    let saved = store.save(&["b:1", "c:1"], Vec::new()).unwrap();
    let other = Store::open(&tmp.path().join("other")).unwrap();
    let ids: Vec<Digest> = other
        .load(&saved[..])
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&store.resolve("b:1").unwrap().id));
}

#[test]
fn stream_load_with_manifest_first_and_compressed_oci_layers() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let l0 = LayerBuilder::new().dir("d/").file("d/a", b"a").build();
    let l1 = LayerBuilder::new()
        .file("d/.wh.a", b"")
        .file("z", &[3u8; 70_000])
        .build();
    let diffs = [Digest::sha256_of(&l0), Digest::sha256_of(&l1)];
    let config = simple_config(&diffs, &["sh"]);
    let id = Digest::sha256_of(&config);
    let z0 = zstd::encode_all(&l0[..], 3)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&l1)?;
    let g1 = gz.finish()?;
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": berth_oci::media_type::OCI_MANIFEST,
        "config": {"mediaType": berth_oci::media_type::OCI_CONFIG, "digest": id, "size": config.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": Digest::sha256_of(&z0), "size": z0.len()},
            {"mediaType": berth_oci::media_type::OCI_LAYER_GZIP, "digest": Digest::sha256_of(&g1), "size": g1.len()}
        ]
    });
    let mbytes = serde_json::to_vec(&manifest)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": berth_oci::media_type::OCI_MANIFEST, "digest": Digest::sha256_of(&mbytes), "size": mbytes.len(),
            "annotations": {"io.containerd.image.name": "docker.io/library/first:1"}}]
    });
    // index.json and the manifest before the layers they name.
    let mut b = tar::Builder::new(Vec::new());
    add_file(&mut b, "index.json", &serde_json::to_vec(&index)?);
    add_file(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for blob in [&mbytes, &config, &z0, &g1] {
        add_file(
            &mut b,
            &format!("blobs/sha256/{}", Digest::sha256_of(blob).hex()),
            blob,
        );
    }
    let store = Store::open(&tmp.path().join("root"))?;
    let loaded = store.load(&b.into_inner()?[..])?;
    assert_eq!(loaded[0].id, id);
    let img = store.resolve("first:1")?;
    let layers = store.image_layers(&img)?;
    assert_eq!(layers[0].diff_id, diffs[0]);
    assert_eq!(
        layers[1].blob.as_ref().unwrap().digest,
        Digest::sha256_of(&g1)
    );
    assert_eq!(
        layers[1].blob_media_type.as_deref(),
        Some(berth_oci::media_type::OCI_LAYER_GZIP)
    );
    let m = store.prepare_rootfs("first", &img.id)?;
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target)?;
        assert!(target.join("d").is_dir());
        assert!(!target.join("d/a").exists());
        assert_eq!(fs::read(target.join("z"))?.len(), 70_000);
    }
    store.remove_rootfs("first")?;
    Ok(())
}

#[test]
fn stream_load_rejects_a_layer_that_does_not_match_its_diff_id() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let real = LayerBuilder::new().file("f", b"real").build();
    let claimed = Digest::sha256_of(b"something else");
    let config = simple_config(&[claimed], &["sh"]);
    let mut b = tar::Builder::new(Vec::new());
    add_file(&mut b, "l/layer.tar", &real);
    add_file(&mut b, "c.json", &config);
    add_file(
        &mut b,
        "manifest.json",
        br#"[{"Config":"c.json","RepoTags":["bad:1"],"Layers":["l/layer.tar"]}]"#,
    );
    let store = Store::open(&root).unwrap();
    let err = store.load(&b.into_inner().unwrap()[..]).unwrap_err();
    assert!(matches!(err, StoreError::DiffIdMismatch { .. }), "{err}");
    assert_eq!(snapshot_dirs(&root), 0);
    assert!(store.layers().unwrap().is_empty());
    assert_eq!(
        fs::read_dir(root.join("content/ingest")).unwrap().count(),
        0
    );
}

#[test]
fn diff_of_a_recreated_directory_lists_old_children_deleted() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let base = LayerBuilder::new()
        .dir("etc/")
        .dir("etc/x/")
        .file("etc/x/old", b"o")
        .file("etc/x/old2", b"o")
        .file("etc/keep", b"k")
        .build();
    let store = Store::open(&tmp.path().join("root"))?;
    let loaded = store.load(&archive(&[base], "opq:1")[..])?;
    let m = store.prepare_rootfs("opq", &loaded[0].id)?;
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target)?;
        fs::remove_dir_all(target.join("etc/x"))?;
        fs::create_dir(target.join("etc/x"))?;
        fs::write(target.join("etc/x/new"), "n")?;
    }
    let got: Vec<String> = store
        .changes("opq")?
        .iter()
        .map(|c| format!("{} {}", c.kind.letter(), c.path))
        .collect();
    assert_eq!(
        got,
        [
            "C /etc",
            "C /etc/x",
            "A /etc/x/new",
            "D /etc/x/old",
            "D /etc/x/old2"
        ],
        "{got:?}"
    );
    store.remove_rootfs("opq")?;
    Ok(())
}

/// Loads `base:1`, commits a child of it tagged `child:1`, then untags the base so it is an
/// untagged parent (like a build's intermediate image). Returns (base id, child id).
fn untagged_parent_and_child(store: &Store, root: &Path) -> (Digest, Digest) {
    let base = LayerBuilder::new().file("f", b"1").build();
    let base_id = store.load(&archive(&[base], "base:1")[..]).unwrap()[0]
        .id
        .clone();
    store.prepare_rootfs("mk-child", &base_id).unwrap();
    fs::write(
        store
            .root()
            .join("snapshots")
            .join(snapshot_ids(root).last().unwrap().to_string())
            .join("fs/new"),
        "x",
    )
    .unwrap();
    let opts = CommitOptions {
        reference: Some(Reference::parse_normalized_tagged("child:1").unwrap()),
        ..Default::default()
    };
    let child = store.commit("mk-child", &opts).unwrap();
    store.remove_rootfs("mk-child").unwrap();
    assert_eq!(child.parent.as_ref(), Some(&base_id));
    store
        .untag(&Reference::parse_normalized_tagged("base:1").unwrap())
        .unwrap();
    (base_id, child.id)
}

#[test]
fn rmi_deletes_untagged_parents_unless_no_prune() {
    if !require_root() {
        return;
    }
    for no_prune in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let store = Store::open(&root).unwrap();
        let (base, child) = untagged_parent_and_child(&store, &root);
        let opts = DeleteOptions {
            no_prune,
            ..Default::default()
        };
        let items = store.delete("child:1", opts, &[]).unwrap();
        assert!(
            items.contains(&DeleteItem::Deleted(child.clone())),
            "{items:?}"
        );
        let ids = store.image_ids().unwrap();
        if no_prune {
            assert_eq!(ids, vec![base.clone()], "--no-prune keeps the parent");
            assert!(!items.contains(&DeleteItem::Deleted(base.clone())));
        } else {
            assert!(ids.is_empty(), "the untagged parent goes too: {ids:?}");
            assert!(
                items.contains(&DeleteItem::Deleted(base.clone())),
                "{items:?}"
            );
            assert_eq!(snapshot_dirs(&root), 0);
        }
    }
}

#[test]
fn prune_filters_until_and_label_not() {
    if !require_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    // Two dangling images with configs created in 1970 and 2030, labelled differently.
    let mut ids = Vec::new();
    for (i, (created, label)) in [
        ("1970-01-02T00:00:00Z", "keep"),
        ("2030-01-01T00:00:00Z", "drop"),
    ]
    .iter()
    .enumerate()
    {
        let layer = LayerBuilder::new().file("f", &[i as u8]).build();
        let diff = Digest::sha256_of(&layer);
        let mut config: serde_json::Value =
            serde_json::from_slice(&simple_config(&[diff], &["sh"])).unwrap();
        config["created"] = serde_json::json!(created);
        config["config"]["Labels"] = serde_json::json!({ "which": label });
        let config = serde_json::to_vec(&config).unwrap();
        let bytes = write_image_archive(Vec::new(), &[layer], &config, &[]).unwrap();
        ids.push(store.load(&bytes[..]).unwrap()[0].id.clone());
    }
    let until_2000 = berth_image::PruneFilter {
        until: Some(946_684_800),
        ..Default::default()
    };
    let (items, _) = store.prune_matching(&until_2000, &[]).unwrap();
    assert_eq!(items, vec![DeleteItem::Deleted(ids[0].clone())]);
    let not_drop = berth_image::PruneFilter {
        labels_not: vec!["which=drop".to_string()],
        ..Default::default()
    };
    let (items, _) = store.prune_matching(&not_drop, &[]).unwrap();
    assert!(items.is_empty(), "{items:?}");
    let (items, _) = store.prune_matching(&Default::default(), &[]).unwrap();
    assert_eq!(items, vec![DeleteItem::Deleted(ids[1].clone())]);
}

#[test]
fn stream_load_of_one_blob_used_twice_unpacks_the_second_copy_from_the_store() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let layer = LayerBuilder::new().file("same", b"s").build();
    let store = Store::open(&root)?;
    let loaded = store.load(&archive(&[layer.clone(), layer], "twice:1")[..])?;
    let img = store.image_by_id(&loaded[0].id)?;
    assert_eq!(img.layers.len(), 2);
    assert_eq!(snapshot_dirs(&root), 2);
    let m = store.prepare_rootfs("twice", &img.id)?;
    let target = tmp.path().join("mnt");
    {
        let _g = MountGuard::mount(&m, &target)?;
        assert_eq!(fs::read(target.join("same"))?, b"s");
    }
    store.remove_rootfs("twice")?;
    assert_eq!(fs::read_dir(root.join("content/ingest"))?.count(), 0);
    Ok(())
}
