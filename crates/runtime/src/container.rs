//! The container lifecycle (create, start, state, kill, delete, pause, resume, ps, list, stats)
//! as the OCI runtime spec defines it, behind one [`Runtime`] value the shim and CLI call in-process.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, open};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use oci_spec::runtime::{Hooks, Spec};

use crate::cgroups::{Cgroup, CgroupStats, Layout};
use crate::error::{ErrorKind, RuntimeError};
use crate::init::InitContext;
use crate::namespaces::NamespacePlan;
use crate::state::{self, EXEC_FIFO, State, Status};
use crate::sync::{self, Message};

/// Where the container's stdin, stdout and stderr come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stdio {
    /// The caller's own 0, 1 and 2.
    #[default]
    Inherit,
    /// These descriptors (stdin, stdout, stderr), open in the caller.
    Fds([RawFd; 3]),
}

/// Where to send the pty master when the process has a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleSocket {
    /// A listening unix socket to connect to (runc's `--console-socket`).
    Path(PathBuf),
    /// An already connected unix socket (e.g. one end of a socketpair held by a shim).
    Fd(RawFd),
}

/// What `create` needs besides the bundle's config.json.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The container id (letters, digits, `_ + - .`).
    pub id: String,
    /// The bundle directory holding config.json.
    pub bundle: PathBuf,
    /// Console socket, required when process.terminal is true.
    pub console_socket: Option<ConsoleSocket>,
    /// File to write the init's pid to.
    pub pid_file: Option<PathBuf>,
    /// The init's stdio.
    pub stdio: Stdio,
}

/// What `exec` needs besides the process description.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Console socket, required when process.terminal is true.
    pub console_socket: Option<ConsoleSocket>,
    /// File to write the new process's pid to.
    pub pid_file: Option<PathBuf>,
    /// The process's stdio.
    pub stdio: Stdio,
}

/// The runtime: a state root (one directory per container) and a seccomp filter cache.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
}

/// Private fields stored next to the state (not part of `State`'s OCI view).
const HOOKS_FILE: &str = "hooks.json";

impl Runtime {
    /// A runtime keeping state under `root` (runc's `--root`, e.g. /run/berth-runtime).
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding a container's state and exec FIFO.
    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Where compiled seccomp filters are cached by profile hash.
    fn seccomp_cache(&self) -> PathBuf {
        self.root.join(".seccomp-cache")
    }

    /// Sets up a container from `<bundle>/config.json`; returns once its init waits for `start`.
    /// The init is a child of the caller.
    pub fn create(&self, opts: &CreateOptions) -> Result<State, RuntimeError> {
        crate::spec::validate_id(&opts.id)?;
        let loaded = crate::spec::load(&opts.bundle)?;
        let spec = &loaded.spec;
        let terminal = spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
        if terminal && opts.console_socket.is_none() {
            return Err(RuntimeError::InvalidArgument(
                "cannot allocate tty if runc will detach without setting console socket".into(),
            ));
        }
        let dir = self.make_container_dir(&opts.id)?;
        let mut cleanup = CreateCleanup {
            dir: Some(dir.clone()),
            cgroup: None,
            child: None,
        };
        let fifo = make_exec_fifo(&dir)?;
        let seccomp = self.compile_seccomp(&opts.id, spec)?;
        let cgroup_path = cgroup_path_of(spec, &opts.id)?;
        let cgroup = Cgroup::new(
            Layout::detect().map_err(|e| cgroup_err(&opts.id, e))?,
            &cgroup_path,
        );
        cgroup.create().map_err(|e| cgroup_err(&opts.id, e))?;
        cleanup.cgroup = Some(cgroup.clone());
        if let Some(res) = effective_resources(spec) {
            cgroup.apply(&res).map_err(|e| cgroup_err(&opts.id, e))?;
        }
        let ns = NamespacePlan::from_spec(spec)?;
        let console = connect_console(opts.console_socket.as_ref().filter(|_| terminal))?;
        let (parent_sock, child_sock) = sync::pair()?;
        let ctx = InitContext {
            spec,
            rootfs: &loaded.rootfs,
            bundle: &loaded.bundle,
            cgroup_path: cgroup.path(),
            ns: &ns,
            sock: child_sock.as_raw_fd(),
            fifo: fifo.as_raw_fd(),
            console: console.as_ref().map(|c| c.raw()),
            stdio: match opts.stdio {
                Stdio::Inherit => None,
                Stdio::Fds(fds) => Some(fds),
            },
            seccomp: seccomp.as_ref(),
            runtime_hooks: spec.hooks().as_ref().is_some_and(|h| {
                [
                    h.create_runtime(),
                    h.prestart(),
                    h.create_container(),
                    h.start_container(),
                ]
                .iter()
                .any(|list| list.as_ref().is_some_and(|v| !v.is_empty()))
            }),
        };
        let cgroup_dir = cgroup
            .v2_dir()
            .and_then(|d| fs::File::open(d).ok())
            .map(OwnedFd::from);
        let (pid, in_cgroup) = clone_init(&ns, &ctx, cgroup_dir.as_ref())?;
        cleanup.child = Some(pid);
        drop(child_sock);
        drop(console);
        drop(fifo);
        if !in_cgroup {
            cgroup.add_pid(pid).map_err(|e| cgroup_err(&opts.id, e))?;
        }
        sync::send_to_child(&parent_sock, &opts.id, &Message::Continue)?;
        let mut state = State {
            oci_version: spec.version().clone(),
            id: opts.id.clone(),
            status: Status::Creating,
            pid,
            bundle: loaded.bundle.clone(),
            rootfs: loaded.rootfs.clone(),
            created: state::now_rfc3339(),
            owner: String::new(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            init_start_time: state::proc_stat(pid).map(|s| s.start_time).unwrap_or(0),
            cgroup_path: cgroup.path().to_string(),
        };
        wait_until_ready(&parent_sock, &state, spec)?;
        state.status = Status::Created;
        state.save(&dir)?;
        save_hooks(&dir, spec.hooks().as_ref())?;
        if let Some(pid_file) = &opts.pid_file {
            state::write_atomic(pid_file, pid.to_string().as_bytes())?;
        }
        cleanup.disarm();
        Ok(state)
    }

    /// Makes `<root>/<id>`; an existing one means the id is taken.
    fn make_container_dir(&self, id: &str) -> Result<PathBuf, RuntimeError> {
        fs::create_dir_all(&self.root).map_err(|e| {
            RuntimeError::io(format!("creating state root {}", self.root.display()), e)
        })?;
        let dir = self.dir(id);
        match fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(RuntimeError::AlreadyExists { id: id.to_string() })
            }
            Err(e) => Err(RuntimeError::io(format!("creating {}", dir.display()), e)),
        }
    }

    /// Compiles the spec's seccomp profile (cached by hash under the state root).
    fn compile_seccomp(
        &self,
        id: &str,
        spec: &Spec,
    ) -> Result<Option<crate::seccomp::CompiledFilter>, RuntimeError> {
        let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
            return Ok(None);
        };
        let cache = self.seccomp_cache();
        crate::seccomp::compile(profile, Some(&cache))
            .map(Some)
            .map_err(|source| RuntimeError::Seccomp {
                id: id.to_string(),
                source,
            })
    }

    /// Releases a created container's init so it execs the user's program.
    pub fn start(&self, id: &str) -> Result<(), RuntimeError> {
        let mut st = self.state(id)?;
        if st.status != Status::Created {
            return Err(conflict(id, "start", st.status));
        }
        let fifo_path = self.dir(id).join(EXEC_FIFO);
        let fifo = open(
            &fifo_path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RuntimeError::sys(format!("opening {}", fifo_path.display()), e))?;
        wait_for_fifo_byte(&fifo, &st)?;
        let _ = fs::remove_file(&fifo_path);
        st.status = Status::Running;
        st.save(&self.dir(id))?;
        // Poststart failures are logged but do not undo the start (OCI spec).
        if let Some(hooks) = load_hooks(&self.dir(id))
            && let Err(e) = crate::hooks::run(
                "poststart",
                hooks.poststart().as_deref().unwrap_or_default(),
                &st,
            )
        {
            tracing::warn!(container = id, error = %e, "poststart hook failed");
        }
        Ok(())
    }

    /// The container's state, with the status derived from the live process and cgroup.
    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        crate::spec::validate_id(id).map_err(|_| RuntimeError::NotFound { id: id.to_string() })?;
        let dir = self.dir(id);
        let mut st = match State::load(&dir, id) {
            Ok(st) => st,
            Err(RuntimeError::NotFound { .. }) if dir.is_dir() => return Ok(creating_state(id)),
            Err(e) => return Err(e),
        };
        self.refresh(&mut st);
        Ok(st)
    }

    /// Derives the live status: gone (or recycled) pid -> stopped; FIFO present -> created.
    fn refresh(&self, st: &mut State) {
        if st.status == Status::Stopped {
            st.pid = 0;
            return;
        }
        if !state::process_alive(st.pid, st.init_start_time) {
            st.status = Status::Stopped;
            st.pid = 0;
        } else if st.status != Status::Paused {
            st.status = if self.dir(&st.id).join(EXEC_FIFO).exists() {
                Status::Created
            } else {
                Status::Running
            };
        }
    }

    /// Sends `signal` to the init, or to every process of the container with `all`.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let st = self.state(id)?;
        if all {
            return self
                .cgroup_of(&st)?
                .kill_all(signal)
                .map_err(|e| cgroup_err(id, e));
        }
        if matches!(st.status, Status::Stopped | Status::Creating) {
            return Err(conflict(id, "kill", st.status));
        }
        // SAFETY: kill(2) takes plain integers; the pid was checked to be our init just above.
        let r = unsafe { libc::kill(st.pid, signal) };
        if r < 0 {
            let e = nix::Error::last();
            if e == nix::Error::ESRCH {
                return Err(conflict(id, "kill", Status::Stopped));
            }
            return Err(RuntimeError::sys(
                format!("sending signal {signal} to container \"{id}\""),
                e,
            ));
        }
        Ok(())
    }

    /// Removes a container: its processes (created; or any with `force`), cgroup and state.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        let st = self.state(id)?;
        match st.status {
            Status::Stopped => {}
            Status::Running | Status::Paused if !force => {
                return Err(conflict(id, "delete", st.status));
            }
            Status::Creating if !force => return Err(conflict(id, "delete", st.status)),
            _ => self.kill_everything(&st)?,
        }
        if st.status != Status::Creating {
            let cgroup = self.cgroup_of(&st)?;
            // Stragglers (double-forked daemons) die with the container.
            let _ = cgroup.kill_all(libc::SIGKILL);
            wait_cgroup_empty(&cgroup, Duration::from_secs(10));
            cgroup.destroy().map_err(|e| cgroup_err(id, e))?;
        }
        let dir = self.dir(id);
        let hooks = load_hooks(&dir);
        fs::remove_dir_all(&dir)
            .map_err(|e| RuntimeError::io(format!("removing {}", dir.display()), e))?;
        if let Some(hooks) = hooks
            && let Err(e) = crate::hooks::run(
                "poststop",
                hooks.poststop().as_deref().unwrap_or_default(),
                &st,
            )
        {
            tracing::warn!(container = id, error = %e, "poststop hook failed");
        }
        Ok(())
    }

    /// SIGKILLs the init and the cgroup (thawing a paused one) and waits until the init is gone.
    fn kill_everything(&self, st: &State) -> Result<(), RuntimeError> {
        let cgroup = self.cgroup_of(st)?;
        let _ = cgroup.kill_all(libc::SIGKILL);
        if st.pid > 0 && state::process_alive(st.pid, st.init_start_time) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(st.pid), Signal::SIGKILL);
        }
        if st.status == Status::Paused {
            cgroup.thaw().map_err(|e| cgroup_err(&st.id, e))?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while st.pid > 0 && state::process_alive(st.pid, st.init_start_time) {
            if Instant::now() > deadline {
                return Err(RuntimeError::Child {
                    kind: ErrorKind::Internal,
                    message: format!("container \"{}\" did not die after SIGKILL", st.id),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Freezes every process of a running container.
    pub fn pause(&self, id: &str) -> Result<(), RuntimeError> {
        let mut st = self.state(id)?;
        if st.status != Status::Running {
            return Err(conflict(id, "pause", st.status));
        }
        self.cgroup_of(&st)?
            .freeze()
            .map_err(|e| cgroup_err(id, e))?;
        st.status = Status::Paused;
        st.save(&self.dir(id))
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<(), RuntimeError> {
        let mut st = self.state(id)?;
        if st.status != Status::Paused {
            return Err(conflict(id, "resume", st.status));
        }
        self.cgroup_of(&st)?.thaw().map_err(|e| cgroup_err(id, e))?;
        st.status = Status::Running;
        st.save(&self.dir(id))
    }

    /// Host pids of the container's processes.
    pub fn ps(&self, id: &str) -> Result<Vec<i32>, RuntimeError> {
        let st = self.state(id)?;
        self.cgroup_of(&st)?.pids().map_err(|e| cgroup_err(id, e))
    }

    /// Every container under the state root, sorted by id.
    pub fn list(&self) -> Result<Vec<State>, RuntimeError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(RuntimeError::io(
                    format!("reading {}", self.root.display()),
                    e,
                ));
            }
        };
        let mut out: Vec<State> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .filter_map(|id| self.state(&id).ok())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Resource usage of the container's cgroup.
    pub fn stats(&self, id: &str) -> Result<CgroupStats, RuntimeError> {
        let st = self.state(id)?;
        self.cgroup_of(&st)?.stats().map_err(|e| cgroup_err(id, e))
    }

    /// How many processes of the container the OOM killer killed.
    pub fn oom_kill_count(&self, id: &str) -> Result<u64, RuntimeError> {
        let st = self.state(id)?;
        self.cgroup_of(&st)?
            .oom_kill_count()
            .map_err(|e| cgroup_err(id, e))
    }

    /// The container's cgroup.
    pub(crate) fn cgroup_of(&self, st: &State) -> Result<Cgroup, RuntimeError> {
        let layout = Layout::detect().map_err(|e| cgroup_err(&st.id, e))?;
        Ok(Cgroup::new(layout, &st.cgroup_path))
    }
}

/// State shown while `create` is still running (the directory exists, state.json not yet).
fn creating_state(id: &str) -> State {
    State {
        oci_version: String::new(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        bundle: PathBuf::new(),
        rootfs: PathBuf::new(),
        created: String::new(),
        owner: String::new(),
        annotations: Default::default(),
        init_start_time: 0,
        cgroup_path: String::new(),
    }
}

/// A Conflict error naming the state.
fn conflict(id: &str, action: &'static str, status: Status) -> RuntimeError {
    let hint = if status == Status::Stopped {
        ": container not running"
    } else {
        ""
    };
    RuntimeError::Conflict {
        id: id.to_string(),
        action,
        status,
        hint,
    }
}

/// Wraps a cgroup error with the container id.
fn cgroup_err(id: &str, source: crate::cgroups::CgroupError) -> RuntimeError {
    RuntimeError::Cgroup {
        id: id.to_string(),
        source,
    }
}

/// The devices every container may use whatever its device rules say (as runc allows them):
/// null, zero, full, random, urandom, tty, console, ptmx and the pts slaves.
const ALWAYS_ALLOWED_DEVICES: [(i64, Option<i64>); 9] = [
    (1, Some(3)),
    (1, Some(5)),
    (1, Some(7)),
    (1, Some(8)),
    (1, Some(9)),
    (5, Some(0)),
    (5, Some(1)),
    (5, Some(2)),
    (136, None),
];

/// The spec's resources with device rules allowing the default devices and the spec's
/// linux.devices appended (a spec that denies all devices still gets a working /dev/null).
fn effective_resources(spec: &Spec) -> Option<oci_spec::runtime::LinuxResources> {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
    let linux = spec.linux().as_ref()?;
    let mut res = linux.resources().clone()?;
    let Some(rules) = res.devices().clone() else {
        return Some(res);
    };
    if rules.is_empty() {
        return Some(res);
    }
    let mut rules = rules;
    let allow = |typ: LinuxDeviceType, major: i64, minor: Option<i64>| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(Some(major));
        r.set_minor(minor);
        r.set_access(Some("rwm".to_string()));
        r
    };
    for (major, minor) in ALWAYS_ALLOWED_DEVICES {
        rules.push(allow(LinuxDeviceType::C, major, minor));
    }
    for dev in linux.devices().as_deref().unwrap_or_default() {
        rules.push(allow(dev.typ(), dev.major(), Some(dev.minor())));
    }
    res.set_devices(Some(rules));
    Some(res)
}

/// The spec's cgroupsPath, or /berth/<id>.
fn cgroup_path_of(spec: &Spec, id: &str) -> Result<String, RuntimeError> {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
    {
        Some(p) => {
            let s = p.to_string_lossy().into_owned();
            if s.contains(':') {
                return Err(RuntimeError::InvalidArgument(format!(
                    "systemd cgroup path {s:?} is not supported (use a cgroupfs path)"
                )));
            }
            Ok(s)
        }
        None => Ok(format!("/berth/{id}")),
    }
}

/// Makes `<dir>/exec.fifo` (0622 so a non-root init can write it) and opens it O_PATH for the init.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd, RuntimeError> {
    let path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o622))
        .map_err(|e| RuntimeError::sys(format!("mkfifo {}", path.display()), e))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o622))
        .map_err(|e| RuntimeError::io(format!("chmod {}", path.display()), e))?;
    open(&path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RuntimeError::sys(format!("opening {}", path.display()), e))
}

/// A connected console socket, closed in the parent once the child has its copy.
pub(crate) enum ConsoleConn {
    /// We connected it (closed when dropped).
    Owned(UnixStream),
    /// The caller's descriptor.
    Borrowed(RawFd),
}

impl ConsoleConn {
    /// The descriptor the child uses.
    pub(crate) fn raw(&self) -> RawFd {
        match self {
            ConsoleConn::Owned(s) => s.as_raw_fd(),
            ConsoleConn::Borrowed(fd) => *fd,
        }
    }
}

/// Connects to the console socket path (before clone, while host paths are reachable).
pub(crate) fn connect_console(
    socket: Option<&ConsoleSocket>,
) -> Result<Option<ConsoleConn>, RuntimeError> {
    match socket {
        None => Ok(None),
        Some(ConsoleSocket::Fd(fd)) => Ok(Some(ConsoleConn::Borrowed(*fd))),
        Some(ConsoleSocket::Path(p)) => UnixStream::connect(p)
            .map(|s| Some(ConsoleConn::Owned(s)))
            .map_err(|e| {
                RuntimeError::io(format!("connecting to console socket {}", p.display()), e)
            }),
    }
}

/// Clones the init, entering a pid namespace given by path around the clone. On pure cgroup v2
/// (`cgroup_dir` open) the init is born in its cgroup (clone3 CLONE_INTO_CGROUP); returns the pid
/// and whether it is already in the cgroup.
fn clone_init(
    ns: &NamespacePlan,
    ctx: &InitContext<'_>,
    cgroup_dir: Option<&OwnedFd>,
) -> Result<(i32, bool), RuntimeError> {
    let restore = ns
        .pid_join
        .as_ref()
        .map(crate::namespaces::enter_pid_for_children)
        .transpose()?;
    let direct = cgroup_dir.and_then(|dir| {
        crate::spawn::clone_child_into_cgroup(ns.clone_flags, dir.as_raw_fd(), || {
            crate::init::run(ctx)
        })
        .ok()
    });
    let pid = match direct {
        Some(pid) => Ok((pid, true)),
        // Kernels without clone3 (or refusing it here) take the classic path.
        None => crate::spawn::clone_child(ns.clone_flags, || crate::init::run(ctx))
            .map(|pid| (pid, false)),
    };
    if let Some(own) = restore {
        crate::namespaces::leave_pid_for_children(&own)?;
    }
    pid.map_err(|e| RuntimeError::sys("clone", e))
}

/// Serves the init's requests (id maps, hooks) until it reports ready or fails.
fn wait_until_ready(sock: &OwnedFd, state: &State, spec: &Spec) -> Result<(), RuntimeError> {
    let id = state.id.as_str();
    loop {
        match sync::recv_from_child(sock, id)? {
            Some(Message::NeedIdMaps) => {
                crate::namespaces::write_id_maps(state.pid, spec)?;
                sync::send_to_child(sock, id, &Message::IdMapsWritten)?;
            }
            Some(Message::RunHooks) => {
                if let Some(hooks) = spec.hooks() {
                    crate::hooks::run(
                        "createRuntime",
                        hooks.create_runtime().as_deref().unwrap_or_default(),
                        state,
                    )?;
                    crate::hooks::run(
                        "prestart",
                        hooks.prestart().as_deref().unwrap_or_default(),
                        state,
                    )?;
                }
                sync::send_to_child(sock, id, &Message::HooksDone(state.oci_json().to_string()))?;
            }
            Some(Message::Ready) => return Ok(()),
            Some(Message::Error { kind, message }) => {
                return Err(RuntimeError::Child { kind, message });
            }
            Some(other) => {
                return Err(RuntimeError::Child {
                    kind: ErrorKind::Internal,
                    message: format!("unexpected message from init: {other:?}"),
                });
            }
            None => {
                return Err(RuntimeError::Child {
                    kind: ErrorKind::Internal,
                    message: format!("the init of container \"{id}\" exited during set-up"),
                });
            }
        }
    }
}

/// Waits until the init writes its byte into the FIFO; fails if the init dies first.
fn wait_for_fifo_byte(fifo: &OwnedFd, st: &State) -> Result<(), RuntimeError> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut buf = [0u8; 1];
    loop {
        match nix::unistd::read(fifo, &mut buf) {
            Ok(1) => return Ok(()),
            Ok(_) | Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys("reading the exec fifo", e)),
        }
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::from(100u16)).or_else(|e| {
            if e == nix::Error::EINTR {
                Ok(0)
            } else {
                Err(e)
            }
        });
        let n = n.map_err(|e| RuntimeError::sys("waiting on the exec fifo", e))?;
        if n == 0 && !state::process_alive(st.pid, st.init_start_time) {
            return Err(RuntimeError::Child {
                kind: ErrorKind::Internal,
                message: format!("the init of container \"{}\" exited before start", st.id),
            });
        }
        if n > 0
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP) && !r.contains(PollFlags::POLLIN))
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Waits until no live process is left in the cgroup (zombies do not count).
fn wait_cgroup_empty(cgroup: &Cgroup, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let live = cgroup
            .pids()
            .unwrap_or_default()
            .into_iter()
            .any(|p| state::proc_stat(p).is_some_and(|s| s.state != 'Z'));
        if !live {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Keeps the hooks for start and delete (which do not read config.json).
fn save_hooks(dir: &Path, hooks: Option<&Hooks>) -> Result<(), RuntimeError> {
    let Some(hooks) = hooks else { return Ok(()) };
    let bytes = serde_json::to_vec(hooks)
        .map_err(|e| RuntimeError::InvalidArgument(format!("encoding hooks: {e}")))?;
    state::write_atomic(&dir.join(HOOKS_FILE), &bytes)
}

/// The hooks saved by `create`, if any.
fn load_hooks(dir: &Path) -> Option<Hooks> {
    let bytes = fs::read(dir.join(HOOKS_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Undoes a failed `create`: kills and reaps the init, removes the cgroup and state directory.
struct CreateCleanup {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    child: Option<i32>,
}

impl CreateCleanup {
    /// Keeps everything: create succeeded.
    fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.child = None;
    }
}

impl Drop for CreateCleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.child {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all(libc::SIGKILL);
            wait_cgroup_empty(cg, Duration::from_secs(5));
            let _ = cg.destroy();
        }
        if let Some(dir) = &self.dir {
            let _ = fs::remove_dir_all(dir);
        }
    }
}
