//! runc's command line (global flags and subcommands), as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// berth-runtime: an OCI runtime with runc's command line.
#[derive(Debug, Parser)]
#[command(name = "berth-runtime", version, about)]
pub struct Cli {
    /// Flags every command accepts.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// runc's global flags.
#[derive(Debug, Args)]
pub struct Global {
    /// Root directory for container state (tmpfs recommended).
    #[arg(long, global = true, default_value = "/run/berth-runtime")]
    pub root: PathBuf,
    /// Write log lines (errors, and debug with --debug) to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log line format.
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log debug lines too.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for compatibility; systemd cgroup paths are refused when a spec uses them.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (runc's --rootless auto|true|false, before the command).
    #[arg(long = "rootless", id = "global_rootless")]
    pub rootless: Option<String>,
    /// Accepted for compatibility; checkpointing is not supported.
    #[arg(long, global = true)]
    pub criu: Option<String>,
}

/// Log formats runc knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// logrus text: time="..." level=error msg="..."
    Text,
    /// One JSON object per line: {"level","msg","time"}.
    Json,
}

/// Output formats of list and ps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns.
    Table,
    /// JSON.
    Json,
}

/// runc's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (its init waits for `start`).
    Create(CreateArgs),
    /// Start a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print a container's state as JSON.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal to a container's init (or all its processes).
    Kill {
        /// Signal every process of the container.
        #[arg(short, long)]
        all: bool,
        /// Container id.
        id: String,
        /// Signal name (TERM, SIGTERM) or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container.
    Delete {
        /// Kill a running container first.
        #[arg(short, long)]
        force: bool,
        /// Container id.
        id: String,
    },
    /// Create and start a container, and wait for it unless --detach.
    Run(RunArgs),
    /// Run another process in a container.
    Exec(ExecArgs),
    /// List the processes of a container.
    Ps {
        /// Output format.
        #[arg(short, long, value_enum, default_value = "table")]
        format: TableFormat,
        /// Container id.
        id: String,
        /// Accepted for compatibility (ps options).
        #[arg(trailing_var_arg = true)]
        ps_args: Vec<String>,
    },
    /// List containers.
    List {
        /// Output format.
        #[arg(short, long, value_enum, default_value = "table")]
        format: TableFormat,
        /// Print ids only.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Freeze a container's processes.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// Container id.
        id: String,
    },
    /// Write a default config.json.
    Spec {
        /// Bundle directory.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Make a spec for a rootless container.
        #[arg(long)]
        rootless: bool,
    },
    /// Print the runtime's features as JSON.
    Features,
    /// Print container events; only one-shot stats (--stats) are supported.
    Events {
        /// Print one stats record and exit.
        #[arg(long)]
        stats: bool,
        /// Accepted for compatibility.
        #[arg(long)]
        interval: Option<String>,
        /// Container id.
        id: String,
    },
}

/// Flags of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Bundle directory.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the init's pid here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Send the pty master to this unix socket.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Ignored (pivot_root is always used).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Ignored.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Accepted for compatibility; only 0 is supported.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
}

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Flags shared with create.
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after start instead of waiting.
    #[arg(short, long)]
    pub detach: bool,
}

/// Flags of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A JSON process description (replaces the other process flags).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Working directory.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (KEY=VALUE).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Return after the process started.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's pid here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Send the pty master to this unix socket.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}
