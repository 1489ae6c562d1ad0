//! Container lifecycle commands: start, stop, restart, kill, rm, attach, wait, rename, pause/unpause, update, prune.

use std::sync::Arc;

use berth_api::config::{Resources, RestartPolicy};
use berth_api::container::UpdateBody;
use berth_client::Client;
use berth_client::containers::AttachQuery;
use clap::Args;

use crate::commands::session::{self, ProxyOptions};
use crate::exit::{CmdResult, StatusError, describe, for_each_target};
use crate::opts::filter::parse_filters;
use crate::opts::size::{parse_ram_size, parse_swap_size};
use crate::output::humanize::human_size;
use crate::stdio::{SessionEnd, run_interactive_session};
use crate::terminal::{RawMode, parse_detach_keys};

/// Arguments of commands that take only container names.
#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth stop` and `berth restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "timeout",
        alias = "time",
        allow_hyphen_values = true
    )]
    pub timeout: Option<i64>,
    /// Signal to send to the container.
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove the specified link.
    #[arg(short = 'l', long)]
    pub link: bool,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Container.
    pub container: String,
}

/// `berth rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Container.
    pub container: String,
    /// New name.
    pub new_name: String,
}

/// `berth update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit.
    #[arg(short = 'm', long, value_parser = parse_ram_size)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long = "memory-swap", value_parser = parse_swap_size, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit.
    #[arg(long = "memory-reservation", value_parser = parse_ram_size)]
    pub memory_reservation: Option<i64>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// CPUs in which to allow execution.
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    pub restart: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth container prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>").
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}

/// Asks "Are you sure you want to continue? [y/N]" as Docker does; true when the user agrees.
pub fn confirm(warning: &str) -> bool {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}

/// `berth start`.
pub async fn start(client: Arc<Client>, args: StartArgs) -> CmdResult {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return Err(StatusError::new(
                1,
                "you cannot start and attach multiple containers at once",
            )
            .into());
        }
        return start_attached(client, &args).await;
    }
    let c = Arc::clone(&client);
    for_each_target(&args.containers, true, move |id| {
        let c = Arc::clone(&c);
        async move { c.start_container(&id).await }
    })
    .await
}

async fn start_attached(client: Arc<Client>, args: &StartArgs) -> CmdResult {
    let id = &args.containers[0];
    let info = client.inspect_container(id).await?;
    let tty = info.config.tty.unwrap_or(false);
    let stdin = args.interactive && info.config.open_stdin.unwrap_or(false);
    let query = AttachQuery {
        stdin,
        stdout: true,
        stderr: true,
        logs: false,
        detach_keys: None,
    };
    let stream = client.attach_container(&info.id, &query).await?;
    let wait = client.wait_begin(&info.id, "next-exit").await?;
    let raw = (tty && stdin).then(RawMode::enter);
    client.start_container(&info.id).await?;
    let proxy = ProxyOptions {
        resize: tty.then_some("containers"),
        signals: !tty,
    };
    session::spawn_helpers(&client, &info.id, proxy);
    let detach_keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))
        .map_err(|e| StatusError::new(1, e))?;
    let end = run_interactive_session(stream, tty, stdin, detach_keys, raw).await;
    if end == SessionEnd::Detached {
        return Ok(0);
    }
    Ok(wait.result().await?.status_code as i32)
}

/// `berth stop` / `berth restart` (`action`).
pub async fn stop(client: &Client, args: StopArgs, action: &str) -> CmdResult {
    let (timeout, signal) = (args.timeout, args.signal.clone());
    for_each_target(&args.containers, true, |id| {
        let signal = signal.clone();
        async move {
            client
                .stop_like(&id, action, timeout, signal.as_deref())
                .await
        }
    })
    .await
}

/// `berth kill`.
pub async fn kill(client: &Client, args: KillArgs) -> CmdResult {
    let signal = args.signal.clone();
    for_each_target(&args.containers, true, |id| {
        let signal = signal.clone();
        async move { client.kill_container(&id, signal.as_deref()).await }
    })
    .await
}

/// `berth rm`.
pub async fn rm(client: &Client, args: RmArgs) -> CmdResult {
    let (force, volumes, link) = (args.force, args.volumes, args.link);
    for_each_target(&args.containers, true, |id| async move {
        client.remove_container(&id, force, volumes, link).await
    })
    .await
}

/// `berth attach`.
pub async fn attach(client: Arc<Client>, args: AttachArgs) -> CmdResult {
    let info = client.inspect_container(&args.container).await?;
    if !info.state.running {
        return Err(StatusError::new(
            1,
            "You cannot attach to a stopped container, start it first",
        )
        .into());
    }
    if info.state.paused {
        return Err(StatusError::new(
            1,
            "You cannot attach to a paused container, unpause it first",
        )
        .into());
    }
    let tty = info.config.tty.unwrap_or(false);
    let stdin = !args.no_stdin && info.config.open_stdin.unwrap_or(false);
    let detach_keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))
        .map_err(|e| StatusError::new(1, e))?;
    let query = AttachQuery {
        stdin,
        stdout: true,
        stderr: true,
        logs: false,
        detach_keys: None,
    };
    let stream = client.attach_container(&info.id, &query).await?;
    let raw = (tty && stdin).then(RawMode::enter);
    session::spawn_helpers(
        &client,
        &info.id,
        ProxyOptions {
            resize: tty.then_some("containers"),
            signals: args.sig_proxy && !tty,
        },
    );
    let end = run_interactive_session(stream, tty, stdin, detach_keys, raw).await;
    if end == SessionEnd::Detached {
        return Ok(0);
    }
    let after = client.inspect_container(&info.id).await?;
    Ok(after.state.exit_code as i32)
}

/// `berth wait`: prints each exit code.
pub async fn wait(client: &Client, args: NamesArgs) -> CmdResult {
    let mut failed = false;
    for id in &args.containers {
        let result = match client.wait_begin(id, "not-running").await {
            Ok(w) => w.result().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(r) => println!("{}", r.status_code),
            Err(e) => {
                failed = true;
                eprintln!("{}", describe(&e));
            }
        }
    }
    Ok(i32::from(failed))
}

/// `berth rename`.
pub async fn rename(client: &Client, args: RenameArgs) -> CmdResult {
    client
        .rename_container(&args.container, &args.new_name)
        .await?;
    Ok(0)
}

/// `berth pause` / `berth unpause` (`action`).
pub async fn pause(client: &Client, args: NamesArgs, action: &str) -> CmdResult {
    for_each_target(&args.containers, true, |id| async move {
        client.container_action(&id, action).await
    })
    .await
}

/// `berth update`.
pub async fn update(client: &Client, args: UpdateArgs) -> CmdResult {
    let restart_policy = match &args.restart {
        Some(r) => {
            let (name, count) = r.split_once(':').unwrap_or((r.as_str(), ""));
            Some(RestartPolicy {
                name: Some(name.to_string()),
                maximum_retry_count: count.parse().ok(),
            })
        }
        None => None,
    };
    let body = UpdateBody {
        resources: Resources {
            cpu_shares: args.cpu_shares,
            memory: args.memory,
            nano_cpus: args.cpus.map(|c| (c * 1e9).round() as i64),
            cpuset_cpus: args.cpuset_cpus.clone(),
            memory_reservation: args.memory_reservation,
            memory_swap: args.memory_swap,
            pids_limit: args.pids_limit,
            ..Default::default()
        },
        restart_policy,
    };
    let body = &body;
    for_each_target(&args.containers, true, |id| async move {
        let reply = client.update_container(&id, body).await?;
        for w in reply.warnings {
            eprintln!("WARNING: {w}");
        }
        Ok(())
    })
    .await
}

/// `berth container prune`.
pub async fn prune(client: &Client, args: PruneArgs) -> CmdResult {
    let filters = parse_filters(&args.filters).map_err(|e| StatusError::new(125, e))?;
    if !args.force && !confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let report = client.prune_containers(&filters).await?;
    if !report.containers_deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &report.containers_deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(report.space_reclaimed as f64)
    );
    Ok(0)
}
