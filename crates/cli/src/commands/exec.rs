//! `berth exec`: create an exec instance, start it attached (or detached), exit with its exit code.

use std::sync::Arc;

use berth_api::exec::{ExecCreateBody, ExecStartBody};
use berth_client::Client;
use clap::Args;

use crate::commands::session::{self, ProxyOptions};
use crate::exit::{CmdResult, StatusError};
use crate::opts::env::{read_env_file, resolve_env};
use crate::stdio::{SessionEnd, run_interactive_session};
use crate::terminal::{RawMode, parse_detach_keys, window_size};

/// `berth exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    pub privileged: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Container.
    pub container: String,
    /// Command and arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn exec_body(args: &ExecArgs) -> Result<ExecCreateBody, String> {
    let mut env = Vec::new();
    for f in &args.env_file {
        env.extend(read_env_file(f)?);
    }
    env.extend(
        args.env
            .iter()
            .filter_map(|e| resolve_env(e, |k| std::env::var(k).ok())),
    );
    Ok(ExecCreateBody {
        attach_stdin: Some(args.interactive && !args.detach),
        attach_stdout: Some(!args.detach),
        attach_stderr: Some(!args.detach),
        console_size: args
            .tty
            .then(window_size)
            .flatten()
            .map(|(h, w)| vec![u32::from(h), u32::from(w)]),
        detach_keys: args.detach_keys.clone(),
        tty: Some(args.tty),
        env: (!env.is_empty()).then_some(env),
        cmd: Some(args.command.clone()),
        privileged: Some(args.privileged),
        user: args.user.clone(),
        working_dir: args.workdir.clone(),
    })
}

/// A failed exec start as Docker reports it: the runtime's message, exit 127 when the command is missing,
/// 126 when it cannot be run, 1 otherwise.
pub fn exec_start_error(message: &str) -> StatusError {
    let code = match crate::commands::run::start_failure_code(message) {
        125 => 1,
        code => code,
    };
    StatusError::new(code, message)
}

/// `berth exec`.
pub async fn exec(client: Arc<Client>, args: ExecArgs) -> CmdResult {
    let body = exec_body(&args).map_err(|e| StatusError::new(1, e))?;
    let detach_keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))
        .map_err(|e| StatusError::new(1, e))?;
    let created = client.create_exec(&args.container, &body).await?;
    let start = ExecStartBody {
        detach: args.detach,
        tty: args.tty,
        console_size: body.console_size.clone(),
    };
    if args.detach {
        client.start_exec_detached(&created.id, &start).await?;
        return Ok(0);
    }
    let stream = match client.start_exec_attached(&created.id, &start).await {
        Ok(s) => s,
        Err(e) if e.is_daemon_error() => return Err(exec_start_error(&e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };
    let raw = (args.tty && args.interactive).then(RawMode::enter);
    session::spawn_helpers(
        &client,
        &created.id,
        ProxyOptions {
            resize: args.tty.then_some("exec"),
            signals: false,
        },
    );
    let end = run_interactive_session(stream, args.tty, args.interactive, detach_keys, raw).await;
    if end == SessionEnd::Detached {
        return Ok(0);
    }
    let info = client.inspect_exec(&created.id).await?;
    Ok(info.exit_code.unwrap_or(0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures_map_to_docker_codes() {
        let e = exec_start_error(
            "OCI runtime exec failed: exec failed: exec: \"nope\": executable file not found in $PATH: unknown",
        );
        assert_eq!(e.code, 127);
        assert_eq!(
            exec_start_error("exec: \"/etc\": permission denied").code,
            126
        );
        assert_eq!(exec_start_error("container is paused").code, 1);
    }
}
