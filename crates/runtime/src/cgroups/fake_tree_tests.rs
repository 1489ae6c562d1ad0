//! Unit tests of the exact files and values written, against fake v1 and v2 trees in a temp dir
//! that hold the files the kernel would provide.

use std::path::Path;
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use super::resources::{FileWrite, v1_writes, v2_writes};
use super::{Cgroup, Layout};

type TestResult = anyhow::Result<()>;

fn write(path: &Path, content: &str) -> TestResult {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)?;
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)?.trim().to_string())
}

fn full_resources() -> anyhow::Result<LinuxResources> {
    Ok(serde_json::from_str(
        r#"{
        "devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
        ],
        "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824,
                   "swappiness": 10, "disableOOMKiller": true},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500,
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
        "network": {"classID": 1048577}
    }"#,
    )?)
}

/// (controller/file, value) pairs for the first candidate of each write.
fn pairs(writes: &[FileWrite]) -> Vec<(String, String)> {
    writes
        .iter()
        .map(|w| {
            let (file, value) = w.candidates[0].clone();
            (format!("{}/{}", w.controller, file), value)
        })
        .collect()
}

#[test]
fn v1_writes_for_full_resources() -> TestResult {
    let got = pairs(&v1_writes(&full_resources()?)?);
    let want: Vec<(String, String)> = [
        ("memory/memory.soft_limit_in_bytes", "268435456"),
        ("memory/memory.swappiness", "10"),
        ("memory/memory.oom_control", "1"),
        ("cpu/cpu.shares", "512"),
        ("cpu/cpu.cfs_period_us", "100000"),
        ("cpu/cpu.cfs_quota_us", "50000"),
        ("cpuset/cpuset.cpus", "0"),
        ("cpuset/cpuset.mems", "0"),
        ("pids/pids.max", "100"),
        ("blkio/blkio.weight", "500"),
        ("blkio/blkio.throttle.read_bps_device", "8:0 1048576"),
        ("devices/devices.deny", "a *:* rwm"),
        ("devices/devices.allow", "c 1:3 rwm"),
        ("net_cls/net_cls.classid", "1048577"),
    ]
    .iter()
    .map(|(f, v)| (f.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn v2_writes_for_full_resources() -> TestResult {
    let got = pairs(&v2_writes(&full_resources()?)?);
    let want: Vec<(String, String)> = [
        ("memory/memory.swap.max", "536870912"),
        ("memory/memory.max", "536870912"),
        ("memory/memory.low", "268435456"),
        ("cpu/cpu.weight", "20"),
        ("cpu/cpu.max", "50000 100000"),
        ("cpuset/cpuset.cpus", "0"),
        ("cpuset/cpuset.mems", "0"),
        ("pids/pids.max", "100"),
        ("io/io.bfq.weight", "500"),
        ("io/io.max", "8:0 rbps=1048576"),
    ]
    .iter()
    .map(|(f, v)| (f.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
    Ok(())
}

/// Files of each fake v1 hierarchy, with their initial content (root level and cgroup level).
const V1_FILES: &[(&str, &[(&str, &str)])] = &[
    (
        "memory",
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.soft_limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.swappiness", "60"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
            ("memory.usage_in_bytes", "4096"),
            ("memory.max_usage_in_bytes", "8192"),
            ("memory.failcnt", "0"),
            ("memory.stat", "cache 100\nrss 200\ntotal_cache 300\n"),
        ],
    ),
    (
        "cpu,cpuacct",
        &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
            (
                "cpu.stat",
                "nr_periods 5\nnr_throttled 2\nthrottled_time 777\n",
            ),
            ("cpuacct.usage", "1000"),
            ("cpuacct.usage_percpu", "600 400 \n"),
            ("cpuacct.usage_user", "700"),
            ("cpuacct.usage_sys", "300"),
            ("cpuacct.stat", "user 7\nsystem 3\n"),
        ],
    ),
    ("cpuset", &[("cpuset.cpus", ""), ("cpuset.mems", "")]),
    ("pids", &[("pids.max", "max"), ("pids.current", "3")]),
    (
        "blkio",
        &[
            ("blkio.bfq.weight", "100"),
            ("blkio.throttle.read_bps_device", ""),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 512\nTotal 4608\n",
            ),
        ],
    ),
    ("devices", &[("devices.allow", ""), ("devices.deny", "")]),
    ("freezer", &[("freezer.state", "THAWED")]),
    (
        "net_cls,net_prio",
        &[("net_cls.classid", "0"), ("net_prio.ifpriomap", "")],
    ),
    ("systemd", &[]),
];

/// Builds a fake v1 root: hierarchies with their files at the root and in `rel` (the kernel
/// creates a cgroup's files on mkdir; the fake has them up front), co-mount symlinks, and an
/// empty cgroup2 at unified that must be ignored.
fn fake_v1(root: &Path, rel: &str) -> TestResult {
    for (hierarchy, files) in V1_FILES {
        let mut dirs = vec![root.join(hierarchy)];
        let mut dir = root.join(hierarchy);
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            dir = dir.join(part);
            dirs.push(dir.clone());
        }
        for (depth, dir) in dirs.iter().enumerate() {
            write(&dir.join("cgroup.procs"), "")?;
            for (file, content) in *files {
                let content = match (*file, depth) {
                    ("cpuset.cpus", 0) => "0-1",
                    ("cpuset.mems", 0) => "0",
                    _ => content,
                };
                write(&dir.join(file), content)?;
            }
        }
        if hierarchy.contains(',') {
            for alias in hierarchy.split(',') {
                std::os::unix::fs::symlink(hierarchy, root.join(alias))?;
            }
        }
    }
    write(&root.join("unified/cgroup.procs"), "")?;
    write(&root.join("unified/cgroup.controllers"), "hugetlb")?;
    Ok(())
}

#[test]
fn v1_fake_tree_apply_writes_the_kernel_files() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    fake_v1(root, "berth/c1")?;
    let cg = Cgroup::new(
        Layout::V1 {
            root: root.to_path_buf(),
        },
        "/berth/c1",
    );
    cg.create()?;
    // cpuset chain filled from the root for the intermediate and the leaf.
    assert_eq!(read(&root.join("cpuset/berth/cpuset.cpus"))?, "0-1");
    assert_eq!(read(&root.join("cpuset/berth/c1/cpuset.mems"))?, "0");
    cg.apply(&full_resources()?)?;
    let d = |h: &str, f: &str| root.join(h).join("berth/c1").join(f);
    assert_eq!(read(&d("memory", "memory.limit_in_bytes"))?, "536870912");
    assert_eq!(
        read(&d("memory", "memory.memsw.limit_in_bytes"))?,
        "1073741824"
    );
    assert_eq!(
        read(&d("memory", "memory.soft_limit_in_bytes"))?,
        "268435456"
    );
    assert_eq!(read(&d("memory", "memory.swappiness"))?, "10");
    assert_eq!(read(&d("memory", "memory.oom_control"))?, "1");
    assert_eq!(read(&d("cpu,cpuacct", "cpu.shares"))?, "512");
    assert_eq!(read(&d("cpu,cpuacct", "cpu.cfs_quota_us"))?, "50000");
    assert_eq!(read(&d("cpu,cpuacct", "cpu.cfs_period_us"))?, "100000");
    assert_eq!(read(&d("cpuset", "cpuset.cpus"))?, "0");
    assert_eq!(read(&d("pids", "pids.max"))?, "100");
    // blkio.weight is absent in this fake, so the bfq file takes the weight.
    assert_eq!(read(&d("blkio", "blkio.bfq.weight"))?, "500");
    assert!(!d("blkio", "blkio.weight").exists());
    assert_eq!(
        read(&d("blkio", "blkio.throttle.read_bps_device"))?,
        "8:0 1048576"
    );
    assert_eq!(read(&d("devices", "devices.deny"))?, "a *:* rwm");
    assert_eq!(read(&d("devices", "devices.allow"))?, "c 1:3 rwm");
    assert_eq!(read(&d("net_cls,net_prio", "net_cls.classid"))?, "1048577");
    assert!(
        !root.join("unified/berth").exists(),
        "the hybrid cgroup2 must be left alone"
    );

    cg.add_pid(4242)?;
    for h in [
        "memory",
        "cpu,cpuacct",
        "cpuset",
        "pids",
        "blkio",
        "devices",
        "freezer",
        "systemd",
    ] {
        assert_eq!(read(&d(h, "cgroup.procs"))?, "4242", "{h}");
    }
    assert_eq!(cg.pids()?, vec![4242]);
    write(
        &d("memory", "memory.oom_control"),
        "oom_kill_disable 1\nunder_oom 0\noom_kill 2\n",
    )?;
    assert_eq!(cg.oom_kill_count()?, 2);

    let stats = cg.stats()?;
    assert_eq!(stats.memory.usage, 4096);
    assert_eq!(stats.memory.max_usage, Some(8192));
    assert_eq!(stats.memory.limit, Some(536870912));
    assert_eq!(stats.memory.cache, 300);
    assert_eq!(stats.cpu.total_ns, 1000);
    assert_eq!(stats.cpu.per_cpu_ns, vec![600, 400]);
    assert_eq!((stats.cpu.user_ns, stats.cpu.system_ns), (700, 300));
    assert_eq!(
        (
            stats.cpu.periods,
            stats.cpu.throttled_periods,
            stats.cpu.throttled_ns
        ),
        (5, 2, 777)
    );
    assert_eq!((stats.pids.current, stats.pids.limit), (3, Some(100)));
    assert_eq!(stats.blkio.len(), 2);
    assert_eq!(stats.blkio[0].op, "Read");
    assert_eq!(stats.blkio[0].value, 4096);

    cg.freeze()?;
    assert_eq!(read(&d("freezer", "freezer.state"))?, "FROZEN");
    assert!(cg.is_frozen()?);
    cg.thaw()?;
    assert!(!cg.is_frozen()?);

    cg.destroy()?;
    for (h, _) in V1_FILES {
        assert!(!root.join(h).join("berth/c1").exists(), "{h}");
    }
    cg.destroy()?; // absent is fine
    Ok(())
}

#[test]
fn v1_memory_swap_rejected_names_file_and_value() -> TestResult {
    let tmp = tempfile::tempdir()?;
    fake_v1(tmp.path(), "c2")?;
    let cg = Cgroup::new(
        Layout::V1 {
            root: tmp.path().to_path_buf(),
        },
        "c2",
    );
    // Make the swap file a directory so the write fails like a kernel refusal would.
    let memsw = tmp.path().join("memory/c2/memory.memsw.limit_in_bytes");
    std::fs::remove_file(&memsw)?;
    std::fs::create_dir(&memsw)?;
    let res: LinuxResources = serde_json::from_str(r#"{"memory": {"limit": 4096, "swap": 8192}}"#)?;
    let err = cg
        .apply(&res)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("memory.memsw.limit_in_bytes: invalid value \"8192\""),
        "{err}"
    );
    Ok(())
}

/// Controller files of a fake v2 leaf.
const V2_LEAF_FILES: &[(&str, &str)] = &[
    ("cgroup.procs", ""),
    ("cgroup.freeze", "0"),
    ("cgroup.events", "populated 0\nfrozen 0\n"),
    ("cgroup.kill", ""),
    ("memory.max", "max"),
    ("memory.swap.max", "max"),
    ("memory.low", "0"),
    ("memory.current", "8192"),
    ("memory.peak", "16384"),
    ("memory.stat", "anon 100\nfile 200\n"),
    ("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"),
    ("cpu.weight", "100"),
    ("cpu.max", "max 100000"),
    (
        "cpu.stat",
        "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\nthrottled_usec 2\n",
    ),
    ("cpuset.cpus", ""),
    ("cpuset.mems", ""),
    ("pids.max", "max"),
    ("pids.current", "1"),
    ("io.weight", "default 100"),
    ("io.max", ""),
    (
        "io.stat",
        "8:0 rbytes=4096 wbytes=1024 rios=1 wios=1 dbytes=0 dios=0\n",
    ),
];

fn fake_v2(root: &Path, rel: &str) -> TestResult {
    let mut dir = root.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        write(&dir.join("cgroup.controllers"), "cpuset cpu io memory pids")?;
        write(&dir.join("cgroup.subtree_control"), "")?;
        dir = dir.join(part);
    }
    for (file, content) in V2_LEAF_FILES {
        write(&dir.join(file), content)?;
    }
    Ok(())
}

#[test]
fn v2_fake_tree_create_apply_stats() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    fake_v2(root, "berth/c1")?;
    let cg = Cgroup::new(
        Layout::V2 {
            root: root.to_path_buf(),
        },
        "/berth/c1",
    );
    cg.create()?;
    assert_eq!(
        read(&root.join("cgroup.subtree_control"))?,
        "+cpuset +cpu +io +memory +pids"
    );
    assert_eq!(
        read(&root.join("berth/cgroup.subtree_control"))?,
        "+cpuset +cpu +io +memory +pids"
    );
    assert_eq!(cg.v2_dir(), Some(root.join("berth/c1")));
    cg.apply(&full_resources()?)?;
    let d = |f: &str| root.join("berth/c1").join(f);
    assert_eq!(read(&d("memory.max"))?, "536870912");
    assert_eq!(read(&d("memory.swap.max"))?, "536870912");
    assert_eq!(read(&d("memory.low"))?, "268435456");
    assert_eq!(read(&d("cpu.weight"))?, "20");
    assert_eq!(read(&d("cpu.max"))?, "50000 100000");
    assert_eq!(read(&d("cpuset.cpus"))?, "0");
    assert_eq!(read(&d("pids.max"))?, "100");
    // No io.bfq.weight here: io.weight gets the converted value.
    assert_eq!(read(&d("io.weight"))?, "4950");
    assert_eq!(read(&d("io.max"))?, "8:0 rbps=1048576");

    let stats = cg.stats()?;
    assert_eq!(
        (
            stats.memory.usage,
            stats.memory.max_usage,
            stats.memory.limit
        ),
        (8192, Some(16384), Some(536870912))
    );
    assert_eq!((stats.memory.cache, stats.memory.failcnt), (200, 4));
    assert_eq!(
        (stats.cpu.total_ns, stats.cpu.user_ns, stats.cpu.system_ns),
        (10_000, 6_000, 4_000)
    );
    assert_eq!(
        (
            stats.cpu.periods,
            stats.cpu.throttled_periods,
            stats.cpu.throttled_ns
        ),
        (3, 1, 2_000)
    );
    assert_eq!((stats.pids.current, stats.pids.limit), (1, Some(100)));
    assert_eq!(stats.blkio.len(), 2);
    assert_eq!(cg.oom_kill_count()?, 1);

    cg.kill_all(libc::SIGKILL)?;
    assert_eq!(read(&d("cgroup.kill"))?, "1");
    cg.destroy()?;
    assert!(!root.join("berth/c1").exists());
    Ok(())
}

#[test]
fn v2_freeze_waits_for_cgroup_events() -> TestResult {
    let tmp = tempfile::tempdir()?;
    fake_v2(tmp.path(), "c1")?;
    let cg = Cgroup::new(
        Layout::V2 {
            root: tmp.path().to_path_buf(),
        },
        "c1",
    );
    let events = tmp.path().join("c1/cgroup.events");
    let freeze_file = tmp.path().join("c1/cgroup.freeze");
    // Plays the kernel: once cgroup.freeze says 1, report frozen 150 ms later.
    let kernel = std::thread::spawn(move || -> TestResult {
        while std::fs::read_to_string(&freeze_file)?.trim() != "1" {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(150));
        std::fs::write(&events, "populated 1\nfrozen 1\n")?;
        Ok(())
    });
    let start = Instant::now();
    cg.freeze()?;
    let waited = start.elapsed();
    kernel
        .join()
        .map_err(|_| anyhow::anyhow!("kernel thread panicked"))??;
    assert!(
        waited >= Duration::from_millis(150),
        "returned before frozen: {waited:?}"
    );
    assert!(cg.is_frozen()?);
    Ok(())
}

#[test]
fn v2_swap_without_memory_limit_is_invalid() -> TestResult {
    let res: LinuxResources = serde_json::from_str(r#"{"memory": {"swap": 8192}}"#)?;
    let err = v2_writes(&res).err();
    assert!(
        matches!(
            err.as_ref().map(|e| e.kind()),
            Some(super::ErrorKind::InvalidArgument)
        ),
        "{err:?}"
    );
    Ok(())
}
