//! The daemon's side of the shim protocol: spawning a shim and waiting for its ready line,
//! one connection per request, and framed stdio streams for attach and exec.

use berth_shim::config::ExitRecord;
use berth_shim::protocol::{FRAME_EXIT, Reply, Request, ShimState, parse_frame_header};
use berth_shim::socket_path::SocketPath;
use bytes::Bytes;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// What can go wrong talking to a shim.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// The shim's socket is absent or refuses connections (the shim is gone).
    #[error("shim at {path} is not reachable: {source}")]
    Unreachable {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// I/O on an established connection failed.
    #[error("talking to the shim: {0}")]
    Io(#[from] std::io::Error),
    /// The shim said something we do not understand.
    #[error("unexpected reply from the shim: {0}")]
    Protocol(String),
    /// The shim (or the runtime inside it) refused the request.
    #[error("{message}")]
    Remote {
        /// The error kind name (NotFound, Conflict, ...).
        kind: String,
        /// The message.
        message: String,
    },
}

impl ShimError {
    /// The API error kind this maps to.
    pub fn kind(&self) -> berth_api::error::ErrorKind {
        use berth_api::error::ErrorKind;
        match self {
            ShimError::Remote { kind, .. } => match kind.as_str() {
                "NotFound" => ErrorKind::NotFound,
                "AlreadyExists" => ErrorKind::AlreadyExists,
                "Conflict" => ErrorKind::Conflict,
                "InvalidArgument" => ErrorKind::InvalidArgument,
                "PermissionDenied" => ErrorKind::PermissionDenied,
                _ => ErrorKind::Internal,
            },
            ShimError::Unreachable { .. } => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

fn into_result(reply: Reply) -> Result<Reply, ShimError> {
    match reply {
        Reply::Error { kind, message } => Err(ShimError::Remote { kind, message }),
        other => Ok(other),
    }
}

fn parse_reply(line: &str) -> Result<Reply, ShimError> {
    if line.is_empty() {
        return Err(ShimError::Protocol("the shim closed the connection".into()));
    }
    serde_json::from_str(line).map_err(|e| ShimError::Protocol(format!("{e}: {line}")))
}

/// Starts `berth-shim STATE_DIR` and waits for its ready line; returns the init's pid.
pub async fn spawn(shim_binary: &Path, state_dir: &Path) -> Result<i32, ShimError> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join("shim.log"))?;
    let mut child = tokio::process::Command::new(shim_binary)
        .arg(state_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .kill_on_drop(false)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| ShimError::Protocol("no stdout pipe".into()))?;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).await?;
    match into_result(parse_reply(line.trim_end())?)? {
        Reply::Pid { pid } => Ok(pid),
        other => Err(ShimError::Protocol(format!("{other:?}"))),
    }
}

/// A handle on one shim's socket.
#[derive(Debug, Clone)]
pub struct ShimClient {
    socket: PathBuf,
}

/// A connection turned into a framed stdio stream.
pub struct ShimStream {
    reader: BufReader<OwnedReadHalf>,
    /// Writes go to the process's stdin; shut it down to close stdin.
    pub writer: OwnedWriteHalf,
}

/// One item of a stdio stream.
pub enum Frame {
    /// Output: (1 = stdout, 2 = stderr, data).
    Output(u8, Bytes),
    /// The process exited.
    Exit(ExitRecord),
}

impl ShimClient {
    /// A client for the shim listening on `socket`.
    pub fn new(socket: PathBuf) -> ShimClient {
        ShimClient { socket }
    }

    async fn connect(&self) -> Result<(BufReader<OwnedReadHalf>, OwnedWriteHalf), ShimError> {
        let unreachable = |source| ShimError::Unreachable {
            path: self.socket.clone(),
            source,
        };
        // Long exec roots go through /proc/self/fd: keep `path` alive until connected.
        let path = SocketPath::new(&self.socket).map_err(unreachable)?;
        let stream = UnixStream::connect(path.path())
            .await
            .map_err(unreachable)?;
        let (r, w) = stream.into_split();
        Ok((BufReader::new(r), w))
    }

    async fn send(
        &self,
        req: &Request,
    ) -> Result<(BufReader<OwnedReadHalf>, OwnedWriteHalf, Reply), ShimError> {
        let (mut r, mut w) = self.connect().await?;
        let mut line = serde_json::to_vec(req).map_err(|e| ShimError::Protocol(e.to_string()))?;
        line.push(b'\n');
        w.write_all(&line).await?;
        let mut reply = String::new();
        r.read_line(&mut reply).await?;
        let reply = into_result(parse_reply(reply.trim_end())?)?;
        Ok((r, w, reply))
    }

    /// Sends one request and returns the reply (errors become [`ShimError::Remote`]).
    pub async fn request(&self, req: &Request) -> Result<Reply, ShimError> {
        Ok(self.send(req).await?.2)
    }

    /// Sends a request that only answers Ok.
    pub async fn call(&self, req: &Request) -> Result<(), ShimError> {
        match self.request(req).await? {
            Reply::Ok => Ok(()),
            other => Err(ShimError::Protocol(format!("{other:?}"))),
        }
    }

    /// The shim's live state.
    pub async fn state(&self) -> Result<ShimState, ShimError> {
        match self.request(&Request::State).await? {
            Reply::State(s) => Ok(s),
            other => Err(ShimError::Protocol(format!("{other:?}"))),
        }
    }

    /// Waits until the init (or an exec) exited and its output is drained.
    pub async fn wait(&self, exec_id: Option<String>) -> Result<ExitRecord, ShimError> {
        match self.request(&Request::Wait { exec_id }).await? {
            Reply::Exit(e) => Ok(e),
            other => Err(ShimError::Protocol(format!("{other:?}"))),
        }
    }

    /// Attaches to the init's stdio.
    pub async fn attach(
        &self,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<ShimStream, ShimError> {
        let (reader, writer, _) = self
            .send(&Request::Attach {
                stdin,
                stdout,
                stderr,
            })
            .await?;
        Ok(ShimStream { reader, writer })
    }

    /// Starts an exec; with `attach` the returned stream carries its stdio.
    pub async fn exec(
        &self,
        exec_id: &str,
        process: oci_spec::runtime::Process,
        stdin: bool,
        attach: bool,
    ) -> Result<(i32, Option<ShimStream>), ShimError> {
        let req = Request::Exec {
            exec_id: exec_id.to_string(),
            process: Box::new(process),
            stdin,
            attach,
        };
        let (reader, writer, reply) = self.send(&req).await?;
        let Reply::Pid { pid } = reply else {
            return Err(ShimError::Protocol(format!("{reply:?}")));
        };
        Ok((pid, attach.then_some(ShimStream { reader, writer })))
    }
}

impl ShimStream {
    /// Splits into the output half and the stdin half.
    pub fn split(self) -> (ShimOutput, OwnedWriteHalf) {
        (ShimOutput { inner: self.reader }, self.writer)
    }
}

/// The output half of a [`ShimStream`].
pub struct ShimOutput {
    inner: BufReader<OwnedReadHalf>,
}

impl ShimOutput {
    /// The next frame, or None at the end.
    pub async fn next(&mut self) -> Result<Option<Frame>, ShimError> {
        let mut header = [0u8; 8];
        match self.inner.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let (kind, len) = parse_frame_header(&header);
        let mut data = vec![0u8; len];
        self.inner.read_exact(&mut data).await?;
        if kind == FRAME_EXIT {
            let exit =
                serde_json::from_slice(&data).map_err(|e| ShimError::Protocol(e.to_string()))?;
            return Ok(Some(Frame::Exit(exit)));
        }
        Ok(Some(Frame::Output(kind, Bytes::from(data))))
    }
}
