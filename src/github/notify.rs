//! Notifications: a Slack incoming webhook told about a workflow run. The message holds
//! the run link and the query names, never data values; the webhook URL (a secret) is
//! never printed.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How a run ended. A run can end in several ways at once (jobs failed and others
/// were cancelled): the message leads with the worst and says what to do for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum RunStatus {
    Success,
    /// Run jobs were cancelled: GitHub replaced a waiting job of a concurrency group
    /// with a newer run of the same query and period, or someone cancelled the run.
    Cancelled,
    /// Scheduled runs that did not happen or did not succeed (`plan --schedule missed`).
    Missed,
    Failure,
}

/// At most this many query names are listed; the rest are counted.
const MAX_LISTED: usize = 20;

/// The Slack message (`text` for notifications, `blocks` for the channel) for a run
/// that ended in `statuses` (one or more; the worst leads).
pub fn slack_message(
    statuses: &[RunStatus],
    run_url: &str,
    repository: Option<&str>,
    queries: &[String],
) -> serde_json::Value {
    let mut statuses = statuses.to_vec();
    statuses.sort_unstable_by(|a, b| b.cmp(a));
    statuses.dedup();
    // success only when nothing else happened
    if statuses.len() > 1 {
        statuses.retain(|s| *s != RunStatus::Success);
    }
    let worst = statuses.first().copied().unwrap_or(RunStatus::Success);
    let repo = repository
        .map(|r| format!(" in `{}`", escape(r)))
        .unwrap_or_default();
    let link = format!("<{}|Open the run>", link_target(run_url));
    let headline = match worst {
        RunStatus::Failure => format!(":x: *sqlcourier: a run failed*{repo}"),
        RunStatus::Missed => format!(
            ":warning: *sqlcourier: scheduled runs did not happen or did not succeed*{repo}"
        ),
        RunStatus::Cancelled => {
            format!(":x: *sqlcourier: query jobs of a run were cancelled*{repo}")
        }
        RunStatus::Success => {
            format!(":white_check_mark: *sqlcourier: the run delivered its files*{repo}")
        }
    };
    let next: Vec<&str> = statuses.iter().map(|s| what_to_do(*s)).collect();
    let mut blocks = vec![serde_json::json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("{headline}\n{link} · {}", next.join("\n"))}
    })];
    if !queries.is_empty() {
        let mut list: Vec<String> = queries
            .iter()
            .take(MAX_LISTED)
            .map(|q| format!("• `{}`", escape(q)))
            .collect();
        if queries.len() > MAX_LISTED {
            list.push(format!("… and {} more", queries.len() - MAX_LISTED));
        }
        blocks.push(serde_json::json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*Queries*\n{}", list.join("\n"))}
        }));
    }
    let text = match worst {
        RunStatus::Failure => format!("sqlcourier: a run failed: {run_url}"),
        RunStatus::Missed => format!("sqlcourier: scheduled runs were missed: {run_url}"),
        RunStatus::Cancelled => {
            format!("sqlcourier: query jobs of a run were cancelled: {run_url}")
        }
        RunStatus::Success => format!("sqlcourier: the run delivered its files: {run_url}"),
    };
    serde_json::json!({ "text": text, "blocks": blocks })
}

/// What an operator does about a run that ended in `status`, in words.
fn what_to_do(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Failure => {
            "The summary of each failed job says what to do: a temporary problem → *Re-run failed jobs* (same period, same files); a problem in the query → a new pull request (a re-run uses the same commit); a set-up problem → an operator fixes the secret, grant or folder, then re-runs."
        }
        RunStatus::Missed => {
            "Run each query below for its period from the Actions tab (Monthly → Run workflow, with the query and the period), or re-run its failed run; the check's log lists the periods."
        }
        RunStatus::Cancelled => {
            "A cancelled job delivered nothing. Usually a newer run of the same query and period was queued while this one waited, and GitHub keeps only the newest waiting job: the newer run replaced it and delivers the same period from a commit at least as new. What to do: open the newer run of that query on the Actions tab; if it delivered, nothing is left to do; if it failed or was cancelled too (or there is none: someone cancelled this run), re-run the cancelled job on this run: open the run and press the job's *Re-run job* button (⟳), or *Re-run all jobs*; both keep the period."
        }
        RunStatus::Success => "The files are in their Drive folders.",
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn link_target(url: &str) -> String {
    url.replace('|', "%7C")
        .replace('>', "%3E")
        .replace('<', "%3C")
}

/// Registers the webhook URL (and its secret path) so no message can show it.
pub fn register_webhook(url: &str) {
    crate::redact::register(url);
    if let Some((_, rest)) = url.split_once("://")
        && let Some(i) = rest.find('/')
    {
        crate::redact::register(&rest[i..]);
    }
}

/// Posts `message` to the webhook; retries 429 and 5xx answers and connection errors
/// twice. Errors never contain the URL.
pub async fn post_webhook(url: &str, message: &serde_json::Value) -> Result<()> {
    register_webhook(url);
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| anyhow!("SLACK_WEBHOOK_URL is not a URL"))?;
    let loopback = matches!(
        uri.host(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if loopback => {}
        _ => bail!("SLACK_WEBHOOK_URL must be an https:// URL"),
    }
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| anyhow!("cannot load the system's CA certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let body = Bytes::from(serde_json::to_vec(message)?);
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
        let req = hyper::Request::post(uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("sqlcourier/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body.clone()))?;
        let resp = match tokio::time::timeout(Duration::from_secs(30), client.request(req)).await {
            Err(_) => {
                last = "no answer within 30 s".into();
                continue;
            }
            Ok(Err(e)) => {
                last = crate::redact::scrub(&crate::redact::cause_chain(&e));
                continue;
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        let text =
            match tokio::time::timeout(Duration::from_secs(30), resp.into_body().collect()).await {
                Ok(Ok(b)) => String::from_utf8_lossy(&b.to_bytes())
                    .chars()
                    .take(200)
                    .collect(),
                _ => String::new(),
            };
        if status.is_success() {
            return Ok(());
        }
        last = crate::redact::scrub(&format!("Slack answered {status}: {}", text.trim()));
        if !(status.as_u16() == 429 || status.is_server_error()) {
            break;
        }
    }
    bail!("the Slack message was not delivered: {last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_link_and_names_only() {
        let m = slack_message(
            &[RunStatus::Failure],
            "https://github.com/o/r/actions/runs/1",
            Some("o/r"),
            &["queries/a<b>.sql".to_string()],
        );
        let s = m.to_string();
        assert!(
            s.contains("<https://github.com/o/r/actions/runs/1|Open the run>"),
            "{s}"
        );
        assert!(s.contains("queries/a&lt;b&gt;.sql"), "{s}");
        assert!(s.contains("a run failed"), "{s}");
        let many: Vec<String> = (0..25).map(|i| format!("q{i}")).collect();
        let s = slack_message(&[RunStatus::Success], "u", None, &many).to_string();
        assert!(s.contains("and 5 more"), "{s}");
    }

    #[test]
    fn failed_and_cancelled_jobs_lead_with_the_failure_and_explain_both() {
        let s = slack_message(
            &[RunStatus::Success, RunStatus::Cancelled, RunStatus::Failure],
            "u",
            None,
            &[],
        )
        .to_string();
        assert!(s.contains("a run failed"), "{s}");
        assert!(s.contains("newer run of the same query and period"), "{s}");
        assert!(!s.contains("delivered its files"), "{s}");
    }
}
