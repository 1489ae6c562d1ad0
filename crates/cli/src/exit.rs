//! Exit codes and error lines as Docker prints them: `Error response from daemon: ...` and exit 1 for most
//! commands, 125 when `run` could not start a container, the container's own code otherwise.

use berth_client::ClientError;

/// An error that carries the exit code the process must end with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StatusError {
    /// Exit status.
    pub code: i32,
    /// Text printed to stderr (may be empty).
    pub message: String,
}

impl StatusError {
    /// An error with a code and a message.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        StatusError {
            code,
            message: message.into(),
        }
    }
}

/// The line Docker prints for a failed API call.
pub fn describe(e: &ClientError) -> String {
    if e.is_daemon_error() {
        format!("Error response from daemon: {e}")
    } else {
        e.to_string()
    }
}

/// Describes any error: client errors as Docker words them, others as they are.
pub fn describe_any(e: &anyhow::Error) -> String {
    match e.downcast_ref::<ClientError>() {
        Some(c) => describe(c),
        None => format!("{e:#}"),
    }
}

/// The exit status and message for an error reaching `main`.
pub fn exit_status(e: &anyhow::Error) -> (i32, String) {
    if let Some(s) = e.downcast_ref::<StatusError>() {
        return (s.code, s.message.clone());
    }
    (1, describe_any(e))
}

/// Result of a command: the exit code on success.
pub type CmdResult = anyhow::Result<i32>;

/// Runs `op` over many names the way Docker's multi-target commands do: the operations run
/// concurrently (`rm -f` of 50 containers should not take 50 round trips in a row), then each
/// name is printed on success and each error on stderr, in the order given; exit 1 at the end if
/// anything failed.
pub async fn for_each_target<F, Fut>(names: &[String], print_name: bool, op: F) -> CmdResult
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    use futures_util::StreamExt;
    /// How many operations are in flight at once, as Docker's CLI bounds its own.
    const IN_FLIGHT: usize = 16;
    let results: Vec<_> = futures_util::stream::iter(names.iter().cloned())
        .map(op)
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut failed = false;
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(()) => {
                if print_name {
                    println!("{name}");
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("{}", describe(&e));
            }
        }
    }
    Ok(i32::from(failed))
}
