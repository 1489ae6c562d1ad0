//! The subcommands that map one-to-one onto the runtime library (create, start, state, kill,
//! delete, pause, resume, ps, list, events), and the dispatcher.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use berth_runtime::{ConsoleSocket, CreateOptions, Runtime, State};
use nix::sys::signal::Signal;

use crate::args::{Cli, Command, CreateArgs, TableFormat};
use crate::logging::Logger;

/// Runs the chosen command; returns the process exit code.
pub fn dispatch(cli: &Cli, log: &Logger) -> anyhow::Result<i32> {
    let rt = Runtime::new(&cli.global.root);
    log.debug(&format!("command: {:?}", cli.command));
    match &cli.command {
        Command::Create(a) => create(&rt, a).map(|_| 0),
        Command::Start { id } => rt.start(id).map(|()| 0).map_err(Into::into),
        Command::State { id } => print_json(&rt.state(id)?.oci_json()),
        Command::Kill { all, id, signal } => rt
            .kill(id, parse_signal(signal)?, *all)
            .map(|()| 0)
            .map_err(Into::into),
        Command::Delete { force, id } => delete(&rt, id, *force),
        Command::Run(a) => crate::foreground::run(&rt, a),
        Command::Exec(a) => crate::foreground::exec(&rt, a),
        Command::Ps { format, id, .. } => ps(&rt, id, *format),
        Command::List { format, quiet } => list(&rt, *format, *quiet),
        Command::Pause { id } => rt.pause(id).map(|()| 0).map_err(Into::into),
        Command::Resume { id } => rt.resume(id).map(|()| 0).map_err(Into::into),
        Command::Spec { bundle, rootless } => {
            crate::spec_template::write(bundle, *rootless).map(|()| 0)
        }
        Command::Features => print_json(&crate::spec_template::features()),
        Command::Events { stats, id, .. } => events(&rt, id, *stats),
    }
}

/// `create`: sets the container up with our stdio as its stdio.
pub fn create(rt: &Runtime, a: &CreateArgs) -> anyhow::Result<State> {
    create_with_console(rt, a, a.console_socket.clone().map(ConsoleSocket::Path))
}

/// `create` with an explicit console socket (run's own pty handling passes a socketpair end).
pub fn create_with_console(
    rt: &Runtime,
    a: &CreateArgs,
    console_socket: Option<ConsoleSocket>,
) -> anyhow::Result<State> {
    if a.preserve_fds != 0 {
        bail!("--preserve-fds is not supported");
    }
    let opts = CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        console_socket,
        pid_file: a.pid_file.as_ref().map(|p| absolute(p)),
        stdio: berth_runtime::Stdio::Inherit,
    };
    Ok(rt.create(&opts)?)
}

/// Makes a relative path absolute against our cwd (pid files are written after nothing moved, but be explicit).
pub fn absolute(p: &Path) -> std::path::PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `delete`: like runc, deleting a container that does not exist with --force is not an error.
fn delete(rt: &Runtime, id: &str, force: bool) -> anyhow::Result<i32> {
    match rt.delete(id, force) {
        Err(e) if force && e.kind() == berth_runtime::ErrorKind::NotFound => Ok(0),
        other => other.map(|()| 0).map_err(Into::into),
    }
}

/// Parses TERM, SIGTERM or 15.
pub fn parse_signal(s: &str) -> anyhow::Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map(|s| s as i32)
        .with_context(|| format!("unknown signal {s:?}"))
}

/// Prints pretty JSON (as runc does for state).
fn print_json(v: &serde_json::Value) -> anyhow::Result<i32> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(0)
}

/// `ps`: pids as JSON, or a PID/CMD table.
fn ps(rt: &Runtime, id: &str, format: TableFormat) -> anyhow::Result<i32> {
    let pids = rt.ps(id)?;
    match format {
        TableFormat::Json => println!("{}", serde_json::to_string(&pids)?),
        TableFormat::Table => {
            println!("{:<10} CMD", "PID");
            for pid in pids {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                println!("{pid:<10} {}", cmd.trim_end());
            }
        }
    }
    Ok(0)
}

/// `list`: ids, a table, or runc's JSON array.
fn list(rt: &Runtime, format: TableFormat, quiet: bool) -> anyhow::Result<i32> {
    let states = rt.list()?;
    if quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match format {
        TableFormat::Json => {
            let v: Vec<serde_json::Value> = states.iter().map(State::oci_json).collect();
            println!("{}", serde_json::to_string(&v)?);
        }
        TableFormat::Table => {
            println!(
                "{:<20} {:<10} {:<10} {:<40} {:<32} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for s in &states {
                println!(
                    "{:<20} {:<10} {:<10} {:<40} {:<32} {}",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created,
                    if s.owner.is_empty() { "root" } else { &s.owner }
                );
            }
        }
    }
    Ok(0)
}

/// `events --stats`: one stats record as runc prints it.
fn events(rt: &Runtime, id: &str, stats: bool) -> anyhow::Result<i32> {
    if !stats {
        bail!("only `events --stats` is supported");
    }
    let data = rt.stats(id)?;
    println!(
        "{}",
        serde_json::json!({"type": "stats", "id": id, "data": data})
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(parse_signal("TERM").expect("TERM"), 15);
        assert_eq!(parse_signal("SIGKILL").expect("KILL"), 9);
        assert_eq!(parse_signal("hup").expect("hup"), 1);
        assert_eq!(parse_signal("9").expect("9"), 9);
        assert!(parse_signal("NOPE").is_err());
    }
}
