//! Shows a JSON message stream (pull, push, load, import): one live line per layer with indicatif on a terminal,
//! plain `id: status` lines otherwise; an error message in the stream becomes the command's error.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use berth_api::JsonMessage;
use berth_client::ClientError;
use futures_util::{Stream, StreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// An error the daemon reported inside a progress stream.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StreamError(pub String);

/// Where the progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard output (pull, push, load).
    Stdout,
    /// Standard error (the pull inside `run`).
    Stderr,
}

fn is_terminal(sink: Sink) -> bool {
    match sink {
        Sink::Stdout => std::io::stdout().is_terminal(),
        Sink::Stderr => std::io::stderr().is_terminal(),
    }
}

fn write_line(sink: Sink, text: &str) {
    let _ = match sink {
        Sink::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
        Sink::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
    };
}

/// The plain-text form of one message (Docker's non-terminal display), or `None` for pure progress updates.
pub fn plain_line(m: &JsonMessage) -> Option<String> {
    if let Some(s) = &m.stream {
        return Some(s.clone());
    }
    let status = m.status.as_deref()?;
    if m.progress.is_some()
        || m.progress_detail
            .as_ref()
            .is_some_and(|d| d.total.is_some())
    {
        return None;
    }
    Some(match &m.id {
        Some(id) if !id.is_empty() => format!("{id}: {status}\n"),
        _ => format!("{status}\n"),
    })
}

/// Displays the stream; returns the daemon's error if one arrives.
pub async fn display<S>(stream: S, sink: Sink, quiet: bool) -> anyhow::Result<()>
where
    S: Stream<Item = Result<JsonMessage, ClientError>>,
{
    let mut stream = std::pin::pin!(stream);
    let live = !quiet && is_terminal(sink);
    let multi = MultiProgress::with_draw_target(match sink {
        Sink::Stdout => ProgressDrawTarget::stdout(),
        Sink::Stderr => ProgressDrawTarget::stderr(),
    });
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    let style = ProgressStyle::with_template("{prefix}: {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    while let Some(message) = stream.next().await {
        let m = message?;
        if let Some(err) = m
            .error
            .clone()
            .or_else(|| m.error_detail.as_ref().map(|d| d.message.clone()))
        {
            for bar in bars.values() {
                bar.abandon();
            }
            return Err(StreamError(err).into());
        }
        if quiet {
            continue;
        }
        match (&m.id, live) {
            (Some(id), true) if !id.is_empty() && m.stream.is_none() => {
                let bar = bars.entry(id.clone()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new_spinner());
                    b.set_style(style.clone());
                    b.set_prefix(id.clone());
                    b
                });
                let status = m.status.clone().unwrap_or_default();
                let progress = m.progress.clone().unwrap_or_default();
                bar.set_message(format!("{status} {progress}").trim_end().to_string());
            }
            _ => {
                if let Some(line) = plain_line(&m) {
                    if live {
                        let _ = multi.println(line.trim_end_matches('\n'));
                    } else {
                        write_line(sink, &line);
                    }
                }
            }
        }
    }
    for bar in bars.values() {
        bar.finish();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_like_docker_without_a_terminal() {
        let m: JsonMessage =
            serde_json::from_str(r#"{"status":"Pulling fs layer","id":"abc"}"#).unwrap();
        assert_eq!(plain_line(&m).as_deref(), Some("abc: Pulling fs layer\n"));
        let m: JsonMessage = serde_json::from_str(r#"{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[=>  ]","id":"abc"}"#).unwrap();
        assert_eq!(plain_line(&m), None);
        let m: JsonMessage =
            serde_json::from_str(r#"{"stream":"Loaded image: busybox:latest\n"}"#).unwrap();
        assert_eq!(
            plain_line(&m).as_deref(),
            Some("Loaded image: busybox:latest\n")
        );
        let m: JsonMessage = serde_json::from_str(
            r#"{"status":"Status: Downloaded newer image for busybox:latest"}"#,
        )
        .unwrap();
        assert_eq!(
            plain_line(&m).as_deref(),
            Some("Status: Downloaded newer image for busybox:latest\n")
        );
    }
}
