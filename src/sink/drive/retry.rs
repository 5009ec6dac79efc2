//! What went wrong with a Drive call, whether to try again, and how long to wait.
//!
//! Every Drive request — typed google-drive3 calls, the token endpoint and the upload
//! session requests alike — turns its outcome into a [`Failure`]; [`should_retry`] alone
//! decides what happens next, and [`retry`] (the maintained `backon` crate underneath)
//! is the one loop that acts on it. Every loop ends: at most [`MAX_RETRIES`] retries
//! and [`MAX_REFRESHES`] token refreshes per request, never past the caller's deadline,
//! and a server's `Retry-After` is honoured (up to [`MAX_RETRY_AFTER`]).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use google_drive3::common;
use tokio::time::Instant;

use super::Auth;
use crate::failure::FailureKind;

/// Why a Drive request did not succeed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No HTTP answer: connection refused or dropped, TLS failure, time-out.
    Transport(String),
    /// An HTTP answer that is not a success.
    Status {
        status: u16,
        /// Google's `error.errors[0].reason` (e.g. `storageQuotaExceeded`), when given.
        reason: Option<String>,
        /// Google's `error.message`, when given.
        message: String,
        /// The server's `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The token endpoint refused the key (`invalid_grant`, `invalid_client`, …): the key
    /// or the clock is wrong. Never retried.
    Token(String),
    /// The token endpoint did not answer with a token or a refusal (429, 5xx, a page that
    /// is not JSON): Google's side or the network. Retried.
    TokenUnavailable(String),
    /// The upload made no progress although every request was answered.
    Stalled(String),
    /// Anything else (a bad answer, a local file error).
    Other(String),
}

/// What to do after a [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait (backoff with jitter, or `Retry-After`) and try again.
    Retry,
    /// The access token was refused: get a fresh one, then try again.
    RefreshToken,
    /// Stop: trying again cannot help.
    GiveUp,
}

/// How many times one request is tried again before the run fails.
pub const MAX_RETRIES: u32 = 8;
/// How many fresh tokens one request may ask for (a token refused right after it was
/// issued is a real refusal, not an expiry).
pub const MAX_REFRESHES: u32 = 2;
/// The longest `Retry-After` obeyed; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// First and longest backoff.
const MIN_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(32);

/// The one place that decides whether a failed Drive request is tried again.
///
/// - dropped connections, time-outs, 429 and every 5xx: retry with backoff;
/// - 403 with a rate-limit reason (Drive says "slow down" that way too): retry;
/// - the token endpoint answering 429/5xx or garbage: retry;
/// - an upload that stalled: retry (bounded like the rest);
/// - 401: the token expired or was revoked: refresh it and retry;
/// - everything else — 403 permission, `storageQuotaExceeded`, 404, 400, a refused key:
///   give up at once.
pub fn should_retry(f: &Failure) -> Decision {
    match f {
        Failure::Transport(_) | Failure::TokenUnavailable(_) | Failure::Stalled(_) => {
            Decision::Retry
        }
        Failure::Status { status: 401, .. } => Decision::RefreshToken,
        Failure::Status { status: 429, .. } => Decision::Retry,
        Failure::Status { status, .. } if *status >= 500 => Decision::Retry,
        Failure::Status {
            status: 403,
            reason: Some(r),
            ..
        } if matches!(
            r.as_str(),
            "rateLimitExceeded" | "userRateLimitExceeded" | "backendError"
        ) =>
        {
            Decision::Retry
        }
        Failure::Status { .. } | Failure::Token(_) | Failure::Other(_) => Decision::GiveUp,
    }
}

/// The backoff: exponential from 250 ms, at most 32 s, with jitter so that parallel runs
/// do not retry in step, at most [`MAX_RETRIES`] times.
fn policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(MAX_RETRIES as usize)
}

/// Runs `op` until it succeeds, [`should_retry`] says stop, the retries are used up, or
/// the next wait would end after `deadline`. A 401 gets a fresh token from `auth`
/// (when given) before the next try. `what` names the request in log lines.
pub async fn retry<T, F, Fut>(
    what: &str,
    auth: Option<&Auth>,
    deadline: Option<Instant>,
    op: F,
) -> Result<T, Failure>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let fresh = AtomicBool::new(false);
    let refreshes = AtomicU32::new(0);
    let attempt = || async {
        if fresh.swap(false, Ordering::SeqCst)
            && let Some(a) = auth
        {
            tracing::info!(request = what, "access token refused; getting a fresh one");
            super::auth::token(a, true).await?;
        }
        op().await
    };
    attempt
        .retry(policy())
        .sleep(tokio::time::sleep)
        .when(|f| match should_retry(f) {
            Decision::Retry => true,
            Decision::RefreshToken => {
                let ok = auth.is_some() && refreshes.fetch_add(1, Ordering::SeqCst) < MAX_REFRESHES;
                if ok {
                    fresh.store(true, Ordering::SeqCst);
                }
                ok
            }
            Decision::GiveUp => false,
        })
        .adjust(|f, backoff| {
            let wait = match should_retry(f) {
                Decision::RefreshToken => Duration::ZERO,
                _ => wait_for(f, backoff?),
            };
            match deadline {
                Some(d) if Instant::now() + wait >= d => None,
                _ => Some(wait),
            }
        })
        .notify(|f, wait| {
            tracing::warn!(request = what, error = %crate::redact::scrub(&format!("{f:?}")), wait_ms = wait.as_millis() as u64, "Drive request failed; trying again");
        })
        .await
}

/// The wait before the next try: the server's `Retry-After` when it gave one (never
/// less than the backoff), else the backoff.
pub fn wait_for(f: &Failure, backoff: Duration) -> Duration {
    match f {
        Failure::Status {
            retry_after: Some(ra),
            ..
        } => (*ra).min(MAX_RETRY_AFTER).max(backoff),
        _ => backoff,
    }
}

/// Parses a `Retry-After` value: seconds, or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    Some(Duration::from_millis(u64::try_from(secs).unwrap_or(0)))
}

/// A google-drive3 delegate that only remembers the `Retry-After` of a failed answer
/// (google-apis-common turns JSON error bodies into `BadRequest` and drops the headers).
/// It never asks google-apis-common to retry: [`retry`] does.
#[derive(Clone, Default)]
pub struct RetryAfter(Arc<Mutex<Option<Duration>>>);

impl RetryAfter {
    pub fn take(&self) -> Option<Duration> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

impl common::Delegate for RetryAfter {
    fn http_failure(
        &mut self,
        resp: &common::Response,
        _: Option<&serde_json::Value>,
    ) -> common::Retry {
        let ra = resp
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        if let Ok(mut g) = self.0.lock() {
            *g = ra;
        }
        common::Retry::Abort
    }
}

impl Failure {
    /// A failure from an HTTP status, its headers and its (JSON) body as Google sends it.
    pub fn from_response(status: u16, headers: &hyper::HeaderMap, body: &[u8]) -> Failure {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let retry_after = headers
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        from_json(status, &v, retry_after)
    }

    /// A failure from an HTTP status and its (JSON) body, without headers.
    pub fn from_status(status: u16, body: &[u8]) -> Failure {
        Failure::from_response(status, &hyper::HeaderMap::new(), body)
    }

    /// A failure from a typed google-drive3 call's error; `retry_after` is what the
    /// call's [`RetryAfter`] delegate saw.
    pub fn from_common(e: &common::Error, retry_after: Option<Duration>) -> Failure {
        match e {
            common::Error::HttpError(err) => Failure::Transport(crate::redact::cause_chain(err)),
            common::Error::BadRequest(v) => {
                let status = v
                    .pointer("/error/code")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(400);
                from_json(status, v, retry_after)
            }
            common::Error::Failure(resp) => Failure::Status {
                status: resp.status().as_u16(),
                reason: None,
                message: resp
                    .status()
                    .canonical_reason()
                    .unwrap_or_default()
                    .to_string(),
                retry_after: resp
                    .headers()
                    .get(hyper::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after)
                    .or(retry_after),
            },
            common::Error::MissingToken(e) => Failure::TokenUnavailable(e.to_string()),
            common::Error::Io(e) => Failure::Transport(e.to_string()),
            common::Error::JsonDecodeError(_, e) => {
                Failure::Other(format!("Drive sent an answer sqlcourier cannot read: {e}"))
            }
            other => Failure::Other(other.to_string()),
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for "not found" (404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

fn from_json(status: u16, v: &serde_json::Value, retry_after: Option<Duration>) -> Failure {
    let reason = v
        .pointer("/error/errors/0/reason")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    let message = v
        .pointer("/error/message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    Failure::Status {
        status,
        reason,
        message,
        retry_after,
    }
}

/// A failure in plain words with what to do; `what` says what was being done, e.g.
/// "uploading signups_2026-10.csv". The text never holds a token or the key.
/// Who can fix a Drive failure (see [`crate::failure`]): what [`should_retry`] would
/// retry is temporary (its retries ran out); a refused key, a folder not shared or full,
/// and any other refusal are the set-up's; the rest is unknown.
pub fn failure_kind(f: &Failure) -> FailureKind {
    match (should_retry(f), f) {
        (Decision::Retry, _) => FailureKind::Transient,
        (_, Failure::Token(_) | Failure::Status { .. }) => FailureKind::Configuration,
        (_, Failure::Other(_)) => FailureKind::Unknown,
        (_, _) => FailureKind::Transient,
    }
}

/// [`explain`] as an error that carries its [`failure_kind`].
pub fn error(f: &Failure, what: &str, service_account: &str) -> anyhow::Error {
    crate::failure::failure(failure_kind(f), explain(f, what, service_account))
}

pub fn explain(f: &Failure, what: &str, service_account: &str) -> String {
    let text = match f {
        Failure::Transport(t) => format!(
            "{what}: Google Drive could not be reached ({t}); check the runner's network and try again (GitHub: Re-run jobs)"
        ),
        Failure::Token(t) => format!(
            "{what}: Google refused to sign in the service account {service_account} ({t}); check that the key is current (not deleted in the Google Cloud console) and that the runner's clock is right"
        ),
        Failure::TokenUnavailable(t) => format!(
            "{what}: Google's sign-in service did not give an access token ({t}) after {MAX_RETRIES} retries; this is on Google's side or the network, not the key: try again later (GitHub: Re-run jobs)"
        ),
        Failure::Stalled(t) => format!(
            "{what}: {t}; gave up after {MAX_RETRIES} retries. Nothing was left behind in the folder; try again later (GitHub: Re-run jobs)"
        ),
        Failure::Other(t) => format!("{what}: {t}"),
        Failure::Status {
            status,
            reason,
            message,
            ..
        } => {
            let reason = reason.as_deref().unwrap_or("");
            let detail = if message.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {message}")
            };
            match (*status, reason) {
                (403, "storageQuotaExceeded") | (403, "quotaExceeded") => format!(
                    "{what}: Drive refused the file because the storage quota is used up ({detail}). A service account has no storage of its own: the destination folder must be in a shared drive (not in someone's My Drive), with {service_account} added to the shared drive as Content manager; or free space in that shared drive"
                ),
                (403, "teamDriveFileLimitExceeded")
                | (403, "numChildrenInNonRootLimitExceeded") => format!(
                    "{what}: the shared drive or folder holds too many files ({detail}); run `sqlcourier prune` or use another folder"
                ),
                (401, _) => format!(
                    "{what}: Google kept refusing the access token even after {MAX_REFRESHES} fresh ones ({detail}); check that the service-account key is current and the runner's clock is right, then try again"
                ),
                (403, _) => format!(
                    "{what}: the service account {service_account} is not allowed to do this ({detail}); add it to the shared drive (or the folder) as Content manager, or Editor on a My Drive folder"
                ),
                (404, _) => format!(
                    "{what}: not found ({detail}); check `folder_id` in sqlcourier.yaml and that the folder is shared with {service_account}"
                ),
                (429, _) => format!(
                    "{what}: Drive kept asking to slow down ({detail}) after {MAX_RETRIES} retries; try again later"
                ),
                (s, _) if s >= 500 => format!(
                    "{what}: Drive kept failing ({detail}) after {MAX_RETRIES} retries; try again later (GitHub: Re-run jobs)"
                ),
                _ => format!("{what}: Drive refused the request ({detail})"),
            }
        }
    };
    crate::redact::scrub(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(status: u16, reason: Option<&str>) -> Failure {
        Failure::Status {
            status,
            reason: reason.map(str::to_string),
            message: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn one_function_decides() {
        assert_eq!(
            should_retry(&Failure::Transport("reset".into())),
            Decision::Retry
        );
        assert_eq!(should_retry(&st(429, None)), Decision::Retry);
        assert_eq!(should_retry(&st(500, None)), Decision::Retry);
        assert_eq!(should_retry(&st(503, None)), Decision::Retry);
        assert_eq!(
            should_retry(&st(403, Some("userRateLimitExceeded"))),
            Decision::Retry
        );
        assert_eq!(
            should_retry(&Failure::TokenUnavailable("503".into())),
            Decision::Retry
        );
        assert_eq!(should_retry(&st(401, None)), Decision::RefreshToken);
        assert_eq!(
            should_retry(&st(403, Some("storageQuotaExceeded"))),
            Decision::GiveUp
        );
        assert_eq!(
            should_retry(&st(403, Some("insufficientFilePermissions"))),
            Decision::GiveUp
        );
        assert_eq!(should_retry(&st(404, None)), Decision::GiveUp);
        assert_eq!(should_retry(&st(400, None)), Decision::GiveUp);
        assert_eq!(
            should_retry(&Failure::Token("invalid_grant".into())),
            Decision::GiveUp
        );
    }

    /// Regression (issue 16 item 1): a request that always fails ends after exactly
    /// MAX_RETRIES retries, and within the deadline.
    #[tokio::test(start_paused = true)]
    async fn every_retry_loop_ends() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry("test", None, None, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(st(500, None))
        })
        .await;
        assert_eq!(r.unwrap_err().status(), Some(500));
        assert_eq!(calls.load(Ordering::SeqCst), MAX_RETRIES + 1);

        // a deadline cuts it short, and no wait ends after it
        calls.store(0, Ordering::SeqCst);
        let start = tokio::time::Instant::now();
        let deadline = Instant::now() + Duration::from_secs(3);
        let r: Result<(), _> = retry("test", None, Some(deadline), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Failure::Transport("dropped".into()))
        })
        .await;
        assert!(r.is_err());
        assert!(calls.load(Ordering::SeqCst) < MAX_RETRIES + 1);
        assert!(
            start.elapsed() <= Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );

        // a 401 without an authenticator, and a permission error: no retry at all
        for f in [
            st(401, None),
            st(403, Some("forbidden")),
            Failure::Token("x".into()),
        ] {
            calls.store(0, Ordering::SeqCst);
            let _: Result<(), _> = retry("test", None, None, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(f.clone())
            })
            .await;
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{f:?}");
        }
    }

    /// Regression (issue 16 item 4): `Retry-After: 3` is waited for, not 0.2 s.
    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let r = retry("test", None, None, || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(Failure::Status {
                    status: 429,
                    reason: None,
                    message: String::new(),
                    retry_after: Some(Duration::from_secs(3)),
                })
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert!(
            start.elapsed() >= Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(
            wait_for(&st(429, None), Duration::from_millis(200)),
            Duration::from_millis(200)
        );
        let huge = Failure::Status {
            status: 503,
            reason: None,
            message: String::new(),
            retry_after: Some(Duration::from_secs(86_400)),
        };
        assert_eq!(wait_for(&huge, Duration::ZERO), MAX_RETRY_AFTER);
    }

    #[test]
    fn quota_advice_mentions_shared_drives() {
        let f = Failure::from_status(
            403,
            br#"{"error":{"code":403,"message":"The user's Drive storage quota has been exceeded.","errors":[{"reason":"storageQuotaExceeded"}]}}"#,
        );
        assert_eq!(should_retry(&f), Decision::GiveUp);
        let t = explain(&f, "uploading x.csv", "sa@p.iam.gserviceaccount.com");
        assert!(t.contains("shared drive"), "{t}");
    }

    #[test]
    fn an_unavailable_token_endpoint_does_not_blame_the_key() {
        let t = explain(
            &Failure::TokenUnavailable("HTTP 503".into()),
            "signing in",
            "sa@p",
        );
        assert!(!t.contains("key is current"), "{t}");
        assert!(t.contains("try again later"), "{t}");
        let t = explain(&st(401, None), "uploading", "sa@p");
        assert!(!t.contains("Content manager"), "{t}");
    }
}
