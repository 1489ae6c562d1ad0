//! runc-style log lines to `--log` (text or JSON), which containerd's shim reads back on errors.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Mutex;

use crate::args::{Global, LogFormat};

/// Where log lines go (nowhere without --log).
pub struct Logger {
    file: Option<Mutex<File>>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    /// Opens `--log` for appending; an unopenable log file is reported once on stderr.
    pub fn open(global: &Global) -> Logger {
        let file = global.log.as_ref().and_then(|path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| eprintln!("berth-runtime: cannot open log {}: {e}", path.display()))
                .ok()
        });
        Logger {
            file: file.map(Mutex::new),
            format: global.log_format,
            debug: global.debug,
        }
    }

    /// Logs an error.
    pub fn error(&self, msg: &str) {
        self.write("error", msg);
    }

    /// Logs a debug line when --debug is set.
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    /// Writes one line in the chosen format.
    fn write(&self, level: &str, msg: &str) {
        let Some(file) = &self.file else { return };
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let line = format_line(self.format, level, msg, &time);
        if let Ok(mut f) = file.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// One log line, newline-terminated.
pub fn format_line(format: LogFormat, level: &str, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => format!(
            "{}\n",
            serde_json::json!({"level": level, "msg": msg, "time": time})
        ),
        LogFormat::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_runc_fields() {
        let line = format_line(
            LogFormat::Json,
            "error",
            "boom \"x\"",
            "2026-01-01T00:00:00Z",
        );
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).expect("json");
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
        assert!(
            format_line(LogFormat::Text, "error", "m", "t")
                .starts_with("time=\"t\" level=error msg=\"m\"")
        );
    }
}
