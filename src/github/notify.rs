//! Notifications: a Slack incoming webhook told about a workflow run. The message holds
//! the run link and the query names, never data values; the webhook URL (a secret) is
//! never printed.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunStatus {
    Success,
    Failure,
    /// Scheduled runs that did not happen or did not succeed (`plan --schedule missed`).
    Missed,
}

/// At most this many query names are listed; the rest are counted.
const MAX_LISTED: usize = 20;

/// The Slack message (`text` for notifications, `blocks` for the channel).
pub fn slack_message(
    status: RunStatus,
    run_url: &str,
    repository: Option<&str>,
    queries: &[String],
) -> serde_json::Value {
    let repo = repository
        .map(|r| format!(" in `{}`", escape(r)))
        .unwrap_or_default();
    let link = format!("<{}|Open the run>", link_target(run_url));
    let (headline, next) = match status {
        RunStatus::Failure => (
            format!(":x: *sqlcourier: a run failed*{repo}"),
            "The summary of each failed job says what to do: a temporary problem → *Re-run failed jobs* (same period, same files); a problem in the query → a new pull request (a re-run uses the same commit); a set-up problem → an operator fixes the secret, grant or folder, then re-runs.",
        ),
        RunStatus::Missed => (
            format!(
                ":warning: *sqlcourier: scheduled runs did not happen or did not succeed*{repo}"
            ),
            "Run each query below for its period from the Actions tab (Monthly → Run workflow, with the query and the period), or re-run its failed run; the check's log lists the periods.",
        ),
        RunStatus::Success => (
            format!(":white_check_mark: *sqlcourier: the run delivered its files*{repo}"),
            "The files are in their Drive folders.",
        ),
    };
    let mut blocks = vec![serde_json::json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("{headline}\n{link} · {next}")}
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
    let text = match status {
        RunStatus::Failure => format!("sqlcourier: a run failed: {run_url}"),
        RunStatus::Missed => format!("sqlcourier: scheduled runs were missed: {run_url}"),
        RunStatus::Success => format!("sqlcourier: the run delivered its files: {run_url}"),
    };
    serde_json::json!({ "text": text, "blocks": blocks })
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
            RunStatus::Failure,
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
        let s = slack_message(RunStatus::Success, "u", None, &many).to_string();
        assert!(s.contains("and 5 more"), "{s}");
    }
}
