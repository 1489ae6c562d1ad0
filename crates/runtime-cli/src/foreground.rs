//! `run` and `exec` without --detach: wait for the process, forward our signals to it, exit with its status.
//!
//! Signals are blocked before anything is cloned or spawned and read from a signalfd; the
//! runtime library resets the mask of every container process, so nothing inherits it.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use anyhow::{Context, bail};
use berth_runtime::{ConsoleSocket, ExecOptions, Runtime, Stdio};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use oci_spec::runtime::Process;

use crate::args::{ExecArgs, RunArgs};

/// Signals passed on to the container.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// `run`: create + start (+ wait + delete unless detached). A foreground container with a
/// terminal and no --console-socket gets a pty relayed to our stdin/stdout, as with runc.
pub fn run(rt: &Runtime, a: &RunArgs) -> anyhow::Result<i32> {
    let signals = if a.detach {
        None
    } else {
        Some(block_signals()?)
    };
    let own_pty =
        !a.detach && a.create.console_socket.is_none() && wants_terminal(&a.create.bundle);
    let (relay, st) = if own_pty {
        let (ours, theirs) = UnixStream::pair().context("console socketpair")?;
        let st = crate::lifecycle::create_with_console(
            rt,
            &a.create,
            Some(ConsoleSocket::Fd(theirs.as_raw_fd())),
        )?;
        drop(theirs);
        let master =
            berth_runtime::receive_pty_master(ours.as_raw_fd()).context("receiving the pty")?;
        (Some(crate::terminal::Relay::start(master)?), st)
    } else {
        (None, crate::lifecycle::create(rt, &a.create)?)
    };
    if let Err(e) = rt.start(&st.id) {
        let _ = rt.delete(&st.id, true);
        return Err(e.into());
    }
    let Some(signals) = signals else { return Ok(0) };
    let code = wait_forwarding(st.pid, &signals)?;
    if let Some(relay) = relay {
        relay.finish();
    }
    rt.delete(&st.id, true)?;
    Ok(code)
}

/// Whether the bundle's process asks for a terminal (unreadable specs fail later, in create).
fn wants_terminal(bundle: &std::path::Path) -> bool {
    berth_runtime::spec::load(bundle).is_ok_and(|l| {
        l.spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false)
    })
}

/// `exec`: runs a process in the container (and waits for it unless detached).
pub fn exec(rt: &Runtime, a: &ExecArgs) -> anyhow::Result<i32> {
    let process = exec_process(rt, a)?;
    let signals = if a.detach {
        None
    } else {
        Some(block_signals()?)
    };
    let opts = ExecOptions {
        console_socket: a.console_socket.clone().map(ConsoleSocket::Path),
        pid_file: a.pid_file.as_ref().map(|p| crate::lifecycle::absolute(p)),
        stdio: Stdio::Inherit,
    };
    let pid = rt.exec(&a.id, &process, &opts)?;
    match signals {
        None => Ok(0),
        Some(signals) => wait_forwarding(pid, &signals),
    }
}

/// The process to exec: --process FILE, or the container's process with our flags applied.
fn exec_process(rt: &Runtime, a: &ExecArgs) -> anyhow::Result<Process> {
    if let Some(path) = &a.process {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_slice(&text)
            .with_context(|| format!("parsing {}", path.display()));
    }
    if a.args.is_empty() {
        bail!("exec needs a command (or --process)");
    }
    let st = rt.state(&a.id)?;
    let spec = berth_runtime::spec::load(&st.bundle)?.spec;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(user) = &a.user {
        let (uid, gid) = parse_user(user)?;
        let u = p.user_mut();
        u.set_uid(uid);
        u.set_gid(gid);
        u.set_additional_gids(None);
    }
    Ok(p)
}

/// Parses uid[:gid] (numbers only, as runc).
fn parse_user(s: &str) -> anyhow::Result<(u32, u32)> {
    let (u, g) = s.split_once(':').unwrap_or((s, "0"));
    Ok((
        u.parse().with_context(|| format!("invalid uid {u:?}"))?,
        g.parse().with_context(|| format!("invalid gid {g:?}"))?,
    ))
}

/// Blocks the forwarded signals and SIGCHLD and opens a signalfd for them. Called before any
/// thread is spawned (threads inherit the mask; an unblocked thread would swallow SIGCHLD) and
/// before the container is cloned (its init resets its mask to empty).
pub fn block_signals() -> anyhow::Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(s);
    }
    mask.add(Signal::SIGCHLD);
    mask.thread_block().context("blocking signals")?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).context("signalfd")
}

/// Waits for our child `pid`, forwarding signals read from `sfd` (see [`block_signals`]);
/// returns its exit code (128+signal if killed).
pub fn wait_forwarding(pid: i32, sfd: &SignalFd) -> anyhow::Result<i32> {
    let target = Pid::from_raw(pid);
    loop {
        match waitpid(target, Some(WaitPidFlag::WNOHANG)).context("waitpid")? {
            WaitStatus::Exited(_, code) => return Ok(code),
            WaitStatus::Signaled(_, sig, _) => return Ok(128 + sig as i32),
            _ => {}
        }
        let Some(info) = sfd.read_signal().context("reading signals")? else {
            continue;
        };
        let signo = info.ssi_signo as i32;
        if signo != libc::SIGCHLD
            && let Ok(sig) = Signal::try_from(signo)
        {
            let _ = kill(target, sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_parse() {
        assert_eq!(parse_user("1000").expect("uid"), (1000, 0));
        assert_eq!(parse_user("1000:100").expect("uid:gid"), (1000, 100));
        assert!(parse_user("bob").is_err());
    }
}
