//! Where the daemon is: `--host/-H`, then `BERTH_HOST`, then `DOCKER_HOST`, then the default socket;
//! `unix:///path` or `tcp://host[:port]` (2375 by default, 2376 with TLS), with the TLS settings to use.

use std::path::{Path, PathBuf};

use crate::error::ClientError;
use crate::tls::{TlsFlags, TlsSettings};

/// The default API socket of berthd.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// How to reach the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket path.
    Unix(PathBuf),
    /// A TCP address (host is a name, an IPv4 address or a bracketed IPv6 address).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

/// A parsed daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The URL, normalized, for messages.
    pub url: String,
    /// Where to connect.
    pub endpoint: Endpoint,
    /// TLS for TCP endpoints (ignored for unix sockets, as the docker CLI does).
    pub tls: Option<TlsSettings>,
}

impl Host {
    /// Picks the host the way DESIGN.md orders it: the flag, then `BERTH_HOST`, then `DOCKER_HOST`, then the
    /// default; TLS from the flags and `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`.
    pub fn resolve(flag: Option<&str>, tls: &TlsFlags) -> Result<Host, ClientError> {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let url = flag
            .map(str::to_string)
            .or_else(|| from_env("BERTH_HOST"))
            .or_else(|| from_env("DOCKER_HOST"))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        Host::parse_with_tls(&url, tls.settings())
    }

    /// Parses `unix:///path`, a bare absolute path, or `tcp://host[:port]`, without TLS.
    pub fn parse(url: &str) -> Result<Host, ClientError> {
        Host::parse_with_tls(url, None)
    }

    /// Parses an address and attaches TLS settings (which pick the default TCP port).
    pub fn parse_with_tls(url: &str, tls: Option<TlsSettings>) -> Result<Host, ClientError> {
        let unsupported = |reason: &str| ClientError::UnsupportedHost {
            host: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = url.strip_prefix("tcp://") {
            let (host, port) = parse_tcp(rest, tls.is_some()).map_err(&unsupported)?;
            return Ok(Host {
                url: format!("tcp://{host}:{port}"),
                endpoint: Endpoint::Tcp { host, port },
                tls,
            });
        }
        let path = if let Some(path) = url.strip_prefix("unix://") {
            path
        } else if url.starts_with('/') {
            url
        } else if url.starts_with("ssh://") || url.starts_with("http") || url.starts_with("npipe") {
            return Err(unsupported("only unix:// and tcp:// hosts are supported"));
        } else {
            return Err(unsupported(
                "invalid host (want unix:///path/to/socket or tcp://host:port)",
            ));
        };
        if path.is_empty() {
            return Err(unsupported("empty socket path in host"));
        }
        Ok(Host {
            url: format!("unix://{path}"),
            endpoint: Endpoint::Unix(PathBuf::from(path)),
            tls: None,
        })
    }

    /// The unix socket, when the daemon is reached through one.
    pub fn socket(&self) -> Option<&Path> {
        match &self.endpoint {
            Endpoint::Unix(p) => Some(p),
            Endpoint::Tcp { .. } => None,
        }
    }
}

/// `host[:port][/]` with the docker CLI's defaults: `localhost`, 2375 (2376 with TLS).
fn parse_tcp(rest: &str, tls: bool) -> Result<(String, u16), &'static str> {
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') {
        return Err("no path allowed in a tcp:// host");
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or("unclosed [ in host")?;
        (&authority[..=end], authority[end + 1..].strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => {
            if tls {
                2376
            } else {
                2375
            }
        }
        Some(p) => p.parse().map_err(|_| "invalid port in host")?,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_urls_and_paths() {
        let h = Host::parse("unix:///tmp/x.sock").unwrap();
        assert_eq!(h.socket(), Some(Path::new("/tmp/x.sock")));
        assert_eq!(h.url, "unix:///tmp/x.sock");
        assert_eq!(
            Host::parse("/tmp/y.sock").unwrap().url,
            "unix:///tmp/y.sock"
        );
    }

    #[test]
    fn parses_tcp_with_docker_default_ports() {
        let h = Host::parse("tcp://127.0.0.1:4000").unwrap();
        assert_eq!(
            h.endpoint,
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 4000
            }
        );
        assert_eq!(h.socket(), None);
        assert_eq!(
            Host::parse("tcp://10.0.0.1").unwrap().url,
            "tcp://10.0.0.1:2375"
        );
        let tls = TlsSettings {
            verify: true,
            ca: "/ca.pem".into(),
            identity: None,
        };
        assert_eq!(
            Host::parse_with_tls("tcp://10.0.0.1/", Some(tls))
                .unwrap()
                .url,
            "tcp://10.0.0.1:2376"
        );
        assert_eq!(Host::parse("tcp://[::1]:9").unwrap().url, "tcp://[::1]:9");
        assert_eq!(Host::parse("tcp://").unwrap().url, "tcp://localhost:2375");
    }

    #[test]
    fn rejects_ssh_and_garbage_clearly() {
        let e = Host::parse("ssh://me@box").unwrap_err();
        assert_eq!(
            e.to_string(),
            "only unix:// and tcp:// hosts are supported: ssh://me@box"
        );
        assert!(Host::parse("nonsense").is_err());
        assert!(Host::parse("unix://").is_err());
        assert!(Host::parse("tcp://h:x").is_err());
        assert!(Host::parse("tcp://h:1/path").is_err());
    }

    #[test]
    fn flag_wins_over_environment() {
        let h = Host::resolve(Some("unix:///flag.sock"), &TlsFlags::default()).unwrap();
        assert_eq!(h.socket(), Some(Path::new("/flag.sock")));
    }
}
