//! Root integration tests of tar-split: a loaded uncompressed layer keeps no blob, yet every
//! reader (open_blob, save) gets back exactly the original tar bytes; layers that could be
//! rebuilt wrongly keep their blob.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use anyhow::Result;
use berth_image::testing::{busybox_image_tar, simple_config, write_image_archive};
use berth_image::{DeleteOptions, Store};
use berth_oci::Digest;

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

fn gnu(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_234_567);
    h.set_uid(1000);
    h.set_gid(1000);
    h
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
    let mut h = gnu(tar::EntryType::Regular, mode, data.len() as u64);
    b.append_data(&mut h, path, data).unwrap();
}

fn dir(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) {
    let mut h = gnu(tar::EntryType::Directory, mode, 0);
    b.append_data(&mut h, path, std::io::empty()).unwrap();
}

fn link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
    let mut h = gnu(kind, 0o777, 0);
    b.append_link(&mut h, path, target).unwrap();
}

fn node(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, major: u32, minor: u32) {
    let mut h = gnu(kind, 0o640, 0);
    h.set_device_major(major).unwrap();
    h.set_device_minor(minor).unwrap();
    b.append_data(&mut h, path, std::io::empty()).unwrap();
}

/// A PAX extended header ('x') with `records`, then the entry `h` with `data`.
fn pax_entry(
    b: &mut tar::Builder<Vec<u8>>,
    records: &[(&str, &[u8])],
    h: &tar::Header,
    data: &[u8],
) {
    pax_header(b, records);
    b.append(h, data).unwrap();
}

/// A PAX extended header ('x') with `records`, for the entry appended next.
fn pax_header(b: &mut tar::Builder<Vec<u8>>, records: &[(&str, &[u8])]) {
    let mut body = Vec::new();
    for (k, v) in records {
        let rest = k.len() + v.len() + 3;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        body.extend_from_slice(format!("{len} {k}=").as_bytes());
        body.extend_from_slice(v);
        body.push(b'\n');
    }
    let mut x = tar::Header::new_ustar();
    x.set_entry_type(tar::EntryType::XHeader);
    x.set_path("PaxHeaders/entry").unwrap();
    x.set_mode(0o644);
    x.set_uid(0);
    x.set_gid(0);
    x.set_mtime(0);
    x.set_size(body.len() as u64);
    x.set_cksum();
    b.append(&x, &body[..]).unwrap();
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Every kind of entry a layer may hold, in GNU, ustar and PAX spellings, ending with the
/// zero padding of a 10 KiB tar record like GNU tar writes.
fn tricky_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    dir(&mut b, "./", 0o755);
    dir(&mut b, "odd", 0o1751);
    dir(&mut b, "sticky", 0o3777);
    file(&mut b, "empty", 0o600, b"");
    file(&mut b, "odd/data", 0o4755, &payload(1000, 1));
    file(&mut b, "odd/exact-block", 0o644, &payload(512, 2));
    let long100 = format!("long/{}", "n".repeat(120));
    file(&mut b, &long100, 0o644, &payload(7, 3));
    let long255 = format!("deeper/{}/{}", "d".repeat(150), "f".repeat(140));
    file(&mut b, &long255, 0o644, &payload(70_000, 4));
    // ustar with the path split into prefix + name.
    let mut u = tar::Header::new_ustar();
    let split_path = format!("{}/ustar-file", "p".repeat(120));
    u.set_path(&split_path).unwrap();
    u.set_size(33);
    u.set_mode(0o640);
    u.set_uid(0);
    u.set_gid(0);
    u.set_mtime(5);
    u.set_entry_type(tar::EntryType::Regular);
    u.set_cksum();
    b.append(&u, &payload(33, 5)[..]).unwrap();
    // PAX: xattrs and a non-ASCII path, and a long link target.
    let mut p = gnu(tar::EntryType::Regular, 0o644, 4096);
    p.set_path("pax-short-name").unwrap();
    p.set_cksum();
    let name = "ünïcødé/файл-日本語.txt";
    pax_entry(
        &mut b,
        &[
            ("path", name.as_bytes()),
            ("SCHILY.xattr.user.berth", b"value\0with nul"),
            ("mtime", b"1234567.5"),
        ],
        &p,
        &payload(4096, 6),
    );
    let target = format!("{}/target", "t".repeat(300));
    let mut s = gnu(tar::EntryType::Symlink, 0o777, 0);
    s.set_path("pax-symlink").unwrap();
    s.set_cksum();
    pax_entry(&mut b, &[("linkpath", target.as_bytes())], &s, b"");
    link(&mut b, tar::EntryType::Symlink, "sl", "odd/data");
    link(
        &mut b,
        tar::EntryType::Symlink,
        "long-link",
        &format!("{}/x", "k".repeat(200)),
    );
    link(&mut b, tar::EntryType::Link, "hl", "odd/data");
    link(&mut b, tar::EntryType::Link, "hl-long", &long255);
    node(&mut b, tar::EntryType::Char, "dev/char", 1, 3);
    node(&mut b, tar::EntryType::Block, "dev/block", 7, 0);
    node(&mut b, tar::EntryType::Fifo, "dev/fifo", 0, 0);
    file(&mut b, ".wh.gone", 0o600, b"");
    file(&mut b, "odd/.wh..wh..opq", 0o600, b"");
    // PAX records and a GNU long name for one entry: the long name is the path.
    pax_header(&mut b, &[("SCHILY.xattr.user.both", b"1")]);
    file(
        &mut b,
        &format!("both/{}", "b".repeat(130)),
        0o644,
        &payload(600, 10),
    );
    file(&mut b, "last", 0o644, &payload(1, 7));
    let mut out = b.into_inner().unwrap();
    out.resize(out.len().div_ceil(10240) * 10240, 0);
    out
}

fn load(store: &Store, layers: &[Vec<u8>], tag: &str) -> Digest {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256_of(l)).collect();
    let config = simple_config(&diff_ids, &["sh"]);
    let archive = write_image_archive(Vec::new(), layers, &config, &[tag]).unwrap();
    store.load(&archive[..]).unwrap()[0].id.clone()
}

fn read_blob(store: &Store, d: &Digest) -> Vec<u8> {
    let blob = store.open_blob(d).unwrap();
    let mut v = Vec::new();
    let mut r = blob.reader;
    r.read_to_end(&mut v).unwrap();
    assert_eq!(v.len() as u64, blob.size);
    v
}

/// The layer blobs of a saved archive, by digest.
fn saved_blobs(store: &Store, name: &str) -> HashMap<Digest, Vec<u8>> {
    let saved = store.save(&[name], Vec::new()).unwrap();
    let mut a = tar::Archive::new(&saved[..]);
    let mut out = HashMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        if let Some(hex) = p.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            out.insert(Digest::from_sha256_hex(hex).unwrap(), v);
        }
    }
    out
}

fn assert_reassembles(store: &Store, layer: &[u8], name: &str) {
    let d = Digest::sha256_of(layer);
    let back = read_blob(store, &d);
    assert!(back == layer, "reassembled layer differs from the original");
    assert_eq!(Digest::sha256_of(&back), d);
    let saved = saved_blobs(store, name);
    assert!(
        saved.get(&d).is_some_and(|b| b == layer),
        "saved layer differs"
    );
    assert_eq!(
        store.stat_blob(&d).unwrap().map(|b| b.size),
        Some(layer.len() as u64)
    );
}

fn snapshot_dir_has_split(root: &Path) -> usize {
    std::fs::read_dir(root.join("snapshots"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("tar-split").is_file())
        .count()
}

#[test]
fn tricky_layer_keeps_no_blob_and_reassembles_byte_for_byte() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let store = Store::open(&root)?;
    let layer = tricky_layer();
    let d = Digest::sha256_of(&layer);
    load(&store, std::slice::from_ref(&layer), "tricky:1");
    assert!(
        store.content().stat(&d)?.is_none(),
        "an uncompressed loaded layer keeps a tar-split, not its blob"
    );
    assert_eq!(snapshot_dir_has_split(&root), 1);
    assert_reassembles(&store, &layer, "tricky:1");
    // The files really are there (the split refers to them).
    let fs_dirs: Vec<_> = std::fs::read_dir(root.join("snapshots"))?.collect();
    let fs_dir = fs_dirs[0].as_ref().unwrap().path().join("fs");
    assert_eq!(std::fs::read(fs_dir.join("odd/data"))?, payload(1000, 1));
    assert_eq!(
        xattr::get(fs_dir.join("ünïcødé/файл-日本語.txt"), "user.berth")?,
        Some(b"value\0with nul".to_vec())
    );
    // Reopening the store (crash repair) keeps the split usable.
    drop(store);
    let store = Store::open(&root)?;
    assert_reassembles(&store, &layer, "tricky:1");
    // Push needs a file: the blob is written back, verified, and stays.
    let path = store.blob_file(&d)?;
    assert!(std::fs::read(&path)? == layer);
    assert_eq!(
        store.content().stat(&d)?.map(|b| b.size),
        Some(layer.len() as u64)
    );
    assert_reassembles(&store, &layer, "tricky:1");
    Ok(())
}

#[test]
fn busybox_save_after_load_is_byte_identical() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("bb.tar");
    busybox_image_tar(&path, "bb:split")?;
    let mut orig = HashMap::new();
    let mut a = tar::Archive::new(std::fs::File::open(&path)?);
    for e in a.entries()? {
        let mut e = e?;
        let p = e.path()?.display().to_string();
        if let Some(hex) = p.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            let mut v = Vec::new();
            e.read_to_end(&mut v)?;
            orig.insert(Digest::from_sha256_hex(hex)?, v);
        }
    }
    let store = Store::open(&tmp.path().join("root"))?;
    let loaded = store.load(std::fs::File::open(&path)?)?;
    let img = store.image_by_id(&loaded[0].id)?;
    let saved = saved_blobs(&store, "bb:split");
    for l in &img.layers {
        assert!(store.content().stat(l)?.is_none());
        assert_eq!(saved.get(l), orig.get(l), "layer {l}");
    }
    Ok(())
}

/// Layers whose tar could not be rebuilt from the snapshot keep their blob, and still read
/// back (and save) byte for byte.
#[test]
fn ambiguous_layers_keep_their_blob() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut repeated = tar::Builder::new(Vec::new());
    file(&mut repeated, "dup", 0o644, b"first");
    file(&mut repeated, "dup", 0o644, b"second");
    let repeated = repeated.into_inner()?;

    let mut relinked = tar::Builder::new(Vec::new());
    file(&mut relinked, "t", 0o644, b"target one");
    link(&mut relinked, tar::EntryType::Link, "h", "t");
    file(&mut relinked, "t", 0o644, b"target two");
    let relinked = relinked.into_inner()?;

    let mut under_symlink = tar::Builder::new(Vec::new());
    dir(&mut under_symlink, "real", 0o755);
    link(&mut under_symlink, tar::EntryType::Symlink, "via", "real");
    file(&mut under_symlink, "via/f", 0o644, b"one");
    file(&mut under_symlink, "real/f2", 0o644, b"two");
    let under_symlink = under_symlink.into_inner()?;

    let mut replaced_dir = tar::Builder::new(Vec::new());
    file(&mut replaced_dir, "d/inner", 0o644, b"gone soon");
    file(&mut replaced_dir, "d", 0o644, b"now a file");
    let replaced_dir = replaced_dir.into_inner()?;

    let mut whited = tar::Builder::new(Vec::new());
    file(&mut whited, "w", 0o644, b"hidden later");
    file(&mut whited, ".wh.w", 0o644, b"");
    let whited = whited.into_inner()?;

    // A GNU sparse file ('S'): the tar holds only its data blocks.
    let tmp = tempfile::tempdir()?;
    let sparse_path = tmp.path().join("sparse");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(&sparse_path)?;
        f.write_all(&payload(4096, 8))?;
        f.seek(SeekFrom::Start(4 << 20))?;
        f.write_all(&payload(4096, 9))?;
    }
    let mut sparse = tar::Builder::new(Vec::new());
    sparse.sparse(true);
    sparse.append_path_with_name(&sparse_path, "holes")?;
    let sparse = sparse.into_inner()?;
    assert_eq!(
        sparse[156], b'S',
        "the fixture must hold a GNU sparse entry"
    );

    for (i, layer) in [
        repeated,
        relinked,
        under_symlink,
        replaced_dir,
        whited,
        sparse,
    ]
    .into_iter()
    .enumerate()
    {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path().join("root");
        let store = Store::open(&root)?;
        let name = format!("fallback:{i}");
        load(&store, std::slice::from_ref(&layer), &name);
        let d = Digest::sha256_of(&layer);
        assert!(
            store.content().stat(&d)?.is_some(),
            "layer {i} keeps its blob"
        );
        assert_eq!(snapshot_dir_has_split(&root), 0, "layer {i}");
        assert_reassembles(&store, &layer, &name);
    }
    Ok(())
}

/// One split layer used on two parents in one archive: the second copy is unpacked from the
/// first's reassembled tar, and both survive removing the other image.
#[test]
fn split_layer_reused_on_another_parent_and_removed_with_its_image() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("root");
    let store = Store::open(&root)?;
    let mut base = tar::Builder::new(Vec::new());
    file(&mut base, "base", 0o644, &payload(3000, 9));
    let base = base.into_inner()?;
    let top = tricky_layer();
    load(&store, &[top.clone(), base.clone(), top.clone()], "reuse:1");
    assert_reassembles(&store, &top, "reuse:1");
    assert_reassembles(&store, &base, "reuse:1");
    let layers_before = store.layers()?.len();
    assert_eq!(layers_before, 3);
    store.delete("reuse:1", DeleteOptions::default(), &[])?;
    store.gc()?;
    assert!(store.layers()?.is_empty());
    assert_eq!(std::fs::read_dir(root.join("snapshots"))?.count(), 0);
    assert!(store.stat_blob(&Digest::sha256_of(&top))?.is_none());
    Ok(())
}
