//! Writes the init's exit record durably (temp file, fsync, rename) so a daemon that was
//! down when the container ended still reads the right exit code.

use berth_shim::config::{EXIT_FILE, ExitRecord};
use std::io::Write;
use std::path::Path;

/// Atomically replaces `<state_dir>/exit` with `record`.
pub fn write(state_dir: &Path, record: &ExitRecord) -> std::io::Result<()> {
    let tmp = state_dir.join(".exit.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(record).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, state_dir.join(EXIT_FILE))?;
    if let Ok(dir) = std::fs::File::open(state_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}
