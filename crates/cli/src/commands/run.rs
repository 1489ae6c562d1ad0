//! `run` and `create`: Docker's container flags turned into a create body; `run` pipelines create, attach, wait
//! (`next-exit`, registered before start) and start, then exits with the container's status.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use berth_api::config::{
    ContainerConfig, ContainerCreateBody, EmptyObject, HealthConfig, HostConfig, LogConfig, Mount,
    PortBinding, Resources, RestartPolicy, Ulimit,
};
use berth_client::containers::AttachQuery;
use berth_client::{Client, ClientError, ErrorKind};
use clap::{ArgAction, Args};

use crate::commands::names::with_default_tag;
use crate::commands::session::{self, ProxyOptions};
use crate::commands::transfer;
use crate::exit::{CmdResult, StatusError, describe};
use crate::opts::duration::parse_go_duration;
use crate::opts::env::{read_env_file, resolve_env};
use crate::opts::filter::parse_key_values;
use crate::opts::mount::parse_mount;
use crate::opts::size::{parse_ram_size, parse_swap_size};
use crate::opts::ulimit::parse_ulimit;
use crate::opts::volume::{VolumeSpec, parse_volume};
use crate::stdio::{SessionEnd, SessionOptions};
use crate::terminal::parse_detach_keys;

/// Flags shared by `create` and `run`.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct CreateOpts {
    /// Print usage.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set meta data on a container.
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Restart policy to apply when a container exits.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Memory limit.
    #[arg(short = 'm', long, value_parser = parse_ram_size)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
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
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Ulimit options.
    #[arg(long = "ulimit", value_parser = parse_ulimit)]
    pub ulimits: Vec<Ulimit>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Mount a tmpfs directory.
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Bind mount a volume.
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount to the container.
    #[arg(long = "mount", value_parser = parse_mount)]
    pub mounts: Vec<Mount>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Connect a container to a network (none, host, bridge).
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name.
    #[arg(long)]
    pub domainname: Option<String>,
    /// Command to run to check health.
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long = "health-interval", value_parser = parse_go_duration)]
    pub health_interval: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long = "health-timeout", value_parser = parse_go_duration)]
    pub health_timeout: Option<i64>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown.
    #[arg(long = "health-start-period", value_parser = parse_go_duration)]
    pub health_start_period: Option<i64>,
    /// Time between running the check during the start period.
    #[arg(long = "health-start-interval", value_parser = parse_go_duration)]
    pub health_start_interval: Option<i64>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Logging driver for the container.
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options.
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Security Options.
    #[arg(long = "security-opt")]
    pub security_opts: Vec<String>,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Publish a container's port(s) to the host.
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Expose a port or a range of ports.
    #[arg(long)]
    pub expose: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long = "shm-size", value_parser = parse_ram_size)]
    pub shm_size: Option<i64>,
    /// Add additional groups to join.
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Sysctl options.
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Tune host's OOM preferences (-1000 to 1000).
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// IPC mode to use.
    #[arg(long)]
    pub ipc: Option<String>,
    /// PID namespace to use.
    #[arg(long)]
    pub pid: Option<String>,
    /// UTS namespace to use.
    #[arg(long)]
    pub uts: Option<String>,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// Pull image before creating ("always", "missing", "never").
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Automatically remove the container and its associated anonymous volumes when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Suppress the pull output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image, then the command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub args: Vec<String>,
}

/// `berth create`.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    pub create: CreateOpts,
}

/// `berth run`.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process.
    #[arg(long = "sig-proxy", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR.
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    #[command(flatten)]
    pub create: CreateOpts,
}

fn parse_restart(policy: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match policy.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (policy, None),
    };
    let maximum_retry_count = match (name, count) {
        ("on-failure", Some(c)) => Some(c.parse::<i64>().map_err(|_| {
            "invalid restart policy format: maximum retry count must be an integer".to_string()
        })?),
        (_, Some(_)) => {
            return Err(format!(
                "invalid restart policy format: {policy}: maximum retry count can only be used with 'on-failure'"
            ));
        }
        _ => None,
    };
    match name {
        "no" | "" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
            name: Some(if name.is_empty() { "no" } else { name }.to_string()),
            maximum_retry_count,
        }),
        _ => Err(format!(
            "invalid restart policy format: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        )),
    }
}

/// `[ip:][hostPort:]containerPort[/proto]` into (`80/tcp`, binding).
pub fn parse_publish(spec: &str) -> Result<(String, PortBinding), String> {
    let (addr, proto) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (spec, "tcp"),
    };
    let parts: Vec<&str> = addr.rsplitn(3, ':').collect();
    let (container, host_port, host_ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => return Err(format!("invalid port format for --publish: {spec}")),
    };
    if container.is_empty() || container.parse::<u16>().is_err() {
        return Err(format!("invalid containerPort: {container}"));
    }
    if !host_port.is_empty() && host_port.parse::<u16>().is_err() {
        return Err(format!("invalid hostPort: {host_port}"));
    }
    Ok((
        format!("{container}/{proto}"),
        PortBinding {
            host_ip: host_ip.trim_matches(['[', ']']).to_string(),
            host_port: host_port.to_string(),
        },
    ))
}

fn none_if_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn collect_env(opts: &CreateOpts) -> Result<Vec<String>, String> {
    let mut env = Vec::new();
    for file in &opts.env_file {
        env.extend(read_env_file(file)?);
    }
    env.extend(
        opts.env
            .iter()
            .filter_map(|e| resolve_env(e, |k| std::env::var(k).ok())),
    );
    Ok(env)
}

fn healthcheck(opts: &CreateOpts) -> Result<Option<HealthConfig>, String> {
    let tuned = opts.health_interval.is_some()
        || opts.health_timeout.is_some()
        || opts.health_retries.is_some()
        || opts.health_start_period.is_some()
        || opts.health_start_interval.is_some();
    if opts.no_healthcheck {
        if opts.health_cmd.is_some() || tuned {
            return Err("--no-healthcheck conflicts with --health-* options".to_string());
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..Default::default()
        }));
    }
    if opts.health_cmd.is_none() && !tuned {
        return Ok(None);
    }
    Ok(Some(HealthConfig {
        test: opts
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
        interval: opts.health_interval,
        timeout: opts.health_timeout,
        retries: opts.health_retries,
        start_period: opts.health_start_period,
        start_interval: opts.health_start_interval,
    }))
}

/// Builds the create body from the flags; `attach` says which streams `run` attaches.
pub fn build_create_body(
    opts: &CreateOpts,
    attach: [bool; 3],
) -> Result<ContainerCreateBody, String> {
    let (image, cmd) = opts
        .args
        .split_first()
        .ok_or_else(|| "requires at least 1 argument".to_string())?;
    let mut binds = Vec::new();
    let mut anonymous = HashMap::new();
    for v in &opts.volumes {
        match parse_volume(v)? {
            VolumeSpec::Bind(b) => binds.push(b),
            VolumeSpec::Anonymous(p) => {
                anonymous.insert(p, EmptyObject {});
            }
        }
    }
    let mut exposed = HashMap::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &opts.publish {
        let (port, binding) = parse_publish(p)?;
        exposed.insert(port.clone(), EmptyObject {});
        bindings
            .entry(port)
            .or_default()
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    for e in &opts.expose {
        let port = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(port, EmptyObject {});
    }
    let tmpfs: HashMap<String, String> = opts
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let entrypoint = opts.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let nano_cpus = opts.cpus.map(|c| (c * 1e9).round() as i64);
    let log_config = (opts.log_driver.is_some() || !opts.log_opts.is_empty()).then(|| LogConfig {
        kind: opts.log_driver.clone().unwrap_or_default(),
        config: parse_key_values(&opts.log_opts),
    });
    let labels = parse_key_values(&opts.labels);
    let config = ContainerConfig {
        hostname: opts.hostname.clone(),
        domainname: opts.domainname.clone(),
        user: opts.user.clone(),
        attach_stdin: Some(attach[0]),
        attach_stdout: Some(attach[1]),
        attach_stderr: Some(attach[2]),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        tty: Some(opts.tty),
        open_stdin: Some(opts.interactive),
        stdin_once: Some(opts.interactive && attach[0]),
        env: Some(collect_env(opts)?),
        cmd: none_if_empty(cmd.to_vec()),
        healthcheck: healthcheck(opts)?,
        image: Some(image.clone()),
        volumes: (!anonymous.is_empty()).then_some(anonymous),
        working_dir: opts.workdir.clone(),
        entrypoint,
        labels: Some(labels),
        stop_signal: opts.stop_signal.clone(),
        stop_timeout: opts.stop_timeout,
        ..Default::default()
    };
    let host_config = HostConfig {
        binds: none_if_empty(binds),
        log_config,
        network_mode: opts.network.clone(),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        restart_policy: Some(parse_restart(&opts.restart)?),
        auto_remove: Some(opts.rm),
        console_size: opts
            .tty
            .then(crate::terminal::window_size)
            .flatten()
            .map(|(h, w)| vec![u32::from(h), u32::from(w)]),
        cap_add: none_if_empty(opts.cap_add.clone()),
        cap_drop: none_if_empty(opts.cap_drop.clone()),
        dns: none_if_empty(opts.dns.clone()),
        extra_hosts: none_if_empty(opts.add_host.clone()),
        group_add: none_if_empty(opts.group_add.clone()),
        ipc_mode: opts.ipc.clone(),
        oom_score_adj: opts.oom_score_adj,
        pid_mode: opts.pid.clone(),
        privileged: Some(opts.privileged),
        readonly_rootfs: Some(opts.read_only),
        security_opt: none_if_empty(opts.security_opts.clone()),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        uts_mode: opts.uts.clone(),
        shm_size: opts.shm_size,
        sysctls: (!opts.sysctl.is_empty()).then(|| parse_key_values(&opts.sysctl)),
        resources: Resources {
            cpu_shares: opts.cpu_shares,
            memory: opts.memory,
            nano_cpus,
            cpuset_cpus: opts.cpuset_cpus.clone(),
            memory_reservation: opts.memory_reservation,
            memory_swap: opts.memory_swap,
            pids_limit: opts.pids_limit,
            ulimits: none_if_empty(opts.ulimits.clone()),
            ..Default::default()
        },
        mounts: none_if_empty(opts.mounts.clone()),
        init: opts.init.then_some(true),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        config,
        host_config: Some(host_config),
        networking_config: None,
    })
}

fn is_missing_image(e: &ClientError) -> bool {
    e.kind() == ErrorKind::NotFound && e.to_string().starts_with("No such image")
}

/// Creates the container, pulling the image first when `--pull` asks or it is missing; prints warnings.
async fn create_container(
    client: &Client,
    opts: &CreateOpts,
    body: &ContainerCreateBody,
) -> anyhow::Result<String> {
    let image = opts.args.first().cloned().unwrap_or_default();
    if opts.pull == "always" {
        transfer::pull_for_run(client, &image, opts.platform.as_deref(), opts.quiet).await?;
    }
    let name = opts.name.as_deref();
    let platform = opts.platform.as_deref();
    let created = match client.create_container(body, name, platform).await {
        Err(e) if is_missing_image(&e) && opts.pull == "missing" => {
            eprintln!(
                "Unable to find image '{}' locally",
                with_default_tag(&image)
            );
            transfer::pull_for_run(client, &image, platform, opts.quiet).await?;
            client.create_container(body, name, platform).await?
        }
        other => other?,
    };
    for w in &created.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(created.id)
}

fn check_pull_policy(opts: &CreateOpts) -> Result<(), String> {
    match opts.pull.as_str() {
        "always" | "missing" | "never" => Ok(()),
        other => Err(format!(
            "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
        )),
    }
}

/// `berth create`: prints the new id; daemon errors exit 1 as `docker create` does.
pub async fn create(client: &Client, args: CreateArgs) -> CmdResult {
    let opts = &args.create;
    check_pull_policy(opts).map_err(|e| StatusError::new(125, e))?;
    let body = build_create_body(opts, [opts.interactive, true, true])
        .map_err(|e| StatusError::new(125, e))?;
    let id = create_container(client, opts, &body).await?;
    println!("{id}");
    Ok(0)
}

/// Docker's exit code for a failed start: 127 when the command is missing, 126 when it cannot be run
/// (EACCES, EISDIR), else 125.
pub fn start_failure_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

fn run_error(e: anyhow::Error, code: i32) -> anyhow::Error {
    let text = crate::exit::describe_any(&e);
    StatusError::new(
        code,
        format!("berth: {text}\n\nRun 'berth run --help' for more information"),
    )
    .into()
}

/// `berth run`.
pub async fn run(client: Arc<Client>, args: RunArgs) -> CmdResult {
    let opts = &args.create;
    check_pull_policy(opts).map_err(|e| StatusError::new(125, e))?;
    let detach_keys = parse_detach_keys(args.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))
        .map_err(|e| StatusError::new(125, e))?;
    let wants =
        |s: &str| args.attach.is_empty() || args.attach.iter().any(|a| a.eq_ignore_ascii_case(s));
    let attach = if args.detach {
        [false, false, false]
    } else {
        [opts.interactive, wants("stdout"), wants("stderr")]
    };
    let body = build_create_body(opts, attach).map_err(|e| StatusError::new(125, e))?;
    let id = create_container(&client, opts, &body)
        .await
        .map_err(|e| run_error(e, 125))?;
    if args.detach {
        if let Err(e) = client.start_container(&id).await {
            remove_after_failed_start(&client, &id, opts.rm).await;
            let code = start_failure_code(&e.to_string());
            return Err(run_error(e.into(), code));
        }
        println!("{id}");
        return Ok(0);
    }
    run_attached(client, &id, opts, attach, detach_keys, args.sig_proxy).await
}

/// With `--rm`, a container that failed to start is removed, as Docker leaves none behind.
async fn remove_after_failed_start(client: &Client, id: &str, auto_remove: bool) {
    if auto_remove {
        let _ = client.remove_container(id, true, true, false).await;
    }
}

async fn run_attached(
    client: Arc<Client>,
    id: &str,
    opts: &CreateOpts,
    attach: [bool; 3],
    detach_keys: Vec<u8>,
    sig_proxy: bool,
) -> CmdResult {
    let attached = attach.iter().any(|a| *a);
    let stream = if attached {
        let query = AttachQuery {
            stdin: attach[0],
            stdout: attach[1],
            stderr: attach[2],
            logs: false,
            detach_keys: None,
        };
        Some(
            client
                .attach_container(id, &query)
                .await
                .map_err(|e| run_error(e.into(), 125))?,
        )
    } else {
        None
    };
    let condition = if opts.rm { "removed" } else { "next-exit" };
    let wait = client
        .wait_begin(id, condition)
        .await
        .map_err(|e| run_error(e.into(), 125))?;
    let mut raw = (opts.tty && opts.interactive).then(crate::terminal::RawMode::enter);
    if let Err(e) = client.start_container(id).await {
        if let Some(r) = raw.as_mut() {
            r.restore();
        }
        remove_after_failed_start(&client, id, opts.rm).await;
        let code = start_failure_code(&e.to_string());
        return Err(run_error(e.into(), code));
    }
    let proxy = ProxyOptions {
        resize: opts.tty.then_some("containers"),
        signals: sig_proxy && !opts.tty,
    };
    session::spawn_helpers(&client, id, proxy);
    let end = match stream {
        Some(s) => {
            let session = SessionOptions {
                tty: opts.tty,
                stdin: attach[0],
                detach_keys: if opts.tty && attach[0] {
                    detach_keys
                } else {
                    Vec::new()
                },
            };
            crate::stdio::run_session(s, session).await
        }
        None => SessionEnd::OutputClosed,
    };
    if let Some(r) = raw.as_mut() {
        r.restore();
    }
    if end == SessionEnd::Detached {
        return Ok(0);
    }
    let status = wait
        .result()
        .await
        .context("waiting for the container")
        .map_err(|e| StatusError::new(125, describe_wait(&e)))?;
    if let Some(err) = status.error {
        eprintln!("berth: {}", err.message);
    }
    Ok(status.status_code as i32)
}

fn describe_wait(e: &anyhow::Error) -> String {
    match e.root_cause().downcast_ref::<ClientError>() {
        Some(c) => describe(c),
        None => format!("{e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        run: RunArgs,
    }

    fn body(args: &[&str]) -> ContainerCreateBody {
        let t = T::try_parse_from(std::iter::once("run").chain(args.iter().copied())).unwrap();
        build_create_body(&t.run.create, [false, true, true]).unwrap()
    }

    #[test]
    fn maps_flags_to_the_create_body() {
        let b = body(&[
            "--name",
            "web",
            "-e",
            "A=1",
            "-w",
            "/srv",
            "-u",
            "nobody",
            "-l",
            "x=y",
            "--restart",
            "on-failure:3",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--pids-limit",
            "100",
            "--ulimit",
            "nofile=10:20",
            "--cap-add",
            "NET_ADMIN",
            "--read-only",
            "--tmpfs",
            "/run:size=1m",
            "-v",
            "/h:/c:ro",
            "-v",
            "/anon",
            "--init",
            "--stop-signal",
            "SIGINT",
            "--stop-timeout",
            "3",
            "--network",
            "none",
            "-h",
            "box",
            "--health-cmd",
            "true",
            "--health-interval",
            "5s",
            "-p",
            "8080:80",
            "--entrypoint",
            "/bin/sh",
            "busybox",
            "-c",
            "echo hi",
        ]);
        let c = &b.config;
        assert_eq!(c.image.as_deref(), Some("busybox"));
        assert_eq!(c.cmd.as_deref().unwrap(), ["-c", "echo hi"]);
        assert_eq!(c.entrypoint.as_deref().unwrap(), ["/bin/sh"]);
        assert_eq!(c.env.as_deref().unwrap(), ["A=1"]);
        assert_eq!(c.hostname.as_deref(), Some("box"));
        assert_eq!(c.labels.as_ref().unwrap()["x"], "y");
        assert!(c.volumes.as_ref().unwrap().contains_key("/anon"));
        assert_eq!(
            c.healthcheck.as_ref().unwrap().test.as_deref().unwrap(),
            ["CMD-SHELL", "true"]
        );
        assert_eq!(
            c.healthcheck.as_ref().unwrap().interval,
            Some(5_000_000_000)
        );
        let h = b.host_config.unwrap();
        assert_eq!(h.resources.memory, Some(64 << 20));
        assert_eq!(h.resources.memory_swap, Some(-1));
        assert_eq!(h.resources.nano_cpus, Some(1_500_000_000));
        assert_eq!(h.resources.pids_limit, Some(100));
        assert_eq!(h.resources.ulimits.as_ref().unwrap()[0].hard, 20);
        assert_eq!(
            h.restart_policy.as_ref().unwrap().maximum_retry_count,
            Some(3)
        );
        assert_eq!(h.binds.as_deref().unwrap(), ["/h:/c:ro"]);
        assert_eq!(h.tmpfs.as_ref().unwrap()["/run"], "size=1m");
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        assert_eq!(h.init, Some(true));
        assert_eq!(h.readonly_rootfs, Some(true));
        let pb = &h.port_bindings.as_ref().unwrap()["80/tcp"];
        assert_eq!(pb.as_ref().unwrap()[0].host_port, "8080");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(T::try_parse_from(["run", "-m", "x", "busybox"]).is_err());
        assert!(T::try_parse_from(["run", "--ulimit", "bogus=1", "busybox"]).is_err());
        assert!(parse_restart("sometimes").is_err());
        assert!(parse_restart("always:3").is_err());
        assert!(parse_publish("x:80").is_err());
    }

    #[test]
    fn start_failure_codes() {
        assert_eq!(
            start_failure_code("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec: \"/etc\": permission denied"), 126);
        assert_eq!(start_failure_code("exec: \"/etc\": is a directory"), 126);
        assert_eq!(start_failure_code("something else"), 125);
    }
}
