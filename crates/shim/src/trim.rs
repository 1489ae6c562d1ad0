//! Gives back the memory that only start-up needed: once the container runs, the pages of
//! our own executable that create/start touched (spec parsing, the runtime's set-up code)
//! are dropped from our resident set with MADV_DONTNEED (code only); the few the event loop needs fault
//! back in from the page cache. This keeps an idle shim's RSS close to its loop's needs.

use std::ffi::c_void;

/// Drops the resident pages of our executable's code.
pub fn drop_startup_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let exe = exe.display().to_string();
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let path = fields.nth(3).unwrap_or("");
        // Only our code (r-xp): never written, so dropping it loses nothing and the kernel
        // re-reads it from the page cache on the next touch. Read-only data mappings are not
        // safe: RELRO pages were written by the loader before being made read-only.
        if path != exe || perms != "r-xp" {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is a whole, page-aligned, never-written code mapping of our own
        // executable taken from /proc/self/maps; MADV_DONTNEED on it only discards page table
        // entries, and later accesses fault the unchanged file contents back in.
        unsafe { libc::madvise(start as *mut c_void, end - start, libc::MADV_DONTNEED) };
    }
}
