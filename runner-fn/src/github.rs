//! What the registration function asks GitHub: as a GitHub App installation on the
//! one repository, mint JIT runner configs, list runners, delete runners (octocrab).

use anyhow::{Context, Result};
use octocrab::Octocrab;
use octocrab::models::{AppId, RunnerGroupId, RunnerId};

/// A value that must never be printed (JIT configs). `Debug` shows its length only.
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// One self-hosted runner as the list endpoint shows it.
#[derive(Debug, Clone)]
pub struct Runner {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub busy: bool,
}

pub struct GitHub {
    repo_client: Octocrab,
    owner: String,
    repo: String,
}

/// Makes an error from octocrab readable: its Display is often just "GitHub" or
/// "Service"; the source chain carries the status and GitHub's message.
pub fn describe(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => format!(
            "GitHub answered {}: {}",
            source.status_code.as_u16(),
            source.message
        ),
        other => {
            let mut s = other.to_string();
            let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(other);
            while let Some(c) = cur {
                s.push_str(": ");
                s.push_str(&c.to_string());
                cur = c.source();
            }
            s
        }
    }
}

pub fn status_of(e: &octocrab::Error) -> Option<u16> {
    match e {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}

impl GitHub {
    /// Authenticates as the App (JWT signed with `private_key_pem`) and then as its
    /// installation on `owner/repo`. No request is made until the first call.
    pub async fn connect(
        api_url: &str,
        app_id: u64,
        private_key_pem: &str,
        owner: &str,
        repo: &str,
    ) -> Result<Self> {
        let app = Octocrab::builder()
            .base_uri(api_url)
            .context("the GitHub API URL is not a valid URI")?
            .app_from_rsa_pem(AppId(app_id), private_key_pem.as_bytes())
            .map_err(|e| {
                anyhow::anyhow!(
                    "the GitHub App private key is not a valid RSA PEM key: {}",
                    describe(&e)
                )
            })?
            .set_connect_timeout(Some(std::time::Duration::from_secs(10)))
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .build()
            .map_err(|e| anyhow::anyhow!("building the GitHub client: {}", describe(&e)))?;
        let installation = app
            .apps()
            .get_repository_installation(owner, repo)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "finding the App's installation on {owner}/{repo} (is the App installed on it?): {}",
                    describe(&e)
                )
            })?;
        let repo_client = app
            .installation(installation.id)
            .map_err(|e| anyhow::anyhow!("installation client: {}", describe(&e)))?;
        Ok(Self {
            repo_client,
            owner: owner.into(),
            repo: repo.into(),
        })
    }

    /// `POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig`.
    pub async fn mint_jit_config(
        &self,
        name: &str,
        runner_group_id: u64,
        labels: &[String],
    ) -> std::result::Result<(u64, Secret), octocrab::Error> {
        let cfg = self
            .repo_client
            .actions()
            .create_repo_jit_runner_config(
                &self.owner,
                &self.repo,
                name,
                RunnerGroupId(runner_group_id),
                labels.to_vec(),
            )
            .send()
            .await?;
        Ok((cfg.runner.id.0, Secret(cfg.encoded_jit_config)))
    }

    /// Every runner of the repository (all pages), or only those named `name`.
    pub async fn list_runners(&self, name: Option<&str>) -> Result<Vec<Runner>> {
        let mut out = Vec::new();
        let actions = self.repo_client.actions();
        for page_no in 1u32..=100 {
            let mut b = actions
                .list_repo_self_hosted_runners(&self.owner, &self.repo)
                .per_page(100u8)
                .page(page_no);
            if let Some(n) = name {
                b = b.name(n);
            }
            let page = b.send().await.map_err(|e| {
                anyhow::anyhow!("listing the repository's runners: {}", describe(&e))
            })?;
            let n = page.items.len();
            out.extend(page.items.into_iter().map(|r| Runner {
                id: r.id.0,
                name: r.name,
                status: r.status,
                busy: r.busy,
            }));
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    /// `DELETE /repos/{owner}/{repo}/actions/runners/{id}`; `Ok(false)` if it was gone.
    pub async fn delete_runner(&self, id: u64) -> Result<bool> {
        match self
            .repo_client
            .actions()
            .delete_repo_runner(&self.owner, &self.repo, RunnerId(id))
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if status_of(&e) == Some(404) => Ok(false),
            Err(e) => Err(anyhow::anyhow!("deleting runner {id}: {}", describe(&e))),
        }
    }
}

/// One job GitHub holds in the queue.
#[derive(Debug, Clone)]
pub struct QueuedJob {
    pub id: u64,
    pub run_id: u64,
    pub labels: Vec<String>,
}

/// At most this many workflow runs are looked into per reconciliation.
const MAX_RUNS: usize = 200;

impl GitHub {
    /// One page of a list route of the repository: the array under `key` (empty when
    /// the answer has none); an error says `what` was being listed.
    async fn page(
        &self,
        route: String,
        key: &str,
        what: impl FnOnce() -> String,
    ) -> Result<Vec<serde_json::Value>> {
        let mut v: serde_json::Value = self
            .repo_client
            .get(route, None::<&()>)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", what(), describe(&e)))?;
        Ok(match v[key].take() {
            serde_json::Value::Array(items) => items,
            _ => Vec::new(),
        })
    }

    /// The repository's queued jobs: those of queued and in-progress runs (a run in
    /// progress can hold queued jobs: `needs`, matrices), with their labels.
    pub async fn queued_jobs(&self) -> Result<Vec<QueuedJob>> {
        let mut runs = std::collections::BTreeSet::new();
        for status in ["queued", "in_progress"] {
            for page in 1u32..=2 {
                let route = format!(
                    "/repos/{}/{}/actions/runs?status={status}&per_page=100&page={page}",
                    self.owner, self.repo
                );
                let items = self
                    .page(route, "workflow_runs", || {
                        format!("listing {status} workflow runs")
                    })
                    .await?;
                runs.extend(items.iter().filter_map(|r| r["id"].as_u64()));
                if items.len() < 100 || runs.len() >= MAX_RUNS {
                    break;
                }
            }
        }
        let mut out = Vec::new();
        for run_id in runs.into_iter().take(MAX_RUNS) {
            for page in 1u32..=3 {
                let route = format!(
                    "/repos/{}/{}/actions/runs/{run_id}/jobs?filter=latest&per_page=100&page={page}",
                    self.owner, self.repo
                );
                let jobs = self
                    .page(route, "jobs", || {
                        format!("listing the jobs of run {run_id}")
                    })
                    .await?;
                out.extend(
                    jobs.iter()
                        .filter(|j| j["status"] == "queued")
                        .filter_map(|j| {
                            Some(QueuedJob {
                                id: j["id"].as_u64()?,
                                run_id,
                                labels: j["labels"]
                                    .as_array()
                                    .map(|l| {
                                        l.iter()
                                            .filter_map(|s| s.as_str().map(str::to_string))
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            })
                        }),
                );
                if jobs.len() < 100 {
                    break;
                }
            }
        }
        Ok(out)
    }
}
