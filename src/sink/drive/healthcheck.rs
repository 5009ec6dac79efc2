//! Before any query runs (and again right before each upload): the folder exists, is a
//! folder, the service account can add files to it, and nobody but the configured
//! readers can see it. Fails closed: a permission sqlcourier cannot place is refused.
//!
//! Allowed, besides `readers`: the service account itself. Nobody else is implied —
//! the folder's owner (My Drive) and the shared drive's members can open every file,
//! so they must be listed in `readers` too.

use anyhow::Result;
use google_drive3::api::Permission;

use super::auth::SCOPE;
use super::{FOLDER_MIME, Session};
use crate::catalog::config::{DriveConfig, Readers};

/// What the healthcheck learned about the folder.
#[derive(Debug, Clone)]
pub struct Folder {
    pub name: String,
    /// The shared drive holding the folder; `None` in a My Drive.
    pub drive_id: Option<String>,
}

pub async fn check(s: &Session, cfg: &DriveConfig) -> Result<Folder> {
    let id = cfg.folder_id.as_str();
    // a token first: a bad key or token endpoint is said as such, not as "not found"
    s.token()
        .await
        .map_err(|f| super::retry::error(&f, "signing in to Google", &s.service_account))?;
    let what = format!("reading the Drive folder {id}");
    let file = s
        .call_raw(&what, |mut d| async move {
            s.hub
                .files()
                .get(id)
                .supports_all_drives(true)
                .param(
                    "fields",
                    "id,name,mimeType,trashed,driveId,capabilities(canAddChildren)",
                )
                .add_scope(SCOPE)
                .delegate(&mut d)
                .doit()
                .await
        })
        .await
        .map_err(|f| {
            if f.is_not_found() {
                crate::failure::failure(
                    crate::failure::FailureKind::Configuration,
                    format!(
                        "the Drive folder {id} was not found, or the service account {} cannot see it; check `folder_id` and add the service account to the shared drive (or share the folder with it)",
                        s.service_account
                    ),
                )
            } else {
                super::retry::error(&f, &what, &s.service_account)
            }
        })?;
    let name = file.name.clone().unwrap_or_default();
    if file.mime_type.as_deref() != Some(FOLDER_MIME) {
        anyhow::bail!(
            "{id} (\"{name}\") is a file, not a folder; set `folder_id` to the folder's id (the part after /folders/ in its link)"
        );
    }
    if file.trashed == Some(true) {
        anyhow::bail!(
            "the Drive folder \"{name}\" ({id}) is in the trash; restore it or use another folder"
        );
    }
    let can_add = file
        .capabilities
        .as_ref()
        .and_then(|c| c.can_add_children)
        .unwrap_or(false);
    if !can_add {
        anyhow::bail!(
            "the service account {} cannot add files to the Drive folder \"{name}\" ({id}); make it Content manager of the shared drive (or Editor of the folder)",
            s.service_account
        );
    }
    // storage, before any database is touched: a file a service account creates outside
    // a shared drive counts against the service account's own storage, which is none
    if file.drive_id.as_deref().is_none_or(str::is_empty) {
        anyhow::bail!(
            "the Drive folder \"{name}\" ({id}) is in someone's My Drive, not in a shared drive: files the service account {} creates there would count against its own storage, and a service account has none, so every upload would fail. Move the folder into a shared drive (or use a folder in one) and add the service account to that shared drive as Content manager",
            s.service_account
        );
    }
    storage(s, id, &name).await?;

    let perms = list_permissions(s, id).await?;
    let unexpected = unexpected(&perms, &cfg.readers, &s.service_account);
    if !unexpected.is_empty() {
        anyhow::bail!(
            "refusing to deliver: the Drive folder \"{name}\" ({id}) can be seen by people who are not in its `readers`:\n{}\nremove them in Drive (Share → General access: Restricted; remove the people), or — if the data owner agrees — add them to `readers` in sqlcourier.yaml",
            unexpected
                .iter()
                .map(|u| format!("  - {u}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(Folder {
        name,
        drive_id: file.drive_id,
    })
}

/// The storage the uploads would use (`about.storageQuota`: the organisation's pooled
/// storage for a shared drive) must not be full. No limit given means unlimited.
async fn storage(s: &Session, id: &str, name: &str) -> Result<()> {
    let about = s
        .call("reading the Drive storage quota", |mut d| async move {
            s.hub
                .about()
                .get()
                .param("fields", "storageQuota(limit,usage)")
                .add_scope(SCOPE)
                .delegate(&mut d)
                .doit()
                .await
        })
        .await?;
    let q = about.storage_quota.unwrap_or_default();
    if let (Some(limit), Some(usage)) = (q.limit, q.usage)
        && limit > 0
        && usage >= limit
    {
        anyhow::bail!(
            "the storage of the Drive holding the folder \"{name}\" ({id}) is full ({usage} of {limit} bytes used), so the upload would fail after the query ran; free space (empty the trash, run `sqlcourier prune`) or ask the Google Workspace administrator for more storage"
        );
    }
    Ok(())
}

async fn list_permissions(s: &Session, id: &str) -> Result<Vec<Permission>> {
    let mut all = Vec::new();
    let mut page: Option<String> = None;
    // every page, but not forever: a server that keeps sending the same token is refused
    for _ in 0..MAX_PAGES {
        let what = format!("reading the sharing of the Drive folder {id}");
        let token = page.as_deref();
        let list = s
            .call(&what, |mut d| async move {
                let mut c = s
                    .hub
                    .permissions()
                    .list(id)
                    .supports_all_drives(true)
                    .page_size(100)
                    .param(
                        "fields",
                        "nextPageToken,permissions(id,type,role,emailAddress,domain,deleted,displayName)",
                    )
                    .add_scope(SCOPE);
                if let Some(t) = token {
                    c = c.page_token(t);
                }
                c.delegate(&mut d).doit().await
            })
            .await?;
        all.extend(list.permissions.unwrap_or_default());
        match list.next_page_token {
            Some(t) if !t.is_empty() && page.as_deref() != Some(t.as_str()) => page = Some(t),
            Some(t) if !t.is_empty() => anyhow::bail!(
                "reading the sharing of the Drive folder {id}: Drive sent the same page twice; try again later"
            ),
            _ => return Ok(all),
        }
    }
    anyhow::bail!(
        "the Drive folder {id} has more than {} permissions; sqlcourier refuses a folder shared that widely",
        MAX_PAGES * 100
    )
}

/// The most permission pages read (100 each).
const MAX_PAGES: usize = 100;

/// The permissions outside `readers` (and the service account), in words.
pub fn unexpected(perms: &[Permission], readers: &Readers, service_account: &str) -> Vec<String> {
    let has = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v));
    let mut out = Vec::new();
    for p in perms {
        let kind = p.type_.as_deref().unwrap_or("");
        let role = p.role.as_deref().unwrap_or("?");
        let email = p.email_address.as_deref().unwrap_or("");
        let domain = p.domain.as_deref().unwrap_or("");
        let ok = match kind {
            "user" => {
                p.deleted != Some(true)
                    && (email.eq_ignore_ascii_case(service_account) || has(&readers.users, email))
            }
            "group" => p.deleted != Some(true) && has(&readers.groups, email),
            "domain" => has(&readers.domains, domain),
            _ => false,
        };
        if ok {
            continue;
        }
        out.push(match kind {
            "anyone" => format!("anyone with the link (link sharing is on), as {role}"),
            "user" | "group" => format!(
                "{kind} {} as {role}{}",
                if email.is_empty() {
                    "(no address)"
                } else {
                    email
                },
                if p.deleted == Some(true) {
                    " (deleted account)"
                } else {
                    ""
                }
            ),
            "domain" => format!("everyone in the domain {domain}, as {role}"),
            other => format!(
                "a permission of type `{other}` (id {}), as {role}",
                p.id.as_deref().unwrap_or("?")
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(kind: &str, email: &str, domain: &str) -> Permission {
        Permission {
            type_: Some(kind.into()),
            role: Some("reader".into()),
            email_address: (!email.is_empty()).then(|| email.to_string()),
            domain: (!domain.is_empty()).then(|| domain.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn only_configured_readers_and_the_service_account_pass() {
        let readers = Readers {
            users: vec!["Ann@Example.com".into()],
            groups: vec!["ops@example.com".into()],
            domains: vec!["example.com".into()],
        };
        let sa = "sa@p.iam.gserviceaccount.com";
        let ok = [
            perm("user", "ann@example.com", ""),
            perm("user", sa, ""),
            perm("group", "ops@example.com", ""),
            perm("domain", "", "example.com"),
        ];
        assert!(unexpected(&ok, &readers, sa).is_empty());
        let bad = [
            perm("anyone", "", ""),
            perm("user", "eve@example.org", ""),
            perm("group", "all@example.com", ""),
            perm("domain", "", "example.org"),
        ];
        let u = unexpected(&bad, &readers, sa);
        assert_eq!(u.len(), 4, "{u:?}");
        assert!(u[0].contains("link sharing"));
        assert!(u[1].contains("eve@example.org"));
    }
}
