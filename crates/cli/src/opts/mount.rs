//! `--mount type=bind|volume|tmpfs,source=...,target=...,...` (Docker's CSV mount syntax) into API `Mount`s.

use berth_api::config::{BindOptions, Mount, MountType, TmpfsOptions, VolumeOptions};

use crate::opts::size::parse_ram_size;

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("1") | Some("true") | Some("True") | Some("TRUE") => Ok(true),
        Some("0") | Some("false") | Some("False") | Some("FALSE") => Ok(false),
        Some(v) => Err(format!("invalid value for {key}: {v}")),
    }
}

/// Parses one `--mount` value.
pub fn parse_mount(spec: &str) -> Result<Mount, String> {
    let mut mount = Mount::default();
    let mut kind: Option<MountType> = None;
    let mut bind = BindOptions::default();
    let mut volume = VolumeOptions::default();
    let mut tmpfs = TmpfsOptions::default();
    let (mut has_bind, mut has_volume, mut has_tmpfs) = (false, false, false);
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| {
            v.map(str::to_string)
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        match key.as_str() {
            "type" => {
                kind = Some(match need(value)?.as_str() {
                    "bind" => MountType::Bind,
                    "volume" => MountType::Volume,
                    "tmpfs" => MountType::Tmpfs,
                    other => return Err(format!("invalid mount type: {other}")),
                })
            }
            "source" | "src" => mount.source = need(value)?,
            "target" | "dst" | "destination" => mount.target = need(value)?,
            "readonly" | "ro" => mount.read_only = parse_bool(&key, value)?,
            "consistency" => mount.consistency = Some(need(value)?),
            "bind-propagation" => {
                has_bind = true;
                bind.propagation = Some(need(value)?);
            }
            "bind-nonrecursive" => {
                has_bind = true;
                bind.non_recursive = Some(parse_bool(&key, value)?);
            }
            "volume-nocopy" => {
                has_volume = true;
                volume.no_copy = Some(parse_bool(&key, value)?);
            }
            "volume-subpath" => {
                has_volume = true;
                volume.subpath = Some(need(value)?);
            }
            "volume-label" => {
                has_volume = true;
                let v = need(value)?;
                let (k, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
                volume
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert(k.to_string(), val.to_string());
            }
            "volume-driver" | "volume-opt" => {
                has_volume = true;
                let _ = need(value)?;
            }
            "tmpfs-size" => {
                has_tmpfs = true;
                tmpfs.size_bytes = Some(parse_ram_size(&need(value)?)?);
            }
            "tmpfs-mode" => {
                has_tmpfs = true;
                let v = need(value)?;
                tmpfs.mode = Some(
                    u32::from_str_radix(&v, 8)
                        .map_err(|_| format!("invalid value for {key}: {v}"))?,
                );
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    let kind = kind.unwrap_or(MountType::Volume);
    if mount.target.is_empty() {
        return Err("target is required".to_string());
    }
    let wrong = |opt: &str, _want: &str| {
        Err(format!(
            "cannot mix '{opt}*' options with mount type '{}'",
            type_name(kind)
        ))
    };
    if has_bind && kind != MountType::Bind {
        return wrong("bind-", "bind");
    }
    if has_volume && kind != MountType::Volume {
        return wrong("volume-", "volume");
    }
    if has_tmpfs && kind != MountType::Tmpfs {
        return wrong("tmpfs-", "tmpfs");
    }
    if kind == MountType::Bind && mount.source.is_empty() {
        return Err("source is required when specifying bind mounts".to_string());
    }
    mount.kind = kind;
    mount.bind_options = has_bind.then_some(bind);
    mount.volume_options = has_volume.then_some(volume);
    mount.tmpfs_options = has_tmpfs.then_some(tmpfs);
    Ok(mount)
}

fn type_name(kind: MountType) -> &'static str {
    match kind {
        MountType::Bind => "bind",
        MountType::Volume => "volume",
        MountType::Tmpfs => "tmpfs",
        MountType::Npipe => "npipe",
        MountType::Cluster => "cluster",
        MountType::Image => "image",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_mount() {
        let m = parse_mount("type=bind,source=/srv,target=/data,readonly,bind-propagation=rshared")
            .unwrap();
        assert_eq!(m.kind, MountType::Bind);
        assert_eq!(
            (m.source.as_str(), m.target.as_str(), m.read_only),
            ("/srv", "/data", true)
        );
        assert_eq!(
            m.bind_options.unwrap().propagation.as_deref(),
            Some("rshared")
        );
    }

    #[test]
    fn tmpfs_and_volume_mounts() {
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        let t = m.tmpfs_options.unwrap();
        assert_eq!(t.size_bytes, Some(64 << 20));
        assert_eq!(t.mode, Some(0o1770));
        let v = parse_mount("src=data,target=/d,volume-nocopy,ro=false").unwrap();
        assert_eq!(v.kind, MountType::Volume);
        assert!(!v.read_only);
        assert_eq!(v.volume_options.unwrap().no_copy, Some(true));
    }

    #[test]
    fn mount_errors() {
        assert_eq!(
            parse_mount("type=bind,source=/a").unwrap_err(),
            "target is required"
        );
        assert_eq!(
            parse_mount("type=bind,target=/a").unwrap_err(),
            "source is required when specifying bind mounts"
        );
        assert_eq!(
            parse_mount("type=nfs,target=/a").unwrap_err(),
            "invalid mount type: nfs"
        );
        assert_eq!(
            parse_mount("type=tmpfs,target=/a,bind-propagation=shared").unwrap_err(),
            "cannot mix 'bind-*' options with mount type 'tmpfs'"
        );
        assert!(parse_mount("type=tmpfs,target=/a,tmpfs-size=big").is_err());
        assert!(parse_mount("target=/a,foo=bar").is_err());
    }
}
