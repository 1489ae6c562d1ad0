//! Capability sets: applying the five sets of a spec, and the defaults Docker grants.
//!
//! Names come from oci-spec's [`Capability`]; the kernel's numbers from the `caps` crate. The
//! effective, permitted and inheritable sets are written with one capset(2) so no intermediate
//! state is ever refused by the kernel's subset rules.

use std::collections::HashSet;
use std::path::PathBuf;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use crate::cgroups::ErrorKind;

/// What went wrong reading or changing capabilities.
#[derive(Debug, thiserror::Error)]
pub enum CapabilityError {
    /// A capability name oci-spec knows but the `caps` crate (or this kernel) does not.
    #[error("capability {name} is not known to this kernel")]
    Unknown {
        /// The capability, e.g. "CAP_CHECKPOINT_RESTORE".
        name: String,
    },
    /// A capability syscall failed.
    #[error("{op}: {source}")]
    Syscall {
        /// What was attempted, e.g. "drop CAP_SYS_ADMIN from bounding set".
        op: String,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading /proc/self/status failed or it held no parsable CapBnd line.
    #[error("read capabilities from {path}: {reason}")]
    ProcStatus {
        /// The file read.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

impl CapabilityError {
    /// Classifies the error for the API's status mapping.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CapabilityError::Unknown { .. } => ErrorKind::InvalidArgument,
            CapabilityError::Syscall { source, .. }
                if source.raw_os_error() == Some(libc::EPERM) =>
            {
                ErrorKind::PermissionDenied
            }
            CapabilityError::Syscall { .. } | CapabilityError::ProcStatus { .. } => {
                ErrorKind::Internal
            }
        }
    }
}

/// The name the kernel and Docker use, e.g. "CAP_NET_RAW".
pub fn cap_name(cap: Capability) -> String {
    format!("CAP_{cap}")
}

/// The kernel's number for a capability.
fn cap_index(cap: Capability) -> Result<u8, CapabilityError> {
    let name = cap_name(cap);
    name.parse::<caps::Capability>()
        .map(|c| c.index())
        .map_err(|_| CapabilityError::Unknown { name })
}

/// Every capability oci-spec can name, in kernel order.
fn all_named() -> Vec<Capability> {
    use Capability::*;
    vec![
        Chown,
        DacOverride,
        DacReadSearch,
        Fowner,
        Fsetid,
        Kill,
        Setgid,
        Setuid,
        Setpcap,
        LinuxImmutable,
        NetBindService,
        NetBroadcast,
        NetAdmin,
        NetRaw,
        IpcLock,
        IpcOwner,
        SysModule,
        SysRawio,
        SysChroot,
        SysPtrace,
        SysPacct,
        SysAdmin,
        SysBoot,
        SysNice,
        SysResource,
        SysTime,
        SysTtyConfig,
        Mknod,
        Lease,
        AuditWrite,
        AuditControl,
        Setfcap,
        MacOverride,
        MacAdmin,
        Syslog,
        WakeAlarm,
        BlockSuspend,
        AuditRead,
        Perfmon,
        Bpf,
        CheckpointRestore,
    ]
}

fn mask_of(set: Option<&Capabilities>) -> Result<u64, CapabilityError> {
    let mut mask = 0u64;
    for cap in set.into_iter().flatten() {
        mask |= 1u64 << cap_index(*cap)?;
    }
    Ok(mask)
}

/// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap).
fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Applies the five sets of the spec in the container's init after the uid/gid switch (the core
/// helper sets PR_SET_KEEPCAPS before setuid and calls this after): drop from bounding, set
/// effective/permitted/inheritable, raise ambient.
///
/// Works both before and after a setuid to non-root: it first raises effective to the current
/// permitted set so CAP_SETPCAP is available for the bounding-set drops.
pub fn apply(caps: &LinuxCapabilities) -> Result<(), CapabilityError> {
    let bounding = mask_of(caps.bounding().as_ref())?;
    let effective = mask_of(caps.effective().as_ref())?;
    let permitted = mask_of(caps.permitted().as_ref())?;
    let inheritable = mask_of(caps.inheritable().as_ref())?;
    let ambient = mask_of(caps.ambient().as_ref())?;

    let current = capget()?;
    capset(CapState {
        effective: current.permitted,
        ..current
    })?;
    drop_bounding_except(bounding)?;
    capset(CapState {
        effective,
        permitted,
        inheritable,
    })?;
    // The kernel only lets a capability into the ambient set when it is both permitted and
    // inheritable. Specs written by `runc spec` (and by containerd) list ambient capabilities
    // without inheritable ones; like runc, skip those instead of failing the start.
    set_ambient(ambient & permitted & inheritable)
}

/// Whether the bounding set still holds capability `index` (PR_CAPBSET_READ).
fn in_bounding_set(index: u8) -> bool {
    // SAFETY: PR_CAPBSET_READ takes integers only.
    unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(index), 0, 0, 0) == 1 }
}

/// Drops every capability outside `keep` that is still in the bounding set (dropping needs
/// CAP_SETPCAP even for an absent one, so absent ones are skipped).
fn drop_bounding_except(keep: u64) -> Result<(), CapabilityError> {
    for index in 0..=last_cap() {
        if keep & (1u64 << index) != 0 || !in_bounding_set(index) {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes integers only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(index), 0, 0, 0) };
        if rc != 0 {
            let source = std::io::Error::last_os_error();
            if source.raw_os_error() == Some(libc::EINVAL) {
                continue; // The kernel does not know this capability: nothing to drop.
            }
            return Err(CapabilityError::Syscall {
                op: format!("drop capability {index} from the bounding set"),
                source,
            });
        }
    }
    Ok(())
}

fn set_ambient(ambient: u64) -> Result<(), CapabilityError> {
    let prctl_ambient = |op: libc::c_ulong, index: libc::c_ulong| -> std::io::Result<()> {
        // SAFETY: PR_CAP_AMBIENT takes integers only.
        let rc = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, op, index, 0, 0) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    prctl_ambient(libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0).map_err(|source| {
        CapabilityError::Syscall {
            op: "clear the ambient set".to_string(),
            source,
        }
    })?;
    for index in 0..64u8 {
        if ambient & (1u64 << index) != 0 {
            prctl_ambient(
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                libc::c_ulong::from(index),
            )
            .map_err(|source| CapabilityError::Syscall {
                op: format!("raise capability {index} in the ambient set"),
                source,
            })?;
        }
    }
    Ok(())
}

/// The three sets capget/capset handle, as 64-bit masks.
#[derive(Debug, Clone, Copy)]
struct CapState {
    effective: u64,
    permitted: u64,
    inheritable: u64,
}

/// _LINUX_CAPABILITY_VERSION_3: two 32-bit halves per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn capget() -> Result<CapState, CapabilityError> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid, properly sized v3 structures owned by this frame.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(CapabilityError::Syscall {
            op: "capget".to_string(),
            source: std::io::Error::last_os_error(),
        });
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapState {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

fn capset(state: CapState) -> Result<(), CapabilityError> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let split = |mask: u64| (mask as u32, (mask >> 32) as u32);
    let (e0, e1) = split(state.effective);
    let (p0, p1) = split(state.permitted);
    let (i0, i1) = split(state.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: header and data are valid v3 structures; the kernel only reads data.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(CapabilityError::Syscall {
            op: format!(
                "capset effective={:#x} permitted={:#x} inheritable={:#x}",
                state.effective, state.permitted, state.inheritable
            ),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// The 14 capabilities Docker grants by default (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE).
pub fn docker_default() -> Vec<Capability> {
    use Capability::*;
    vec![
        Chown,
        DacOverride,
        Fsetid,
        Fowner,
        Mknod,
        NetRaw,
        Setgid,
        Setuid,
        Setfcap,
        Setpcap,
        NetBindService,
        SysChroot,
        Kill,
        AuditWrite,
    ]
}

/// The capabilities this host can grant (root's bounding set), for --privileged; and a function naming the requested ones that are not available.
pub fn host_available() -> Result<Vec<Capability>, CapabilityError> {
    let path = PathBuf::from("/proc/self/status");
    let status = std::fs::read_to_string(&path).map_err(|e| CapabilityError::ProcStatus {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let mask = bounding_mask(&status).ok_or_else(|| CapabilityError::ProcStatus {
        path,
        reason: "no CapBnd line".to_string(),
    })?;
    Ok(all_named()
        .into_iter()
        .filter(|cap| cap_index(*cap).is_ok_and(|i| mask & (1u64 << i) != 0))
        .collect())
}

/// Parses the CapBnd hex mask out of /proc/<pid>/status text.
fn bounding_mask(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// The requested capabilities this host cannot grant (absent from its bounding set), in request
/// order, so callers can name them in an error.
pub fn unavailable(requested: &[Capability]) -> Result<Vec<Capability>, CapabilityError> {
    let available: HashSet<Capability> = host_available()?.into_iter().collect();
    Ok(requested
        .iter()
        .filter(|cap| !available.contains(cap))
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_is_the_known_mask() {
        let set: Capabilities = docker_default().into_iter().collect();
        assert_eq!(set.len(), 14);
        assert_eq!(mask_of(Some(&set)).ok(), Some(0xa804_25fb));
    }

    #[test]
    fn every_named_capability_has_a_kernel_number() {
        for cap in all_named() {
            assert!(cap_index(cap).is_ok(), "{cap}");
        }
        assert_eq!(cap_name(Capability::SysAdmin), "CAP_SYS_ADMIN");
    }

    #[test]
    fn bounding_mask_parses_status() {
        let status = "Name:\tx\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n";
        assert_eq!(bounding_mask(status), Some(0x1fffeffffff));
    }

    #[test]
    fn host_available_matches_proc_status() -> anyhow::Result<()> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let mask = bounding_mask(&status).ok_or_else(|| anyhow::anyhow!("no CapBnd"))?;
        let available = host_available()?;
        for cap in all_named() {
            let bit = 1u64 << cap_index(cap)?;
            assert_eq!(available.contains(&cap), mask & bit != 0, "{cap}");
        }
        let missing = unavailable(&[Capability::Chown, Capability::SysResource])?;
        let sys_resource_missing = mask & (1u64 << 24) == 0;
        assert_eq!(
            missing.contains(&Capability::SysResource),
            sys_resource_missing
        );
        assert!(!missing.contains(&Capability::Chown) || mask & 1 == 0);
        Ok(())
    }
}
