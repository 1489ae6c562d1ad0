//! The command line: global flags, the command tree (Docker's names and `container`/`image`/`system` groups), and
//! dispatch. Clap usage errors exit 125 like Docker's flag errors.

use std::ffi::OsString;
use std::sync::Arc;

use berth_client::{Client, Host, TlsFlags};
use clap::{Parser, Subcommand};

use crate::commands::{
    exec, images, info, inspect, lifecycle, logs, misc, ps, registry, run, transfer,
};
use crate::exit::{CmdResult, exit_status};

/// berth: a Docker-compatible container engine.
#[derive(Debug, Parser)]
#[command(name = "berth", version, disable_help_subcommand = true)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path, tcp://host:port).
    #[arg(short = 'H', long = "host")]
    host: Option<String>,
    /// Use TLS; implied by --tlsverify.
    #[arg(long)]
    tls: bool,
    /// Use TLS and verify the remote (default from DOCKER_TLS_VERIFY).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tlsverify: Option<bool>,
    /// Trust certs signed only by this CA (default ~/.docker/ca.pem).
    #[arg(long)]
    tlscacert: Option<std::path::PathBuf>,
    /// Path to TLS certificate file (default ~/.docker/cert.pem).
    #[arg(long)]
    tlscert: Option<std::path::PathBuf>,
    /// Path to TLS key file (default ~/.docker/key.pem).
    #[arg(long)]
    tlskey: Option<std::path::PathBuf>,
    /// Enable debug mode.
    #[arg(short = 'D', long)]
    debug: bool,
    /// Logging level (accepted for compatibility).
    #[arg(short = 'l', long = "log-level")]
    log_level: Option<String>,
    /// Location of client config files (default ~/.docker).
    #[arg(long)]
    config: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// Every command, with Docker's top-level shortcuts.
#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Containers(ContainerCmd),
    /// Manage containers.
    #[command(name = "container")]
    ContainerGroup {
        #[command(subcommand)]
        cmd: ContainerGroupCmd,
    },
    /// Manage images.
    #[command(name = "image")]
    ImageGroup {
        #[command(subcommand)]
        cmd: ImageCmd,
    },
    /// Manage the daemon.
    #[command(name = "system")]
    SystemGroup {
        #[command(subcommand)]
        cmd: SystemCmd,
    },
    /// List images.
    Images(images::ImagesArgs),
    /// Remove one or more images.
    Rmi(images::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(images::TagArgs),
    /// Show the history of an image.
    History(images::HistoryArgs),
    /// Load an image from a tar archive or STDIN.
    Load(transfer::LoadArgs),
    /// Save one or more images to a tar archive.
    Save(transfer::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(transfer::ImportArgs),
    /// Download an image from a registry.
    Pull(transfer::PullArgs),
    /// Upload an image to a registry.
    Push(transfer::PushArgs),
    /// Log in to a registry.
    Login(registry::LoginArgs),
    /// Log out from a registry.
    Logout(registry::LogoutArgs),
    /// Return low-level information on objects.
    Inspect(inspect::InspectArgs),
    /// Display system-wide information.
    Info(info::InfoArgs),
    /// Show the berth version information.
    Version(info::VersionArgs),
    /// Get real time events from the server.
    Events(info::EventsArgs),
}

/// Container commands available both at the top level and under `container`.
#[derive(Debug, Subcommand)]
enum ContainerCmd {
    /// Create and run a new container from an image.
    Run(Box<run::RunArgs>),
    /// Create a new container.
    Create(Box<run::CreateArgs>),
    /// Start one or more stopped containers.
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers.
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers.
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers.
    Kill(lifecycle::KillArgs),
    /// Remove one or more containers.
    #[command(alias = "remove")]
    Rm(lifecycle::RmArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// Fetch the logs of a container.
    Logs(logs::LogsArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(lifecycle::AttachArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(lifecycle::NamesArgs),
    /// Display the running processes of a container.
    Top(misc::TopArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(misc::StatsArgs),
    /// Rename a container.
    Rename(lifecycle::RenameArgs),
    /// Pause all processes within one or more containers.
    Pause(lifecycle::NamesArgs),
    /// Unpause all processes within one or more containers.
    Unpause(lifecycle::NamesArgs),
    /// Update configuration of one or more containers.
    Update(lifecycle::UpdateArgs),
    /// Export a container's filesystem as a tar archive.
    Export(misc::ExportArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(misc::CpArgs),
    /// List port mappings or a specific mapping for the container.
    Port(misc::PortArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(misc::DiffArgs),
    /// Create a new image from a container's changes.
    Commit(misc::CommitArgs),
}

/// `berth container ...`: the shared commands plus group-only names.
#[derive(Debug, Subcommand)]
enum ContainerGroupCmd {
    #[command(flatten)]
    Shared(ContainerCmd),
    /// List containers.
    #[command(alias = "list")]
    Ls(ps::PsArgs),
    /// Display detailed information on one or more containers.
    Inspect(inspect::TypedInspectArgs),
    /// Remove all stopped containers.
    Prune(lifecycle::PruneArgs),
}

/// `berth image ...`.
#[derive(Debug, Subcommand)]
enum ImageCmd {
    /// List images.
    #[command(alias = "list")]
    Ls(images::ImagesArgs),
    /// Remove one or more images.
    #[command(alias = "remove")]
    Rm(images::RmiArgs),
    /// Display detailed information on one or more images.
    Inspect(inspect::TypedInspectArgs),
    /// Remove unused images.
    Prune(images::ImagePruneArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(images::TagArgs),
    /// Show the history of an image.
    History(images::HistoryArgs),
    /// Load an image from a tar archive or STDIN.
    Load(transfer::LoadArgs),
    /// Save one or more images to a tar archive.
    Save(transfer::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(transfer::ImportArgs),
    /// Download an image from a registry.
    Pull(transfer::PullArgs),
    /// Upload an image to a registry.
    Push(transfer::PushArgs),
}

/// `berth system ...`.
#[derive(Debug, Subcommand)]
enum SystemCmd {
    /// Display system-wide information.
    Info(info::InfoArgs),
    /// Show disk usage.
    Df(info::DfArgs),
    /// Remove unused data.
    Prune(info::SystemPruneArgs),
    /// Get real time events from the server.
    Events(info::EventsArgs),
}

/// Parses, runs and returns the exit code; errors are printed as Docker prints them.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, &args),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(run_cli(cli));
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            let (code, message) = exit_status(&e);
            if !message.is_empty() {
                eprintln!("{message}");
            }
            code
        }
    };
    runtime.shutdown_background();
    code
}

/// Prints a clap error the way Docker treats usage problems: help output exits 0, bad usage exits 125.
fn usage_error(e: &clap::Error, args: &[OsString]) -> i32 {
    use clap::error::ErrorKind;
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        print!("{}", e.render());
        return 0;
    }
    if !e.use_stderr() {
        let _ = e.print();
        return 0;
    }
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match crate::usage::docker_usage_message(e, &<Cli as clap::CommandFactory>::command(), &args) {
        Some(message) => eprintln!("{message}"),
        None => {
            let _ = e.print();
        }
    }
    crate::usage::usage_status(e)
}

async fn run_cli(cli: Cli) -> CmdResult {
    let tls = TlsFlags {
        tls: cli.tls,
        tlsverify: cli.tlsverify,
        cacert: cli.tlscacert.clone(),
        cert: cli.tlscert.clone(),
        key: cli.tlskey.clone(),
    };
    let host = Host::resolve(cli.host.as_deref(), &tls)?;
    if !matches!(cli.command, Command::Logout(_)) && crate::autostart::wanted(&host) {
        crate::autostart::start(&host).map_err(|e| crate::exit::StatusError::new(1, e))?;
    }
    let client = Arc::new(Client::new(host));
    let _ = (cli.debug, cli.log_level);
    if let Some(dir) = cli.config {
        registry::set_config_dir(dir.into());
    }
    match cli.command {
        Command::Containers(cmd) => container(client, cmd).await,
        Command::ContainerGroup { cmd } => match cmd {
            ContainerGroupCmd::Shared(cmd) => container(client, cmd).await,
            ContainerGroupCmd::Ls(a) => ps::ps(&client, a).await,
            ContainerGroupCmd::Inspect(a) => {
                inspect::inspect(&client, a.into_args("container")).await
            }
            ContainerGroupCmd::Prune(a) => lifecycle::prune(&client, a).await,
        },
        Command::ImageGroup { cmd } => image(client, cmd).await,
        Command::SystemGroup { cmd } => match cmd {
            SystemCmd::Info(a) => info::info(&client, a).await,
            SystemCmd::Df(a) => info::df(&client, a).await,
            SystemCmd::Prune(a) => info::system_prune(&client, a).await,
            SystemCmd::Events(a) => info::events(&client, a).await,
        },
        Command::Images(a) => images::images(&client, a).await,
        Command::Rmi(a) => images::rmi(&client, a).await,
        Command::Tag(a) => images::tag(&client, a).await,
        Command::History(a) => images::history(&client, a).await,
        Command::Load(a) => transfer::load(&client, a).await,
        Command::Save(a) => transfer::save(&client, a).await,
        Command::Import(a) => transfer::import(&client, a).await,
        Command::Pull(a) => transfer::pull(&client, a).await,
        Command::Push(a) => transfer::push(&client, a).await,
        Command::Login(a) => registry::login(&client, a).await,
        Command::Logout(a) => registry::logout(a),
        Command::Inspect(a) => inspect::inspect(&client, a).await,
        Command::Info(a) => info::info(&client, a).await,
        Command::Version(a) => info::version(&client, a).await,
        Command::Events(a) => info::events(&client, a).await,
    }
}

async fn container(client: Arc<Client>, cmd: ContainerCmd) -> CmdResult {
    match cmd {
        ContainerCmd::Run(a) => run::run(client, *a).await,
        ContainerCmd::Create(a) => run::create(&client, *a).await,
        ContainerCmd::Start(a) => lifecycle::start(client, a).await,
        ContainerCmd::Stop(a) => lifecycle::stop(&client, a, "stop").await,
        ContainerCmd::Restart(a) => lifecycle::stop(&client, a, "restart").await,
        ContainerCmd::Kill(a) => lifecycle::kill(&client, a).await,
        ContainerCmd::Rm(a) => lifecycle::rm(&client, a).await,
        ContainerCmd::Ps(a) => ps::ps(&client, a).await,
        ContainerCmd::Logs(a) => logs::logs(&client, a).await,
        ContainerCmd::Exec(a) => exec::exec(client, a).await,
        ContainerCmd::Attach(a) => lifecycle::attach(client, a).await,
        ContainerCmd::Wait(a) => lifecycle::wait(&client, a).await,
        ContainerCmd::Top(a) => misc::top(&client, a).await,
        ContainerCmd::Stats(a) => misc::stats(&client, a).await,
        ContainerCmd::Rename(a) => lifecycle::rename(&client, a).await,
        ContainerCmd::Pause(a) => lifecycle::pause(&client, a, "pause").await,
        ContainerCmd::Unpause(a) => lifecycle::pause(&client, a, "unpause").await,
        ContainerCmd::Update(a) => lifecycle::update(&client, a).await,
        ContainerCmd::Export(a) => misc::export(&client, a).await,
        ContainerCmd::Cp(a) => misc::cp(&client, a).await,
        ContainerCmd::Port(a) => misc::port(&client, a).await,
        ContainerCmd::Diff(a) => misc::diff(&client, a).await,
        ContainerCmd::Commit(a) => misc::commit(&client, a).await,
    }
}

async fn image(client: Arc<Client>, cmd: ImageCmd) -> CmdResult {
    match cmd {
        ImageCmd::Ls(a) => images::images(&client, a).await,
        ImageCmd::Rm(a) => images::rmi(&client, a).await,
        ImageCmd::Inspect(a) => inspect::inspect(&client, a.into_args("image")).await,
        ImageCmd::Prune(a) => images::prune(&client, a).await,
        ImageCmd::Tag(a) => images::tag(&client, a).await,
        ImageCmd::History(a) => images::history(&client, a).await,
        ImageCmd::Load(a) => transfer::load(&client, a).await,
        ImageCmd::Save(a) => transfer::save(&client, a).await,
        ImageCmd::Import(a) => transfer::import(&client, a).await,
        ImageCmd::Pull(a) => transfer::pull(&client, a).await,
        ImageCmd::Push(a) => transfer::push(&client, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_hostname_short_flag_and_stops_at_the_image() {
        let cli = Cli::try_parse_from(["berth", "run", "-h", "box", "--rm", "busybox", "ls", "-l"])
            .unwrap();
        let Command::Containers(ContainerCmd::Run(a)) = cli.command else {
            panic!("not run");
        };
        assert_eq!(a.create.hostname.as_deref(), Some("box"));
        assert_eq!(a.create.args, ["busybox", "ls", "-l"]);
    }
}
