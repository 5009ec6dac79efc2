//! What went wrong with a Drive call, whether to try again, and how long to wait.
//!
//! Every Drive and upload request — typed google-drive3 calls and the upload session
//! requests alike — turns its outcome into a [`Failure`], and [`should_retry`] alone
//! decides what happens next.

use std::time::Duration;

use google_drive3::common;

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
    },
    /// The access token could not be obtained (key, token endpoint).
    Token(String),
    /// Anything else (a bad answer, a local file error).
    Other(String),
}

/// What to do after a [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait (backoff with jitter) and try again.
    Retry,
    /// The access token was refused: get a fresh one, then try again.
    RefreshToken,
    /// Stop: trying again cannot help.
    GiveUp,
}

/// How many times one request is tried again before the run fails.
pub const MAX_RETRIES: u32 = 8;

/// The one place that decides whether a failed Drive request is tried again.
///
/// - dropped connections, time-outs, 429 and every 5xx: retry with backoff;
/// - 403 with a rate-limit reason (Drive says "slow down" that way too): retry;
/// - 401: the token expired or was revoked: refresh it and retry;
/// - everything else — 403 permission, `storageQuotaExceeded`, 404, 400: give up at once.
pub fn should_retry(f: &Failure) -> Decision {
    match f {
        Failure::Transport(_) => Decision::Retry,
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

/// The wait before retry number `attempt` (0-based): exponential from 250 ms, at most
/// 32 s, with full jitter (a random time between half and all of it) so that parallel
/// runs do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let base_ms: u64 = 250u64.saturating_mul(1u64 << attempt.min(7)).min(32_000);
    let jitter = rand::random::<u64>() % (base_ms / 2 + 1);
    Duration::from_millis(base_ms / 2 + jitter)
}

impl Failure {
    /// A failure from an HTTP status and its (JSON) body as Google sends it.
    pub fn from_status(status: u16, body: &[u8]) -> Failure {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        from_json(status, &v)
    }

    /// A failure from a typed google-drive3 call's error.
    pub fn from_common(e: &common::Error) -> Failure {
        match e {
            common::Error::HttpError(err) => Failure::Transport(crate::redact::cause_chain(err)),
            common::Error::BadRequest(v) => {
                let status = v
                    .pointer("/error/code")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(400) as u16;
                from_json(status, v)
            }
            common::Error::Failure(resp) => Failure::Status {
                status: resp.status().as_u16(),
                reason: None,
                message: resp
                    .status()
                    .canonical_reason()
                    .unwrap_or_default()
                    .to_string(),
            },
            common::Error::MissingToken(e) => Failure::Token(e.to_string()),
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

fn from_json(status: u16, v: &serde_json::Value) -> Failure {
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
    }
}

/// A failure in plain words with what to do; `what` says what was being done, e.g.
/// "uploading signups_2026-10.csv". The text never holds a token or the key.
pub fn explain(f: &Failure, what: &str, service_account: &str) -> String {
    let text = match f {
        Failure::Transport(t) => format!(
            "{what}: Google Drive could not be reached ({t}); check the runner's network and try again (GitHub: Re-run jobs)"
        ),
        Failure::Token(t) => format!(
            "{what}: could not get an access token for the service account {service_account} ({t}); check that the key is current (not deleted in the Google Cloud console) and that the runner's clock is right"
        ),
        Failure::Other(t) => format!("{what}: {t}"),
        Failure::Status {
            status,
            reason,
            message,
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
                (403, _) | (401, _) => format!(
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
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for a in 0..20 {
            let d = backoff(a).as_millis() as u64;
            let base = (250u64 << a.min(7)).min(32_000);
            assert!(d >= base / 2 && d <= base, "attempt {a}: {d}");
        }
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
}
