//! Read-only container views: `docker ps` summaries with filters and `docker inspect`.

use crate::Engine;
use crate::record::ContainerRecord;
use crate::status::Status;
use berth_api::container::{
    ContainerInspect, ContainerState, ContainerSummary, GraphDriverData, InspectOptions,
    ListOptions, MountPoint, NetworkSettings, SummaryHostConfig,
};
use berth_api::{ApiResult, Filters};

impl Engine {
    /// `docker ps`: newest first, running only unless `all`.
    pub async fn list(&self, opts: ListOptions) -> ApiResult<Vec<ContainerSummary>> {
        let show_all = opts.all || !opts.filters.get("status").is_empty();
        let mut records = Vec::new();
        for c in self.all_containers() {
            records.push(c.lock().await.clone());
        }
        records.sort_by(|a, b| b.created.cmp(&a.created));
        let mut out: Vec<ContainerSummary> = records
            .iter()
            .filter(|r| {
                show_all || r.state.status.is_live() || r.state.status == Status::Restarting
            })
            .filter(|r| filter_matches(r, &opts.filters))
            .map(summary)
            .collect();
        for s in &mut out {
            if let Ok(c) = self.lookup(&s.id)
                && let Some(h) = c.health.lock().ok().and_then(|h| h.clone())
                && s.state == "running"
            {
                let word = if h.status == "starting" {
                    "health: starting".to_string()
                } else {
                    h.status
                };
                s.status = format!("{} ({word})", s.status);
            }
        }
        if let Some(limit) = opts.limit.filter(|l| *l > 0) {
            out.truncate(limit);
        }
        Ok(out)
    }

    /// `docker inspect` of a container.
    pub async fn inspect(&self, name: &str, _opts: InspectOptions) -> ApiResult<ContainerInspect> {
        let c = self.lookup(name)?;
        let rec = c.lock().await.clone();
        let dir = &c.dir;
        Ok(ContainerInspect {
            id: rec.id.clone(),
            created: rec.created.clone(),
            path: rec.path.clone(),
            args: rec.args.clone(),
            state: ContainerState {
                health: c.health.lock().ok().and_then(|h| h.clone()),
                ..state_of(&rec)
            },
            image: rec.image_id.clone(),
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            log_path: crate::logs::log_path(dir, &rec.id).display().to_string(),
            name: rec.name.clone(),
            restart_count: rec.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            host_config: rec.host_config.clone(),
            graph_driver: GraphDriverData {
                name: "overlay2".into(),
                data: rec.graph_data.clone(),
            },
            size_rw: None,
            size_root_fs: None,
            mounts: mounts(&rec),
            config: rec.config.clone(),
            network_settings: NetworkSettings {
                sandbox_key: String::new(),
                ..Default::default()
            },
        })
    }
}

fn state_of(rec: &ContainerRecord) -> ContainerState {
    let s = rec.state.status;
    ContainerState {
        status: s.as_str().to_string(),
        running: s.is_live(),
        paused: s == Status::Paused,
        restarting: s == Status::Restarting,
        oom_killed: rec.state.oom_killed,
        dead: s == Status::Dead,
        pid: if s.is_live() { rec.state.pid } else { 0 },
        exit_code: rec.state.exit_code,
        error: rec.state.error.clone(),
        started_at: rec.state.started_at.clone(),
        finished_at: rec.state.finished_at.clone(),
        health: None,
    }
}

fn mounts(rec: &ContainerRecord) -> Vec<MountPoint> {
    let mut out = Vec::new();
    for b in rec.host_config.binds.iter().flatten() {
        let parts: Vec<&str> = b.split(':').collect();
        if parts.len() >= 2 {
            let mode = parts.get(2).copied().unwrap_or("");
            out.push(MountPoint {
                kind: "bind".into(),
                source: parts[0].into(),
                destination: parts[1].into(),
                mode: mode.into(),
                rw: !mode.split(',').any(|m| m == "ro"),
                propagation: "rprivate".into(),
                ..Default::default()
            });
        }
    }
    for m in rec.host_config.mounts.iter().flatten() {
        out.push(MountPoint {
            kind: serde_json::to_value(m.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            source: m.source.clone(),
            destination: m.target.clone(),
            rw: !m.read_only,
            propagation: "rprivate".into(),
            ..Default::default()
        });
    }
    out
}

/// Docker's `Status` column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
fn status_text(rec: &ContainerRecord) -> String {
    let since = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| human_duration(chrono::Utc::now().signed_duration_since(t).num_seconds()))
            .unwrap_or_default()
    };
    match rec.state.status {
        Status::Running => format!("Up {}", since(&rec.state.started_at)),
        Status::Paused => format!("Up {} (Paused)", since(&rec.state.started_at)),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            rec.state.exit_code,
            since(&rec.state.finished_at)
        ),
        Status::Exited if rec.has_been_started => {
            format!(
                "Exited ({}) {} ago",
                rec.state.exit_code,
                since(&rec.state.finished_at)
            )
        }
        Status::Exited | Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s < 120 => "About a minute".into(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if s < 7200 => "About an hour".into(),
        s if s < 172_800 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn summary(rec: &ContainerRecord) -> ContainerSummary {
    let command = std::iter::once(rec.path.as_str())
        .chain(rec.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    ContainerSummary {
        id: rec.id.clone(),
        names: vec![rec.name.clone()],
        image: rec.image_ref.clone(),
        image_id: rec.image_id.clone(),
        command,
        created: chrono::DateTime::parse_from_rfc3339(&rec.created)
            .map(|t| t.timestamp())
            .unwrap_or(0),
        ports: Vec::new(),
        size_rw: None,
        size_root_fs: None,
        labels: rec.config.labels.clone().unwrap_or_default(),
        state: rec.state.status.as_str().to_string(),
        status: status_text(rec),
        host_config: SummaryHostConfig {
            network_mode: rec.host_config.network_mode.clone().unwrap_or_default(),
            annotations: None,
        },
        network_settings: Default::default(),
        mounts: mounts(rec),
    }
}

/// Docker's `ps` filters: id, name, status, label, exited, ancestor, before, since.
fn filter_matches(rec: &ContainerRecord, f: &Filters) -> bool {
    let ok = |key: &str, pred: &dyn Fn(&str) -> bool| {
        let v = f.get(key);
        v.is_empty() || v.iter().any(|x| pred(x))
    };
    ok("id", &|x| rec.id.starts_with(x))
        && ok("name", &|x| {
            rec.bare_name().contains(x.trim_start_matches('/'))
        })
        && ok("status", &|x| rec.state.status.as_str() == x)
        && ok("exited", &|x| {
            rec.state.status == Status::Exited && x.parse::<i64>().ok() == Some(rec.state.exit_code)
        })
        && ok("ancestor", &|x| {
            rec.image_ref == x
                || rec.image_id.contains(x)
                || rec.image_ref.split(':').next() == Some(x)
        })
        && f.labels_match(&rec.config.labels.clone().unwrap_or_default())
}
