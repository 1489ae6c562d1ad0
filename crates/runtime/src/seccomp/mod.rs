//! Seccomp: compiling an OCI seccomp profile to BPF once (cached by hash), loading it, and Docker's default profile.
//!
//! libseccomp is used only to compile (`compile`); the container's init loads the raw program
//! with seccomp(2), so a cached profile never touches libseccomp at all.

mod cache;
mod compile;
mod docker_default;

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;

pub use docker_default::docker_default_profile;

use crate::cgroups::ErrorKind;

/// What went wrong compiling, caching or loading a seccomp filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile cannot be expressed (unknown action, bad argument, unsupported feature).
    #[error("invalid seccomp profile: {reason}")]
    InvalidProfile {
        /// What is wrong, naming the syscall or field.
        reason: String,
    },
    /// libseccomp refused an operation.
    #[error("libseccomp: {op}: {source}")]
    Libseccomp {
        /// What was attempted, naming the syscall or architecture.
        op: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// Reading or writing the cache or the export buffer failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused the filter.
    #[error("load seccomp filter ({instructions} instructions, flags {flags:#x}): {source}")]
    Load {
        /// Program length.
        instructions: usize,
        /// seccomp(2) flags used.
        flags: u32,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
}

impl SeccompError {
    /// Classifies the error for the API's status mapping.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SeccompError::InvalidProfile { .. } => ErrorKind::InvalidArgument,
            SeccompError::Load { source, .. }
                if matches!(
                    source.raw_os_error(),
                    Some(libc::EACCES) | Some(libc::EPERM)
                ) =>
            {
                ErrorKind::PermissionDenied
            }
            _ => ErrorKind::Internal,
        }
    }
}

/// One BPF instruction, laid out like the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// Size of one instruction in libseccomp's export and in our cache files.
const INSTRUCTION_BYTES: usize = 8;

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

/// A compiled BPF program (sock_filter array) plus the seccomp(2) flags the profile asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledFilter {
    program: Vec<SockFilter>,
    flags: u32,
}

impl CompiledFilter {
    /// Parses a native-endian sock_filter array, as libseccomp exports it.
    fn from_bytes(bytes: &[u8], flags: u32) -> Option<CompiledFilter> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(INSTRUCTION_BYTES) {
            return None;
        }
        let program: Vec<SockFilter> = bytes
            .chunks_exact(INSTRUCTION_BYTES)
            .map(|c| SockFilter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        (program.len() <= MAX_INSTRUCTIONS).then_some(CompiledFilter { program, flags })
    }

    /// The program as the native-endian bytes the kernel reads (also the cache file format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.program.len() * INSTRUCTION_BYTES);
        for ins in &self.program {
            out.extend_from_slice(&ins.code.to_ne_bytes());
            out.push(ins.jt);
            out.push(ins.jf);
            out.extend_from_slice(&ins.k.to_ne_bytes());
        }
        out
    }

    /// Number of BPF instructions.
    pub fn instructions(&self) -> usize {
        self.program.len()
    }

    /// The seccomp(2) flags (SECCOMP_FILTER_FLAG_*) the profile asked for.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Called in the container's init right before execve (after no_new_privs when the spec asks); uses seccomp(2)/prctl with the raw BPF, no libseccomp at load time.
    ///
    /// The kernel requires no_new_privs or CAP_SYS_ADMIN in the calling thread.
    pub fn load(&self) -> Result<(), SeccompError> {
        let prog = libc::sock_fprog {
            // from_bytes and compile keep the length <= MAX_INSTRUCTIONS, which fits u16.
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `self.program`, a live array of `len` instructions laid out
        // like `struct sock_filter`; the kernel copies it and does not keep the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::c_ulong::from(self.flags),
                &prog as *const libc::sock_fprog,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOSYS) && self.flags == 0 {
            return self.load_with_prctl(&prog);
        }
        Err(self.load_error(err))
    }

    fn load_with_prctl(&self, prog: &libc::sock_fprog) -> Result<(), SeccompError> {
        // SAFETY: as in `load`: `prog` describes a live, correctly laid out program.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                prog as *const libc::sock_fprog,
                0,
                0,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(self.load_error(std::io::Error::last_os_error()))
        }
    }

    fn load_error(&self, source: std::io::Error) -> SeccompError {
        SeccompError::Load {
            instructions: self.program.len(),
            flags: self.flags,
            source,
        }
    }
}

/// Compiles with libseccomp and exports BPF; cached by the SHA-256 of the profile's JSON in `cache_dir` (atomic write), so the next start of the same profile skips libseccomp.
pub fn compile(
    profile: &LinuxSeccomp,
    cache_dir: Option<&Path>,
) -> Result<CompiledFilter, SeccompError> {
    let flags = compile::filter_flags(profile)?;
    let Some(dir) = cache_dir else {
        return compile::to_filter(profile, flags);
    };
    let key = cache::key(profile)?;
    if let Some(bytes) = cache::read(dir, &key) {
        if let Some(filter) = CompiledFilter::from_bytes(&bytes, flags) {
            return Ok(filter);
        }
        tracing::warn!(key, "corrupt seccomp cache entry; recompiling");
    }
    let filter = compile::to_filter(profile, flags)?;
    cache::write(dir, &key, &filter.to_bytes())?;
    Ok(filter)
}

/// Parses a seccomp profile from JSON (e.g. `--security-opt seccomp=file.json`), with an error
/// that quotes serde's reason (unknown action names, missing fields, ...).
pub fn parse_profile(json: &[u8]) -> Result<LinuxSeccomp, SeccompError> {
    serde_json::from_slice(json).map_err(|e| SeccompError::InvalidProfile {
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        let bytes: Vec<u8> = (0u8..16).collect();
        let filter = CompiledFilter::from_bytes(&bytes, 0);
        assert_eq!(filter.map(|f| f.to_bytes()), Some(bytes));
        assert_eq!(CompiledFilter::from_bytes(&[1, 2, 3], 0), None);
        assert_eq!(CompiledFilter::from_bytes(&[], 0), None);
    }

    #[test]
    fn unknown_action_is_a_clear_error() {
        let json = br#"{"defaultAction":"SCMP_ACT_EXPLODE","syscalls":[]}"#;
        let err = parse_profile(json)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("invalid seccomp profile"), "{err}");
        assert!(err.contains("SCMP_ACT_EXPLODE"), "{err}");
    }
}
