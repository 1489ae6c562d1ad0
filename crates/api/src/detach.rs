//! Detach key sequences (`ctrl-p,ctrl-q`): parsing Docker's notation and spotting the sequence in a stdin
//! stream, so a backend can end an attach session without closing the container's stdin.

use bytes::Bytes;

use crate::error::ApiError;

/// Docker's default detach sequence, `ctrl-p,ctrl-q`.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// A parsed detach sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl DetachKeys {
    /// Parses Docker's notation: comma-separated single characters or `ctrl-<a-z @ [ \ ] ^ _>`.
    pub fn parse(spec: &str) -> Result<Self, ApiError> {
        let keys = spec
            .split(',')
            .map(parse_key)
            .collect::<Result<Vec<u8>, ApiError>>()?;
        Ok(DetachKeys(keys))
    }

    /// The bytes of the sequence.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A scanner for one stdin stream.
    pub fn scanner(&self) -> DetachScanner {
        DetachScanner {
            keys: self.0.clone(),
            matched: 0,
        }
    }
}

impl Default for DetachKeys {
    fn default() -> Self {
        // ctrl-p, ctrl-q
        DetachKeys(vec![0x10, 0x11])
    }
}

fn parse_key(key: &str) -> Result<u8, ApiError> {
    let unknown = || ApiError::invalid(format!("Unknown character: '{key}'"));
    if let Some(ctrl) = key.strip_prefix("ctrl-") {
        let mut chars = ctrl.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(unknown());
        };
        return match c {
            'a'..='z' => Ok(c as u8 - b'a' + 1),
            '@' => Ok(0),
            '[' => Ok(27),
            '\\' => Ok(28),
            ']' => Ok(29),
            '^' => Ok(30),
            '_' => Ok(31),
            _ => Err(unknown()),
        };
    }
    match key.as_bytes() {
        [b] => Ok(*b),
        _ => Err(unknown()),
    }
}

/// What the scanner decided about a chunk of stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// Forward these bytes (possibly empty while a partial match is held back).
    Forward(Bytes),
    /// The sequence was typed: forward these bytes that came before it, then detach.
    Detach(Bytes),
}

/// Finds the detach sequence across chunk boundaries; bytes of a partial match are held back and released
/// if the sequence breaks, as Docker does.
#[derive(Debug, Clone)]
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachScanner {
    /// Feeds one chunk of stdin.
    pub fn feed(&mut self, chunk: &[u8]) -> Scanned {
        let mut out = Vec::with_capacity(chunk.len());
        for &byte in chunk {
            if self.keys.is_empty() {
                out.push(byte);
                continue;
            }
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scanned::Detach(Bytes::from(out));
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(byte);
            }
        }
        Scanned::Forward(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_notation() {
        assert_eq!(
            DetachKeys::parse(DEFAULT_DETACH_KEYS).unwrap(),
            DetachKeys::default()
        );
        assert_eq!(
            DetachKeys::parse("a,ctrl-@,ctrl-_").unwrap().bytes(),
            &[b'a', 0, 31]
        );
        assert_eq!(
            DetachKeys::parse("ctrl-P").unwrap_err().message,
            "Unknown character: 'ctrl-P'"
        );
        assert!(DetachKeys::parse("ab").is_err());
        assert!(DetachKeys::parse("").is_err());
    }

    #[test]
    fn finds_sequence_across_chunks_and_releases_broken_prefixes() {
        let mut s = DetachKeys::default().scanner();
        assert_eq!(
            s.feed(b"ab\x10"),
            Scanned::Forward(Bytes::from_static(b"ab"))
        );
        assert_eq!(s.feed(b"x"), Scanned::Forward(Bytes::from_static(b"\x10x")));
        assert_eq!(
            s.feed(b"c\x10\x10"),
            Scanned::Forward(Bytes::from_static(b"c\x10"))
        );
        assert_eq!(s.feed(b"\x11rest"), Scanned::Detach(Bytes::new()));
        let mut s = DetachKeys::default().scanner();
        assert_eq!(
            s.feed(b"hi\x10\x11"),
            Scanned::Detach(Bytes::from_static(b"hi"))
        );
    }
}
