//! Test fixtures for this crate's tests and other crates' (feature `testing`): a bundle with a
//! busybox root filesystem and a Docker-like spec, removed with everything it made on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use oci_spec::runtime::{Capability, LinuxCapabilitiesBuilder, Spec};

use crate::Runtime;
use crate::cgroups::{Cgroup, Layout};

/// A bundle in a temp dir (`bundle/config.json`, `bundle/rootfs`) plus a private state root.
///
/// Dropping it force-deletes the container (if any), removes its cgroup and the temp dir.
pub struct TestBundle {
    dir: tempfile::TempDir,
    /// A unique container id for this bundle.
    pub id: String,
    /// The unique cgroup path written in the spec.
    pub cgroup_path: String,
    /// The spec; call [`TestBundle::save`] after changing it.
    pub spec: Spec,
}

/// Makes names unique within one process; the pid makes them unique across processes.
static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestBundle {
    /// Builds a busybox rootfs with `scripts/busybox-rootfs.sh` and a Docker-like spec running `args`.
    pub fn new(args: &[&str]) -> std::io::Result<TestBundle> {
        let dir = tempfile::Builder::new().prefix("berth-bundle-").tempdir()?;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let unique = format!("{}-{}", std::process::id(), n);
        let id = format!("berth-test-{unique}");
        let cgroup_path = format!("/berth-test-{unique}");
        let rootfs = dir.path().join("rootfs");
        let status = std::process::Command::new("sh")
            .arg(busybox_script())
            .arg(&rootfs)
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "busybox-rootfs.sh failed: {status}"
            )));
        }
        let spec = docker_like_spec(args, &cgroup_path)?;
        let bundle = TestBundle {
            dir,
            id,
            cgroup_path,
            spec,
        };
        bundle.save()?;
        Ok(bundle)
    }

    /// The bundle directory.
    pub fn bundle(&self) -> &Path {
        self.dir.path()
    }

    /// The root filesystem inside the bundle.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// A state root private to this bundle.
    pub fn state_root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A runtime using [`TestBundle::state_root`].
    pub fn runtime(&self) -> Runtime {
        Runtime::new(self.state_root())
    }

    /// Writes `spec` to config.json.
    pub fn save(&self) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(&self.spec).map_err(std::io::Error::other)?;
        std::fs::write(self.dir.path().join("config.json"), text)
    }

    /// The process section, for tweaks (args, env, cwd, user, terminal).
    pub fn process_mut(&mut self) -> &mut oci_spec::runtime::Process {
        self.spec.process_mut().get_or_insert_with(Default::default)
    }

    /// The linux section, for tweaks (resources, namespaces, maps).
    pub fn linux_mut(&mut self) -> &mut oci_spec::runtime::Linux {
        self.spec.linux_mut().get_or_insert_with(Default::default)
    }
}

impl Drop for TestBundle {
    fn drop(&mut self) {
        let _ = self.runtime().delete(&self.id, true);
        if let Ok(layout) = Layout::detect() {
            let _ = Cgroup::new(layout, &self.cgroup_path).destroy();
        }
    }
}

/// scripts/busybox-rootfs.sh of this workspace.
fn busybox_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/busybox-rootfs.sh")
}

/// Docker's default spec (mounts, masked and read-only paths, 14 capabilities, default seccomp
/// profile, device rules) running `args`, with hostname "berth-test" and `cgroup_path`.
pub fn docker_like_spec(args: &[&str], cgroup_path: &str) -> std::io::Result<Spec> {
    let value = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=berth-test"],
            "cwd": "/",
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "berth-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
        ],
        "linux": {
            "cgroupsPath": cgroup_path,
            "resources": {"devices": [
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rwm"},
            ]},
            "namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    });
    let mut spec: Spec = serde_json::from_value(value).map_err(std::io::Error::other)?;
    let caps: Vec<Capability> = crate::capabilities::docker_default();
    let set: std::collections::HashSet<Capability> = caps.iter().copied().collect();
    let linux_caps = LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set)
        .inheritable(std::collections::HashSet::new())
        .ambient(std::collections::HashSet::new())
        .build()
        .map_err(std::io::Error::other)?;
    if let Some(p) = spec.process_mut() {
        p.set_capabilities(Some(linux_caps));
    }
    if let Some(l) = spec.linux_mut() {
        l.set_seccomp(Some(crate::seccomp::docker_default_profile(&caps)));
    }
    Ok(spec)
}
