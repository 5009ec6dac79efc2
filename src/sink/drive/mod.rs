//! The Google Drive sink: files go into one folder (in a shared drive, or a My Drive
//! folder shared with the service account), found again by their appProperties so a
//! re-run updates the same file.
//!
//! - `auth`: the service-account key and the one OAuth scope every call uses.
//! - `healthcheck`: before any query runs, the folder must exist, be writable, and be
//!   visible to nobody but the configured readers.
//! - `upload`: the resumable upload, with its own resume logic.
//! - `retry`: one `should_retry` for every request, backoff with jitter, plain-word errors.
//! - `prune`: trashes sqlcourier's files older than the destination's retention.
//! - `sheets`: the Google Sheets conversion and its cell limit.
//!
//! Metadata calls (files get/list/update, permissions list) go through google-drive3's
//! typed API, each with the explicit scope [`auth::SCOPE`] and `supportsAllDrives`.
//! The upload session is driven by hand on the same hyper client and the same token:
//! google-drive3 7 / google-apis-common 8 move on to the next chunk after a failed one
//! instead of resending it, panic on 0-byte uploads, and strip `null` from metadata
//! (so a stale appProperties key could never be removed).
//!
//! # Two runs of the same key at once
//!
//! A file is identified by `sqlcourier_key` = SHA-256 of (query path, variant, period).
//! Two runs of the same key that overlap (a re-run started while the first still
//! uploads) can both find no file and both create one: Drive has no "create if absent".
//! Then the folder holds two files with the same key. Nothing is lost — both hold the
//! same period's complete result — and the next run updates the oldest one and warns,
//! naming the duplicates' ids so an operator can trash them. If both find the same
//! file, each uploads a whole new content; the last to finish wins, and each upload is
//! complete (Drive never mixes two uploads). The workflows avoid overlap with a
//! `concurrency` group per query.

pub mod auth;
pub mod healthcheck;
pub mod prune;
pub mod retry;
pub mod sheets;
pub mod upload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use google_drive3::{DriveHub, common};
use hyper_util::client::legacy::connect::HttpConnector;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use self::retry::{Failure, RetryAfter};
use super::{Delivered, Delivery, Sink};
use crate::catalog::config::DriveConfig;

pub type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
pub type Hub = DriveHub<Connector>;
pub type Auth = yup_oauth2::authenticator::Authenticator<Connector>;

/// Google's API root. Tests point it at a local stand-in with `SQLCOURIER_DRIVE_ROOT_URL`,
/// which is honoured only for loopback addresses: data never goes elsewhere.
pub const GOOGLE_ROOT_URL: &str = "https://www.googleapis.com/";
pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
pub const SHEETS_MIME: &str = "application/vnd.google-apps.spreadsheet";
/// An Excel workbook (`format: xlsx`); with `convert_to_sheets` Drive converts it.
pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// appProperties key and value marking a file as sqlcourier's.
pub const MARK_KEY: &str = "sqlcourier";
pub const MARK_VALUE: &str = "1";
/// appProperties key holding the identity of a delivered file.
pub const ID_KEY: &str = "sqlcourier_key";
/// Drive's limit for one appProperties entry: key and value together, UTF-8 bytes.
pub const PROPERTY_MAX_BYTES: usize = 124;

pub struct DriveSink {
    /// The destination's name in sqlcourier.yaml.
    pub name: String,
    pub cfg: DriveConfig,
    root: PathBuf,
    session: OnceCell<Session>,
    /// The last passed folder check and when: reused for [`RECHECK_AFTER`].
    checked: tokio::sync::Mutex<Option<(tokio::time::Instant, healthcheck::Folder)>>,
}

/// How long a passed folder check (existence, storage, sharing) is trusted. The first
/// query of a run checks before the database is touched; a delivery later than this
/// checks again, because sharing may have changed while a long query ran.
pub const RECHECK_AFTER: Duration = Duration::from_secs(300);

/// What a connected sink holds: the typed hub, the authenticator, the raw client for
/// the upload session, and who the service account is.
pub struct Session {
    pub hub: Hub,
    pub auth: Auth,
    pub client: common::Client<Connector>,
    pub root_url: String,
    pub service_account: String,
    pub chunk_size: u64,
}

impl DriveSink {
    pub fn new(name: &str, cfg: DriveConfig, root: &Path) -> DriveSink {
        DriveSink {
            name: name.to_string(),
            cfg,
            root: root.to_path_buf(),
            session: OnceCell::new(),
            checked: tokio::sync::Mutex::new(None),
        }
    }

    /// The folder check, reused when it passed less than [`RECHECK_AFTER`] ago.
    pub async fn folder(&self) -> Result<healthcheck::Folder> {
        let mut checked = self.checked.lock().await;
        if let Some((at, f)) = checked.as_ref()
            && at.elapsed() < RECHECK_AFTER
        {
            return Ok(f.clone());
        }
        let s = self.session().await?;
        let f = healthcheck::check(s, &self.cfg).await?;
        *checked = Some((tokio::time::Instant::now(), f.clone()));
        Ok(f)
    }

    /// Connects once: reads the key, builds the clients. Fails with what to do.
    pub async fn session(&self) -> Result<&Session> {
        self.session
            .get_or_try_init(|| async {
                let key = auth::load_key(&self.cfg, &self.root)?;
                let service_account = key.client_email.clone();
                let root_url = root_url()?;
                let connector = connector()?;
                let auth = auth::authenticator(key, connector.clone()).await?;
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector);
                let mut hub = DriveHub::new(client.clone(), auth.clone());
                hub.root_url(root_url.clone());
                hub.base_url(format!("{root_url}drive/v3/"));
                hub.user_agent(format!("sqlcourier/{}", env!("CARGO_PKG_VERSION")));
                let mib = u64::from(self.cfg.chunk_size_mib.unwrap_or(8).clamp(1, 256));
                Ok::<_, anyhow::Error>(Session {
                    hub,
                    auth,
                    client,
                    root_url,
                    service_account,
                    chunk_size: mib * 1024 * 1024,
                })
            })
            .await
    }
}

fn root_url() -> Result<String> {
    let Ok(url) = std::env::var("SQLCOURIER_DRIVE_ROOT_URL") else {
        return Ok(GOOGLE_ROOT_URL.to_string());
    };
    let rest = url.strip_prefix("http://").unwrap_or_default();
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        anyhow::bail!(
            "SQLCOURIER_DRIVE_ROOT_URL may only point at this machine (a test stand-in, http://127.0.0.1:PORT/); unset it"
        );
    }
    Ok(if url.ends_with('/') {
        url
    } else {
        format!("{url}/")
    })
}

fn connector() -> Result<Connector> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| anyhow!("cannot load the system's CA certificates for HTTPS ({e}); install the ca-certificates package"))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build())
}

impl Session {
    /// Runs one typed google-drive3 call through [`retry::retry`]: until it succeeds or
    /// [`should_retry`](retry::should_retry) says stop; a 401 refreshes the token. `f`
    /// gets a fresh [`RetryAfter`] delegate for each try and must pass it to the call
    /// (`.delegate(&mut d)`), so that a `Retry-After` is honoured.
    pub async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn(RetryAfter) -> Fut,
        Fut: Future<Output = common::Result<(common::Response, T)>>,
    {
        self.call_raw(what, f)
            .await
            .map_err(|fail| retry::error(&fail, what, &self.service_account))
    }

    /// Like [`Session::call`], but returns the [`Failure`] (to look at its status).
    pub async fn call_raw<T, F, Fut>(&self, what: &str, f: F) -> Result<T, Failure>
    where
        F: Fn(RetryAfter) -> Fut,
        Fut: Future<Output = common::Result<(common::Response, T)>>,
    {
        retry::retry(what, Some(&self.auth), None, || async {
            let ra = RetryAfter::default();
            match f(ra.clone()).await {
                Ok((_, v)) => Ok(v),
                Err(e) => Err(Failure::from_common(&e, ra.take())),
            }
        })
        .await
    }

    /// An access token, tried like every request (the token endpoint's 429/5xx too).
    pub async fn token(&self) -> Result<String, Failure> {
        retry::retry("getting an access token", None, None, || {
            auth::token(&self.auth, false)
        })
        .await
    }
}

/// The appProperties that identify a delivered file and its provenance. A value that
/// does not fit Drive's 124-byte limit is replaced by `sha256:<hex>` of it (identity
/// keys) or left out (`None`, which clears an old value on update).
pub fn app_properties(d: &Delivery, delivered_at: &str) -> BTreeMap<&'static str, Option<String>> {
    let mut p = BTreeMap::new();
    p.insert(MARK_KEY, Some(MARK_VALUE.to_string()));
    p.insert(ID_KEY, Some(identity(d)));
    p.insert("query", Some(fit_or_hash("query", &d.query_path)));
    p.insert(
        "variant",
        d.variant.as_deref().map(|v| fit_or_hash("variant", v)),
    );
    p.insert(
        "period",
        d.period.as_deref().map(|v| fit_or_hash("period", v)),
    );
    p.insert("query_sha256", Some(d.query_sha256.clone()));
    p.insert("commit", d.commit.as_deref().and_then(|v| fit("commit", v)));
    p.insert(
        "run_url",
        d.run_url.as_deref().and_then(|v| fit("run_url", v)),
    );
    p.insert("rows", Some(d.rows.to_string()));
    p.insert("bytes", Some(d.bytes.to_string()));
    p.insert("delivered_at", Some(delivered_at.to_string()));
    p
}

/// The identity of a delivered file: SHA-256 of query path, variant and period.
pub fn identity(d: &Delivery) -> String {
    let mut h = Sha256::new();
    h.update(d.query_path.as_bytes());
    h.update([0]);
    h.update(d.variant.as_deref().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(d.period.as_deref().unwrap_or("").as_bytes());
    hex::encode(h.finalize())
}

fn fit(key: &str, value: &str) -> Option<String> {
    (key.len() + value.len() <= PROPERTY_MAX_BYTES).then(|| value.to_string())
}

fn fit_or_hash(key: &str, value: &str) -> String {
    fit(key, value).unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(value))))
}

/// The file's description: its provenance in words.
pub fn description(d: &Delivery, delivered_at: &str) -> String {
    let mut s = format!(
        "Delivered by sqlcourier. Do not edit: the next run replaces this file.\nQuery: {}\n",
        d.query_path
    );
    if let Some(v) = &d.variant {
        s.push_str(&format!("Variant: {v}\n"));
    }
    if let Some(p) = &d.period {
        s.push_str(&format!("Period: {p}\n"));
    }
    s.push_str(&format!("Rows: {}\nBytes: {}\n", d.rows, d.bytes));
    s.push_str(&format!("Query file SHA-256: {}\n", d.query_sha256));
    if let Some(c) = &d.commit {
        s.push_str(&format!("Commit: {c}\n"));
    }
    if let Some(u) = &d.run_url {
        s.push_str(&format!("Run: {u}\n"));
    }
    s.push_str(&format!("Delivered at: {delivered_at}\n"));
    s
}

/// A string for Drive's `q=` language, in single quotes.
pub fn q_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The `q=` selecting sqlcourier's files in `folder` (optionally: one identity).
pub fn q_ours(folder: &str, identity: Option<&str>) -> String {
    let mut q = format!(
        "{} in parents and trashed = false and appProperties has {{ key={} and value={} }}",
        q_quote(folder),
        q_quote(MARK_KEY),
        q_quote(MARK_VALUE)
    );
    if let Some(id) = identity {
        q.push_str(&format!(
            " and appProperties has {{ key={} and value={} }}",
            q_quote(ID_KEY),
            q_quote(id)
        ));
    }
    q
}

impl DriveSink {
    /// sqlcourier's files in the folder for the same variant and period whose query file
    /// no longer exists in the repository (renamed or deleted): one note each, saying
    /// what happens to it.
    async fn renamed_leftovers(
        &self,
        s: &Session,
        d: &Delivery,
        new_id: &str,
    ) -> Result<Vec<String>> {
        let ours = app_properties(d, "");
        let mut q = q_ours(&self.cfg.folder_id, None);
        for key in ["variant", "period"] {
            if let Some(Some(v)) = ours.get(key) {
                q.push_str(&format!(
                    " and appProperties has {{ key={} and value={} }}",
                    q_quote(key),
                    q_quote(v)
                ));
            }
        }
        let q = q.as_str();
        let list = s
            .call(
                "looking for files of renamed query files",
                |mut dlg| async move {
                    s.hub
                        .files()
                        .list()
                        .q(q)
                        .supports_all_drives(true)
                        .include_items_from_all_drives(true)
                        .page_size(100)
                        .param("fields", "files(id,name,appProperties)")
                        .add_scope(auth::SCOPE)
                        .delegate(&mut dlg)
                        .doit()
                        .await
                },
            )
            .await?;
        let mut notes = Vec::new();
        for f in list.files.unwrap_or_default() {
            let (Some(id), Some(props)) = (f.id.as_deref(), f.app_properties.as_ref()) else {
                continue;
            };
            let Some(old_query) = props.get("query") else {
                continue;
            };
            // same variant: a file without one matches only a delivery without one
            if props.get("variant").map(String::as_str) != ours["variant"].as_deref()
                || props.get("period").map(String::as_str) != ours["period"].as_deref()
            {
                continue;
            }
            if id == new_id
                || Some(old_query.as_str()) == ours["query"].as_deref()
                || old_query.starts_with("sha256:")
                || self.root.join(old_query).exists()
            {
                continue;
            }
            let name = f.name.as_deref().unwrap_or("?");
            notes.push(match self.cfg.retention_days {
                Some(days) => format!(
                    "the earlier file \"{name}\" (id {id}) came from {old_query}, which no longer exists (renamed?); it is kept, and `sqlcourier prune` trashes it {days} days after its last delivery"
                ),
                None => format!(
                    "the earlier file \"{name}\" (id {id}) came from {old_query}, which no longer exists (renamed?); it is kept — this destination has no `retention_days`, so trash it in Drive if it is no longer needed"
                ),
            });
        }
        Ok(notes)
    }
}

impl Sink for DriveSink {
    fn describe(&self) -> String {
        format!("Google Drive folder {}", self.cfg.folder_id)
    }

    async fn healthcheck(&self) -> Result<()> {
        self.folder().await.map(|_| ())
    }

    async fn prune(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        dry_run: bool,
    ) -> Result<super::PruneOutcome> {
        if self.cfg.retention_days.is_none() {
            return Ok(super::PruneOutcome::NotApplicable(
                "no retention_days, nothing to prune".into(),
            ));
        }
        Ok(super::PruneOutcome::Done(
            prune::prune(self, now, dry_run)
                .await?
                .into_iter()
                .map(|e| super::Pruned {
                    id: e.id,
                    name: e.name,
                    modified: e.modified,
                })
                .collect(),
        ))
    }

    async fn deliver(&self, staged: &Path, d: &Delivery) -> Result<Delivered> {
        let s = self.session().await?;
        if self.cfg.convert_to_sheets {
            sheets::check(staged, d)?;
        }
        // sharing may have changed while a long query ran: look again unless the last
        // check is recent (RECHECK_AFTER)
        let folder = self.folder().await?;
        let delivered_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let id = identity(d);
        let target = upload::Target {
            folder: &self.cfg.folder_id,
            drive_id: folder.drive_id.as_deref(),
            identity: &id,
        };
        let existing = upload::find_existing(s, &target).await?.map(|f| f.id);
        let mut meta = serde_json::json!({
            "name": if self.cfg.convert_to_sheets { sheets::sheet_name(&d.file_name) } else { d.file_name.clone() },
            "description": description(d, &delivered_at),
            "appProperties": app_properties(d, &delivered_at),
        });
        if existing.is_none() {
            meta["parents"] = serde_json::json!([self.cfg.folder_id]);
            if self.cfg.convert_to_sheets {
                meta["mimeType"] = serde_json::json!(SHEETS_MIME);
            }
        }
        let content_type = if d.file_name.ends_with(".gz") {
            "application/gzip"
        } else if d.file_name.ends_with(".xlsx") {
            XLSX_MIME
        } else {
            "text/csv"
        };
        let file = upload::upload(
            s,
            staged,
            &target,
            existing.as_deref(),
            &meta,
            content_type,
            &d.file_name,
            self.cfg.upload_deadline(),
        )
        .await?;
        tracing::info!(file = %d.file_name, id = %file.id, updated = existing.is_some(), "uploaded to Google Drive");
        // a new file: was it made because its query file was renamed? Say what happens
        // to the old one (best effort: a failed look-up does not fail the delivery)
        let notes = if existing.is_none() {
            self.renamed_leftovers(s, d, &file.id)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Delivered {
            location: file
                .web_view_link
                .unwrap_or_else(|| format!("https://drive.google.com/file/d/{}/view", file.id)),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(path: &str) -> Delivery {
        Delivery {
            file_name: "a.csv".into(),
            query_path: path.into(),
            variant: Some("tokyo".into()),
            period: Some("2026-10".into()),
            query_sha256: "ab".repeat(32),
            commit: Some("c".repeat(40)),
            run_url: None,
            rows: 3,
            columns: 2,
            bytes: 10,
        }
    }

    #[test]
    fn properties_fit_drive_limit_and_long_paths_are_hashed() {
        let long = format!("queries/{}.sql", "x".repeat(200));
        let p = app_properties(&delivery(&long), "2026-11-01T00:00:00Z");
        for (k, v) in &p {
            let n = k.len() + v.as_deref().map_or(0, str::len);
            assert!(n <= PROPERTY_MAX_BYTES, "{k} is {n} bytes");
        }
        assert!(p["query"].as_deref().unwrap().starts_with("sha256:"));
        assert_eq!(p["run_url"], None);
        assert_eq!(p[MARK_KEY].as_deref(), Some("1"));
        let short = app_properties(&delivery("queries/a.sql"), "t");
        assert_eq!(short["query"].as_deref(), Some("queries/a.sql"));
        assert_ne!(short[ID_KEY], p[ID_KEY]);
    }

    #[test]
    fn q_quotes_safely() {
        assert_eq!(q_quote("it's"), "'it\\'s'");
        let q = q_ours("F1", Some("abc"));
        assert!(q.starts_with("'F1' in parents and trashed = false"), "{q}");
        assert!(
            q.ends_with("appProperties has { key='sqlcourier_key' and value='abc' }"),
            "{q}"
        );
    }
}
