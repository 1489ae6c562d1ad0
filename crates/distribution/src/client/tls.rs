//! TLS trust for registry connections: the system CA store plus Docker-style per-registry CA
//! certificates in `<certs_dir>/<host[:port]>/*.crt`, and a no-verification mode for
//! registries the operator marked insecure.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

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

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration trusting `roots`.
pub fn verifying_config(
    roots: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut store = rustls::RootCertStore::empty();
    for c in roots {
        if let Err(e) = store.add(c) {
            tracing::debug!(error = %e, "ignoring an unusable CA certificate");
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth())
}

/// A client configuration that accepts any certificate (insecure registries only).
pub fn insecure_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let p = provider();
    Ok(rustls::ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(p)))
        .with_no_client_auth())
}

/// Accepts every server certificate but still checks handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
