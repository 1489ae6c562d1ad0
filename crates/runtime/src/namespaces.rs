//! Which namespaces a container gets, how (clone flags, unshare, or setns to a path), and its id maps.
//!
//! The common case is a single clone carrying every new namespace. When the spec joins existing
//! namespaces by path, new ones are created with unshare after the joins, so they are owned by
//! the joined user namespace. A pid namespace joined by path is entered by the parent thread
//! around the clone (setns on pid only affects children). The cgroup namespace is always
//! unshared by the child after the parent has put it in its cgroup, so the namespace's root is
//! the container's cgroup.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::RuntimeError;

/// How the child gets its namespaces; prepared (paths opened) in the parent before clone.
#[derive(Debug)]
pub(crate) struct NamespacePlan {
    /// New namespaces created by the clone itself.
    pub clone_flags: CloneFlags,
    /// New namespaces the child unshares after joining `joins` (cgroup excluded).
    pub unshare_flags: CloneFlags,
    /// Existing namespaces the child joins, user namespace first.
    pub joins: Vec<(CloneFlags, OwnedFd)>,
    /// A pid namespace the parent enters around the clone.
    pub pid_join: Option<OwnedFd>,
    /// The child makes a new user namespace (the parent writes its id maps).
    pub new_user: bool,
    /// The child unshares a new cgroup namespace once in its cgroup.
    pub new_cgroup: bool,
}

/// The clone flag of a namespace type.
pub(crate) fn flag_of(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

impl NamespacePlan {
    /// Reads the spec's namespace list and opens the paths to join.
    pub(crate) fn from_spec(spec: &Spec) -> Result<NamespacePlan, RuntimeError> {
        let namespaces = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .cloned()
            .unwrap_or_default();
        let mut new = CloneFlags::empty();
        let mut joins = Vec::new();
        let mut pid_join = None;
        for ns in &namespaces {
            let flag = flag_of(ns.typ());
            match ns.path() {
                None => new |= flag,
                Some(path) => {
                    let fd = open_ns(path)?;
                    if flag == CloneFlags::CLONE_NEWPID {
                        pid_join = Some(fd);
                    } else {
                        joins.push((flag, fd));
                    }
                }
            }
        }
        // The user namespace is joined first: the others are then entered with its privileges.
        joins.sort_by_key(|(flag, _)| *flag != CloneFlags::CLONE_NEWUSER);
        let new_cgroup = new.contains(CloneFlags::CLONE_NEWCGROUP);
        new.remove(CloneFlags::CLONE_NEWCGROUP);
        let (clone_flags, unshare_flags) = if joins.is_empty() {
            (new, CloneFlags::empty())
        } else {
            let at_clone = new & CloneFlags::CLONE_NEWPID;
            (at_clone, new - at_clone)
        };
        Ok(NamespacePlan {
            clone_flags,
            unshare_flags,
            joins,
            pid_join,
            new_user: new.contains(CloneFlags::CLONE_NEWUSER),
            new_cgroup,
        })
    }
}

/// Opens a namespace file to join.
fn open_ns(path: &Path) -> Result<OwnedFd, RuntimeError> {
    File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| RuntimeError::io(format!("opening namespace {}", path.display()), e))
}

/// Child side: joins the planned namespaces, then unshares the new ones.
pub(crate) fn enter(plan: &NamespacePlan) -> Result<(), nix::Error> {
    for (flag, fd) in &plan.joins {
        nix::sched::setns(fd.as_fd(), *flag)?;
    }
    if !plan.unshare_flags.is_empty() {
        nix::sched::unshare(plan.unshare_flags)?;
    }
    Ok(())
}

/// Parent side: writes /proc/<pid>/uid_map and gid_map from the spec.
pub(crate) fn write_id_maps(pid: i32, spec: &Spec) -> Result<(), RuntimeError> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    write_map(pid, "uid_map", uid)?;
    write_map(pid, "gid_map", gid)
}

/// Writes one map file in a single write, as the kernel requires.
fn write_map(pid: i32, file: &str, maps: &[LinuxIdMapping]) -> Result<(), RuntimeError> {
    let text = format_map(maps);
    let path = format!("/proc/{pid}/{file}");
    std::fs::write(&path, text.as_bytes())
        .map_err(|e| RuntimeError::io(format!("writing {path}"), e))
}

/// "container host size" lines.
fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Parent side: enters a pid namespace for the children of this thread, returning how to leave it.
pub(crate) fn enter_pid_for_children(fd: &OwnedFd) -> Result<OwnedFd, RuntimeError> {
    let own = open_ns(Path::new("/proc/thread-self/ns/pid_for_children"))?;
    nix::sched::setns(fd.as_fd(), CloneFlags::CLONE_NEWPID)
        .map_err(|e| RuntimeError::sys("joining the pid namespace", e))?;
    Ok(own)
}

/// Parent side: goes back to the pid namespace saved by [`enter_pid_for_children`].
pub(crate) fn leave_pid_for_children(own: &OwnedFd) -> Result<(), RuntimeError> {
    nix::sched::setns(own.as_fd(), CloneFlags::CLONE_NEWPID)
        .map_err(|e| RuntimeError::sys("returning to our pid namespace", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxIdMappingBuilder, LinuxNamespaceBuilder};

    fn spec_with(namespaces: Vec<oci_spec::runtime::LinuxNamespace>) -> Spec {
        let mut spec = Spec::default();
        if let Some(l) = spec.linux_mut() {
            l.set_namespaces(Some(namespaces));
        }
        spec
    }

    #[test]
    fn all_new_namespaces_go_in_one_clone_except_cgroup() {
        let ns = [
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Cgroup,
            LinuxNamespaceType::Network,
        ]
        .into_iter()
        .map(|t| LinuxNamespaceBuilder::default().typ(t).build().expect("ns"))
        .collect();
        let plan = NamespacePlan::from_spec(&spec_with(ns)).expect("plan");
        assert_eq!(
            plan.clone_flags,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET
        );
        assert!(plan.unshare_flags.is_empty());
        assert!(plan.new_cgroup);
        assert!(!plan.new_user);
    }

    #[test]
    fn joining_by_path_moves_new_namespaces_to_unshare() {
        let ns = vec![
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Pid)
                .build()
                .expect("ns"),
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Mount)
                .build()
                .expect("ns"),
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path("/proc/self/ns/net")
                .build()
                .expect("ns"),
        ];
        let plan = NamespacePlan::from_spec(&spec_with(ns)).expect("plan");
        assert_eq!(plan.clone_flags, CloneFlags::CLONE_NEWPID);
        assert_eq!(plan.unshare_flags, CloneFlags::CLONE_NEWNS);
        assert_eq!(plan.joins.len(), 1);
    }

    #[test]
    fn id_maps_are_formatted_one_per_line() {
        let m = LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(100000u32)
            .size(65536u32)
            .build()
            .expect("map");
        assert_eq!(format_map(&[m]), "0 100000 65536\n");
    }
}
