//! Docker's ulimit notation (`name=soft[:hard]`, go-units `ParseUlimit`), shared by `berth run
//! --ulimit` and berthd's `--default-ulimit` so both accept and word errors the same way.

use crate::config::Ulimit;

/// The rlimit names Docker accepts (without `RLIMIT_`).
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Why a ulimit was refused, in go-units' words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UlimitError {
    /// Not `name=value`, or a value that is not a number.
    #[error("invalid ulimit argument: {0}")]
    Argument(String),
    /// A name Docker does not know.
    #[error("invalid ulimit type: {0}")]
    Type(String),
    /// More than `soft:hard`.
    #[error("too many limit value arguments - {0}, can only have up to two, `soft[:hard]`")]
    TooManyValues(String),
    /// soft above hard.
    #[error("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")]
    SoftAboveHard {
        /// The soft limit given.
        soft: i64,
        /// The hard limit given.
        hard: i64,
    },
}

/// Parses `name=soft[:hard]`; the hard limit defaults to the soft one.
pub fn parse_ulimit(spec: &str) -> Result<Ulimit, UlimitError> {
    let (name, limits) = spec
        .split_once('=')
        .ok_or_else(|| UlimitError::Argument(spec.to_string()))?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(UlimitError::Type(name.to_string()));
    }
    let parts: Vec<&str> = limits.split(':').collect();
    if parts.len() > 2 {
        return Err(UlimitError::TooManyValues(limits.to_string()));
    }
    let number = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| UlimitError::Argument(spec.to_string()))
    };
    let soft = number(parts[0])?;
    let hard = match parts.get(1) {
        Some(h) => number(h)?,
        None => soft,
    };
    if soft > hard {
        return Err(UlimitError::SoftAboveHard { soft, hard });
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_soft_and_hard() {
        let u = parse_ulimit("nofile=1024:2048");
        assert_eq!(
            u.map(|u| (u.name, u.soft, u.hard)),
            Ok(("nofile".to_string(), 1024, 2048))
        );
        let u = parse_ulimit("nproc=64");
        assert_eq!(u.map(|u| (u.soft, u.hard)), Ok((64, 64)));
    }

    #[test]
    fn rejects_like_go_units() {
        let err = |s: &str| parse_ulimit(s).map_err(|e| e.to_string()).err();
        assert_eq!(
            err("nofile").as_deref(),
            Some("invalid ulimit argument: nofile")
        );
        assert_eq!(err("foo=1").as_deref(), Some("invalid ulimit type: foo"));
        assert_eq!(
            err("nofile=2:1").as_deref(),
            Some("ulimit soft limit must be less than or equal to hard limit: 2 > 1")
        );
        assert_eq!(
            err("nofile=1:2:3").as_deref(),
            Some("too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`")
        );
        assert!(err("nofile=x").is_some());
    }
}
