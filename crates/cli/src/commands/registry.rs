//! `login`/`logout` and registry credentials in `~/.docker/config.json` (Docker's format: `auths.<server>.auth` =
//! base64 `user:password`), plus the `X-Registry-Auth` header pulls and pushes send.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use berth_client::Client;
use clap::Args;
use serde_json::{Value, json};

use crate::exit::{CmdResult, StatusError};

/// Docker Hub's key in `auths`.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// `berth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Server (default Docker Hub).
    pub server: Option<String>,
}

/// `berth logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Server (default Docker Hub).
    pub server: Option<String>,
}

/// JSON indented with tabs, as Docker writes config.json.
fn docker_indented(config: &Value) -> anyhow::Result<Vec<u8>> {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    config.serialize(&mut ser)?;
    Ok(out)
}

static CONFIG_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Uses `dir` instead of `$DOCKER_CONFIG`/`~/.docker` (the global `--config` flag).
pub fn set_config_dir(dir: PathBuf) {
    let _ = CONFIG_DIR.set(dir);
}

/// The client config file (`--config`, else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).
pub fn config_path() -> PathBuf {
    if let Some(dir) = CONFIG_DIR.get() {
        return dir.join("config.json");
    }
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"))
                .join(".docker")
        });
    dir.join("config.json")
}

fn read_config() -> Value {
    std::fs::read(config_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}))
}

fn write_config(config: &Value) -> anyhow::Result<()> {
    let path = config_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&docker_indented(config)?)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// The registry host of an image name (`localhost:5000/a` -> `localhost:5000`, `busybox` -> Docker Hub).
pub fn registry_of(name: &str) -> String {
    match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => DOCKER_HUB.to_string(),
    }
}

fn server_key(server: Option<&str>) -> String {
    match server {
        None | Some("docker.io") | Some("index.docker.io") | Some("registry-1.docker.io") => {
            DOCKER_HUB.to_string()
        }
        Some(s) => s
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
    }
}

/// The base64url `X-Registry-Auth` value for an image's registry, when credentials are stored.
pub fn registry_auth_for(image_name: &str) -> Option<String> {
    let server = registry_of(image_name);
    let config = read_config();
    let auth = config.get("auths")?.get(&server)?.get("auth")?.as_str()?;
    let decoded = String::from_utf8(STANDARD.decode(auth).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    let header = json!({"username": user, "password": password, "serveraddress": server});
    Some(URL_SAFE.encode(header.to_string()))
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `berth login`.
pub async fn login(client: &Client, args: LoginArgs) -> CmdResult {
    let server = server_key(args.server.as_deref());
    let username = match args.username {
        Some(u) => u,
        None => prompt("Username: ")?,
    };
    let password = if args.password_stdin {
        let mut p = String::new();
        std::io::stdin().lock().read_line(&mut p)?;
        p.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else if std::io::stdin().is_terminal() {
        let _raw = crate::terminal::RawMode::enter();
        prompt("Password: ")?
    } else {
        prompt("Password: ")?
    };
    if username.is_empty() || password.is_empty() {
        return Err(StatusError::new(
            1,
            "Error: Cannot perform an interactive login from a non TTY device",
        )
        .into());
    }
    client
        .auth(&json!({"username": username, "password": password, "serveraddress": server}))
        .await?;
    let mut config = read_config();
    if !config.get("auths").is_some_and(Value::is_object) {
        config["auths"] = json!({});
    }
    config["auths"][&server] = json!({"auth": STANDARD.encode(format!("{username}:{password}"))});
    write_config(&config)?;
    println!("Login Succeeded");
    Ok(0)
}

/// `berth logout`.
pub fn logout(args: LogoutArgs) -> CmdResult {
    let server = server_key(args.server.as_deref());
    let mut config = read_config();
    let removed = config
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .and_then(|a| a.remove(&server))
        .is_some();
    if removed {
        println!("Removing login credentials for {server}");
        write_config(&config)?;
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_names() {
        assert_eq!(registry_of("busybox"), DOCKER_HUB);
        assert_eq!(registry_of("library/busybox"), DOCKER_HUB);
        assert_eq!(registry_of("localhost:5000/a/b"), "localhost:5000");
        assert_eq!(registry_of("ghcr.io/x/y"), "ghcr.io");
        assert_eq!(server_key(Some("http://localhost:5000/")), "localhost:5000");
        assert_eq!(server_key(None), DOCKER_HUB);
    }
}
