//! `berth ps`: Docker's container table, `-q`, and `--format` templates over the same fields
//! (`.ID .Image .Command .CreatedAt .RunningFor .Ports .Status .Size .Names .Labels .Mounts .Networks .State`).

use berth_api::container::{ContainerSummary, PortSummary};
use berth_client::Client;
use berth_client::containers::ListContainers;
use clap::Args;
use gtmpl_value::Value;

use crate::commands::names::{ellipsis, go_quote, short_id};
use crate::exit::{CmdResult, StatusError};
use crate::opts::filter::parse_filters;
use crate::output::humanize::{human_size_precision, time_ago};
use crate::output::template::{Formatter, object};

/// `berth ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display total file sizes.
    #[arg(short = 's', long)]
    pub size: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE').
    #[arg(long)]
    pub format: Option<String>,
}

/// The default `docker ps` table.
pub const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// Docker's port column: `0.0.0.0:8080->80/tcp, 443/tcp`.
pub fn format_ports(ports: &[PortSummary]) -> String {
    let mut items: Vec<String> = ports
        .iter()
        .map(|p| {
            let kind = if p.kind.is_empty() {
                "tcp"
            } else {
                p.kind.as_str()
            };
            match (p.ip.as_deref(), p.public_port) {
                (Some(ip), Some(public)) if public != 0 => {
                    format!("{ip}:{public}->{}/{kind}", p.private_port)
                }
                _ => format!("{}/{kind}", p.private_port),
            }
        })
        .collect();
    items.sort();
    items.dedup();
    items.join(", ")
}

fn join_map(map: &std::collections::HashMap<String, String>) -> String {
    let mut items: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    items.sort();
    items.join(",")
}

fn created_at(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}

/// The template fields of one container, as Docker's container formatter computes them.
pub fn row(c: &ContainerSummary, trunc: bool, now: i64) -> Value {
    let id = if trunc { short_id(&c.id) } else { c.id.clone() };
    let image = if trunc && c.image.starts_with("sha256:") {
        short_id(&c.image)
    } else {
        c.image.clone()
    };
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    let names: Vec<String> = c
        .names
        .iter()
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !trunc || !n.contains('/'))
        .collect();
    let size = match (c.size_rw, c.size_root_fs) {
        (Some(rw), Some(root)) if root > 0 => format!(
            "{} (virtual {})",
            human_size_precision(rw as f64, 3),
            human_size_precision(root as f64, 3)
        ),
        (rw, _) => human_size_precision(rw.unwrap_or(0) as f64, 3),
    };
    let mut networks: Vec<&String> = c.network_settings.networks.keys().collect();
    networks.sort();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.clone()
            } else {
                m.name.clone()
            }
        })
        .collect();
    object(vec![
        ("ID", Value::from(id)),
        ("Image", Value::from(image)),
        ("Command", Value::from(go_quote(&command))),
        ("CreatedAt", Value::from(created_at(c.created))),
        ("RunningFor", Value::from(time_ago(c.created, now))),
        ("Ports", Value::from(format_ports(&c.ports))),
        ("Status", Value::from(c.status.clone())),
        ("State", Value::from(c.state.clone())),
        ("Size", Value::from(size)),
        ("Names", Value::from(names.join(","))),
        ("Labels", Value::from(join_map(&c.labels))),
        ("Platform", Value::Nil),
        ("Mounts", Value::from(mounts.join(","))),
        (
            "Networks",
            Value::from(
                networks
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ),
        (
            "LocalVolumes",
            Value::from(
                c.mounts
                    .iter()
                    .filter(|m| m.kind == "volume")
                    .count()
                    .to_string(),
            ),
        ),
    ])
}

/// The header row: each field's column title.
pub fn header() -> Value {
    object(vec![
        ("ID", Value::from("CONTAINER ID")),
        ("Image", Value::from("IMAGE")),
        ("Command", Value::from("COMMAND")),
        ("CreatedAt", Value::from("CREATED AT")),
        ("RunningFor", Value::from("CREATED")),
        ("Ports", Value::from("PORTS")),
        ("Status", Value::from("STATUS")),
        ("State", Value::from("STATE")),
        ("Size", Value::from("SIZE")),
        ("Names", Value::from("NAMES")),
        ("Labels", Value::from("LABELS")),
        ("Platform", Value::from("PLATFORM")),
        ("Mounts", Value::from("MOUNTS")),
        ("Networks", Value::from("NETWORKS")),
        ("LocalVolumes", Value::from("LOCAL VOLUMES")),
    ])
}

fn choose_format(args: &PsArgs) -> String {
    match args.format.as_deref() {
        Some("table") | None if args.quiet => "{{.ID}}".to_string(),
        Some("table") | None if args.size => format!("{DEFAULT_FORMAT}\t{{{{.Size}}}}"),
        Some("table") | None => DEFAULT_FORMAT.to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    }
}

/// `berth ps`.
pub async fn ps(client: &Client, args: PsArgs) -> CmdResult {
    let filters = parse_filters(&args.filters).map_err(|e| StatusError::new(125, e))?;
    let limit = if args.latest {
        Some(1)
    } else {
        (args.last > 0).then_some(args.last)
    };
    let format = choose_format(&args);
    let formatter = Formatter::new(&format).map_err(|e| StatusError::new(125, e.to_string()))?;
    let opts = ListContainers {
        all: args.all || limit.is_some(),
        limit,
        size: args.size || format.contains(".Size"),
        filters,
    };
    let containers = client.list_containers(&opts).await?;
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<Value> = containers
        .iter()
        .map(|c| row(c, !args.no_trunc, now))
        .collect();
    let text = formatter.render_rows(Some(&header()), &rows)?;
    print!("{text}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::template::json_to_value;

    fn sample() -> ContainerSummary {
        serde_json::from_value(serde_json::json!({
            "Id": "4f6a0a9e2c3b1d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6",
            "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:abc",
            "Command": "sh -c 'while true; do sleep 1; done'", "Created": 1000,
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
            "Labels": {"b": "2", "a": "1"}, "State": "running", "Status": "Up 3 seconds",
            "HostConfig": {"NetworkMode": "bridge"}, "NetworkSettings": {"Networks": {"bridge": {}}}, "Mounts": []
        }))
        .unwrap()
    }

    #[test]
    fn default_table_matches_docker_layout() {
        let f = Formatter::new(DEFAULT_FORMAT).unwrap();
        let got = f
            .render_rows(Some(&header()), &[row(&sample(), true, 1003)])
            .unwrap();
        let want = "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS                  NAMES\n\
                    4f6a0a9e2c3b   busybox   \"sh -c 'while true; …\"   3 seconds ago   Up 3 seconds   0.0.0.0:8080->80/tcp   web\n";
        assert_eq!(got, want);
    }

    #[test]
    fn empty_table_is_just_the_header() {
        let f = Formatter::new(DEFAULT_FORMAT).unwrap();
        assert_eq!(
            f.render_rows(Some(&header()), &[]).unwrap(),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn custom_formats() {
        let r = row(&sample(), false, 1003);
        let f = |t: &str| Formatter::new(t).unwrap().render(&r).unwrap();
        assert_eq!(f("{{.Names}} {{.State}}"), "web running");
        assert_eq!(f("{{.Labels}}"), "a=1,b=2");
        assert_eq!(f("{{.Networks}}"), "bridge");
        assert_eq!(f("{{.CreatedAt}}"), "1970-01-01 00:16:40 +0000 UTC");
        let _ = json_to_value(&serde_json::json!(null));
    }
}
