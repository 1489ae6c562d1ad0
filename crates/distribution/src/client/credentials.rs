//! Registry credentials: the AuthConfig Docker sends in `X-Registry-Auth`, and the lookup in
//! `~/.docker/config.json` (`auths`, `credsStore`, `credHelpers` through
//! `docker-credential-<name> get`), so berth shares logins with the docker CLI.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use berth_oci::ErrorKind;
use serde::{Deserialize, Serialize};

/// The key Docker stores Docker Hub credentials under.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The `X-Registry-Auth` value is not base64url JSON.
    #[error("invalid registry auth header: {reason}")]
    Header {
        /// What was wrong.
        reason: String,
    },
    /// The docker config file could not be read or parsed.
    #[error("read docker config {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper}: {reason}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// Its error output.
        reason: String,
    },
}

impl CredentialsError {
    /// The error class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CredentialsError::Header { .. } => ErrorKind::InvalidArgument,
            CredentialsError::Config { .. } | CredentialsError::Helper { .. } => {
                ErrorKind::Unavailable
            }
        }
    }
}

/// Credentials for one registry, in the shape of Docker's `AuthConfig` (what
/// `X-Registry-Auth` carries and what `POST /auth` receives).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// User name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// base64(`user:password`), as config.json stores it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    /// The registry these credentials are for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    /// An OAuth refresh token, exchanged for access tokens.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    /// A bearer token sent to the registry as is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

impl AuthConfig {
    /// Username/password credentials.
    pub fn basic(username: &str, password: &str) -> AuthConfig {
        AuthConfig {
            username: username.to_string(),
            password: password.to_string(),
            ..AuthConfig::default()
        }
    }

    /// Decodes an `X-Registry-Auth` header value (base64url JSON; an empty value or `{}`
    /// means anonymous).
    pub fn from_header(value: &str) -> Result<AuthConfig, CredentialsError> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(AuthConfig::default());
        }
        let raw = decode_base64_any(v).ok_or_else(|| CredentialsError::Header {
            reason: "not base64".into(),
        })?;
        let mut a: AuthConfig =
            serde_json::from_slice(&raw).map_err(|e| CredentialsError::Header {
                reason: e.to_string(),
            })?;
        a.fill_from_auth_field();
        Ok(a)
    }

    /// Encodes as an `X-Registry-Auth` header value.
    pub fn to_header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }

    /// Whether no credential is set.
    pub fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identitytoken.is_empty()
            && self.registrytoken.is_empty()
            && self.auth.is_empty()
    }

    /// Splits the `auth` field into username and password when those are empty.
    fn fill_from_auth_field(&mut self) {
        if !self.username.is_empty() || self.auth.is_empty() {
            return;
        }
        if let Some(raw) = decode_base64_any(&self.auth)
            && let Ok(s) = String::from_utf8(raw)
            && let Some((u, p)) = s.split_once(':')
        {
            self.username = u.to_string();
            self.password = p.trim_end_matches('\0').to_string();
        }
    }
}

fn decode_base64_any(v: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|e| e.decode(v.trim()).ok())
}

/// The parts of `~/.docker/config.json` that hold credentials.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DockerConfig {
    /// Inline credentials by registry key.
    #[serde(default)]
    pub auths: HashMap<String, AuthConfig>,
    /// The default credential helper.
    #[serde(default, rename = "credsStore")]
    pub creds_store: Option<String>,
    /// Per-registry credential helpers.
    #[serde(default, rename = "credHelpers")]
    pub cred_helpers: HashMap<String, String>,
    /// Where to find `docker-credential-*` helpers instead of `$PATH` (tests, packaged setups).
    #[serde(skip)]
    pub helper_dir: Option<PathBuf>,
}

/// Where the docker CLI keeps its config: `$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`.
pub fn default_docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

impl DockerConfig {
    /// Loads a config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<DockerConfig, CredentialsError> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DockerConfig::default());
            }
            Err(e) => {
                return Err(CredentialsError::Config {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        serde_json::from_slice(&data).map_err(|e| CredentialsError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// The credentials for registry `domain` (a reference's domain, `docker.io` for Hub):
    /// its credential helper, then `auths`, then `credsStore`. Blocking (helpers are processes).
    pub fn credentials_for(&self, domain: &str) -> Result<Option<AuthConfig>, CredentialsError> {
        let key = auth_key(domain);
        if let Some(helper) = self
            .cred_helpers
            .iter()
            .find(|(k, _)| same_registry(k, domain))
            .map(|(_, h)| h)
        {
            return run_helper(self.helper_dir.as_deref(), helper, &key);
        }
        if let Some(a) = self
            .auths
            .iter()
            .find(|(k, _)| same_registry(k, domain))
            .map(|(_, a)| a)
            && !a.is_empty()
        {
            let mut a = a.clone();
            a.fill_from_auth_field();
            a.serveraddress = key;
            return Ok(Some(a));
        }
        match &self.creds_store {
            Some(h) if !h.is_empty() => run_helper(self.helper_dir.as_deref(), h, &key),
            _ => Ok(None),
        }
    }
}

/// The key Docker uses for a registry domain in config.json.
pub fn auth_key(domain: &str) -> String {
    if is_docker_hub(domain) {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        domain.to_string()
    }
}

fn is_docker_hub(domain: &str) -> bool {
    matches!(
        domain,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// Whether config key `key` (maybe a URL) names registry `domain`.
fn same_registry(key: &str, domain: &str) -> bool {
    let host = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    host == domain || (is_docker_hub(host) && is_docker_hub(domain))
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs `docker-credential-<helper> get` with the server URL on stdin.
fn run_helper(
    dir: Option<&Path>,
    helper: &str,
    server: &str,
) -> Result<Option<AuthConfig>, CredentialsError> {
    let fail = |reason: String| CredentialsError::Helper {
        helper: helper.to_string(),
        reason,
    };
    let program = format!("docker-credential-{helper}");
    let program = match dir {
        Some(d) => d.join(program),
        None => PathBuf::from(program),
    };
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        return Err(fail(msg.trim().to_string()));
    }
    let r: HelperReply = serde_json::from_slice(&out.stdout).map_err(|e| fail(e.to_string()))?;
    let mut a = AuthConfig {
        serveraddress: server.to_string(),
        ..AuthConfig::default()
    };
    if r.username == "<token>" {
        a.identitytoken = r.secret;
    } else {
        a.username = r.username;
        a.password = r.secret;
    }
    Ok(Some(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_accepts_padding_variants() {
        let a = AuthConfig {
            username: "u".into(),
            password: "p?>".into(),
            serveraddress: "localhost:5000".into(),
            ..AuthConfig::default()
        };
        assert_eq!(AuthConfig::from_header(&a.to_header()).unwrap(), a);
        let nopad = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"username":"x","password":"y"}"#);
        assert_eq!(AuthConfig::from_header(&nopad).unwrap().username, "x");
        assert!(AuthConfig::from_header("").unwrap().is_empty());
        assert!(AuthConfig::from_header("!!!").is_err());
    }

    #[test]
    fn config_auths_resolve_for_hub_and_other_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        std::fs::write(
            &p,
            serde_json::json!({"auths": {
                "https://index.docker.io/v1/": {"auth": enc("hub:pw")},
                "localhost:5000": {"auth": enc("me:secret:x")},
            }})
            .to_string(),
        )
        .unwrap();
        let c = DockerConfig::load(&p).unwrap();
        let hub = c.credentials_for("docker.io").unwrap().unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("hub", "pw")
        );
        let l = c.credentials_for("localhost:5000").unwrap().unwrap();
        assert_eq!(
            (l.username.as_str(), l.password.as_str()),
            ("me", "secret:x")
        );
        assert!(c.credentials_for("example.com").unwrap().is_none());
        assert!(
            DockerConfig::load(&dir.path().join("none"))
                .unwrap()
                .auths
                .is_empty()
        );
    }

    #[test]
    fn credential_helpers_are_run() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-berthtest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread url\necho \"{\\\"Username\\\":\\\"h-user\\\",\\\"Secret\\\":\\\"h-$url\\\"}\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = DockerConfig {
            cred_helpers: [("reg.example:5000".to_string(), "berthtest".to_string())].into(),
            helper_dir: Some(dir.path().to_path_buf()),
            ..DockerConfig::default()
        };
        let a = c.credentials_for("reg.example:5000").unwrap().unwrap();
        assert_eq!(a.username, "h-user");
        assert_eq!(a.password, "h-reg.example:5000");
        let missing = DockerConfig {
            creds_store: Some("berth-missing-helper".into()),
            ..DockerConfig::default()
        };
        assert!(missing.credentials_for("x.example").is_err());
    }
}
