//! Starting `berthd` on demand: when the default socket is absent and we are root, `berth` starts the daemon
//! (found next to itself, else in PATH), says so on stderr, and waits for its socket. `BERTH_NO_AUTOSTART=1` opts out.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_client::Host;
use berth_client::host::DEFAULT_HOST;

fn berthd_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("berthd")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("berthd"))
}

/// Whether this invocation should start the daemon.
pub fn wanted(host: &Host) -> bool {
    host.url == DEFAULT_HOST
        && host.socket().is_some_and(|s| !s.exists())
        && nix::unistd::geteuid().is_root()
        && std::env::var("BERTH_NO_AUTOSTART").as_deref() != Ok("1")
}

/// Starts berthd in its own process group with its log in the run root, and waits up to 10 s for the socket.
pub fn start(host: &Host) -> Result<(), String> {
    let socket = host
        .socket()
        .ok_or_else(|| format!("{} is not a unix socket", host.url))?;
    let run_root = socket.parent().unwrap_or(Path::new("/run/berth"));
    std::fs::create_dir_all(run_root)
        .map_err(|e| format!("creating {}: {e}", run_root.display()))?;
    let log_path = run_root.join("berthd.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
    let binary = berthd_binary();
    let child = Command::new(&binary)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    eprintln!(
        "berth: the daemon was not running; started berthd (pid {}, log {})",
        child.id(),
        log_path.display()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if Instant::now() > deadline {
            return Err(format!(
                "berthd did not create {} in time; see {}",
                socket.display(),
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
