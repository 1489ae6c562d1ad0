//! Docker's json-file log driver: one `{"log","stream","time"}` line per chunk of output,
//! lines split at newlines (a chunk without one is a partial line, written without "\n"),
//! rotation by size keeping `max_files` files (`<log>`, `<log>.1`, ...).

use berth_shim::timestamp;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// Docker splits a line longer than this into partial messages.
const MAX_LINE: usize = 16 * 1024;

#[derive(Serialize)]
struct Record<'a> {
    log: &'a str,
    stream: &'a str,
    time: &'a str,
}

/// An open json-file log with its rotation settings.
pub struct JsonLog {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
    line: Vec<u8>,
}

impl JsonLog {
    /// Opens (appending) the log at `path`.
    pub fn open(path: PathBuf, max_size: u64, max_files: u32) -> io::Result<JsonLog> {
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path,
            file,
            size,
            max_size,
            max_files: max_files.max(1),
            line: Vec::with_capacity(256),
        })
    }

    /// Writes one message (a complete line with its "\n", or a partial one without).
    pub fn write(&mut self, stream: &str, msg: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(msg);
        let time = timestamp::now();
        self.line.clear();
        serde_json::to_writer(
            &mut self.line,
            &Record {
                log: &text,
                stream,
                time: &time,
            },
        )
        .map_err(io::Error::other)?;
        self.line.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + self.line.len() as u64 > self.max_size
        {
            self.rotate()?;
        }
        self.file.write_all(&self.line)?;
        self.size += self.line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files > 1 {
            for n in (1..self.max_files - 1).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
            self.file = open_append(&self.path)?;
        } else {
            self.file.set_len(0)?;
        }
        self.size = 0;
        Ok(())
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Buffers one output stream and cuts it into log messages as Docker does.
#[derive(Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds `data`, calling `emit` for each complete line and each over-long partial chunk.
    pub fn feed(&mut self, data: &[u8], mut emit: impl FnMut(&[u8])) {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            emit(&self.pending[start..end]);
            start = end;
        }
        while self.pending.len() - start >= MAX_LINE {
            emit(&self.pending[start..start + MAX_LINE]);
            start += MAX_LINE;
        }
        self.pending.drain(..start);
    }

    /// Emits what is left (a partial line) at end of stream.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.pending);
            self.pending.clear();
        }
        self.pending.shrink_to(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |m| out.push(m.to_vec()));
        }
        s.finish(|m| out.push(m.to_vec()));
        out
    }

    #[test]
    fn splits_lines_and_keeps_partials() {
        let out = split(&[b"hi\nthe", b"re\n", b"tail"]);
        assert_eq!(
            out,
            vec![b"hi\n".to_vec(), b"there\n".to_vec(), b"tail".to_vec()]
        );
    }

    #[test]
    fn cuts_long_lines() {
        let long = vec![b'x'; MAX_LINE + 10];
        let out = split(&[&long]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[1].len(), 10);
    }

    #[test]
    fn writes_docker_lines_and_rotates() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(path.clone(), 100, 3)?;
        for _ in 0..10 {
            log.write("stdout", b"hello \"world\"\n")?;
        }
        let text = std::fs::read_to_string(&path)?;
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(r#"{"log":"hello \"world\"\n","stream":"stdout","time":""#),
            "{first}"
        );
        assert!(first.ends_with("Z\"}"));
        assert!(dir.path().join("c-json.log.1").exists());
        assert!(dir.path().join("c-json.log.2").exists());
        assert!(!dir.path().join("c-json.log.3").exists());
        assert!(std::fs::metadata(&path)?.len() <= 100);
        Ok(())
    }
}
