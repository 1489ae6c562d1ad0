//! The shim's only door into the runtime library: every call berth-shim makes on
//! `berth_runtime::Runtime`, with runtime errors turned into protocol replies.

use crate::stdio::Prepared;
use berth_runtime::{ConsoleSocket, CreateOptions, ExecOptions, Runtime, Stdio};
use berth_shim::config::ShimConfig;
use berth_shim::protocol::Reply;
use std::os::fd::AsRawFd;

/// One container in the runtime.
pub struct Container {
    runtime: Runtime,
    id: String,
    cgroup_path: Option<String>,
}

fn reply(e: berth_runtime::RuntimeError) -> Reply {
    Reply::error(&format!("{:?}", e.kind()), e.to_string())
}

fn stdio_for(prepared: &Prepared) -> (Stdio, Option<ConsoleSocket>) {
    match prepared {
        Prepared::Pipes { child, .. } => (
            Stdio::Fds([
                child.stdin.as_raw_fd(),
                child.stdout.as_raw_fd(),
                child.stderr.as_raw_fd(),
            ]),
            None,
        ),
        Prepared::Console { theirs, .. } => {
            (Stdio::Inherit, Some(ConsoleSocket::Fd(theirs.as_raw_fd())))
        }
    }
}

impl Container {
    /// Creates the container; its init is our child and waits for [`Container::start`].
    pub fn create(cfg: &ShimConfig, prepared: &Prepared) -> Result<(Container, i32), Reply> {
        let runtime = Runtime::new(cfg.runtime_root.clone());
        let (stdio, console) = stdio_for(prepared);
        let opts = CreateOptions {
            id: cfg.id.clone(),
            bundle: cfg.bundle.clone(),
            console_socket: console,
            pid_file: None,
            stdio,
        };
        let state = runtime.create(&opts).map_err(reply)?;
        let c = Container {
            runtime,
            id: cfg.id.clone(),
            cgroup_path: cfg.cgroup_path.clone(),
        };
        Ok((c, state.pid))
    }

    /// Releases the init into the user's program.
    pub fn start(&self) -> Result<(), Reply> {
        self.runtime.start(&self.id).map_err(reply)
    }

    /// Signals the init, or every process with `all`.
    pub fn kill(&self, signal: i32, all: bool) -> Result<(), Reply> {
        self.runtime.kill(&self.id, signal, all).map_err(reply)
    }

    /// Runs an extra process in the container; it is our child.
    pub fn exec(
        &self,
        process: &oci_spec::runtime::Process,
        prepared: &Prepared,
    ) -> Result<i32, Reply> {
        let (stdio, console) = stdio_for(prepared);
        let opts = ExecOptions {
            console_socket: console,
            pid_file: None,
            stdio,
        };
        self.runtime.exec(&self.id, process, &opts).map_err(reply)
    }

    /// Removes the container from the runtime (cgroup, state; kills what is left).
    pub fn delete(&self) -> Result<(), Reply> {
        self.runtime.delete(&self.id, true).map_err(reply)
    }

    /// Freezes every process.
    pub fn pause(&self) -> Result<(), Reply> {
        self.runtime.pause(&self.id).map_err(reply)
    }

    /// Thaws every process.
    pub fn resume(&self) -> Result<(), Reply> {
        self.runtime.resume(&self.id).map_err(reply)
    }

    /// The runtime's status word (created, running, paused, stopped).
    pub fn status(&self) -> String {
        match self.runtime.state(&self.id) {
            Ok(s) => s.status.to_string(),
            Err(_) => "stopped".to_string(),
        }
    }

    /// Cgroup statistics as JSON.
    pub fn stats(&self) -> Result<serde_json::Value, Reply> {
        let stats = self.runtime.stats(&self.id).map_err(reply)?;
        serde_json::to_value(&stats).map_err(|e| Reply::error("Internal", e.to_string()))
    }

    /// The container's pids.
    pub fn ps(&self) -> Result<Vec<i32>, Reply> {
        self.runtime.ps(&self.id).map_err(reply)
    }

    /// Applies new cgroup limits to the running container.
    pub fn update(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), Reply> {
        let Some(path) = &self.cgroup_path else {
            return Err(Reply::error("Conflict", "the container has no cgroup"));
        };
        let layout = berth_runtime::cgroups::Layout::detect()
            .map_err(|e| Reply::error("Internal", e.to_string()))?;
        berth_runtime::cgroups::Cgroup::new(layout, path)
            .apply(resources)
            .map_err(|e| Reply::error("InvalidArgument", format!("updating the cgroup: {e}")))
    }

    /// Whether the cgroup's OOM killer has killed anything.
    pub fn oom_killed(&self) -> bool {
        let Some(path) = &self.cgroup_path else {
            return false;
        };
        let Ok(layout) = berth_runtime::cgroups::Layout::detect() else {
            return false;
        };
        berth_runtime::cgroups::Cgroup::new(layout, path)
            .oom_kill_count()
            .is_ok_and(|n| n > 0)
    }
}
