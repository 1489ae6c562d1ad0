//! Root tests of `cgroups` against the host's real cgroup filesystem (v1 on the CI VM): limits
//! read back from the kernel, real member processes, stats, freezing, OOM kills, removal.

mod security_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_runtime::cgroups::{Cgroup, Layout};
use oci_spec::runtime::LinuxResources;
use security_support::{require_root, unique};

/// Kills the test's processes and removes its cgroup even when an assertion fails.
struct Guard {
    cgroup: Cgroup,
    children: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.cgroup.thaw();
        let _ = self.cgroup.destroy();
    }
}

fn new_guard(name: &str) -> anyhow::Result<Guard> {
    let cgroup = Cgroup::new(Layout::detect()?, &format!("/{name}"));
    cgroup.create()?;
    Ok(Guard {
        cgroup,
        children: Vec::new(),
    })
}

/// A process that waits for a line on stdin before exec'ing `program` (so it can be moved into
/// the cgroup first).
fn spawn_gated(shell_cmd: &str) -> anyhow::Result<Child> {
    Ok(Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("read go; exec {shell_cmd}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

fn release(child: &mut Child) -> anyhow::Result<()> {
    let stdin = child
        .stdin
        .as_mut()
        .ok_or_else(|| anyhow::anyhow!("no stdin"))?;
    stdin.write_all(b"go\n")?;
    Ok(())
}

/// Waits until the gated child has exec'd `comm` (its new pages are then charged to the cgroup).
fn wait_for_exec(pid: i32, comm: &str) -> anyhow::Result<()> {
    for _ in 0..500 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm"))?.trim() == comm {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    anyhow::bail!("pid {pid} did not exec {comm}")
}

fn v1_root(layout: &Layout) -> Option<PathBuf> {
    match layout {
        Layout::V1 { root } => Some(root.clone()),
        Layout::V2 { .. } => None,
    }
}

fn kernel(root: &Path, hierarchy: &str, name: &str, file: &str) -> anyhow::Result<String> {
    Ok(
        std::fs::read_to_string(root.join(hierarchy).join(name).join(file))?
            .trim()
            .to_string(),
    )
}

/// Directories named `name` left in any hierarchy.
fn leftovers(root: &Path, name: &str) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(name))
        .filter(|p| p.exists())
        .collect()
}

fn resources(json: &str) -> anyhow::Result<LinuxResources> {
    Ok(serde_json::from_str(json)?)
}

#[test]
fn v1_limits_members_stats_freeze_kill_destroy() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let layout = Layout::detect()?;
    let Some(root) = v1_root(&layout) else {
        eprintln!("host is cgroup v2; this test covers v1");
        return Ok(());
    };
    let name = unique("berth-test");
    let mut guard = new_guard(&name)?;
    guard.cgroup.apply(&resources(
        r#"{
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 50},
        "blockIO": {"weight": 500}
    }"#,
    )?)?;
    let k = |h: &str, f: &str| kernel(&root, h, &name, f);
    assert_eq!(k("memory", "memory.limit_in_bytes")?, "67108864");
    assert_eq!(k("memory", "memory.soft_limit_in_bytes")?, "33554432");
    if root.join("memory/memory.memsw.limit_in_bytes").exists() {
        assert_eq!(k("memory", "memory.memsw.limit_in_bytes")?, "134217728");
    }
    assert_eq!(k("memory", "memory.swappiness")?, "10");
    assert_eq!(k("cpu", "cpu.shares")?, "512");
    assert_eq!(k("cpu", "cpu.cfs_quota_us")?, "50000");
    assert_eq!(k("cpu", "cpu.cfs_period_us")?, "100000");
    assert_eq!(k("cpuset", "cpuset.cpus")?, "0");
    assert_eq!(k("cpuset", "cpuset.mems")?, "0");
    assert_eq!(k("pids", "pids.max")?, "50");
    let weight = k("blkio", "blkio.weight").or_else(|_| k("blkio", "blkio.bfq.weight"))?;
    assert!(weight.ends_with("500"), "blkio weight {weight}");
    assert_eq!(k("devices", "devices.list")?, "c 1:3 rwm");

    let mut child = spawn_gated("sleep 100")?;
    let pid = child.id() as i32;
    guard.cgroup.add_pid(pid)?;
    release(&mut child)?;
    guard.children.push(child);
    wait_for_exec(pid, "sleep")?;
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    for controller in [
        "memory", "cpu", "pids", "freezer", "devices", "blkio", "cpuset",
    ] {
        let joined = membership
            .lines()
            .any(|l| l.contains(controller) && l.ends_with(&format!(":/{name}")));
        assert!(joined, "{controller} not joined:\n{membership}");
    }
    assert_eq!(guard.cgroup.pids()?, vec![pid]);

    let stats = guard.cgroup.stats()?;
    assert_eq!(stats.pids.current, 1);
    assert_eq!(stats.pids.limit, Some(50));
    assert_eq!(stats.memory.limit, Some(67108864));
    assert!(stats.memory.usage > 0, "{stats:?}");
    // cpuacct may not have charged a freshly exec'd sleeper anything yet: only the read-out
    // itself is checked for cpu (its per-cpu array has one entry per cpu).
    assert!(!stats.cpu.per_cpu_ns.is_empty());

    guard.cgroup.freeze()?;
    assert!(guard.cgroup.is_frozen()?);
    assert_eq!(k("freezer", "freezer.state")?, "FROZEN");
    let state = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    assert!(
        state.contains("State:\tD"),
        "frozen task not in D state:\n{state}"
    );
    guard.cgroup.thaw()?;
    assert!(!guard.cgroup.is_frozen()?);
    assert_eq!(k("freezer", "freezer.state")?, "THAWED");

    guard.cgroup.kill_all(libc::SIGKILL)?;
    let status = guard.children[0].wait()?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    guard.cgroup.destroy()?;
    assert_eq!(leftovers(&root, &name), Vec::<PathBuf>::new());
    Ok(())
}

#[test]
fn v1_oom_kill_is_counted() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let name = unique("berth-test-oom");
    let guard = new_guard(&name)?;
    // memsw == limit: no swap escape hatch even on hosts with swap.
    guard.cgroup.apply(&resources(
        r#"{"memory": {"limit": 33554432, "swap": 33554432}}"#,
    )?)?;
    assert_eq!(guard.cgroup.oom_kill_count()?, 0);
    let mut child = spawn_gated("dd if=/dev/zero of=/dev/null bs=200M count=1")?;
    guard.cgroup.add_pid(child.id() as i32)?;
    release(&mut child)?;
    let status = child.wait()?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert_eq!(guard.cgroup.oom_kill_count()?, 1);
    Ok(())
}

#[test]
fn v1_refused_limit_names_file_and_value() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let name = unique("berth-test-busy");
    let mut guard = new_guard(&name)?;
    let mut child = spawn_gated("sleep 100")?;
    let pid = child.id() as i32;
    guard.cgroup.add_pid(pid)?;
    release(&mut child)?;
    guard.children.push(child);
    // After exec the new image's anonymous pages are charged here and cannot be reclaimed
    // without swap.
    wait_for_exec(pid, "sleep")?;
    let err = guard
        .cgroup
        .apply(&resources(r#"{"memory": {"limit": 4096}}"#)?)
        .err()
        .ok_or_else(|| anyhow::anyhow!("a 4096-byte limit under a live process was accepted"))?;
    let text = err.to_string();
    assert!(
        text.contains("memory.limit_in_bytes: invalid value \"4096\": Device or resource busy"),
        "{text}"
    );
    assert_eq!(
        err.kind(),
        berth_runtime::cgroups::ErrorKind::InvalidArgument
    );
    Ok(())
}

#[test]
fn v1_memory_limits_update_in_kernel_order() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let layout = Layout::detect()?;
    let Some(root) = v1_root(&layout) else {
        return Ok(());
    };
    if !root.join("memory/memory.memsw.limit_in_bytes").exists() {
        eprintln!("kernel without swap accounting; nothing to order");
        return Ok(());
    }
    let name = unique("berth-test-update");
    let guard = new_guard(&name)?;
    let k = |f: &str| kernel(&root, "memory", &name, f);
    // The kernel insists on limit <= memsw at every step: growing must raise memsw first,
    // shrinking must lower the limit first.
    for (limit, swap) in [
        (64u64 << 20, 128u64 << 20),
        (32 << 20, 32 << 20),
        (256 << 20, 512 << 20),
    ] {
        let json = format!(r#"{{"memory": {{"limit": {limit}, "swap": {swap}}}}}"#);
        guard.cgroup.apply(&resources(&json)?)?;
        assert_eq!(k("memory.limit_in_bytes")?, limit.to_string());
        assert_eq!(k("memory.memsw.limit_in_bytes")?, swap.to_string());
    }
    guard
        .cgroup
        .apply(&resources(r#"{"memory": {"limit": -1}}"#)?)?;
    assert_eq!(
        k("memory.limit_in_bytes")?,
        k("memory.memsw.limit_in_bytes")?
    );
    Ok(())
}

#[test]
fn destroy_of_absent_cgroup_is_ok() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let cgroup = Cgroup::new(
        Layout::detect()?,
        &format!("/{}", unique("berth-test-absent")),
    );
    cgroup.destroy()?;
    Ok(())
}

/// Restores a cgroup2 root's cgroup.subtree_control to what it held before the test.
struct SubtreeRestore {
    file: PathBuf,
    before: String,
}

impl Drop for SubtreeRestore {
    fn drop(&mut self) {
        let before: Vec<&str> = self.before.split_whitespace().collect();
        let now = std::fs::read_to_string(&self.file).unwrap_or_default();
        for controller in now.split_whitespace().filter(|c| !before.contains(c)) {
            let _ = std::fs::write(&self.file, format!("-{controller}"));
        }
    }
}

/// The v2 code paths that need no controller (create, join, freeze via cgroup.freeze and
/// cgroup.events, cgroup.kill, cpu.stat, destroy) against a real cgroup2: on a hybrid host the
/// empty one at /sys/fs/cgroup/unified, on a pure v2 host the real root.
#[test]
fn v2_create_join_freeze_kill_destroy() -> anyhow::Result<()> {
    if !require_root() {
        return Ok(());
    }
    let root = match Layout::detect()? {
        Layout::V2 { root } => root,
        Layout::V1 { root } => root.join("unified"),
    };
    let is_cgroup2 = nix::sys::statfs::statfs(&root)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    if !is_cgroup2 {
        eprintln!("no cgroup2 mounted at {}; nothing to test", root.display());
        return Ok(());
    }
    let _restore = SubtreeRestore {
        file: root.join("cgroup.subtree_control"),
        before: std::fs::read_to_string(root.join("cgroup.subtree_control"))?,
    };
    let name = unique("berth-test-v2");
    let cgroup = Cgroup::new(Layout::V2 { root: root.clone() }, &format!("/{name}/leaf"));
    cgroup.create()?;
    let mut guard = Guard {
        cgroup: Cgroup::new(Layout::V2 { root: root.clone() }, &format!("/{name}")),
        children: Vec::new(),
    };
    assert_eq!(cgroup.v2_dir(), Some(root.join(&name).join("leaf")));

    let mut child = spawn_gated("sleep 100")?;
    let pid = child.id() as i32;
    cgroup.add_pid(pid)?;
    release(&mut child)?;
    guard.children.push(child);
    wait_for_exec(pid, "sleep")?;
    assert_eq!(cgroup.pids()?, vec![pid]);
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    assert!(
        membership.contains(&format!("0::/{name}/leaf")),
        "{membership}"
    );

    cgroup.freeze()?;
    assert!(cgroup.is_frozen()?);
    let state = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    assert!(
        state.contains("State:\tS") || state.contains("State:\tD"),
        "{state}"
    );
    cgroup.thaw()?;
    assert!(!cgroup.is_frozen()?);
    let stats = cgroup.stats()?;
    assert!(stats.cpu.total_ns > 0, "{stats:?}");

    // Any signal but SIGKILL goes through freeze, signal each member, thaw.
    cgroup.kill_all(libc::SIGTERM)?;
    let status = guard.children[0].wait()?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM)
    );
    assert!(!cgroup.is_frozen()?);

    // SIGKILL goes through cgroup.kill when the kernel has it.
    let mut second = spawn_gated("sleep 100")?;
    let second_pid = second.id() as i32;
    cgroup.add_pid(second_pid)?;
    release(&mut second)?;
    guard.children.push(second);
    wait_for_exec(second_pid, "sleep")?;
    cgroup.kill_all(libc::SIGKILL)?;
    let status = guard.children[1].wait()?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    guard.cgroup.destroy()?;
    assert!(!root.join(&name).exists());
    Ok(())
}
