//! The user's process: cwd, executable lookup, rlimits, oom score, user and groups, capabilities,
//! umask, no_new_privs, seccomp, then execve. Shared by the container's init and by `exec`.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{PosixRlimitType, Process};

use crate::error::ErrorKind;
use crate::init::InitError;
use crate::seccomp::CompiledFilter;
use crate::sync::{self, Message};

/// PATH used for the lookup when the process's environment has none (Docker's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the last steps before execve need.
pub(crate) struct ProcessContext<'a> {
    /// The process description.
    pub process: &'a Process,
    /// Connected console socket when the process has a terminal.
    pub console: Option<RawFd>,
    /// The compiled seccomp filter, if any.
    pub seccomp: Option<&'a CompiledFilter>,
    /// Sync socket to the parent.
    pub sock: RawFd,
    /// The exec FIFO (O_PATH) for the init; None for `exec`.
    pub exec_fifo: Option<RawFd>,
    /// startContainer hooks and the state JSON they get (init only), run after `start`.
    pub start_hooks: Option<(&'a [oci_spec::runtime::Hook], &'a str)>,
}

/// The resolved program, argv and envp, allocated before the last steps.
struct Command {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

/// Runs the process set-up in order and execs; returns only on failure.
pub(crate) fn setup_and_exec(ctx: &ProcessContext<'_>) -> Result<Infallible, InitError> {
    let p = ctx.process;
    let _ = nix::unistd::setsid();
    if p.terminal().unwrap_or(false) {
        let socket = ctx.console.ok_or_else(|| {
            InitError::invalid("the process wants a terminal but no console socket was given")
        })?;
        let size = p
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::setup_pty(socket, size)?;
    }
    chdir_cwd(p.cwd())?;
    let cmd = prepare_command(p)?;
    set_oom_score_adj(p)?;
    set_rlimits(p)?;
    let nnp = p.no_new_privileges().unwrap_or(false);
    if let (Some(filter), false) = (ctx.seccomp, nnp) {
        // Without no_new_privs the filter must be loaded while we still hold CAP_SYS_ADMIN.
        filter
            .load()
            .map_err(|e| InitError::msg(format!("loading seccomp filter: {e}")))?;
    }
    switch_user(p)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        p.user().umask().unwrap_or(0o022),
    ));
    if nnp {
        nix::sys::prctl::set_no_new_privs()
            .map_err(|e| InitError::sys("setting no_new_privs", e))?;
    }
    if let Some(fifo) = ctx.exec_fifo {
        sync::send(ctx.sock, &Message::Ready)
            .map_err(|e| InitError::sys("telling the runtime we are ready", e))?;
        wait_for_start(fifo)?;
    }
    if let Some((hooks, state)) = ctx.start_hooks {
        crate::hooks::run_with_input("startContainer", hooks, state)
            .map_err(|e| InitError::msg(e.to_string()))?;
    }
    if let (Some(filter), true) = (ctx.seccomp, nnp) {
        filter
            .load()
            .map_err(|e| InitError::msg(format!("loading seccomp filter: {e}")))?;
    }
    mark_inherited_fds_cloexec();
    let err = nix::unistd::execve(&cmd.path, &cmd.argv, &cmd.envp)
        .err()
        .unwrap_or(nix::Error::EINVAL);
    Err(exec_error(&p.args().as_deref().unwrap_or_default()[0], err))
}

/// Gives the child a clean signal state: nothing blocked, every disposition default (a Rust
/// parent ignores SIGPIPE, a shim may block signals; execve keeps both).
pub(crate) fn reset_signals() -> Result<(), InitError> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    SigSet::empty()
        .thread_set_mask()
        .map_err(|e| InitError::sys("unblocking signals", e))?;
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: installing SIG_DFL runs no code of ours; the previous handler is not used.
        unsafe { sigaction(sig, &default) }
            .map_err(|e| InitError::sys(format!("resetting {sig}"), e))?;
    }
    Ok(())
}

/// Keeps descriptors the caller leaked without close-on-exec (anything above stdio) out of the
/// container's program.
fn mark_inherited_fds_cloexec() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on our own descriptors; on
    // kernels without it the call fails with ENOSYS and nothing changes.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
}

/// Changes to the process's cwd with a message naming it.
fn chdir_cwd(cwd: &Path) -> Result<(), InitError> {
    nix::unistd::chdir(cwd).map_err(|e| {
        let kind = if e == nix::Error::ENOENT || e == nix::Error::ENOTDIR {
            ErrorKind::InvalidArgument
        } else {
            ErrorKind::Internal
        };
        InitError::new(
            kind,
            format!(
                "chdir to cwd ({:?}) set in config.json failed: {}",
                cwd.display().to_string(),
                e.desc().to_lowercase()
            ),
        )
    })
}

/// Resolves args[0] and builds argv/envp.
fn prepare_command(p: &Process) -> Result<Command, InitError> {
    let args = p.args().as_deref().unwrap_or_default();
    let arg0 = args
        .first()
        .ok_or_else(|| InitError::invalid("process.args is empty"))?;
    let env = p.env().as_deref().unwrap_or_default();
    let path = lookup_executable(arg0, env)?;
    Ok(Command {
        path: cstring(path.as_os_str().as_bytes())?,
        argv: args
            .iter()
            .map(|a| cstring(a.as_bytes()))
            .collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .map(|e| cstring(e.as_bytes()))
            .collect::<Result<_, _>>()?,
    })
}

/// A C string, refusing interior NULs.
fn cstring(bytes: &[u8]) -> Result<CString, InitError> {
    CString::new(bytes).map_err(|_| {
        InitError::invalid(format!(
            "{:?} contains a NUL byte",
            String::from_utf8_lossy(bytes)
        ))
    })
}

/// Finds the program as Go's exec.LookPath does, with Docker's messages.
pub(crate) fn lookup_executable(arg0: &str, env: &[String]) -> Result<PathBuf, InitError> {
    if arg0.contains('/') {
        return check_executable(Path::new(arg0))
            .map(|()| PathBuf::from(arg0))
            .map_err(|e| exec_error(arg0, e));
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if check_executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(InitError::new(
        ErrorKind::NotFound,
        format!("exec: {arg0:?}: executable file not found in $PATH"),
    ))
}

/// Ok when `path` is a regular file with an execute bit.
fn check_executable(path: &Path) -> Result<(), nix::Error> {
    let meta = std::fs::metadata(path)
        .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    if meta.is_dir() {
        return Err(nix::Error::EISDIR);
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(nix::Error::EACCES);
    }
    Ok(())
}

/// Docker's wording for a program that cannot be executed.
fn exec_error(arg0: &str, err: nix::Error) -> InitError {
    let kind = match err {
        nix::Error::ENOENT => ErrorKind::NotFound,
        nix::Error::EACCES | nix::Error::EPERM => ErrorKind::PermissionDenied,
        _ => ErrorKind::InvalidArgument,
    };
    let msg = match err {
        nix::Error::ENOENT => format!("exec: {arg0:?}: stat {arg0}: no such file or directory"),
        other => format!("exec: {arg0:?}: {}", other.desc().to_lowercase()),
    };
    InitError::new(kind, msg)
}

/// Writes oom_score_adj when the spec sets it and it differs (lowering needs CAP_SYS_RESOURCE).
fn set_oom_score_adj(p: &Process) -> Result<(), InitError> {
    let Some(adj) = p.oom_score_adj() else {
        return Ok(());
    };
    let current = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
    if current.trim() == adj.to_string() {
        return Ok(());
    }
    std::fs::write("/proc/self/oom_score_adj", adj.to_string())
        .map_err(|e| InitError::io(format!("setting oom_score_adj to {adj}"), e))
}

/// Applies the spec's rlimits.
fn set_rlimits(p: &Process) -> Result<(), InitError> {
    for rl in p.rlimits().as_deref().unwrap_or_default() {
        let resource = rlimit_resource(rl.typ());
        setrlimit(resource, rl.soft(), rl.hard()).map_err(|e| {
            InitError::sys(
                format!(
                    "setting rlimit {:?} to {}:{}",
                    rl.typ(),
                    rl.soft(),
                    rl.hard()
                ),
                e,
            )
        })?;
    }
    Ok(())
}

/// Maps the spec's rlimit names to the kernel's.
fn rlimit_resource(t: PosixRlimitType) -> Resource {
    match t {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Switches groups, gid and uid (keeping capabilities across the switch), then applies the spec's capabilities.
fn switch_user(p: &Process) -> Result<(), InitError> {
    let user = p.user();
    let (uid, gid) = (user.uid(), user.gid());
    let groups: Vec<Gid> = user
        .additional_gids()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&groups) {
        // setgroups is denied in a user namespace whose gid_map was written with setgroups=deny.
        Err(nix::Error::EPERM) if groups.is_empty() => {}
        Err(e) => {
            return Err(InitError::sys(
                format!("setting additional groups {groups:?}"),
                e,
            ));
        }
        Ok(()) => {}
    }
    let g = Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g)
        .map_err(|e| InitError::sys(format!("setting gid to {gid}"), e))?;
    nix::sys::prctl::set_keepcaps(true).map_err(|e| InitError::sys("PR_SET_KEEPCAPS", e))?;
    let u = Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u)
        .map_err(|e| InitError::sys(format!("setting uid to {uid}"), e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| InitError::sys("PR_SET_KEEPCAPS", e))?;
    if let Some(caps) = p.capabilities() {
        crate::capabilities::apply(caps)
            .map_err(|e| InitError::msg(format!("applying capabilities: {e}")))?;
    }
    Ok(())
}

/// Init only: blocks until `start` opens the exec FIFO for reading, then tells it we go on.
fn wait_for_start(fifo: RawFd) -> Result<(), InitError> {
    let path = format!("/proc/self/fd/{fifo}");
    let fd = nix::fcntl::open(
        path.as_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| InitError::sys("opening the exec fifo", e))?;
    nix::unistd::write(&fd, b"0").map_err(|e| InitError::sys("writing the exec fifo", e))?;
    let _ = nix::unistd::close(fifo);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_path_and_reports_like_docker() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(lookup_executable("sh", &env).expect("sh").ends_with("sh"));
        let err = lookup_executable("nosuch-berth", &env).expect_err("missing");
        assert_eq!(
            err.message,
            "exec: \"nosuch-berth\": executable file not found in $PATH"
        );
        assert_eq!(err.kind, ErrorKind::NotFound);
        let err = lookup_executable("/nosuch", &env).expect_err("missing");
        assert_eq!(
            err.message,
            "exec: \"/nosuch\": stat /nosuch: no such file or directory"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").expect("write");
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err =
            lookup_executable(&plain.display().to_string(), &env).expect_err("not executable");
        assert_eq!(err.kind, ErrorKind::PermissionDenied);
    }
}
