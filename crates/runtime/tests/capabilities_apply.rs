//! Root tests of `capabilities::apply` in a forked child: the kernel's view (/proc/self/status)
//! must match the sets asked for.

mod security_support;

use berth_runtime::capabilities;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};
use security_support::{in_forked_child, require_root};

fn status_mask(status: &str, key: &str) -> Result<u64, String> {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .ok_or_else(|| format!("no {key} in /proc/self/status"))?;
    u64::from_str_radix(line.trim(), 16).map_err(|e| format!("{key}: {e}"))
}

#[test]
fn docker_default_set_shows_in_proc_status() {
    if !require_root() {
        return;
    }
    let set: Capabilities = capabilities::docker_default().into_iter().collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set))
        .set_inheritable(Some(Capabilities::new()))
        .set_ambient(Some(Capabilities::new()));
    let verdict = in_forked_child(|| {
        capabilities::apply(&caps).map_err(|e| e.to_string())?;
        let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
        for key in ["CapEff:", "CapPrm:", "CapBnd:"] {
            let mask = status_mask(&status, key)?;
            if mask != 0x0000_0000_a804_25fb {
                return Err(format!("{key} is {mask:#018x}, want 0x00000000a80425fb"));
            }
        }
        for key in ["CapInh:", "CapAmb:"] {
            let mask = status_mask(&status, key)?;
            if mask != 0 {
                return Err(format!("{key} is {mask:#x}, want 0"));
            }
        }
        Ok(())
    });
    assert_eq!(verdict, Ok(()));
}

#[test]
fn ambient_capabilities_survive_a_switch_to_non_root() {
    if !require_root() {
        return;
    }
    let set: Capabilities = [Capability::NetBindService, Capability::Setpcap]
        .into_iter()
        .collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set.clone()))
        .set_inheritable(Some(set.clone()))
        .set_ambient(Some([Capability::NetBindService].into_iter().collect()));
    let verdict = in_forked_child(|| {
        // What the core helper does around apply(): keep caps across setuid, switch, apply.
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
            return Err("PR_SET_KEEPCAPS failed".to_string());
        }
        nix::unistd::setresgid(65534.into(), 65534.into(), 65534.into())
            .map_err(|e| e.to_string())?;
        nix::unistd::setresuid(65534.into(), 65534.into(), 65534.into())
            .map_err(|e| e.to_string())?;
        capabilities::apply(&caps).map_err(|e| e.to_string())?;
        let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
        let want_amb = 1u64 << 10;
        let want = want_amb | 1 << 8;
        let got = (
            status_mask(&status, "CapEff:")?,
            status_mask(&status, "CapAmb:")?,
            status_mask(&status, "CapBnd:")?,
        );
        if got != (want, want_amb, want) {
            return Err(format!(
                "eff/amb/bnd = {got:x?}, want {:x?}",
                (want, want_amb, want)
            ));
        }
        Ok(())
    });
    assert_eq!(verdict, Ok(()));
}

#[test]
fn ambient_capabilities_without_inheritable_are_skipped_like_runc() {
    if !require_root() {
        return;
    }
    // `runc spec` writes ambient capabilities but no inheritable set; the kernel refuses to raise
    // those, and the container must still start with its other sets applied.
    let set: Capabilities = [Capability::NetBindService, Capability::Kill]
        .into_iter()
        .collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set.clone()))
        .set_inheritable(Some(Capabilities::new()))
        .set_ambient(Some(set));
    let verdict = in_forked_child(|| {
        capabilities::apply(&caps).map_err(|e| e.to_string())?;
        let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
        let want = 1u64 << 10 | 1 << 5;
        let got = (
            status_mask(&status, "CapEff:")?,
            status_mask(&status, "CapAmb:")?,
        );
        if got != (want, 0) {
            return Err(format!("eff/amb = {got:x?}, want {:x?}", (want, 0)));
        }
        Ok(())
    });
    assert_eq!(verdict, Ok(()));
}

#[test]
fn unavailable_names_what_the_host_lacks() -> anyhow::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let bounding = status_mask(&status, "CapBnd:").map_err(anyhow::Error::msg)?;
    let missing = capabilities::unavailable(&[Capability::Chown, Capability::SysResource])?;
    // On this VM root lacks CAP_SYS_RESOURCE (bit 24); elsewhere it may be present.
    assert_eq!(
        missing.contains(&Capability::SysResource),
        bounding & (1 << 24) == 0
    );
    assert_eq!(missing.contains(&Capability::Chown), bounding & 1 == 0);
    Ok(())
}
