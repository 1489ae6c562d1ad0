//! Running an extra process in a running container (`exec`).
//!
//! An intermediate child joins the init's namespaces with setns (user first), then clones the
//! new process with CLONE_PARENT, so the process lives in the container's pid namespace and is
//! a child of the caller (a shim can waitpid it). The caller puts it in the container's cgroup
//! before it runs anything of the user's.

use std::convert::Infallible;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use nix::sched::CloneFlags;
use oci_spec::runtime::Process;

use crate::container::{ExecOptions, Runtime, Stdio, connect_console};
use crate::error::{ErrorKind, RuntimeError};
use crate::init::{InitError, expect_message, report_and_exit};
use crate::process::ProcessContext;
use crate::seccomp::CompiledFilter;
use crate::state::{self, Status};
use crate::sync::{self, Message};

/// Namespace files in the order they are joined.
const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// What the intermediate and the exec'd process need.
struct ExecContext<'a> {
    joins: &'a [(CloneFlags, OwnedFd)],
    process: &'a Process,
    sock: RawFd,
    console: Option<RawFd>,
    stdio: Option<[RawFd; 3]>,
    seccomp: Option<&'a CompiledFilter>,
}

impl Runtime {
    /// Starts `process` inside the container; returns its host pid. The process is a child of the caller.
    pub fn exec(
        &self,
        id: &str,
        process: &Process,
        opts: &ExecOptions,
    ) -> Result<i32, RuntimeError> {
        crate::spec::validate_process(process)?;
        let st = self.state(id)?;
        if !matches!(st.status, Status::Running | Status::Created) {
            return Err(RuntimeError::Conflict {
                id: id.to_string(),
                action: "exec in",
                status: st.status,
                hint: "",
            });
        }
        let terminal = process.terminal().unwrap_or(false);
        if terminal && opts.console_socket.is_none() {
            return Err(RuntimeError::InvalidArgument(
                "cannot allocate tty if runc will detach without setting console socket".into(),
            ));
        }
        let seccomp = self.container_seccomp(id, &st.bundle)?;
        let joins = open_namespaces(st.pid)?;
        let console = connect_console(opts.console_socket.as_ref().filter(|_| terminal))?;
        let (parent_sock, child_sock) = sync::pair()?;
        let ctx = ExecContext {
            joins: &joins,
            process,
            sock: child_sock.as_raw_fd(),
            console: console.as_ref().map(|c| c.raw()),
            stdio: match opts.stdio {
                Stdio::Inherit => None,
                Stdio::Fds(fds) => Some(fds),
            },
            seccomp: seccomp.as_ref(),
        };
        let intermediate =
            crate::spawn::clone_child(CloneFlags::empty(), || run_intermediate(&ctx))
                .map_err(|e| RuntimeError::sys("clone", e))?;
        drop(child_sock);
        drop(console);
        let first = sync::recv_from_child(&parent_sock, id);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(intermediate), None);
        let pid = match first? {
            Some(Message::ExecPid(pid)) => pid,
            Some(Message::Error { kind, message }) => {
                return Err(RuntimeError::Child { kind, message });
            }
            other => {
                return Err(RuntimeError::Child {
                    kind: ErrorKind::Internal,
                    message: format!("exec in container \"{id}\": unexpected {other:?}"),
                });
            }
        };
        let guard = KillOnDrop(Some(pid));
        self.cgroup_of(&st)?
            .add_pid(pid)
            .map_err(|source| RuntimeError::Cgroup {
                id: id.to_string(),
                source,
            })?;
        sync::send_to_child(&parent_sock, id, &Message::Continue)?;
        match sync::recv_from_child(&parent_sock, id)? {
            None => {}
            Some(Message::Error { kind, message }) => {
                return Err(RuntimeError::Child { kind, message });
            }
            Some(other) => {
                return Err(RuntimeError::Child {
                    kind: ErrorKind::Internal,
                    message: format!("exec: unexpected {other:?}"),
                });
            }
        }
        guard.disarm();
        if let Some(pid_file) = &opts.pid_file {
            state::write_atomic(pid_file, pid.to_string().as_bytes())?;
        }
        Ok(pid)
    }

    /// The container's seccomp filter (from its bundle's config.json; compiled once, then cached).
    fn container_seccomp(
        &self,
        id: &str,
        bundle: &std::path::Path,
    ) -> Result<Option<CompiledFilter>, RuntimeError> {
        let loaded = crate::spec::load(bundle)?;
        let Some(profile) = loaded
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().as_ref())
        else {
            return Ok(None);
        };
        crate::seccomp::compile(profile, Some(&self.root().join(".seccomp-cache")))
            .map(Some)
            .map_err(|source| RuntimeError::Seccomp {
                id: id.to_string(),
                source,
            })
    }
}

/// Opens the init's namespaces that differ from ours.
fn open_namespaces(pid: i32) -> Result<Vec<(CloneFlags, OwnedFd)>, RuntimeError> {
    let mut out = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let file =
            File::open(&theirs).map_err(|e| RuntimeError::io(format!("opening {theirs}"), e))?;
        let same = match (
            file.metadata(),
            std::fs::metadata(format!("/proc/self/ns/{name}")),
        ) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            out.push((flag, OwnedFd::from(file)));
        }
    }
    Ok(out)
}

/// The intermediate: joins the namespaces, clones the real process as a sibling, reports its pid.
fn run_intermediate(ctx: &ExecContext<'_>) -> Infallible {
    for (flag, fd) in ctx.joins {
        if let Err(e) = nix::sched::setns(fd.as_fd(), *flag) {
            report_and_exit(
                ctx.sock,
                &InitError::sys(format!("joining the container's {flag:?} namespace"), e),
            );
        }
    }
    match crate::spawn::clone_child(CloneFlags::CLONE_PARENT, || run_exec_process(ctx)) {
        Ok(pid) => {
            let _ = sync::send(ctx.sock, &Message::ExecPid(pid));
            crate::spawn::exit_child(0)
        }
        Err(e) => report_and_exit(ctx.sock, &InitError::sys("clone", e)),
    }
}

/// The exec'd process: waits to be in the cgroup, sets itself up and execs.
fn run_exec_process(ctx: &ExecContext<'_>) -> Infallible {
    let result = (|| -> Result<Infallible, InitError> {
        crate::process::reset_signals()?;
        if let Some(fds) = ctx.stdio {
            for (target, fd) in fds.iter().enumerate() {
                crate::console::dup2_raw(*fd, target as RawFd)
                    .map_err(|e| InitError::sys("setting up stdio", e))?;
            }
        }
        expect_message(ctx.sock, &Message::Continue)?;
        let pctx = ProcessContext {
            process: ctx.process,
            console: ctx.console,
            seccomp: ctx.seccomp,
            sock: ctx.sock,
            exec_fifo: None,
            start_hooks: None,
        };
        crate::process::setup_and_exec(&pctx)
    })();
    match result {
        Ok(never) => match never {},
        Err(e) => report_and_exit(ctx.sock, &e),
    }
}

/// Kills and reaps the exec'd process if `exec` fails after it was cloned.
struct KillOnDrop(Option<i32>);

impl KillOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}
