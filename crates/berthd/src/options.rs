//! berthd's flags, merged with daemon.json (Docker's keys where they mean the same; flags win).

use crate::listen::{DEFAULT_SOCKET, ListenAddr, parse_listen_addr};
use crate::ulimits::{parse_ulimit, ulimits_from_file};
use berth_api::config::Ulimit;
use berth_engine::RegistryConfig;
use berth_server::TlsFiles;
use clap::Parser;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "berthd",
    version,
    about = "The berth daemon: the Docker Engine API on a unix socket"
)]
struct Flags {
    /// Daemon sockets to listen on (unix:///path, tcp://host:port); repeatable.
    #[arg(short = 'H', long = "host")]
    host: Vec<String>,
    /// Use TLS on TCP listeners; implied by --tlsverify.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tls: Option<bool>,
    /// Use TLS and require client certificates signed by --tlscacert.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tlsverify: Option<bool>,
    /// Trust certs signed only by this CA (default ~/.docker/ca.pem).
    #[arg(long)]
    tlscacert: Option<PathBuf>,
    /// Path to TLS certificate file (default ~/.docker/cert.pem).
    #[arg(long)]
    tlscert: Option<PathBuf>,
    /// Path to TLS key file (default ~/.docker/key.pem).
    #[arg(long)]
    tlskey: Option<PathBuf>,
    /// Default ulimits for containers (name=soft[:hard]); repeatable.
    #[arg(long = "default-ulimit")]
    default_ulimit: Vec<String>,
    /// Persistent state (images, containers).
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Runtime state (shims, sockets).
    #[arg(long)]
    exec_root: Option<PathBuf>,
    /// Where to write the daemon's pid.
    #[arg(long)]
    pidfile: Option<PathBuf>,
    /// daemon.json.
    #[arg(long, default_value = "/etc/berth/daemon.json")]
    config_file: PathBuf,
    /// trace, debug, info, warn, error.
    #[arg(short = 'l', long)]
    log_level: Option<String>,
}

/// daemon.json keys berthd understands (others are ignored with a warning).
#[derive(serde::Deserialize, Default, Debug)]
#[serde(rename_all = "kebab-case", default)]
struct FileConfig {
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    hosts: Vec<String>,
    tls: Option<bool>,
    tlsverify: Option<bool>,
    tlscacert: Option<PathBuf>,
    tlscert: Option<PathBuf>,
    tlskey: Option<PathBuf>,
    log_level: Option<String>,
    log_driver: Option<String>,
    log_opts: HashMap<String, String>,
    pidfile: Option<PathBuf>,
    live_restore: Option<bool>,
    default_ulimits: HashMap<String, Ulimit>,
    insecure_registries: Vec<String>,
    registry_mirrors: Vec<String>,
    max_concurrent_downloads: Option<usize>,
    max_concurrent_uploads: Option<usize>,
}

impl FileConfig {
    /// The shared registry client's settings: Docker's defaults, then daemon.json's keys.
    fn registry(&self) -> anyhow::Result<RegistryConfig> {
        let mut cfg = RegistryConfig {
            insecure_registries: self.insecure_registries.clone(),
            mirrors: self.registry_mirrors.clone(),
            ..RegistryConfig::default()
        };
        for (key, value, slot) in [
            (
                "max-concurrent-downloads",
                self.max_concurrent_downloads,
                &mut cfg.max_concurrent_downloads,
            ),
            (
                "max-concurrent-uploads",
                self.max_concurrent_uploads,
                &mut cfg.max_concurrent_uploads,
            ),
        ] {
            match value {
                Some(0) => anyhow::bail!("{key} must be a positive number"),
                Some(n) => *slot = n,
                None => {}
            }
        }
        Ok(cfg)
    }
}

/// The daemon's effective settings.
#[derive(Debug)]
pub struct Options {
    /// Where the API is served.
    pub listeners: Vec<ListenAddr>,
    /// TLS for the TCP listeners (`--tls`/`--tlsverify`).
    pub tls: Option<TlsFiles>,
    /// Ulimits for containers that do not set them (`default-ulimits`).
    pub default_ulimits: Vec<Ulimit>,
    /// Data root.
    pub data_root: PathBuf,
    /// Exec root.
    pub exec_root: PathBuf,
    /// Pid file.
    pub pidfile: PathBuf,
    /// Log filter.
    pub log_level: String,
    /// Default json-file options.
    pub log_opts: HashMap<String, String>,
    /// The registry client's settings.
    pub registry: RegistryConfig,
}

impl Options {
    /// Parses argv and reads the config file (absent is fine, unreadable is an error).
    pub fn load() -> anyhow::Result<Options> {
        let flags = Flags::parse();
        let file: FileConfig = match std::fs::read(&flags.config_file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", flags.config_file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", flags.config_file.display())),
        };
        if file.log_driver.as_deref().is_some_and(|d| d != "json-file") {
            anyhow::bail!(
                "log-driver {:?} is not supported (only json-file)",
                file.log_driver
            );
        }
        let _ = &file.live_restore;
        let registry = file.registry()?;
        let tls = tls_files(&flags, &file);
        let hosts = if flags.host.is_empty() {
            file.hosts.clone()
        } else {
            flags.host.clone()
        };
        let listeners = listeners(&hosts, tls.is_some())?;
        let default_ulimits = default_ulimits(&flags.default_ulimit, &file.default_ulimits)?;
        let exec_root = flags
            .exec_root
            .or(file.exec_root)
            .unwrap_or_else(|| PathBuf::from("/run/berth"));
        Ok(Options {
            listeners,
            tls,
            default_ulimits,
            data_root: flags
                .data_root
                .or(file.data_root)
                .unwrap_or_else(|| PathBuf::from("/var/lib/berth")),
            pidfile: flags
                .pidfile
                .or(file.pidfile)
                .unwrap_or_else(|| exec_root.join("berthd.pid")),
            exec_root,
            log_level: flags
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            log_opts: file.log_opts,
            registry,
        })
    }
}

/// The `-H` values parsed; none means the default unix socket.
fn listeners(hosts: &[String], tls: bool) -> anyhow::Result<Vec<ListenAddr>> {
    if hosts.is_empty() {
        return Ok(vec![ListenAddr::Unix(PathBuf::from(DEFAULT_SOCKET))]);
    }
    hosts.iter().map(|h| parse_listen_addr(h, tls)).collect()
}

/// dockerd's TLS settings: `--tlsverify` implies `--tls`; files default to `$DOCKER_CERT_PATH` or
/// `~/.docker`; `DOCKER_TLS_VERIFY` turns verification on by default.
fn tls_files(flags: &Flags, file: &FileConfig) -> Option<TlsFiles> {
    let env_verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
    let verify = flags.tlsverify.or(file.tlsverify).unwrap_or(env_verify);
    let tls = flags.tls.or(file.tls).unwrap_or(false) || verify;
    if !tls {
        return None;
    }
    let dir = cert_dir();
    let pick = |flag: &Option<PathBuf>, key: &Option<PathBuf>, name: &str| {
        flag.clone()
            .or_else(|| key.clone())
            .unwrap_or_else(|| dir.join(name))
    };
    Some(TlsFiles {
        cert: pick(&flags.tlscert, &file.tlscert, "cert.pem"),
        key: pick(&flags.tlskey, &file.tlskey, "key.pem"),
        client_ca: verify.then(|| pick(&flags.tlscacert, &file.tlscacert, "ca.pem")),
    })
}

/// `$DOCKER_CERT_PATH`, else `~/.docker`.
fn cert_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".docker")
}

/// daemon.json's `default-ulimits`, then `--default-ulimit` flags (a flag replaces the file's
/// limit of the same name).
fn default_ulimits(
    flags: &[String],
    file: &HashMap<String, Ulimit>,
) -> anyhow::Result<Vec<Ulimit>> {
    let mut limits = ulimits_from_file(file)?;
    for spec in flags {
        let u = parse_ulimit(spec)?;
        limits.retain(|l| l.name != u.name);
        limits.push(u);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_tls_come_from_flags_or_daemon_json() -> anyhow::Result<()> {
        let file: FileConfig = serde_json::from_str(
            r#"{"hosts":["unix:///tmp/f.sock","tcp://127.0.0.1"],"tlsverify":true,
                "tlscacert":"/f/ca.pem","tlscert":"/f/cert.pem","tlskey":"/f/key.pem"}"#,
        )?;
        let flags = Flags::try_parse_from(["berthd"])?;
        let tls = tls_files(&flags, &file);
        assert_eq!(
            tls,
            Some(TlsFiles {
                cert: "/f/cert.pem".into(),
                key: "/f/key.pem".into(),
                client_ca: Some("/f/ca.pem".into()),
            })
        );
        assert_eq!(
            listeners(&file.hosts, tls.is_some())?,
            vec![
                ListenAddr::Unix("/tmp/f.sock".into()),
                ListenAddr::Tcp("127.0.0.1:2376".into())
            ]
        );
        let flags = Flags::try_parse_from([
            "berthd",
            "--tls",
            "--tlsverify=false",
            "--tlscert",
            "/c.pem",
            "-H",
            "tcp://0.0.0.0:9999",
            "-H",
            "unix:///x.sock",
        ])?;
        let tls = tls_files(&flags, &FileConfig::default());
        let tls = tls.ok_or_else(|| anyhow::anyhow!("--tls gave no TLS"))?;
        assert_eq!(tls.cert, PathBuf::from("/c.pem"));
        assert_eq!(tls.client_ca, None, "--tls alone does not verify clients");
        assert_eq!(flags.host.len(), 2);
        assert_eq!(
            listeners(&[], false)?,
            vec![ListenAddr::Unix(DEFAULT_SOCKET.into())]
        );
        Ok(())
    }

    #[test]
    fn default_ulimit_flags_replace_the_files_limit_of_the_same_name() -> anyhow::Result<()> {
        let file: FileConfig = serde_json::from_str(
            r#"{"default-ulimits":{"nofile":{"Name":"nofile","Soft":1,"Hard":2},"nproc":{"Soft":3,"Hard":4}}}"#,
        )?;
        let limits = default_ulimits(&["nofile=10:20".to_string()], &file.default_ulimits)?;
        let names: Vec<(&str, i64)> = limits.iter().map(|u| (u.name.as_str(), u.soft)).collect();
        assert_eq!(names, [("nproc", 3), ("nofile", 10)]);
        assert!(default_ulimits(&["nofile=5:1".to_string()], &HashMap::new()).is_err());
        Ok(())
    }

    #[test]
    fn registry_keys_reach_the_client_config() -> anyhow::Result<()> {
        let file: FileConfig = serde_json::from_str(
            r#"{"insecure-registries":["reg.local:5000"],"registry-mirrors":["https://m.example"],
                "max-concurrent-downloads":7,"max-concurrent-uploads":2}"#,
        )?;
        let cfg = file.registry()?;
        assert_eq!(cfg.insecure_registries, vec!["reg.local:5000".to_string()]);
        assert_eq!(cfg.mirrors, vec!["https://m.example".to_string()]);
        assert_eq!(cfg.max_concurrent_downloads, 7);
        assert_eq!(cfg.max_concurrent_uploads, 2);
        let defaults = FileConfig::default().registry()?;
        assert_eq!(defaults.max_concurrent_downloads, 3);
        assert_eq!(defaults.max_concurrent_uploads, 5);
        let zero: FileConfig = serde_json::from_str(r#"{"max-concurrent-downloads":0}"#)?;
        assert!(zero.registry().is_err());
        Ok(())
    }
}
