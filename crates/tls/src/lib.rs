//! The rustls pieces every berth TLS end needs the same way: the API server and client
//! (`-H tcp://` with `--tls*`) and the registry server and client (certs.d, insecure registries)
//! pick one crypto provider, read PEM certificate files alike, and share the one verifier that
//! accepts any certificate, so none of them grows its own copy.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// The crypto provider berth's TLS ends use (ring), built explicitly so no process-wide default
/// has to be installed first.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file; a file with none is `NoItemsFound`, so callers can name the
/// file in their own error.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, pem::Error> {
    let certs = CertificateDer::pem_file_iter(path)?.collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(pem::Error::NoItemsFound);
    }
    Ok(certs)
}

/// Accepts any server certificate (the docker CLI's `--tls` without `--tlsverify`, registries
/// the operator marked insecure) but still checks handshake signatures, so the session keys
/// belong to the certificate presented.
#[derive(Debug)]
pub struct AcceptAnyServerCert(Arc<CryptoProvider>);

impl AcceptAnyServerCert {
    /// A verifier checking signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        AcceptAnyServerCert(provider)
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
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
