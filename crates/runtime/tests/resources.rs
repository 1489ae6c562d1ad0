//! Cgroup limits seen from a container: memory (OOM kill, counted), pids (fork bomb stopped), stats.
mod common;

use common::*;

#[test]
fn memory_limit_oom_kills_and_is_counted() {
    if !require_root() {
        return;
    }
    let mut b = shell_bundle("exec tail /dev/zero");
    let limit: i64 = 32 << 20;
    let memory = oci_spec::runtime::LinuxMemoryBuilder::default()
        .limit(limit)
        .swap(limit)
        .build()
        .expect("memory");
    let res = b
        .linux_mut()
        .resources_mut()
        .get_or_insert_with(Default::default);
    res.set_memory(Some(memory));
    b.save().expect("save");
    let rt = b.runtime();
    let (pid, r) = create_captured(&b);
    assert_eq!(rt.oom_kill_count(&b.id).expect("count"), 0);
    rt.start(&b.id).expect("start");
    let _ = read_all(r);
    assert_eq!(wait(pid), 137);
    assert!(rt.oom_kill_count(&b.id).expect("count") >= 1);
    let stats = rt.stats(&b.id).expect("stats");
    assert_eq!(stats.memory.limit, Some(limit as u64));
    rt.delete(&b.id, false).expect("delete");
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !require_root() {
        return;
    }
    // busybox sh gives up at the first failed fork: bomb in a subshell so the init survives.
    let script = "(i=0; while [ $i -lt 40 ]; do sleep 5 >/dev/null 2>&1 & i=$((i+1)); done) 2>&1; echo ended; true";
    let limited = |limit: Option<i64>| {
        let mut b = shell_bundle(script);
        if let Some(limit) = limit {
            let pids = oci_spec::runtime::LinuxPidsBuilder::default()
                .limit(limit)
                .build()
                .expect("pids");
            b.linux_mut()
                .resources_mut()
                .get_or_insert_with(Default::default)
                .set_pids(Some(pids));
        }
        b.save().expect("save");
        let rt = b.runtime();
        let (pid, r) = create_captured(&b);
        assert_eq!(
            rt.stats(&b.id).expect("stats").pids.limit,
            limit.map(|l| l as u64)
        );
        rt.start(&b.id).expect("start");
        let out = read_all(r);
        let _ = wait(pid);
        rt.delete(&b.id, true).expect("delete");
        out
    };
    let out = limited(Some(20));
    assert!(
        out.contains("can't fork") && out.ends_with("ended\n"),
        "{out}"
    );
    // The same script without the limit forks all 40: the check above can fail.
    assert_eq!(limited(None), "ended\n");
}

#[test]
fn container_sees_its_own_cgroup_not_the_hosts() {
    if !require_root() {
        return;
    }
    // Docker's spec on a v1 host has no cgroup namespace: /sys/fs/cgroup/<ctl> must still be the
    // container's own directory (its limit, no sibling cgroups), as runc binds it.
    let mut b = shell_bundle(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup/memory | grep -c '^berth' || true",
    );
    let limit: i64 = 48 << 20;
    let memory = oci_spec::runtime::LinuxMemoryBuilder::default()
        .limit(limit)
        .build()
        .expect("memory");
    let res = b
        .linux_mut()
        .resources_mut()
        .get_or_insert_with(Default::default);
    res.set_memory(Some(memory));
    b.save().expect("save");
    let rt = b.runtime();
    let (pid, r) = create_captured(&b);
    rt.start(&b.id).expect("start");
    let out = read_all(r);
    assert_eq!(wait(pid), 0, "output: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().copied(), Some("50331648"), "output: {out}");
    assert_eq!(lines.get(1).copied(), Some("0"), "output: {out}");
    rt.delete(&b.id, false).expect("delete");
}
