//! The compiled-filter cache: one file per profile, named by the SHA-256 of its canonical JSON.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

use super::SeccompError;

/// Bumped whenever the compiler's output for the same profile could change.
const FORMAT: &str = "berth-seccomp-bpf-v1";

/// The cache key: SHA-256 over our format tag, libseccomp's version, the native architecture
/// and the profile's JSON (serde writes struct fields in declaration order and keeps list order,
/// so equal profiles give equal bytes).
pub(super) fn key(profile: &LinuxSeccomp) -> Result<String, SeccompError> {
    let json = serde_json::to_vec(profile).map_err(|e| SeccompError::InvalidProfile {
        reason: format!("cannot serialize profile: {e}"),
    })?;
    let version = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(FORMAT.as_bytes());
    hasher.update([0]);
    hasher.update(version.as_bytes());
    hasher.update([0]);
    hasher.update(std::env::consts::ARCH.as_bytes());
    hasher.update([0]);
    hasher.update(&json);
    Ok(hex::encode(hasher.finalize()))
}

/// The cached program, if present and readable.
pub(super) fn read(dir: &Path, key: &str) -> Option<Vec<u8>> {
    std::fs::read(dir.join(format!("{key}.bpf"))).ok()
}

/// Stores a program atomically: a unique temp file, fsync, rename over the final name, so a
/// concurrent reader sees either nothing or the whole program.
pub(super) fn write(dir: &Path, key: &str, bytes: &[u8]) -> Result<(), SeccompError> {
    std::fs::create_dir_all(dir).map_err(|source| SeccompError::Io {
        op: "create cache directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let final_path = dir.join(format!("{key}.bpf"));
    // Unique per process and per call, so concurrent compiles of one profile never share a temp file.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let serial = WRITES.fetch_add(1, Ordering::Relaxed);
    let temp_path = dir.join(format!(".{key}.{}.{serial}.tmp", std::process::id()));
    let io_err = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| SeccompError::Io { op, path, source }
    };
    let result = (|| {
        let mut file = std::fs::File::create(&temp_path).map_err(io_err("create", &temp_path))?;
        file.write_all(bytes).map_err(io_err("write", &temp_path))?;
        file.sync_all().map_err(io_err("fsync", &temp_path))?;
        std::fs::rename(&temp_path, &final_path).map_err(io_err("rename to", &final_path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp_path);
    }
    result
}
