//! Platforms (os/architecture/variant): which entry of a multi-platform index this host runs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An OCI platform as found in index entries and image configs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Platform {
    /// CPU architecture in Go's naming (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// OS version (Windows only).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant (`v8` for arm64, `v7` for arm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of the machine berth runs on, in Go's names (linux/amd64 here).
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform {
            architecture: architecture.to_string(),
            os: std::env::consts::OS.to_string(),
            os_version: None,
            os_features: None,
            variant: variant.map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]` as `--platform` takes it.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?;
        let arch = parts.next().filter(|p| !p.is_empty())?;
        let variant = parts.next().map(str::to_string);
        if parts.next().is_some() {
            return None;
        }
        Some(Platform {
            architecture: normalize_arch(arch).to_string(),
            os: os.to_lowercase(),
            os_version: None,
            os_features: None,
            variant,
        })
    }

    /// Whether an image built for `candidate` runs on (is selected for) this platform: same os
    /// and architecture, and the same variant when both name one.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os
            || normalize_arch(&self.architecture) != normalize_arch(&candidate.architecture)
        {
            return false;
        }
        match (&self.variant, &candidate.variant) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" => "386",
        other => other,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_linux_amd64_here() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(h.to_string(), "linux/amd64");
        }
    }

    #[test]
    fn matching() {
        let amd = Platform::parse("linux/amd64").unwrap();
        assert!(amd.matches(&Platform::parse("linux/x86_64").unwrap()));
        assert!(!amd.matches(&Platform::parse("linux/arm64").unwrap()));
        assert!(!amd.matches(&Platform::parse("windows/amd64").unwrap()));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(v7.matches(&Platform::parse("linux/arm").unwrap()));
        assert!(!v7.matches(&Platform::parse("linux/arm/v6").unwrap()));
        assert!(Platform::parse("linux").is_none());
    }
}
