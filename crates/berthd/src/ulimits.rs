//! The daemon's default ulimits (`--default-ulimit name=soft[:hard]`, daemon.json `default-ulimits`),
//! checked as Docker checks them so a typo fails at start, not at the first container.

use berth_api::config::Ulimit;
use berth_api::ulimit::ULIMIT_NAMES;
use std::collections::HashMap;

/// Parses `name=soft[:hard]` (hard defaults to soft), with Docker's messages.
pub fn parse_ulimit(spec: &str) -> anyhow::Result<Ulimit> {
    Ok(berth_api::ulimit::parse_ulimit(spec)?)
}

/// daemon.json's `{"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}` map, sorted by name;
/// a missing `Name` is taken from the key.
pub fn ulimits_from_file(map: &HashMap<String, Ulimit>) -> anyhow::Result<Vec<Ulimit>> {
    let mut out = map
        .iter()
        .map(|(key, u)| {
            let name = if u.name.is_empty() {
                key.clone()
            } else {
                u.name.clone()
            };
            check(Ulimit { name, ..u.clone() })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn check(u: Ulimit) -> anyhow::Result<Ulimit> {
    if !ULIMIT_NAMES.contains(&u.name.as_str()) {
        anyhow::bail!("invalid ulimit type: {}", u.name);
    }
    if u.hard != -1 && u.soft > u.hard {
        anyhow::bail!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft,
            u.hard
        );
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_ulimit_notation() -> anyhow::Result<()> {
        let u = parse_ulimit("nofile=1024:2048")?;
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        let u = parse_ulimit("nproc=300")?;
        assert_eq!((u.soft, u.hard), (300, 300));
        assert_eq!(
            parse_ulimit("nofile=10:5").map_err(|e| e.to_string()).err(),
            Some("ulimit soft limit must be less than or equal to hard limit: 10 > 5".into())
        );
        assert_eq!(
            parse_ulimit("bogus=1").map_err(|e| e.to_string()).err(),
            Some("invalid ulimit type: bogus".into())
        );
        assert!(parse_ulimit("nofile").is_err());
        assert!(parse_ulimit("nofile=x").is_err());
        Ok(())
    }

    #[test]
    fn file_map_takes_names_from_keys() -> anyhow::Result<()> {
        let map: HashMap<String, Ulimit> = serde_json::from_str(
            r#"{"nofile":{"Name":"nofile","Hard":2000,"Soft":1000},"nproc":{"Soft":5,"Hard":6}}"#,
        )?;
        let list = ulimits_from_file(&map)?;
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].name.as_str(), list[0].soft, list[0].hard),
            ("nofile", 1000, 2000)
        );
        assert_eq!(list[1].name, "nproc");
        Ok(())
    }
}
