//! berthd's flags, merged with daemon.json (Docker's keys where they mean the same; flags win).

use berth_engine::RegistryConfig;
use clap::Parser;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berthd",
    version,
    about = "The berth daemon: the Docker Engine API on a unix socket"
)]
struct Flags {
    /// Socket to listen on (unix:///path).
    #[arg(short = 'H', long = "host")]
    host: Option<String>,
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
    log_level: Option<String>,
    log_driver: Option<String>,
    log_opts: HashMap<String, String>,
    pidfile: Option<PathBuf>,
    live_restore: Option<bool>,
    default_ulimits: Option<serde_json::Value>,
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
    /// The socket path.
    pub socket: PathBuf,
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
        let _ = (&file.live_restore, &file.default_ulimits);
        let registry = file.registry()?;
        let exec_root = flags
            .exec_root
            .or(file.exec_root)
            .unwrap_or_else(|| PathBuf::from("/run/berth"));
        let host = flags.host.or_else(|| file.hosts.first().cloned());
        let socket = match host {
            Some(h) => PathBuf::from(
                h.strip_prefix("unix://")
                    .ok_or_else(|| anyhow::anyhow!("only unix:// hosts are supported: {h}"))?,
            ),
            None => PathBuf::from("/run/berth/berth.sock"),
        };
        Ok(Options {
            socket,
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

#[cfg(test)]
mod tests {
    use super::*;

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
