//! The engine speaks no HTTP (DESIGN.md): fails when the crate grows a dependency on an HTTP
//! stack, read from `cargo metadata` so transitive paths through our own crates count too.

use std::process::Command;

#[test]
fn engine_has_no_http_dependencies() {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let engine = packages
        .iter()
        .find(|p| p["name"] == "berth-engine")
        .unwrap_or_else(|| panic!("berth-engine not in metadata"));
    let forbidden = [
        "axum",
        "hyper",
        "hyper-util",
        "http",
        "berth-server",
        "tower",
    ];
    for dep in engine["dependencies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let name = dep["name"].as_str().unwrap_or_default();
        let dev = dep["kind"] == "dev";
        assert!(
            dev || !forbidden.contains(&name),
            "berth-engine must not depend on {name}"
        );
    }
}
