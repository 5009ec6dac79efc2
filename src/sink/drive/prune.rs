//! Retention: trash sqlcourier's files whose last delivery is older than the
//! destination's `retention_days`. Only files carrying sqlcourier's appProperties
//! (`sqlcourier=1`, in the folder itself) are ever touched; trashed files stay in
//! Drive's trash for 30 days.

use anyhow::Result;
use chrono::{DateTime, Utc};
use google_drive3::api::File;

use super::auth::SCOPE;
use super::{DriveSink, MARK_KEY, MARK_VALUE, q_ours};

/// One file past its retention.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Expired {
    pub id: String,
    pub name: String,
    pub modified: String,
}

/// Lists sqlcourier's files in the folder last updated before `now - retention_days`;
/// trashes them unless `dry_run`. Returns them (trashed or not).
pub async fn prune(sink: &DriveSink, now: DateTime<Utc>, dry_run: bool) -> Result<Vec<Expired>> {
    let Some(days) = sink.cfg.retention_days else {
        return Ok(Vec::new());
    };
    let s = sink.session().await?;
    let folder = super::healthcheck::check(s, &sink.cfg).await?;
    // checked: a retention longer than any calendar (retention_days: 4294967295) keeps
    // everything instead of overflowing
    let Some(cutoff) =
        chrono::Duration::try_days(i64::from(days)).and_then(|d| now.checked_sub_signed(d))
    else {
        return Ok(Vec::new());
    };
    let q = q_ours(&sink.cfg.folder_id, None);
    let mut expired = Vec::new();
    let mut page: Option<String> = None;
    let q = q.as_str();
    let drive_id = folder.drive_id.as_deref();
    // every page, but not forever
    for _ in 0..MAX_PAGES {
        let token = page.as_deref();
        let list = s
            .call(
                "listing sqlcourier's files in the Drive folder",
                |mut d| async move {
                    let mut c = s
                    .hub
                    .files()
                    .list()
                    .q(q)
                    .supports_all_drives(true)
                    .include_items_from_all_drives(true)
                    .page_size(100)
                    .param(
                        "fields",
                        "nextPageToken,files(id,name,modifiedTime,parents,trashed,appProperties)",
                    )
                    .add_scope(SCOPE);
                    c = match drive_id {
                        Some(d) => c.corpora("drive").drive_id(d),
                        None => c.corpora("user"),
                    };
                    if let Some(t) = token {
                        c = c.page_token(t);
                    }
                    c.delegate(&mut d).doit().await
                },
            )
            .await?;
        for f in list.files.unwrap_or_default() {
            if is_ours(&f, &sink.cfg.folder_id)
                && let (Some(id), Some(m)) = (f.id.clone(), f.modified_time)
                && m < cutoff
            {
                expired.push(Expired {
                    id,
                    name: f.name.clone().unwrap_or_default(),
                    modified: m.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                });
            }
        }
        match list.next_page_token {
            Some(t) if !t.is_empty() && page.as_deref() != Some(t.as_str()) => page = Some(t),
            _ => break,
        }
    }
    if !dry_run {
        for e in &expired {
            let what = format!("trashing {} ({})", e.name, e.id);
            let id = e.id.as_str();
            s.call(&what, |mut d| async move {
                s.hub
                    .files()
                    .update(
                        File {
                            trashed: Some(true),
                            ..Default::default()
                        },
                        id,
                    )
                    .supports_all_drives(true)
                    .param("fields", "id,trashed")
                    .add_scope(SCOPE)
                    .delegate(&mut d)
                    .doit_without_upload()
                    .await
            })
            .await?;
            tracing::info!(file = %e.name, id = %e.id, "trashed (past retention)");
        }
    }
    Ok(expired)
}

/// The most pages of files read (100 each).
const MAX_PAGES: usize = 1000;

/// Double-checks what the search said: marked by sqlcourier, in this folder, not trashed.
fn is_ours(f: &File, folder: &str) -> bool {
    f.app_properties
        .as_ref()
        .and_then(|p| p.get(MARK_KEY))
        .is_some_and(|v| v == MARK_VALUE)
        && f.parents
            .as_ref()
            .is_some_and(|p| p.iter().any(|x| x == folder))
        && f.trashed != Some(true)
}
