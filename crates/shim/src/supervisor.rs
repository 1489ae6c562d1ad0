//! The shim's event loop: one poll over the daemon's socket, its connections, the container's
//! output fds and a SIGCHLD self-pipe; it reaps, logs, forwards stdio and answers requests.

use crate::container::Container;
use crate::json_log::{JsonLog, LineSplitter};
use crate::stdio::{self, ShimSide};
use crate::trim::Trimmer;
use crate::{exit_file, sigchld};
use berth_shim::config::{ExitRecord, ShimConfig};
use berth_shim::protocol::{
    FRAME_EXIT, FRAME_STDERR, FRAME_STDOUT, Reply, Request, ShimState, frame_header,
};
use berth_shim::timestamp;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long output may keep flowing after a process exited before we stop waiting for EOF.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// Output buffered for one slow client before further output to it is dropped.
const MAX_CLIENT_BUFFER: usize = 4 << 20;
/// Stdin buffered for a process before we stop reading from its client.
const MAX_STDIN_BUFFER: usize = 256 << 10;
/// Finished execs remembered for late `wait` requests.
const KEPT_EXECS: usize = 16;
/// How long the shim must have nothing to do before it gives back start-up memory.
const IDLE_TRIM: Duration = Duration::from_millis(100);

/// Which process a stream or output belongs to.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Owner {
    Init,
    Exec(String),
}

/// One process we hold the stdio of.
struct Proc {
    pid: i32,
    stdin: Option<OwnedFd>,
    stdin_buf: Vec<u8>,
    stdin_close_pending: bool,
    tty: Option<OwnedFd>,
    open_outputs: u32,
    exit: Option<ExitRecord>,
    drain_deadline: Option<Instant>,
    done: bool,
}

struct Output {
    fd: OwnedFd,
    kind: u8,
    owner: Owner,
    lines: LineSplitter,
}

enum Mode {
    Requests,
    Waiting(Owner),
    Stream {
        owner: Owner,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
}

struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    mode: Mode,
    close_after_flush: bool,
    read_closed: bool,
    dead: bool,
}

/// A poll entry's meaning.
#[derive(Clone, Copy)]
enum Token {
    Listener,
    Signal,
    Output(usize),
    Client(usize),
    Stdin,
}

/// The running shim.
pub struct Shim {
    cfg: ShimConfig,
    state_dir: PathBuf,
    container: Container,
    init: Proc,
    execs: Vec<(String, Proc)>,
    outputs: Vec<Output>,
    clients: Vec<Client>,
    log: Option<JsonLog>,
    sigchld: OwnedFd,
    deleted: bool,
    trimmer: Trimmer,
    /// Whether memory was given back since the last event (no need to do it again).
    trimmed: bool,
}

impl Shim {
    /// Creates the container (its init waits for `start`) with its stdio.
    pub fn create(cfg: ShimConfig, state_dir: PathBuf) -> Result<Shim, Reply> {
        let internal =
            |what: &str, e: std::io::Error| Reply::error("Internal", format!("{what}: {e}"));
        let sigchld = sigchld::install().map_err(|e| internal("SIGCHLD handler", e))?;
        let prepared = if cfg.tty {
            stdio::console()
        } else {
            stdio::pipes(cfg.open_stdin)
        }
        .map_err(|e| internal("container stdio", e))?;
        let log = match &cfg.log_path {
            Some(p) => Some(
                JsonLog::open(p.clone(), cfg.log_max_size, cfg.log_max_files)
                    .map_err(|e| internal("opening the log", e))?,
            ),
            None => None,
        };
        let (container, pid) = Container::create(&cfg, &prepared)?;
        let side = stdio::finish(prepared, cfg.open_stdin).map_err(|e| {
            let _ = container.delete();
            internal("container stdio", e)
        })?;
        let mut shim = Shim {
            cfg,
            state_dir,
            container,
            init: Proc::new(pid),
            execs: Vec::new(),
            outputs: Vec::new(),
            clients: Vec::new(),
            log,
            sigchld,
            deleted: false,
            trimmer: Trimmer::default(),
            trimmed: false,
        };
        shim.adopt_stdio(Owner::Init, side);
        Ok(shim)
    }

    /// The init's host pid.
    pub fn init_pid(&self) -> i32 {
        self.init.pid
    }

    /// Serves until the container is deleted, then removes the state directory.
    pub fn run(mut self, listener: UnixListener) {
        let _ = listener.set_nonblocking(true);
        while !self.deleted {
            self.reap();
            self.finish_drained();
            self.flush_stdin();
            let (tokens, revents) = match self.poll_once(&listener) {
                Ok(r) => r,
                Err(_) => continue,
            };
            self.trim_when_idle(&revents);
            for (token, ev) in tokens.into_iter().zip(revents) {
                if ev.is_empty() {
                    continue;
                }
                match token {
                    Token::Listener => self.accept(&listener),
                    Token::Signal => sigchld::drain(&self.sigchld),
                    Token::Output(i) => self.read_output(i),
                    Token::Client(i) => self.service_client(i, ev),
                    Token::Stdin => {}
                }
            }
            self.outputs.retain(|o| o.kind != 0);
            self.clients.retain(|c| !c.dead);
        }
        drop(listener);
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }

    /// Gives memory back after [`IDLE_TRIM`] without events, once per quiet period.
    fn trim_when_idle(&mut self, revents: &[PollFlags]) {
        if revents.iter().any(|ev| !ev.is_empty()) {
            self.trimmed = false;
        } else if !self.trimmed {
            self.trimmer.trim();
            self.trimmed = true;
        }
    }

    fn poll_once(&self, listener: &UnixListener) -> nix::Result<(Vec<Token>, Vec<PollFlags>)> {
        let mut tokens = vec![Token::Listener, Token::Signal];
        let mut fds = vec![
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.sigchld.as_fd(), PollFlags::POLLIN),
        ];
        for (i, o) in self.outputs.iter().enumerate() {
            tokens.push(Token::Output(i));
            fds.push(PollFd::new(o.fd.as_fd(), PollFlags::POLLIN));
        }
        for (i, c) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::empty();
            if !c.read_closed && !self.stdin_full(c) {
                flags |= PollFlags::POLLIN;
            }
            if !c.outbuf.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            tokens.push(Token::Client(i));
            fds.push(PollFd::new(c.stream.as_fd(), flags));
        }
        for p in self.procs() {
            if let Some(fd) = &p.stdin
                && !p.stdin_buf.is_empty()
            {
                tokens.push(Token::Stdin);
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
            }
        }
        poll(&mut fds, self.poll_timeout())?;
        let revents = fds
            .iter()
            .map(|f| f.revents().unwrap_or(PollFlags::empty()))
            .collect();
        Ok((tokens, revents))
    }

    fn poll_timeout(&self) -> PollTimeout {
        let deadline = self
            .procs()
            .filter(|p| !p.done)
            .filter_map(|p| p.drain_deadline)
            .min();
        let idle = (!self.trimmed).then(|| Instant::now() + IDLE_TRIM);
        match deadline.into_iter().chain(idle).min() {
            Some(d) => {
                let ms = d.saturating_duration_since(Instant::now()).as_millis() + 1;
                PollTimeout::try_from(ms.min(10_000) as i32).unwrap_or(PollTimeout::NONE)
            }
            None => PollTimeout::NONE,
        }
    }

    fn procs(&self) -> impl Iterator<Item = &Proc> {
        std::iter::once(&self.init).chain(self.execs.iter().map(|(_, p)| p))
    }

    fn proc_mut(&mut self, owner: &Owner) -> Option<&mut Proc> {
        match owner {
            Owner::Init => Some(&mut self.init),
            Owner::Exec(id) => self.execs.iter_mut().find(|(e, _)| e == id).map(|(_, p)| p),
        }
    }

    fn proc_ref(&self, owner: &Owner) -> Option<&Proc> {
        match owner {
            Owner::Init => Some(&self.init),
            Owner::Exec(id) => self.execs.iter().find(|(e, _)| e == id).map(|(_, p)| p),
        }
    }

    fn stdin_full(&self, c: &Client) -> bool {
        match &c.mode {
            Mode::Stream {
                owner, stdin: true, ..
            } => self
                .proc_ref(owner)
                .is_some_and(|p| p.stdin_buf.len() >= MAX_STDIN_BUFFER),
            _ => false,
        }
    }

    fn adopt_stdio(&mut self, owner: Owner, side: ShimSide) {
        let mut open = 0;
        for (fd, kind) in [(side.stdout, FRAME_STDOUT), (side.stderr, FRAME_STDERR)] {
            if let Some(fd) = fd {
                open += 1;
                self.outputs.push(Output {
                    fd,
                    kind,
                    owner: owner.clone(),
                    lines: LineSplitter::default(),
                });
            }
        }
        if let Some(p) = self.proc_mut(&owner) {
            p.stdin = side.stdin;
            p.tty = side.tty;
            p.open_outputs = open;
        }
    }

    // ----- processes -----

    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => self.exited(pid.as_raw(), code, None),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    self.exited(pid.as_raw(), 128 + sig as i32, Some(sig as i32))
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn exited(&mut self, pid: i32, exit_code: i32, signal: Option<i32>) {
        let is_init = pid == self.init.pid && self.init.exit.is_none();
        let oom_killed = is_init && self.container.oom_killed();
        let record = ExitRecord {
            exit_code,
            signal,
            finished_at: timestamp::now(),
            oom_killed,
        };
        if is_init {
            if let Err(e) = exit_file::write(&self.state_dir, &record) {
                eprintln!("berth-shim: writing the exit file: {e}");
            }
            self.init.exited(record);
        } else if let Some((_, p)) = self
            .execs
            .iter_mut()
            .find(|(_, p)| p.pid == pid && p.exit.is_none())
        {
            p.exited(record);
        }
    }

    /// Completes every process whose output is drained (or whose grace period ran out).
    fn finish_drained(&mut self) {
        let now = Instant::now();
        let mut finished = Vec::new();
        let owners = std::iter::once((Owner::Init, &mut self.init)).chain(
            self.execs
                .iter_mut()
                .map(|(id, p)| (Owner::Exec(id.clone()), p)),
        );
        for (owner, p) in owners {
            let drained = p.open_outputs == 0 || p.drain_deadline.is_some_and(|d| now >= d);
            if !p.done && p.exit.is_some() && drained {
                p.done = true;
                p.stdin = None;
                finished.push(owner);
            }
        }
        for owner in finished {
            self.close_outputs(&owner);
            self.announce_exit(&owner);
        }
        self.forget_old_execs();
    }

    fn close_outputs(&mut self, owner: &Owner) {
        for i in 0..self.outputs.len() {
            if &self.outputs[i].owner == owner && self.outputs[i].kind != 0 {
                self.close_output(i);
            }
        }
    }

    fn announce_exit(&mut self, owner: &Owner) {
        let Some(record) = self.proc_ref(owner).and_then(|p| p.exit.clone()) else {
            return;
        };
        let payload = serde_json::to_vec(&record).unwrap_or_default();
        let reply = reply_line(&Reply::Exit(record));
        for c in &mut self.clients {
            match &c.mode {
                Mode::Stream { owner: o, .. } if o == owner => {
                    c.outbuf
                        .extend_from_slice(&frame_header(FRAME_EXIT, payload.len()));
                    c.outbuf.extend_from_slice(&payload);
                    c.close_after_flush = true;
                }
                Mode::Waiting(o) if o == owner => {
                    c.outbuf.extend_from_slice(&reply);
                    c.mode = Mode::Requests;
                }
                _ => {}
            }
        }
    }

    fn forget_old_execs(&mut self) {
        let done = self.execs.iter().filter(|(_, p)| p.done).count();
        if done > KEPT_EXECS
            && let Some(pos) = self.execs.iter().position(|(_, p)| p.done)
        {
            self.execs.remove(pos);
        }
    }

    // ----- output -----

    fn read_output(&mut self, i: usize) {
        let mut buf = [0u8; 32 * 1024];
        let n = match nix::unistd::read(self.outputs[i].fd.as_fd(), &mut buf) {
            Ok(n) => n,
            Err(nix::Error::EAGAIN | nix::Error::EINTR) => return,
            Err(_) => 0,
        };
        if n == 0 {
            self.close_output(i);
            return;
        }
        let data = &buf[..n];
        let (kind, owner) = (self.outputs[i].kind, self.outputs[i].owner.clone());
        if owner == Owner::Init
            && let Some(log) = self.log.as_mut()
        {
            let stream = if kind == FRAME_STDERR {
                "stderr"
            } else {
                "stdout"
            };
            self.outputs[i].lines.feed(data, |m| {
                let _ = log.write(stream, m);
            });
        }
        let header = frame_header(kind, n);
        for c in &mut self.clients {
            if let Mode::Stream {
                owner: o,
                stdout,
                stderr,
                ..
            } = &c.mode
                && *o == owner
                && ((kind == FRAME_STDOUT && *stdout) || (kind == FRAME_STDERR && *stderr))
                && c.outbuf.len() < MAX_CLIENT_BUFFER
            {
                c.outbuf.extend_from_slice(&header);
                c.outbuf.extend_from_slice(data);
            }
        }
    }

    /// Flushes the log's partial line and marks the output closed (kind 0, removed later).
    fn close_output(&mut self, i: usize) {
        let out = &mut self.outputs[i];
        if out.owner == Owner::Init
            && let Some(log) = self.log.as_mut()
        {
            let stream = if out.kind == FRAME_STDERR {
                "stderr"
            } else {
                "stdout"
            };
            out.lines.finish(|m| {
                let _ = log.write(stream, m);
            });
        }
        out.kind = 0;
        let owner = out.owner.clone();
        if let Some(p) = self.proc_mut(&owner) {
            p.open_outputs = p.open_outputs.saturating_sub(1);
        }
    }

    // ----- stdin -----

    fn flush_stdin(&mut self) {
        let owners: Vec<Owner> = std::iter::once(Owner::Init)
            .chain(self.execs.iter().map(|(id, _)| Owner::Exec(id.clone())))
            .collect();
        for owner in owners {
            if let Some(p) = self.proc_mut(&owner) {
                p.flush_stdin();
            }
        }
    }

    // ----- clients -----

    fn accept(&mut self, listener: &UnixListener) {
        while let Ok((stream, _)) = listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.clients.push(Client {
                stream,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                mode: Mode::Requests,
                close_after_flush: false,
                read_closed: false,
                dead: false,
            });
        }
    }

    fn service_client(&mut self, i: usize, ev: PollFlags) {
        if ev.contains(PollFlags::POLLOUT) {
            self.write_client(i);
        }
        if ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            && !self.clients[i].read_closed
        {
            self.read_client(i);
            // Send replies now rather than after the next poll: the loop may first have an
            // exit to record, and the daemon's start must not wait for the container's end.
            if !self.clients[i].outbuf.is_empty() && !self.clients[i].dead {
                self.write_client(i);
            }
        }
        if ev.contains(PollFlags::POLLERR) {
            self.clients[i].dead = true;
        }
    }

    fn write_client(&mut self, i: usize) {
        let c = &mut self.clients[i];
        match c.stream.write(&c.outbuf) {
            Ok(n) => {
                c.outbuf.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => c.dead = true,
        }
        if c.outbuf.is_empty() {
            c.outbuf.shrink_to(4096);
            if c.close_after_flush {
                c.dead = true;
            }
        }
    }

    fn read_client(&mut self, i: usize) {
        let mut buf = [0u8; 16 * 1024];
        let n = match self.clients[i].stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => 0,
        };
        if n == 0 {
            self.client_eof(i);
            return;
        }
        match &self.clients[i].mode {
            Mode::Stream {
                owner, stdin: true, ..
            } => {
                let owner = owner.clone();
                if let Some(p) = self.proc_mut(&owner) {
                    p.stdin_buf.extend_from_slice(&buf[..n]);
                }
            }
            Mode::Stream { .. } => {}
            _ => {
                self.clients[i].inbuf.extend_from_slice(&buf[..n]);
                self.handle_lines(i);
            }
        }
    }

    fn client_eof(&mut self, i: usize) {
        let c = &mut self.clients[i];
        c.read_closed = true;
        match &c.mode {
            Mode::Stream {
                owner, stdin: true, ..
            } => {
                let owner = owner.clone();
                let once = owner != Owner::Init || self.cfg.stdin_once;
                if once && let Some(p) = self.proc_mut(&owner) {
                    p.stdin_close_pending = true;
                }
            }
            Mode::Stream { .. } => {}
            _ => c.dead = c.outbuf.is_empty() || matches!(c.mode, Mode::Waiting(_)),
        }
    }

    fn handle_lines(&mut self, i: usize) {
        while matches!(self.clients[i].mode, Mode::Requests) {
            let Some(pos) = self.clients[i].inbuf.iter().position(|&b| b == b'\n') else {
                return;
            };
            let line: Vec<u8> = self.clients[i].inbuf.drain(..=pos).collect();
            let reply = match serde_json::from_slice::<Request>(&line) {
                Ok(req) => self.handle(i, req),
                Err(e) => Some(Reply::error("InvalidArgument", format!("bad request: {e}"))),
            };
            if let Some(reply) = reply {
                let bytes = reply_line(&reply);
                self.clients[i].outbuf.extend_from_slice(&bytes);
            }
            if self.deleted {
                self.flush_blocking(i);
                return;
            }
        }
        // Bytes after an attach line are already stdin.
        let rest = std::mem::take(&mut self.clients[i].inbuf);
        if let Mode::Stream {
            owner, stdin: true, ..
        } = &self.clients[i].mode
            && !rest.is_empty()
        {
            let owner = owner.clone();
            if let Some(p) = self.proc_mut(&owner) {
                p.stdin_buf.extend_from_slice(&rest);
            }
        }
    }

    fn flush_blocking(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let _ = c.stream.set_nonblocking(false);
        let _ = c.stream.write_all(&c.outbuf);
        c.outbuf.clear();
    }

    /// Handles one request; None when the reply comes later (wait).
    fn handle(&mut self, i: usize, req: Request) -> Option<Reply> {
        let reply = match req {
            Request::State => Reply::State(self.state()),
            Request::Start => result(self.container.start()),
            Request::Kill { signal, all } => self.kill(signal, all),
            Request::Resize {
                exec_id,
                height,
                width,
            } => self.resize(exec_id, height, width),
            Request::Attach {
                stdin,
                stdout,
                stderr,
            } => return self.attach(i, stdin, stdout, stderr),
            Request::Exec {
                exec_id,
                process,
                stdin,
                attach,
            } => {
                return self.exec(i, exec_id, &process, stdin, attach);
            }
            Request::CloseStdin { exec_id } => self.close_stdin(exec_id),
            Request::Wait { exec_id } => return self.wait(i, exec_id),
            Request::Update { resources } => result(self.container.update(&resources)),
            Request::Pause => result(self.container.pause()),
            Request::Resume => result(self.container.resume()),
            Request::Stats => match self.container.stats() {
                Ok(stats) => Reply::Stats { stats },
                Err(r) => r,
            },
            Request::Ps => match self.container.ps() {
                Ok(pids) => Reply::Pids { pids },
                Err(r) => r,
            },
            Request::Delete => self.delete(),
        };
        Some(reply)
    }

    fn state(&self) -> ShimState {
        let status = if self.init.exit.is_some() {
            "stopped".to_string()
        } else {
            self.container.status()
        };
        ShimState {
            pid: self.init.pid,
            status,
            exit: self.init.exit.clone(),
        }
    }

    fn kill(&mut self, signal: i32, all: bool) -> Reply {
        if self.init.exit.is_some() {
            return Reply::error(
                "Conflict",
                format!("container {} is not running", self.cfg.id),
            );
        }
        result(self.container.kill(signal, all))
    }

    fn resize(&mut self, exec_id: Option<String>, height: u16, width: u16) -> Reply {
        let owner = exec_id.map_or(Owner::Init, Owner::Exec);
        match self.proc_ref(&owner).and_then(|p| p.tty.as_ref()) {
            Some(tty) => match stdio::resize(tty, height, width) {
                Ok(()) => Reply::Ok,
                Err(e) => Reply::error("Internal", format!("resizing the terminal: {e}")),
            },
            None => Reply::error("Conflict", "the process has no terminal"),
        }
    }

    fn attach(&mut self, i: usize, stdin: bool, stdout: bool, stderr: bool) -> Option<Reply> {
        let stdin = stdin && self.init.stdin.is_some();
        let c = &mut self.clients[i];
        c.outbuf.extend_from_slice(&reply_line(&Reply::Ok));
        c.mode = Mode::Stream {
            owner: Owner::Init,
            stdin,
            stdout,
            stderr,
        };
        if self.init.done {
            self.announce_exit(&Owner::Init);
        }
        None
    }

    /// Starts an exec; None when the reply was queued because the connection became its stream.
    fn exec(
        &mut self,
        i: usize,
        exec_id: String,
        process: &oci_spec::runtime::Process,
        stdin: bool,
        attach: bool,
    ) -> Option<Reply> {
        match self.spawn_exec(&exec_id, process, stdin) {
            Ok(pid) if attach => {
                let c = &mut self.clients[i];
                c.outbuf.extend_from_slice(&reply_line(&Reply::Pid { pid }));
                c.mode = Mode::Stream {
                    owner: Owner::Exec(exec_id),
                    stdin,
                    stdout: true,
                    stderr: true,
                };
                None
            }
            Ok(pid) => Some(Reply::Pid { pid }),
            Err(reply) => Some(reply),
        }
    }

    fn spawn_exec(
        &mut self,
        exec_id: &str,
        process: &oci_spec::runtime::Process,
        stdin: bool,
    ) -> Result<i32, Reply> {
        if self.init.exit.is_some() {
            return Err(Reply::error(
                "Conflict",
                format!("container {} is not running", self.cfg.id),
            ));
        }
        if self.execs.iter().any(|(e, _)| e == exec_id) {
            return Err(Reply::error(
                "AlreadyExists",
                format!("exec {exec_id} already exists"),
            ));
        }
        let tty = process.terminal().unwrap_or(false);
        let prepared = if tty {
            stdio::console()
        } else {
            stdio::pipes(stdin)
        };
        let stdio_err = |e: std::io::Error| Reply::error("Internal", format!("exec stdio: {e}"));
        let prepared = prepared.map_err(stdio_err)?;
        let pid = self.container.exec(process, &prepared)?;
        let side = stdio::finish(prepared, stdin).map_err(stdio_err)?;
        self.execs.push((exec_id.to_string(), Proc::new(pid)));
        self.adopt_stdio(Owner::Exec(exec_id.to_string()), side);
        Ok(pid)
    }

    fn close_stdin(&mut self, exec_id: Option<String>) -> Reply {
        let owner = exec_id.map_or(Owner::Init, Owner::Exec);
        match self.proc_mut(&owner) {
            Some(p) => {
                p.stdin_close_pending = true;
                Reply::Ok
            }
            None => Reply::error("NotFound", "no such process"),
        }
    }

    fn wait(&mut self, i: usize, exec_id: Option<String>) -> Option<Reply> {
        let owner = exec_id.map_or(Owner::Init, Owner::Exec);
        match self.proc_ref(&owner) {
            None => Some(Reply::error("NotFound", "no such process")),
            Some(p) if p.done => p.exit.clone().map(Reply::Exit),
            Some(_) => {
                self.clients[i].mode = Mode::Waiting(owner);
                None
            }
        }
    }

    fn delete(&mut self) -> Reply {
        if self.init.exit.is_none() {
            let _ = self.container.kill(libc::SIGKILL, true);
        }
        match self.container.delete() {
            Ok(()) => {
                self.deleted = true;
                Reply::Ok
            }
            Err(r) => r,
        }
    }
}

impl Proc {
    fn new(pid: i32) -> Proc {
        Proc {
            pid,
            stdin: None,
            stdin_buf: Vec::new(),
            stdin_close_pending: false,
            tty: None,
            open_outputs: 0,
            exit: None,
            drain_deadline: None,
            done: false,
        }
    }

    fn exited(&mut self, record: ExitRecord) {
        self.exit = Some(record);
        self.drain_deadline = Some(Instant::now() + DRAIN_GRACE);
    }

    fn flush_stdin(&mut self) {
        if let Some(fd) = &self.stdin {
            while !self.stdin_buf.is_empty() {
                match nix::unistd::write(fd, &self.stdin_buf) {
                    Ok(n) => {
                        self.stdin_buf.drain(..n);
                    }
                    Err(nix::Error::EAGAIN) => return,
                    Err(nix::Error::EINTR) => {}
                    Err(_) => {
                        self.stdin_buf.clear();
                        self.stdin = None;
                        return;
                    }
                }
            }
        } else {
            self.stdin_buf.clear();
        }
        if self.stdin_close_pending && self.stdin_buf.is_empty() {
            // With a terminal the master is shared with the output: send EOF (^D) instead.
            if let (Some(fd), Some(_)) = (&self.stdin, &self.tty) {
                let _ = nix::unistd::write(fd, &[4u8]);
            }
            self.stdin = None;
            self.stdin_close_pending = false;
        }
    }
}

fn result(r: Result<(), Reply>) -> Reply {
    match r {
        Ok(()) => Reply::Ok,
        Err(reply) => reply,
    }
}

fn reply_line(reply: &Reply) -> Vec<u8> {
    let mut v = serde_json::to_vec(reply).unwrap_or_default();
    v.push(b'\n');
    v
}
