//! Control groups v1 and v2: creating a container's cgroup, applying limits, freezing, stats, OOM events, removal.
//!
//! The public face is one [`Cgroup`] type whatever the host's layout; `v1` and `v2` hold the
//! per-layout file semantics, `resources` turns a spec's `LinuxResources` into file writes, and
//! `stats` parses the kernel's counters.

mod fs;
mod layout;
mod resources;
mod stats;
mod v1;
mod v2;

use std::path::{Path, PathBuf};

pub use stats::{BlkioEntry, CgroupStats, CpuStats, MemoryStats, PidsStats};

/// How the host mounts cgroups; decides which file names and semantics apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Legacy hierarchies, one mount per controller (or co-mounted group) under `root`.
    V1 {
        /// Directory holding the controller mounts, usually `/sys/fs/cgroup`.
        root: PathBuf,
    },
    /// The unified hierarchy mounted at `root`.
    V2 {
        /// Mount point of cgroup2, usually `/sys/fs/cgroup`.
        root: PathBuf,
    },
}

impl Layout {
    /// Reads /proc/self/mountinfo to learn whether the host runs pure v2 or v1 controllers.
    pub fn detect() -> Result<Layout, CgroupError> {
        layout::detect_from_file(Path::new("/proc/self/mountinfo"))
    }

    /// The directory under which cgroups of this layout live.
    pub fn root(&self) -> &Path {
        match self {
            Layout::V1 { root } | Layout::V2 { root } => root,
        }
    }
}

/// What went wrong touching a cgroup; every variant names the file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup filesystem could be found in mountinfo.
    #[error("no cgroup filesystem mounted (read {path})")]
    NotMounted {
        /// The mountinfo file that was read.
        path: PathBuf,
    },
    /// The kernel refused a write (e.g. a limit below current usage).
    #[error("{file}: invalid value {value:?}: {source}")]
    Write {
        /// The control file written.
        file: PathBuf,
        /// The value the kernel refused.
        value: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a control file failed.
    #[error("read {file}: {source}")]
    Read {
        /// The control file read.
        file: PathBuf,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// A control file held something we could not parse.
    #[error("{file}: cannot parse {content:?}")]
    Parse {
        /// The control file read.
        file: PathBuf,
        /// The offending content.
        content: String,
    },
    /// Creating or removing a cgroup directory failed.
    #[error("{op} {dir}: {source}")]
    Dir {
        /// "mkdir" or "rmdir".
        op: &'static str,
        /// The directory.
        dir: PathBuf,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// A spec value that no kernel file can take (e.g. swap below memory).
    #[error("invalid resource {field}: {reason}")]
    InvalidResource {
        /// The spec field, e.g. "memory.swap".
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The operation needs a controller the host has not mounted or enabled.
    #[error("cgroup controller {controller} is not available under {root}")]
    ControllerMissing {
        /// Controller name, e.g. "freezer".
        controller: &'static str,
        /// The cgroup root searched.
        root: PathBuf,
    },
    /// Freezing did not complete in time.
    #[error("{dir}: cgroup did not reach state {state} within {waited_ms} ms")]
    Timeout {
        /// The cgroup directory.
        dir: PathBuf,
        /// The state waited for.
        state: &'static str,
        /// How long we waited.
        waited_ms: u64,
    },
    /// Sending a signal to a member process failed.
    #[error("kill pid {pid} with signal {signal}: {source}")]
    Signal {
        /// The member process.
        pid: i32,
        /// The signal number.
        signal: i32,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
}

/// The error classes the server maps to HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something named does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The request conflicts with the current state.
    Conflict,
    /// The caller asked for something invalid.
    InvalidArgument,
    /// The caller may not do this.
    PermissionDenied,
    /// The host cannot do this (missing feature).
    Unavailable,
    /// Anything else.
    Internal,
}

impl ErrorKind {
    fn of_io(err: &std::io::Error) -> ErrorKind {
        match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            std::io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
            std::io::ErrorKind::ResourceBusy => ErrorKind::Conflict,
            _ => ErrorKind::Internal,
        }
    }
}

impl CgroupError {
    /// Classifies the error for the API's status mapping.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CgroupError::NotMounted { .. } | CgroupError::ControllerMissing { .. } => {
                ErrorKind::Unavailable
            }
            CgroupError::Write { source, .. } => match source.raw_os_error() {
                Some(libc::EINVAL) | Some(libc::EBUSY) | Some(libc::ERANGE) => {
                    ErrorKind::InvalidArgument
                }
                _ => ErrorKind::of_io(source),
            },
            CgroupError::Read { source, .. }
            | CgroupError::Dir { source, .. }
            | CgroupError::Signal { source, .. } => ErrorKind::of_io(source),
            CgroupError::Parse { .. } | CgroupError::Timeout { .. } => ErrorKind::Internal,
            CgroupError::InvalidResource { .. } => ErrorKind::InvalidArgument,
        }
    }
}

/// One container's cgroup: a layout plus a path relative to the cgroup root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    layout: Layout,
    /// Cleaned path with a leading '/', e.g. "/berth/abc".
    path: String,
}

impl Cgroup {
    /// `path` is the spec's linux.cgroupsPath, e.g. "/berth/<id>" (relative paths are taken under the root).
    /// ".." components are resolved lexically and cannot climb above the root.
    pub fn new(layout: Layout, path: &str) -> Cgroup {
        Cgroup {
            layout,
            path: clean_path(path),
        }
    }

    /// The cleaned cgroup path, always starting with '/'.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The layout this cgroup lives in.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn rel(&self) -> &str {
        self.path.trim_start_matches('/')
    }

    /// Creates the directories: one per v1 hierarchy (cpuset filled from the parents), or the v2
    /// directory with the controllers enabled in every ancestor's cgroup.subtree_control.
    pub fn create(&self) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::create(root, self.rel()),
            Layout::V2 { root } => v2::create(root, self.rel()),
        }
    }

    /// Writes the spec's limits: memory, cpu, cpuset, pids, blkio/io, devices (v1), hugetlb.
    pub fn apply(&self, res: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::apply(root, self.rel(), res),
            Layout::V2 { root } => v2::apply(root, self.rel(), res),
        }
    }

    /// Moves `pid` into the cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::add_pid(root, self.rel(), pid),
            Layout::V2 { root } => v2::add_pid(root, self.rel(), pid),
        }
    }

    /// The processes in the cgroup (not in its descendants).
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::pids(root, self.rel()),
            Layout::V2 { root } => v2::pids(root, self.rel()),
        }
    }

    /// Freezes every process and waits until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::freeze(root, self.rel()),
            Layout::V2 { root } => v2::freeze(root, self.rel()),
        }
    }

    /// Thaws a frozen cgroup.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::thaw(root, self.rel()),
            Layout::V2 { root } => v2::thaw(root, self.rel()),
        }
    }

    /// Whether the kernel reports the cgroup frozen.
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::is_frozen(root, self.rel()),
            Layout::V2 { root } => v2::is_frozen(root, self.rel()),
        }
    }

    /// Reads usage counters for `docker stats` and the API.
    pub fn stats(&self) -> Result<CgroupStats, CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::stats(root, self.rel()),
            Layout::V2 { root } => v2::stats(root, self.rel()),
        }
    }

    /// How many processes the OOM killer has killed in this cgroup (for `State.OOMKilled`).
    pub fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::oom_kill_count(root, self.rel()),
            Layout::V2 { root } => v2::oom_kill_count(root, self.rel()),
        }
    }

    /// Sends `signal` to every process in the cgroup (v2: cgroup.kill when SIGKILL).
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::kill_all(root, self.rel(), signal),
            Layout::V2 { root } => v2::kill_all(root, self.rel(), signal),
        }
    }

    /// Removes the cgroup everywhere, retrying briefly while the kernel says EBUSY; absent is OK.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        match &self.layout {
            Layout::V1 { root } => v1::destroy(root, self.rel()),
            Layout::V2 { root } => v2::destroy(root, self.rel()),
        }
    }

    /// The cgroup's directory on pure v2 (for clone3 CLONE_INTO_CGROUP); None on v1.
    pub fn v2_dir(&self) -> Option<PathBuf> {
        match &self.layout {
            Layout::V1 { .. } => None,
            Layout::V2 { root } => Some(root.join(self.rel())),
        }
    }
}

/// Sends `signal` to `pid`; a process that already exited is not an error.
fn send_signal(pid: i32, signal: i32) -> Result<(), CgroupError> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        return Ok(());
    }
    let source = std::io::Error::last_os_error();
    if source.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(CgroupError::Signal {
        pid,
        signal,
        source,
    })
}

/// Resolves "." and ".." lexically so a spec path can never leave the cgroup root.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_keeps_paths_under_root() {
        assert_eq!(clean_path("/berth/abc"), "/berth/abc");
        assert_eq!(clean_path("berth//abc/"), "/berth/abc");
        assert_eq!(clean_path("/../../etc/./x"), "/etc/x");
        assert_eq!(clean_path(""), "/");
    }
}

#[cfg(test)]
mod fake_tree_tests;
