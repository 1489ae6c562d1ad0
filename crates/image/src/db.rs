//! The SQLite schema of the image store (images, references, layers, snapshots) and the
//! connection settings (WAL, foreign keys) everything that must survive a crash relies on.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT UNIQUE,
    parent INTEGER REFERENCES snapshots(id),
    kind TEXT NOT NULL CHECK (kind IN ('layer', 'rw')),
    state TEXT NOT NULL CHECK (state IN ('preparing', 'committed')),
    refcount INTEGER NOT NULL DEFAULT 0,
    image_id TEXT,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS layers (
    chain_id TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    parent_chain TEXT REFERENCES layers(chain_id),
    snapshot_id INTEGER NOT NULL UNIQUE REFERENCES snapshots(id),
    blob_digest TEXT,
    blob_media_type TEXT,
    blob_size INTEGER,
    diff_size INTEGER NOT NULL,
    content_size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    config BLOB NOT NULL,
    created TEXT,
    manifest_digest TEXT,
    parent TEXT,
    top_chain TEXT REFERENCES layers(chain_id),
    loaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    chain_id TEXT NOT NULL REFERENCES layers(chain_id),
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers(chain_id);
CREATE TABLE IF NOT EXISTS refs (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image_id);
"#;

/// Opens (creating) the database at `path` with WAL, foreign keys and the schema.
pub(crate) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// The current time in RFC 3339, as stored in the database and written in configs.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
