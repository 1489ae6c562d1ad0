//! Healthchecks (image HEALTHCHECK or --health-*): the test runs as an exec through the shim
//! every interval; results go into State.Health and `health_status` events.

use crate::Engine;
use crate::container::Container;
use crate::shim_client::Frame;
use crate::status::Status;
use berth_api::container::{Health, HealthcheckResult};
use berth_api::exec::ExecCreateBody;
use std::sync::Arc;
use std::time::Duration;

/// Results kept in State.Health.Log, as Docker keeps.
const KEPT_RESULTS: usize = 5;
/// Output kept per result.
const MAX_OUTPUT: usize = 4096;

fn nanos(v: Option<i64>, default: Duration) -> Duration {
    match v {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

impl Engine {
    /// Starts the healthcheck loop of a container that just started, if it has one.
    pub(crate) fn spawn_healthcheck(
        &self,
        c: &Arc<Container>,
        started_at: String,
        check: &berth_api::config::HealthConfig,
    ) {
        let Some(test) = check
            .test
            .clone()
            .filter(|t| !t.is_empty() && t[0] != "NONE")
        else {
            return;
        };
        let cmd: Vec<String> = match test[0].as_str() {
            "CMD" => test[1..].to_vec(),
            "CMD-SHELL" => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            _ => test.clone(),
        };
        let interval = nanos(check.interval, Duration::from_secs(30));
        let timeout = nanos(check.timeout, Duration::from_secs(30));
        let start_period = nanos(check.start_period, Duration::ZERO);
        let start_interval = nanos(check.start_interval, Duration::from_secs(5));
        let retries = check.retries.filter(|r| *r > 0).unwrap_or(3);
        if let Ok(mut h) = c.health.lock() {
            *h = Some(Health {
                status: "starting".into(),
                failing_streak: 0,
                log: Vec::new(),
            });
        }
        let engine = self.clone();
        let c = c.clone();
        tokio::spawn(async move {
            let began = tokio::time::Instant::now();
            loop {
                let in_start_period = began.elapsed() < start_period;
                let wait = if in_start_period && check_is_starting(&c) {
                    start_interval.min(interval)
                } else {
                    interval
                };
                tokio::time::sleep(wait).await;
                let still = {
                    let rec = c.lock().await;
                    rec.state.status == Status::Running && rec.state.started_at == started_at
                };
                if !still {
                    return;
                }
                let result = engine.run_probe(&c, &cmd, timeout).await;
                engine
                    .record_probe(&c, result, retries, began.elapsed() < start_period)
                    .await;
            }
        });
    }

    async fn run_probe(
        &self,
        c: &Arc<Container>,
        cmd: &[String],
        timeout: Duration,
    ) -> HealthcheckResult {
        let start = berth_shim::timestamp::now();
        let body = ExecCreateBody {
            cmd: Some(cmd.to_vec()),
            ..Default::default()
        };
        let exec_id = format!("health-{}", crate::names::new_id());
        let outcome = async {
            let process = self
                .exec_process(&c.id, &body, false)
                .map_err(|e| e.message)?;
            let (_, stream) = self
                .shim(&c.id)
                .exec(&exec_id, process, false, true)
                .await
                .map_err(|e| e.to_string())?;
            let (mut out, _stdin) = stream.ok_or("no stream")?.split();
            let mut output = Vec::new();
            while let Ok(Some(frame)) = out.next().await {
                match frame {
                    Frame::Output(_, data) => {
                        let room = MAX_OUTPUT.saturating_sub(output.len());
                        output.extend_from_slice(&data[..data.len().min(room)]);
                    }
                    Frame::Exit(exit) => return Ok((i64::from(exit.exit_code), output)),
                }
            }
            Err("the probe's stream ended early".to_string())
        };
        let (exit_code, output) = match tokio::time::timeout(timeout, outcome).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => (-1, e.into_bytes()),
            Err(_) => (
                -1,
                format!("Health check exceeded timeout ({timeout:?})").into_bytes(),
            ),
        };
        HealthcheckResult {
            start,
            end: berth_shim::timestamp::now(),
            exit_code,
            output: String::from_utf8_lossy(&output).into_owned(),
        }
    }

    async fn record_probe(
        &self,
        c: &Arc<Container>,
        result: HealthcheckResult,
        retries: i64,
        in_start_period: bool,
    ) {
        let ok = result.exit_code == 0;
        let (changed, status) = {
            let Ok(mut guard) = c.health.lock() else {
                return;
            };
            let h = guard.get_or_insert_with(Default::default);
            let before = h.status.clone();
            if ok {
                h.failing_streak = 0;
                h.status = "healthy".into();
            } else if !in_start_period {
                h.failing_streak += 1;
                if h.failing_streak >= retries {
                    h.status = "unhealthy".into();
                }
            }
            h.log.push(result);
            if h.log.len() > KEPT_RESULTS {
                h.log.remove(0);
            }
            (before != h.status, h.status.clone())
        };
        if changed {
            let rec = c.lock().await;
            self.emit_container(
                &format!("health_status: {status}"),
                &rec,
                Default::default(),
            );
        }
    }
}

fn check_is_starting(c: &Container) -> bool {
    c.health
        .lock()
        .map(|h| h.as_ref().is_some_and(|h| h.status == "starting"))
        .unwrap_or(false)
}
