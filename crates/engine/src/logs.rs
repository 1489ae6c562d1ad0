//! `docker logs`: reads the shim's json-file log (rotated files first), filters by
//! since/until/tail and stream, and follows the file while the container is live.

use crate::Engine;
use crate::container::Container;
use berth_api::container::LogsOptions;
use berth_api::stream::receiver_stream;
use berth_api::{ApiResult, LogRecord, LogStream, StreamKind};
use bytes::Bytes;
use serde::Deserialize;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a followed log is polled for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// The container's log file.
pub fn log_path(container_dir: &Path, id: &str) -> PathBuf {
    container_dir.join(format!("{id}-json.log"))
}

#[derive(Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

fn parse_line(line: &str) -> Option<LogRecord> {
    let l: Line = serde_json::from_str(line).ok()?;
    let timestamp = chrono::DateTime::parse_from_rfc3339(&l.time)
        .ok()?
        .with_timezone(&chrono::Utc);
    let kind = if l.stream == "stderr" {
        StreamKind::Stderr
    } else {
        StreamKind::Stdout
    };
    Some(LogRecord {
        kind,
        timestamp,
        data: Bytes::from(l.log),
    })
}

struct Filter {
    stdout: bool,
    stderr: bool,
    since: Option<f64>,
    until: Option<f64>,
}

impl Filter {
    fn keep(&self, r: &LogRecord) -> bool {
        let t =
            r.timestamp.timestamp() as f64 + f64::from(r.timestamp.timestamp_subsec_nanos()) / 1e9;
        let stream_ok = match r.kind {
            StreamKind::Stderr => self.stderr,
            _ => self.stdout,
        };
        stream_ok && self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

/// Reads the whole history (rotated files oldest first), returning the records and the
/// current file's length for following.
fn read_history(path: &Path, filter: &Filter) -> (Vec<LogRecord>, u64) {
    let mut files: Vec<PathBuf> = (1..100)
        .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    let mut out = Vec::new();
    let mut len = 0;
    for f in files {
        let Ok(file) = std::fs::File::open(&f) else {
            continue;
        };
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        let mut consumed = 0u64;
        while let Ok(n) = reader.read_line(&mut line) {
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            consumed += n as u64;
            if let Some(r) = parse_line(line.trim_end())
                && filter.keep(&r)
            {
                out.push(r);
            }
            line.clear();
        }
        len = consumed;
    }
    (out, len)
}

impl Engine {
    /// Streams a container's logs.
    pub async fn logs(&self, name: &str, opts: LogsOptions) -> ApiResult<LogStream> {
        let c = self.lookup(name)?;
        let tty = c.lock().await.tty();
        let path = log_path(&c.dir, &c.id);
        let filter = Filter {
            stdout: opts.stdout,
            stderr: opts.stderr,
            since: opts.since,
            until: opts.until,
        };
        let (tx, rx) = mpsc::channel(256);
        let follow = opts.follow && opts.until.is_none();
        let tail = opts.tail;
        tokio::spawn(async move {
            let p = path.clone();
            let Ok((mut history, offset)) =
                tokio::task::spawn_blocking(move || read_history(&p, &filter)).await
            else {
                return;
            };
            if let Some(n) = tail {
                let skip = history.len().saturating_sub(n);
                history.drain(..skip);
            }
            for r in history {
                if tx.send(r).await.is_err() {
                    return;
                }
            }
            if follow {
                let filter = Filter {
                    stdout: opts.stdout,
                    stderr: opts.stderr,
                    since: opts.since,
                    until: None,
                };
                follow_file(c, path, offset, filter, tx).await;
            }
        });
        Ok(LogStream {
            tty,
            records: receiver_stream(rx),
        })
    }
}

/// Sends lines appended after `offset` until the container stops and the file is drained.
async fn follow_file(
    c: Arc<Container>,
    path: PathBuf,
    mut offset: u64,
    filter: Filter,
    tx: mpsc::Sender<LogRecord>,
) {
    let mut rx = c.subscribe();
    loop {
        let live = {
            let s = rx.borrow_and_update().clone();
            (s.status.is_live()
                || s.status == crate::status::Status::Restarting
                || s.status == crate::status::Status::Created)
                && !s.removed
        };
        let p = path.clone();
        let read = tokio::task::spawn_blocking(move || read_from(&p, offset)).await;
        let (records, new_offset) = read.unwrap_or_default();
        if new_offset < offset {
            offset = 0; // rotated
            continue;
        }
        offset = new_offset;
        for r in records.into_iter().filter(|r| filter.keep(r)) {
            if tx.send(r).await.is_err() {
                return;
            }
        }
        if !live {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = rx.changed() => {}
            _ = tx.closed() => return,
        }
    }
}

fn read_from(path: &Path, offset: u64) -> (Vec<LogRecord>, u64) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return (Vec::new(), offset);
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len < offset {
        return (Vec::new(), len);
    }
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut reader = BufReader::new(file);
    let mut out = Vec::new();
    let mut pos = offset;
    let mut line = String::new();
    while let Ok(n) = reader.read_line(&mut line) {
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        pos += n as u64;
        if let Some(r) = parse_line(line.trim_end()) {
            out.push(r);
        }
        line.clear();
    }
    (out, pos)
}
