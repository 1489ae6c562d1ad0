//! API version negotiation: which `/v1.NN/` prefixes we accept and the errors Docker gives for the others.

use std::fmt;
use std::str::FromStr;

use crate::error::{ApiError, ErrorKind};

/// An Engine API version such as 1.51; ordered so ranges can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Always 1 in practice.
    pub major: u32,
    /// The part clients negotiate, e.g. 51.
    pub minor: u32,
}

/// The version we advertise (what Docker CLI 28.3+ speaks).
pub const CURRENT_API_VERSION: ApiVersion = ApiVersion {
    major: 1,
    minor: 51,
};

/// The oldest version we still accept.
pub const MIN_API_VERSION: ApiVersion = ApiVersion {
    major: 1,
    minor: 24,
};

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API version {0:?}")]
pub struct VersionParseError(pub String);

impl FromStr for ApiVersion {
    type Err = VersionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || VersionParseError(s.to_string());
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(major) || !all_digits(minor) {
            return Err(bad());
        }
        Ok(ApiVersion {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
        })
    }
}

impl ApiVersion {
    /// Checks the version against the range we serve, with Docker's wording when it is outside.
    pub fn check_supported(self) -> Result<(), ApiError> {
        if self > CURRENT_API_VERSION {
            return Err(ApiError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "client version {self} is too new. Maximum supported API version is {CURRENT_API_VERSION}"
                ),
            ));
        }
        if self < MIN_API_VERSION {
            return Err(ApiError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "client version {self} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
                ),
            ));
        }
        Ok(())
    }
}

/// What a request path says about the version: the requested version (if any) and the path without the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedPath<'a> {
    /// The version from a `/v1.NN` prefix, `None` for unprefixed paths.
    pub version: Option<ApiVersion>,
    /// The path with the prefix removed (always starts with `/`).
    pub path: &'a str,
}

/// Splits a `/v1.NN/...` prefix off a request path. Paths whose first segment looks like `v<digits>.<digits>`
/// lose it; anything else (including `/vfoo/...`) is returned unchanged so the router answers 404.
pub fn split_version_prefix(path: &str) -> VersionedPath<'_> {
    let unchanged = VersionedPath {
        version: None,
        path,
    };
    let Some(rest) = path.strip_prefix("/v") else {
        return unchanged;
    };
    let (segment, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    match segment.parse::<ApiVersion>() {
        Ok(v) => VersionedPath {
            version: Some(v),
            path: tail,
        },
        Err(_) => unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_prefix_and_keeps_rest() {
        let p = split_version_prefix("/v1.43/containers/json");
        assert_eq!(
            p.version,
            Some(ApiVersion {
                major: 1,
                minor: 43
            })
        );
        assert_eq!(p.path, "/containers/json");
        let p = split_version_prefix("/v1.51");
        assert_eq!(p.path, "/");
    }

    #[test]
    fn leaves_unversioned_and_bogus_paths() {
        assert_eq!(split_version_prefix("/version").version, None);
        assert_eq!(split_version_prefix("/version").path, "/version");
        assert_eq!(split_version_prefix("/vx.1/info").path, "/vx.1/info");
        assert_eq!(split_version_prefix("/v1./info").path, "/v1./info");
    }

    #[test]
    fn rejects_out_of_range_with_docker_words() {
        let e = "1.99"
            .parse::<ApiVersion>()
            .unwrap()
            .check_supported()
            .unwrap_err();
        assert_eq!(
            e.message,
            "client version 1.99 is too new. Maximum supported API version is 1.51"
        );
        let e = "1.12"
            .parse::<ApiVersion>()
            .unwrap()
            .check_supported()
            .unwrap_err();
        assert!(
            e.message.starts_with(
                "client version 1.12 is too old. Minimum supported API version is 1.24"
            )
        );
        assert!(
            "1.24"
                .parse::<ApiVersion>()
                .unwrap()
                .check_supported()
                .is_ok()
        );
        assert!(
            "1.51"
                .parse::<ApiVersion>()
                .unwrap()
                .check_supported()
                .is_ok()
        );
    }
}
