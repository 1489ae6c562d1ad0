//! Loading and checking a bundle's `config.json` before anything is created.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::RuntimeError;

/// A spec read from a bundle, with the paths resolved that every later step needs.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The parsed spec.
    pub spec: Spec,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// Absolute root filesystem (the spec's root.path, relative paths taken in the bundle).
    pub rootfs: PathBuf,
}

/// Reads `<bundle>/config.json` and checks what the runtime relies on.
pub fn load(bundle: &Path) -> Result<LoadedSpec, RuntimeError> {
    let bundle = std::fs::canonicalize(bundle)
        .map_err(|e| RuntimeError::io(format!("bundle {}", bundle.display()), e))?;
    let path = bundle.join("config.json");
    let text = std::fs::read(&path)
        .map_err(|e| RuntimeError::io(format!("reading {}", path.display()), e))?;
    let spec: Spec = serde_json::from_slice(&text)
        .map_err(|e| RuntimeError::InvalidArgument(format!("parsing {}: {e}", path.display())))?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidArgument("config.json has no root".into()))?;
    let rootfs = bundle.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| RuntimeError::io(format!("root filesystem {}", rootfs.display()), e))?;
    validate(&spec)?;
    Ok(LoadedSpec {
        spec,
        bundle,
        rootfs,
    })
}

/// Rejects specs the runtime cannot honour, with a message naming the field.
pub fn validate(spec: &Spec) -> Result<(), RuntimeError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidArgument("config.json has no process".into()))?;
    validate_process(process)?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| RuntimeError::InvalidArgument("config.json has no linux section".into()))?;
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let has = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t);
    if !has(LinuxNamespaceType::Mount) {
        return Err(RuntimeError::InvalidArgument(
            "config.json must ask for a mount namespace: berth never changes the host's mounts"
                .into(),
        ));
    }
    for ns in namespaces {
        if namespaces.iter().filter(|o| o.typ() == ns.typ()).count() > 1 {
            return Err(RuntimeError::InvalidArgument(format!(
                "namespace {:?} listed twice",
                ns.typ()
            )));
        }
        if ns.typ() == LinuxNamespaceType::Time {
            return Err(RuntimeError::InvalidArgument(
                "time namespaces are not supported".into(),
            ));
        }
    }
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has(LinuxNamespaceType::User)
        && !maps
        && namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
    {
        return Err(RuntimeError::InvalidArgument(
            "a new user namespace needs uidMappings and gidMappings".into(),
        ));
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(RuntimeError::InvalidArgument(
            "hostname needs a uts namespace".into(),
        ));
    }
    Ok(())
}

/// Checks one process description (the init's or an exec's).
pub fn validate_process(process: &oci_spec::runtime::Process) -> Result<(), RuntimeError> {
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err(RuntimeError::InvalidArgument(
            "process.args must not be empty".into(),
        ));
    }
    if !process.cwd().is_absolute() {
        return Err(RuntimeError::InvalidArgument(format!(
            "process.cwd {:?} is not an absolute path",
            process.cwd()
        )));
    }
    Ok(())
}

/// Checks a container id: runc's rule (letters, digits, `_ + - .`, no path tricks).
pub fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::InvalidArgument(format!(
            "invalid container id format: {id:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("abc-1.2_3+x").is_ok());
        for bad in ["", ".", "..", "../x", "a/b", ".hidden", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_without_mount_namespace_is_rejected() {
        let mut spec = Spec::default();
        if let Some(linux) = spec.linux_mut() {
            linux.set_namespaces(Some(vec![]));
        }
        let err = validate(&spec).expect_err("no mount ns");
        assert!(err.to_string().contains("mount namespace"));
    }

    #[test]
    fn default_spec_is_valid() {
        validate(&Spec::default()).expect("valid");
    }
}
