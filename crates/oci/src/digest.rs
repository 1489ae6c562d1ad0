//! Content digests ("sha256:<hex>"): the identity of every blob, layer and image in berth.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

use crate::ErrorKind;

/// A digest algorithm berth can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the algorithm of every digest Docker and OCI registries produce.
    Sha256,
    /// SHA-512, allowed by the OCI image spec.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Number of hex characters in an encoded digest of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Why a digest string was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// No `algorithm:` prefix, or characters outside the grammar.
    #[error("invalid checksum digest format")]
    Format {
        /// The rejected input.
        input: String,
    },
    /// The algorithm is well formed but not one berth supports.
    #[error("unsupported digest algorithm")]
    Unsupported {
        /// The rejected input.
        input: String,
    },
    /// The hex part has the wrong length for the algorithm.
    #[error("invalid checksum digest length")]
    Length {
        /// The rejected input.
        input: String,
    },
}

impl DigestError {
    /// The error class, for mapping to API statuses.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidArgument
    }
}

/// A validated digest: algorithm plus lowercase hex encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses and validates `algorithm:hex` (hex must be lowercase and of the right length).
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (alg, hex) = s.split_once(':').ok_or_else(|| DigestError::Format {
            input: s.to_string(),
        })?;
        if !valid_algorithm_grammar(alg) || hex.is_empty() {
            return Err(DigestError::Format {
                input: s.to_string(),
            });
        }
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => {
                return Err(DigestError::Unsupported {
                    input: s.to_string(),
                });
            }
        };
        if hex.len() != algorithm.hex_len() {
            return Err(DigestError::Length {
                input: s.to_string(),
            });
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::Format {
                input: s.to_string(),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// Builds a SHA-256 digest from 64 hex characters (e.g. an image id without prefix).
    pub fn from_sha256_hex(hex: &str) -> Result<Digest, DigestError> {
        Digest::parse(&format!("sha256:{hex}"))
    }

    /// The SHA-256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        let mut d = Digester::new();
        d.update(data);
        d.finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex encoding (the part after the colon).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as Docker shows ids.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

fn valid_algorithm_grammar(alg: &str) -> bool {
    // algorithm-component (algorithm-separator algorithm-component)*, component [a-z0-9]+
    !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Streaming SHA-256: feed bytes as they pass by, get the digest and byte count at the end.
#[derive(Clone, Default)]
pub struct Digester {
    hasher: sha2::Sha256,
    len: u64,
}

impl Digester {
    /// A fresh SHA-256 digester.
    pub fn new() -> Digester {
        Digester::default()
    }

    /// Hashes more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.len += data.len() as u64;
    }

    /// How many bytes have been hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(self.hasher.finalize()),
        }
    }
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digester").field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_empty_input_is_the_well_known_one() {
        assert_eq!(Digester::new().finish().to_string(), EMPTY);
        assert_eq!(Digest::sha256_of(b"").to_string(), EMPTY);
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut d = Digester::new();
        d.update(b"hello ");
        d.update(b"world");
        assert_eq!(d.len(), 11);
        assert_eq!(d.finish(), Digest::sha256_of(b"hello world"));
    }

    #[test]
    fn parse_round_trips_and_rejects_bad_input() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert!(matches!(
            Digest::parse("sha256"),
            Err(DigestError::Format { .. })
        ));
        assert!(matches!(
            Digest::parse("sha256:abc"),
            Err(DigestError::Length { .. })
        ));
        assert!(matches!(
            Digest::parse(&EMPTY.to_uppercase().replace("SHA256", "sha256")),
            Err(DigestError::Format { .. })
        ));
        assert!(matches!(
            Digest::parse("md5:abc"),
            Err(DigestError::Unsupported { .. })
        ));
        assert!(matches!(
            Digest::parse(":abc"),
            Err(DigestError::Format { .. })
        ));
    }

    #[test]
    fn serde_uses_the_string_form() {
        let d = Digest::parse(EMPTY).unwrap();
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(j, format!("\"{EMPTY}\""));
        let back: Digest = serde_json::from_str(&j).unwrap();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
