//! The runtime forks and clones: it must never pull in an async runtime or HTTP stack (DESIGN.md).

#[test]
fn runtime_has_no_tokio_hyper_or_axum() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "-p",
            "berth-runtime",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("oci-spec"), "unexpected tree: {tree}");
    for forbidden in ["tokio ", "hyper ", "axum "] {
        assert!(
            !tree.lines().any(|l| l.starts_with(forbidden)),
            "berth-runtime depends on {forbidden}"
        );
    }
}
