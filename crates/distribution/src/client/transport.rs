//! How berth reaches a registry: which host and scheme (`docker.io` is
//! `registry-1.docker.io`; mirrors; HTTPS, with plain HTTP only for loopback and configured
//! insecure registries), the `/v2/` ping and its auth challenge, bearer tokens cached per
//! scope, and the resulting authorized [`Session`] for one repository.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::credentials::{AuthConfig, DockerConfig};
use super::error::{ClientError, describe_error_body};
use super::{Client, tls};

/// What a registry asked for in its `/v2/` 401 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// No authentication required.
    None,
    /// HTTP basic auth.
    Basic,
    /// The bearer token flow: get a token from `realm` for `service` and a scope.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// The `service` parameter to send.
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` value.
pub fn parse_challenge(v: &str) -> Challenge {
    let (scheme, params) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::None;
    }
    let p = parse_params(params);
    match p.get("realm") {
        Some(realm) => Challenge::Bearer {
            realm: realm.clone(),
            service: p.get("service").cloned(),
        },
        None => Challenge::None,
    }
}

/// Parses `k="v",k2=v2` auth parameters (quoted values may contain commas).
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_lowercase();
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        out.insert(k, v.to_string());
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// Whether `host` (`name[:port]`) is a loopback registry, reached over plain HTTP.
pub fn is_loopback(host: &str) -> bool {
    let h = strip_port(host);
    if h == "localhost" {
        return true;
    }
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

/// The host berth talks to for a reference domain.
pub fn wire_host(domain: &str) -> &str {
    if domain == "docker.io" || domain == "index.docker.io" {
        "registry-1.docker.io"
    } else {
        domain
    }
}

/// A reachable registry endpoint: its base URL, the HTTP client for it, its challenge.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `https://host[:port]` or `http://...`.
    pub base: String,
    /// The client configured for this host's TLS trust.
    pub http: reqwest::Client,
    /// What `/v2/` asked for.
    pub challenge: Challenge,
}

/// An authorized connection to one repository of one registry. Clones share the
/// authorization, so a token renewed by one transfer serves the others.
#[derive(Clone)]
pub struct Session {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The repository path (`library/busybox`).
    pub repo: String,
    /// The reference domain, for messages.
    pub domain: String,
    auth: Arc<Mutex<Option<HeaderValue>>>,
    renewal: Option<Arc<Renewal>>,
}

/// What a session needs to fetch a new bearer token when the old one expires mid-pull.
struct Renewal {
    client: Client,
    scopes: Vec<String>,
    creds: Option<AuthConfig>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base", &self.endpoint.base)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// `base/v2/<repo>/<tail>`.
    pub fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{}", self.endpoint.base, self.repo, tail)
    }

    /// Resolves a `Location` header (absolute or relative) against the endpoint.
    pub fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{}", self.endpoint.base, location)
        } else {
            format!("{}/{}", self.endpoint.base, location)
        }
    }

    /// A request on this session's client; [`Session::send`] adds the authorization.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.endpoint.http.request(method, url)
    }

    fn current_auth(&self) -> Option<HeaderValue> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends with the session's authorization. A 401 on a bearer session renews the token
    /// once and resends (requests with streaming bodies cannot be resent); other 401s and
    /// transport failures become errors, other statuses are returned.
    pub async fn send(
        &self,
        op: &'static str,
        rb: RequestBuilder,
    ) -> Result<Response, ClientError> {
        let again = rb.try_clone();
        let resp = self.execute(op, rb, self.current_auth()).await?;
        if !is_denied(resp.status()) {
            return Ok(resp);
        }
        let (Some(rb), Some(renewal)) = (again, &self.renewal) else {
            return Err(self.unauthorized(resp).await);
        };
        let auth = renewal
            .client
            .authorization_fresh(
                &self.endpoint,
                &self.domain,
                &renewal.scopes,
                renewal.creds.as_ref(),
            )
            .await?;
        *self.auth.lock().unwrap_or_else(|p| p.into_inner()) = auth.clone();
        // Resent with the token this renewal fetched: parallel transfers renew at the same
        // time, and the session's shared token may already be a sibling's, one the
        // registry could refuse again by the time this request reaches it.
        let resp = self.execute(op, rb, auth).await?;
        if is_denied(resp.status()) {
            return Err(self.unauthorized(resp).await);
        }
        Ok(resp)
    }

    async fn execute(
        &self,
        op: &'static str,
        rb: RequestBuilder,
        auth: Option<HeaderValue>,
    ) -> Result<Response, ClientError> {
        let rb = match auth {
            Some(a) => rb.header(reqwest::header::AUTHORIZATION, a),
            None => rb,
        };
        let req = rb.build().map_err(|source| ClientError::Http {
            op,
            url: String::new(),
            source,
        })?;
        let url = req.url().to_string();
        self.endpoint
            .http
            .execute(req)
            .await
            .map_err(|source| ClientError::Http { op, url, source })
    }

    async fn unauthorized(&self, resp: Response) -> ClientError {
        let body = resp.bytes().await.unwrap_or_default();
        let mut message = describe_error_body(&body);
        if message.is_empty() {
            message = "unauthorized: authentication required".into();
        }
        ClientError::Unauthorized {
            registry: self.domain.clone(),
            message,
        }
    }
}

fn is_denied(s: StatusCode) -> bool {
    s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN
}

/// Turns a non-success response into an error carrying the registry's message.
pub async fn status_error(op: &'static str, resp: Response) -> ClientError {
    let url = resp.url().to_string();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    ClientError::Status {
        op,
        url,
        status,
        message: describe_error_body(&body),
    }
}

/// A cached bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: String,
    pub expires: Instant,
}

#[derive(serde::Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Client {
    /// The HTTP client for `host`: system roots plus `<certs_dir>/<host>/*.crt`, or no
    /// verification for insecure registries; the client certificate in
    /// `<certs_dir>/<host>/*.cert` + `*.key`, if any, either way.
    fn http_for(&self, host: &str, insecure: bool) -> Result<reqwest::Client, ClientError> {
        let key = format!("{host}|{insecure}");
        let mut cache = self.inner.http.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let tls_err = |source| ClientError::Tls {
            host: host.to_string(),
            source,
        };
        let identity = tls::registry_client_identity(&self.inner.config.certs_dir, host).map_err(
            |message| ClientError::ClientCert {
                host: host.to_string(),
                message,
            },
        )?;
        let cfg = if insecure {
            tls::insecure_config(identity).map_err(tls_err)?
        } else {
            let mut roots = self.inner.system_roots.clone();
            roots.extend(tls::registry_cas(&self.inner.config.certs_dir, host));
            tls::verifying_config(roots, identity).map_err(tls_err)?
        };
        let c = reqwest::Client::builder()
            .tls_backend_preconfigured(cfg)
            .user_agent(self.inner.config.user_agent.clone())
            .connect_timeout(Duration::from_secs(15))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| ClientError::Http {
                op: "build client for",
                url: host.to_string(),
                source,
            })?;
        cache.insert(key, c.clone());
        Ok(c)
    }

    /// Whether `host` may be reached over plain HTTP (and with unverified TLS).
    pub fn is_insecure(&self, host: &str) -> bool {
        is_loopback(host)
            || self
                .inner
                .config
                .insecure_registries
                .iter()
                .any(|h| h == host || h.trim_end_matches('/') == host)
    }

    /// Finds how to reach `host` and what auth it wants (cached per host).
    pub async fn endpoint(&self, host: &str) -> Result<Endpoint, ClientError> {
        if let Some(e) = self
            .inner
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
        {
            return Ok(e.clone());
        }
        let (base, host_only) = match host.split_once("://") {
            Some((scheme, h)) => (Some(format!("{scheme}://{h}")), h.trim_end_matches('/')),
            None => (None, host),
        };
        let insecure = self.is_insecure(host_only);
        let http = self.http_for(host_only, insecure)?;
        let candidates = match base {
            Some(b) => vec![b.trim_end_matches('/').to_string()],
            None if insecure => vec![format!("https://{host}"), format!("http://{host}")],
            None => vec![format!("https://{host}")],
        };
        let mut last = None;
        for base in candidates {
            match ping(&http, &base).await {
                Ok(challenge) => {
                    let e = Endpoint {
                        base,
                        http: http.clone(),
                        challenge,
                    };
                    self.inner
                        .endpoints
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(host.to_string(), e.clone());
                    return Ok(e);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Task(format!("no endpoint for {host}"))))
    }

    /// The credentials for `domain`: the explicit ones when given, else docker's config.
    pub async fn credentials(
        &self,
        domain: &str,
        explicit: Option<&AuthConfig>,
    ) -> Result<Option<AuthConfig>, ClientError> {
        if let Some(a) = explicit.filter(|a| !a.is_empty()) {
            let mut a = a.clone();
            if a.username.is_empty() && !a.auth.is_empty() {
                a = AuthConfig::from_header(&a.to_header())?;
            }
            return Ok(Some(a));
        }
        let Some(path) = self.inner.config.docker_config.clone() else {
            return Ok(None);
        };
        let domain = domain.to_string();
        tokio::task::spawn_blocking(move || {
            DockerConfig::load(&path).and_then(|c| c.credentials_for(&domain))
        })
        .await
        .map_err(|e| ClientError::Task(e.to_string()))?
        .map_err(Into::into)
    }

    /// Opens an authorized session for `repo` on the registry of `domain`, asking for
    /// `actions` (`pull`, `push`) plus `extra_scopes` (e.g. pull on a mount source).
    pub async fn session(
        &self,
        domain: &str,
        repo: &str,
        actions: &str,
        extra_scopes: &[String],
        auth: Option<&AuthConfig>,
    ) -> Result<Session, ClientError> {
        let endpoint = self.endpoint(wire_host(domain)).await?;
        let creds = self.credentials(domain, auth).await?;
        self.session_on(
            endpoint,
            domain,
            repo,
            actions,
            extra_scopes,
            creds.as_ref(),
        )
        .await
    }

    async fn session_on(
        &self,
        endpoint: Endpoint,
        domain: &str,
        repo: &str,
        actions: &str,
        extra_scopes: &[String],
        creds: Option<&AuthConfig>,
    ) -> Result<Session, ClientError> {
        let mut scopes = vec![format!("repository:{repo}:{actions}")];
        scopes.extend(extra_scopes.iter().cloned());
        let auth = self
            .authorization(&endpoint, domain, &scopes, creds)
            .await?;
        let renewal = matches!(endpoint.challenge, Challenge::Bearer { .. }).then(|| {
            Arc::new(Renewal {
                client: self.clone(),
                scopes,
                creds: creds.cloned(),
            })
        });
        Ok(Session {
            endpoint,
            repo: repo.to_string(),
            auth: Arc::new(Mutex::new(auth)),
            domain: domain.to_string(),
            renewal,
        })
    }

    /// The configured mirrors for a Docker Hub pull, as pull sessions; mirrors that cannot
    /// be reached are skipped with a warning. Mirrors get their own credentials (from
    /// docker's config), never Docker Hub's.
    pub async fn mirror_sessions(&self, domain: &str, repo: &str) -> Vec<Session> {
        if wire_host(domain) != "registry-1.docker.io" {
            return Vec::new();
        }
        let mut out = Vec::new();
        for m in self.inner.config.mirrors.clone() {
            let opened = async {
                let endpoint = self.endpoint(&m).await?;
                let creds = self.credentials(&normalize_server(&m), None).await?;
                self.session_on(endpoint, domain, repo, "pull", &[], creds.as_ref())
                    .await
            };
            match opened.await {
                Ok(s) => out.push(s),
                Err(e) => tracing::warn!(mirror = %m, error = %e, "registry mirror unavailable"),
            }
        }
        out
    }

    /// Like [`Client::authorization`], bypassing the token cache (the cached token was
    /// refused).
    async fn authorization_fresh(
        &self,
        endpoint: &Endpoint,
        domain: &str,
        scopes: &[String],
        creds: Option<&AuthConfig>,
    ) -> Result<Option<HeaderValue>, ClientError> {
        let wanted = scopes.join(" ");
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| !k.contains(&wanted));
        self.authorization(endpoint, domain, scopes, creds).await
    }

    /// The `Authorization` header for `scopes` under the endpoint's challenge.
    pub(crate) async fn authorization(
        &self,
        endpoint: &Endpoint,
        domain: &str,
        scopes: &[String],
        creds: Option<&AuthConfig>,
    ) -> Result<Option<HeaderValue>, ClientError> {
        match &endpoint.challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => Ok(creds.and_then(basic_header)),
            Challenge::Bearer { realm, service } => {
                if let Some(t) = creds.map(|c| &c.registrytoken).filter(|t| !t.is_empty()) {
                    return Ok(HeaderValue::from_str(&format!("Bearer {t}")).ok());
                }
                let token = self
                    .token(endpoint, domain, realm, service.as_deref(), scopes, creds)
                    .await?;
                Ok(HeaderValue::from_str(&format!("Bearer {token}")).ok())
            }
        }
    }

    async fn token(
        &self,
        endpoint: &Endpoint,
        domain: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        creds: Option<&AuthConfig>,
    ) -> Result<String, ClientError> {
        let who = creds
            .map(|c| {
                berth_oci::Digest::sha256_of(
                    format!("{}\0{}\0{}", c.username, c.password, c.identitytoken).as_bytes(),
                )
                .to_string()
            })
            .unwrap_or_default();
        let key = format!(
            "{realm}|{}|{}|{who}",
            service.unwrap_or(""),
            scopes.join(" ")
        );
        if let Some(t) = self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            && t.expires > Instant::now()
        {
            return Ok(t.value.clone());
        }
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for s in scopes {
            query.push(("scope", s));
        }
        let rb = match creds {
            Some(c) if !c.identitytoken.is_empty() => {
                let mut form = query.clone();
                form.extend([
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.identitytoken.as_str()),
                    ("client_id", "berth"),
                ]);
                endpoint.http.post(realm).form(&form)
            }
            Some(c) if !c.username.is_empty() => endpoint
                .http
                .get(realm)
                .query(&query)
                .basic_auth(&c.username, Some(&c.password)),
            _ => endpoint.http.get(realm).query(&query),
        };
        let resp = rb.send().await.map_err(|source| ClientError::Http {
            op: "fetch token from",
            url: realm.to_string(),
            source,
        })?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            return Err(ClientError::Unauthorized {
                registry: domain.to_string(),
                message: "unauthorized: incorrect username or password".into(),
            });
        }
        if !resp.status().is_success() {
            return Err(status_error("fetch token from", resp).await);
        }
        let reply: TokenReply = resp.json().await.map_err(|source| ClientError::Http {
            op: "read token from",
            url: realm.to_string(),
            source,
        })?;
        let value = if reply.token.is_empty() {
            reply.access_token
        } else {
            reply.token
        };
        let ttl = reply.expires_in.unwrap_or(60).max(10) - 5;
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key,
                Token {
                    value: value.clone(),
                    expires: Instant::now() + Duration::from_secs(ttl),
                },
            );
        Ok(value)
    }

    /// Checks credentials against a registry as `docker login` does: basic registries get
    /// `/v2/` with the credentials, token registries a token without scope.
    pub async fn login(&self, server: &str, auth: &AuthConfig) -> Result<(), ClientError> {
        let domain = normalize_server(server);
        let host = wire_host(&domain).to_string();
        let endpoint = self.endpoint(&host).await?;
        match &endpoint.challenge {
            Challenge::None => Ok(()),
            Challenge::Basic => {
                let url = format!("{}/v2/", endpoint.base);
                let mut rb = endpoint.http.get(&url);
                if let Some(h) = basic_header(auth) {
                    rb = rb.header(reqwest::header::AUTHORIZATION, h);
                }
                let resp = rb.send().await.map_err(|source| ClientError::Http {
                    op: "log in to",
                    url: url.clone(),
                    source,
                })?;
                match resp.status() {
                    s if s.is_success() => Ok(()),
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                        Err(ClientError::Unauthorized {
                            registry: domain,
                            message: "unauthorized: incorrect username or password".into(),
                        })
                    }
                    _ => Err(status_error("log in to", resp).await),
                }
            }
            Challenge::Bearer { realm, service } => self
                .token(
                    &endpoint,
                    &domain,
                    realm,
                    service.as_deref(),
                    &[],
                    Some(auth),
                )
                .await
                .map(|_| ()),
        }
    }
}

/// `https://index.docker.io/v1/` -> `docker.io`, `http://h:5000/` -> `h:5000`.
pub fn normalize_server(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

fn basic_header(c: &AuthConfig) -> Option<HeaderValue> {
    if c.username.is_empty() {
        return None;
    }
    let raw = format!("{}:{}", c.username, c.password);
    let v = base64::engine::general_purpose::STANDARD.encode(raw);
    HeaderValue::from_str(&format!("Basic {v}")).ok()
}

/// `GET /v2/`: 200 means open, 401 carries the challenge; anything else is an error.
async fn ping(http: &reqwest::Client, base: &str) -> Result<Challenge, ClientError> {
    let url = format!("{base}/v2/");
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|source| ClientError::Http {
            op: "ping",
            url: url.clone(),
            source,
        })?;
    if resp.status() == StatusCode::UNAUTHORIZED {
        return Ok(resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(parse_challenge)
            .unwrap_or(Challenge::Basic));
    }
    if resp.status().is_success() {
        return Ok(Challenge::None);
    }
    Err(status_error("ping", resp).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
        assert_eq!(parse_challenge(r#"Basic realm="x""#), Challenge::Basic);
        assert_eq!(parse_challenge("Negotiate"), Challenge::None);
    }

    #[test]
    fn loopback_and_wire_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
        assert_eq!(wire_host("docker.io"), "registry-1.docker.io");
        assert_eq!(wire_host("quay.io"), "quay.io");
        assert_eq!(normalize_server("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_server("http://h:5000/"), "h:5000");
    }
}
