//! TLS for registry connections: the system CA store plus Docker-style per-registry CA
//! certificates in `<certs_dir>/<host[:port]>/*.crt`, client certificates for mutual TLS in
//! `<certs_dir>/<host[:port]>/*.cert` + `*.key`, and a no-verification mode for registries the
//! operator marked insecure.

use std::path::Path;
use std::sync::Arc;

use berth_tls::AcceptAnyServerCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The system's CA certificates (loaded once per client).
pub fn system_roots() -> Vec<CertificateDer<'static>> {
    let loaded = rustls_native_certs::load_native_certs();
    for e in &loaded.errors {
        tracing::warn!(error = %e, "loading a system CA certificate failed");
    }
    loaded.certs
}

/// The CA certificates in `<certs_dir>/<host>/*.crt`; unreadable files are logged and skipped.
pub fn registry_cas(certs_dir: &Path, host: &str) -> Vec<CertificateDer<'static>> {
    let dir = certs_dir.join(host);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "crt") {
            continue;
        }
        match CertificateDer::pem_file_iter(&p).and_then(|it| it.collect::<Result<Vec<_>, _>>()) {
            Ok(c) => out.extend(c),
            Err(err) => tracing::warn!(path = %p.display(), error = %err, "skipping CA file"),
        }
    }
    out
}

/// A certificate chain and its private key, presented to a registry that asks for one.
pub struct ClientIdentity {
    /// The chain, leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

/// Docker's client certificates: `<certs_dir>/<host>/NAME.cert` with its key `NAME.key`; the
/// first pair by file name is used. As in Docker, a `.cert` without its `.key` or a `.key`
/// without its `.cert` is an error (the message says what is missing); `Err` carries it.
pub fn registry_client_identity(
    certs_dir: &Path,
    host: &str,
) -> Result<Option<ClientIdentity>, String> {
    let dir = certs_dir.join(host);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut names: Vec<std::path::PathBuf> = rd.flatten().map(|e| e.path()).collect();
    names.sort();
    let mut first = None;
    for p in &names {
        match p.extension().and_then(|x| x.to_str()) {
            Some("cert") => {
                let key = p.with_extension("key");
                if !key.exists() {
                    return Err(format!(
                        "missing key {} for client certificate {}. CA certificates must use the extension .crt",
                        key.display(),
                        p.display()
                    ));
                }
                if first.is_none() {
                    first = Some((p.clone(), key));
                }
            }
            Some("key") if !p.with_extension("cert").exists() => {
                return Err(format!(
                    "missing client certificate {} for key {}",
                    p.with_extension("cert").display(),
                    p.display()
                ));
            }
            _ => {}
        }
    }
    let Some((cert, key)) = first else {
        return Ok(None);
    };
    let certs = CertificateDer::pem_file_iter(&cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("read {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("read {}: {e}", key.display()))?;
    Ok(Some(ClientIdentity { certs, key }))
}

/// A client configuration trusting `roots`, presenting `identity` when the server asks.
pub fn verifying_config(
    roots: impl IntoIterator<Item = CertificateDer<'static>>,
    identity: Option<ClientIdentity>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut store = rustls::RootCertStore::empty();
    for c in roots {
        if let Err(e) = store.add(c) {
            tracing::debug!(error = %e, "ignoring an unusable CA certificate");
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(berth_tls::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store);
    match identity {
        Some(id) => builder.with_client_auth_cert(id.certs, id.key),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// A client configuration that accepts any certificate (insecure registries only), presenting
/// `identity` when the server asks.
pub fn insecure_config(
    identity: Option<ClientIdentity>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let p = berth_tls::provider();
    let builder = rustls::ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(p)));
    match identity {
        Some(id) => builder.with_client_auth_cert(id.certs, id.key),
        None => Ok(builder.with_no_client_auth()),
    }
}
