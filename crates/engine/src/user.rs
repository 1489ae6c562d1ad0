//! Resolves Docker's `User` string (`name`, `uid`, `name:group`, `uid:gid`) against the
//! container's own /etc/passwd and /etc/group, as Docker does before it starts the process.

use std::path::Path;

/// The process identity for the OCI spec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (from /etc/group membership and GroupAdd).
    pub additional_gids: Vec<u32>,
    /// The user's home, for HOME.
    pub home: String,
}

/// Why a user could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No such user name in the container's /etc/passwd.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    /// No such group name in the container's /etc/group.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn read_passwd(rootfs: &Path) -> Vec<PasswdEntry> {
    let text = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).unwrap_or(&"/").to_string(),
            })
        })
        .collect()
}

fn read_group(rootfs: &Path) -> Vec<GroupEntry> {
    let text = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolves `user` (empty = root) and `group_add` inside `rootfs`.
pub fn resolve(rootfs: &Path, user: &str, group_add: &[String]) -> Result<ResolvedUser, UserError> {
    let passwd = read_passwd(rootfs);
    let groups = read_group(rootfs);
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = passwd.iter().find(|e| e.name == user_part).or_else(|| {
        user_part
            .parse::<u32>()
            .ok()
            .and_then(|uid| passwd.iter().find(|e| e.uid == uid))
    });
    let (uid, mut gid, home, name) = match (entry, user_part.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, e.home.clone(), Some(e.name.clone())),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => return Err(UserError::NoUser(user_part.to_string())),
    };
    if let Some(g) = group_part {
        gid = group_id(&groups, g)?;
    }
    let mut additional: Vec<u32> = Vec::new();
    if group_part.is_none()
        && let Some(name) = &name
    {
        additional.extend(
            groups
                .iter()
                .filter(|g| g.members.contains(name))
                .map(|g| g.gid),
        );
    }
    for g in group_add {
        additional.push(group_id(&groups, g)?);
    }
    additional.retain(|&g| g != gid);
    additional.dedup();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids: additional,
        home,
    })
}

fn group_id(groups: &[GroupEntry], g: &str) -> Result<u32, UserError> {
    if let Some(e) = groups.iter().find(|e| e.name == g) {
        return Ok(e.gid);
    }
    g.parse().map_err(|_| UserError::NoGroup(g.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            etc.join("group"),
            "root:x:0:\nwheel:x:10:nobody\nnobody:x:65534:\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    #[test]
    fn resolves_names_ids_and_groups() {
        let r = rootfs();
        let u = resolve(r.path(), "", &[]).unwrap_or_default();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        let u = resolve(r.path(), "nobody", &[]).unwrap_or_default();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone()),
            (65534, 65534, vec![10])
        );
        let u = resolve(r.path(), "1000:wheel", &["root".into()]).unwrap_or_default();
        assert_eq!(
            (u.uid, u.gid, u.additional_gids.clone()),
            (1000, 10, vec![0])
        );
        assert!(matches!(
            resolve(r.path(), "ghost", &[]),
            Err(UserError::NoUser(_))
        ));
        assert!(matches!(
            resolve(r.path(), "0:ghosts", &[]),
            Err(UserError::NoGroup(_))
        ));
    }
}
