//! The logical time periods are computed from. Under GitHub Actions it is the workflow
//! run's ORIGINAL creation time (read through the API), which every re-run attempt
//! keeps, so a re-run repeats the same period; never "now".

use chrono::{DateTime, FixedOffset, Utc};

use super::GitHub;

/// `--as-of`, else the workflow run's original creation time, else (outside GitHub
/// Actions only) now. The second value says where the time came from, in words.
pub async fn logical_time(
    as_of: Option<DateTime<FixedOffset>>,
) -> anyhow::Result<(DateTime<Utc>, String)> {
    if let Some(t) = as_of {
        return Ok((t.with_timezone(&Utc), "given by --as-of".into()));
    }
    let run_id = std::env::var("GITHUB_RUN_ID")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let Some(run_id) = run_id else {
        return Ok((
            Utc::now(),
            "now (GITHUB_RUN_ID is not set, so this is not a workflow run; pass --as-of or --period to choose)".into(),
        ));
    };
    let id: u64 = run_id
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("GITHUB_RUN_ID `{run_id}` is not a number"))?;
    let gh = GitHub::from_env()?;
    let run = gh.workflow_run(id).await?;
    let attempt = std::env::var("GITHUB_RUN_ATTEMPT").unwrap_or_else(|_| "?".into());
    Ok((
        run.created_at,
        format!(
            "the original creation time of workflow run {id} (this is attempt {attempt}; re-runs keep it, so they repeat the same period)"
        ),
    ))
}
