//! The daemon's core: containers (records, state machine, OCI specs, shims, logs, exec,
//! restart policies, live restore), images through the image store, and events. It speaks
//! no HTTP: berthd serves it through `berth_server` via the `berth_api` backend traits.

mod archive;
mod attach;
mod backend;
mod container;
mod container_config;
mod events;
mod exec;
mod health;
mod images;
mod lifecycle;
mod logs;
mod maintenance;
mod monitor;
mod names;
mod queries;
mod record;
mod registry;
mod restore;
mod shim_client;
mod signals;
mod spec;
mod stats;
mod status;
mod system;
mod top;
mod user;

pub use berth_distribution::ClientConfig as RegistryConfig;
pub use status::Status;

use crate::container::Container;
use crate::events::Events;
use crate::exec::ExecRecord;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where the engine keeps things and which helpers it runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Persistent data (`/var/lib/berth`): image store, containers.
    pub data_root: PathBuf,
    /// Runtime state (`/run/berth`): shims, runtime state.
    pub exec_root: PathBuf,
    /// The `berth-shim` binary.
    pub shim_binary: PathBuf,
    /// A host binary used for `--init` (Debian's tini-static), if installed.
    pub init_binary: Option<PathBuf>,
    /// Default json-file options (`max-size`, `max-file`) from daemon.json `log-opts`.
    pub log_opts: HashMap<String, String>,
    /// How the shared registry client reaches registries (daemon.json `insecure-registries`,
    /// `registry-mirrors`, `max-concurrent-downloads`, `max-concurrent-uploads`).
    pub registry: RegistryConfig,
    /// Ulimits applied to containers that do not set the same limit themselves (daemon.json
    /// `default-ulimits`, `--default-ulimit`), merged at start as dockerd does (inspect keeps
    /// showing only the container's own).
    pub default_ulimits: Vec<berth_api::config::Ulimit>,
}

impl EngineConfig {
    /// A configuration with Docker-like defaults under the given roots; the shim is looked up
    /// next to the current executable, then in PATH.
    pub fn new(data_root: PathBuf, exec_root: PathBuf) -> EngineConfig {
        EngineConfig {
            data_root,
            exec_root,
            shim_binary: find_beside_self("berth-shim"),
            init_binary: [
                "/usr/bin/tini-static",
                "/usr/bin/tini",
                "/usr/libexec/podman/catatonit",
                "/usr/bin/catatonit",
            ]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists()),
            log_opts: HashMap::new(),
            registry: RegistryConfig::default(),
            default_ulimits: Vec::new(),
        }
    }
}

fn find_beside_self(name: &str) -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let p = dir.join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// Why the engine could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A directory could not be created or read.
    #[error("preparing {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The image store refused to open.
    #[error("opening the image store: {0}")]
    Images(String),
}

impl OpenError {
    /// The error's kind.
    pub fn kind(&self) -> berth_api::ErrorKind {
        berth_api::ErrorKind::Internal
    }
}

/// The engine; cheap to clone (shared state).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: EngineConfig,
    containers: Mutex<names::Index>,
    images: images::Images,
    registry: berth_distribution::Client,
    events: Events,
    execs: Mutex<HashMap<String, Arc<ExecRecord>>>,
}

impl Engine {
    /// Opens the engine: directories, image store, container records; then re-adopts live
    /// shims, collects exits that happened while the daemon was down and applies restart
    /// policies (live restore).
    pub async fn open(cfg: EngineConfig) -> Result<Engine, OpenError> {
        for dir in [
            cfg.data_root.join("containers"),
            cfg.exec_root.join("shims"),
            cfg.exec_root.join("runtime"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| OpenError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let images = images::Images::open(&cfg.data_root).await?;
        let registry = berth_distribution::Client::new(cfg.registry.clone());
        let engine = Engine {
            inner: Arc::new(Inner {
                cfg,
                registry,
                containers: Mutex::new(names::Index::default()),
                images,
                events: Events::default(),
                execs: Mutex::new(HashMap::new()),
            }),
        };
        engine.restore().await;
        Ok(engine)
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.inner.cfg.data_root.join("containers").join(id)
    }

    fn shim_dir(&self, id: &str) -> PathBuf {
        self.inner.cfg.exec_root.join("shims").join(id)
    }

    fn runtime_root(&self) -> PathBuf {
        self.inner.cfg.exec_root.join("runtime")
    }

    fn lookup(&self, name_or_id: &str) -> berth_api::ApiResult<Arc<Container>> {
        let index = self
            .inner
            .containers
            .lock()
            .map_err(|_| berth_api::ApiError::internal("container index poisoned"))?;
        index
            .find(name_or_id)
            .ok_or_else(|| berth_api::ApiError::no_such_container(name_or_id))
    }

    fn all_containers(&self) -> Vec<Arc<Container>> {
        self.inner
            .containers
            .lock()
            .map(|i| i.all())
            .unwrap_or_default()
    }
}
