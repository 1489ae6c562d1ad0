//! The container's root filesystem: spec mounts, /dev, cgroup mounts, pivot_root, masked and read-only paths.
//!
//! Runs in the child, inside its new mount namespace. Destinations are resolved inside the root
//! (symlinks are followed as if the root were `/`), so a hostile image cannot point a mount at
//! the host. The old root is detached after pivot_root; chroot is never used.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use crate::init::InitError;

/// The devices every container with a tmpfs /dev gets (path, major, minor).
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Mount flags parsed from a spec mount's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Propagation changes to apply after the mount.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options (`size=64m,mode=755`).
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> MountOptions {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
        }
    }
}

/// Splits OCI mount options into flags, propagation and data.
pub(crate) fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "defaults" | "tmpcopyup" | "rro" | "rrw" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            other => {
                if let Some(p) = propagation_flags(other) {
                    out.propagation.push(p);
                } else {
                    data.push(other);
                }
                continue;
            }
        };
        out.flags.insert(set);
        out.flags.remove(clear);
    }
    out.data = data.join(",");
    out
}

/// Propagation option names (also used for rootfsPropagation).
pub(crate) fn propagation_flags(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Resolves `unsafe_path` inside `root`, following symlinks as if `root` were `/`.
pub(crate) fn secure_join(root: &Path, unsafe_path: &Path) -> Result<PathBuf, InitError> {
    let mut resolved = PathBuf::new();
    let mut pending: Vec<PathBuf> = unsafe_path
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.components().next() {
            None
            | Some(Component::RootDir)
            | Some(Component::CurDir)
            | Some(Component::Prefix(_)) => continue,
            Some(Component::ParentDir) => {
                resolved.pop();
                continue;
            }
            Some(Component::Normal(_)) => {}
        }
        let candidate = root.join(&resolved).join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(InitError::msg(format!(
                        "too many symlinks resolving {}",
                        unsafe_path.display()
                    )));
                }
                let target = fs::read_link(&candidate)
                    .map_err(|e| InitError::io(format!("readlink {}", candidate.display()), e))?;
                if target.is_absolute() {
                    resolved.clear();
                }
                pending.extend(
                    target
                        .components()
                        .rev()
                        .map(|c| PathBuf::from(c.as_os_str())),
                );
            }
            _ => resolved.push(&part),
        }
    }
    Ok(root.join(resolved))
}

/// What the child needs to build the root filesystem.
pub(crate) struct RootfsPlan<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// Absolute rootfs on the host.
    pub rootfs: &'a Path,
    /// Bundle directory (relative bind sources are taken in it).
    pub bundle: &'a Path,
    /// The container's cgroup path (for cgroup bind fallbacks).
    pub cgroup_path: &'a str,
}

/// Child side, before pivot_root: makes mounts private, mounts everything the spec asks, creates devices.
pub(crate) fn prepare(plan: &RootfsPlan<'_>) -> Result<(), InitError> {
    mount_flags(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
    .map_err(|e| InitError::sys("making / private", e))?;
    let rootfs = plan.rootfs;
    mount_flags(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| InitError::sys(format!("bind mounting rootfs {}", rootfs.display()), e))?;
    let mut dev_is_tmpfs = false;
    let mut has_devpts = false;
    for m in plan.spec.mounts().as_deref().unwrap_or_default() {
        let dest = m.destination();
        if dest == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs") {
            dev_is_tmpfs = true;
        }
        if dest == Path::new("/dev/pts") {
            has_devpts = true;
        }
        mount_one(plan, m)
            .map_err(|e| e.context(format!("mounting {} on {}", source_of(m), dest.display())))?;
    }
    if dev_is_tmpfs {
        create_default_devices(rootfs)?;
        create_dev_symlinks(rootfs, has_devpts)?;
    }
    let devices = plan
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref());
    for dev in devices.map(Vec::as_slice).unwrap_or_default() {
        create_device(rootfs, dev)?;
    }
    Ok(())
}

/// The source shown in errors.
fn source_of(m: &Mount) -> String {
    m.source()
        .as_ref()
        .map(|s| s.display().to_string())
        .unwrap_or_else(|| m.typ().clone().unwrap_or_default())
}

/// Thin wrapper around mount(2) taking paths.
fn mount_flags(
    src: Option<&Path>,
    dest: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    mount(src, dest, fstype, flags, data)
}

/// Mounts one spec mount.
fn mount_one(plan: &RootfsPlan<'_>, m: &Mount) -> Result<(), InitError> {
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let dest = secure_join(plan.rootfs, m.destination())?;
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if opts.flags.contains(MsFlags::MS_BIND) {
            "bind"
        } else {
            "none"
        });
    if opts.flags.contains(MsFlags::MS_BIND) || typ == "bind" {
        let src = m
            .source()
            .as_ref()
            .ok_or_else(|| InitError::msg("bind mount without a source"))?;
        let src = if src.is_absolute() {
            src.clone()
        } else {
            plan.bundle.join(src)
        };
        bind(&src, &dest, &opts)?;
    } else if typ == "cgroup" || typ == "cgroup2" {
        mount_cgroups(plan, &dest, &opts)?;
    } else {
        mkdir_all(&dest)?;
        let src = m
            .source()
            .as_ref()
            .map(|p| p.as_path())
            .unwrap_or_else(|| Path::new(typ));
        let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
        match mount_flags(Some(src), &dest, Some(typ), opts.flags, data) {
            Ok(()) => {}
            // Without a private net/ipc namespace (or in a user namespace) the kernel refuses
            // sysfs and mqueue; bind the host's instead, as other runtimes do.
            Err(nix::Error::EPERM) if typ == "sysfs" || typ == "mqueue" => {
                let host = if typ == "sysfs" {
                    "/sys"
                } else {
                    "/dev/mqueue"
                };
                let mut bind_opts = opts.clone();
                bind_opts.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                bind(Path::new(host), &dest, &bind_opts)?;
            }
            Err(e) => return Err(InitError::sys(format!("mount type {typ}"), e)),
        }
    }
    for p in &opts.propagation {
        mount_flags(None, &dest, None, *p, None)
            .map_err(|e| InitError::sys("setting propagation", e))?;
    }
    Ok(())
}

/// Bind mounts `src` on `dest`, then remounts to apply flags a bind ignores (ro, nosuid, ...).
fn bind(src: &Path, dest: &Path, opts: &MountOptions) -> Result<(), InitError> {
    let meta = fs::metadata(src)
        .map_err(|e| InitError::io(format!("bind source {}", src.display()), e))?;
    if meta.is_dir() {
        mkdir_all(dest)?
    } else {
        touch(dest)?
    }
    let bind_flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    mount_flags(Some(src), dest, None, bind_flags, None).map_err(|e| InitError::sys("bind", e))?;
    let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        remount_bind(dest, extra)?;
    }
    Ok(())
}

/// Remounts a bind mount with `flags`, keeping flags the kernel locks (nodev, nosuid, noexec in a user namespace).
fn remount_bind(dest: &Path, flags: MsFlags) -> Result<(), InitError> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount_flags(None, dest, None, base | flags, None) {
        Err(nix::Error::EPERM) => {
            let locked = locked_flags(dest);
            mount_flags(None, dest, None, base | flags | locked, None)
        }
        other => other,
    }
    .map_err(|e| InitError::sys(format!("remounting {}", dest.display()), e))
}

/// The nodev/nosuid/noexec/ro/atime flags a mount currently has.
fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::{FsFlags, statvfs};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let pairs = [
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(s, _)| f.contains(*s))
        .fold(MsFlags::empty(), |acc, (_, m)| acc | *m)
}

/// One host cgroup mount from mountinfo.
struct HostCgroupMount {
    /// Where the host mounts it.
    mount_point: PathBuf,
    /// "cgroup" or "cgroup2".
    fstype: String,
    /// Controllers / name= options for v1 (`cpu,cpuacct`).
    options: String,
}

/// Reads the cgroup mounts under /sys/fs/cgroup from mountinfo.
fn host_cgroup_mounts() -> Result<Vec<HostCgroupMount>, InitError> {
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| InitError::io("reading mountinfo", e))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split(' ').nth(4).unwrap_or_default();
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or_default();
        let super_opts = r.nth(1).unwrap_or_default();
        if (fstype != "cgroup" && fstype != "cgroup2") || !mount_point.starts_with("/sys/fs/cgroup")
        {
            continue;
        }
        let options = super_opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect::<Vec<_>>()
            .join(",");
        out.push(HostCgroupMount {
            mount_point: PathBuf::from(mount_point),
            fstype: fstype.to_string(),
            options,
        });
    }
    Ok(out)
}

/// Mounts the container's view of its cgroups at `dest`: cgroup2 on a pure v2 host, otherwise a
/// tmpfs with one mount per v1 hierarchy (and the unified one), as runc does.
fn mount_cgroups(plan: &RootfsPlan<'_>, dest: &Path, opts: &MountOptions) -> Result<(), InitError> {
    let mounts = host_cgroup_mounts()?;
    let flags = opts.flags & !MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    mkdir_all(dest)?;
    if let Some(v2) = mounts
        .iter()
        .find(|m| m.mount_point == Path::new("/sys/fs/cgroup") && m.fstype == "cgroup2")
    {
        return mount_cgroup_fs(plan, v2, dest, flags | (opts.flags & MsFlags::MS_RDONLY));
    }
    mount_flags(
        Some(Path::new("tmpfs")),
        dest,
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )
    .map_err(|e| InitError::sys("mounting tmpfs for cgroups", e))?;
    for m in &mounts {
        let Ok(rel) = m.mount_point.strip_prefix("/sys/fs/cgroup") else {
            continue;
        };
        let target = dest.join(rel);
        mkdir_all(&target)?;
        mount_cgroup_fs(plan, m, &target, flags | (opts.flags & MsFlags::MS_RDONLY))?;
    }
    copy_cgroup_symlinks(dest)?;
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        mount_flags(
            None,
            dest,
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            Some("mode=755"),
        )
        .map_err(|e| InitError::sys("remounting cgroup tmpfs read-only", e))?;
    }
    Ok(())
}

/// Mounts one cgroup hierarchy (seen from the cgroup namespace), or binds the container's
/// directory of it when the kernel refuses a new mount (user namespaces on v1).
fn mount_cgroup_fs(
    plan: &RootfsPlan<'_>,
    m: &HostCgroupMount,
    target: &Path,
    flags: MsFlags,
) -> Result<(), InitError> {
    // The container's own directory of this hierarchy, as runc binds it: without a cgroup
    // namespace a fresh mount would show the host's whole tree, and with one the bind shows the
    // same as a fresh mount. Hierarchies the container has no directory in are mounted fresh.
    let own = m.mount_point.join(plan.cgroup_path.trim_start_matches('/'));
    if !plan.cgroup_path.trim_start_matches('/').is_empty() && own.is_dir() {
        let opts = MountOptions {
            flags: flags | MsFlags::MS_BIND | MsFlags::MS_REC,
            ..Default::default()
        };
        return bind(&own, target, &opts);
    }
    let data = (!m.options.is_empty()).then_some(m.options.as_str());
    match mount_flags(
        Some(Path::new(m.fstype.as_str())),
        target,
        Some(m.fstype.as_str()),
        flags,
        data,
    ) {
        Ok(()) => Ok(()),
        Err(nix::Error::EPERM) | Err(nix::Error::EBUSY) => {
            let src = m.mount_point.join(plan.cgroup_path.trim_start_matches('/'));
            let opts = MountOptions {
                flags: flags | MsFlags::MS_BIND | MsFlags::MS_REC,
                ..Default::default()
            };
            bind(&src, target, &opts)
        }
        Err(e) => Err(InitError::sys(
            format!("mounting cgroup {}", target.display()),
            e,
        )),
    }
}

/// Copies the host's /sys/fs/cgroup symlinks (cpu -> cpu,cpuacct) into the container's tmpfs.
fn copy_cgroup_symlinks(dest: &Path) -> Result<(), InitError> {
    let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_symlink())
            && let Ok(target) = fs::read_link(entry.path())
        {
            let link = dest.join(entry.file_name());
            symlink(&target, &link)
                .map_err(|e| InitError::io(format!("symlink {}", link.display()), e))?;
        }
    }
    Ok(())
}

/// Creates null, zero, full, random, urandom and tty in a fresh /dev.
fn create_default_devices(rootfs: &Path) -> Result<(), InitError> {
    for (name, major, minor) in DEFAULT_DEVICES {
        let path = rootfs.join("dev").join(name);
        make_device(&path, SFlag::S_IFCHR, major, minor, 0o666, Some((0, 0)))?;
    }
    Ok(())
}

/// Creates /dev/fd, stdin, stdout, stderr, core and ptmx links.
fn create_dev_symlinks(rootfs: &Path, has_devpts: bool) -> Result<(), InitError> {
    let dev = rootfs.join("dev");
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if has_devpts {
        let _ = fs::remove_file(dev.join("ptmx"));
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        let link = dev.join(name);
        match symlink(target, &link) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(InitError::io(format!("symlink {}", link.display()), e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Creates one of the spec's linux.devices.
fn create_device(rootfs: &Path, dev: &LinuxDevice) -> Result<(), InitError> {
    let kind = match dev.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(InitError::invalid(format!(
                "device {} has type \"a\"",
                dev.path().display()
            )));
        }
    };
    let path = secure_join(rootfs, dev.path())?;
    let owner = Some((dev.uid().unwrap_or(0), dev.gid().unwrap_or(0)));
    make_device(
        &path,
        kind,
        dev.major() as u64,
        dev.minor() as u64,
        dev.file_mode().unwrap_or(0o666),
        owner,
    )
    .map_err(|e| e.context(format!("creating device {}", dev.path().display())))?;
    Ok(())
}

/// mknod (replacing what is there), or a bind of the host's node when mknod is not allowed.
fn make_device(
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), InitError> {
    if let Some(parent) = path.parent() {
        mkdir_all(parent)?;
    }
    let _ = fs::remove_file(path);
    let perm = Mode::from_bits_truncate(mode & 0o7777);
    match mknod(path, kind, perm, makedev(major, minor)) {
        Ok(()) => {
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .map_err(|e| InitError::io(format!("chown {}", path.display()), e))?;
            }
            Ok(())
        }
        Err(nix::Error::EPERM) => bind_host_device(path, major, minor),
        Err(e) => Err(InitError::sys(format!("mknod {}", path.display()), e)),
    }
}

/// Binds the host's /dev node with the same numbers over an empty file (user namespaces).
fn bind_host_device(path: &Path, major: u64, minor: u64) -> Result<(), InitError> {
    let name = path.file_name().unwrap_or_else(|| OsStr::new(""));
    let host = Path::new("/dev").join(name);
    let ok = fs::metadata(&host).is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.file_type().is_char_device() || m.file_type().is_block_device())
            && m.rdev() == makedev(major, minor)
    });
    if !ok {
        return Err(InitError::msg(format!(
            "cannot mknod {} and the host has no such device to bind",
            path.display()
        )));
    }
    touch(path)?;
    mount_flags(Some(&host), path, None, MsFlags::MS_BIND, None)
        .map_err(|e| InitError::sys(format!("binding {}", host.display()), e))
}

/// Child side: pivot_root into the rootfs and detach the old root.
pub(crate) fn pivot(rootfs: &Path) -> Result<(), InitError> {
    use nix::fcntl::{OFlag, open};
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old = open("/", flags, Mode::empty()).map_err(|e| InitError::sys("opening /", e))?;
    let new =
        open(rootfs, flags, Mode::empty()).map_err(|e| InitError::sys("opening rootfs", e))?;
    nix::unistd::fchdir(&new).map_err(|e| InitError::sys("fchdir rootfs", e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| InitError::sys("pivot_root", e))?;
    nix::unistd::fchdir(&old).map_err(|e| InitError::sys("fchdir old root", e))?;
    // Keep unmount events of the old root from reaching the host, then detach it.
    mount_flags(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| InitError::sys("making old root slave", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| InitError::sys("detaching old root", e))?;
    nix::unistd::chdir("/").map_err(|e| InitError::sys("chdir /", e))
}

/// Child side, after pivot_root: sysctls, masked and read-only paths, read-only root, propagation.
pub(crate) fn finish(spec: &Spec) -> Result<(), InitError> {
    let linux = spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        for (key, value) in sysctl {
            write_sysctl(key, value)?;
        }
    }
    for path in linux
        .and_then(|l| l.masked_paths().as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        mask_path(Path::new(path))?;
    }
    for path in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        readonly_path(Path::new(path))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        remount_bind(Path::new("/"), MsFlags::MS_RDONLY)?;
    }
    if let Some(prop) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        let flags = propagation_flags(prop)
            .ok_or_else(|| InitError::invalid(format!("unknown rootfsPropagation {prop:?}")))?;
        mount_flags(None, Path::new("/"), None, flags, None)
            .map_err(|e| InitError::sys("setting rootfs propagation", e))?;
    }
    Ok(())
}

/// Writes one sysctl through /proc/sys.
fn write_sysctl(key: &str, value: &str) -> Result<(), InitError> {
    if key.contains("..") || key.contains('/') && key.contains('.') {
        return Err(InitError::invalid(format!("invalid sysctl key {key:?}")));
    }
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    fs::write(&path, value).map_err(|e| InitError::io(format!("writing sysctl {key}"), e))
}

/// Hides a path: /dev/null over files, an empty read-only tmpfs over directories.
fn mask_path(path: &Path) -> Result<(), InitError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(InitError::io(format!("masking {}", path.display()), e)),
    };
    let result = if meta.is_dir() {
        mount_flags(
            Some(Path::new("tmpfs")),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        )
    } else {
        mount_flags(
            Some(Path::new("/dev/null")),
            path,
            None,
            MsFlags::MS_BIND,
            None,
        )
    };
    result.map_err(|e| InitError::sys(format!("masking {}", path.display()), e))
}

/// Makes a path read-only with a bind mount on itself.
fn readonly_path(path: &Path) -> Result<(), InitError> {
    match mount_flags(
        Some(path),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    ) {
        Ok(()) => {}
        Err(nix::Error::ENOENT) => return Ok(()),
        Err(e) => {
            return Err(InitError::sys(
                format!("binding {} read-only", path.display()),
                e,
            ));
        }
    }
    let flags = MsFlags::MS_RDONLY
        | (locked_flags(path) & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC));
    remount_bind(path, flags)
}

/// mkdir -p with mode 0755.
fn mkdir_all(path: &Path) -> Result<(), InitError> {
    fs::create_dir_all(path).map_err(|e| InitError::io(format!("mkdir {}", path.display()), e))
}

/// Creates an empty file (and its parents) to bind a file on.
fn touch(path: &Path) -> Result<(), InitError> {
    if let Some(parent) = path.parent() {
        mkdir_all(parent)?;
    }
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(()),
        Err(_) => fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(path)
            .map(drop)
            .map_err(|e| InitError::io(format!("creating {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> MountOptions {
        parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = opts(&[
            "nosuid",
            "noexec",
            "nodev",
            "mode=755",
            "size=65536k",
            "rprivate",
            "ro",
        ]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
        );
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = opts(&["rbind", "ro", "rw"]);
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    }

    #[test]
    fn secure_join_stays_inside_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).expect("mkdir");
        symlink("/etc", root.join("a/abs")).expect("symlink");
        symlink("../../../..", root.join("a/b/up")).expect("symlink");
        assert_eq!(
            secure_join(root, Path::new("/a/abs/passwd")).expect("join"),
            root.join("etc/passwd")
        );
        assert_eq!(
            secure_join(root, Path::new("/a/b/up/x")).expect("join"),
            root.join("x")
        );
        assert_eq!(
            secure_join(root, Path::new("../../etc")).expect("join"),
            root.join("etc")
        );
        symlink("loop", root.join("loop")).expect("symlink");
        assert!(secure_join(root, Path::new("/loop")).is_err());
    }
}
