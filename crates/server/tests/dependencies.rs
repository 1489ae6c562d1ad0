//! Guards the layering in DESIGN.md: `berth-api` stays pure (no HTTP, no syscalls) and `berth-server` never
//! reaches the runtime or raw syscalls; fails when either grows a forbidden dependency, even transitively.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Normal (non-dev, non-build) dependencies of `package`, transitively, by crate name.
fn normal_deps_of(package: &str) -> BTreeSet<String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = Command::new(env!("CARGO"))
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
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = names
        .iter()
        .find(|(_, name)| **name == package)
        .map(|(id, _)| *id)
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap();
            if normal && seen.insert(names[dep_id].to_string()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

fn assert_none_of(package: &str, forbidden: &[&str]) {
    let deps = normal_deps_of(package);
    let found: Vec<&&str> = forbidden.iter().filter(|f| deps.contains(**f)).collect();
    assert!(
        found.is_empty(),
        "{package} depends on forbidden crates {found:?}"
    );
}

#[test]
fn api_stays_pure() {
    assert_none_of(
        "berth-api",
        &[
            "axum",
            "hyper",
            "http",
            "nix",
            "berth-runtime",
            "berth-engine",
            "rusqlite",
            "berth-server",
        ],
    );
}

#[test]
fn server_never_reaches_the_runtime() {
    assert_none_of(
        "berth-server",
        &["nix", "berth-runtime", "caps", "libseccomp", "rusqlite"],
    );
}
