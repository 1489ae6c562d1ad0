//! Fails when a crate grows a dependency its layer forbids (DESIGN.md's workspace table):
//! the runtime stays free of async/HTTP, the server stays free of syscalls and the engine, and
//! berth crates only depend on crates listed above them.

use std::collections::BTreeMap;
use std::process::Command;

/// berth crates each crate may depend on (normal and build dependencies; dev-dependencies are
/// free, tests may use anything).
fn allowed_berth_deps() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("berth-oci", &[][..]),
        ("berth-tls", &[][..]),
        ("berth-api", &["berth-oci"][..]),
        ("berth-runtime", &["berth-oci"][..]),
        ("berth-image", &["berth-oci"][..]),
        (
            "berth-distribution",
            &["berth-oci", "berth-image", "berth-tls"][..],
        ),
        ("berth-network", &["berth-oci"][..]),
        ("berth-build", &["berth-oci", "berth-image"][..]),
        (
            "berth-engine",
            &[
                "berth-oci",
                "berth-api",
                "berth-image",
                "berth-distribution",
                "berth-network",
                "berth-build",
                "berth-runtime",
                "berth-shim",
            ][..],
        ),
        ("berth-server", &["berth-api", "berth-tls"][..]),
        ("berth-client", &["berth-api", "berth-tls"][..]),
        ("berth-cli", &["berth-client", "berth-api", "berth-oci"][..]),
        ("berth-shim", &["berth-runtime", "berth-oci"][..]),
        ("berth-runtime-cli", &["berth-runtime", "berth-oci"][..]),
        ("berth-registry", &["berth-distribution", "berth-oci"][..]),
        (
            "berthd",
            &[
                "berth-oci",
                "berth-api",
                "berth-image",
                "berth-distribution",
                "berth-network",
                "berth-build",
                "berth-runtime",
                "berth-engine",
                "berth-server",
                "berth-shim",
            ][..],
        ),
        ("berth-e2e", &[][..]),
        ("berth-workspace-tests", &[][..]),
    ])
}

/// External crates a layer must never pull in, with the reason shown on failure.
fn forbidden_external() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut rules = Vec::new();
    for dep in ["tokio", "hyper", "axum", "reqwest"] {
        rules.push((
            "berth-runtime",
            dep,
            "the runtime forks and clones: no async runtime",
        ));
        rules.push(("berth-shim", dep, "the shim is small and single-threaded"));
    }
    for dep in ["nix", "libc", "caps", "libseccomp"] {
        rules.push(("berth-server", dep, "the API layer knows no syscalls"));
        rules.push(("berth-api", dep, "the API models are pure data"));
    }
    for dep in ["axum", "hyper", "reqwest"] {
        rules.push(("berth-api", dep, "the API models are pure data"));
    }
    for dep in [
        "nix", "libc", "tokio", "rusqlite", "reqwest", "hyper", "axum",
    ] {
        rules.push((
            "berth-oci",
            dep,
            "the formats crate is pure: no I/O, no syscalls",
        ));
    }
    rules
}

#[test]
fn crates_respect_the_layering() -> Result<(), Box<dyn std::error::Error>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()?;
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let allowed = allowed_berth_deps();
    let forbidden = forbidden_external();
    let mut problems = Vec::new();
    let packages = meta["packages"]
        .as_array()
        .ok_or("no packages in metadata")?;
    for pkg in packages {
        let name = pkg["name"].as_str().ok_or("package without a name")?;
        let Some(ok) = allowed.get(name) else {
            problems.push(format!(
                "{name}: not in the layering table of this test and DESIGN.md"
            ));
            continue;
        };
        for dep in pkg["dependencies"]
            .as_array()
            .ok_or("no dependencies list")?
        {
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let dep_name = dep["name"].as_str().ok_or("dependency without a name")?;
            if dep_name.starts_with("berth") && !ok.contains(&dep_name) {
                problems.push(format!(
                    "{name} depends on {dep_name}, which its layer forbids"
                ));
            }
            for (krate, bad, why) in &forbidden {
                if *krate == name && *bad == dep_name {
                    problems.push(format!("{name} depends on {dep_name}: {why}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.join("\n")
    );
    Ok(())
}
