//! Finding the cgroup layout (pure v2, or v1 controllers) from /proc/self/mountinfo.

use std::path::{Path, PathBuf};

use super::{CgroupError, Layout};

/// Reads and interprets a mountinfo file.
pub(super) fn detect_from_file(mountinfo: &Path) -> Result<Layout, CgroupError> {
    let content = std::fs::read_to_string(mountinfo).map_err(|source| CgroupError::Read {
        file: mountinfo.to_path_buf(),
        source,
    })?;
    detect_from_mountinfo(&content).ok_or_else(|| CgroupError::NotMounted {
        path: mountinfo.to_path_buf(),
    })
}

/// v1 wins when a v1 hierarchy with a resource controller is mounted (a hybrid host's cgroup2
/// carries no controllers we can use for limits; a named-only v1 mount such as name=systemd on a
/// v2 host does not count); otherwise the cgroup2 mount is the root.
pub(super) fn detect_from_mountinfo(content: &str) -> Option<Layout> {
    let mounts: Vec<CgroupMount> = content.lines().filter_map(cgroup_mount).collect();
    let v1_root = mounts
        .iter()
        .filter(|m| m.fstype == "cgroup" && m.has_controller)
        .find_map(|m| m.mount_point.parent().map(Path::to_path_buf));
    if let Some(root) = v1_root {
        return Some(Layout::V1 { root });
    }
    mounts
        .into_iter()
        .find(|m| m.fstype == "cgroup2")
        .map(|m| Layout::V2 {
            root: m.mount_point,
        })
}

/// The v1 resource controllers (named hierarchies like name=systemd hold none).
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

struct CgroupMount {
    fstype: String,
    mount_point: PathBuf,
    has_controller: bool,
}

/// Parses a cgroup or cgroup2 line of mountinfo:
/// `id parent maj:min root mount-point options [optional...] - fstype source super-options`.
fn cgroup_mount(line: &str) -> Option<CgroupMount> {
    let (before, after) = line.split_once(" - ")?;
    let mut after_fields = after.split_whitespace();
    let fstype = after_fields.next()?;
    if fstype != "cgroup" && fstype != "cgroup2" {
        return None;
    }
    let super_options = after_fields.nth(1).unwrap_or("");
    let has_controller = super_options
        .split(',')
        .any(|o| V1_CONTROLLERS.contains(&o));
    let mount_point = before.split_whitespace().nth(4)?;
    Some(CgroupMount {
        fstype: fstype.to_string(),
        mount_point: PathBuf::from(unescape_octal(mount_point)),
        has_controller,
    })
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const PURE_V2: &str = "\
22 1 0:21 / /proc rw - proc proc rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn hybrid_host_is_v1() {
        assert_eq!(
            detect_from_mountinfo(HYBRID),
            Some(Layout::V1 {
                root: PathBuf::from("/sys/fs/cgroup")
            })
        );
    }

    #[test]
    fn pure_v2_host_is_v2() {
        assert_eq!(
            detect_from_mountinfo(PURE_V2),
            Some(Layout::V2 {
                root: PathBuf::from("/sys/fs/cgroup")
            })
        );
    }

    #[test]
    fn named_v1_hierarchy_on_a_v2_host_is_still_v2() {
        let content = format!(
            "{PURE_V2}40 30 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
        );
        assert_eq!(
            detect_from_mountinfo(&content),
            Some(Layout::V2 {
                root: PathBuf::from("/sys/fs/cgroup")
            })
        );
    }

    #[test]
    fn no_cgroup_mount_is_none() {
        assert_eq!(
            detect_from_mountinfo("22 1 0:21 / /proc rw - proc proc rw\n"),
            None
        );
    }

    #[test]
    fn escaped_mount_points_are_decoded() {
        assert_eq!(unescape_octal("/a\\040b"), "/a b");
    }

    #[test]
    fn this_host_is_detected() {
        let layout = Layout::detect();
        assert!(layout.is_ok(), "{layout:?}");
    }
}
