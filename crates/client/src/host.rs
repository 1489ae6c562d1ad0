//! Where the daemon is: `--host/-H`, then `BERTH_HOST`, then `DOCKER_HOST`, then the default socket.

use std::path::PathBuf;

use crate::error::ClientError;

/// The default API socket of berthd.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A parsed daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The URL as given, for messages.
    pub url: String,
    /// Path of the unix socket.
    pub socket: PathBuf,
}

impl Host {
    /// Picks the host the way DESIGN.md orders it: the flag, then `BERTH_HOST`, then `DOCKER_HOST`, then the default.
    pub fn resolve(flag: Option<&str>) -> Result<Host, ClientError> {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let url = flag
            .map(str::to_string)
            .or_else(|| from_env("BERTH_HOST"))
            .or_else(|| from_env("DOCKER_HOST"))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        Host::parse(&url)
    }

    /// Parses `unix:///path` (or a bare absolute path); TCP and SSH are not supported yet.
    pub fn parse(url: &str) -> Result<Host, ClientError> {
        let unsupported = |reason: &str| ClientError::UnsupportedHost {
            host: url.to_string(),
            reason: reason.to_string(),
        };
        let path = if let Some(path) = url.strip_prefix("unix://") {
            path
        } else if url.starts_with('/') {
            url
        } else if url.starts_with("tcp://") || url.starts_with("ssh://") || url.starts_with("http")
        {
            return Err(unsupported("only unix:// hosts are supported yet"));
        } else {
            return Err(unsupported("invalid host (want unix:///path/to/socket)"));
        };
        if path.is_empty() {
            return Err(unsupported("empty socket path in host"));
        }
        Ok(Host {
            url: format!("unix://{path}"),
            socket: PathBuf::from(path),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_urls_and_paths() {
        let h = Host::parse("unix:///tmp/x.sock").unwrap();
        assert_eq!(h.socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(h.url, "unix:///tmp/x.sock");
        assert_eq!(
            Host::parse("/tmp/y.sock").unwrap().url,
            "unix:///tmp/y.sock"
        );
    }

    #[test]
    fn rejects_tcp_and_garbage_clearly() {
        let e = Host::parse("tcp://127.0.0.1:2375").unwrap_err();
        assert_eq!(
            e.to_string(),
            "only unix:// hosts are supported yet: tcp://127.0.0.1:2375"
        );
        assert!(Host::parse("nonsense").is_err());
        assert!(Host::parse("unix://").is_err());
    }

    #[test]
    fn flag_wins_over_environment() {
        let h = Host::resolve(Some("unix:///flag.sock")).unwrap();
        assert_eq!(h.socket, PathBuf::from("/flag.sock"));
    }
}
