//! `docker top`: runs the host's `ps` with the client's arguments (default `-ef`), limited to the
//! container's pids with `-q` when ps allows it, and keeps only the container's rows, as dockerd does;
//! without a `ps` binary the rows come from /proc in `ps -ef` columns.

use crate::Engine;
use crate::status::Status;
use berth_api::container::{TopOptions, TopResponse};
use berth_api::{ApiError, ApiResult, ErrorKind};
use berth_shim::protocol::{Reply, Request};

/// ps's default arguments, as Docker's.
const DEFAULT_PS_ARGS: &str = "-ef";

impl Engine {
    /// The container's processes as the host's `ps` shows them.
    pub async fn top(&self, name: &str, opts: TopOptions) -> ApiResult<TopResponse> {
        let ps_args = opts
            .ps_args
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_PS_ARGS.to_string());
        validate_ps_args(&ps_args)?;
        let c = self.lookup(name)?;
        let rec = c.lock().await;
        if rec.state.status == Status::Restarting {
            return Err(ApiError::conflict(format!(
                "Container {} is restarting, wait until the container is running",
                rec.id
            )));
        }
        if !matches!(rec.state.status, Status::Running | Status::Paused) {
            return Err(ApiError::not_running(&rec.id));
        }
        let reply = self
            .shim(&rec.id)
            .request(&Request::Ps)
            .await
            .map_err(|e| ApiError::new(e.kind(), e.to_string()))?;
        let Reply::Pids { mut pids } = reply else {
            return Err(ApiError::internal("unexpected ps reply"));
        };
        pids.sort_unstable();
        let top = match run_ps(&ps_args, &pids).await? {
            Some(output) => parse_ps_output(&output, &pids)?,
            None => proc_table(&pids),
        };
        self.emit_container("top", &rec, Default::default());
        Ok(top)
    }
}

/// Refuses `-o x=PID...` style renames of the PID column other than `pid=`, which would break the
/// pid filtering (Docker's rule and message).
fn validate_ps_args(args: &str) -> ApiResult<()> {
    let words: Vec<&str> = args.split_ascii_whitespace().collect();
    for pair in words.windows(2) {
        let renamed = pair[1].starts_with("PID") && pair[0].ends_with('=');
        let key = pair[0].trim_end_matches('=');
        let key = key.rsplit(',').next().unwrap_or(key);
        if renamed && key != "pid" {
            return Err(ApiError::invalid(format!(
                "specifying \"{key}={}\" is not allowed",
                pair[1]
            )));
        }
    }
    for w in &words {
        if let Some((k, v)) = w.split_once('=') {
            let key = k.rsplit(',').next().unwrap_or(k);
            if v.starts_with("PID") && key != "pid" {
                return Err(ApiError::invalid(format!(
                    "specifying \"{key}={v}\" is not allowed"
                )));
            }
        }
    }
    Ok(())
}

/// `ps ARGS -qPIDS`, then `ps ARGS` when ps refuses `-q` with those arguments. `None` when the host
/// has no `ps`; a failing ps is a server error carrying ps's first stderr line, as Docker reports it.
async fn run_ps(args: &str, pids: &[i32]) -> ApiResult<Option<Vec<u8>>> {
    let args: Vec<&str> = args.split(' ').filter(|a| !a.is_empty()).collect();
    if !pids.is_empty() {
        let quick = format!(
            "-q{}",
            pids.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        match ps_command(&args, Some(&quick)).await {
            Ok(Some(out)) if out.status.success() => return Ok(Some(out.stdout)),
            Ok(None) => return Ok(None),
            _ => {}
        }
    }
    match ps_command(&args, None).await {
        Ok(None) => Ok(None),
        Ok(Some(out)) if out.status.success() => Ok(Some(out.stdout)),
        Ok(Some(out)) => {
            let first = out
                .stderr
                .split(|b| *b == b'\n')
                .next()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| out.status.to_string());
            Err(ApiError::new(ErrorKind::Internal, format!("ps: {first}")))
        }
        Err(e) => Err(ApiError::new(ErrorKind::Internal, format!("ps: {e}"))),
    }
}

/// Runs ps; `Ok(None)` when there is no ps binary.
async fn ps_command(
    args: &[&str],
    extra: Option<&str>,
) -> std::io::Result<Option<std::process::Output>> {
    let mut cmd = tokio::process::Command::new("ps");
    cmd.args(args)
        .args(extra)
        .stdin(std::process::Stdio::null());
    match cmd.output().await {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Keeps the rows of `pids` (and the thread rows, PID `-`, that follow one of them); the last
/// column takes the rest of the line, so commands keep their spaces.
fn parse_ps_output(output: &[u8], pids: &[i32]) -> ApiResult<TopResponse> {
    let text = String::from_utf8_lossy(output);
    let mut lines = text.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect();
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| ApiError::internal("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    let mut in_container = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some(pid_field) = fields.get(pid_index) else {
            continue;
        };
        if *pid_field == "-" {
            if in_container {
                processes.push(row(&fields, titles.len()));
            }
            continue;
        }
        let pid: i32 = pid_field
            .parse()
            .map_err(|e| ApiError::internal(format!("Unexpected pid '{pid_field}': {e}")))?;
        in_container = pids.binary_search(&pid).is_ok();
        if in_container {
            processes.push(row(&fields, titles.len()));
        }
    }
    Ok(TopResponse { titles, processes })
}

/// One row with as many columns as titles; extra words join the last column.
fn row(fields: &[&str], columns: usize) -> Vec<String> {
    let split = columns.saturating_sub(1).min(fields.len());
    let mut out: Vec<String> = fields[..split].iter().map(|f| f.to_string()).collect();
    out.push(fields[split..].join(" "));
    out
}

/// `ps -ef` columns read from /proc, for hosts without ps.
fn proc_table(pids: &[i32]) -> TopResponse {
    let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let processes = pids.iter().copied().filter_map(proc_row).collect();
    TopResponse { titles, processes }
}

fn proc_row(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ppid = fields.get(1)?.to_string();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let secs = ticks / 100;
    let time = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0")
        .to_string();
    let uid = if uid == "0" { "root".to_string() } else { uid };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = cmdline
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let tty = if fields.get(4).is_some_and(|t| *t != "0") {
        "pts/0"
    } else {
        "?"
    };
    Some(vec![
        uid,
        pid.to_string(),
        ppid,
        "0".into(),
        "00:00".into(),
        tty.into(),
        time,
        cmd,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_container_rows_and_their_threads() -> ApiResult<()> {
        let out = b"USER PID %CPU COMMAND\nroot 1 0.0 init --x\nroot 7 0.1 sleep 100\nroot - 0.0 -\nroot 9 0.0 other\nroot - 0.0 -\n";
        let top = parse_ps_output(out, &[7])?;
        assert_eq!(top.titles, ["USER", "PID", "%CPU", "COMMAND"]);
        assert_eq!(
            top.processes,
            vec![
                vec!["root", "7", "0.1", "sleep 100"],
                vec!["root", "-", "0.0", "-"]
            ]
        );
        assert!(parse_ps_output(b"USER COMMAND\nroot x\n", &[1]).is_err());
        Ok(())
    }

    #[test]
    fn pid_column_may_only_be_renamed_as_pid() {
        assert!(validate_ps_args("-o pid=PID,comm").is_ok());
        assert!(validate_ps_args("aux").is_ok());
        let e = validate_ps_args("-o user=PID").err().map(|e| e.message);
        assert_eq!(e.as_deref(), Some("specifying \"user=PID\" is not allowed"));
        assert!(validate_ps_args("-o user= PID").is_err());
    }
}
