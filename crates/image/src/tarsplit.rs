//! Tar-split: a small record from which the exact bytes of an uncompressed layer tar are
//! reassembled out of its unpacked snapshot, so a loaded layer is written once (as files)
//! instead of twice (files + blob). The record keeps every byte that is not a regular file's
//! content (header blocks, PAX and GNU extension blocks, padding, the end-of-archive blocks
//! and whatever trails them) and, for each file's content, its path in the snapshot and size.
//! The recorder refuses (so the caller keeps the blob) whenever reassembly could be wrong: a
//! path written twice, an entry under a symlink of the same layer, sparse files, unknown
//! entry types.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;

use crate::apply::{OPAQUE_WHITEOUT, WHITEOUT_PREFIX, clean_components};

/// File name of a layer's tar-split, next to its `fs` directory.
pub(crate) const TAR_SPLIT_FILE: &str = "tar-split";

const MAGIC: &[u8; 8] = b"BTSPLIT1";
const TAG_END: u8 = 0;
const TAG_RAW: u8 = 1;
const TAG_FILE: u8 = 2;
const BLOCK: usize = 512;
/// Extension payloads (PAX records, GNU long names) bigger than this are not recorded.
const MAX_META: u64 = 1 << 20;
/// Bytes after the end-of-archive block beyond this make the recorder give up.
const MAX_TRAILER: u64 = 1 << 20;
/// zstd level of the stored record: fast, and headers compress well anyway.
const ZSTD_LEVEL: i32 = 3;

/// One piece of the original stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Bytes kept verbatim.
    Raw(Vec<u8>),
    /// The content of a regular file of the snapshot (path relative to `fs`).
    File { path: Vec<u8>, size: u64 },
}

/// The tar-split of one layer: everything needed, with the snapshot, to rebuild its tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TarSplit {
    segments: Vec<Segment>,
    size: u64,
}

impl TarSplit {
    /// Size of the reassembled tar.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Checks that every referenced file is a regular file of the recorded size under `fs`.
    pub(crate) fn check_files(&self, fs: &Path) -> io::Result<()> {
        let root = File::open(fs)?;
        for s in &self.segments {
            if let Segment::File { path, size } = s {
                let f = open_beneath(&root, path)?;
                let len = f.metadata()?.len();
                if len != *size {
                    return Err(size_error(path, *size, len));
                }
            }
        }
        Ok(())
    }

    /// Writes the record atomically (temp file + rename) into `dir`; not synced (the caller
    /// syncs the filesystem before it commits the layer).
    pub(crate) fn write_to(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join(format!("{TAR_SPLIT_FILE}.tmp"));
        let f = File::create(&tmp)?;
        let mut enc = zstd::stream::write::Encoder::new(io::BufWriter::new(f), ZSTD_LEVEL)?;
        enc.write_all(MAGIC)?;
        enc.write_all(&self.size.to_le_bytes())?;
        for s in &self.segments {
            match s {
                Segment::Raw(b) => {
                    for chunk in b.chunks(u32::MAX as usize) {
                        enc.write_all(&[TAG_RAW])?;
                        enc.write_all(&(chunk.len() as u32).to_le_bytes())?;
                        enc.write_all(chunk)?;
                    }
                }
                Segment::File { path, size } => {
                    enc.write_all(&[TAG_FILE])?;
                    enc.write_all(&size.to_le_bytes())?;
                    enc.write_all(&(path.len() as u32).to_le_bytes())?;
                    enc.write_all(path)?;
                }
            }
        }
        enc.write_all(&[TAG_END])?;
        enc.finish()?.flush()?;
        std::fs::rename(&tmp, dir.join(TAR_SPLIT_FILE))
    }

    /// Reads the record `dir/tar-split`.
    pub(crate) fn read_from(dir: &Path) -> io::Result<TarSplit> {
        let f = File::open(dir.join(TAR_SPLIT_FILE))?;
        let mut r = io::BufReader::new(zstd::stream::read::Decoder::new(f)?);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(corrupt("bad magic"));
        }
        let size = read_u64(&mut r)?;
        let mut segments = Vec::new();
        let mut total = 0u64;
        loop {
            let mut tag = [0u8; 1];
            r.read_exact(&mut tag)?;
            match tag[0] {
                TAG_END => break,
                TAG_RAW => {
                    let len = read_u32(&mut r)? as usize;
                    let mut b = vec![0u8; len];
                    r.read_exact(&mut b)?;
                    total += len as u64;
                    segments.push(Segment::Raw(b));
                }
                TAG_FILE => {
                    let fsize = read_u64(&mut r)?;
                    let len = read_u32(&mut r)? as usize;
                    let mut path = vec![0u8; len];
                    r.read_exact(&mut path)?;
                    total += fsize;
                    segments.push(Segment::File { path, size: fsize });
                }
                _ => return Err(corrupt("unknown record")),
            }
        }
        if total != size {
            return Err(corrupt("segment sizes do not add up"));
        }
        Ok(TarSplit { segments, size })
    }

    /// A reader yielding the original tar, reading file contents from `fs` (paths resolved
    /// beneath it, never following anything out of it).
    pub(crate) fn reassemble(self, fs: &Path) -> io::Result<Reassembler> {
        Ok(Reassembler {
            root: File::open(fs)?,
            fs: fs.to_path_buf(),
            segments: self.segments.into_iter(),
            current: Current::None,
        })
    }
}

fn read_u64<R: Read>(r: &mut R) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_u32<R: Read>(r: &mut R) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("tar-split: {what}"))
}

fn size_error(path: &[u8], want: u64, got: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "tar-split: {} has {got} bytes, the layer recorded {want}",
            String::from_utf8_lossy(path)
        ),
    )
}

fn open_beneath(root: &File, path: &[u8]) -> io::Result<File> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(root.as_fd(), Path::new(OsStr::from_bytes(path)), how)?;
    Ok(File::from(fd))
}

enum Current {
    None,
    Raw(io::Cursor<Vec<u8>>),
    File {
        file: io::Take<File>,
        path: Vec<u8>,
        size: u64,
    },
}

/// Reads a layer tar back out of its tar-split and snapshot.
pub struct Reassembler {
    root: File,
    fs: PathBuf,
    segments: std::vec::IntoIter<Segment>,
    current: Current,
}

impl std::fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembler")
            .field("fs", &self.fs)
            .finish_non_exhaustive()
    }
}

impl Read for Reassembler {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = match &mut self.current {
                Current::None => 0,
                Current::Raw(c) => c.read(buf)?,
                Current::File { file, path, size } => {
                    let n = file.read(buf)?;
                    if n == 0 && file.limit() > 0 {
                        return Err(size_error(path, *size, *size - file.limit()));
                    }
                    n
                }
            };
            if n > 0 {
                return Ok(n);
            }
            match self.segments.next() {
                None => return Ok(0),
                Some(Segment::Raw(b)) => self.current = Current::Raw(io::Cursor::new(b)),
                Some(Segment::File { path, size }) => {
                    let f = open_beneath(&self.root, &path)?;
                    let len = f.metadata()?.len();
                    if len != size {
                        return Err(size_error(&path, size, len));
                    }
                    self.current = Current::File {
                        file: f.take(size),
                        path,
                        size,
                    };
                }
            }
        }
    }
}

/// Where the recorder is in the tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a 512-byte header block.
    Header,
    /// An extension entry's payload (kept) and padding.
    Meta { kind: u8, left: u64, pad: u64 },
    /// A file's content (referenced) then its padding (kept).
    Data { left: u64, pad: u64 },
    /// After the first end-of-archive block: everything is kept.
    Trailer { seen: u64 },
}

/// Wraps the layer stream the applier reads and records its tar-split on the way through.
pub(crate) struct SplitRecorder<R> {
    inner: R,
    state: State,
    block: Vec<u8>,
    meta: Vec<u8>,
    segments: Vec<Segment>,
    size: u64,
    failed: Option<String>,
    pax: Option<Vec<u8>>,
    long_name: Option<Vec<u8>>,
    /// Non-directory paths written (or whited out) so far.
    leaves: HashSet<Vec<u8>>,
    /// Directories that exist (explicitly or as parents of something written).
    dirs: HashSet<Vec<u8>>,
    symlinks: HashSet<Vec<u8>>,
}

impl<R: Read> SplitRecorder<R> {
    /// Starts recording what is read through `inner`.
    pub(crate) fn new(inner: R) -> SplitRecorder<R> {
        SplitRecorder {
            inner,
            state: State::Header,
            block: Vec::with_capacity(BLOCK),
            meta: Vec::new(),
            segments: Vec::new(),
            size: 0,
            failed: None,
            pax: None,
            long_name: None,
            leaves: HashSet::new(),
            dirs: HashSet::new(),
            symlinks: HashSet::new(),
        }
    }

    /// The tar-split of everything read, or why the layer's blob must be kept instead.
    pub(crate) fn finish(self) -> Result<TarSplit, String> {
        if let Some(f) = self.failed {
            return Err(f);
        }
        let at_boundary = matches!(self.state, State::Trailer { .. })
            || (self.state == State::Header && self.block.is_empty());
        if !at_boundary {
            return Err("the stream ended inside an entry".to_string());
        }
        Ok(TarSplit {
            segments: self.segments,
            size: self.size,
        })
    }

    fn fail(&mut self, why: impl Into<String>) {
        if self.failed.is_none() {
            self.failed = Some(why.into());
            self.segments = Vec::new();
            self.leaves = HashSet::new();
            self.dirs = HashSet::new();
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if let Some(Segment::Raw(last)) = self.segments.last_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.segments.push(Segment::Raw(bytes.to_vec()));
        }
    }

    fn record(&mut self, mut data: &[u8]) {
        self.size += data.len() as u64;
        while !data.is_empty() && self.failed.is_none() {
            let used = match self.state {
                State::Header => self.take_header(data),
                State::Meta { kind, left, pad } => self.take_meta(data, kind, left, pad),
                State::Data { left, pad } => self.take_data(data, left, pad),
                State::Trailer { seen } => {
                    let seen = seen + data.len() as u64;
                    if seen > MAX_TRAILER {
                        self.fail("too much data after the end of the archive");
                    }
                    self.keep(data);
                    self.state = State::Trailer { seen };
                    data.len()
                }
            };
            data = &data[used..];
        }
    }

    fn take_header(&mut self, data: &[u8]) -> usize {
        let n = (BLOCK - self.block.len()).min(data.len());
        self.block.extend_from_slice(&data[..n]);
        if self.block.len() == BLOCK {
            let block = std::mem::take(&mut self.block);
            self.keep(&block);
            self.on_header(&block);
            self.block = block;
            self.block.clear();
        }
        n
    }

    fn take_meta(&mut self, data: &[u8], kind: u8, left: u64, pad: u64) -> usize {
        let n = (left + pad).min(data.len() as u64) as usize;
        let payload = (left.min(n as u64)) as usize;
        self.meta.extend_from_slice(&data[..payload]);
        self.keep(&data[..n]);
        let (left, pad) = (left - payload as u64, pad - (n - payload) as u64);
        if left == 0 && pad == 0 {
            self.on_meta(kind);
        } else {
            self.state = State::Meta { kind, left, pad };
        }
        n
    }

    fn take_data(&mut self, data: &[u8], left: u64, pad: u64) -> usize {
        let n = if left > 0 {
            let n = left.min(data.len() as u64);
            self.state = State::Data {
                left: left - n,
                pad,
            };
            n as usize
        } else {
            let n = pad.min(data.len() as u64) as usize;
            self.keep(&data[..n]);
            self.state = State::Data {
                left: 0,
                pad: pad - n as u64,
            };
            n
        };
        if self.state == (State::Data { left: 0, pad: 0 }) {
            self.state = State::Header;
        }
        n
    }

    fn on_header(&mut self, block: &[u8]) {
        if block.iter().all(|&b| b == 0) {
            self.state = State::Trailer { seen: 0 };
            return;
        }
        let Some(header) = tar_header(block) else {
            return self.fail("malformed header block");
        };
        let Ok(size) = header.entry_size() else {
            return self.fail("malformed size in a header");
        };
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let kind = header.entry_type().as_byte();
        match kind {
            b'x' | b'g' | b'L' | b'K' => {
                if header.as_gnu().is_none() && header.as_ustar().is_none() {
                    return self.fail("extension header in an old-style header");
                }
                if kind == b'g' && (self.pax.is_some() || self.long_name.is_some()) {
                    return self.fail("extension headers before a global header");
                }
                if size > MAX_META {
                    return self.fail("extension header too large");
                }
                self.meta.clear();
                if size == 0 && pad == 0 {
                    self.on_meta(kind);
                } else {
                    self.state = State::Meta {
                        kind,
                        left: size,
                        pad,
                    };
                }
            }
            _ => {
                let path = self.entry_path(&header);
                self.on_entry(kind, &path, size);
                self.state = if size == 0 {
                    State::Header
                } else {
                    State::Data { left: size, pad }
                };
            }
        }
    }

    fn on_meta(&mut self, kind: u8) {
        self.state = State::Header;
        let meta = std::mem::take(&mut self.meta);
        match kind {
            b'x' if self.pax.is_some() => self.fail("two PAX headers for one entry"),
            b'x' => self.pax = Some(meta),
            b'L' if self.long_name.is_some() => self.fail("two long names for one entry"),
            b'L' => self.long_name = Some(meta),
            _ => {}
        }
    }

    /// The entry's path as the `tar` crate (and so the applier) sees it.
    fn entry_path(&mut self, header: &tar::Header) -> Vec<u8> {
        let mut pax_path = None;
        if let Some(p) = self.pax.take() {
            for ext in tar::PaxExtensions::new(&p) {
                let Ok(ext) = ext else {
                    self.fail("malformed PAX record");
                    break;
                };
                match ext.key_bytes() {
                    b"path" if pax_path.is_none() => pax_path = Some(ext.value_bytes().to_vec()),
                    b"size" => self.fail("PAX size record"),
                    k if k.starts_with(b"GNU.sparse") => self.fail("sparse file"),
                    _ => {}
                }
            }
        }
        if let Some(mut name) = self.long_name.take() {
            if name.last() == Some(&0) {
                name.pop();
            }
            return name;
        }
        pax_path.unwrap_or_else(|| header.path_bytes().into_owned())
    }

    fn on_entry(&mut self, kind: u8, raw_path: &[u8], size: u64) {
        let Ok(comps) = clean_components(raw_path) else {
            return self.fail("path escapes the layer");
        };
        let comps: Vec<&[u8]> = comps.iter().map(|c| c.as_bytes()).collect();
        let key = comps.join(&b'/');
        for i in 1..comps.len() {
            if self.symlinks.contains(&comps[..i].join(&b'/')) {
                return self.fail("entry below a symlink of the same layer");
            }
        }
        let name = comps.last().copied().unwrap_or(b"");
        if name.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.on_whiteout(&comps, size);
        }
        match kind {
            b'0' | 0 | b'7' => {
                self.add_leaf(&comps, &key);
                if size > 0 {
                    self.segments.push(Segment::File { path: key, size });
                }
            }
            b'5' => {
                if size > 0 {
                    return self.fail("directory with content");
                }
                if self.leaves.contains(&key) {
                    return self.fail("directory replaces an entry of the same layer");
                }
                self.add_dirs(&comps, comps.len());
            }
            b'1' | b'2' | b'3' | b'4' | b'6' => {
                if size > 0 {
                    return self.fail("link or device entry with content");
                }
                self.add_leaf(&comps, &key);
                if kind == b'2' {
                    self.symlinks.insert(key);
                }
            }
            other => self.fail(format!("unhandled entry type {other:#x}")),
        }
    }

    fn on_whiteout(&mut self, comps: &[&[u8]], size: u64) {
        if size > 0 {
            return self.fail("whiteout with content");
        }
        let (name, parent) = comps
            .split_last()
            .map(|(n, p)| (*n, p))
            .unwrap_or((b"", &[]));
        let meta_prefix = format!("{WHITEOUT_PREFIX}{WHITEOUT_PREFIX}");
        if name == OPAQUE_WHITEOUT.as_bytes() || name.starts_with(meta_prefix.as_bytes()) {
            self.add_dirs(parent, parent.len());
            return;
        }
        let mut hidden: Vec<&[u8]> = parent.to_vec();
        hidden.push(&name[WHITEOUT_PREFIX.len()..]);
        let key = hidden.join(&b'/');
        self.add_leaf(&hidden, &key);
    }

    fn add_leaf(&mut self, comps: &[&[u8]], key: &[u8]) {
        if self.leaves.contains(key) || self.dirs.contains(key) {
            return self.fail(format!(
                "{} occurs twice in the layer",
                String::from_utf8_lossy(key)
            ));
        }
        self.leaves.insert(key.to_vec());
        self.add_dirs(comps, comps.len().saturating_sub(1));
    }

    /// Records `comps[..n]` and its parents as directories.
    fn add_dirs(&mut self, comps: &[&[u8]], n: usize) {
        for i in (1..=n).rev() {
            let dir = comps[..i].join(&b'/');
            if self.leaves.contains(&dir) {
                return self.fail(format!(
                    "{} is replaced by a directory in the same layer",
                    String::from_utf8_lossy(&dir)
                ));
            }
            if !self.dirs.insert(dir) {
                break;
            }
        }
    }
}

fn tar_header(block: &[u8]) -> Option<tar::Header> {
    let arr: &[u8; BLOCK] = block.try_into().ok()?;
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(arr);
    Some(h)
}

impl<R: Read> Read for SplitRecorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.failed.is_none() {
            self.record(&buf[..n]);
        }
        Ok(n)
    }
}
