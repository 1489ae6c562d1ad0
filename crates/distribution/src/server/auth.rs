//! Optional htpasswd basic authentication for the registry server: Apache htpasswd files with
//! bcrypt entries, verified once per credential pair and then remembered.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use berth_oci::{Digest, ErrorKind};

/// Why an htpasswd file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    /// The file could not be read.
    #[error("read htpasswd file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `user:$2y$...`.
    #[error("htpasswd file {path} line {line}: only bcrypt entries are supported")]
    Entry {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
}

impl HtpasswdError {
    /// The error class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HtpasswdError::Read { .. } => ErrorKind::NotFound,
            HtpasswdError::Entry { .. } => ErrorKind::InvalidArgument,
        }
    }
}

/// The users of an htpasswd file and the credentials already verified.
#[derive(Debug)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    verified: Mutex<HashSet<Digest>>,
}

impl Htpasswd {
    /// Loads an htpasswd file whose entries are bcrypt hashes (`htpasswd -B`).
    pub fn load(path: &Path) -> Result<Htpasswd, HtpasswdError> {
        let text = std::fs::read_to_string(path).map_err(|source| HtpasswdError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Htpasswd::parse(&text).map_err(|line| HtpasswdError::Entry {
            path: path.to_path_buf(),
            line,
        })
    }

    /// Parses htpasswd text; the error is the 1-based number of a bad line.
    pub fn parse(text: &str) -> Result<Htpasswd, usize> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((u, h)) if h.starts_with("$2") => {
                    users.insert(u.to_string(), h.to_string());
                }
                _ => return Err(i + 1),
            }
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Whether an `Authorization` header value carries valid basic credentials.
    pub fn check_header(&self, value: Option<&str>) -> bool {
        let Some((user, pass)) = value.and_then(parse_basic) else {
            return false;
        };
        self.check(&user, &pass)
    }

    /// Whether `user` / `pass` match an entry.
    pub fn check(&self, user: &str, pass: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let key = Digest::sha256_of(format!("{user}\0{pass}\0{hash}").as_bytes());
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.contains(&key) {
            return true;
        }
        if bcrypt::verify(pass, hash).unwrap_or(false) {
            verified.insert(key);
            return true;
        }
        false
    }
}

/// Decodes `Basic base64(user:pass)`.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_entries_verify_and_others_fail() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::parse(&format!("# c\nalice:{hash}\n")).unwrap();
        assert!(h.check("alice", "s3cret"));
        assert!(h.check("alice", "s3cret"));
        assert!(!h.check("alice", "wrong"));
        assert!(!h.check("bob", "s3cret"));
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
        );
        assert!(h.check_header(Some(&header)));
        assert!(!h.check_header(None));
        assert_eq!(Htpasswd::parse("bob:{SHA}abc").err(), Some(1));
    }
}
