//! Docker's default seccomp profile, rebuilt in code from the facts of moby's
//! profiles/seccomp/default.json: deny with EPERM by default, a large allow list, groups allowed
//! only with a capability, architecture-specific calls, and argument filters that keep clone
//! from making namespaces (new user namespaces above all) without CAP_SYS_ADMIN.

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall,
};

/// Calls every container may make. keyctl, add_key and request_key are deliberately absent
/// (the kernel keyring is not namespaced), so they fail with EPERM.
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Calls allowed only when the container holds the capability that guards them in the kernel.
const BY_CAPABILITY: &[(Capability, &[&str])] = &[
    (Capability::DacReadSearch, &["open_by_handle_at"]),
    (
        Capability::SysAdmin,
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    (Capability::SysBoot, &["reboot"]),
    (Capability::SysChroot, &["chroot"]),
    (
        Capability::SysModule,
        &["delete_module", "init_module", "finit_module"],
    ),
    (Capability::SysPacct, &["acct"]),
    (
        Capability::SysPtrace,
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    (Capability::SysRawio, &["iopl", "ioperm"]),
    (
        Capability::SysTime,
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    (Capability::SysTtyConfig, &["vhangup"]),
    (
        Capability::SysNice,
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    (Capability::Syslog, &["syslog"]),
    (Capability::Bpf, &["bpf"]),
    (Capability::Perfmon, &["perf_event_open"]),
];

/// ptrace and process_vm_* are safe without CAP_SYS_PTRACE since kernel 4.8 (berth needs newer).
const PTRACE_SINCE_4_8: &[&str] = &["process_vm_readv", "process_vm_writev", "ptrace"];

/// personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and 0xffffffff (query).
const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// AF_VSOCK: Docker denies vsock sockets.
const AF_VSOCK: u64 = 40;

/// Docker's default seccomp profile (moby's profiles/seccomp/default.json semantics: defaultAction ERRNO(EPERM), the allow list, arch-specific and capability-conditional rules, and clone/unshare argument filters that block new user namespaces) as an OCI LinuxSeccomp, for the given granted capabilities.
pub fn docker_default_profile(granted_caps: &[Capability]) -> LinuxSeccomp {
    let has = |cap: Capability| granted_caps.contains(&cap);
    let mut rules = vec![allow(ALLOWED), allow(PTRACE_SINCE_4_8)];
    rules.push(allow_if(
        &["socket"],
        &[arg(0, LinuxSeccompOperator::ScmpCmpNe, AF_VSOCK)],
    ));
    for value in PERSONALITIES {
        rules.push(allow_if(
            &["personality"],
            &[arg(0, LinuxSeccompOperator::ScmpCmpEq, *value)],
        ));
    }
    let arch_specific = arch_specific_calls();
    if !arch_specific.is_empty() {
        rules.push(allow(arch_specific));
    }
    for (cap, names) in BY_CAPABILITY {
        if has(*cap) {
            rules.push(allow(names));
        }
    }
    if !has(Capability::SysAdmin) {
        rules.push(clone_without_namespaces());
        rules.push(errno(&["clone3"], libc::ENOSYS as u32));
    }
    let mut profile = LinuxSeccomp::default();
    profile
        .set_default_action(LinuxSeccompAction::ScmpActErrno)
        .set_default_errno_ret(Some(libc::EPERM as u32))
        .set_architectures(Some(architectures()))
        .set_syscalls(Some(rules));
    profile
}

fn allow(names: &[&str]) -> LinuxSyscall {
    allow_if(names, &[])
}

fn allow_if(names: &[&str], args: &[LinuxSeccompArg]) -> LinuxSyscall {
    let mut rule = LinuxSyscall::default();
    rule.set_names(names.iter().map(|n| n.to_string()).collect())
        .set_action(LinuxSeccompAction::ScmpActAllow)
        .set_args((!args.is_empty()).then(|| args.to_vec()));
    rule
}

fn errno(names: &[&str], errno: u32) -> LinuxSyscall {
    let mut rule = allow(names);
    rule.set_action(LinuxSeccompAction::ScmpActErrno)
        .set_errno_ret(Some(errno));
    rule
}

fn arg(index: usize, op: LinuxSeccompOperator, value: u64) -> LinuxSeccompArg {
    masked_arg(index, op, value, None)
}

fn masked_arg(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> LinuxSeccompArg {
    let builder = LinuxSeccompArgBuilder::default()
        .index(index)
        .op(op)
        .value(value);
    let builder = match value_two {
        Some(two) => builder.value_two(two),
        None => builder,
    };
    // The builder only fails for missing fields without defaults; every field here has one.
    builder
        .build()
        .expect("LinuxSeccompArg fields all have defaults")
}

/// clone is allowed only when none of the namespace flags is set (s390 passes flags second).
fn clone_without_namespaces() -> LinuxSyscall {
    let flags_index = if cfg!(target_arch = "s390x") { 1 } else { 0 };
    let flags = masked_arg(
        flags_index,
        LinuxSeccompOperator::ScmpCmpMaskedEq,
        CLONE_NAMESPACE_FLAGS,
        Some(0),
    );
    allow_if(&["clone"], &[flags])
}

/// The architectures a filter on this host must cover (compat ABIs included, as Docker does).
fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else if cfg!(target_arch = "s390x") {
        vec![Arch::ScmpArchS390x, Arch::ScmpArchS390]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

fn arch_specific_calls() -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        &["arch_prctl", "modify_ldt"]
    } else if cfg!(target_arch = "aarch64") || cfg!(target_arch = "arm") {
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ]
    } else if cfg!(target_arch = "powerpc64") {
        &["sync_file_range2", "swapcontext"]
    } else if cfg!(target_arch = "s390x") {
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ]
    } else if cfg!(target_arch = "riscv64") {
        &["riscv_flush_icache"]
    } else {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_names(profile: &LinuxSeccomp) -> Vec<String> {
        profile
            .syscalls()
            .iter()
            .flatten()
            .filter(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
            .flat_map(|r| r.names().clone())
            .collect()
    }

    #[test]
    fn keyring_calls_are_never_allowed() {
        let profile = docker_default_profile(&[Capability::SysAdmin]);
        let names = allowed_names(&profile);
        for denied in ["keyctl", "add_key", "request_key"] {
            assert!(!names.iter().any(|n| n == denied), "{denied}");
        }
    }

    #[test]
    fn sys_admin_unlocks_unshare_and_drops_the_clone_filter() {
        let without = docker_default_profile(&[]);
        let with = docker_default_profile(&[Capability::SysAdmin]);
        assert!(!allowed_names(&without).iter().any(|n| n == "unshare"));
        assert!(allowed_names(&with).iter().any(|n| n == "unshare"));
        let has_clone3_enosys = |p: &LinuxSeccomp| {
            p.syscalls().iter().flatten().any(|r| {
                r.names().iter().any(|n| n == "clone3")
                    && r.errno_ret() == Some(libc::ENOSYS as u32)
            })
        };
        assert!(has_clone3_enosys(&without));
        assert!(!has_clone3_enosys(&with));
    }

    #[test]
    fn capability_groups_follow_grants() {
        let names = allowed_names(&docker_default_profile(&[Capability::SysTime]));
        assert!(names.iter().any(|n| n == "clock_settime"));
        let names = allowed_names(&docker_default_profile(&[]));
        assert!(!names.iter().any(|n| n == "clock_settime"));
        assert!(!names.iter().any(|n| n == "reboot"));
    }
}
