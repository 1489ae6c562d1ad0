//! Builds a container's OCI runtime spec the way Docker does: default mounts, masked and
//! read-only paths, the 14 default capabilities with CapAdd/CapDrop, seccomp, resources from
//! HostConfig, user binds and tmpfs mounts, namespaces by network mode, cgroupsPath.

use crate::record::ContainerRecord;
use crate::user;
use berth_api::config::{HostConfig, MountType, Ulimit};
use oci_spec::runtime::{Capability, Spec};
use serde_json::{Value, json};
use std::path::Path;

/// Why a spec could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The request is contradictory or names something unknown.
    #[error("{0}")]
    Invalid(String),
    /// The User could not be resolved in the image.
    #[error(transparent)]
    User(#[from] user::UserError),
    /// The generated JSON did not form a valid spec (a bug).
    #[error("building the OCI spec: {0}")]
    Internal(String),
}

/// Inputs besides the record.
pub struct SpecInputs<'a> {
    /// The container.
    pub record: &'a ContainerRecord,
    /// The mounted root filesystem.
    pub rootfs: &'a Path,
    /// `containers/<id>/` holding hostname, hosts and resolv.conf.
    pub container_dir: &'a Path,
    /// linux.cgroupsPath.
    pub cgroups_path: String,
    /// A host binary to use as `--init` (tini), when one exists.
    pub init_binary: Option<&'a Path>,
    /// The daemon's default ulimits, for limits the container does not set itself.
    pub default_ulimits: &'a [Ulimit],
}

/// The result: a spec, and warnings for the user (capabilities the host lacks).
pub struct BuiltSpec {
    /// The spec to write as config.json.
    pub spec: Spec,
    /// Things the user asked for that this host cannot give.
    pub warnings: Vec<String>,
}

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's default PATH when the image sets none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the spec.
pub fn build(inputs: &SpecInputs<'_>) -> Result<BuiltSpec, SpecError> {
    let r = inputs.record;
    let hc = &r.host_config;
    let privileged = hc.privileged.unwrap_or(false);
    let (caps, warnings) = capabilities(hc, privileged)?;
    let cap_names: Vec<Value> = caps.iter().map(|c| json!(format!("CAP_{c}"))).collect();
    let user = user::resolve(
        inputs.rootfs,
        r.config.user.as_deref().unwrap_or(""),
        hc.group_add.as_deref().unwrap_or(&[]),
    )?;
    let mut args = vec![r.path.clone()];
    args.extend(r.args.iter().cloned());
    let mut mounts = default_mounts(hc);
    mounts.extend(container_files(inputs.container_dir));
    mounts.extend(user_mounts(hc)?);
    if hc.init.unwrap_or(false) {
        let Some(init) = inputs.init_binary else {
            return Err(SpecError::Invalid(
                "--init is not available: install Debian's tini (tini-static) on the host".into(),
            ));
        };
        mounts.push(json!({"destination": "/sbin/docker-init", "type": "bind", "source": init, "options": ["rbind", "ro"]}));
        args.splice(0..0, ["/sbin/docker-init".to_string(), "--".to_string()]);
    }
    let mut linux = json!({
        "namespaces": namespaces(hc),
        "cgroupsPath": inputs.cgroups_path,
        "resources": resources(hc),
        "sysctl": hc.sysctls.clone().unwrap_or_default(),
    });
    if !privileged {
        linux["maskedPaths"] = json!(
            hc.masked_paths
                .clone()
                .unwrap_or_else(|| strs(MASKED_PATHS))
        );
        linux["readonlyPaths"] = json!(
            hc.readonly_paths
                .clone()
                .unwrap_or_else(|| strs(READONLY_PATHS))
        );
        if !seccomp_unconfined(hc) {
            let profile = seccomp_profile(hc, &caps)?;
            linux["seccomp"] = profile;
        }
    }
    let spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": r.tty(),
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args,
            "env": environment(r, &user.home),
            "cwd": r.config.working_dir.as_deref().filter(|w| !w.is_empty()).unwrap_or("/"),
            "capabilities": {"bounding": cap_names, "effective": cap_names, "permitted": cap_names},
            "rlimits": rlimits(hc, inputs.default_ulimits),
            "noNewPrivileges": no_new_privileges(hc),
            "oomScoreAdj": hc.oom_score_adj.unwrap_or(0),
        },
        "root": {"path": inputs.rootfs, "readonly": hc.readonly_rootfs.unwrap_or(false)},
        "hostname": r.config.hostname.clone().unwrap_or_default(),
        "domainname": r.config.domainname.clone().unwrap_or_default(),
        "mounts": mounts,
        "linux": linux,
    });
    let mut spec = spec;
    if let Some(size) = console_size(r.tty(), hc.console_size.as_deref()) {
        spec["process"]["consoleSize"] = size;
    }
    let spec: Spec =
        serde_json::from_value(spec).map_err(|e| SpecError::Internal(e.to_string()))?;
    Ok(BuiltSpec { spec, warnings })
}

/// The terminal's initial size (`ConsoleSize` is `[height, width]`), so the first program
/// sees the client's size before any resize request arrives.
pub fn console_size(tty: bool, size: Option<&[u32]>) -> Option<Value> {
    match size {
        Some([h, w]) if tty && *h > 0 && *w > 0 => Some(json!({"height": h, "width": w})),
        _ => None,
    }
}

fn strs(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// The process environment: image + request (merged at create), HOSTNAME, PATH, TERM, HOME.
fn environment(r: &ContainerRecord, home: &str) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: String| {
        let key = kv.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    };
    set(DEFAULT_PATH.to_string());
    set(format!(
        "HOSTNAME={}",
        r.config.hostname.clone().unwrap_or_default()
    ));
    if r.tty() {
        set("TERM=xterm".to_string());
    }
    for kv in r.config.env.iter().flatten() {
        set(kv.clone());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    env
}

fn default_mounts(hc: &HostConfig) -> Vec<Value> {
    let shm = hc.shm_size.filter(|s| *s > 0).unwrap_or(64 << 20);
    let sys_opts = if hc.privileged.unwrap_or(false) {
        json!(["nosuid", "noexec", "nodev"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]}),
    ]
}

fn container_files(dir: &Path) -> Vec<Value> {
    ["resolv.conf", "hostname", "hosts"]
        .iter()
        .map(|f| json!({"destination": format!("/etc/{f}"), "type": "bind", "source": dir.join(f), "options": ["rbind", "rprivate"]}))
        .collect()
}

/// Binds (`src:dst[:ro]`), Mounts of type bind/tmpfs, and Tmpfs.
fn user_mounts(hc: &HostConfig) -> Result<Vec<Value>, SpecError> {
    let mut out = Vec::new();
    for b in hc.binds.iter().flatten() {
        let parts: Vec<&str> = b.split(':').collect();
        let (src, dst, mode) = match parts.as_slice() {
            [s, d] => (*s, *d, ""),
            [s, d, m] => (*s, *d, *m),
            _ => {
                return Err(SpecError::Invalid(format!(
                    "invalid volume specification: '{b}'"
                )));
            }
        };
        if !src.starts_with('/') {
            return Err(SpecError::Invalid(format!(
                "named volumes are not supported yet: '{b}'"
            )));
        }
        let mut opts = vec!["rbind".to_string()];
        opts.extend(
            mode.split(',')
                .filter(|m| matches!(*m, "ro" | "rw"))
                .map(String::from),
        );
        out.push(json!({"destination": dst, "type": "bind", "source": src, "options": opts}));
    }
    for m in hc.mounts.iter().flatten() {
        match m.kind {
            MountType::Bind => {
                let mut opts = vec!["rbind"];
                if m.read_only {
                    opts.push("ro");
                }
                out.push(json!({"destination": m.target, "type": "bind", "source": m.source, "options": opts}));
            }
            MountType::Tmpfs => {
                let mut opts = vec!["nosuid".to_string(), "nodev".to_string()];
                if let Some(t) = &m.tmpfs_options {
                    if let Some(size) = t.size_bytes {
                        opts.push(format!("size={size}"));
                    }
                    if let Some(mode) = t.mode {
                        opts.push(format!("mode={mode:o}"));
                    }
                }
                out.push(json!({"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": opts}));
            }
            _ => {
                return Err(SpecError::Invalid(format!(
                    "mount type {:?} is not supported yet",
                    m.kind
                )));
            }
        }
    }
    for (dst, opts) in hc.tmpfs.iter().flatten() {
        let mut o = vec![
            "nosuid".to_string(),
            "nodev".to_string(),
            "noexec".to_string(),
        ];
        o.extend(opts.split(',').filter(|s| !s.is_empty()).map(String::from));
        out.push(json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": o}));
    }
    Ok(out)
}

fn namespaces(hc: &HostConfig) -> Vec<Value> {
    let mut ns = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if hc.network_mode.as_deref() != Some("host") {
        ns.push(json!({"type": "network"}));
    }
    if hc.pid_mode.as_deref() == Some("host") {
        ns.retain(|n| n["type"] != "pid");
    }
    if hc.ipc_mode.as_deref() == Some("host") {
        ns.retain(|n| n["type"] != "ipc");
    }
    if hc.uts_mode.as_deref() == Some("host") {
        ns.retain(|n| n["type"] != "uts");
    }
    ns
}

/// linux.resources for a host config (also used by `docker update` on a running container).
pub fn resources(hc: &HostConfig) -> Value {
    let r = &hc.resources;
    let mut memory = serde_json::Map::new();
    if let Some(m) = r.memory.filter(|m| *m > 0) {
        memory.insert("limit".into(), json!(m));
        let swap = match r.memory_swap {
            Some(-1) => -1,
            Some(s) if s > 0 => s,
            _ => m * 2,
        };
        memory.insert("swap".into(), json!(swap));
    }
    if let Some(res) = r.memory_reservation.filter(|m| *m > 0) {
        memory.insert("reservation".into(), json!(res));
    }
    if let Some(d) = r.oom_kill_disable {
        memory.insert("disableOOMKiller".into(), json!(d));
    }
    let mut cpu = serde_json::Map::new();
    if let Some(s) = r.cpu_shares.filter(|s| *s > 0) {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(n) = r.nano_cpus.filter(|n| *n > 0) {
        cpu.insert("period".into(), json!(100_000));
        cpu.insert("quota".into(), json!(n * 100_000 / 1_000_000_000));
    }
    if let Some(q) = r.cpu_quota.filter(|q| *q > 0) {
        cpu.insert("quota".into(), json!(q));
    }
    if let Some(p) = r.cpu_period.filter(|p| *p > 0) {
        cpu.insert("period".into(), json!(p));
    }
    if let Some(c) = r.cpuset_cpus.as_ref().filter(|c| !c.is_empty()) {
        cpu.insert("cpus".into(), json!(c));
    }
    if let Some(m) = r.cpuset_mems.as_ref().filter(|c| !c.is_empty()) {
        cpu.insert("mems".into(), json!(m));
    }
    let mut out = json!({"devices": device_rules(hc.privileged.unwrap_or(false))});
    if !memory.is_empty() {
        out["memory"] = Value::Object(memory);
    }
    if !cpu.is_empty() {
        out["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = r.pids_limit.filter(|p| *p != 0) {
        out["pids"] = json!({"limit": p});
    }
    if let Some(w) = r.blkio_weight.filter(|w| *w > 0) {
        out["blockIO"] = json!({"weight": w});
    }
    out
}

/// Docker's default device cgroup: deny everything but the standard character devices.
fn device_rules(privileged: bool) -> Value {
    if privileged {
        return json!([{"allow": true, "access": "rwm"}]);
    }
    let mut rules = vec![json!({"allow": false, "access": "rwm"})];
    for (kind, major, minor) in [("c", -1, -1), ("b", -1, -1)] {
        rules.push(
            json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": "m"}),
        );
    }
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
        (136, -1),
        (10, 200),
    ] {
        let mut rule = json!({"allow": true, "type": "c", "major": major, "access": "rwm"});
        if minor >= 0 {
            rule["minor"] = json!(minor);
        }
        rules.push(rule);
    }
    for r in &mut rules {
        if r["major"] == -1 {
            r.as_object_mut().map(|o| o.remove("major"));
        }
        if r["minor"] == -1 {
            r.as_object_mut().map(|o| o.remove("minor"));
        }
    }
    Value::Array(rules)
}

/// The container's ulimits, then the daemon's defaults for names the container does not set.
fn rlimits(hc: &HostConfig, defaults: &[Ulimit]) -> Vec<Value> {
    let own = hc.resources.ulimits.as_deref().unwrap_or_default();
    let inherited = defaults
        .iter()
        .filter(|d| !own.iter().any(|u| u.name == d.name));
    own.iter()
        .chain(inherited)
        .map(|u| json!({"type": format!("RLIMIT_{}", u.name.to_uppercase()), "soft": u.soft, "hard": u.hard}))
        .collect()
}

fn security_opts(hc: &HostConfig) -> impl Iterator<Item = &str> {
    hc.security_opt.iter().flatten().map(String::as_str)
}

fn no_new_privileges(hc: &HostConfig) -> bool {
    security_opts(hc).any(|o| {
        matches!(
            o,
            "no-new-privileges" | "no-new-privileges=true" | "no-new-privileges:true"
        )
    })
}

fn seccomp_unconfined(hc: &HostConfig) -> bool {
    security_opts(hc).any(|o| matches!(o, "seccomp=unconfined" | "seccomp:unconfined"))
}

fn seccomp_profile(hc: &HostConfig, caps: &[Capability]) -> Result<Value, SpecError> {
    let file = security_opts(hc).find_map(|o| {
        o.strip_prefix("seccomp=")
            .or_else(|| o.strip_prefix("seccomp:"))
    });
    let profile = match file {
        Some(text) if text.trim_start().starts_with('{') => serde_json::from_str(text)
            .map_err(|e| SpecError::Invalid(format!("Decoding seccomp profile failed: {e}")))?,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                SpecError::Invalid(format!("opening seccomp profile ({path}) failed: {e}"))
            })?;
            serde_json::from_str(&text)
                .map_err(|e| SpecError::Invalid(format!("Decoding seccomp profile failed: {e}")))?
        }
        None => serde_json::to_value(berth_runtime::seccomp::docker_default_profile(caps))
            .map_err(|e| SpecError::Internal(e.to_string()))?,
    };
    Ok(profile)
}

fn parse_cap(name: &str) -> Result<Capability, SpecError> {
    let upper = name.to_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    serde_json::from_value(json!(full))
        .map_err(|_| SpecError::Invalid(format!("unknown capability: \"{name}\"")))
}

/// The granted capabilities: Docker's 14, plus CapAdd, minus CapDrop (ALL allowed on both
/// sides), or every capability the host has when privileged; warnings name what the host lacks.
fn capabilities(
    hc: &HostConfig,
    privileged: bool,
) -> Result<(Vec<Capability>, Vec<String>), SpecError> {
    let host = berth_runtime::capabilities::host_available().unwrap_or_default();
    let add = hc.cap_add.clone().unwrap_or_default();
    let drop = hc.cap_drop.clone().unwrap_or_default();
    let is_all = |v: &[String]| {
        v.iter()
            .any(|c| c.eq_ignore_ascii_case("ALL") || c.eq_ignore_ascii_case("CAP_ALL"))
    };
    let mut warnings = Vec::new();
    let mut caps: Vec<Capability> = if privileged || is_all(&add) {
        warnings.push(missing_caps_warning());
        host.clone()
    } else {
        berth_runtime::capabilities::docker_default()
    };
    if !privileged && !is_all(&add) {
        for a in &add {
            let cap = parse_cap(a)?;
            if !host.contains(&cap) {
                warnings.push(format!(
                    "capability CAP_{cap} is not available on this host and was not granted"
                ));
            } else if !caps.contains(&cap) {
                caps.push(cap);
            }
        }
    }
    if is_all(&drop) {
        caps.retain(|c| add.iter().any(|a| parse_cap(a).ok() == Some(*c)));
    } else {
        for d in &drop {
            let cap = parse_cap(d)?;
            caps.retain(|c| *c != cap);
        }
    }
    warnings.retain(|w| !w.is_empty());
    Ok((caps, warnings))
}

fn missing_caps_warning() -> String {
    let all: Vec<Capability> = (0..=40u8)
        .filter_map(|i| serde_json::from_value::<Capability>(json!(cap_name_by_index(i))).ok())
        .collect();
    match berth_runtime::capabilities::unavailable(&all) {
        Ok(missing) if !missing.is_empty() => {
            let names: Vec<String> = missing.iter().map(|c| format!("CAP_{c}")).collect();
            format!(
                "this host cannot grant {}; the container runs without them",
                names.join(", ")
            )
        }
        _ => String::new(),
    }
}

fn cap_name_by_index(i: u8) -> &'static str {
    const NAMES: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    NAMES.get(i as usize).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::config::{ContainerConfig, Resources};

    fn record(hc: HostConfig) -> ContainerRecord {
        ContainerRecord {
            id: "0123456789ab".repeat(5) + "0123",
            path: "sh".into(),
            args: vec!["-c".into(), "true".into()],
            config: ContainerConfig {
                hostname: Some("0123456789ab".into()),
                env: Some(vec!["A=1".into(), "PATH=/bin".into()]),
                user: Some("nobody".into()),
                ..Default::default()
            },
            host_config: hc,
            ..Default::default()
        }
    }

    fn build_for(hc: HostConfig) -> Result<(BuiltSpec, tempfile::TempDir), SpecError> {
        let dir = tempfile::tempdir().map_err(|e| SpecError::Internal(e.to_string()))?;
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).map_err(|e| SpecError::Internal(e.to_string()))?;
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/home:/bin/false\n",
        )
        .map_err(|e| SpecError::Internal(e.to_string()))?;
        let rec = record(hc);
        let built = build(&SpecInputs {
            record: &rec,
            rootfs: dir.path(),
            container_dir: dir.path(),
            cgroups_path: "/berth/x".into(),
            init_binary: None,
            default_ulimits: &[],
        })?;
        Ok((built, dir))
    }

    #[test]
    fn docker_like_defaults_and_overrides() -> Result<(), SpecError> {
        let hc = HostConfig {
            cap_add: Some(vec!["NET_ADMIN".into()]),
            cap_drop: Some(vec!["chown".into()]),
            readonly_rootfs: Some(true),
            binds: Some(vec!["/srv:/data:ro".into()]),
            tmpfs: Some([("/run".to_string(), "size=1m".to_string())].into()),
            resources: Resources {
                memory: Some(8 << 20),
                nano_cpus: Some(500_000_000),
                pids_limit: Some(64),
                ..Default::default()
            },
            ..Default::default()
        };
        let (built, _dir) = build_for(hc)?;
        let v =
            serde_json::to_value(&built.spec).map_err(|e| SpecError::Internal(e.to_string()))?;
        let caps: Vec<String> =
            serde_json::from_value(v["process"]["capabilities"]["bounding"].clone())
                .unwrap_or_default();
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()) || !built.warnings.is_empty());
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert!(caps.contains(&"CAP_KILL".to_string()));
        assert_eq!(v["process"]["user"]["uid"], 65534);
        assert_eq!(v["process"]["args"], json!(["sh", "-c", "true"]));
        let env: Vec<String> =
            serde_json::from_value(v["process"]["env"].clone()).unwrap_or_default();
        assert!(
            env.contains(&"PATH=/bin".to_string())
                && env.contains(&"HOSTNAME=0123456789ab".to_string())
        );
        assert!(env.contains(&"HOME=/home".to_string()));
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 8 << 20);
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], 16 << 20);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert_eq!(v["linux"]["resources"]["cpu"]["period"], 100_000);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 64);
        assert_eq!(v["linux"]["cgroupsPath"], "/berth/x");
        let mounts = v["mounts"].as_array().cloned().unwrap_or_default();
        let dest = |d: &str| {
            mounts
                .iter()
                .find(|m| m["destination"] == d)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(dest("/dev/shm")["options"][4], format!("size={}", 64 << 20));
        assert_eq!(dest("/data")["options"], json!(["rbind", "ro"]));
        assert_eq!(dest("/run")["type"], "tmpfs");
        assert_eq!(dest("/etc/hostname")["type"], "bind");
        let masked: Vec<String> =
            serde_json::from_value(v["linux"]["maskedPaths"].clone()).unwrap_or_default();
        assert!(masked.contains(&"/proc/kcore".to_string()));
        let ns: Vec<String> = v["linux"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["type"].as_str().map(String::from))
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network"]);
        Ok(())
    }

    #[test]
    fn host_network_and_privileged() -> Result<(), SpecError> {
        let hc = HostConfig {
            network_mode: Some("host".into()),
            privileged: Some(true),
            ..Default::default()
        };
        let (built, _dir) = build_for(hc)?;
        let v =
            serde_json::to_value(&built.spec).map_err(|e| SpecError::Internal(e.to_string()))?;
        let ns = v["linux"]["namespaces"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        assert!(v["linux"].get("maskedPaths").is_none_or(|m| m.is_null()));
        assert!(v["linux"].get("seccomp").is_none_or(|m| m.is_null()));
        Ok(())
    }

    #[test]
    fn unknown_capability_is_rejected() {
        let hc = HostConfig {
            cap_add: Some(vec!["NOT_A_CAP".into()]),
            ..Default::default()
        };
        assert!(matches!(build_for(hc), Err(SpecError::Invalid(_))));
    }
}
