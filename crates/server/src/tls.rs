//! TLS for the TCP API listeners, as dockerd's `--tls`/`--tlsverify`: a rustls server config from PEM files
//! (client certificates required and checked against the CA with `--tlsverify`), and a listener whose
//! connections do their handshake on the connection's own task, so one slow client never stalls accepting.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::serve::Listener;

/// The PEM files of a TLS listener (dockerd's `--tlscert`, `--tlskey`, `--tlscacert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// With `--tlsverify`: the CA that must have signed every client's certificate; `None` accepts
    /// clients without certificates (`--tls` alone).
    pub client_ca: Option<PathBuf>,
}

/// Why a TLS listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("could not load {what} from {path}: {source}")]
    Pem {
        /// What the file should hold ("certificate", "private key", "CA certificate").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The parse or read error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A CA certificate was rejected as a trust anchor.
    #[error("invalid CA certificate in {path}: {source}")]
    BadCa {
        /// The CA file.
        path: PathBuf,
        /// Why it was rejected.
        #[source]
        source: rustls::Error,
    },
    /// The client verifier could not be built (an empty CA file, for instance).
    #[error("invalid CA certificates in {path}: {source}")]
    Verifier {
        /// The CA file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// The certificate and key do not form a usable server identity.
    #[error("invalid certificate/key pair {cert}: {source}")]
    Identity {
        /// The certificate file.
        cert: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
}

impl TlsError {
    /// Every TLS set-up failure is a configuration mistake of the caller.
    pub fn kind(&self) -> berth_api::ErrorKind {
        berth_api::ErrorKind::InvalidArgument
    }
}

fn pem_error(
    what: &'static str,
    path: &Path,
) -> impl FnOnce(rustls::pki_types::pem::Error) -> TlsError {
    let path = path.to_path_buf();
    move |source| TlsError::Pem { what, path, source }
}

/// Reads every certificate of a PEM file; an empty file is an error.
fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    berth_tls::load_certs(path).map_err(pem_error(what, path))
}

/// Builds the server side of TLS from PEM files: HTTP/1.1 only, client certificates required when
/// `files.client_ca` is set.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = load_certs("certificate", &files.cert)?;
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(pem_error("private key", &files.key))?;
    let builder = rustls::ServerConfig::builder_with_provider(berth_tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Identity {
            cert: files.cert.clone(),
            source,
        })?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs("CA certificate", ca)? {
                roots.add(cert).map_err(|source| TlsError::BadCa {
                    path: ca.clone(),
                    source,
                })?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), berth_tls::provider())
                    .build()
                    .map_err(|source| TlsError::Verifier {
                        path: ca.clone(),
                        source,
                    })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::Identity {
            cert: files.cert.clone(),
            source,
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener whose connections speak TLS.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    /// Wraps a bound TCP listener.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
        }
    }
}

impl Listener for TlsListener {
    type Io = TlsConnection;
    async fn accept_io(&self) -> io::Result<Self::Io> {
        let (io, _) = self.tcp.accept().await?;
        io.set_nodelay(true)?;
        Ok(TlsConnection::Handshaking(Box::new(
            self.acceptor.accept(io),
        )))
    }
}

/// A server-side TLS connection that finishes its handshake on first use.
pub enum TlsConnection {
    /// The handshake is under way.
    Handshaking(Box<tokio_rustls::Accept<TcpStream>>),
    /// Ready for application data.
    Ready(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// The handshake failed; every later use fails.
    Failed,
}

impl TlsConnection {
    /// Drives the handshake; yields the stream once it is done.
    fn poll_stream(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&mut tokio_rustls::server::TlsStream<TcpStream>>> {
        if let TlsConnection::Handshaking(accept) = self {
            match ready!(Pin::new(accept).poll(cx)) {
                Ok(stream) => *self = TlsConnection::Ready(Box::new(stream)),
                Err(e) => {
                    tracing::debug!(error = %e, "TLS handshake with an API client failed");
                    *self = TlsConnection::Failed;
                    return Poll::Ready(Err(e));
                }
            }
        }
        match self {
            TlsConnection::Ready(stream) => Poll::Ready(Ok(stream)),
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "TLS handshake failed",
            ))),
        }
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_stream(cx))?;
        Pin::new(stream).poll_shutdown(cx)
    }
}
