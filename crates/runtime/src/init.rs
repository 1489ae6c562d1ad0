//! What runs in the container's init between clone and execve.
//!
//! The order matters and follows the OCI runtime spec: wait until the parent has put us in the
//! cgroup, enter namespaces (and have the parent write id maps), set hostname, build the root
//! filesystem and pivot into it, then set up the process and block on the exec FIFO until
//! `start`. Every failure is sent to the parent as a typed message before exiting.

use std::convert::Infallible;
use std::os::fd::RawFd;
use std::path::Path;

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Spec;

use crate::error::ErrorKind;
use crate::namespaces::NamespacePlan;
use crate::process::ProcessContext;
use crate::rootfs::RootfsPlan;
use crate::seccomp::CompiledFilter;
use crate::sync::{self, Message};

/// A failure inside the child, sent to the parent as [`Message::Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitError {
    /// How the caller should treat it.
    pub kind: ErrorKind,
    /// What failed.
    pub message: String,
}

impl InitError {
    /// An error of a given kind.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> InitError {
        InitError {
            kind,
            message: message.into(),
        }
    }
    /// An internal error with a message.
    pub(crate) fn msg(message: impl Into<String>) -> InitError {
        InitError::new(ErrorKind::Internal, message)
    }
    /// A problem with the spec or the request.
    pub(crate) fn invalid(message: impl Into<String>) -> InitError {
        InitError::new(ErrorKind::InvalidArgument, message)
    }
    /// A failed system call.
    pub(crate) fn sys(context: impl Into<String>, e: nix::Error) -> InitError {
        let kind = match e {
            nix::Error::EPERM | nix::Error::EACCES => ErrorKind::PermissionDenied,
            nix::Error::ENOENT => ErrorKind::NotFound,
            _ => ErrorKind::Internal,
        };
        InitError::new(
            kind,
            format!("{}: {}", context.into(), e.desc().to_lowercase()),
        )
    }
    /// A failed file operation.
    pub(crate) fn io(context: impl Into<String>, e: std::io::Error) -> InitError {
        InitError::sys(
            context,
            nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        )
    }
    /// Prefixes the message with what we were doing.
    pub(crate) fn context(self, what: impl Into<String>) -> InitError {
        InitError {
            kind: self.kind,
            message: format!("{}: {}", what.into(), self.message),
        }
    }
}

/// Everything the init needs, prepared by the parent before clone.
pub(crate) struct InitContext<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// Absolute rootfs.
    pub rootfs: &'a Path,
    /// Absolute bundle.
    pub bundle: &'a Path,
    /// The cgroup path.
    pub cgroup_path: &'a str,
    /// Namespaces to enter.
    pub ns: &'a NamespacePlan,
    /// Child end of the sync socket.
    pub sock: RawFd,
    /// The exec FIFO, opened O_PATH by the parent.
    pub fifo: RawFd,
    /// Connected console socket, if any.
    pub console: Option<RawFd>,
    /// Explicit stdio descriptors, if not inherited.
    pub stdio: Option<[RawFd; 3]>,
    /// Compiled seccomp filter.
    pub seccomp: Option<&'a CompiledFilter>,
    /// The spec has createRuntime or prestart hooks (the parent runs them before pivot_root).
    pub runtime_hooks: bool,
}

/// The child's entry point: never returns.
pub(crate) fn run(ctx: &InitContext<'_>) -> Infallible {
    let err = match run_init(ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    report_and_exit(ctx.sock, &err)
}

/// Sends the error to the parent (and stderr when the parent no longer listens), then exits.
pub(crate) fn report_and_exit(sock: RawFd, err: &InitError) -> ! {
    if sync::send(
        sock,
        &Message::Error {
            kind: err.kind,
            message: err.message.clone(),
        },
    )
    .is_err()
    {
        eprintln!("berth-runtime: {}", err.message);
    }
    crate::spawn::exit_child(127)
}

/// Waits for one specific message from the parent.
pub(crate) fn expect_message(sock: RawFd, want: &Message) -> Result<(), InitError> {
    match sync::recv(sock) {
        Ok(Some(m)) if &m == want => Ok(()),
        Ok(other) => Err(InitError::msg(format!(
            "unexpected message from the runtime: {other:?}"
        ))),
        Err(e) => Err(InitError::sys("reading from the runtime", e)),
    }
}

/// The init's set-up, in order.
fn run_init(ctx: &InitContext<'_>) -> Result<Infallible, InitError> {
    crate::process::reset_signals()?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    if let Some(fds) = ctx.stdio {
        for (target, fd) in fds.iter().enumerate() {
            crate::console::dup2_raw(*fd, target as RawFd)
                .map_err(|e| InitError::sys("setting up stdio", e))?;
        }
    }
    expect_message(ctx.sock, &Message::Continue)?;
    crate::namespaces::enter(ctx.ns).map_err(|e| InitError::sys("entering namespaces", e))?;
    if ctx.ns.new_user {
        sync::send(ctx.sock, &Message::NeedIdMaps)
            .map_err(|e| InitError::sys("asking for id maps", e))?;
        expect_message(ctx.sock, &Message::IdMapsWritten)?;
        become_root_in_user_namespace()?;
    }
    if ctx.ns.new_cgroup {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| InitError::sys("creating the cgroup namespace", e))?;
    }
    set_names(ctx.spec)?;
    let plan = RootfsPlan {
        spec: ctx.spec,
        rootfs: ctx.rootfs,
        bundle: ctx.bundle,
        cgroup_path: ctx.cgroup_path,
    };
    crate::rootfs::prepare(&plan)?;
    let hook_state = if ctx.runtime_hooks {
        Some(run_create_hooks(ctx)?)
    } else {
        None
    };
    crate::rootfs::pivot(ctx.rootfs)?;
    crate::rootfs::finish(ctx.spec)?;
    let process = ctx
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| InitError::invalid("config.json has no process"))?;
    let start_hooks = ctx
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_deref());
    let pctx = ProcessContext {
        process,
        console: ctx.console,
        seccomp: ctx.seccomp,
        sock: ctx.sock,
        exec_fifo: Some(ctx.fifo),
        start_hooks: hook_state
            .as_deref()
            .map(|state| (start_hooks.unwrap_or_default(), state)),
    };
    crate::process::setup_and_exec(&pctx)
}

/// Has the parent run createRuntime and prestart hooks (in the runtime's namespaces, before
/// pivot_root), then runs createContainer hooks here, in the container's namespaces; returns the
/// state JSON for startContainer hooks.
fn run_create_hooks(ctx: &InitContext<'_>) -> Result<String, InitError> {
    sync::send(ctx.sock, &Message::RunHooks).map_err(|e| InitError::sys("asking for hooks", e))?;
    let state = match sync::recv(ctx.sock) {
        Ok(Some(Message::HooksDone(state))) => state,
        Ok(other) => {
            return Err(InitError::msg(format!(
                "unexpected message from the runtime: {other:?}"
            )));
        }
        Err(e) => return Err(InitError::sys("reading from the runtime", e)),
    };
    let hooks = ctx
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().as_deref())
        .unwrap_or_default();
    crate::hooks::run_with_input("createContainer", hooks, &state)
        .map_err(|e| InitError::msg(e.to_string()))?;
    Ok(state)
}

/// Takes uid/gid 0 in a fresh user namespace (our host uid may be unmapped there).
fn become_root_in_user_namespace() -> Result<(), InitError> {
    let (g, u) = (Gid::from_raw(0), Uid::from_raw(0));
    nix::unistd::setresgid(g, g, g)
        .map_err(|e| InitError::sys("setting gid 0 in the user namespace", e))?;
    nix::unistd::setresuid(u, u, u)
        .map_err(|e| InitError::sys("setting uid 0 in the user namespace", e))
}

/// Sets hostname and domainname from the spec.
fn set_names(spec: &Spec) -> Result<(), InitError> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h)
            .map_err(|e| InitError::sys(format!("setting hostname {h:?}"), e))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: setdomainname reads `len` bytes from a buffer that lives across the call.
        let r = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
        if r < 0 {
            return Err(InitError::sys(
                format!("setting domainname {d:?}"),
                nix::Error::last(),
            ));
        }
    }
    Ok(())
}
