//! System commands: `version`, `info`, `system df`, `system prune`, `events`.

use berth_api::system::Event;
use berth_client::Client;
use berth_client::stream::json_stream;
use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;

use crate::commands::lifecycle::confirm;
use crate::exit::{CmdResult, StatusError, describe};
use crate::opts::duration::parse_timestamp;
use crate::opts::filter::parse_filters;
use crate::output::humanize::{human_size, human_size_precision};
use crate::output::template::{Formatter, json_to_value, object};

/// `berth version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output using a custom template.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// `berth info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format output using a custom template.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// `berth system df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
}

/// `berth system prune`.
#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune anonymous volumes.
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>").
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}

/// `berth events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Show all events created since timestamp.
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    pub until: Option<String>,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
}

fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn client_section() -> Value {
    serde_json::json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": berth_client::transport::CLIENT_API_VERSION,
        "Os": std::env::consts::OS,
        "Arch": match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a },
        "Context": "default",
    })
}

/// `berth version`.
pub async fn version(client: &Client, args: VersionArgs) -> CmdResult {
    let client_info = client_section();
    let server = client.version_raw().await;
    if let Some(f) = args.format {
        let data = serde_json::json!({"Client": client_info, "Server": server.as_ref().ok()});
        println!(
            "{}",
            Formatter::new(&f)
                .map_err(|e| StatusError::new(1, e.to_string()))?
                .render(&json_to_value(&data))?
        );
        return server.map(|_| 0).map_err(Into::into);
    }
    println!("Client:");
    println!(" Version:           {}", s(&client_info, "Version"));
    println!(" API version:       {}", s(&client_info, "ApiVersion"));
    println!(
        " OS/Arch:           {}/{}",
        s(&client_info, "Os"),
        s(&client_info, "Arch")
    );
    println!(" Context:           default");
    let server = server?;
    println!();
    println!(
        "Server: {}",
        server
            .pointer("/Platform/Name")
            .and_then(Value::as_str)
            .unwrap_or("")
    );
    println!(" Engine:");
    println!("  Version:          {}", s(&server, "Version"));
    println!(
        "  API version:      {} (minimum version {})",
        s(&server, "ApiVersion"),
        s(&server, "MinAPIVersion")
    );
    println!("  Git commit:       {}", s(&server, "GitCommit"));
    println!("  Built:            {}", s(&server, "BuildTime"));
    println!(
        "  OS/Arch:          {}/{}",
        s(&server, "Os"),
        s(&server, "Arch")
    );
    println!("  Experimental:     {}", s(&server, "Experimental"));
    if let Some(Value::Array(components)) = server.get("Components") {
        for c in components {
            let name = s(c, "Name");
            if name == "Engine" {
                continue;
            }
            println!(" {name}:");
            println!("  Version:          {}", s(c, "Version"));
        }
    }
    Ok(0)
}

/// `berth info`.
pub async fn info(client: &Client, args: InfoArgs) -> CmdResult {
    if let Some(f) = args.format {
        let info = client.info_raw().await?;
        let data = if f.contains(".Client") || f.contains(".ServerErrors") {
            serde_json::json!({"Client": client_section(), "Server": info})
        } else {
            info
        };
        println!(
            "{}",
            Formatter::new(&f)
                .map_err(|e| StatusError::new(1, e.to_string()))?
                .render(&json_to_value(&data))?
        );
        return Ok(0);
    }
    println!("Client:");
    println!(" Version:    {}", env!("CARGO_PKG_VERSION"));
    println!(" Context:    default");
    println!(" Debug Mode: false");
    println!();
    println!("Server:");
    let info = match client.info_raw().await {
        Ok(i) => i,
        Err(e) => {
            println!("ERROR: {}", describe(&e));
            return Ok(1);
        }
    };
    let line = |label: &str, key: &str| println!(" {label}: {}", s(&info, key));
    line("Containers", "Containers");
    line(" Running", "ContainersRunning");
    line(" Paused", "ContainersPaused");
    line(" Stopped", "ContainersStopped");
    line("Images", "Images");
    line("Server Version", "ServerVersion");
    line("Storage Driver", "Driver");
    line("Logging Driver", "LoggingDriver");
    line("Cgroup Driver", "CgroupDriver");
    line("Cgroup Version", "CgroupVersion");
    line("Default Runtime", "DefaultRuntime");
    line("Init Binary", "InitBinary");
    line("Kernel Version", "KernelVersion");
    line("Operating System", "OperatingSystem");
    line("OSType", "OSType");
    line("Architecture", "Architecture");
    line("CPUs", "NCPU");
    let mem = info.get("MemTotal").and_then(Value::as_f64).unwrap_or(0.0);
    println!(
        " Total Memory: {}",
        crate::output::humanize::bytes_size(mem)
    );
    line("Name", "Name");
    line("ID", "ID");
    line("Docker Root Dir", "DockerRootDir");
    line("Debug Mode", "Debug");
    line("Experimental", "ExperimentalBuild");
    line("Live Restore Enabled", "LiveRestoreEnabled");
    if let Some(Value::Array(warnings)) = info.get("Warnings") {
        for w in warnings {
            if let Some(w) = w.as_str() {
                eprintln!("{w}");
            }
        }
    }
    Ok(0)
}

fn sum_sizes(items: Option<&Value>, key: &str) -> (usize, f64) {
    let list = items
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let total = list
        .iter()
        .filter_map(|i| i.get(key).and_then(Value::as_f64))
        .filter(|s| *s > 0.0)
        .sum();
    (list.len(), total)
}

/// `berth system df`.
pub async fn df(client: &Client, args: DfArgs) -> CmdResult {
    let usage = client.disk_usage_raw().await?;
    let (images, image_size) = sum_sizes(usage.get("Images"), "Size");
    let active_images = usage
        .get("Images")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|i| i.get("Containers").and_then(Value::as_i64).unwrap_or(0) > 0)
                .count()
        })
        .unwrap_or(0);
    let (containers, container_size) = sum_sizes(usage.get("Containers"), "SizeRw");
    let active_containers = usage
        .get("Containers")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|c| c.get("State").and_then(Value::as_str) == Some("running"))
                .count()
        })
        .unwrap_or(0);
    let (volumes, _) = sum_sizes(usage.get("Volumes"), "Size");
    let (caches, cache_size) = sum_sizes(usage.get("BuildCache"), "Size");
    let row = |kind: &str, total: usize, active: usize, size: f64, reclaimable: f64| {
        let pct = if size > 0.0 {
            format!(" ({}%)", ((reclaimable / size) * 100.0) as i64)
        } else {
            String::new()
        };
        object(vec![
            ("Type", gtmpl_value::Value::from(kind.to_string())),
            ("TotalCount", gtmpl_value::Value::from(total.to_string())),
            ("Active", gtmpl_value::Value::from(active.to_string())),
            (
                "Size",
                gtmpl_value::Value::from(human_size_precision(size, 3)),
            ),
            (
                "Reclaimable",
                gtmpl_value::Value::from(format!("{}{pct}", human_size_precision(reclaimable, 3))),
            ),
        ])
    };
    let container_reclaim = usage
        .get("Containers")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|c| c.get("State").and_then(Value::as_str) != Some("running"))
                .filter_map(|c| c.get("SizeRw").and_then(Value::as_f64))
                .sum::<f64>()
        })
        .unwrap_or(0.0);
    let image_reclaim = if active_images == 0 { image_size } else { 0.0 };
    let rows = vec![
        row("Images", images, active_images, image_size, image_reclaim),
        row(
            "Containers",
            containers,
            active_containers,
            container_size,
            container_reclaim,
        ),
        row("Local Volumes", volumes, 0, 0.0, 0.0),
        row("Build Cache", caches, 0, cache_size, cache_size),
    ];
    let header = object(vec![
        ("Type", gtmpl_value::Value::from("TYPE")),
        ("TotalCount", gtmpl_value::Value::from("TOTAL")),
        ("Active", gtmpl_value::Value::from("ACTIVE")),
        ("Size", gtmpl_value::Value::from("SIZE")),
        ("Reclaimable", gtmpl_value::Value::from("RECLAIMABLE")),
    ]);
    let _ = args.verbose;
    let format = args
        .format
        .as_deref()
        .unwrap_or("table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}");
    let f = Formatter::new(format).map_err(|e| StatusError::new(1, e.to_string()))?;
    print!("{}", f.render_rows(Some(&header), &rows)?);
    Ok(0)
}

/// `berth system prune`.
pub async fn system_prune(client: &Client, args: SystemPruneArgs) -> CmdResult {
    let filters = parse_filters(&args.filters).map_err(|e| StatusError::new(125, e))?;
    let mut warning = String::from("WARNING! This will remove:\n  - all stopped containers\n");
    if args.volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if args.all {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    warning.push_str("  - unused build cache\n");
    if !args.force && !confirm(&warning) {
        return Ok(0);
    }
    let mut reclaimed = 0u64;
    let containers = client.prune_containers(&filters).await?;
    reclaimed += containers.space_reclaimed;
    if !containers.containers_deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &containers.containers_deleted {
            println!("{id}");
        }
        println!();
    }
    if args.volumes
        && let Ok(v) = client.prune_raw("volumes", &filters).await
    {
        reclaimed += v.get("SpaceReclaimed").and_then(Value::as_u64).unwrap_or(0);
    }
    let mut image_filters = filters.clone();
    image_filters.insert("dangling".to_string(), vec![(!args.all).to_string()]);
    let images = client.prune_images(&image_filters).await?;
    reclaimed += images.space_reclaimed;
    if !images.images_deleted.is_empty() {
        println!("Deleted Images:");
        for item in &images.images_deleted {
            if let Some(u) = &item.untagged {
                println!("untagged: {u}");
            }
            if let Some(d) = &item.deleted {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(reclaimed as f64));
    Ok(0)
}

/// Docker's default event line: `2026-11-23T13:37:32.123456789Z container start <id> (image=busybox, name=x)`.
pub fn event_line(e: &Event) -> String {
    let time = chrono::DateTime::from_timestamp(
        e.time_nano / 1_000_000_000,
        (e.time_nano % 1_000_000_000) as u32,
    )
    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
    .unwrap_or_default();
    let mut attrs: Vec<String> = e
        .actor
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    attrs.sort();
    let attrs = if attrs.is_empty() {
        String::new()
    } else {
        format!(" ({})", attrs.join(", "))
    };
    format!("{time} {} {} {}{attrs}", e.kind, e.action, e.actor.id)
}

/// `berth events`.
pub async fn events(client: &Client, args: EventsArgs) -> CmdResult {
    let filters = parse_filters(&args.filters).map_err(|e| StatusError::new(125, e))?;
    let now = chrono::Utc::now();
    let ts = |v: &Option<String>| -> Result<Option<String>, StatusError> {
        v.as_deref()
            .map(|s| parse_timestamp(s, now).map_err(|e| StatusError::new(1, e)))
            .transpose()
    };
    let formatter = match args.format.as_deref() {
        Some(f) => Some(Formatter::new(f).map_err(|e| StatusError::new(1, e.to_string()))?),
        None => None,
    };
    let resp = client
        .events(
            ts(&args.since)?.as_deref(),
            ts(&args.until)?.as_deref(),
            &filters,
        )
        .await?;
    let mut stream = std::pin::pin!(json_stream::<Value>("/events", resp));
    while let Some(raw) = stream.next().await {
        let raw = raw?;
        match &formatter {
            Some(f) => println!("{}", f.render(&json_to_value(&raw))?),
            None => {
                let e: Event = serde_json::from_value(raw)?;
                println!("{}", event_line(&e));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_like_docker() {
        let e: Event = serde_json::from_value(serde_json::json!({
            "Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "x", "image": "busybox"}},
            "scope": "local", "time": 1700000000, "timeNano": 1700000000123456789i64
        }))
        .unwrap();
        assert_eq!(
            event_line(&e),
            "2023-11-14T22:13:20.123456789Z container start abc (image=busybox, name=x)"
        );
    }
}
