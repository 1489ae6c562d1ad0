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
    let memory = oci_spec::runtime::LinuxMemoryBuilder::default().limit(limit).swap(limit).build().expect("memory");
    let res = b.linux_mut().resources_mut().get_or_insert_with(Default::default);
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
    let mut b = shell_bundle(
        // busybox sh gives up at the first failed fork: bomb in a subshell so the init survives.
        "(i=0; while [ $i -lt 60 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done) 2>&1; echo ended; exec sleep 30 >/dev/null 2>&1",
    );
    let pids = oci_spec::runtime::LinuxPidsBuilder::default().limit(20i64).build().expect("pids");
    b.linux_mut().resources_mut().get_or_insert_with(Default::default).set_pids(Some(pids));
    b.save().expect("save");
    let rt = b.runtime();
    let (pid, r) = create_captured(&b);
    rt.start(&b.id).expect("start");
    let out = read_all(r);
    assert!(out.contains("can't fork") && out.contains("ended"), "{out}");
    let mut running = 0;
    for _ in 0..200 {
        running = running.max(rt.ps(&b.id).expect("ps").len());
        if running >= 15 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(running <= 20, "{running} processes despite the limit");
    assert!(running >= 15, "only {running} processes: the bomb did not reach the limit: {out} {:?}", nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG)));
    assert!(rt.stats(&b.id).expect("stats").pids.current <= 20);
    rt.delete(&b.id, true).expect("delete");
    let _ = wait(pid);
}
