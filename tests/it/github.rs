//! What the GitHub workflows call: `plan` (push, schedule, dispatch; batches; periods
//! from the workflow run's original creation time), `github comment` and
//! `notify slack`, against the local GitHub REST stand-in in `github_api.rs`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::github_api::{self, StandIn};
use crate::support::{Repo, git, text};

const ZERO: &str = "0000000000000000000000000000000000000000";

/// Every GitHub Actions variable the binary reads, removed so the host cannot leak in.
const GITHUB_VARS: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_SHA",
    "GITHUB_SERVER_URL",
    "SLACK_WEBHOOK_URL",
    "SQLCOURIER_SLACK_ON_SUCCESS",
];

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sqlcourier"));
    c.current_dir(dir).env("NO_COLOR", "1");
    for v in GITHUB_VARS {
        c.env_remove(v);
    }
    c
}

/// The binary as a workflow step sees it, talking to the stand-in.
fn gh(dir: &Path, api: &StandIn) -> Command {
    let mut c = bin(dir);
    c.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_TOKEN", github_api::TOKEN)
        .env(
            "GITHUB_REPOSITORY",
            format!("{}/{}", github_api::OWNER, github_api::REPO),
        )
        .env("GITHUB_API_URL", &api.url);
    c
}

fn run(mut c: Command) -> Output {
    c.output().unwrap()
}

fn json(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", text(o)))
}

fn queries_of(plan: &Value) -> Vec<String> {
    plan["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["query"].as_str().unwrap().to_string())
        .collect()
}

/// A repository with git history: `commit` stages everything and returns the SHA.
fn git_repo() -> Repo {
    let repo = Repo::new("sqlite");
    git(repo.path(), &["init", "-q", "-b", "main"]);
    repo
}

fn commit(repo: &Repo, msg: &str) -> String {
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "--allow-empty", "-m", msg]);
    git(repo.path(), &["rev-parse", "HEAD"])
}

const MONTHLY: &str = "schedule: monthly\nperiod: previous_month";
const MONTHLY_SQL: &str = "SELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end";

fn plan_push(repo: &Repo, before: &str, after: &str) -> Output {
    let mut c = bin(repo.path());
    c.args([
        "plan",
        "--event",
        "push",
        "--before",
        before,
        "--after",
        after,
        "--as-of",
        "2026-11-01T00:30:00+09:00",
    ]);
    run(c)
}

// ------------------------------------------------------------------ plan: push

#[test]
fn plan_push_first_push_plans_every_query_of_after() {
    let repo = git_repo();
    repo.query("monthly/signups.sql", MONTHLY, MONTHLY_SQL);
    repo.query("adhoc/one.sql", "", "SELECT 1 AS n");
    std::fs::write(repo.path().join("queries/README.md"), "not a query").unwrap();
    let after = commit(&repo, "first");
    let o = plan_push(&repo, ZERO, &after);
    let plan = json(&o);
    assert_eq!(
        queries_of(&plan),
        ["queries/adhoc/one.sql", "queries/monthly/signups.sql"]
    );
    assert_eq!(plan["count"], 2);
    assert_eq!(plan["batches"], 1);
    let e = &plan["include"][1];
    assert_eq!(e["id"], "monthly-signups");
    assert_eq!(e["period"], "2026-10");
    assert_eq!(plan["include"][0]["period"], "");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("first push"),
        "{}",
        text(&o)
    );
}

#[test]
fn plan_push_runs_renamed_and_changed_files_and_skips_deleted_ones() {
    let repo = git_repo();
    repo.query("monthly/old_name.sql", MONTHLY, MONTHLY_SQL);
    repo.query("gone.sql", "", "SELECT 1 AS n");
    repo.query("changed.sql", "", "SELECT 1 AS n");
    repo.query("untouched.sql", "", "SELECT 1 AS n");
    let before = commit(&repo, "base");
    git(
        repo.path(),
        &[
            "mv",
            "queries/monthly/old_name.sql",
            "queries/monthly/new_name.sql",
        ],
    );
    git(repo.path(), &["rm", "-q", "queries/gone.sql"]);
    repo.query("changed.sql", "", "SELECT 2 AS n");
    std::fs::write(repo.path().join("README.md"), "outside queries/").unwrap();
    let after = commit(&repo, "rename, delete, change");
    // git really saw a rename (not delete + add)
    let status = git(
        repo.path(),
        &["diff", "--name-status", "-M", &before, &after],
    );
    assert!(status.contains("R100"), "{status}");

    let o = plan_push(&repo, &before, &after);
    let plan = json(&o);
    assert_eq!(
        queries_of(&plan),
        ["queries/changed.sql", "queries/monthly/new_name.sql"]
    );
    assert_eq!(plan["skipped_deleted"][0], "queries/gone.sql");
    assert_eq!(plan["include"][1]["id"], "monthly-new_name");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("queries/gone.sql: deleted"),
        "{}",
        text(&o)
    );
}

#[test]
fn plan_push_with_an_unknown_before_commit_plans_everything_and_says_so() {
    let repo = git_repo();
    repo.query("a.sql", "", "SELECT 1 AS n");
    repo.query("b.sql", "", "SELECT 1 AS n");
    let after = commit(&repo, "one");
    let o = plan_push(&repo, "1234567890abcdef1234567890abcdef12345678", &after);
    let plan = json(&o);
    assert_eq!(plan["count"], 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not in this clone"),
        "{}",
        text(&o)
    );
}

#[test]
fn plan_push_refuses_a_changed_file_that_fails_check() {
    let repo = git_repo();
    repo.query("ok.sql", "", "SELECT 1 AS n");
    let before = commit(&repo, "base");
    repo.query("bad.sql", "", "DELETE FROM members");
    let after = commit(&repo, "bad");
    let o = plan_push(&repo, &before, &after);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("queries/bad.sql:7:1"), "{err}");
    assert!(err.contains("nothing will run"), "{err}");
    assert!(o.stdout.is_empty(), "{}", text(&o));
}

#[test]
fn plan_push_of_more_than_256_queries_fills_two_batches() {
    let repo = git_repo();
    repo.query("keep.sql", "", "SELECT 1 AS n");
    let before = commit(&repo, "base");
    for i in 0..300 {
        repo.query(&format!("bulk/q{i:03}.sql"), "", "SELECT 1 AS n");
    }
    let after = commit(&repo, "300 queries");
    let out_file = repo.path().join("github_output");
    std::fs::write(&out_file, "earlier=kept\n").unwrap();
    let mut c = bin(repo.path());
    c.env("GITHUB_OUTPUT", &out_file).args([
        "plan",
        "--event",
        "push",
        "--before",
        &before,
        "--after",
        &after,
        "--github-output",
    ]);
    let o = run(c);
    let plan = json(&o);
    assert_eq!(plan["count"], 300);
    assert_eq!(plan["batches"], 2);
    let outputs = std::fs::read_to_string(&out_file).unwrap();
    assert!(outputs.starts_with("earlier=kept\n"), "appends");
    let kv: std::collections::BTreeMap<&str, &str> =
        outputs.lines().filter_map(|l| l.split_once('=')).collect();
    let batch = |k: &str| -> Vec<Value> {
        let v: Value = serde_json::from_str(kv[k]).unwrap();
        v["include"].as_array().unwrap().clone()
    };
    assert_eq!(batch("batch-0").len(), 256);
    assert_eq!(batch("batch-1").len(), 44);
    assert_eq!(batch("batch-2").len(), 0);
    assert_eq!(batch("batch-3").len(), 0);
    assert_eq!(kv["count"], "300");
    assert_eq!(kv["batches"], "2");
    assert_eq!(batch("batch-0")[0]["query"], "queries/bulk/q000.sql");
    assert_eq!(batch("batch-1")[43]["query"], "queries/bulk/q299.sql");
    // every id is unique (they name artifacts and concurrency groups)
    let mut ids: Vec<String> = batch("batch-0")
        .iter()
        .chain(batch("batch-1").iter())
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300);
}

// ------------------------------------------------------------------ plan: schedule, dispatch

#[test]
fn plan_schedule_monthly_plans_only_monthly_queries() {
    let repo = Repo::new("sqlite");
    repo.query(
        "monthly/signups.sql",
        "schedule: monthly\nperiod: previous_month\nvariants:\n  - {name: tokyo, params: {p: 東京都}}\n  - {name: osaka, params: {p: 大阪府}}",
        "SELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end AND prefecture = :p",
    );
    repo.query("adhoc/once.sql", "schedule: on-merge-only", "SELECT 1 AS n");
    let mut c = bin(repo.path());
    c.args([
        "plan",
        "--event",
        "schedule",
        "--schedule",
        "monthly",
        "--as-of",
        "2026-12-01T00:17:00Z",
    ]);
    let plan = json(&run(c));
    assert_eq!(queries_of(&plan), ["queries/monthly/signups.sql"]);
    let e = &plan["include"][0];
    assert_eq!(e["period"], "2026-11");
    assert_eq!(e["variants"], serde_json::json!(["tokyo", "osaka"]));
    assert_eq!(plan["logical_time"], "2026-12-01T00:17:00Z");
}

#[test]
fn plan_dispatch_glob_and_period_override() {
    let repo = Repo::new("sqlite");
    repo.query("monthly/a.sql", MONTHLY, MONTHLY_SQL);
    repo.query("monthly/deep/b.sql", MONTHLY, MONTHLY_SQL);
    repo.query("adhoc/c.sql", "", "SELECT 1 AS n");
    let dispatch = |glob: &str, period: Option<&str>| {
        let mut c = bin(repo.path());
        c.args(["plan", "--event", "workflow_dispatch", "--glob", glob]);
        if let Some(p) = period {
            c.args(["--period", p]);
        }
        run(c)
    };
    let plan = json(&dispatch("queries/monthly/*.sql", Some("2026-08")));
    assert_eq!(queries_of(&plan), ["queries/monthly/a.sql"]);
    assert_eq!(plan["include"][0]["period"], "2026-08");
    assert_eq!(plan["period_override"], "2026-08");
    assert!(plan["logical_time"].is_null(), "no time needed: {plan}");

    let plan = json(&dispatch("queries/**/*.sql", Some("2026-08")));
    assert_eq!(
        queries_of(&plan),
        [
            "queries/adhoc/c.sql",
            "queries/monthly/a.sql",
            "queries/monthly/deep/b.sql"
        ]
    );
    assert_eq!(plan["include"][0]["period"], "");

    let o = dispatch("queries/nothing/*.sql", None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no query file matches"));

    // a label that does not fit the query's period kind
    let o = dispatch("queries/monthly/*.sql", Some("2026-10-05"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("queries/monthly/a.sql: --period"),
        "{}",
        text(&o)
    );
}

// ------------------------------------------------------------------ periods from the run

/// Run 4242 was created 2026-10-31T15:30:00Z = 2026-11-01 00:30 JST. Attempt 1 starts
/// then; attempt 2 ("Re-run all jobs") starts on 2026-11-03. Both must plan October
/// (previous_month) and 2026-10-31 (previous_day) in Asia/Tokyo: the period comes
/// from the ORIGINAL creation time, not from the attempt's start nor from now.
#[test]
fn plan_period_comes_from_the_runs_original_creation_time_on_every_attempt() {
    let api = StandIn::start();
    let repo = Repo::new("sqlite");
    repo.query("monthly/signups.sql", MONTHLY, MONTHLY_SQL);
    repo.query(
        "daily/orders.sql",
        "schedule: monthly\nperiod: previous_day",
        MONTHLY_SQL,
    );
    repo.query(
        "utc/signups.sql",
        "schedule: monthly\nperiod: previous_month\ntimezone: UTC",
        MONTHLY_SQL,
    );
    let plan_attempt = |attempt: u32| {
        let mut c = gh(repo.path(), &api);
        c.env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_RUN_ATTEMPT", attempt.to_string())
            .args(["plan", "--event", "schedule", "--schedule", "monthly"]);
        run(c)
    };
    let periods = |plan: &Value| -> Vec<(String, String)> {
        plan["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["query"].as_str().unwrap().to_string(),
                    e["period"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let want = vec![
        (
            "queries/daily/orders.sql".to_string(),
            "2026-10-31".to_string(),
        ),
        ("queries/monthly/signups.sql".into(), "2026-10".into()),
        // the same instant is still 31 October in UTC
        ("queries/utc/signups.sql".into(), "2026-09".into()),
    ];

    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-10-31T15:30:00Z".into(),
                "2026-10-31T15:30:05Z".into(),
                1,
            ),
        )
    });
    let o = plan_attempt(1);
    let first = json(&o);
    assert_eq!(periods(&first), want, "{}", text(&o));
    assert_eq!(first["logical_time"], "2026-10-31T15:30:00Z");

    // re-run on 3 November: GitHub keeps created_at, moves run_started_at
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-10-31T15:30:00Z".into(),
                "2026-11-03T02:00:00Z".into(),
                2,
            ),
        )
    });
    let o = plan_attempt(2);
    let second = json(&o);
    assert_eq!(periods(&second), want, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("attempt 2"),
        "{}",
        text(&o)
    );

    let lookups: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.uri == "/repos/acme/extracts/actions/runs/4242")
        .collect();
    assert_eq!(lookups.len(), 2, "{lookups:?}");
    assert_eq!(
        lookups[0].authorization.as_deref(),
        Some(format!("Bearer {}", github_api::TOKEN).as_str())
    );
}

#[test]
fn plan_under_github_never_falls_back_to_now() {
    let api = StandIn::start();
    let repo = Repo::new("sqlite");
    repo.query("monthly/signups.sql", MONTHLY, MONTHLY_SQL);
    // the stand-in knows no run 777: the lookup fails, and so must the plan
    let mut c = gh(repo.path(), &api);
    c.env("GITHUB_RUN_ID", "777")
        .args(["plan", "--event", "schedule", "--schedule", "monthly"]);
    let o = run(c);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot read workflow run 777"), "{err}");
    assert!(err.contains("404"), "{err}");
    assert!(!err.contains(github_api::TOKEN), "{err}");
    // a wrong token is a plain 401, not a silent "now"
    let mut c = gh(repo.path(), &api);
    c.env("GITHUB_RUN_ID", "777")
        .env("GITHUB_TOKEN", "ghs_wrong_token_value")
        .args(["plan", "--event", "schedule", "--schedule", "monthly"]);
    let o = run(c);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("401"),
        "{}",
        text(&o)
    );
}

// ------------------------------------------------------------------ comments

fn comment(dir: &Path, api: &StandIn, target: &[&str], marker: &str, body: &str) -> Output {
    let f = dir.join("body.md");
    std::fs::write(&f, body).unwrap();
    let mut c = gh(dir, api);
    c.args(["github", "comment"])
        .args(target)
        .args(["--marker", marker, "--body-file"])
        .arg(&f);
    run(c)
}

#[test]
fn github_comment_is_created_once_then_updated_in_place() {
    let api = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    api.with(|d| {
        // five earlier comments by people, served two per page: the marked comment
        // lands on page 3 and is only found by following the Link headers
        d.max_page = 2;
        for i in 0..5 {
            d.comments.entry(42).or_default().push(github_api::Comment {
                id: 100 + i,
                body: format!("review remark {i}"),
                login: "reviewer".into(),
            });
        }
    });
    let o = comment(dir.path(), &api, &["--pr", "42"], "pr-check", "## first\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("created"),
        "{}",
        text(&o)
    );

    let o = comment(dir.path(), &api, &["--pr", "42"], "pr-check", "## second\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("updated"),
        "{}",
        text(&o)
    );

    let comments = api.with(|d| d.comments[&42].clone());
    assert_eq!(comments.len(), 6, "one comment, not two: {comments:?}");
    let ours = &comments[5];
    assert_eq!(ours.body, "<!-- sqlcourier:pr-check -->\n## second\n");
    assert!(
        comments[..5]
            .iter()
            .all(|c| c.body.starts_with("review remark"))
    );
    assert_eq!(api.count("POST", "/issues/42/comments"), 1);
    assert_eq!(
        api.count(
            "PATCH",
            &format!("/repos/acme/extracts/issues/comments/{}", ours.id)
        ),
        1
    );
    let patch = api
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    let sent: Value = serde_json::from_str(&patch.body).unwrap();
    assert_eq!(sent["body"], "<!-- sqlcourier:pr-check -->\n## second\n");
    // the second listing followed the pagination links (/repositories/{id}/…)
    assert!(api.count("GET", "/repositories/700001/issues/42/comments") >= 2);

    // same body again: nothing is sent; another marker is another comment
    let o = comment(dir.path(), &api, &["--pr", "42"], "pr-check", "## second\n");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unchanged"),
        "{}",
        text(&o)
    );
    assert_eq!(api.count("PATCH", "/issues/comments/"), 1);
    let o = comment(dir.path(), &api, &["--pr", "42"], "delivered", "files\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(api.with(|d| d.comments[&42].len()), 7);
}

#[test]
fn github_comment_by_commit_finds_the_merged_pull_request() {
    let api = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let sha = "abcdef0123456789abcdef0123456789abcdef01";
    api.with(|d| {
        d.pulls.insert(
            sha.into(),
            vec![
                (3, false, "ffffffffffffffffffffffffffffffffffffffff".into()),
                (7, true, sha.into()),
            ],
        );
    });
    let o = comment(dir.path(), &api, &["--sha", sha], "delivered", "done\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pull request #7"),
        "{}",
        text(&o)
    );
    assert_eq!(api.count("GET", &format!("/commits/{sha}/pulls")), 1);
    let on7 = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(on7.len(), 1);
    assert!(on7[0].body.starts_with("<!-- sqlcourier:delivered -->\n"));
    assert!(api.with(|d| !d.comments.contains_key(&3)));

    // a commit pushed without a pull request: logged, exit 0, nothing written
    let lonely = "0123456789012345678901234567890123456789";
    let o = comment(dir.path(), &api, &["--sha", lonely], "delivered", "done\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("belongs to no pull request"),
        "{}",
        text(&o)
    );
    assert_eq!(api.count("POST", "/comments"), 1);
}

// ------------------------------------------------------------------ Slack

fn slack(api: &StandIn, url: Option<&str>, status: &str, extra: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin(dir.path());
    if let Some(u) = url {
        c.env("SLACK_WEBHOOK_URL", u);
    }
    c.env("GITHUB_REPOSITORY", "acme/extracts");
    for (k, v) in extra {
        c.env(k, v);
    }
    c.args([
        "notify",
        "slack",
        "--status",
        status,
        "--run-url",
        "https://github.com/acme/extracts/actions/runs/4242",
        "--query",
        "queries/monthly/signups.sql",
    ]);
    let o = run(c);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!all.contains("T0SECRET"), "webhook secret printed: {all}");
    let _ = api;
    o
}

#[test]
fn slack_posts_failures_and_successes_only_when_asked() {
    let api = StandIn::start();
    let hook = format!("{}/slack/services/T0SECRET/B0SECRET/xoxSECRETpath", api.url);

    let o = slack(&api, Some(&hook), "failure", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let posted = api.with(|d| d.slack.clone());
    assert_eq!(posted.len(), 1);
    let msg = posted[0].to_string();
    assert!(
        msg.contains("https://github.com/acme/extracts/actions/runs/4242"),
        "{msg}"
    );
    assert!(msg.contains("queries/monthly/signups.sql"), "{msg}");
    assert!(msg.contains("failed"), "{msg}");

    let o = slack(&api, Some(&hook), "success", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        api.with(|d| d.slack.len()),
        1,
        "success is quiet by default"
    );

    let o = slack(
        &api,
        Some(&hook),
        "success",
        &[("SQLCOURIER_SLACK_ON_SUCCESS", "1")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(api.with(|d| d.slack.len()), 2);

    // no webhook: nothing to do, not an error
    let o = slack(&api, None, "failure", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(api.with(|d| d.slack.len()), 2);
}

#[test]
fn slack_errors_never_show_the_webhook_url() {
    let api = StandIn::start();
    api.with(|d| d.slack_status = 403);
    let hook = format!("{}/slack/services/T0SECRET/B0SECRET/xoxSECRETpath", api.url);
    let o = slack(&api, Some(&hook), "failure", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("403"),
        "{}",
        text(&o)
    );
    // nothing listens on port 9 of loopback: a connection error, still no URL
    let o = slack(
        &api,
        Some("http://127.0.0.1:9/services/T0SECRET/B0SECRET/xoxSECRETpath"),
        "failure",
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // a plain-text webhook outside loopback is refused before anything is sent
    let o = slack(
        &api,
        Some("http://hooks.example.invalid/services/T0SECRET/B0SECRET/x"),
        "failure",
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("https://"),
        "{}",
        text(&o)
    );
}

// ------------------------------------------------------------------ plan: missed runs

/// The daily check: a daily query due on 2026-11-30 00:00 JST whose only job failed,
/// one that succeeded on a re-run, and a weekly query whose Monday run never happened
/// are told apart through the runs and jobs API; the missed ones are planned (for the
/// Slack message) and the rest are not.
#[test]
fn plan_schedule_missed_lists_due_periods_without_a_successful_job() {
    let api = StandIn::start();
    let repo = Repo::new("sqlite");
    repo.query(
        "daily/orders.sql",
        "schedule: daily\nperiod: previous_day",
        MONTHLY_SQL,
    );
    repo.query(
        "daily/signups.sql",
        "schedule: daily\nperiod: previous_day",
        MONTHLY_SQL,
    );
    repo.query(
        "weekly/stock.sql",
        "schedule: weekly\nperiod: previous_week",
        MONTHLY_SQL,
    );
    repo.query("adhoc/once.sql", "schedule: on-merge-only", "SELECT 1 AS n");
    api.with(|d| {
        // the scheduler run of 2026-11-30 00:17 JST (= 11-29 15:17 UTC)
        d.runs.insert(
            501,
            (
                "2026-11-29T15:17:00Z".into(),
                "2026-11-29T15:17:04Z".into(),
                2,
            ),
        );
        d.jobs.insert(
            501,
            vec![
                ("Run / Run daily-orders 2026-11-29".into(), "failure".into()),
                (
                    "Run / Run daily-signups 2026-11-29".into(),
                    "failure".into(),
                ),
                // attempt 2 ("Re-run failed jobs") passed for signups only
                (
                    "Run / Run daily-signups 2026-11-29".into(),
                    "success".into(),
                ),
                ("Run / Build sqlcourier".into(), "success".into()),
            ],
        );
        // an older run outside the window is not read
        d.runs.insert(
            400,
            (
                "2026-11-20T15:17:00Z".into(),
                "2026-11-20T15:17:04Z".into(),
                1,
            ),
        );
    });
    // the check runs on 2026-11-30 at 15:47 JST (06:47 UTC): it looks at due times
    // between 54 and 6 hours before, so the midnights of 11-29 and 11-30 JST; no run
    // at all happened for 11-29 00:00 JST (period 2026-11-28)
    let mut c = gh(repo.path(), &api);
    c.args([
        "plan",
        "--event",
        "schedule",
        "--schedule",
        "missed",
        "--as-of",
        "2026-11-30T06:47:00Z",
    ]);
    let o = run(c);
    let plan = json(&o);
    let got: Vec<(String, String)> = plan["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["query"].as_str().unwrap().to_string(),
                e["period"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "queries/daily/orders.sql".to_string(),
                "2026-11-28".to_string()
            ),
            (
                "queries/daily/orders.sql".to_string(),
                "2026-11-29".to_string()
            ),
            (
                "queries/daily/signups.sql".to_string(),
                "2026-11-28".to_string()
            ),
            // Monday 2026-11-30 00:00 JST: the previous ISO week
            (
                "queries/weekly/stock.sql".to_string(),
                "2026-W48".to_string()
            ),
        ],
        "{}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("queries/daily/orders.sql: MISSED: no successful run for 2026-11-29"),
        "{err}"
    );
    assert_eq!(api.count("GET", "/actions/runs/400/jobs"), 0);
    assert_eq!(api.count("GET", "/actions/runs/501/jobs"), 1);

    // without API access the check fails loudly instead of reporting nothing missed
    let mut c = bin(repo.path());
    c.args([
        "plan",
        "--event",
        "schedule",
        "--schedule",
        "missed",
        "--as-of",
        "2026-11-30T06:47:00Z",
    ]);
    let o = run(c);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("GITHUB_TOKEN is not set"), "{}", text(&o));
}
