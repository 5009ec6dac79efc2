//! The resumable upload, driven by hand (see the module docs of `drive` for why).
//!
//! 1. Start a session: `POST /upload/drive/v3/files?uploadType=resumable` (a new file) or
//!    `PATCH /upload/drive/v3/files/{id}?uploadType=resumable` (new content for the same
//!    file id), metadata as JSON; Drive answers with the session URL in `Location`.
//! 2. Send the file in chunks (`PUT`, `Content-Range: bytes a-b/total`), each read from
//!    the staged file when it is sent: memory is one chunk, whatever the file size.
//!    Drive answers 308 with `Range: bytes=0-n` until the last chunk, then 200/201.
//! 3. Each step — one chunk, or after a failure "ask the session how much it has
//!    (`PUT`, empty, `Content-Range: bytes */total`), then send from there" — goes
//!    through the one [`retry`] loop: a step that fails is retried at most
//!    [`MAX_RETRIES`](super::retry::MAX_RETRIES) times, a step succeeds only when Drive
//!    holds more bytes than ever before, and the whole file has a deadline
//!    (`upload_deadline`). So every upload ends: delivered, or failed with nothing left
//!    behind (a new file exists in Drive only once its last byte arrived).
//! 4. A session Drive forgot (404/410) starts over with a new session — but first the
//!    file is looked up again by its appProperties: when the last chunk was stored but
//!    its answer was lost, the file is already there, and a new session would make a
//!    second one.

use std::io::SeekFrom;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::time::Instant;

use super::auth::SCOPE;
use super::retry::{Failure, retry};
use super::{Session, q_ours};

/// Fields asked for on the uploaded file.
const FILE_FIELDS: &str = "id,name,size,sha256Checksum,webViewLink,mimeType";
/// The longest one request may take (a whole chunk on a slow link).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// How many times a whole upload starts over after Drive forgot its session.
const MAX_SESSIONS: u32 = 3;

/// The uploaded file as Drive describes it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Uploaded {
    pub id: String,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub sha256_checksum: Option<String>,
    #[serde(default)]
    pub web_view_link: Option<String>,
}

/// Where the file goes: the folder, its shared drive, and the file's identity.
pub struct Target<'a> {
    pub folder: &'a str,
    pub drive_id: Option<&'a str>,
    pub identity: &'a str,
}

/// The file already delivered for `t.identity` in the folder, if any (the oldest, when a
/// race made two: see the module docs of `drive`).
pub async fn find_existing(s: &Session, t: &Target<'_>) -> Result<Option<Uploaded>> {
    let q = q_ours(t.folder, Some(t.identity));
    let q = q.as_str();
    let drive_id = t.drive_id;
    let list = s
        .call(
            "looking for an earlier delivery of this file in Drive",
            |mut d| async move {
                let mut c = s
                    .hub
                    .files()
                    .list()
                    .q(q)
                    .supports_all_drives(true)
                    .include_items_from_all_drives(true)
                    .order_by("createdTime")
                    .page_size(10)
                    .param(
                        "fields",
                        "files(id,name,createdTime,size,sha256Checksum,webViewLink)",
                    )
                    .add_scope(SCOPE);
                c = match drive_id {
                    Some(d) => c.corpora("drive").drive_id(d),
                    None => c.corpora("user"),
                };
                c.delegate(&mut d).doit().await
            },
        )
        .await?;
    let files = list.files.unwrap_or_default();
    let found: Vec<Uploaded> = files
        .into_iter()
        .filter_map(|f| {
            Some(Uploaded {
                id: f.id?,
                size: f.size.map(|n| n.to_string()),
                sha256_checksum: f.sha256_checksum,
                web_view_link: f.web_view_link,
            })
        })
        .collect();
    if found.len() > 1 {
        tracing::warn!(
            keep = %found[0].id,
            duplicates = %found[1..].iter().map(|f| f.id.as_str()).collect::<Vec<_>>().join(","),
            "two runs of the same query, variant and period created duplicate files; updating the oldest — trash the others"
        );
    }
    Ok(found.into_iter().next())
}

/// What one step of the upload ended with.
enum Step {
    /// Drive holds this many bytes (more than ever before).
    Progress(u64),
    Done(Uploaded),
}

/// The state of one upload session, shared by the steps (and their retries).
struct Progress {
    offset: u64,
    /// The most bytes Drive ever said it holds.
    best: u64,
    /// The last request failed: ask how much the session has before sending.
    ask: bool,
}

/// Uploads `staged` as the content of `existing` (same id, same link) or of a new file
/// described by `meta`. Returns once Drive holds the whole file.
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    s: &Session,
    staged: &Path,
    target: &Target<'_>,
    existing: Option<&str>,
    meta: &serde_json::Value,
    content_type: &str,
    file_name: &str,
    deadline_after: Duration,
) -> Result<Uploaded> {
    let what = format!("uploading {file_name} to Google Drive");
    let fail = |f: Failure| super::retry::error(&f, &what, &s.service_account);
    let deadline = Instant::now() + deadline_after;
    let total = tokio::fs::metadata(staged)
        .await
        .map_err(|e| anyhow!("{what}: cannot read the staged file: {e}"))?
        .len();
    let sha256 = file_sha256(staged)
        .await
        .map_err(|e| anyhow!("{what}: cannot read the staged file: {e}"))?;
    let file = tokio::sync::Mutex::new(
        tokio::fs::File::open(staged)
            .await
            .map_err(|e| anyhow!("{what}: cannot open the staged file: {e}"))?,
    );

    let mut existing = existing.map(str::to_string);
    let mut meta = meta.clone();
    for session in 1..=MAX_SESSIONS {
        if session > 1 {
            // the previous session may have stored the last chunk before it was lost:
            // look the file up again before starting a session that would make a second
            if let Some(found) = find_existing(s, target).await? {
                if found
                    .sha256_checksum
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&sha256))
                {
                    tracing::info!(id = %found.id, "the lost session had finished: the file is already in Drive");
                    return verify(found, total, &sha256, &what);
                }
                if existing.is_none() {
                    // a new file was made after all: give the next session its id
                    if let Some(m) = meta.as_object_mut() {
                        m.remove("parents");
                        m.remove("mimeType");
                    }
                    existing = Some(found.id);
                }
            }
        }
        let url = retry(
            "starting an upload session",
            Some(&s.auth),
            Some(deadline),
            || start_session(s, existing.as_deref(), &meta, content_type, total, deadline),
        )
        .await
        .map_err(fail)?;
        let state = Mutex::new(Progress {
            offset: 0,
            best: 0,
            ask: false,
        });
        loop {
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "{what}: gave up after {} (the destination's `upload_deadline`) with {} of {total} bytes in Drive; nothing was left behind in the folder. Try again later (GitHub: Re-run jobs)",
                    crate::pipeline::human_duration(deadline_after),
                    state.lock().map(|p| p.best).unwrap_or(0)
                );
            }
            let step = retry("sending a chunk", Some(&s.auth), Some(deadline), || {
                step(s, &url, &state, &file, total, content_type, deadline)
            })
            .await;
            match step {
                Ok(Step::Done(up)) => return verify(up, total, &sha256, &what),
                Ok(Step::Progress(n)) => tracing::debug!(bytes = n, total, "Drive holds"),
                Err(f) if matches!(f.status(), Some(404) | Some(410)) && session < MAX_SESSIONS => {
                    tracing::warn!(
                        "Drive forgot the upload session; looking for the file, then starting over"
                    );
                    break;
                }
                Err(f) => return Err(fail(f)),
            }
        }
    }
    Err(fail(Failure::Other(format!(
        "Drive forgot the upload session {MAX_SESSIONS} times; nothing was left behind in the folder, try again later"
    ))))
}

/// One step: (after a failure) ask the session how much it has, then send the next
/// chunk. Succeeds only with progress beyond anything Drive held before, or the file.
async fn step(
    s: &Session,
    url: &str,
    state: &Mutex<Progress>,
    file: &tokio::sync::Mutex<tokio::fs::File>,
    total: u64,
    content_type: &str,
    deadline: Instant,
) -> Result<Step, Failure> {
    let (ask, offset) = {
        let p = state
            .lock()
            .map_err(|_| Failure::Other("poisoned".into()))?;
        (p.ask, p.offset)
    };
    let mark_failed = |f: Failure| {
        if let Ok(mut p) = state.lock() {
            p.ask = true;
        }
        f
    };
    let mut offset = offset;
    if ask || (offset == total && total > 0) {
        let r = send(
            s,
            Method::PUT,
            url,
            &[("content-range", format!("bytes */{total}"))],
            Bytes::new(),
            deadline,
        )
        .await
        .map_err(mark_failed)?;
        match answer(r, total).map_err(mark_failed)? {
            Answer::Done(up) => return Ok(Step::Done(up)),
            Answer::Has(got) => {
                if got < offset {
                    tracing::info!(
                        offset,
                        got,
                        "Drive kept less than was sent; resending from its offset"
                    );
                }
                offset = got;
                let mut p = state
                    .lock()
                    .map_err(|_| Failure::Other("poisoned".into()))?;
                p.offset = got;
                p.ask = false;
                if got == total {
                    // everything is there but the upload is not finished
                    p.ask = true;
                    return Err(Failure::Stalled(format!(
                        "Drive has all {total} bytes but does not finish the upload"
                    )));
                }
            }
        }
    }
    let len = (total - offset).min(s.chunk_size);
    let chunk = {
        let mut f = file.lock().await;
        read_chunk(&mut f, offset, len)
            .await
            .map_err(|e| Failure::Other(format!("cannot read the staged file: {e}")))?
    };
    let range = if total == 0 {
        format!("bytes */{total}")
    } else {
        format!("bytes {offset}-{}/{total}", offset + len - 1)
    };
    tracing::debug!(%range, "sending a chunk");
    let r = send(
        s,
        Method::PUT,
        url,
        &[
            ("content-range", range),
            ("content-type", content_type.to_string()),
        ],
        chunk,
        deadline,
    )
    .await
    .map_err(mark_failed)?;
    match answer(r, total).map_err(mark_failed)? {
        Answer::Done(up) => Ok(Step::Done(up)),
        Answer::Has(got) => {
            let mut p = state
                .lock()
                .map_err(|_| Failure::Other("poisoned".into()))?;
            p.offset = got;
            if got > p.best {
                p.best = got;
                p.ask = false;
                Ok(Step::Progress(got))
            } else {
                // answered, but no further than before: counts as a failed try
                p.ask = true;
                Err(Failure::Stalled(format!(
                    "Drive keeps no more than {got} of {total} bytes"
                )))
            }
        }
    }
}

enum Answer {
    Done(Uploaded),
    Has(u64),
}

/// Reads a session's answer: 200/201 (the file), 308 (how much it has), or a failure.
fn answer(r: (StatusCode, hyper::HeaderMap, Bytes), total: u64) -> Result<Answer, Failure> {
    let (status, headers, body) = r;
    if status == StatusCode::OK || status == StatusCode::CREATED {
        let up: Uploaded = serde_json::from_slice(&body).map_err(|e| {
            Failure::Other(format!(
                "Drive finished the upload but its answer is unreadable: {e}"
            ))
        })?;
        return Ok(Answer::Done(up));
    }
    if status == StatusCode::PERMANENT_REDIRECT {
        let got = received(&headers).map_err(Failure::Other)?;
        if got > total {
            return Err(Failure::Other(format!(
                "Drive says it has {got} bytes of a {total}-byte file"
            )));
        }
        return Ok(Answer::Has(got));
    }
    Err(Failure::from_response(status.as_u16(), &headers, &body))
}

/// Starts a resumable session; returns its URL. One try (the caller retries).
async fn start_session(
    s: &Session,
    existing: Option<&str>,
    meta: &serde_json::Value,
    content_type: &str,
    total: u64,
    deadline: Instant,
) -> Result<String, Failure> {
    let (method, url) = match existing {
        Some(id) => (
            Method::PATCH,
            format!(
                "{}upload/drive/v3/files/{id}?uploadType=resumable&supportsAllDrives=true&fields={FILE_FIELDS}",
                s.root_url
            ),
        ),
        None => (
            Method::POST,
            format!(
                "{}upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true&fields={FILE_FIELDS}",
                s.root_url
            ),
        ),
    };
    let body = Bytes::from(serde_json::to_vec(meta).map_err(|e| Failure::Other(e.to_string()))?);
    let headers = [
        (
            "content-type",
            "application/json; charset=UTF-8".to_string(),
        ),
        ("x-upload-content-type", content_type.to_string()),
        ("x-upload-content-length", total.to_string()),
    ];
    let (status, headers, body) = send(s, method, &url, &headers, body, deadline).await?;
    if !status.is_success() {
        return Err(Failure::from_response(status.as_u16(), &headers, &body));
    }
    let loc = headers
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Failure::Other("Drive started no upload session (no Location)".into()))?;
    // the token goes with every request: never to another host
    if !loc.starts_with(&s.root_url) {
        return Err(Failure::Other(format!(
            "Drive's upload session is at an unexpected address ({}); refusing to send the file there",
            loc.split('?').next().unwrap_or_default()
        )));
    }
    Ok(loc.to_string())
}

/// One request on the hub's client with the current token.
async fn send(
    s: &Session,
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: Bytes,
    deadline: Instant,
) -> Result<(StatusCode, hyper::HeaderMap, Bytes), Failure> {
    let token = super::auth::token(&s.auth, false).await?;
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            hyper::header::USER_AGENT,
            format!("sqlcourier/{}", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::CONTENT_LENGTH, body.len());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let req = req
        .body(Full::new(body).map_err(|never| match never {}).boxed())
        .map_err(|e| Failure::Other(e.to_string()))?;
    let exchange = async {
        let resp = s
            .client
            .request(req)
            .await
            .map_err(|e| Failure::Transport(crate::redact::cause_chain(&e)))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Failure::Transport(crate::redact::cause_chain(&e)))?
            .to_bytes();
        Ok((parts.status, parts.headers, body))
    };
    // no request outlives the file's deadline
    let limit = REQUEST_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
    match tokio::time::timeout(limit, exchange).await {
        Ok(r) => r.map_err(|f: Failure| match f {
            Failure::Transport(t) => Failure::Transport(crate::redact::scrub(&t)),
            f => f,
        }),
        Err(_) => Err(Failure::Transport(format!(
            "no answer within {}s",
            limit.as_secs()
        ))),
    }
}

/// How many bytes the session has, from a 308's `Range: bytes=0-n` (none: 0).
fn received(headers: &hyper::HeaderMap) -> Result<u64, String> {
    let Some(v) = headers.get(hyper::header::RANGE) else {
        return Ok(0);
    };
    let v = v
        .to_str()
        .map_err(|_| "Drive sent an unreadable Range".to_string())?;
    let last = v
        .strip_prefix("bytes=0-")
        .and_then(|n| n.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("Drive sent an unexpected Range: {v}"))?;
    Ok(last + 1)
}

async fn read_chunk(file: &mut tokio::fs::File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    file.seek(SeekFrom::Start(offset)).await?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}

async fn file_sha256(p: &Path) -> std::io::Result<String> {
    let mut f = tokio::fs::File::open(p).await?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Checks what Drive says it stored against the staged file.
fn verify(up: Uploaded, total: u64, sha256: &str, what: &str) -> Result<Uploaded> {
    if let Some(size) = up.size.as_deref().and_then(|s| s.parse::<u64>().ok())
        && size != total
    {
        anyhow::bail!("{what}: Drive stored {size} bytes of a {total}-byte file; run again");
    }
    if let Some(sum) = &up.sha256_checksum
        && !sum.eq_ignore_ascii_case(sha256)
    {
        anyhow::bail!(
            "{what}: the file Drive stored differs from the one sent (SHA-256); run again"
        );
    }
    Ok(up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_header_gives_the_next_offset() {
        let mut h = hyper::HeaderMap::new();
        assert_eq!(received(&h), Ok(0));
        h.insert(hyper::header::RANGE, "bytes=0-262143".parse().unwrap());
        assert_eq!(received(&h), Ok(262144));
        h.insert(hyper::header::RANGE, "bytes=5-9".parse().unwrap());
        assert!(received(&h).is_err());
    }
}
