//! Pull and push progress as typed events that map one to one onto Docker's JSON message
//! stream, so the daemon can forward them to the docker CLI unchanged.

use std::sync::Arc;

use serde_json::{Value, json};

/// What happened to one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEvent {
    /// `Already exists` (pull: the layer is unpacked locally).
    AlreadyExists,
    /// `Pulling fs layer`.
    PullingFsLayer,
    /// `Waiting` (queued behind the download/upload limit).
    Waiting,
    /// `Downloading` with bytes so far and total.
    Downloading {
        /// Bytes received.
        current: u64,
        /// Blob size.
        total: u64,
    },
    /// `Retrying in N seconds` after a broken connection.
    Retrying {
        /// Seconds until the retry.
        seconds: u64,
    },
    /// `Verifying Checksum`.
    VerifyingChecksum,
    /// `Download complete`.
    DownloadComplete,
    /// `Extracting` with bytes so far and total.
    Extracting {
        /// Bytes unpacked.
        current: u64,
        /// Blob size.
        total: u64,
    },
    /// `Pull complete`.
    PullComplete,
    /// `Preparing` (push).
    Preparing,
    /// `Pushing` with bytes so far and total.
    Pushing {
        /// Bytes sent.
        current: u64,
        /// Blob size.
        total: u64,
    },
    /// `Pushed`.
    Pushed,
    /// `Layer already exists` (push: the registry has it).
    LayerAlreadyExists,
    /// `Mounted from <repo>` (push: cross-repository mount).
    MountedFrom {
        /// The source repository (familiar name).
        repo: String,
    },
}

impl LayerEvent {
    /// Docker's status text.
    pub fn status(&self) -> String {
        match self {
            LayerEvent::AlreadyExists => "Already exists".into(),
            LayerEvent::PullingFsLayer => "Pulling fs layer".into(),
            LayerEvent::Waiting => "Waiting".into(),
            LayerEvent::Downloading { .. } => "Downloading".into(),
            LayerEvent::Retrying { seconds } => format!("Retrying in {seconds} seconds"),
            LayerEvent::VerifyingChecksum => "Verifying Checksum".into(),
            LayerEvent::DownloadComplete => "Download complete".into(),
            LayerEvent::Extracting { .. } => "Extracting".into(),
            LayerEvent::PullComplete => "Pull complete".into(),
            LayerEvent::Preparing => "Preparing".into(),
            LayerEvent::Pushing { .. } => "Pushing".into(),
            LayerEvent::Pushed => "Pushed".into(),
            LayerEvent::LayerAlreadyExists => "Layer already exists".into(),
            LayerEvent::MountedFrom { repo } => format!("Mounted from {repo}"),
        }
    }

    fn detail(&self) -> Option<(u64, u64)> {
        match self {
            LayerEvent::Downloading { current, total }
            | LayerEvent::Extracting { current, total }
            | LayerEvent::Pushing { current, total } => Some((*current, *total)),
            _ => None,
        }
    }
}

/// One progress message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A line without layer: `Pulling from library/busybox` (with `id` = tag),
    /// `Digest: sha256:...`, `Status: Downloaded newer image for busybox:latest`,
    /// `The push refers to repository [...]`.
    Status {
        /// Docker's `id` field (the tag for `Pulling from`), if any.
        id: Option<String>,
        /// The text.
        status: String,
    },
    /// A layer's progress; `id` is the short (12 hex) digest Docker shows.
    Layer {
        /// Short digest.
        id: String,
        /// What happened.
        event: LayerEvent,
    },
    /// The end of a push: `<tag>: digest: sha256:... size: N`, plus Docker's `aux` record.
    Pushed {
        /// The tag pushed.
        tag: String,
        /// The manifest digest.
        digest: String,
        /// The manifest size.
        size: u64,
    },
}

impl Progress {
    /// A status line without id.
    pub fn status(s: impl Into<String>) -> Progress {
        Progress::Status {
            id: None,
            status: s.into(),
        }
    }

    /// Docker's JSON messages for this event (one, or two for the push digest line).
    pub fn to_json_messages(&self) -> Vec<Value> {
        match self {
            Progress::Status {
                id: Some(id),
                status,
            } => vec![json!({"status": status, "id": id})],
            Progress::Status { id: None, status } => vec![json!({ "status": status })],
            Progress::Layer { id, event } => {
                let mut v = json!({"status": event.status(), "id": id});
                if let Some((current, total)) = event.detail() {
                    v["progressDetail"] = json!({"current": current, "total": total});
                    v["progress"] = Value::String(progress_bar(current, total));
                } else {
                    v["progressDetail"] = json!({});
                }
                vec![v]
            }
            Progress::Pushed { tag, digest, size } => vec![
                json!({"status": format!("{tag}: digest: {digest} size: {size}")}),
                json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": size}}),
            ],
        }
    }
}

/// Docker's `[====>     ]  1.2MB/3.4MB` bar.
fn progress_bar(current: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    if total == 0 {
        return format!("{:>8}", human(current));
    }
    let filled = (current.min(total) * WIDTH / total) as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH as usize {
        bar.push('>');
    }
    format!(
        "[{bar:<width$}] {:>8}/{}",
        human(current),
        human(total),
        width = WIDTH as usize
    )
}

fn human(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.3}{}", units[i])
    }
}

/// Where progress goes: called from the pull/push tasks, so it must be cheap and not block.
pub type ProgressSink = Arc<dyn Fn(Progress) + Send + Sync>;

/// A sink that drops everything.
pub fn discard() -> ProgressSink {
    Arc::new(|_| {})
}

/// A sink that forwards into an unbounded channel (what the daemon streams from).
pub fn channel_sink(tx: tokio::sync::mpsc::UnboundedSender<Progress>) -> ProgressSink {
    Arc::new(move |p| {
        let _ = tx.send(p);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_docker_json() {
        let p = Progress::Layer {
            id: "abcdef012345".into(),
            event: LayerEvent::Downloading {
                current: 500,
                total: 1000,
            },
        };
        let v = &p.to_json_messages()[0];
        assert_eq!(v["status"], "Downloading");
        assert_eq!(v["id"], "abcdef012345");
        assert_eq!(v["progressDetail"]["current"], 500);
        assert_eq!(v["progressDetail"]["total"], 1000);
        assert!(
            v["progress"]
                .as_str()
                .unwrap()
                .starts_with("[=========================>")
        );
        let done = Progress::Layer {
            id: "x".into(),
            event: LayerEvent::PullComplete,
        };
        assert_eq!(done.to_json_messages()[0]["status"], "Pull complete");
        let pushed = Progress::Pushed {
            tag: "latest".into(),
            digest: "sha256:ab".into(),
            size: 527,
        };
        let m = pushed.to_json_messages();
        assert_eq!(m[0]["status"], "latest: digest: sha256:ab size: 527");
        assert_eq!(m[1]["aux"]["Size"], 527);
        assert_eq!(
            LayerEvent::MountedFrom {
                repo: "library/a".into()
            }
            .status(),
            "Mounted from library/a"
        );
    }
}
