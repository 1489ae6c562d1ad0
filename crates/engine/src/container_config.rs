//! Turns a create request plus the image's config into a container record as Docker does
//! (Entrypoint/Cmd rules, Env merge by key, WorkingDir, User, labels, hostname = short id),
//! and writes the container's hostname, hosts and resolv.conf files.

use crate::images::ResolvedImage;
use crate::lifecycle::ZERO_TIME;
use crate::record::{ContainerRecord, StateRecord};
use crate::status::Status;
use berth_api::config::{ContainerConfig, ContainerCreateBody};
use berth_api::{ApiError, ApiResult};
use std::path::Path;

/// Builds the record for a new container.
pub fn merge(
    id: &str,
    name: &str,
    image: &ResolvedImage,
    body: ContainerCreateBody,
) -> ApiResult<ContainerRecord> {
    let req = body.config;
    let img = &image.config;
    let (entrypoint, cmd) = match &req.entrypoint {
        Some(ep) => {
            let ep: Vec<String> = ep.iter().filter(|s| !s.is_empty()).cloned().collect();
            (ep, req.cmd.clone().unwrap_or_default())
        }
        None => {
            let cmd = match &req.cmd {
                Some(c) if !c.is_empty() => c.clone(),
                _ => img.cmd.clone().unwrap_or_default(),
            };
            (img.entrypoint.clone().unwrap_or_default(), cmd)
        }
    };
    let mut argv: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    if argv.is_empty() {
        return Err(ApiError::invalid("no command specified"));
    }
    let path = argv.remove(0);
    let mut env: Vec<String> = img.env.clone().unwrap_or_default();
    for kv in req.env.iter().flatten() {
        let key = kv.split('=').next().unwrap_or("");
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    let mut labels = img.labels.clone().unwrap_or_default();
    labels.extend(req.labels.clone().unwrap_or_default());
    let hostname = req
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| id[..12].to_string());
    let pick = |a: &Option<String>, b: &Option<String>| {
        a.clone().filter(|s| !s.is_empty()).or_else(|| b.clone())
    };
    let config = ContainerConfig {
        hostname: Some(hostname),
        domainname: req.domainname.clone(),
        user: pick(&req.user, &img.user).or(Some(String::new())),
        attach_stdin: req.attach_stdin,
        attach_stdout: req.attach_stdout,
        attach_stderr: req.attach_stderr,
        exposed_ports: union(&req.exposed_ports, &img.exposed_ports),
        tty: Some(req.tty.unwrap_or(false)),
        open_stdin: Some(req.open_stdin.unwrap_or(false)),
        stdin_once: Some(req.stdin_once.unwrap_or(false)),
        env: Some(env),
        cmd: Some(cmd),
        healthcheck: req.healthcheck.clone().or_else(|| img.healthcheck.clone()),
        args_escaped: None,
        image: Some(image.reference.clone()),
        volumes: union(&req.volumes, &img.volumes),
        working_dir: pick(&req.working_dir, &img.working_dir).or(Some(String::new())),
        entrypoint: if entrypoint.is_empty() {
            None
        } else {
            Some(entrypoint)
        },
        network_disabled: req.network_disabled,
        mac_address: None,
        on_build: None,
        labels: Some(labels),
        stop_signal: pick(&req.stop_signal, &img.stop_signal),
        stop_timeout: req.stop_timeout,
        shell: None,
    };
    let mut host_config = body.host_config.unwrap_or_default();
    if host_config
        .network_mode
        .as_deref()
        .is_none_or(str::is_empty)
    {
        host_config.network_mode = Some("bridge".to_string());
    }
    if host_config.log_config.is_none() {
        host_config.log_config = Some(berth_api::config::LogConfig {
            kind: "json-file".into(),
            config: Default::default(),
        });
    }
    Ok(ContainerRecord {
        id: id.to_string(),
        name: name.to_string(),
        created: berth_shim::timestamp::now(),
        image_ref: image.reference.clone(),
        image_id: image.id.clone(),
        path,
        args: argv,
        config,
        host_config,
        state: StateRecord {
            status: Status::Created,
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn union<V: Clone>(
    a: &Option<std::collections::HashMap<String, V>>,
    b: &Option<std::collections::HashMap<String, V>>,
) -> Option<std::collections::HashMap<String, V>> {
    match (a, b) {
        (None, None) => None,
        _ => {
            let mut m = b.clone().unwrap_or_default();
            m.extend(a.clone().unwrap_or_default());
            Some(m)
        }
    }
}

/// Writes `hostname`, `hosts` and `resolv.conf` into the container directory.
pub fn write_etc_files(dir: &Path, rec: &ContainerRecord) -> std::io::Result<()> {
    let hc = &rec.host_config;
    let host_net = hc.network_mode.as_deref() == Some("host");
    let hostname = if host_net {
        std::fs::read_to_string("/etc/hostname")
            .unwrap_or_default()
            .trim()
            .to_string()
    } else {
        rec.config.hostname.clone().unwrap_or_default()
    };
    std::fs::write(dir.join("hostname"), format!("{hostname}\n"))?;
    let mut hosts = if host_net {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
        )
    };
    for h in hc.extra_hosts.iter().flatten() {
        if let Some((name, ip)) = h.split_once(':') {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    std::fs::write(dir.join("hosts"), hosts)?;
    std::fs::write(dir.join("resolv.conf"), resolv_conf(hc, host_net))
}

fn resolv_conf(hc: &berth_api::config::HostConfig, host_net: bool) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut lines: Vec<String> = host
        .lines()
        .filter(|l| {
            host_net || !(l.starts_with("nameserver") && (l.contains("127.") || l.contains("::1")))
        })
        .filter(|l| !(hc.dns.is_some() && l.starts_with("nameserver")))
        .filter(|l| !(hc.dns_search.is_some() && l.starts_with("search")))
        .filter(|l| !(hc.dns_options.is_some() && l.starts_with("options")))
        .map(String::from)
        .collect();
    for d in hc.dns.iter().flatten() {
        lines.push(format!("nameserver {d}"));
    }
    if let Some(s) = &hc.dns_search {
        lines.push(format!("search {}", s.join(" ")));
    }
    if let Some(o) = &hc.dns_options {
        lines.push(format!("options {}", o.join(" ")));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
