//! `run` in the foreground with a terminal: relays the container's pty to our stdin and stdout,
//! with our own terminal (if stdin is one) in raw mode until the container exits.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::thread::JoinHandle;

use anyhow::Context;
use nix::sys::termios::{self, SetArg, Termios};

/// Copies stdin -> pty master and pty master -> stdout; restores our terminal when finished.
pub struct Relay {
    output: JoinHandle<()>,
    saved: Option<Termios>,
}

impl Relay {
    /// Starts the two copy threads (stdin is copied on a detached thread: a read on it cannot be interrupted).
    pub fn start(master: OwnedFd) -> anyhow::Result<Relay> {
        let saved = make_stdin_raw();
        let mut reader = File::from(master);
        let mut writer = reader.try_clone().context("duplicating the pty master")?;
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut writer);
        });
        let output = std::thread::spawn(move || {
            let mut out = std::io::stdout().lock();
            let mut buf = [0u8; 8192];
            // The read fails with EIO once every slave descriptor (the container's) is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || out.write_all(&buf[..n]).is_err() {
                    break;
                }
                let _ = out.flush();
            }
        });
        Ok(Relay { output, saved })
    }

    /// Waits for the container's output to drain and restores our terminal.
    pub fn finish(self) {
        let _ = self.output.join();
        if let Some(saved) = self.saved {
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &saved);
        }
    }
}

/// Puts stdin in raw mode when it is a terminal; returns the settings to restore.
fn make_stdin_raw() -> Option<Termios> {
    let saved = termios::tcgetattr(std::io::stdin()).ok()?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &raw).ok()?;
    Some(saved)
}
