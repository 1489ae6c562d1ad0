//! Container inspection and file commands: `top`, `stats`, `export`, `cp`, `port`, `diff`, `commit`.

use std::path::{Path, PathBuf};

use berth_client::Client;
use berth_client::stream::byte_stream;
use berth_client::transport::full_body;
use clap::Args;
use gtmpl_value::Value as TValue;
use serde_json::Value;

use crate::commands::names::{short_id, split_tag};
use crate::commands::transfer::write_download;
use crate::exit::{CmdResult, StatusError, describe};
use crate::opts::env::io_reason;
use crate::output::humanize::{bytes_size, human_size_precision};
use crate::output::table::align_tabs_min;
use crate::output::template::{Formatter, object};

/// `berth top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Container.
    pub container: String,
    /// `ps` options.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// `berth stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    /// Containers.
    pub containers: Vec<String>,
}

/// `berth export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Container.
    pub container: String,
}

/// `berth cp`.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Source: `CONTAINER:SRC_PATH` or a local path (`-` for a tar on stdin).
    pub source: String,
    /// Destination: `CONTAINER:DEST_PATH` or a local path (`-` for a tar on stdout).
    pub dest: String,
}

/// `berth port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container.
    pub container: String,
    /// `PRIVATE_PORT[/PROTO]`.
    pub port: Option<String>,
}

/// `berth diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Container.
    pub container: String,
}

/// `berth commit`.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author.
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit.
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// Container.
    pub container: String,
    /// Repository `name[:tag]`.
    pub reference: Option<String>,
}

/// `berth top`.
pub async fn top(client: &Client, args: TopArgs) -> CmdResult {
    let ps_args = (!args.ps_args.is_empty()).then(|| args.ps_args.join(" "));
    let top = client.top(&args.container, ps_args.as_deref()).await?;
    let mut text = top.titles.join("\t");
    text.push('\n');
    for p in &top.processes {
        text.push_str(&p.join("\t"));
        text.push('\n');
    }
    print!("{}", align_tabs_min(&text, 20));
    Ok(0)
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or(0.0)
}

/// One `docker stats` row computed from a stats sample.
pub fn stats_row(id: &str, s: &Value, trunc: bool) -> TValue {
    let cpu_delta =
        num(s, "/cpu_stats/cpu_usage/total_usage") - num(s, "/precpu_stats/cpu_usage/total_usage");
    let system_delta =
        num(s, "/cpu_stats/system_cpu_usage") - num(s, "/precpu_stats/system_cpu_usage");
    let mut online = num(s, "/cpu_stats/online_cpus");
    if online == 0.0 {
        online = s
            .pointer("/cpu_stats/cpu_usage/percpu_usage")
            .and_then(Value::as_array)
            .map_or(1.0, |a| a.len().max(1) as f64);
    }
    let cpu = if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    };
    let usage = num(s, "/memory_stats/usage");
    let inactive = match s.pointer("/memory_stats/stats/total_inactive_file") {
        Some(v) => v.as_f64().unwrap_or(0.0),
        None => num(s, "/memory_stats/stats/inactive_file"),
    };
    let mem = if inactive < usage {
        usage - inactive
    } else {
        usage
    };
    let limit = num(s, "/memory_stats/limit");
    let mem_pct = if limit > 0.0 {
        mem / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    if let Some(Value::Object(nets)) = s.get("networks") {
        for n in nets.values() {
            rx += num(n, "/rx_bytes");
            tx += num(n, "/tx_bytes");
        }
    }
    let (mut read, mut write) = (0.0, 0.0);
    if let Some(Value::Array(entries)) = s.pointer("/blkio_stats/io_service_bytes_recursive") {
        for e in entries {
            match e
                .get("op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("read") => read += num(e, "/value"),
                Some("write") => write += num(e, "/value"),
                _ => {}
            }
        }
    }
    let name = s
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim_start_matches('/');
    let sz = |v: f64| human_size_precision(v, 3);
    object(vec![
        (
            "Container",
            TValue::from(if trunc { short_id(id) } else { id.to_string() }),
        ),
        (
            "ID",
            TValue::from(if trunc { short_id(id) } else { id.to_string() }),
        ),
        ("Name", TValue::from(name.to_string())),
        ("CPUPerc", TValue::from(format!("{cpu:.2}%"))),
        (
            "MemUsage",
            TValue::from(format!("{} / {}", bytes_size(mem), bytes_size(limit))),
        ),
        ("MemPerc", TValue::from(format!("{mem_pct:.2}%"))),
        ("NetIO", TValue::from(format!("{} / {}", sz(rx), sz(tx)))),
        (
            "BlockIO",
            TValue::from(format!("{} / {}", sz(read), sz(write))),
        ),
        (
            "PIDs",
            TValue::from(format!("{}", num(s, "/pids_stats/current") as i64)),
        ),
    ])
}

fn stats_header() -> TValue {
    object(vec![
        ("Container", TValue::from("CONTAINER ID")),
        ("ID", TValue::from("CONTAINER ID")),
        ("Name", TValue::from("NAME")),
        ("CPUPerc", TValue::from("CPU %")),
        ("MemUsage", TValue::from("MEM USAGE / LIMIT")),
        ("MemPerc", TValue::from("MEM %")),
        ("NetIO", TValue::from("NET I/O")),
        ("BlockIO", TValue::from("BLOCK I/O")),
        ("PIDs", TValue::from("PIDS")),
    ])
}

async fn stats_sample(client: &Client, ids: &[String], trunc: bool) -> anyhow::Result<Vec<TValue>> {
    let mut rows = Vec::new();
    for id in ids {
        let resp = client.stats(id, false).await?;
        let body = berth_client::transport::read_json::<Value>("/stats", resp).await?;
        let full_id = body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string();
        rows.push(stats_row(&full_id, &body, trunc));
    }
    Ok(rows)
}

/// `berth stats`.
pub async fn stats(client: &Client, args: StatsArgs) -> CmdResult {
    let ids = if args.containers.is_empty() {
        let list = client
            .list_containers(&berth_client::containers::ListContainers {
                all: args.all,
                ..Default::default()
            })
            .await?;
        list.into_iter().map(|c| c.id).collect()
    } else {
        args.containers.clone()
    };
    let format = args.format.as_deref().unwrap_or(
        "table {{.Container}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
    );
    let f = Formatter::new(format).map_err(|e| StatusError::new(1, e.to_string()))?;
    loop {
        let rows = stats_sample(client, &ids, !args.no_trunc).await?;
        let text = f.render_rows(Some(&stats_header()), &rows)?;
        if args.no_stream {
            print!("{text}");
            return Ok(0);
        }
        print!("\x1b[2J\x1b[H{text}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `berth export`.
pub async fn export(client: &Client, args: ExportArgs) -> CmdResult {
    use std::io::IsTerminal;
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(StatusError::new(
            1,
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        )
        .into());
    }
    let resp = client.export_container(&args.container).await?;
    write_download(byte_stream("/export", resp), args.output.as_deref()).await?;
    Ok(0)
}

/// Splits `container:path`; a local path (absolute, relative with `./`, or without `:`) gives `None`.
pub fn split_cp_arg(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':').filter(|(c, _)| !c.is_empty())
}

const GO_MODE_DIR: u32 = 1 << 31;

/// Unpacks a container's archive at `dest`: into it when it is a directory, else as the file/dir `dest`.
fn unpack_into(tar_bytes: &[u8], src_base: &str, dest: &Path) -> anyhow::Result<()> {
    let into_dir = dest.is_dir();
    let mut archive = tar::Archive::new(tar_bytes);
    archive.set_preserve_permissions(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let target = if into_dir {
            dest.join(&path)
        } else {
            let rest = path.strip_prefix(src_base).unwrap_or(&path);
            if rest.as_os_str().is_empty() {
                dest.to_path_buf()
            } else {
                dest.join(rest)
            }
        };
        if target
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            anyhow::bail!("invalid path in archive: {}", path.display());
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        entry.unpack(&target)?;
    }
    Ok(())
}

fn base_name(path: &str) -> String {
    Path::new(path.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".to_string())
}

async fn copy_from_container(client: &Client, container: &str, src: &str, dest: &str) -> CmdResult {
    let (_, resp) = client.get_archive(container, src).await?;
    if dest == "-" {
        write_download(byte_stream("/archive", resp), None).await?;
        return Ok(0);
    }
    let body = berth_client::transport::read_bytes("/archive", resp).await?;
    let dest = PathBuf::from(dest);
    unpack_into(&body, &base_name(src), &dest)
        .map_err(|e| StatusError::new(1, format!("failed to copy to {}: {e:#}", dest.display())))?;
    Ok(0)
}

fn tar_local(src: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::symlink_metadata(src)
        .map_err(|e| StatusError::new(1, format!("lstat {}: {}", src.display(), io_reason(&e))))?;
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    if meta.is_dir() {
        builder.append_dir_all(name, src)?;
    } else {
        builder.append_path_with_name(src, name)?;
    }
    Ok(builder.into_inner()?)
}

async fn copy_to_container(
    client: &Client,
    src: &str,
    container: &str,
    dest: &str,
    archive: bool,
) -> CmdResult {
    let (dir, name) = match client.get_archive(container, dest).await {
        Ok((Some(stat), _)) if stat.mode & GO_MODE_DIR != 0 => (dest.to_string(), base_name(src)),
        Ok(_) | Err(_) => {
            let parent = Path::new(dest).parent().map_or("/".to_string(), |p| {
                let s = p.to_string_lossy().into_owned();
                if s.is_empty() { "/".to_string() } else { s }
            });
            (parent, base_name(dest))
        }
    };
    let data = if src == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        return client
            .put_archive(container, dest, full_body(buf), archive)
            .await
            .map(|()| 0)
            .map_err(Into::into);
    } else {
        tar_local(Path::new(src), &name)?
    };
    client
        .put_archive(container, &dir, full_body(data), archive)
        .await?;
    Ok(0)
}

/// `berth cp`.
pub async fn cp(client: &Client, args: CpArgs) -> CmdResult {
    let _ = (args.follow_link, args.quiet);
    match (split_cp_arg(&args.source), split_cp_arg(&args.dest)) {
        (Some((c, src)), None) => copy_from_container(client, c, src, &args.dest).await,
        (None, Some((c, dest))) => {
            copy_to_container(client, &args.source, c, dest, args.archive).await
        }
        (Some(_), Some(_)) => {
            Err(StatusError::new(1, "copying between containers is not supported").into())
        }
        (None, None) => {
            Err(StatusError::new(1, "must specify at least one container source").into())
        }
    }
}

/// `berth port`.
pub async fn port(client: &Client, args: PortArgs) -> CmdResult {
    let info = client.inspect_container(&args.container).await?;
    let want = args.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut keys: Vec<&String> = info.network_settings.ports.keys().collect();
    keys.sort();
    let mut found = false;
    for key in keys {
        if want.as_ref().is_some_and(|w| w != key) {
            continue;
        }
        for b in info.network_settings.ports[key].iter().flatten() {
            found = true;
            let ip = if b.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                b.host_ip.as_str()
            };
            if want.is_some() {
                println!("{ip}:{}", b.host_port);
            } else {
                println!("{key} -> {ip}:{}", b.host_port);
            }
        }
    }
    if let (Some(p), false) = (&args.port, found) {
        return Err(StatusError::new(
            1,
            format!(
                "Error: No public port '{}' published for {}",
                want.as_deref().unwrap_or(p),
                args.container
            ),
        )
        .into());
    }
    Ok(0)
}

/// `berth diff`.
pub async fn diff(client: &Client, args: DiffArgs) -> CmdResult {
    for change in client.changes(&args.container).await?.unwrap_or_default() {
        let kind = match change.kind {
            0 => 'C',
            1 => 'A',
            2 => 'D',
            _ => '?',
        };
        println!("{kind} {}", change.path);
    }
    Ok(0)
}

/// `berth commit`.
pub async fn commit(client: &Client, args: CommitArgs) -> CmdResult {
    let mut query = vec![("container", args.container.clone())];
    if let Some(r) = &args.reference {
        let (repo, tag) = split_tag(r);
        query.push(("repo", repo.to_string()));
        if let Some(t) = tag {
            query.push(("tag", t.to_string()));
        }
    }
    if let Some(m) = &args.message {
        query.push(("comment", m.clone()));
    }
    if let Some(a) = &args.author {
        query.push(("author", a.clone()));
    }
    query.push(("pause", if args.pause { "1" } else { "0" }.to_string()));
    for c in &args.changes {
        query.push(("changes", c.clone()));
    }
    match client.commit(&query, None).await {
        Ok(r) => {
            println!("{}", r.id);
            Ok(0)
        }
        Err(e) => Err(StatusError::new(1, describe(&e)).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_arguments() {
        assert_eq!(split_cp_arg("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split_cp_arg("/tmp/a:b"), None);
        assert_eq!(split_cp_arg("./a:b"), None);
        assert_eq!(split_cp_arg("file"), None);
    }

    #[test]
    fn stats_row_computes_like_docker() {
        let s = serde_json::json!({
            "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 400}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 2097152, "limit": 8388608, "stats": {"total_inactive_file": 1048576}},
            "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 2000}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 0}]},
            "pids_stats": {"current": 3}
        });
        let row = stats_row("0123456789abcdef", &s, true);
        let f = |t: &str| Formatter::new(t).unwrap().render(&row).unwrap();
        assert_eq!(
            f("{{.Container}} {{.Name}} {{.CPUPerc}}"),
            "0123456789ab web 40.00%"
        );
        assert_eq!(f("{{.MemUsage}} {{.MemPerc}}"), "1MiB / 8MiB 12.50%");
        assert_eq!(
            f("{{.NetIO}} {{.BlockIO}} {{.PIDs}}"),
            "1kB / 2kB 4.1kB / 0B 3"
        );
    }
}
