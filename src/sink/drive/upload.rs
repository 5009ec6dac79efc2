//! The resumable upload, driven by hand (see the module docs of `drive` for why).
//!
//! 1. Start a session: `POST /upload/drive/v3/files?uploadType=resumable` (a new file) or
//!    `PATCH /upload/drive/v3/files/{id}?uploadType=resumable` (new content for the same
//!    file id), metadata as JSON; Drive answers with the session URL in `Location`.
//! 2. Send the file in chunks (`PUT`, `Content-Range: bytes a-b/total`), each read from
//!    the staged file when it is sent: memory is one chunk, whatever the file size.
//!    Drive answers 308 with `Range: bytes=0-n` until the last chunk, then 200/201.
//! 3. On a dropped connection, 429 or 5xx: wait (backoff + jitter), ask the session how
//!    much it has (`PUT`, empty, `Content-Range: bytes */total`) and resend from there.
//!    On 401: refresh the token and ask again. A session Drive forgot (404/410) starts
//!    over with a new session. [`should_retry`] decides every step.

use std::io::SeekFrom;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::auth::{self, SCOPE};
use super::retry::{Decision, Failure, MAX_RETRIES, backoff, explain, should_retry};
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

/// The id of the file already delivered for `identity` in the folder, if any (the
/// oldest, when a race made two: see the module docs of `drive`).
pub async fn find_existing(
    s: &Session,
    folder: &str,
    drive_id: Option<&str>,
    identity: &str,
) -> Result<Option<String>> {
    let q = q_ours(folder, Some(identity));
    let list = s
        .call(
            "looking for an earlier delivery of this file in Drive",
            || {
                let mut c = s
                    .hub
                    .files()
                    .list()
                    .q(&q)
                    .supports_all_drives(true)
                    .include_items_from_all_drives(true)
                    .order_by("createdTime")
                    .page_size(10)
                    .param("fields", "files(id,name,createdTime,appProperties)")
                    .add_scope(SCOPE);
                c = match drive_id {
                    Some(d) => c.corpora("drive").drive_id(d),
                    None => c.corpora("user"),
                };
                c.doit()
            },
        )
        .await?;
    let files = list.files.unwrap_or_default();
    let ids: Vec<String> = files.iter().filter_map(|f| f.id.clone()).collect();
    if ids.len() > 1 {
        tracing::warn!(
            keep = %ids[0],
            duplicates = %ids[1..].join(","),
            "two runs of the same query, variant and period created duplicate files; updating the oldest — trash the others"
        );
    }
    Ok(ids.into_iter().next())
}

/// Uploads `staged` as the content of `existing` (same id, same link) or of a new file
/// described by `meta`. Returns once Drive holds the whole file.
pub async fn upload(
    s: &Session,
    staged: &Path,
    existing: Option<&str>,
    meta: &serde_json::Value,
    content_type: &str,
    file_name: &str,
) -> Result<Uploaded> {
    let what = format!("uploading {file_name} to Google Drive");
    let fail = |f: Failure| anyhow!(explain(&f, &what, &s.service_account));
    let total = tokio::fs::metadata(staged)
        .await
        .map_err(|e| anyhow!("{what}: cannot read the staged file: {e}"))?
        .len();
    let sha256 = file_sha256(staged)
        .await
        .map_err(|e| anyhow!("{what}: cannot read the staged file: {e}"))?;
    let mut file = tokio::fs::File::open(staged)
        .await
        .map_err(|e| anyhow!("{what}: cannot open the staged file: {e}"))?;

    let mut sessions = 0;
    'session: loop {
        sessions += 1;
        let url = start_session(s, existing, meta, content_type, total)
            .await
            .map_err(fail)?;
        let mut offset: u64 = 0;
        let mut ask_first = false;
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            let result = if ask_first {
                send(
                    s,
                    Method::PUT,
                    &url,
                    &[("content-range", format!("bytes */{total}"))],
                    Bytes::new(),
                )
                .await
            } else {
                let len = (total - offset).min(s.chunk_size);
                let chunk = read_chunk(&mut file, offset, len)
                    .await
                    .map_err(|e| anyhow!("{what}: cannot read the staged file: {e}"))?;
                let range = if total == 0 {
                    format!("bytes */{total}")
                } else {
                    format!("bytes {offset}-{}/{total}", offset + len - 1)
                };
                tracing::debug!(%range, "sending a chunk");
                send(
                    s,
                    Method::PUT,
                    &url,
                    &[
                        ("content-range", range),
                        ("content-type", content_type.to_string()),
                    ],
                    chunk,
                )
                .await
            };
            let f = match result {
                Ok((status, headers, body))
                    if status == StatusCode::OK || status == StatusCode::CREATED =>
                {
                    let up: Uploaded = serde_json::from_slice(&body).map_err(|e| {
                        anyhow!(
                            "{what}: Drive finished the upload but its answer is unreadable: {e}"
                        )
                    })?;
                    let _ = headers;
                    return verify(up, total, &sha256, &what);
                }
                Ok((status, headers, _)) if status == StatusCode::PERMANENT_REDIRECT => {
                    let got = received(&headers).map_err(|e| anyhow!("{what}: {e}"))?;
                    if got > total {
                        anyhow::bail!(
                            "{what}: Drive says it has {got} bytes of a {total}-byte file"
                        );
                    }
                    if got < offset && !ask_first {
                        tracing::info!(
                            offset,
                            got,
                            "Drive kept less than was sent; resending from its offset"
                        );
                    }
                    if got > offset || ask_first {
                        attempt = 0;
                    }
                    offset = got;
                    ask_first = false;
                    if offset == total && total > 0 {
                        // everything is there but the upload is not finished: ask again
                        if attempt >= MAX_RETRIES {
                            anyhow::bail!(
                                "{what}: Drive has all {total} bytes but does not finish the upload; run again"
                            );
                        }
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                        ask_first = true;
                    }
                    continue;
                }
                Ok((status, _, body)) => Failure::from_status(status.as_u16(), &body),
                Err(f) => f,
            };
            if matches!(f.status(), Some(404) | Some(410)) && sessions < MAX_SESSIONS {
                tracing::warn!("Drive forgot the upload session; starting the upload over");
                continue 'session;
            }
            match should_retry(&f) {
                Decision::Retry if attempt < MAX_RETRIES => {
                    tracing::warn!(error = %crate::redact::scrub(&format!("{f:?}")), offset, attempt, "upload request failed; asking Drive how much it has, then resuming");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                    ask_first = true;
                }
                Decision::RefreshToken if !refreshed => {
                    tracing::info!("access token refused; getting a fresh one");
                    refreshed = true;
                    auth::token(&s.auth, true).await.map_err(fail)?;
                    ask_first = true;
                }
                _ => return Err(fail(f)),
            }
        }
    }
}

/// Starts a resumable session; returns its URL. Retried like every request.
async fn start_session(
    s: &Session,
    existing: Option<&str>,
    meta: &serde_json::Value,
    content_type: &str,
    total: u64,
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
    let mut attempt = 0;
    let mut refreshed = false;
    loop {
        let f = match send(s, method.clone(), &url, &headers, body.clone()).await {
            Ok((status, headers, _)) if status.is_success() => {
                let loc = headers
                    .get(hyper::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        Failure::Other("Drive started no upload session (no Location)".into())
                    })?;
                // the token goes with every request: never to another host
                if !loc.starts_with(&s.root_url) {
                    return Err(Failure::Other(format!(
                        "Drive's upload session is at an unexpected address ({}); refusing to send the file there",
                        loc.split('?').next().unwrap_or_default()
                    )));
                }
                return Ok(loc.to_string());
            }
            Ok((status, _, body)) => Failure::from_status(status.as_u16(), &body),
            Err(f) => f,
        };
        match should_retry(&f) {
            Decision::Retry if attempt < MAX_RETRIES => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            Decision::RefreshToken if !refreshed => {
                refreshed = true;
                auth::token(&s.auth, true).await?;
            }
            _ => return Err(f),
        }
    }
}

/// One request on the hub's client with the current token.
async fn send(
    s: &Session,
    method: Method,
    url: &str,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<(StatusCode, hyper::HeaderMap, Bytes), Failure> {
    let token = auth::token(&s.auth, false).await?;
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
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(r) => r.map_err(|f: Failure| match f {
            Failure::Transport(t) => Failure::Transport(crate::redact::scrub(&t)),
            f => f,
        }),
        Err(_) => Err(Failure::Transport(format!(
            "no answer within {}s",
            REQUEST_TIMEOUT.as_secs()
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
