//! `docker version` and `docker info` as the engine sees itself.

use crate::Engine;
use crate::status::Status;
use berth_api::system::{ComponentVersion, PlatformName, SystemInfo, SystemVersion};
use berth_api::{ApiResult, CURRENT_API_VERSION, MIN_API_VERSION};

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

impl Engine {
    /// The daemon's version record.
    pub async fn version(&self) -> ApiResult<SystemVersion> {
        let version = env!("CARGO_PKG_VERSION").to_string();
        Ok(SystemVersion {
            platform: PlatformName {
                name: "berth".into(),
            },
            components: vec![ComponentVersion {
                name: "Engine".into(),
                version: version.clone(),
                details: Default::default(),
            }],
            version,
            api_version: CURRENT_API_VERSION.to_string(),
            min_api_version: MIN_API_VERSION.to_string(),
            git_commit: String::new(),
            go_version: "n/a (Rust)".into(),
            os: "linux".into(),
            arch: std::env::consts::ARCH
                .replace("x86_64", "amd64")
                .replace("aarch64", "arm64"),
            kernel_version: kernel_version(),
            experimental: false,
            build_time: String::new(),
        })
    }

    /// The daemon's info record.
    pub async fn info(&self) -> ApiResult<SystemInfo> {
        let (mut running, mut paused, mut stopped) = (0, 0, 0);
        let all = self.all_containers();
        for c in &all {
            match c.snapshot().status {
                Status::Running | Status::Restarting => running += 1,
                Status::Paused => paused += 1,
                _ => stopped += 1,
            }
        }
        let images = self.inner.images.count().await;
        Ok(SystemInfo {
            id: String::new(),
            containers: all.len() as i64,
            containers_running: running,
            containers_paused: paused,
            containers_stopped: stopped,
            images,
            driver: "overlay2".into(),
            memory_limit: true,
            swap_limit: true,
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            pids_limit: true,
            oom_kill_disable: true,
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
                "2"
            } else {
                "1"
            }
            .into(),
            kernel_version: kernel_version(),
            operating_system: "linux".into(),
            os_type: "linux".into(),
            architecture: std::env::consts::ARCH.into(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            docker_root_dir: self.inner.cfg.data_root.display().to_string(),
            name: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_string(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            default_runtime: "berth".into(),
            live_restore_enabled: true,
            init_binary: self
                .inner
                .cfg
                .init_binary
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            security_options: vec!["name=seccomp,profile=builtin".into()],
            system_time: berth_shim::timestamp::now(),
            ..Default::default()
        })
    }
}
