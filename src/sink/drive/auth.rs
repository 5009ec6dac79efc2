//! The service account: its key (from a file or an environment variable), the
//! authenticator and the one scope every call asks for. The key and every access
//! token are registered with [`crate::redact`] as soon as they are read.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use yup_oauth2::ServiceAccountKey;

use super::retry::Failure;
use super::{Auth, Connector};
use crate::catalog::config::DriveConfig;

/// The one scope every call asks for, so one token serves all of them. google-drive3
/// picks a different default per method (`files.list` defaults to a read-only
/// metadata scope that sees nothing sqlcourier wrote): never rely on it.
pub const SCOPE: &str = "https://www.googleapis.com/auth/drive";

/// Reads and parses the service-account key the destination names.
pub fn load_key(cfg: &DriveConfig, root: &Path) -> Result<ServiceAccountKey> {
    let (text, from) = match (&cfg.key_env, &cfg.key_file) {
        (Some(env), _) => (
            std::env::var(env).map_err(|_| {
                anyhow!(
                    "the environment variable {env} (the Google service-account key) is not set; ask the operator to add it as a secret"
                )
            })?,
            format!("the environment variable {env}"),
        ),
        (None, Some(file)) => {
            let p = root.join(file);
            (
                std::fs::read_to_string(&p).with_context(|| {
                    format!(
                        "cannot read the service-account key file {}; check `key_file` and the file's permissions",
                        p.display()
                    )
                })?,
                format!("the key file {}", p.display()),
            )
        }
        (None, None) => anyhow::bail!("the destination names no service-account key"),
    };
    register_key_text(&text);
    let key: ServiceAccountKey = serde_json::from_str(&text).map_err(|e| {
        // serde's message names the line and column only, never the content
        anyhow!(
            "{from} does not hold a Google service-account key JSON (line {}, column {}); download a new JSON key for the service account in the Google Cloud console",
            e.line(),
            e.column()
        )
    })?;
    register_key_text(&key.private_key);
    if let Some(id) = &key.private_key_id {
        crate::redact::register(id);
    }
    if !key.private_key.contains("PRIVATE KEY") {
        anyhow::bail!(
            "{from}: the key's `private_key` is not a PEM private key; download a new JSON key"
        );
    }
    Ok(key)
}

/// Registers a key text and each line of it, so that no fragment of it can be printed.
fn register_key_text(text: &str) {
    crate::redact::register(text);
    for line in text.split(['\n', '\\']) {
        let line = line.trim_start_matches('n').trim();
        if line.len() >= 16 && !line.starts_with("-----") {
            crate::redact::register(line);
        }
    }
}

/// The authenticator for `key`, using `client`'s connector. Its token endpoint is the
/// key's `token_uri`.
pub async fn authenticator(key: ServiceAccountKey, connector: Connector) -> Result<Auth> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, String>(connector);
    yup_oauth2::ServiceAccountAuthenticator::with_client(
        key,
        yup_oauth2::CustomHyperClientBuilder::from(client),
    )
    .with_timeout(std::time::Duration::from_secs(60))
    .build()
    .await
    .map_err(|e| {
        anyhow!(
            "cannot use the service-account key: {}",
            crate::redact::scrub(&e.to_string())
        )
    })
}

/// The access token for [`SCOPE`] (cached until it nearly expires); `fresh` forces a new
/// one (after a 401). One try: the caller's [`retry`](super::retry::retry) tries again
/// when [`should_retry`](super::retry::should_retry) says so.
///
/// yup-oauth2 does not hand over the token endpoint's HTTP status, so its errors are
/// sorted by what they are: a refusal the endpoint words as OAuth (`invalid_grant`,
/// `invalid_client`, `unauthorized_client`, `access_denied`, `invalid_scope`) is the
/// key's or the clock's fault ([`Failure::Token`], never retried); anything else — a
/// dropped connection, a 429/5xx page that is not a token, an unknown error code such
/// as `rate_limit_exceeded` or `internal_failure` — is Google's side
/// ([`Failure::TokenUnavailable`], retried).
pub async fn token(auth: &Auth, fresh: bool) -> Result<String, Failure> {
    let got = if fresh {
        auth.force_refreshed_token(&[SCOPE]).await
    } else {
        auth.token(&[SCOPE]).await
    };
    match got {
        Ok(t) => {
            let t = t
                .token()
                .ok_or_else(|| {
                    Failure::TokenUnavailable("the token endpoint sent no access token".into())
                })?
                .to_string();
            crate::redact::register(&t);
            Ok(t)
        }
        Err(e) => Err(classify(&e)),
    }
}

fn classify(e: &yup_oauth2::Error) -> Failure {
    use yup_oauth2::error::AuthErrorCode as C;
    let text = crate::redact::scrub(&crate::redact::cause_chain(e));
    match e {
        yup_oauth2::Error::AuthError(a)
            if matches!(
                a.error,
                C::InvalidGrant
                    | C::InvalidClient
                    | C::UnauthorizedClient
                    | C::AccessDenied
                    | C::InvalidScope
                    | C::InvalidRequest
                    | C::UnsupportedGrantType
            ) =>
        {
            Failure::Token(text)
        }
        yup_oauth2::Error::UserError(_) | yup_oauth2::Error::CredentialSourceError(_) => {
            Failure::Token(text)
        }
        _ => Failure::TokenUnavailable(format!("the token endpoint: {text}")),
    }
}
