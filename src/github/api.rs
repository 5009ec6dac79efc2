//! What the workflows need from the GitHub REST API, through octocrab:
//!
//! - the workflow run's ORIGINAL creation time (`GET /repos/{o}/{r}/actions/runs/{id}`),
//!   which a re-run (run_attempt 2, 3, …) keeps, so a re-run repeats the same period;
//! - the pull requests of a commit (`GET /repos/{o}/{r}/commits/{sha}/pulls`);
//! - one comment per pull request and marker, created once and then updated in place
//!   (`GET/POST /repos/{o}/{r}/issues/{n}/comments`,
//!   `PATCH /repos/{o}/{r}/issues/comments/{id}`).
//!
//! The client is configured from the variables GitHub Actions sets: `GITHUB_TOKEN`,
//! `GITHUB_REPOSITORY` and `GITHUB_API_URL` (the base URL; tests point it at a local
//! stand-in). Responses are read into small structs holding only the fields used here,
//! so a field GitHub adds, drops or nulls elsewhere in a payload cannot break a run.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use octocrab::{Octocrab, Page};
use serde::Deserialize;

/// The default REST base URL (github.com).
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// GitHub refuses comment bodies longer than this (in characters).
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// A GitHub REST client for one repository.
pub struct GitHub {
    crab: Octocrab,
    owner: String,
    repo: String,
}

/// The parts of a workflow run sqlcourier reads.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    /// When the run was first created; unchanged by "Re-run jobs".
    pub created_at: DateTime<Utc>,
    /// When this attempt started; changes with every re-run.
    #[serde(default)]
    pub run_started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub event: Option<String>,
}

/// The parts of a workflow job sqlcourier reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    /// As shown in the UI; a job of a called workflow is `caller / callee`.
    pub name: String,
    /// `success`, `failure`, `cancelled`, …; `None` while it runs.
    #[serde(default)]
    pub conclusion: Option<String>,
}

/// The parts of a pull request sqlcourier reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct IssueComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
}

/// What [`GitHub::upsert_comment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    Created {
        id: u64,
        url: Option<String>,
    },
    Updated {
        id: u64,
        url: Option<String>,
    },
    /// The marked comment already had this body; nothing was sent.
    Unchanged {
        id: u64,
        url: Option<String>,
    },
}

impl GitHub {
    /// A client from `GITHUB_TOKEN`, `GITHUB_REPOSITORY` and `GITHUB_API_URL`.
    pub fn from_env() -> Result<GitHub> {
        let token = non_empty_env("GITHUB_TOKEN").ok_or_else(|| {
            anyhow!(
                "GITHUB_TOKEN is not set: give the step `env: GITHUB_TOKEN: ${{{{ github.token }}}}`"
            )
        })?;
        let repository = non_empty_env("GITHUB_REPOSITORY").ok_or_else(|| {
            anyhow!("GITHUB_REPOSITORY is not set (GitHub Actions sets it to owner/name)")
        })?;
        let api = non_empty_env("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string());
        GitHub::new(&api, &token, &repository)
    }

    pub fn new(api_url: &str, token: &str, repository: &str) -> Result<GitHub> {
        crate::redact::register(token);
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(o, r)| safe_segment(o) && safe_segment(r))
            .ok_or_else(|| anyhow!("GITHUB_REPOSITORY `{repository}` is not owner/name"))?;
        let crab = Octocrab::builder()
            .base_uri(api_url)
            .with_context(|| format!("GITHUB_API_URL `{api_url}` is not a URL"))?
            .personal_token(token.to_string())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .set_write_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| anyhow!("cannot set up the GitHub client: {}", describe(&e)))?;
        Ok(GitHub {
            crab,
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }

    fn route(&self, rest: &str) -> String {
        format!("/repos/{}/{}/{rest}", self.owner, self.repo)
    }

    /// `GET /repos/{o}/{r}/actions/runs/{run_id}`.
    pub async fn workflow_run(&self, run_id: u64) -> Result<WorkflowRun> {
        self.crab
            .get(self.route(&format!("actions/runs/{run_id}")), None::<&()>)
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot read workflow run {run_id} of {}/{}: {} (the job needs `permissions: actions: read`)",
                    self.owner,
                    self.repo,
                    describe(&e)
                )
            })
    }

    /// `GET /repos/{o}/{r}/actions/runs?created=>=…`: the workflow runs (of every
    /// workflow) created at or after `since`, newest first, at most 1,000.
    pub async fn runs_since(&self, since: DateTime<Utc>) -> Result<Vec<WorkflowRun>> {
        #[derive(Deserialize)]
        struct Runs {
            #[serde(default)]
            workflow_runs: Vec<WorkflowRun>,
        }
        let created = format!(">={}", since.format("%Y-%m-%dT%H:%M:%SZ"));
        let mut all = Vec::new();
        for page in 1..=10u32 {
            let page = page.to_string();
            let got: Runs = self
                .crab
                .get(
                    self.route("actions/runs"),
                    Some(&[
                        ("created", created.as_str()),
                        ("per_page", "100"),
                        ("page", page.as_str()),
                        ("exclude_pull_requests", "true"),
                    ]),
                )
                .await
                .map_err(|e| {
                    anyhow!(
                        "cannot list the workflow runs since {since}: {} (the job needs `permissions: actions: read`)",
                        describe(&e)
                    )
                })?;
            let n = got.workflow_runs.len();
            all.extend(got.workflow_runs);
            if n < 100 {
                break;
            }
        }
        Ok(all)
    }

    /// `GET /repos/{o}/{r}/actions/runs/{id}/jobs?filter=all`: the jobs of every
    /// attempt of a run (a job that failed and then passed on a re-run is listed twice).
    pub async fn run_jobs(&self, run_id: u64) -> Result<Vec<Job>> {
        #[derive(Deserialize)]
        struct Jobs {
            #[serde(default)]
            jobs: Vec<Job>,
        }
        let mut all = Vec::new();
        for page in 1..=20u32 {
            let page = page.to_string();
            let got: Jobs = self
                .crab
                .get(
                    self.route(&format!("actions/runs/{run_id}/jobs")),
                    Some(&[
                        ("filter", "all"),
                        ("per_page", "100"),
                        ("page", page.as_str()),
                    ]),
                )
                .await
                .map_err(|e| {
                    anyhow!(
                        "cannot list the jobs of workflow run {run_id}: {} (the job needs `permissions: actions: read`)",
                        describe(&e)
                    )
                })?;
            let n = got.jobs.len();
            all.extend(got.jobs);
            if n < 100 {
                break;
            }
        }
        Ok(all)
    }

    /// `GET /repos/{o}/{r}/commits/{sha}/pulls`, every page.
    pub async fn pulls_for_commit(&self, sha: &str) -> Result<Vec<PullRequest>> {
        if sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!("`{sha}` is not a commit SHA");
        }
        let first: Page<PullRequest> = self
            .crab
            .get(
                self.route(&format!("commits/{sha}/pulls")),
                Some(&[("per_page", "100")]),
            )
            .await
            .map_err(|e| {
                anyhow!(
                    "cannot list the pull requests of commit {sha}: {}",
                    describe(&e)
                )
            })?;
        self.crab.all_pages(first).await.map_err(|e| {
            anyhow!(
                "cannot list the pull requests of commit {sha}: {}",
                describe(&e)
            )
        })
    }

    /// The pull request a commit on the default branch was merged from: the merged one
    /// whose merge commit is `sha`, else any merged one, else the first listed.
    pub async fn pull_for_commit(&self, sha: &str) -> Result<Option<PullRequest>> {
        let prs = self.pulls_for_commit(sha).await?;
        Ok(pick_pull(prs, sha))
    }

    /// Creates the comment carrying `<!-- sqlcourier:MARKER -->` on issue or pull request
    /// `number`, or updates it when it is already there (never a second one).
    pub async fn upsert_comment(
        &self,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<CommentOutcome> {
        let marker_line = marker_line(marker)?;
        let full = format!("{marker_line}\n{}", limit_body(body));
        let first: Page<IssueComment> = self
            .crab
            .get(
                self.route(&format!("issues/{number}/comments")),
                Some(&[("per_page", "100")]),
            )
            .await
            .map_err(|e| anyhow!("cannot list the comments of #{number}: {}", describe(&e)))?;
        let comments = self
            .crab
            .all_pages(first)
            .await
            .map_err(|e| anyhow!("cannot list the comments of #{number}: {}", describe(&e)))?;
        let existing = comments.into_iter().find(|c| {
            c.body
                .as_deref()
                .is_some_and(|b| b.trim_start().starts_with(&marker_line))
        });
        let payload = serde_json::json!({ "body": full });
        match existing {
            Some(c) if c.body.as_deref().map(normalise) == Some(normalise(&full)) => {
                Ok(CommentOutcome::Unchanged {
                    id: c.id,
                    url: c.html_url,
                })
            }
            Some(c) => {
                // the documented verb is PATCH (octocrab's `update_comment` sends POST)
                let updated: IssueComment = self
                    .crab
                    .patch(
                        self.route(&format!("issues/comments/{}", c.id)),
                        Some(&payload),
                    )
                    .await
                    .map_err(|e| {
                        anyhow!(
                            "cannot update comment {} on #{number}: {}",
                            c.id,
                            describe(&e)
                        )
                    })?;
                Ok(CommentOutcome::Updated {
                    id: updated.id,
                    url: updated.html_url,
                })
            }
            None => {
                let created: IssueComment = self
                    .crab
                    .post(self.route(&format!("issues/{number}/comments")), Some(&payload))
                    .await
                    .map_err(|e| {
                        anyhow!(
                            "cannot comment on #{number}: {} (the job needs `permissions: pull-requests: write`)",
                            describe(&e)
                        )
                    })?;
                Ok(CommentOutcome::Created {
                    id: created.id,
                    url: created.html_url,
                })
            }
        }
    }
}

fn pick_pull(prs: Vec<PullRequest>, sha: &str) -> Option<PullRequest> {
    let by_merge_commit = prs.iter().position(|p| {
        p.merged_at.is_some()
            && p.merge_commit_sha
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(sha))
    });
    let merged = prs.iter().position(|p| p.merged_at.is_some());
    let i = by_merge_commit
        .or(merged)
        .or(if prs.is_empty() { None } else { Some(0) })?;
    prs.into_iter().nth(i)
}

/// `<!-- sqlcourier:MARKER -->`, for a marker of letters, digits, `.`, `_` and `-`.
pub fn marker_line(marker: &str) -> Result<String> {
    if marker.is_empty()
        || marker.len() > 64
        || marker.contains("--")
        || !marker
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        bail!("--marker `{marker}`: use letters, digits, `.`, `_` and single `-` (e.g. pr-check)");
    }
    Ok(format!("<!-- sqlcourier:{marker} -->"))
}

/// Cuts a body GitHub would refuse, at a line break, with a note.
fn limit_body(body: &str) -> String {
    const NOTE: &str = "\n\n… (cut: GitHub comments hold at most 65,536 characters; the job summary of the run has everything)\n";
    let budget = MAX_COMMENT_CHARS - 200;
    if body.chars().count() <= budget {
        return body.to_string();
    }
    let end = body
        .char_indices()
        .nth(budget)
        .map(|(i, _)| i)
        .unwrap_or(body.len());
    let cut = &body[..end];
    let cut = cut.rfind('\n').map(|i| &cut[..i]).unwrap_or(cut);
    format!("{cut}{NOTE}")
}

fn normalise(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_string()
}

fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// An octocrab error in words: the status and GitHub's message when there is one.
pub fn describe(e: &octocrab::Error) -> String {
    let text = match e {
        octocrab::Error::GitHub { source, .. } => {
            format!("GitHub answered {}: {}", source.status_code, source.message)
        }
        octocrab::Error::Serde { source, .. } => {
            format!("unexpected answer from GitHub: {source}")
        }
        octocrab::Error::Json { source, .. } => {
            format!("unexpected answer from GitHub: {source}")
        }
        other => {
            // Display of the rest is terse; the source chain has the cause
            let mut s = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(cause) = src {
                s.push_str(": ");
                s.push_str(&cause.to_string());
                src = cause.source();
            }
            s
        }
    };
    crate::redact::scrub(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(n: u64, merged: bool, merge_sha: &str) -> PullRequest {
        PullRequest {
            number: n,
            state: Some(if merged { "closed" } else { "open" }.into()),
            merged_at: merged.then(Utc::now),
            merge_commit_sha: Some(merge_sha.into()),
            html_url: None,
        }
    }

    #[test]
    fn picks_the_pull_request_merged_as_this_commit() {
        let prs = vec![pr(1, false, "aaa"), pr(2, true, "bbb"), pr(3, true, "ccc")];
        assert_eq!(pick_pull(prs.clone(), "ccc").unwrap().number, 3);
        assert_eq!(pick_pull(prs.clone(), "ddd").unwrap().number, 2);
        assert_eq!(pick_pull(vec![pr(7, false, "x")], "y").unwrap().number, 7);
        assert!(pick_pull(vec![], "y").is_none());
    }

    #[test]
    fn markers_are_plain_words() {
        assert_eq!(
            marker_line("pr-check").unwrap(),
            "<!-- sqlcourier:pr-check -->"
        );
        for bad in ["", "a b", "x-->", "a--b", "<b>"] {
            assert!(marker_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_bodies_are_cut_at_a_line() {
        let body = "line of text\n".repeat(10_000);
        let cut = limit_body(&body);
        assert!(cut.chars().count() < MAX_COMMENT_CHARS - 40);
        assert!(cut.contains("(cut: GitHub comments hold"));
        assert_eq!(limit_body("short"), "short");
    }
}
