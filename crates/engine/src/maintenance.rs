//! Container housekeeping: `docker update` (resources, applied live through the shim, and the
//! restart policy), `docker container prune`, and `docker commit`.

use crate::Engine;
use crate::status::Status;
use berth_api::config::ContainerConfig;
use berth_api::container::{
    CommitOptions, ContainerPruneResponse, IdResponse, RemoveOptions, UpdateBody, UpdateResponse,
};
use berth_api::{ApiError, ApiResult, Filters};

impl Engine {
    /// Updates resources (live when running) and the restart policy.
    pub async fn update(&self, name: &str, update: UpdateBody) -> ApiResult<UpdateResponse> {
        let c = self.lookup(name)?;
        let mut rec = c.lock().await;
        let r = &mut rec.host_config.resources;
        let u = update.resources;
        macro_rules! take {
            ($($f:ident),*) => { $( if u.$f.is_some() { r.$f = u.$f.clone(); } )* };
        }
        take!(
            cpu_shares,
            memory,
            nano_cpus,
            blkio_weight,
            cpu_period,
            cpu_quota,
            cpuset_cpus,
            cpuset_mems,
            memory_reservation,
            memory_swap,
            pids_limit
        );
        if let Some(p) = update.restart_policy {
            rec.host_config.restart_policy = Some(p);
        }
        if rec.state.status.is_live() {
            let value = crate::spec::resources(&rec.host_config);
            let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(value)
                .map_err(|e| ApiError::internal(format!("resources: {e}")))?;
            self.shim(&rec.id)
                .call(&berth_shim::protocol::Request::Update {
                    resources: Box::new(resources),
                })
                .await
                .map_err(|e| {
                    ApiError::new(e.kind(), format!("Cannot update container {}: {e}", rec.id))
                })?;
        }
        let warnings = Vec::new();
        c.commit(&rec)
            .map_err(|e| ApiError::internal(format!("saving the container: {e}")))?;
        self.emit_container("update", &rec, Default::default());
        Ok(UpdateResponse { warnings })
    }

    /// Removes every stopped container matching the filters (label, until).
    pub async fn prune(&self, filters: Filters) -> ApiResult<ContainerPruneResponse> {
        let mut deleted = Vec::new();
        let until = filters.get("until").first().and_then(|u| parse_until(u));
        for c in self.all_containers() {
            let (id, ok) = {
                let rec = c.lock().await;
                let stopped = matches!(
                    rec.state.status,
                    Status::Exited | Status::Created | Status::Dead
                );
                let labels = rec.config.labels.clone().unwrap_or_default();
                let old_enough = until.is_none_or(|u| {
                    chrono::DateTime::parse_from_rfc3339(&rec.created)
                        .map(|t| t.timestamp() < u)
                        .unwrap_or(true)
                });
                (
                    rec.id.clone(),
                    stopped && filters.labels_match(&labels) && old_enough,
                )
            };
            if ok && self.remove(&id, RemoveOptions::default()).await.is_ok() {
                deleted.push(id);
            }
        }
        Ok(ContainerPruneResponse {
            containers_deleted: deleted,
            space_reclaimed: 0,
        })
    }

    /// `docker commit`: the container's writable layer as a new image (paused meanwhile
    /// when asked and running).
    pub async fn commit(
        &self,
        opts: CommitOptions,
        config: Option<ContainerConfig>,
    ) -> ApiResult<IdResponse> {
        let c = self.lookup(&opts.container)?;
        let rec = c.lock().await.clone();
        let mut cc: berth_oci::ContainerConfig = match config {
            Some(cfg) => serde_json::to_value(cfg)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            None => serde_json::to_value(&rec.config)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
        };
        cc.hostname = None;
        cc.image = None;
        for change in &opts.changes {
            crate::images::apply_change(&mut cc, change)?;
        }
        let reference = match &opts.repo {
            Some(repo) if !repo.is_empty() => {
                let full = match opts.tag.as_ref().filter(|t| !t.is_empty()) {
                    Some(t) => format!("{repo}:{t}"),
                    None => repo.clone(),
                };
                Some(
                    berth_oci::Reference::parse_normalized(&full)
                        .map_err(|e| ApiError::invalid(e.to_string()))?
                        .with_default_tag(),
                )
            }
            _ => None,
        };
        let pause = opts.pause && rec.state.status == Status::Running;
        if pause {
            self.pause(&rec.id).await?;
        }
        let result = self
            .inner
            .images
            .commit(
                &rec.snapshot_key,
                berth_image::rootfs::CommitOptions {
                    config: Some(cc),
                    author: opts.author.clone(),
                    comment: opts.comment.clone(),
                    reference,
                },
            )
            .await;
        if pause {
            let _ = self.unpause(&rec.id).await;
        }
        let id = result?;
        self.emit_container("commit", &rec, Default::default());
        Ok(IdResponse { id })
    }
}

/// `until` as a Unix timestamp (seconds or RFC 3339) or a Go duration before now (`24h`,
/// `1h30m`, `90s`, `1.5h`), as Docker's prune filters read it.
pub(crate) fn parse_until(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<f64>() {
        return Some(n as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc().timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
    }
    Some(chrono::Utc::now().timestamp() - go_duration_secs(s)?)
}

/// A Go duration string (`1h30m`, `2.5s`, `300ms`) in whole seconds.
fn go_duration_secs(s: &str) -> Option<i64> {
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i64)
}
