//! A local stand-in for the GitHub REST calls sqlcourier makes, plus a Slack incoming
//! webhook. It speaks the real wire protocol — paths, verbs, `Authorization: Bearer`,
//! JSON payloads shaped like GitHub's (trimmed from the REST reference examples),
//! `Link` pagination pointing at `/repositories/{id}/…` as github.com does, and GitHub's
//! error bodies — and records every request.
//!
//! It runs on 127.0.0.1:0 in its own thread, so the tests can run the real binary
//! against it with `GITHUB_API_URL` / `SLACK_WEBHOOK_URL`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};

pub const TOKEN: &str = "ghs_standin0123456789abcdef";
pub const OWNER: &str = "acme";
pub const REPO: &str = "extracts";
const REPO_ID: u64 = 700_001;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query as received.
    pub uri: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub login: String,
}

#[derive(Default)]
pub struct Data {
    /// Workflow runs by id: (created_at, run_started_at, run_attempt).
    pub runs: BTreeMap<u64, (String, String, u32)>,
    /// Conclusions of finished runs (`success`, `cancelled`, …) by run id, shown by the
    /// runs-of-a-workflow listing; a run without one is still in progress.
    pub conclusions: BTreeMap<u64, String>,
    /// Releases of actions/runner: (tag, published_at), newest first.
    pub releases: Vec<(String, String)>,
    /// Jobs by workflow run id, every attempt: (name, conclusion).
    pub jobs: BTreeMap<u64, Vec<(String, String)>>,
    /// Pull requests by commit SHA: (number, merged, merge_commit_sha).
    pub pulls: BTreeMap<String, Vec<(u64, bool, String)>>,
    /// Comments by issue / pull request number, oldest first.
    pub comments: BTreeMap<u64, Vec<Comment>>,
    pub next_comment_id: u64,
    /// Largest page the stand-in serves (GitHub caps `per_page` at 100).
    pub max_page: usize,
    /// Status the Slack webhook answers with (200 when 0).
    pub slack_status: u16,
    /// How long the Slack webhook waits before it answers (milliseconds).
    pub slack_delay_ms: u64,
    pub requests: Vec<Recorded>,
    /// JSON bodies posted to the Slack webhook.
    pub slack: Vec<Value>,
}

pub struct StandIn {
    pub url: String,
    pub data: Arc<Mutex<Data>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Shared = (Arc<Mutex<Data>>, String);

/// A handler's early answer (a `Response` is large; clippy wants it boxed in `Err`).
type Early<T> = Result<T, Box<Response>>;

impl StandIn {
    pub fn start() -> StandIn {
        let data = Arc::new(Mutex::new(Data {
            next_comment_id: 9_000_001,
            max_page: 100,
            ..Data::default()
        }));
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let d = data.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}", listener.local_addr().unwrap());
                let shared: Shared = (d, url.clone());
                let app = Router::new()
                    .route("/repos/{owner}/{repo}/actions/runs", get(list_runs))
                    .route("/repos/{owner}/{repo}/actions/runs/{run_id}", get(get_run))
                    .route(
                        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
                        get(list_workflow_runs),
                    )
                    .route("/repos/{owner}/{repo}/releases", get(list_releases))
                    .route(
                        "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
                        get(list_jobs),
                    )
                    .route(
                        "/repos/{owner}/{repo}/commits/{sha}/pulls",
                        get(commit_pulls),
                    )
                    .route(
                        "/repos/{owner}/{repo}/issues/{number}/comments",
                        get(list_comments).post(create_comment),
                    )
                    .route(
                        "/repositories/{repo_id}/issues/{number}/comments",
                        get(list_comments_by_id),
                    )
                    .route(
                        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                        patch(update_comment),
                    )
                    .route("/slack/{*rest}", post(slack))
                    .fallback(not_found)
                    .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
                    .with_state(shared);
                url_tx.send(url).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let url = url_rx.recv().unwrap();
        StandIn {
            url,
            data,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.data.lock().unwrap())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|d| d.requests.clone())
    }

    /// Requests whose method is `method` and whose path contains `part`.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.uri.contains(part))
            .count()
    }
}

async fn record(
    State((data, _)): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    data.lock().unwrap().requests.push(Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.as_u16().to_string(),
        })
        .to_string(),
    )
        .into_response()
}

fn ok_json(status: StatusCode, v: Value, link: Option<String>) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response();
    if let Some(l) = link {
        resp.headers_mut().insert(header::LINK, l.parse().unwrap());
    }
    resp
}

/// GitHub answers 401 to a missing or wrong token, 404 to another repository.
fn check(headers: &HeaderMap, owner: &str, repo: &str) -> Early<()> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {TOKEN}") && auth != format!("token {TOKEN}") {
        return Err(Box::new(error(StatusCode::UNAUTHORIZED, "Bad credentials")));
    }
    if owner != OWNER || repo != REPO {
        return Err(Box::new(error(StatusCode::NOT_FOUND, "Not Found")));
    }
    Ok(())
}

fn user(login: &str, id: u64) -> Value {
    json!({
        "login": login, "id": id, "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4", "gravatar_id": "",
        "url": format!("https://api.github.com/users/{login}"),
        "html_url": format!("https://github.com/{login}"),
        "followers_url": "", "following_url": "", "gists_url": "", "starred_url": "",
        "subscriptions_url": "", "organizations_url": "", "repos_url": "", "events_url": "",
        "received_events_url": "",
        "type": if login.ends_with("[bot]") { "Bot" } else { "User" },
        "site_admin": false
    })
}

fn repository(base: &str) -> Value {
    json!({
        "id": REPO_ID, "node_id": "R_kgDOA", "name": REPO,
        "full_name": format!("{OWNER}/{REPO}"), "private": true, "owner": user(OWNER, 1),
        "html_url": format!("https://github.com/{OWNER}/{REPO}"), "description": null,
        "fork": false, "url": format!("{base}/repos/{OWNER}/{REPO}")
    })
}

/// `GET /repos/{o}/{r}/actions/runs?created=>=T`: the runs created at or after T
/// (GitHub's search syntax; only `>=` is served), newest first, one page.
async fn list_runs(
    State((data, _)): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    let Some(since) = q.get("created").and_then(|c| c.strip_prefix(">=")) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "created must be >=DATE here",
        );
    };
    if q.get("page").is_some_and(|p| p != "1") {
        return ok_json(
            StatusCode::OK,
            json!({"total_count": 0, "workflow_runs": []}),
            None,
        );
    }
    let d = data.lock().unwrap();
    let mut runs: Vec<Value> = d
        .runs
        .iter()
        .filter(|(_, (created, _, _))| created.as_str() >= since)
        .map(|(id, (created, started, attempt))| {
            json!({"id": id, "created_at": created, "run_started_at": started,
                   "run_attempt": attempt, "event": "schedule", "status": "completed"})
        })
        .collect();
    runs.reverse();
    ok_json(
        StatusCode::OK,
        json!({"total_count": runs.len(), "workflow_runs": runs}),
        None,
    )
}

/// `GET /repos/{o}/{r}/actions/workflows/{id}/runs`: every run (the stand-in has one
/// workflow, 159038), newest first, each with its `status` and `conclusion`; one page
/// of at most `per_page`.
async fn list_workflow_runs(
    State((data, _)): State<Shared>,
    Path((owner, repo, workflow_id)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    if workflow_id != "159038" {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let per_page = q
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let d = data.lock().unwrap();
    let mut runs: Vec<(&u64, &(String, String, u32))> = d.runs.iter().collect();
    runs.sort_by(|a, b| (b.1.0.as_str(), b.0).cmp(&(a.1.0.as_str(), a.0)));
    let items: Vec<Value> = runs
        .into_iter()
        .take(per_page)
        .map(|(id, (created, started, attempt))| {
            let conclusion = d.conclusions.get(id);
            json!({"id": id, "name": "Scheduled queries", "workflow_id": 159038,
                   "event": "schedule", "created_at": created, "run_started_at": started,
                   "run_attempt": attempt,
                   "status": if conclusion.is_some() { "completed" } else { "in_progress" },
                   "conclusion": conclusion})
        })
        .collect();
    ok_json(
        StatusCode::OK,
        json!({"total_count": d.runs.len(), "workflow_runs": items}),
        None,
    )
}

/// `GET /repos/actions/runner/releases`: public, the token optional.
async fn list_releases(
    State((data, _)): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    if (owner.as_str(), repo.as_str()) != ("actions", "runner") {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let items: Vec<Value> = data
        .lock()
        .unwrap()
        .releases
        .iter()
        .map(|(tag, published)| {
            json!({"tag_name": tag, "name": tag, "draft": false, "prerelease": false,
                   "published_at": published,
                   "html_url": format!("https://github.com/actions/runner/releases/tag/{tag}")})
        })
        .collect();
    ok_json(StatusCode::OK, Value::Array(items), None)
}

/// `GET /repos/{o}/{r}/actions/runs/{id}/jobs?filter=all`, one page.
async fn list_jobs(
    State((data, _)): State<Shared>,
    Path((owner, repo, run_id)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    if q.get("filter").map(String::as_str) != Some("all") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the stand-in serves filter=all only",
        );
    }
    let id: u64 = run_id.parse().unwrap_or_default();
    let page = q.get("page").map(String::as_str).unwrap_or("1");
    let jobs: Vec<Value> = if page == "1" {
        data.lock()
            .unwrap()
            .jobs
            .get(&id)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, (name, conclusion))| {
                json!({"id": id * 1000 + i as u64, "run_id": id, "name": name,
                       "status": "completed", "conclusion": conclusion})
            })
            .collect()
    } else {
        Vec::new()
    };
    ok_json(
        StatusCode::OK,
        json!({"total_count": jobs.len(), "jobs": jobs}),
        None,
    )
}

async fn get_run(
    State((data, base)): State<Shared>,
    Path((owner, repo, run_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    let Ok(id) = run_id.parse::<u64>() else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some((created, started, attempt)) = data.lock().unwrap().runs.get(&id).cloned() else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let api = format!("{base}/repos/{OWNER}/{REPO}");
    ok_json(
        StatusCode::OK,
        json!({
            "id": id, "name": "Monthly", "node_id": "WFR_kwLOA", "check_suite_id": 42,
            "check_suite_node_id": "CS_kwDOA", "head_branch": "main",
            "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d", "path": ".github/workflows/monthly.yml@refs/heads/main",
            "run_number": 562, "event": "schedule", "display_title": "Monthly",
            "status": "in_progress", "conclusion": null, "workflow_id": 159038,
            "url": format!("{api}/actions/runs/{id}"),
            "html_url": format!("https://github.com/{OWNER}/{REPO}/actions/runs/{id}"),
            "pull_requests": [], "created_at": created, "updated_at": started,
            "actor": user("octocat", 1), "run_attempt": attempt,
            "referenced_workflows": [], "run_started_at": started,
            "triggering_actor": user("octocat", 1),
            "jobs_url": format!("{api}/actions/runs/{id}/jobs"),
            "logs_url": format!("{api}/actions/runs/{id}/logs"),
            "check_suite_url": format!("{api}/check-suites/42"),
            "artifacts_url": format!("{api}/actions/runs/{id}/artifacts"),
            "cancel_url": format!("{api}/actions/runs/{id}/cancel"),
            "rerun_url": format!("{api}/actions/runs/{id}/rerun"),
            "previous_attempt_url": if attempt > 1 { json!(format!("{api}/actions/runs/{id}/attempts/{}", attempt - 1)) } else { Value::Null },
            "workflow_url": format!("{api}/actions/workflows/159038"),
            "head_commit": {
                "id": "acb5820ced9479c074f688cc328bf03f341a511d",
                "tree_id": "d23f6eedb1e1b9610bbc754ddb5197bfe7271223",
                "message": "Merge pull request #7", "timestamp": created,
                "author": {"name": "Octo Cat", "email": "octocat@github.com"},
                "committer": {"name": "GitHub", "email": "noreply@github.com"}
            },
            "repository": repository(&base), "head_repository": repository(&base)
        }),
        None,
    )
}

async fn commit_pulls(
    State((data, base)): State<Shared>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    if !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "No commit found for SHA");
    }
    let prs = data
        .lock()
        .unwrap()
        .pulls
        .get(&sha)
        .cloned()
        .unwrap_or_default();
    let items: Vec<Value> = prs
        .iter()
        .map(|(n, merged, merge_sha)| {
            json!({
                "url": format!("{base}/repos/{OWNER}/{REPO}/pulls/{n}"), "id": 1_000_000 + n,
                "node_id": "PR_kwDOA", "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{n}"),
                "number": n, "state": if *merged { "closed" } else { "open" }, "locked": false,
                "title": "Add monthly signups", "user": user("requester", 2), "body": null,
                "labels": [], "milestone": null, "active_lock_reason": null,
                "created_at": "2026-10-20T01:00:00Z", "updated_at": "2026-10-21T01:00:00Z",
                "closed_at": if *merged { json!("2026-10-21T01:00:00Z") } else { Value::Null },
                "merged_at": if *merged { json!("2026-10-21T01:00:00Z") } else { Value::Null },
                "merge_commit_sha": merge_sha, "assignee": null, "assignees": [],
                "requested_reviewers": [], "requested_teams": [], "draft": false,
                "head": {"label": "acme:add-signups", "ref": "add-signups", "sha": "1111111111111111111111111111111111111111", "user": user(OWNER, 1), "repo": repository(&base)},
                "base": {"label": "acme:main", "ref": "main", "sha": "2222222222222222222222222222222222222222", "user": user(OWNER, 1), "repo": repository(&base)},
                "author_association": "MEMBER", "auto_merge": null
            })
        })
        .collect();
    ok_json(StatusCode::OK, Value::Array(items), None)
}

fn comment_json(base: &str, number: u64, c: &Comment) -> Value {
    json!({
        "id": c.id, "node_id": "IC_kwDOA",
        "url": format!("{base}/repos/{OWNER}/{REPO}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{number}#issuecomment-{}", c.id),
        "body": c.body, "user": user(&c.login, 41898282),
        "created_at": "2026-10-21T01:00:00Z", "updated_at": "2026-10-21T01:00:00Z",
        "issue_url": format!("{base}/repos/{OWNER}/{REPO}/issues/{number}"),
        "author_association": "NONE", "performed_via_github_app": null,
        "reactions": {"url": "", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}
    })
}

async fn list_comments(
    State(shared): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    list_page(&shared, number, &q)
}

async fn list_comments_by_id(
    State(shared): State<Shared>,
    Path((repo_id, number)): Path<(u64, u64)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let repo = if repo_id == REPO_ID { REPO } else { "other" };
    if let Err(r) = check(&headers, OWNER, repo) {
        return *r;
    }
    list_page(&shared, number, &q)
}

fn list_page((data, base): &Shared, number: u64, q: &BTreeMap<String, String>) -> Response {
    let d = data.lock().unwrap();
    let per_page = q
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, d.max_page);
    let page = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let all = d.comments.get(&number).cloned().unwrap_or_default();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|c| comment_json(base, number, c))
        .collect();
    let last = all.len().div_ceil(per_page).max(1);
    let link = |p: usize, rel: &str| {
        format!(
            "<{base}/repositories/{REPO_ID}/issues/{number}/comments?per_page={per_page}&page={p}>; rel=\"{rel}\""
        )
    };
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    let header = (!links.is_empty()).then(|| links.join(", "));
    ok_json(StatusCode::OK, Value::Array(items), header)
}

fn body_field(body: &Bytes) -> Early<String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| Box::new(error(StatusCode::BAD_REQUEST, "Problems parsing JSON")))?;
    v.get("body")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid request.\n\n\"body\" wasn't supplied.",
            ))
        })
}

async fn create_comment(
    State((data, base)): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    let text = match body_field(&body) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let mut d = data.lock().unwrap();
    let c = Comment {
        id: d.next_comment_id,
        body: text,
        login: "github-actions[bot]".into(),
    };
    d.next_comment_id += 1;
    d.comments.entry(number).or_default().push(c.clone());
    ok_json(StatusCode::CREATED, comment_json(&base, number, &c), None)
}

async fn update_comment(
    State((data, base)): State<Shared>,
    Path((owner, repo, comment_id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&headers, &owner, &repo) {
        return *r;
    }
    let text = match body_field(&body) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let mut d = data.lock().unwrap();
    for (number, list) in d.comments.iter_mut() {
        if let Some(c) = list.iter_mut().find(|c| c.id == comment_id) {
            if c.login != "github-actions[bot]" {
                return error(
                    StatusCode::FORBIDDEN,
                    "Resource not accessible by integration",
                );
            }
            c.body = text;
            let v = comment_json(&base, *number, c);
            return ok_json(StatusCode::OK, v, None);
        }
    }
    error(StatusCode::NOT_FOUND, "Not Found")
}

async fn slack(State((data, _)): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let delay = data.lock().unwrap().slack_delay_ms;
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let mut d = data.lock().unwrap();
    if d.slack_status != 0 && d.slack_status != 200 {
        let s = StatusCode::from_u16(d.slack_status).unwrap();
        return (s, "invalid_token").into_response();
    }
    let json_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) if json_ct && v.get("text").is_some() => {
            d.slack.push(v);
            (StatusCode::OK, "ok").into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_payload").into_response(),
    }
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("Not Found ({method} {} is not in the stand-in)", uri.path()),
    )
}
