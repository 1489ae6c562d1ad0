//! Keeps berthd's memory near its idle size: glibc gives every thread that allocates its own malloc
//! arena and keeps freed memory in them, so a daemon with tokio workers and blocking threads grows after
//! each load, log read or burst of containers and never shrinks. glibc reads its tunables only when a
//! process starts, so berthd re-executes itself once with `GLIBC_TUNABLES` asking for two arenas, mmap
//! for buffers of 128 KiB and more (returned to the kernel on free), and trimming of the heap top.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

/// The tunables berthd runs with.
const TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072";

/// Opting out: `BERTHD_MALLOC_TUNING=0` keeps glibc's defaults.
const OPT_OUT: &str = "BERTHD_MALLOC_TUNING";

/// The `GLIBC_TUNABLES` value to re-execute with, or `None` when the current one already sets the
/// arena count (ours from the re-exec, or the user's own) or the user opted out.
fn wanted_tunables(current: Option<&str>, opt_out: Option<&str>) -> Option<String> {
    if opt_out == Some("0") {
        return None;
    }
    match current.filter(|c| !c.is_empty()) {
        Some(c) if c.contains("glibc.malloc.arena_max") => None,
        Some(c) => Some(format!("{c}:{TUNABLES}")),
        None => Some(TUNABLES.to_string()),
    }
}

/// Re-executes berthd with the tunables when they are not in effect yet; returns (and berthd runs with
/// glibc's defaults) when that is not possible, for instance when the binary was replaced on disk.
pub fn reexec_with_tunables() {
    let current = std::env::var("GLIBC_TUNABLES").ok();
    let opt_out = std::env::var(OPT_OUT).ok();
    let Some(tunables) = wanted_tunables(current.as_deref(), opt_out.as_deref()) else {
        return;
    };
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("berthd"));
    let err = std::process::Command::new(&exe)
        .arg0(argv0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .exec();
    eprintln!(
        "berthd: running with glibc's malloc defaults (re-executing {} failed: {err})",
        exe.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunables_are_added_once_and_respect_the_user() {
        assert_eq!(wanted_tunables(None, None).as_deref(), Some(TUNABLES));
        assert_eq!(wanted_tunables(Some(""), None).as_deref(), Some(TUNABLES));
        assert_eq!(
            wanted_tunables(Some("glibc.pthread.rseq=0"), None),
            Some(format!("glibc.pthread.rseq=0:{TUNABLES}"))
        );
        assert_eq!(wanted_tunables(Some(TUNABLES), None), None);
        assert_eq!(
            wanted_tunables(Some("glibc.malloc.arena_max=8"), None),
            None
        );
        assert_eq!(wanted_tunables(None, Some("0")), None);
    }
}
