//! Pumps a hijacked attach/exec connection to and from our stdio: stdin goes up (half-closed at EOF), output comes
//! down raw with a TTY or demultiplexed into stdout/stderr without one. Detach keys end the session early.

use std::io::Write;

use berth_client::{FrameDecoder, Hijacked};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The daemon closed the output stream (the process exited or the stream ended).
    OutputClosed,
    /// The user typed the detach sequence.
    Detached,
}

/// What to pump.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Raw stream (TTY) instead of multiplexed frames.
    pub tty: bool,
    /// Forward our stdin.
    pub stdin: bool,
    /// Detach sequence to watch for in stdin (empty for none).
    pub detach_keys: Vec<u8>,
}

/// Reads stdin on a plain thread (tokio's stdin would keep the runtime from exiting) into a channel.
fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match std::io::Read::read(&mut stdin, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Finds the detach sequence across chunk boundaries; returns the bytes to forward and whether it matched.
struct DetachWatcher {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachWatcher {
    fn feed(&mut self, chunk: &[u8]) -> (Vec<u8>, bool) {
        if self.keys.is_empty() {
            return (chunk.to_vec(), false);
        }
        let mut out = Vec::with_capacity(chunk.len());
        for &b in chunk {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

fn write_out(stream: u8, data: &[u8]) {
    let result = if stream == 2 {
        let mut e = std::io::stderr().lock();
        e.write_all(data).and_then(|()| e.flush())
    } else {
        let mut o = std::io::stdout().lock();
        o.write_all(data).and_then(|()| o.flush())
    };
    let _ = result;
}

async fn pump_output(mut reader: tokio::io::ReadHalf<Hijacked>, tty: bool) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut decoder = FrameDecoder::new();
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if tty {
            write_out(1, &buf[..n]);
            continue;
        }
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder.next_frame() {
            write_out(frame.stream, &frame.data);
        }
    }
}

async fn pump_input(
    mut writer: tokio::io::WriteHalf<Hijacked>,
    detach_keys: Vec<u8>,
) -> SessionEnd {
    let mut rx = spawn_stdin_reader();
    let mut watcher = DetachWatcher {
        keys: detach_keys,
        matched: 0,
    };
    while let Some(chunk) = rx.recv().await {
        let (forward, detached) = watcher.feed(&chunk);
        if !forward.is_empty() && writer.write_all(&forward).await.is_err() {
            break;
        }
        let _ = writer.flush().await;
        if detached {
            return SessionEnd::Detached;
        }
    }
    let _ = writer.shutdown().await;
    // Keep the write half alive: dropping it would not close the socket, but be explicit that output continues.
    std::future::pending::<()>().await;
    SessionEnd::OutputClosed
}

/// Runs an attached session the way `start -a`, `attach` and `exec` do: the detach keys count only
/// while a TTY takes our stdin, and the terminal (put in raw mode by the caller, if at all) is
/// restored when the session ends.
pub async fn run_interactive_session(
    stream: Hijacked,
    tty: bool,
    stdin: bool,
    detach_keys: Vec<u8>,
    mut raw: Option<crate::terminal::RawMode>,
) -> SessionEnd {
    let detach_keys = if tty && stdin {
        detach_keys
    } else {
        Vec::new()
    };
    let end = run_session(
        stream,
        SessionOptions {
            tty,
            stdin,
            detach_keys,
        },
    )
    .await;
    if let Some(r) = raw.as_mut() {
        r.restore();
    }
    end
}

/// Runs the session until the output ends or the user detaches.
pub async fn run_session(stream: Hijacked, opts: SessionOptions) -> SessionEnd {
    let (reader, writer) = tokio::io::split(stream);
    let output = pump_output(reader, opts.tty);
    if !opts.stdin {
        output.await;
        return SessionEnd::OutputClosed;
    }
    tokio::select! {
        () = output => SessionEnd::OutputClosed,
        end = pump_input(writer, opts.detach_keys) => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_sequence_is_swallowed_and_partial_matches_forwarded() {
        let mut w = DetachWatcher {
            keys: vec![16, 17],
            matched: 0,
        };
        assert_eq!(w.feed(b"ab"), (b"ab".to_vec(), false));
        assert_eq!(w.feed(&[16]), (vec![], false));
        assert_eq!(w.feed(b"x"), (vec![16, b'x'], false));
        assert_eq!(w.feed(&[b'y', 16]), (vec![b'y'], false));
        assert_eq!(w.feed(&[17, b'z']), (vec![], true));
        let mut none = DetachWatcher {
            keys: vec![],
            matched: 0,
        };
        assert_eq!(none.feed(&[16, 17]), (vec![16, 17], false));
    }
}
