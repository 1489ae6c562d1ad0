//! The registry client: pulls images into berth's image store and pushes them back out,
//! with Docker's auth (config.json, credential helpers, bearer tokens), TLS trust and
//! progress events.

pub mod credentials;
pub mod error;
mod fetch;
pub mod progress;
mod pull;
mod push;
mod tls;
pub mod transport;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::pki_types::CertificateDer;

pub use credentials::{AuthConfig, CredentialsError, DockerConfig};
pub use error::ClientError;
pub use progress::{LayerEvent, Progress, ProgressSink};
pub use pull::{FetchedManifest, PullOptions, PullOutcome};
pub use push::{BlobPushed, BlobSource, PushOptions, PushOutcome};

/// Where per-registry CA certificates live by default (as Docker's `/etc/docker/certs.d`).
pub const DEFAULT_CERTS_DIR: &str = "/etc/berth/certs.d";

/// How the client reaches registries; the daemon fills it from daemon.json.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `<certs_dir>/<host[:port]>/*.crt` are trusted for that registry.
    pub certs_dir: PathBuf,
    /// Registries reached over plain HTTP or unverified TLS (`host[:port]`), besides loopback.
    pub insecure_registries: Vec<String>,
    /// Mirrors tried first for Docker Hub pulls (`https://mirror.example`).
    pub mirrors: Vec<String>,
    /// The docker CLI config holding credentials; `None` disables the lookup.
    pub docker_config: Option<PathBuf>,
    /// Layers downloaded at once.
    pub max_concurrent_downloads: usize,
    /// Layers uploaded at once.
    pub max_concurrent_uploads: usize,
    /// How often a broken blob transfer is retried.
    pub max_retries: u32,
    /// Upload blobs in PATCH chunks of this size; `None` uploads each blob in one PUT.
    pub upload_chunk_size: Option<u64>,
    /// The `User-Agent` sent.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            certs_dir: PathBuf::from(DEFAULT_CERTS_DIR),
            insecure_registries: Vec::new(),
            mirrors: Vec::new(),
            docker_config: credentials::default_docker_config_path(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            max_retries: 5,
            upload_chunk_size: None,
            user_agent: format!("berth/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A registry client; cheap to clone, share one per daemon (it caches endpoints and tokens).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    system_roots: Vec<CertificateDer<'static>>,
    http: Mutex<HashMap<String, reqwest::Client>>,
    endpoints: Mutex<HashMap<String, transport::Endpoint>>,
    tokens: Mutex<HashMap<String, transport::Token>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with `config`; loads the system CA store once.
    pub fn new(config: ClientConfig) -> Client {
        Client {
            inner: Arc::new(Inner {
                config,
                system_roots: tls::system_roots(),
                http: Mutex::new(HashMap::new()),
                endpoints: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Forgets cached endpoints and tokens (after a login, or when a registry changed).
    pub fn clear_cache(&self) {
        self.inner
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Runs blocking image-store work off the async workers.
pub(crate) async fn blocking<T: Send + 'static, E: Into<ClientError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Task(e.to_string()))?
        .map_err(Into::into)
}
