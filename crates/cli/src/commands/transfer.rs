//! Moving images in and out: `load`, `save`, `import`, `pull`, `push` (and the pull `run` does for a missing image).

use std::io::IsTerminal;
use std::path::PathBuf;

use berth_api::JsonMessage;
use berth_client::Client;
use berth_client::stream::{byte_stream, json_stream};
use berth_client::transport::stream_body;
use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::commands::names::split_tag;
use crate::commands::progress::{self, Sink};
use crate::commands::registry::registry_auth_for;
use crate::exit::{CmdResult, StatusError};
use crate::opts::env::io_reason;

/// `berth load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short = 'i', long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `berth save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Images.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// `berth import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Set commit message for imported image.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// File (or `-` for STDIN).
    pub file: String,
    /// Repository `name[:tag]`.
    pub reference: Option<String>,
}

/// `berth pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// Image `name[:tag|@digest]`.
    pub image: String,
}

/// `berth push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Image `name[:tag]`.
    pub image: String,
}

/// A request body streamed from a file or stdin.
async fn upload_body(path: Option<&std::path::Path>) -> anyhow::Result<berth_client::Body> {
    let reader: Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin> = match path {
        Some(p) => Box::new(tokio::fs::File::open(p).await.map_err(|e| {
            StatusError::new(1, format!("open {}: {}", p.display(), io_reason(&e)))
        })?),
        None => Box::new(tokio::io::stdin()),
    };
    let stream = futures_util::stream::unfold(reader, |mut r| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match tokio::io::AsyncReadExt::read(&mut r, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), r))
            }
            Err(e) => Some((Err(e), r)),
        }
    });
    Ok(stream_body(stream))
}

/// `berth load`.
pub async fn load(client: &Client, args: LoadArgs) -> CmdResult {
    if args.input.is_none() && std::io::stdin().is_terminal() {
        return Err(StatusError::new(1, "requested load from stdin, but stdin is empty").into());
    }
    let body = upload_body(args.input.as_deref()).await?;
    let resp = client.load_images(body, args.quiet).await?;
    progress::display(
        json_stream::<JsonMessage>("/images/load", resp),
        Sink::Stdout,
        false,
    )
    .await?;
    Ok(0)
}

/// `berth save`.
pub async fn save(client: &Client, args: SaveArgs) -> CmdResult {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(StatusError::new(
            1,
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        )
        .into());
    }
    let resp = client.save_images(&args.images).await?;
    write_download(byte_stream("/images/get", resp), args.output.as_deref()).await?;
    Ok(0)
}

/// Writes a streamed reply to a file (via a temp name, renamed when complete) or stdout.
pub async fn write_download(
    stream: impl futures_util::Stream<Item = Result<Bytes, berth_client::ClientError>>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let mut stream = std::pin::pin!(stream);
    match output {
        Some(path) => {
            let tmp = path.with_extension("berth-tmp");
            let mut file = tokio::fs::File::create(&tmp).await.map_err(|e| {
                StatusError::new(
                    1,
                    format!("failed to save: open {}: {}", path.display(), io_reason(&e)),
                )
            })?;
            let result: anyhow::Result<()> = async {
                while let Some(chunk) = stream.next().await {
                    file.write_all(&chunk?).await?;
                }
                file.sync_all().await?;
                Ok(())
            }
            .await;
            if let Err(e) = result {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
            tokio::fs::rename(&tmp, path).await?;
        }
        None => {
            let mut out = tokio::io::stdout();
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?).await?;
            }
            out.flush().await?;
        }
    }
    Ok(())
}

/// `berth import`.
pub async fn import(client: &Client, args: ImportArgs) -> CmdResult {
    let mut query = vec![("fromSrc", "-".to_string())];
    if let Some(r) = &args.reference {
        let (repo, tag) = split_tag(r);
        query.push(("repo", repo.to_string()));
        if let Some(t) = tag {
            query.push(("tag", t.to_string()));
        }
    }
    if let Some(m) = &args.message {
        query.push(("message", m.clone()));
    }
    for c in &args.changes {
        query.push(("changes", c.clone()));
    }
    if let Some(p) = &args.platform {
        query.push(("platform", p.clone()));
    }
    let path = (args.file != "-").then(|| PathBuf::from(&args.file));
    if args.file.starts_with("http://") || args.file.starts_with("https://") {
        return Err(StatusError::new(1, "importing from a URL is not supported yet").into());
    }
    let body = upload_body(path.as_deref()).await?;
    let resp = client.import_image(&query, body).await?;
    let mut stream = std::pin::pin!(json_stream::<JsonMessage>("/images/create", resp));
    while let Some(m) = stream.next().await {
        let m = m?;
        if let Some(e) = m.error.or(m.error_detail.map(|d| d.message)) {
            return Err(progress::StreamError(e).into());
        }
        if let Some(s) = m.status.or(m.stream) {
            println!("{}", s.trim_end());
        }
    }
    Ok(0)
}

fn pull_target(image: &str) -> (String, String) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name.to_string(), digest.to_string());
    }
    let (name, tag) = split_tag(image);
    (name.to_string(), tag.unwrap_or("latest").to_string())
}

/// Pulls for `run`/`create` (progress on stderr), returning the daemon's error as is.
pub async fn pull_for_run(
    client: &Client,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
) -> anyhow::Result<()> {
    let (name, tag) = pull_target(image);
    let auth = registry_auth_for(&name);
    let resp = client
        .pull_image(&name, &tag, platform, auth.as_deref())
        .await?;
    progress::display(
        json_stream::<JsonMessage>("/images/create", resp),
        Sink::Stderr,
        quiet,
    )
    .await
}

/// `berth pull`.
pub async fn pull(client: &Client, args: PullArgs) -> CmdResult {
    let (name, tag) = pull_target(&args.image);
    let tag = if args.all_tags { String::new() } else { tag };
    if !args.all_tags
        && !args.quiet
        && split_tag(&args.image).1.is_none()
        && !args.image.contains('@')
    {
        println!("Using default tag: latest");
    }
    let auth = registry_auth_for(&name);
    let resp = client
        .pull_image(&name, &tag, args.platform.as_deref(), auth.as_deref())
        .await?;
    progress::display(
        json_stream::<JsonMessage>("/images/create", resp),
        Sink::Stdout,
        args.quiet,
    )
    .await?;
    if !args.all_tags {
        println!("{}", crate::commands::names::full_reference(&args.image));
    }
    Ok(0)
}

/// `berth push`.
pub async fn push(client: &Client, args: PushArgs) -> CmdResult {
    let (name, tag) = split_tag(&args.image);
    let tag = if args.all_tags {
        None
    } else {
        Some(tag.unwrap_or("latest"))
    };
    let auth = registry_auth_for(name);
    let resp = client.push_image(name, tag, auth.as_deref()).await?;
    progress::display(
        json_stream::<JsonMessage>("/images/push", resp),
        Sink::Stdout,
        args.quiet,
    )
    .await?;
    Ok(0)
}
