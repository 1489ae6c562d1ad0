//! DESIGN.md's layering for the client side: `berth-client` may use only `berth-api` of our crates, and
//! `berth-cli` only `berth-client` and `berth-api`, even transitively; this fails when either grows another.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

fn metadata() -> Value {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            manifest,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Our own crates (`berth*`) reachable from `package` through normal dependencies.
fn workspace_crates_reachable(meta: &Value, package: &str) -> BTreeSet<String> {
    let name_of: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let deps_of: HashMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let normal: Vec<&str> = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (n["id"].as_str().unwrap(), normal)
        })
        .collect();
    let root = *name_of.iter().find(|(_, n)| **n == package).unwrap().0;
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    let mut visited = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !visited.insert(id) {
            continue;
        }
        for dep in &deps_of[id] {
            if name_of[dep].starts_with("berth") {
                seen.insert(name_of[dep].to_string());
            }
            stack.push(dep);
        }
    }
    seen
}

#[test]
fn client_and_cli_depend_only_on_the_layers_below() {
    let meta = metadata();
    let client = workspace_crates_reachable(&meta, "berth-client");
    assert_eq!(
        client,
        BTreeSet::from(["berth-api".to_string(), "berth-tls".to_string()])
    );
    let cli = workspace_crates_reachable(&meta, "berth-cli");
    assert_eq!(
        cli,
        BTreeSet::from([
            "berth-api".to_string(),
            "berth-client".to_string(),
            "berth-tls".to_string()
        ])
    );
}
