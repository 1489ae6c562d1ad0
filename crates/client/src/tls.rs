//! TLS to a daemon on `tcp://`, with the docker CLI's semantics: `--tlsverify` checks the daemon's
//! certificate against `--tlscacert`; `--tls` alone encrypts without checking who answers; a client
//! certificate is presented when its files exist.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_tls::AcceptAnyServerCert;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::error::ClientError;

/// The client's TLS choices once flags, environment and defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Check the daemon's certificate against `ca` (`--tlsverify`).
    pub verify: bool,
    /// The CA bundle trusted with `verify`.
    pub ca: PathBuf,
    /// Client certificate and key, when both are present.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// TLS choices from the command line; `None` means the flag was not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFlags {
    /// `--tls`.
    pub tls: bool,
    /// `--tlsverify` (`DOCKER_TLS_VERIFY` when absent).
    pub tlsverify: Option<bool>,
    /// `--tlscacert`.
    pub cacert: Option<PathBuf>,
    /// `--tlscert`.
    pub cert: Option<PathBuf>,
    /// `--tlskey`.
    pub key: Option<PathBuf>,
}

impl TlsFlags {
    /// Applies the docker CLI's rules: `--tlsverify` (or `DOCKER_TLS_VERIFY`) implies TLS; files default
    /// to `$DOCKER_CERT_PATH` or `~/.docker`; default cert/key files that do not exist are skipped.
    pub fn settings(&self) -> Option<TlsSettings> {
        let env_verify = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
        let verify = self.tlsverify.unwrap_or(env_verify);
        if !(self.tls || verify) {
            return None;
        }
        let dir = cert_dir();
        let given_or_existing = |flag: &Option<PathBuf>, name: &str| match flag {
            Some(p) => Some(p.clone()),
            None => Some(dir.join(name)).filter(|p| p.exists()),
        };
        let identity =
            given_or_existing(&self.cert, "cert.pem").zip(given_or_existing(&self.key, "key.pem"));
        Some(TlsSettings {
            verify,
            ca: self.cacert.clone().unwrap_or_else(|| dir.join("ca.pem")),
            identity,
        })
    }
}

/// `$DOCKER_CERT_PATH`, else `~/.docker`.
fn cert_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CERT_PATH").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".docker")
}

fn pem_error(path: &Path) -> impl FnOnce(rustls::pki_types::pem::Error) -> ClientError {
    let path = path.to_path_buf();
    move |source| ClientError::TlsFile { path, source }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    berth_tls::load_certs(path).map_err(pem_error(path))
}

fn setup_error(source: rustls::Error) -> ClientError {
    ClientError::TlsSetup { source }
}

/// Builds the rustls client configuration for `settings` (HTTP/1.1 only).
pub fn client_config(settings: &TlsSettings) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let builder = rustls::ClientConfig::builder_with_provider(berth_tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(setup_error)?;
    let builder = if settings.verify {
        let mut roots = RootCertStore::empty();
        for cert in load_certs(&settings.ca)? {
            roots.add(cert).map_err(setup_error)?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(
                berth_tls::provider(),
            )))
    };
    let mut config = match &settings.identity {
        Some((cert, key)) => {
            let chain = load_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error(key))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(setup_error)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The name the daemon's certificate must carry: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, ClientError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| ClientError::UnsupportedHost {
        host: host.to_string(),
        reason: "not a valid TLS server name".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tls_unless_asked() {
        if std::env::var_os("DOCKER_TLS_VERIFY").is_some() {
            return;
        }
        assert_eq!(TlsFlags::default().settings(), None);
        let s = TlsFlags {
            tlsverify: Some(true),
            cacert: Some("/x/ca.pem".into()),
            cert: Some("/x/cert.pem".into()),
            key: Some("/x/key.pem".into()),
            ..TlsFlags::default()
        }
        .settings()
        .unwrap();
        assert!(s.verify);
        assert_eq!(s.ca, PathBuf::from("/x/ca.pem"));
        assert_eq!(
            s.identity,
            Some(("/x/cert.pem".into(), "/x/key.pem".into()))
        );
        let plain = TlsFlags {
            tls: true,
            tlsverify: Some(false),
            ..TlsFlags::default()
        }
        .settings()
        .unwrap();
        assert!(!plain.verify);
    }

    #[test]
    fn server_names_for_ips_and_dns() {
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("docker.example").unwrap(),
            ServerName::DnsName(_)
        ));
    }
}
