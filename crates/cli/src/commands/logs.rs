//! `berth logs`: the log stream, demultiplexed to stdout/stderr unless the container has a TTY.

use std::io::Write;

use berth_client::containers::LogsQuery;
use berth_client::{Client, FrameDecoder};
use clap::Args;
use futures_util::StreamExt;

use crate::exit::{CmdResult, StatusError};
use crate::opts::duration::parse_timestamp;

/// `berth logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since timestamp or relative (e.g. 42m for 42 minutes).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative.
    #[arg(long)]
    pub until: Option<String>,
    /// Number of lines to show from the end of the logs.
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show extra details provided to logs.
    #[arg(long)]
    pub details: bool,
    /// Container.
    pub container: String,
}

fn write_stream(stream: u8, data: &[u8]) {
    let _ = if stream == 2 {
        std::io::stderr().lock().write_all(data)
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(data).and_then(|()| out.flush())
    };
}

/// `berth logs`.
pub async fn logs(client: &Client, args: LogsArgs) -> CmdResult {
    let now = chrono::Utc::now();
    let ts = |v: &Option<String>| -> Result<Option<String>, StatusError> {
        v.as_deref()
            .map(|s| parse_timestamp(s, now).map_err(|e| StatusError::new(1, e)))
            .transpose()
    };
    let info = client.inspect_container(&args.container).await?;
    let tty = info.config.tty.unwrap_or(false);
    let query = LogsQuery {
        follow: args.follow,
        timestamps: args.timestamps,
        since: ts(&args.since)?,
        until: ts(&args.until)?,
        tail: Some(args.tail.clone()),
    };
    let resp = client.container_logs(&info.id, &query).await?;
    let mut body = Box::pin(berth_client::stream::byte_stream("/logs", resp));
    let mut decoder = FrameDecoder::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if tty {
            write_stream(1, &chunk);
            continue;
        }
        decoder.push(&chunk);
        while let Some(frame) = decoder.next_frame() {
            write_stream(frame.stream, &frame.data);
        }
    }
    Ok(0)
}
