//! Gives back the memory an idle shim does not need: once the container runs and the shim has
//! nothing to do for a moment, the resident pages of every read-only file mapping that holds
//! no private copy (our code and read-only data, libc's, the loader's) are dropped with
//! MADV_DONTNEED and the heap's free pages go back with malloc_trim. The pages stay in the page
//! cache; the few the event loop touches fault back in. This keeps an idle shim's resident set
//! close to what its loop needs instead of everything create/start ever touched.

use std::ffi::c_void;

/// One droppable mapping: start address and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: usize,
    len: usize,
}

/// The mappings found droppable the first time, reused on every later trim.
#[derive(Debug, Default)]
pub struct Trimmer {
    ranges: Option<Vec<Range>>,
}

impl Trimmer {
    /// Drops the clean file-backed pages and returns free heap pages to the kernel.
    pub fn trim(&mut self) {
        let ranges = self.ranges.get_or_insert_with(|| {
            std::fs::read_to_string("/proc/self/smaps")
                .map(|smaps| droppable(&smaps))
                .unwrap_or_default()
        });
        for r in ranges.iter() {
            // SAFETY: each range is a whole, page-aligned, read-only private file mapping of
            // a library or our executable (never unmapped while the process lives) that had no
            // anonymous (copied-on-write) page when we looked, and read-only mappings cannot
            // gain one; MADV_DONTNEED only discards page table entries, and later accesses
            // fault the unchanged file contents back in from the page cache.
            unsafe { libc::madvise(r.start as *mut c_void, r.len, libc::MADV_DONTNEED) };
        }
        // SAFETY: malloc_trim only returns free heap memory to the kernel; we are
        // single-threaded, so no allocation races with it.
        unsafe { libc::malloc_trim(0) };
    }
}

/// Parses /proc/self/smaps: read-only (r--p or r-xp) file mappings with no anonymous pages.
/// Writable mappings and RELRO (written by the loader, then made read-only, so it shows
/// anonymous pages) are never returned: dropping those would lose data.
fn droppable(smaps: &str) -> Vec<Range> {
    let mut out = Vec::new();
    let mut current: Option<Range> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_header(line) {
            current = range;
            continue;
        }
        let Some(rest) = line.strip_prefix("Anonymous:") else {
            continue;
        };
        if let Some(r) = current.take()
            && rest.trim() == "0 kB"
        {
            out.push(r);
        }
    }
    out
}

/// For a mapping header line, Some(candidate or None); None for attribute lines.
fn mapping_header(line: &str) -> Option<Option<Range>> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let (start, end) = range.split_once('-')?;
    let (Ok(start), Ok(end)) = (
        usize::from_str_radix(start, 16),
        usize::from_str_radix(end, 16),
    ) else {
        return None;
    };
    let perms = fields.next()?;
    let path = fields.nth(3).unwrap_or("");
    let read_only_file = (perms == "r-xp" || perms == "r--p") && path.starts_with('/');
    Some((read_only_file && end > start).then_some(Range {
        start,
        len: end - start,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0a0000000-55d0a0100000 r--p 00000000 fe:00 1 /usr/bin/berth-shim
Rss:                 256 kB
Anonymous:             0 kB
55d0a0100000-55d0a0400000 r-xp 00100000 fe:00 1 /usr/bin/berth-shim
Anonymous:             0 kB
55d0a0400000-55d0a0440000 r--p 00400000 fe:00 1 /usr/bin/berth-shim
Anonymous:           260 kB
55d0a0440000-55d0a0442000 rw-p 00440000 fe:00 1 /usr/bin/berth-shim
Anonymous:             8 kB
55d0a1000000-55d0a1021000 rw-p 00000000 00:00 0 [heap]
Anonymous:           132 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
Anonymous:            60 kB
7ffd10000000-7ffd10002000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_clean_read_only_file_mappings_are_dropped() {
        let got = droppable(SMAPS);
        assert_eq!(
            got,
            vec![
                Range {
                    start: 0x55d0a0000000,
                    len: 0x100000
                },
                Range {
                    start: 0x55d0a0100000,
                    len: 0x300000
                },
            ]
        );
    }

    #[test]
    fn trimming_keeps_the_process_working() {
        let mut t = Trimmer::default();
        let before = String::from("still here");
        t.trim();
        t.trim();
        assert_eq!(before, "still here");
        assert!(t.ranges.as_ref().is_some_and(|r| !r.is_empty()));
    }
}
