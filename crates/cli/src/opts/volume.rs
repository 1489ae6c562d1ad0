//! `-v [source:]target[:mode]`: with a source it is a bind (or named volume) for `HostConfig.Binds`, without one an
//! anonymous volume for `Config.Volumes`.

/// Where a `-v` value goes in the create body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSpec {
    /// `source:target[:mode]`, sent verbatim in `Binds`.
    Bind(String),
    /// A container path for an anonymous volume.
    Anonymous(String),
}

const MODES: &[&str] = &[
    "ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// Parses and validates one `-v` value.
pub fn parse_volume(spec: &str) -> Result<VolumeSpec, String> {
    let invalid = || format!("invalid volume specification: '{spec}'");
    let parts: Vec<&str> = spec.split(':').collect();
    let (target, mode) = match parts.as_slice() {
        [target] => {
            if !target.starts_with('/') {
                return Err(invalid());
            }
            return Ok(VolumeSpec::Anonymous(target.to_string()));
        }
        [source, target] => {
            if source.is_empty() {
                return Err(invalid());
            }
            (*target, None)
        }
        [source, target, mode] => {
            if source.is_empty() {
                return Err(invalid());
            }
            (*target, Some(*mode))
        }
        _ => return Err(invalid()),
    };
    if !target.starts_with('/') {
        return Err(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    if let Some(mode) = mode
        && mode.split(',').any(|m| !MODES.contains(&m))
    {
        return Err(format!("invalid mode: {mode}"));
    }
    Ok(VolumeSpec::Bind(spec.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_and_anonymous() {
        assert_eq!(parse_volume("/h:/c"), Ok(VolumeSpec::Bind("/h:/c".into())));
        assert_eq!(
            parse_volume("/h:/c:ro"),
            Ok(VolumeSpec::Bind("/h:/c:ro".into()))
        );
        assert_eq!(
            parse_volume("data:/c:ro,z"),
            Ok(VolumeSpec::Bind("data:/c:ro,z".into()))
        );
        assert_eq!(parse_volume("/c"), Ok(VolumeSpec::Anonymous("/c".into())));
    }

    #[test]
    fn rejects_bad_specs() {
        assert_eq!(
            parse_volume("/h:/c:bogus").unwrap_err(),
            "invalid mode: bogus"
        );
        assert!(
            parse_volume("/h:rel")
                .unwrap_err()
                .contains("mount path must be absolute")
        );
        assert_eq!(
            parse_volume("rel").unwrap_err(),
            "invalid volume specification: 'rel'"
        );
        assert!(parse_volume("a:b:c:d").is_err());
        assert!(parse_volume(":/c").is_err());
    }
}
