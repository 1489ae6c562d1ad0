//! Where berthd listens: dockerd's `-H` notation (`unix:///path`, `tcp://host:port`, a bare `host:port`),
//! with dockerd's defaults (2375 for plain TCP, 2376 with TLS, `localhost` when the host is empty).

use std::path::PathBuf;

/// The default API socket.
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

/// One API listener address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A unix socket path.
    Unix(PathBuf),
    /// A TCP `host:port` (host may be a name, an IPv4 address or a bracketed IPv6 address).
    Tcp(String),
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Unix(p) => write!(f, "unix://{}", p.display()),
            ListenAddr::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// Parses one `-H` value; `tls` picks the default port.
pub fn parse_listen_addr(spec: &str, tls: bool) -> anyhow::Result<ListenAddr> {
    let spec = spec.trim();
    let (proto, rest) = spec.split_once("://").unwrap_or(("tcp", spec));
    match proto {
        "unix" => {
            let path = if rest.is_empty() {
                DEFAULT_SOCKET
            } else {
                rest
            };
            Ok(ListenAddr::Unix(PathBuf::from(path)))
        }
        "tcp" => parse_tcp(spec, rest, tls),
        "fd" | "npipe" | "ssh" => {
            anyhow::bail!("{proto}:// hosts are not supported by berthd: {spec}")
        }
        _ => anyhow::bail!("Invalid bind address format: {spec}"),
    }
}

fn parse_tcp(spec: &str, rest: &str, tls: bool) -> anyhow::Result<ListenAddr> {
    let authority = rest.split('/').next().unwrap_or_default();
    if rest.len() > authority.len() && rest[authority.len()..] != *"/" {
        anyhow::bail!("Invalid bind address format: {spec} (no path allowed)");
    }
    let (host, port) = split_host_port(authority);
    let host = if host.is_empty() { "localhost" } else { host };
    let port = match port {
        None | Some("") => {
            if tls {
                2376
            } else {
                2375
            }
        }
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| anyhow::anyhow!("Invalid bind address format: {spec} (bad port {p:?})"))?,
    };
    Ok(ListenAddr::Tcp(format!("{host}:{port}")))
}

/// Splits `host:port`, `[v6]:port`, `host` or `[v6]`.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let port = authority[end + 1..].strip_prefix(':');
                (&authority[..=end], port)
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(s: &str) -> ListenAddr {
        ListenAddr::Tcp(s.to_string())
    }

    #[test]
    fn dockerd_host_notation() -> anyhow::Result<()> {
        assert_eq!(
            parse_listen_addr("unix:///tmp/a.sock", false)?,
            ListenAddr::Unix("/tmp/a.sock".into())
        );
        assert_eq!(
            parse_listen_addr("unix://", false)?,
            ListenAddr::Unix(DEFAULT_SOCKET.into())
        );
        assert_eq!(
            parse_listen_addr("tcp://127.0.0.1:4000", true)?,
            tcp("127.0.0.1:4000")
        );
        assert_eq!(
            parse_listen_addr("tcp://127.0.0.1", false)?,
            tcp("127.0.0.1:2375")
        );
        assert_eq!(
            parse_listen_addr("tcp://127.0.0.1", true)?,
            tcp("127.0.0.1:2376")
        );
        assert_eq!(parse_listen_addr("tcp://", true)?, tcp("localhost:2376"));
        assert_eq!(
            parse_listen_addr("tcp://:2380", false)?,
            tcp("localhost:2380")
        );
        assert_eq!(
            parse_listen_addr("0.0.0.0:2375", false)?,
            tcp("0.0.0.0:2375")
        );
        assert_eq!(parse_listen_addr("tcp://[::1]", false)?, tcp("[::1]:2375"));
        assert_eq!(parse_listen_addr("tcp://[::1]:9", false)?, tcp("[::1]:9"));
        assert!(parse_listen_addr("tcp://h:notaport", false).is_err());
        assert!(parse_listen_addr("tcp://h:1/path", false).is_err());
        assert!(parse_listen_addr("fd://", false).is_err());
        assert!(parse_listen_addr("gopher://x", false).is_err());
        Ok(())
    }
}
