//! Container and exec stdio for API clients: channels handed to the server, pumped to and
//! from the shim's framed stream; attaches made before start wait in the container.

use crate::Engine;
use crate::shim_client::{Frame, ShimClient, ShimError, ShimOutput, ShimStream};
use crate::status::Status;
use berth_api::container::{AttachOptions, LogsOptions};
use berth_api::stream::{BoxStream, receiver_stream};
use berth_api::{ApiError, ApiResult, AttachedStreams, OutputChunk, StreamKind};
use berth_shim::config::ExitRecord;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// An attach waiting for its container to start.
pub struct PendingAttach {
    stdin: Option<mpsc::Receiver<Bytes>>,
    stdout: bool,
    stderr: bool,
    out: mpsc::Sender<OutputChunk>,
}

impl PendingAttach {
    /// The stdin receiver and the output sender, for exec streams.
    pub fn into_parts(self) -> (Option<mpsc::Receiver<Bytes>>, mpsc::Sender<OutputChunk>) {
        (self.stdin, self.out)
    }
}

/// Makes the server's half (AttachedStreams) and our half.
pub fn channels(
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
) -> (AttachedStreams, PendingAttach) {
    let (out_tx, out_rx) = mpsc::channel(64);
    let (in_tx, in_rx) = if stdin {
        let (t, r) = mpsc::channel(16);
        (Some(t), Some(r))
    } else {
        (None, None)
    };
    (
        AttachedStreams {
            stdin: in_tx,
            output: receiver_stream(out_rx),
            tty,
        },
        PendingAttach {
            stdin: in_rx,
            stdout,
            stderr,
            out: out_tx,
        },
    )
}

/// Attaches `p` to the init's stdio through the shim and pumps both ways.
pub async fn connect(client: &ShimClient, p: PendingAttach) -> Result<(), ShimError> {
    let stream = client.attach(p.stdin.is_some(), p.stdout, p.stderr).await?;
    pump(stream, p.stdin, p.out, None);
    Ok(())
}

/// What to do with the process's exit record (an exec records its exit code).
pub type OnExit = Box<dyn FnOnce(ExitRecord) + Send + 'static>;

/// Pumps a shim stream: output frames to `out` (ending it at exit), `stdin` to the shim
/// (shutting down our write side when the client's stdin ends; the shim closes the process's
/// stdin only for StdinOnce containers without a TTY, and for execs). `on_exit` runs before
/// the output channel closes, so exit codes are recorded before the client sees the end.
/// When the client detaches or goes away, the session ends at once unless `on_exit` still
/// needs the exit record: then output is drained (and dropped) until the exit.
pub fn pump(
    stream: ShimStream,
    stdin: Option<mpsc::Receiver<Bytes>>,
    out: mpsc::Sender<OutputChunk>,
    on_exit: Option<OnExit>,
) {
    let (output, mut writer) = stream.split();
    tokio::spawn(async move {
        if let Some(mut rx) = stdin {
            while let Some(data) = rx.recv().await {
                if writer.write_all(&data).await.is_err() {
                    return;
                }
            }
        }
        let _ = writer.shutdown().await;
    });
    tokio::spawn(forward_output(output, out, on_exit));
}

/// Sends output frames to the client until the exit (then runs `on_exit`) or, when nobody
/// waits for the exit, until the client is gone; dropping the stream ends the shim session.
async fn forward_output(
    mut output: ShimOutput,
    out: mpsc::Sender<OutputChunk>,
    mut on_exit: Option<OnExit>,
) {
    let mut client_gone = false;
    loop {
        let frame = if client_gone {
            output.next().await
        } else {
            tokio::select! {
                frame = output.next() => frame,
                () = out.closed() => {
                    if on_exit.is_none() {
                        return;
                    }
                    client_gone = true;
                    continue;
                }
            }
        };
        let Ok(Some(frame)) = frame else {
            return;
        };
        match frame {
            Frame::Output(kind, data) => {
                if client_gone {
                    continue;
                }
                let kind = if kind == 2 {
                    StreamKind::Stderr
                } else {
                    StreamKind::Stdout
                };
                if out.send(OutputChunk { kind, data }).await.is_err() {
                    if on_exit.is_none() {
                        return;
                    }
                    client_gone = true;
                }
            }
            Frame::Exit(exit) => {
                if let Some(f) = on_exit.take() {
                    f(exit);
                }
                return;
            }
        }
    }
}

impl Engine {
    /// Attaches to a container (before start: the attach waits for the start). With `logs`, the
    /// container's log is replayed first (stdout and stderr kept apart); without `stream`, only
    /// that replay is sent, whatever the container's state, as dockerd does.
    pub async fn attach(&self, name: &str, opts: AttachOptions) -> ApiResult<AttachedStreams> {
        let replay = if opts.logs {
            Some(self.log_replay(name, &opts).await?)
        } else {
            None
        };
        let c = self.lookup(name)?;
        let rec = c.lock().await;
        if !opts.stream {
            self.emit_container("attach", &rec, Default::default());
            return Ok(AttachedStreams {
                stdin: None,
                output: replay.unwrap_or_else(|| Box::pin(futures_util::stream::empty())),
                tty: rec.tty(),
            });
        }
        let stdin = opts.stdin && rec.config.open_stdin.unwrap_or(false);
        let (mut streams, pending) = channels(stdin, opts.stdout, opts.stderr, rec.tty());
        match rec.state.status {
            // `docker start -a` attaches first, then starts: the attach waits for the start.
            Status::Created | Status::Exited | Status::Restarting => {
                c.pending
                    .lock()
                    .map_err(|_| ApiError::internal("attach list poisoned"))?
                    .push(pending);
            }
            Status::Running | Status::Paused => {
                connect(&self.shim(&rec.id), pending)
                    .await
                    .map_err(|e| ApiError::new(e.kind(), format!("attaching: {e}")))?;
            }
            s => {
                return Err(ApiError::conflict(format!(
                    "You cannot attach to a container in state {s}"
                )));
            }
        }
        if let Some(replay) = replay {
            streams.output = Box::pin(replay.chain(streams.output));
        }
        self.emit_container("attach", &rec, Default::default());
        Ok(streams)
    }

    /// The container's log so far as output chunks, for `attach?logs=1`.
    async fn log_replay(
        &self,
        name: &str,
        opts: &AttachOptions,
    ) -> ApiResult<BoxStream<OutputChunk>> {
        let logs = self
            .logs(
                name,
                LogsOptions {
                    stdout: opts.stdout,
                    stderr: opts.stderr,
                    ..LogsOptions::default()
                },
            )
            .await?;
        Ok(Box::pin(logs.records.map(|r| OutputChunk {
            kind: r.kind,
            data: r.data,
        })))
    }
}
