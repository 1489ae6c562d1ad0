//! Image references (`busybox`, `localhost:5000/a/b:t`, `name@sha256:...`) normalized exactly as
//! Docker does, so names typed by users resolve and print the way Docker users expect.

use std::fmt;
use std::str::FromStr;

use crate::ErrorKind;
use crate::digest::{Digest, DigestError};

/// The registry Docker assumes when a name has no domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The repository prefix Docker Hub gives single-component names.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag assumed when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a reference was rejected; the messages are Docker's, since users grep for them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// The string does not match the reference grammar.
    #[error("invalid reference format")]
    InvalidFormat {
        /// The rejected input.
        input: String,
    },
    /// The repository part has uppercase letters.
    #[error("invalid reference format: repository name ({remote}) must be lowercase")]
    Uppercase {
        /// The repository path as Docker reports it (`library/Busybox`).
        remote: String,
    },
    /// The name is empty.
    #[error("repository name must have at least one component")]
    Empty,
    /// The full name is longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    TooLong {
        /// The rejected input.
        input: String,
    },
    /// The string is a full image id, which is not a valid repository name.
    #[error("invalid repository name ({input}), cannot specify 64-byte hexadecimal strings")]
    HexName {
        /// The rejected input.
        input: String,
    },
    /// The digest part is malformed.
    #[error("{source}")]
    Digest {
        /// The rejected input.
        input: String,
        /// What is wrong with the digest.
        #[source]
        source: DigestError,
    },
}

impl ReferenceError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

/// A normalized image reference: domain, repository path, optional tag, optional digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a user-typed reference and normalizes it as Docker's `ParseNormalizedNamed`
    /// does (`busybox` -> `docker.io/library/busybox`). No default tag is added; see
    /// [`Reference::with_default_tag`].
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ReferenceError::HexName {
                input: s.to_string(),
            });
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => &remainder[..],
        };
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase {
                remote: remote.to_string(),
            });
        }
        Reference::parse_parts(s, domain, &remainder)
    }

    /// Like [`Reference::parse_normalized`], then adds `:latest` when there is neither tag
    /// nor digest (what `docker pull busybox` means).
    pub fn parse_normalized_tagged(s: &str) -> Result<Reference, ReferenceError> {
        Ok(Reference::parse_normalized(s)?.with_default_tag())
    }

    /// Builds a reference from a repository name and a tag (e.g. from `docker tag` or an
    /// API `repo` + `tag` pair); an empty tag means `latest`.
    pub fn from_repo_tag(repo: &str, tag: &str) -> Result<Reference, ReferenceError> {
        let r = Reference::parse_normalized(repo)?;
        if r.tag.is_some() || r.digest.is_some() || tag.is_empty() {
            return Ok(r.with_default_tag());
        }
        if !valid_tag(tag) {
            return Err(ReferenceError::InvalidFormat {
                input: format!("{repo}:{tag}"),
            });
        }
        Ok(r.with_tag(tag))
    }

    fn parse_parts(
        input: &str,
        domain: String,
        remainder: &str,
    ) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let invalid = || ReferenceError::InvalidFormat {
            input: input.to_string(),
        };
        let (name_tag, digest) = match remainder.split_once('@') {
            Some((n, d)) => {
                let digest = parse_reference_digest(input, d)?;
                (n, Some(digest))
            }
            None => (remainder, None),
        };
        let (path, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i..].contains('/') => (&name_tag[..i], Some(&name_tag[i + 1..])),
            _ => (name_tag, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(invalid());
        }
        if !valid_domain(&domain) || path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(invalid());
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::TooLong {
                input: input.to_string(),
            });
        }
        Ok(Reference {
            domain,
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The same reference with `latest` as tag when it has neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// The same repository with `tag` and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// The same repository with `digest` and no tag (the form recorded as a RepoDigest).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// The registry domain (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name (`docker.io/library/busybox`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository name as Docker shows it (`busybox`, `localhost:5000/a/b`).
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The whole reference as Docker shows it (`busybox:latest`, `a/b@sha256:...`).
    pub fn familiar(&self) -> String {
        self.format_with(self.familiar_name())
    }

    fn format_with(&self, mut s: String) -> String {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form (`docker.io/library/busybox:latest`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_with(self.name()))
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse_normalized(s)
    }
}

/// Docker's `splitDockerDomain`: the first component is a domain when it has a `.` or `:`,
/// is `localhost`, or has uppercase letters (which repositories cannot have).
fn split_docker_domain(s: &str) -> (String, String) {
    let (mut domain, mut remainder) = match s.find('/') {
        Some(i) => {
            let first = &s[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first
            {
                (DEFAULT_DOMAIN.to_string(), s.to_string())
            } else {
                (first.to_string(), s[i + 1..].to_string())
            }
        }
        None => (DEFAULT_DOMAIN.to_string(), s.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

fn parse_reference_digest(input: &str, d: &str) -> Result<Digest, ReferenceError> {
    Digest::parse(d).map_err(|source| match source {
        DigestError::Format { .. } | DigestError::Unsupported { .. } if !d.contains(':') => {
            ReferenceError::InvalidFormat {
                input: input.to_string(),
            }
        }
        source => ReferenceError::Digest {
            input: input.to_string(),
            source,
        },
    })
}

/// tag := [\w][\w.-]{0,127}
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < b.len() {
        if alnum(b[i]) {
            while i < b.len() && alnum(b[i]) {
                i += 1;
            }
            expect_alnum = false;
            continue;
        }
        if expect_alnum {
            return false;
        }
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        debug_assert!(i > start);
        expect_alnum = true;
    }
    !b.is_empty() && !expect_alnum
}

/// domain := host (':' port)?; host := domain-name | '[' ipv6 ']'
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return false;
        };
        let (v6, after) = (&rest[..end], &rest[end + 1..]);
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => return valid_port(p),
            None => return after.is_empty(),
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port
        && !valid_port(p)
    {
        return false;
    }
    !host.is_empty() && host.split('.').all(valid_domain_component)
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
}

/// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
fn valid_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn full(s: &str) -> String {
        Reference::parse_normalized(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(full("busybox"), "docker.io/library/busybox");
        assert_eq!(
            Reference::parse_normalized_tagged("busybox")
                .unwrap()
                .to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app");
        assert_eq!(full("docker.io/busybox"), "docker.io/library/busybox");
        assert_eq!(full("index.docker.io/busybox"), "docker.io/library/busybox");
        assert_eq!(full("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(full("localhost/a"), "localhost/a");
        assert_eq!(full("quay.io/x/y"), "quay.io/x/y");
        assert_eq!(full("[::1]:5000/a"), "[::1]:5000/a");
        assert_eq!(
            full(&format!("busybox@{D}")),
            format!("docker.io/library/busybox@{D}")
        );
        assert_eq!(
            full(&format!("busybox:1@{D}")),
            format!("docker.io/library/busybox:1@{D}")
        );
        assert_eq!(full("a__b/c-d--e.f_g"), "docker.io/a__b/c-d--e.f_g");
    }

    #[test]
    fn familiar_forms() {
        let f = |s: &str| Reference::parse_normalized_tagged(s).unwrap().familiar();
        assert_eq!(f("busybox"), "busybox:latest");
        assert_eq!(f("docker.io/library/busybox:1"), "busybox:1");
        assert_eq!(f("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(f("user/app:v1"), "user/app:v1");
        assert_eq!(f("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(f(&format!("busybox@{D}")), format!("busybox@{D}"));
    }

    #[test]
    fn rejects_with_docker_words() {
        let e = |s: &str| Reference::parse_normalized(s).unwrap_err().to_string();
        assert_eq!(
            e("Busybox"),
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        assert_eq!(e("busybox:"), "invalid reference format");
        assert_eq!(e("bus box"), "invalid reference format");
        assert_eq!(e("a//b"), "invalid reference format");
        assert_eq!(e("-a"), "invalid reference format");
        assert_eq!(e("a-"), "invalid reference format");
        assert_eq!(e("a._b"), "invalid reference format");
        assert_eq!(e(":tag"), "invalid reference format");
        assert_eq!(e(""), "repository name must have at least one component");
        assert_eq!(e("busybox@sha256:abc"), "invalid checksum digest length");
        assert_eq!(e("busybox@latest"), "invalid reference format");
        assert!(e(&"a".repeat(64).replace('a', "b")).contains("cannot specify 64-byte"));
        assert_eq!(
            e(&format!("{}:1", "a".repeat(300))),
            "repository name must not be more than 255 characters"
        );
        assert_eq!(
            e(&format!("a:{}", "t".repeat(129))),
            "invalid reference format"
        );
    }

    #[test]
    fn uppercase_first_component_is_a_domain() {
        let r = Reference::parse_normalized("Foo/bar").unwrap();
        assert_eq!(r.domain(), "Foo");
        assert_eq!(r.path(), "bar");
    }

    #[test]
    fn repo_and_tag_pairs() {
        let r = Reference::from_repo_tag("busybox", "x").unwrap();
        assert_eq!(r.familiar(), "busybox:x");
        assert_eq!(
            Reference::from_repo_tag("busybox", "").unwrap().familiar(),
            "busybox:latest"
        );
        assert!(Reference::from_repo_tag("busybox", "-x").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,80}") {
            let _ = Reference::parse_normalized(&s);
        }

        #[test]
        fn parsing_reference_like_strings_never_panics(s in "[a-zA-Z0-9:/@._\\-\\[\\]]{0,80}") {
            if let Ok(r) = Reference::parse_normalized(&s) {
                // Whatever parses must print to something that parses to the same thing.
                let again = Reference::parse_normalized(&r.to_string()).unwrap();
                proptest::prop_assert_eq!(again, r);
            }
        }
    }
}
