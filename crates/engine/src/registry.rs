//! Registry work for the daemon: `docker pull`, `docker push` and `docker login` go through
//! the one shared `berth_distribution::Client`, and their progress reaches the API caller as
//! Docker's JSON message stream (errors inside the stream once it has started).

use crate::Engine;
use berth_api::image::{AuthConfig, AuthResponse, PullOptions, PushOptions};
use berth_api::{ApiError, ApiResult, BoxStream, ErrorKind, JsonMessage};
use berth_distribution::client::progress::Progress;
use berth_distribution::client::{
    PullOptions as ClientPullOptions, PushOptions as ClientPushOptions,
};
use berth_distribution::{ClientError, ProgressSink};
use berth_oci::{Platform, Reference};
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Maps a registry client error onto the API's kinds, keeping the client's Docker wording.
fn client_error(e: &ClientError) -> ApiError {
    let kind = match e.kind() {
        berth_oci::ErrorKind::NotFound => ErrorKind::NotFound,
        berth_oci::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
        berth_oci::ErrorKind::Conflict => ErrorKind::Conflict,
        berth_oci::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
        berth_oci::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        berth_oci::ErrorKind::Unavailable => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

/// The registry client's credentials from what the API decoded out of `X-Registry-Auth` or
/// the `/auth` body.
fn client_auth(a: &AuthConfig) -> berth_distribution::AuthConfig {
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut auth = berth_distribution::AuthConfig {
        username: field(&a.username),
        password: field(&a.password),
        auth: field(&a.auth),
        serveraddress: field(&a.serveraddress),
        identitytoken: field(&a.identitytoken),
        registrytoken: field(&a.registrytoken),
    };
    if auth.username.is_empty() && !auth.auth.is_empty() {
        // `auth` is base64(user:password), as config.json stores it; the client's header
        // decoder fills the user and password from it.
        if let Ok(decoded) = berth_distribution::AuthConfig::from_header(&auth.to_header()) {
            auth = decoded;
        }
    }
    auth
}

/// The reference `docker pull` asks for: `fromImage` plus `tag` (a tag or a digest).
pub(crate) fn pull_reference(from_image: &str, tag: Option<&str>) -> ApiResult<Reference> {
    let invalid = |e: berth_oci::ReferenceError| ApiError::invalid(e.to_string());
    match tag.filter(|t| !t.is_empty()) {
        Some(t) if t.contains(':') => {
            Reference::parse_normalized(&format!("{from_image}@{t}")).map_err(invalid)
        }
        Some(t) => Reference::from_repo_tag(from_image, t).map_err(invalid),
        None => Reference::parse_normalized_tagged(from_image).map_err(invalid),
    }
}

/// Whether `name` has neither tag nor digest (Docker then means every tag).
fn is_name_only(name: &str) -> bool {
    Reference::parse_normalized(name).is_ok_and(|r| r.tag().is_none() && r.digest().is_none())
}

/// A progress sink writing Docker's JSON messages into `tx`.
fn json_sink(tx: UnboundedSender<JsonMessage>) -> ProgressSink {
    Arc::new(move |p: Progress| {
        for v in p.to_json_messages() {
            if let Ok(m) = serde_json::from_value::<JsonMessage>(v) {
                let _ = tx.send(m);
            }
        }
    })
}

/// The stream the API caller reads until the registry task drops its sender.
fn message_stream(rx: UnboundedReceiver<JsonMessage>) -> BoxStream<JsonMessage> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }))
}

impl Engine {
    /// `POST /images/create?fromImage=`: pulls into the image store, streaming progress; an
    /// invalid reference or platform fails before the stream starts. A bare name with an
    /// empty `tag` pulls every tag, as Docker does (`docker pull -a`).
    pub(crate) async fn pull(&self, opts: PullOptions) -> ApiResult<BoxStream<JsonMessage>> {
        let reference = pull_reference(&opts.from_image, opts.tag.as_deref())?;
        let all_tags =
            opts.tag.as_deref().is_none_or(str::is_empty) && is_name_only(&opts.from_image);
        let platform = match opts.platform.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(
                Platform::parse(p)
                    .ok_or_else(|| ApiError::invalid(format!("invalid platform: {p}")))?,
            ),
            None => None,
        };
        let client_opts = ClientPullOptions {
            platform,
            auth: opts.auth.as_ref().map(client_auth),
        };
        let (tx, rx) = unbounded_channel();
        let engine = self.clone();
        tokio::spawn(async move {
            let sink = json_sink(tx.clone());
            let store = engine.inner.images.store();
            let client = engine.inner.registry.clone();
            let pulled = if all_tags {
                client
                    .pull_all_tags(store, &reference, &client_opts, sink)
                    .await
            } else {
                client
                    .pull(store, &reference, &client_opts, sink)
                    .await
                    .map(|o| vec![o])
            };
            match pulled {
                Ok(outcomes) => {
                    for o in outcomes {
                        let name = o
                            .image
                            .repo_tags
                            .iter()
                            .find(|r| r.name() == reference.name())
                            .map_or_else(|| reference.familiar(), |r| r.familiar());
                        tracing::info!(image = %name, id = %o.image.id, "pulled");
                        engine.emit_image("pull", &name, &name);
                    }
                }
                Err(e) => {
                    tracing::warn!(image = %reference, error = %e, "pull failed");
                    let _ = tx.send(JsonMessage::error(e.to_string()));
                }
            }
        });
        Ok(message_stream(rx))
    }

    /// `POST /images/{name}/push`: pushes a local tag (or, with an empty tag, every local
    /// tag of the repository) to its registry, streaming progress; a missing local image
    /// fails before the stream starts, as Docker's does.
    pub(crate) async fn push(&self, opts: PushOptions) -> ApiResult<BoxStream<JsonMessage>> {
        let tag = opts.tag.as_deref().unwrap_or("");
        let reference = Reference::from_repo_tag(&opts.name, tag)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let all_tags = tag.is_empty() && is_name_only(&opts.name);
        let targets = if all_tags {
            self.inner.images.repo_tags(&reference).await?
        } else if self
            .inner
            .images
            .inspect(&reference.to_string())
            .await
            .is_ok()
        {
            vec![reference.clone()]
        } else {
            Vec::new()
        };
        if targets.is_empty() {
            return Err(ApiError::not_found(format!(
                "An image does not exist locally with the tag: {}",
                reference.familiar_name()
            )));
        }
        let client_opts = ClientPushOptions {
            auth: opts.auth.as_ref().map(client_auth),
        };
        let (tx, rx) = unbounded_channel();
        let engine = self.clone();
        tokio::spawn(async move {
            let sink = json_sink(tx.clone());
            let client = engine.inner.registry.clone();
            for target in targets {
                let store = engine.inner.images.store();
                match client
                    .push(store, &target, &client_opts, sink.clone())
                    .await
                {
                    Ok(outcome) => {
                        let name = target.familiar();
                        tracing::info!(image = %name, digest = %outcome.digest, "pushed");
                        engine.emit_image("push", &name, &name);
                    }
                    Err(e) => {
                        tracing::warn!(image = %target, error = %e, "push failed");
                        let _ = tx.send(JsonMessage::error(e.to_string()));
                        return;
                    }
                }
            }
        });
        Ok(message_stream(rx))
    }

    /// `POST /auth`: checks the credentials against the registry (`docker login`).
    pub(crate) async fn login(&self, config: AuthConfig) -> ApiResult<AuthResponse> {
        let auth = client_auth(&config);
        let server = if auth.serveraddress.is_empty() {
            "https://index.docker.io/v1/".to_string()
        } else {
            auth.serveraddress.clone()
        };
        let client = &self.inner.registry;
        client
            .login(&server, &auth)
            .await
            .map_err(|e| client_error(&e))?;
        client.clear_cache();
        Ok(AuthResponse {
            status: "Login Succeeded".into(),
            identity_token: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_reference_joins_tags_and_digests() -> ApiResult<()> {
        let r = pull_reference("busybox", Some("1.36"))?;
        assert_eq!(r.to_string(), "docker.io/library/busybox:1.36");
        let r = pull_reference("127.0.0.1:5000/a/b", None)?;
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = pull_reference("busybox", Some(&d))?;
        assert_eq!(r.digest().map(|x| x.to_string()), Some(d));
        let Err(e) = pull_reference("Bad Name", None) else {
            panic!("an invalid name was accepted");
        };
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("invalid reference format"), "{e:?}");
        assert!(is_name_only("127.0.0.1:5000/a/b"));
        assert!(!is_name_only("127.0.0.1:5000/a/b:v1"));
        assert!(!is_name_only(&format!("busybox@sha256:{}", "a".repeat(64))));
        Ok(())
    }

    #[test]
    fn auth_field_fills_user_and_password() {
        let a = AuthConfig {
            auth: Some("dXNlcjpwYXNz".into()),
            serveraddress: Some("r.example".into()),
            ..Default::default()
        };
        let c = client_auth(&a);
        assert_eq!(c.username, "user");
        assert_eq!(c.password, "pass");
        assert_eq!(c.serveraddress, "r.example");
    }

    #[tokio::test]
    async fn progress_becomes_docker_json_messages() {
        let (tx, rx) = unbounded_channel();
        let sink = json_sink(tx);
        sink(Progress::status("Digest: sha256:ab"));
        sink(Progress::Pushed {
            tag: "v1".into(),
            digest: "sha256:ab".into(),
            size: 5,
        });
        drop(sink);
        use futures_util::StreamExt;
        let got: Vec<JsonMessage> = message_stream(rx).collect().await;
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].status.as_deref(), Some("Digest: sha256:ab"));
        assert_eq!(
            got[1].status.as_deref(),
            Some("v1: digest: sha256:ab size: 5")
        );
        assert_eq!(
            got[2].aux.as_ref().map(|a| a["Size"].clone()),
            Some(5.into())
        );
    }
}
