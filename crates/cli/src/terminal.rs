//! The local terminal: raw mode for `-t` (restored on drop), window size for resizes, and detach key sequences.

use std::io::IsTerminal;

use nix::sys::termios::{self, SetArg, Termios};

/// Puts stdin in raw mode while alive and restores the saved settings when dropped.
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    /// Enters raw mode when stdin is a terminal; a no-op guard otherwise.
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return RawMode { saved: None };
        }
        let Ok(saved) = termios::tcgetattr(&stdin) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        if termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw).is_err() {
            return RawMode { saved: None };
        }
        RawMode { saved: Some(saved) }
    }

    /// Restores the terminal now (also done on drop).
    pub fn restore(&mut self) {
        if let Some(saved) = self.saved.take() {
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &saved);
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Rows and columns of our terminal (stdout, else stdin), if we have one.
pub fn window_size() -> Option<(u16, u16)> {
    let from = |fd: rustix::fd::BorrowedFd<'_>| rustix::termios::tcgetwinsize(fd).ok();
    let ws = from(rustix::stdio::stdout()).or_else(|| from(rustix::stdio::stdin()))?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Parses Docker's detach key syntax (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) into the byte sequence.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        let lower = key.to_ascii_lowercase();
        if let Some(c) = lower.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("Unknown character: '{key}'")),
            };
            out.push(b);
        } else if key.len() == 1 {
            out.push(key.as_bytes()[0]);
        } else {
            return Err(format!("Unknown character: '{key}'"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-@,a").unwrap(), vec![0, b'a']);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }
}
