//! Writes the init's exit record atomically (temp file, rename) so a daemon that was down
//! when the container ended still reads the right exit code.
//!
//! No fsync: the file lives in the exec root (`/run/berth`), which does not outlive a reboot
//! (tmpfs on a standard system), and a crash of the daemon or the shim does not lose the page
//! cache, so the rename alone makes the record durable for everyone who can ever read it.
//! On a disk-backed `/run` the two fsyncs cost 5-20 ms on the exit path of every container.

use berth_shim::config::{EXIT_FILE, ExitRecord};
use std::io::Write;
use std::path::Path;

/// Atomically replaces `<state_dir>/exit` with `record`.
pub fn write(state_dir: &Path, record: &ExitRecord) -> std::io::Result<()> {
    let tmp = state_dir.join(".exit.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(record).map_err(std::io::Error::other)?)?;
    drop(f);
    std::fs::rename(&tmp, state_dir.join(EXIT_FILE))
}
