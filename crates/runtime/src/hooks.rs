//! OCI lifecycle hooks run by the runtime: createRuntime/prestart after create, poststart after
//! start, poststop after delete. Each hook gets the container's state JSON on stdin.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::RuntimeError;
use crate::state::State;

/// Runs `hooks` in order; the first failure stops the list.
pub(crate) fn run(which: &'static str, hooks: &[Hook], state: &State) -> Result<(), RuntimeError> {
    run_with_input(which, hooks, &state.oci_json().to_string())
}

/// Runs `hooks` with `input` (a state JSON) on their stdin; used in the container, which has no `State`.
pub(crate) fn run_with_input(
    which: &'static str,
    hooks: &[Hook],
    input: &str,
) -> Result<(), RuntimeError> {
    for hook in hooks {
        run_one(which, hook, input)?;
    }
    Ok(())
}

/// Runs one hook with its args, env and timeout.
fn run_one(which: &'static str, hook: &Hook, input: &str) -> Result<(), RuntimeError> {
    let path = hook.path().display().to_string();
    let fail = |message: String| RuntimeError::Hook {
        hook: which,
        path: path.clone(),
        message,
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args().as_ref().filter(|a| !a.is_empty()) {
        cmd.arg0(&args[0]).args(&args[1..]);
    }
    cmd.env_clear();
    for kv in hook.env().as_deref().unwrap_or_default() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(input.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child
            .try_wait()
            .map_err(|e| fail(format!("waiting: {e}")))?
        {
            Some(status) if status.success() => return Ok(()),
            Some(status) => return Err(fail(format!("exited with {status}"))),
            None if deadline.is_some_and(|d| Instant::now() > d) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail("timed out".into()));
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}
