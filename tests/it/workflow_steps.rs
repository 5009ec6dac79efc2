//! Every shell step of every workflow in .github/workflows, run as a GitHub runner
//! would (the harness is `workflow.rs`) with realistic inputs: the real `sqlcourier`
//! binary, real `git`, `jq`, `curl`, `sha256sum`, `objdump`, `python3`, and the
//! GitHub REST + Slack stand-in of `github_api.rs` (only the base URL changed).
//!
//! Tools that cannot run here are replaced on `PATH`, and only those, each said in the
//! test's doc comment: `rustup` (installs from the network), `cargo build` (a release
//! build of the whole project; the recorder leaves the test's own binary where cargo
//! would), and `gh` (talks to github.com only: the recorder forwards `gh api` to the
//! stand-in with curl and applies `--jq` with jq, and answers `gh pr` from the test).
//!
//! [`COVERAGE`] names, for every run step, the tests that run it; `every_run_step_is_
//! exercised_by_a_test` compares it with the workflows both ways, and the harness
//! refuses to run a step for a test the table does not list.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::github_api::{self, StandIn};
use crate::support::text;
use crate::workflow::{Ran, Runner, Step, run_steps};

/// (workflow, job, step name, the tests that run it).
pub const COVERAGE: &[(&str, &str, &str, &[&str])] = &[
    (
        "_run-queries.yml",
        "build",
        "Install Rust (stable)",
        &["build_job_builds_checks_glibc_and_packages_the_binary"],
    ),
    (
        "_run-queries.yml",
        "build",
        "Build release binary",
        &["build_job_builds_checks_glibc_and_packages_the_binary"],
    ),
    (
        "_run-queries.yml",
        "build",
        "Check glibc (runners have 2.36)",
        &["build_job_builds_checks_glibc_and_packages_the_binary"],
    ),
    (
        "_run-queries.yml",
        "build",
        "Package",
        &["build_job_builds_checks_glibc_and_packages_the_binary"],
    ),
    (
        "_run-queries.yml",
        "plan",
        "Refuse manual runs from other branches",
        &["plan_refuses_manual_runs_from_other_branches_only"],
    ),
    (
        "_run-queries.yml",
        "plan",
        "Plan",
        &[
            "plan_step_writes_the_batches_of_a_push_and_of_a_dispatch",
            "plan_step_refuses_an_unknown_event",
        ],
    ),
    (
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
        &[
            "run_step_delivers_on_every_batch_job_and_keeps_the_summary_per_attempt",
            "run_step_on_attempt_2_keeps_its_own_summary_and_the_exit_status",
            "run_step_that_stops_before_any_file_says_what_to_do_per_exit_status",
            "run_step_refuses_a_tampered_binary",
        ],
    ),
    (
        "_run-queries.yml",
        "run-1",
        "Run the query and deliver its files",
        &["run_step_delivers_on_every_batch_job_and_keeps_the_summary_per_attempt"],
    ),
    (
        "_run-queries.yml",
        "run-2",
        "Run the query and deliver its files",
        &["run_step_delivers_on_every_batch_job_and_keeps_the_summary_per_attempt"],
    ),
    (
        "_run-queries.yml",
        "run-3",
        "Run the query and deliver its files",
        &["run_step_delivers_on_every_batch_job_and_keeps_the_summary_per_attempt"],
    ),
    (
        "_run-queries.yml",
        "report",
        "Slack",
        &[
            "notify_step_reports_a_run_job_cancelled_by_the_concurrency_group",
            "notify_step_reports_failed_and_cancelled_jobs_together",
            "notify_step_is_quiet_on_success_unless_asked_and_reports_a_failed_plan",
        ],
    ),
    (
        "_run-queries.yml",
        "report-build",
        "Slack",
        &["build_failure_step_posts_with_curl_without_the_url_on_a_command_line"],
    ),
    (
        "run-on-merge.yml",
        "comment",
        "Comment",
        &[
            "comment_step_posts_the_newest_attempt_of_each_query_once",
            "comment_step_after_a_failed_plan_survives_no_summaries_bad_array_subscript",
        ],
    ),
    (
        "scheduled.yml",
        "window",
        "Previous run's creation time",
        &["window_step_starts_at_the_previous_run_not_cancelled_or_skipped"],
    ),
    (
        "missed-runs.yml",
        "check",
        "Install Rust (stable)",
        &["missed_runs_job_builds_then_reports_nothing_missed_or_every_missed_period"],
    ),
    (
        "missed-runs.yml",
        "check",
        "Build sqlcourier",
        &["missed_runs_job_builds_then_reports_nothing_missed_or_every_missed_period"],
    ),
    (
        "missed-runs.yml",
        "check",
        "Compare the due periods with the successful runs",
        &[
            "missed_runs_job_builds_then_reports_nothing_missed_or_every_missed_period",
            "missed_runs_summary_is_written_even_when_slack_is_down",
        ],
    ),
    (
        "runner-version.yml",
        "check",
        "Compare the pinned runner with the newest release",
        &["runner_version_step_passes_a_current_pin_and_fails_an_old_one"],
    ),
    (
        "pr-check.yml",
        "check",
        "What does this pull request change?",
        &[
            "pr_check_job_checks_a_query_pull_request_and_comments",
            "pr_check_changes_step_tells_irrelevant_and_never_run_files_apart",
        ],
    ),
    (
        "pr-check.yml",
        "check",
        "Install Rust (stable)",
        &["pr_check_job_checks_a_query_pull_request_and_comments"],
    ),
    (
        "pr-check.yml",
        "check",
        "Build sqlcourier",
        &["pr_check_job_checks_a_query_pull_request_and_comments"],
    ),
    (
        "pr-check.yml",
        "check",
        "Check queries and sqlcourier.yaml",
        &[
            "pr_check_job_checks_a_query_pull_request_and_comments",
            "pr_check_changes_step_tells_irrelevant_and_never_run_files_apart",
        ],
    ),
    (
        "pr-check.yml",
        "check",
        "Reviewer summary",
        &["pr_check_job_checks_a_query_pull_request_and_comments"],
    ),
    (
        "pr-check.yml",
        "check",
        "Post or update the PR comment",
        &["pr_check_job_checks_a_query_pull_request_and_comments"],
    ),
    (
        "pr-check.yml",
        "workflow-lint",
        "zizmor and actionlint",
        &["workflow_lint_step_passes_on_the_workflows"],
    ),
    (
        "schema.yml",
        "build",
        "Install Rust (stable)",
        &["schema_build_job_builds_and_packages_the_binary"],
    ),
    (
        "schema.yml",
        "build",
        "Build release binary",
        &["schema_build_job_builds_and_packages_the_binary"],
    ),
    (
        "schema.yml",
        "pull",
        "schema pull",
        &["schema_pull_then_propose_opens_then_updates_one_pull_request"],
    ),
    (
        "schema.yml",
        "propose",
        "Commit, push and open the pull request",
        &["schema_pull_then_propose_opens_then_updates_one_pull_request"],
    ),
];

/// Called by the harness before it runs `step`: the running test must be listed for it.
pub fn assert_listed(step: &Step) {
    // libtest names a test's thread after the test; nextest also passes the name
    // as the filter argument (`<name> --exact`)
    let thread = std::thread::current();
    let full = match thread.name() {
        Some(n) if n != "main" => n.to_string(),
        _ => std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .unwrap_or_default(),
    };
    let test = full.rsplit("::").next().unwrap_or("");
    let entry = COVERAGE
        .iter()
        .find(|(w, j, s, _)| (*w, *j, *s) == (&step.workflow, &step.job, &step.name));
    let Some((_, _, _, tests)) = entry else {
        panic!(
            "{} / {} / {}: not in workflow_steps::COVERAGE",
            step.workflow, step.job, step.name
        );
    };
    assert!(
        tests.contains(&test),
        "{} / {} / {} is run by `{test}`: add it to its COVERAGE entry",
        step.workflow,
        step.job,
        step.name
    );
}

/// Every `run:` step of every workflow is in [`COVERAGE`], every entry is a run step,
/// and every test named there exists in this file and names the step it runs.
#[test]
fn every_run_step_is_exercised_by_a_test() {
    let mut in_yaml = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(crate::workflow::workflows_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yml") || f.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for f in &files {
        for (job, step) in run_steps(f) {
            in_yaml.insert((f.clone(), job, step));
        }
    }
    let table: BTreeSet<_> = COVERAGE
        .iter()
        .map(|(w, j, s, _)| (w.to_string(), j.to_string(), s.to_string()))
        .collect();
    let untested: Vec<_> = in_yaml.difference(&table).collect();
    assert!(
        untested.is_empty(),
        "run: steps no test runs (add a test and a COVERAGE entry): {untested:#?}"
    );
    let stale: Vec<_> = table.difference(&in_yaml).collect();
    assert!(
        stale.is_empty(),
        "COVERAGE names steps the workflows do not have: {stale:#?}"
    );
    let source = include_str!("workflow_steps.rs");
    for (w, j, s, tests) in COVERAGE {
        assert!(!tests.is_empty(), "{w} / {j} / {s}: no test");
        for t in *tests {
            let start = source
                .find(&format!("\nfn {t}() {{"))
                .unwrap_or_else(|| panic!("{w} / {j} / {s}: no test fn {t} in this file"));
            assert!(source[..start].ends_with("#[test]"), "{t} is not a #[test]");
            let body = &source[start..];
            let end = body[1..].find("\n#[test]").map_or(body.len(), |e| e + 1);
            let body = &body[..end];
            // the job too when another job has a step of that name
            let shared = COVERAGE
                .iter()
                .any(|(w2, j2, s2, _)| s2 == s && (w2, j2) != (w, j));
            let mut literals = vec![format!("{s:?}")];
            if shared {
                literals.push(format!("{j:?}"));
            }
            for literal in literals {
                assert!(
                    body.contains(&literal),
                    "{t} is listed for {w} / {j} / {s} but never names {literal}"
                );
            }
        }
    }
}

// ------------------------------------------------------------------ helpers

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Requester")
        .env("GIT_AUTHOR_EMAIL", "requester@example.com")
        .env("GIT_COMMITTER_NAME", "Requester")
        .env("GIT_COMMITTER_EMAIL", "requester@example.com")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const CONFIG: &str = "defaults:\n  timezone: Asia/Tokyo\n  encoding: utf-8\ndatabases:\n  main:\n    driver: sqlite\n    url_env: SQLCOURIER_DB_MAIN\ndestinations:\n  out: {type: local, path: out}\nmasking:\n  key_env: SQLCOURIER_MASK_KEY\n";

const SIGNUPS: &str = "/*---\ntitle: Monthly signups per prefecture\ndatabase: main\ndestination: out\nschedule: monthly\nperiod: previous_month\noutput:\n  file: \"signups_{period}.csv\"\n---*/\nSELECT m.prefecture, COUNT(*) AS signups\nFROM members m\nWHERE m.created_at >= :period_start\n  AND m.created_at < :period_end\nGROUP BY m.prefecture\nORDER BY m.prefecture\n";

/// A checkout of the queries: sqlcourier.yaml and queries/monthly/signups.sql.
fn checkout(dir: &Path) {
    write(dir, "sqlcourier.yaml", CONFIG);
    write(dir, "queries/monthly/signups.sql", SIGNUPS);
}

/// A SQLite database file with members who signed up in September and October 2026.
fn members_db(dir: &Path) -> String {
    let path = dir.join("members.sqlite");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::{Connection, Executor};
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        c.execute(
            "CREATE TABLE members (member_id INTEGER PRIMARY KEY, prefecture TEXT NOT NULL, created_at TEXT NOT NULL);
             INSERT INTO members (prefecture, created_at) VALUES
               ('Tokyo', '2026-10-03 10:00:00'), ('Tokyo', '2026-10-30 23:59:59'),
               ('Osaka', '2026-10-15 09:00:00'), ('Osaka', '2026-09-30 12:00:00'),
               ('Hokkaido', '2026-11-01 00:00:00');",
        )
        .await
        .unwrap();
        c.close().await.unwrap();
    });
    format!("sqlite://{}", path.display())
}

const MASK_KEY: &str = "integration-test-key-0123456789";

/// A runner of a run-N job with the query checked out, the binary downloaded and the
/// matrix entry and secrets of monthly/signups for 2026-10.
fn run_job(db_dir: &Path) -> Runner {
    let mut r = Runner::new();
    checkout(&r.workspace());
    r.download_sqlcourier();
    let url = members_db(db_dir);
    r.expr("matrix.query", "queries/monthly/signups.sql")
        .expr("matrix.id", "monthly-signups")
        .expr("matrix.period", "2026-10")
        .expr("secrets.SQLCOURIER_DB_MAIN", &url)
        // not set in this repository: GitHub passes an empty string
        .expr("secrets.SQLCOURIER_GOOGLE_KEY", "")
        .expr("secrets.SQLCOURIER_MASK_KEY", MASK_KEY);
    r
}

// ------------------------------------------------------------------ build job

/// Replaces `rustup` (it installs from the network) with a recorder; `rustc` is the
/// runner's real one.
fn fake_rustup(r: &Runner) {
    r.tool("rustup", "exit 0");
}

/// Replaces `cargo` with a recorder: `cargo build [--release] … --bin sqlcourier`
/// leaves this test's own binary where cargo would (target/release or target/debug)
/// instead of building the whole project again.
fn fake_cargo(r: &Runner) {
    r.tool(
        "cargo",
        &format!(
            "[ \"${{1:-}}\" = build ] || {{ echo \"cargo stand-in: only build\" >&2; exit 2; }}\nprofile=debug\nfor a in \"$@\"; do [ \"$a\" = --release ] && profile=release; done\nmkdir -p \"target/$profile\"\ncp {bin:?} \"target/$profile/sqlcourier\"\nchmod +x \"target/$profile/sqlcourier\"",
            bin = env!("CARGO_BIN_EXE_sqlcourier")
        ),
    );
}

/// The build job: Install Rust (rustup recorded, the real `rustc --version`), Build
/// release binary (cargo recorded, see [`fake_cargo`]), Check glibc (the real
/// objdump on the real binary: this machine is Debian 12, glibc 2.36, as the runners),
/// Package (dist/ with a SHA256SUMS that verifies, and `--version` of the packaged
/// binary).
#[test]
fn build_job_builds_checks_glibc_and_packages_the_binary() {
    let mut r = Runner::new();
    fake_rustup(&r);
    fake_cargo(&r);
    let w = "_run-queries.yml";
    let ran = r.run(&Step::load(w, "build", "Install Rust (stable)"));
    ran.assert_ok();
    assert!(ran.stdout.starts_with("rustc 1."), "{}", ran.log());
    let ran = r.run(&Step::load(w, "build", "Build release binary"));
    ran.assert_ok();
    assert_eq!(
        r.tool_log(),
        [
            "rustup toolchain install stable --profile minimal --no-self-update",
            "rustup default stable",
            "cargo build --release --locked --bin sqlcourier",
        ]
    );
    let ran = r.run(&Step::load(w, "build", "Check glibc (runners have 2.36)"));
    ran.assert_ok();
    let newest = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("newest glibc symbol: GLIBC_"))
        .unwrap_or_else(|| panic!("{}", ran.log()));
    let minor: u32 = newest.split('.').nth(1).unwrap().parse().unwrap();
    assert!(minor <= 36, "{}", ran.log());
    assert!(!ran.all().contains("::error::"), "{}", ran.log());

    let ran = r.run(&Step::load(w, "build", "Package"));
    ran.assert_ok();
    assert!(ran.stdout.contains("  sqlcourier\n"), "{}", ran.log());
    assert!(ran.stdout.contains("sqlcourier 0.1.0"), "{}", ran.log());
    let dist = r.workspace().join("dist");
    let check = Command::new("sha256sum")
        .current_dir(&dist)
        .args(["--check", "SHA256SUMS"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    assert_eq!(
        std::fs::read(dist.join("sqlcourier")).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_sqlcourier")).unwrap()
    );
}

// ------------------------------------------------------------------ plan job

#[test]
fn plan_refuses_manual_runs_from_other_branches_only() {
    let step = Step::load(
        "_run-queries.yml",
        "plan",
        "Refuse manual runs from other branches",
    );
    let mut r = Runner::new();
    r.expr("github.event.repository.default_branch", "main");
    r.expr("inputs.event", "workflow_dispatch")
        .var("GITHUB_REF", "refs/heads/try-a-query");
    let ran = r.run(&step);
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(
        ran.stdout.contains(
            "::error::Manual runs only use reviewed queries: start this workflow from the main branch, not refs/heads/try-a-query."
        ),
        "{}",
        ran.log()
    );
    r.var("GITHUB_REF", "refs/heads/main");
    r.run(&step).assert_ok();
    // a push or a schedule is never refused here (pushes only start from main)
    r.expr("inputs.event", "push")
        .var("GITHUB_REF", "refs/heads/try-a-query");
    r.run(&step).assert_ok();
}

/// The `plan` job's inputs as `_run-queries.yml` receives them.
fn plan_inputs(r: &mut Runner, event: &str) {
    for (k, v) in [
        ("inputs.event", event),
        ("inputs.before", ""),
        ("inputs.after", ""),
        ("inputs.schedule", "monthly"),
        ("inputs.since", ""),
        ("inputs.glob", "queries/**/*.sql"),
        ("inputs.period", ""),
        ("github.token", github_api::TOKEN),
    ] {
        r.expr(k, v);
    }
}

/// A push: the plan reads the run's original creation time from the stand-in and
/// writes batch-0..3, count and batches to GITHUB_OUTPUT (what the run-N jobs' matrix
/// reads), and the plan to the job summary. A dispatch with a glob and a period plans
/// that month without asking GitHub for the time; a schedule plans what fell due since
/// the previous dispatcher run.
#[test]
fn plan_step_writes_the_batches_of_a_push_and_of_a_dispatch() {
    let api = StandIn::start();
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-02T01:00:00Z".into(),
                "2026-11-02T01:00:05Z".into(),
                1,
            ),
        )
    });
    let mut r = Runner::new();
    r.api(&api);
    let w = r.workspace();
    git(&w, &["init", "-q", "-b", "main"]);
    checkout(&w);
    write(
        &w,
        "queries/adhoc/once.sql",
        "/*---\ntitle: once\ndatabase: main\ndestination: out\n---*/\nSELECT 1 AS n\n",
    );
    git(&w, &["add", "-A"]);
    git(&w, &["commit", "-q", "-m", "base"]);
    let before = git(&w, &["rev-parse", "HEAD"]);
    write(
        &w,
        "queries/monthly/signups.sql",
        &SIGNUPS.replace("ORDER BY m.prefecture", "ORDER BY signups DESC"),
    );
    git(&w, &["commit", "-q", "-am", "sort by signups"]);
    let after = git(&w, &["rev-parse", "HEAD"]);
    r.download_sqlcourier();
    plan_inputs(&mut r, "push");
    r.expr("inputs.before", &before)
        .expr("inputs.after", &after);
    let step = Step::load("_run-queries.yml", "plan", "Plan");
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout.contains(": OK"),
        "sha256sum --check: {}",
        ran.log()
    );
    let batch: Value = serde_json::from_str(&ran.outputs["batch-0"]).unwrap();
    assert_eq!(
        batch["include"],
        serde_json::json!([{"query": "queries/monthly/signups.sql", "id": "monthly-signups", "period": "2026-10", "variants": []}]),
        "{}",
        ran.log()
    );
    for i in 1..4 {
        assert_eq!(ran.outputs[&format!("batch-{i}")], r#"{"include":[]}"#);
    }
    assert_eq!(ran.outputs["count"], "1");
    assert_eq!(ran.outputs["batches"], "1");
    assert!(
        ran.summary.starts_with("### Plan\n\n```json\n{"),
        "{}",
        ran.log()
    );
    assert!(ran.summary.contains("\"monthly-signups\""), "{}", ran.log());
    assert_eq!(api.count("GET", "/actions/runs/4242"), 1);

    // Monthly → Run workflow with a glob and a month
    let mut r2 = Runner::new();
    r2.api(&api);
    checkout(&r2.workspace());
    r2.download_sqlcourier();
    plan_inputs(&mut r2, "workflow_dispatch");
    r2.expr("inputs.glob", "queries/monthly/*.sql")
        .expr("inputs.period", "2026-09");
    let ran = r2.run(&step);
    ran.assert_ok();
    let batch: Value = serde_json::from_str(&ran.outputs["batch-0"]).unwrap();
    assert_eq!(batch["include"][0]["period"], "2026-09", "{}", ran.log());
    assert_eq!(ran.outputs["count"], "1");

    // the hourly dispatcher: run 4300 was created 2026-11-01 00:30 JST; the window
    // since the previous run (23:17 JST) holds the Tokyo midnight of the 1st
    api.with(|d| {
        d.runs.insert(
            4300,
            (
                "2026-10-31T15:30:00Z".into(),
                "2026-10-31T15:30:04Z".into(),
                1,
            ),
        )
    });
    let mut r3 = Runner::new();
    r3.api(&api).var("GITHUB_RUN_ID", "4300");
    checkout(&r3.workspace());
    r3.download_sqlcourier();
    plan_inputs(&mut r3, "schedule");
    r3.expr("inputs.schedule", "due")
        .expr("inputs.since", "2026-10-31T14:17:00Z");
    let ran = r3.run(&step);
    ran.assert_ok();
    let batch: Value = serde_json::from_str(&ran.outputs["batch-0"]).unwrap();
    assert_eq!(
        batch["include"][0]["id"],
        "monthly-signups",
        "{}",
        ran.log()
    );
    assert_eq!(batch["include"][0]["period"], "2026-10", "{}", ran.log());
    // an hour later the window no longer holds it: never planned twice
    r3.expr("inputs.since", "2026-10-31T15:30:00Z");
    api.with(|d| {
        d.runs.insert(
            4300,
            (
                "2026-10-31T16:30:00Z".into(),
                "2026-10-31T16:30:04Z".into(),
                1,
            ),
        )
    });
    let ran = r3.run(&step);
    ran.assert_ok();
    assert_eq!(ran.outputs["count"], "0", "{}", ran.log());
}

#[test]
fn plan_step_refuses_an_unknown_event() {
    let mut r = Runner::new();
    checkout(&r.workspace());
    r.download_sqlcourier();
    plan_inputs(&mut r, "pull_request");
    let ran = r.run(&Step::load("_run-queries.yml", "plan", "Plan"));
    assert_eq!(ran.code, Some(2), "{}", ran.log());
    assert!(
        ran.stdout.contains("::error::unknown event 'pull_request'"),
        "{}",
        ran.log()
    );
    assert!(ran.outputs.is_empty(), "{}", ran.log());
}

// ------------------------------------------------------------------ run jobs

/// The four batch jobs share their steps (`steps: *run-steps`): each delivers the
/// query's file, prints the JSON report, and keeps the job summary as
/// `<id>--attempt-1.md` for the pull-request comment.
#[test]
fn run_step_delivers_on_every_batch_job_and_keeps_the_summary_per_attempt() {
    let first = Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    );
    for job in ["run-0", "run-1", "run-2", "run-3"] {
        let step = Step::load(
            "_run-queries.yml",
            job,
            "Run the query and deliver its files",
        );
        assert_eq!(step.script, first.script, "{job}");
        let db = tempfile::tempdir().unwrap();
        let mut r = run_job(db.path());
        let ran = r.run(&step);
        ran.assert_ok();
        let csv = read(r.workspace().join("out/signups_2026-10.csv"));
        assert_eq!(
            crate::support::parse_csv(&csv),
            [
                ["prefecture", "signups"].map(|s| Some(s.to_string())),
                ["Osaka", "1"].map(|s| Some(s.to_string())),
                ["Tokyo", "2"].map(|s| Some(s.to_string())),
            ],
            "{job}"
        );
        let out = r.temp().join("sqlcourier-summary");
        let report: Value = serde_json::from_str(&read(out.join("report.json"))).unwrap();
        assert_eq!(report[0]["rows"], 2, "{report}");
        // the report is printed for the log too
        assert!(ran.stdout.contains("\"rows\": 2"), "{}", ran.log());
        let md = read(out.join("monthly-signups--attempt-1.md"));
        assert_eq!(md, ran.summary, "{job}");
        assert!(md.contains("signups_2026-10.csv"), "{md}");
        assert!(!md.contains("failed before any file"), "{md}");
    }
}

/// "Re-run failed jobs": attempt 2 keeps its summary as `<id>--attempt-2.md` (the
/// comment picks the newest), and a run that failed at the database keeps its exit
/// status and its own summary (no "before any file" sentence: a summary exists).
#[test]
fn run_step_on_attempt_2_keeps_its_own_summary_and_the_exit_status() {
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    r.var("GITHUB_RUN_ATTEMPT", "2");
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    ran.assert_ok();
    let out = r.temp().join("sqlcourier-summary");
    assert!(out.join("monthly-signups--attempt-2.md").is_file());
    assert!(!out.join("monthly-signups--attempt-1.md").exists());

    // the database lacks a column the query reads: `run` fails after its summary
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    r.var("GITHUB_RUN_ATTEMPT", "2");
    write(
        &r.workspace(),
        "queries/monthly/signups.sql",
        &SIGNUPS.replace("m.prefecture", "m.region"),
    );
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    let md = read(
        r.temp()
            .join("sqlcourier-summary/monthly-signups--attempt-2.md"),
    );
    assert_eq!(md, ran.summary);
    assert!(md.contains("**Query problem**"), "{md}");
    assert!(md.contains("no such column"), "{md}");
    assert!(!md.contains("failed before any file"), "{md}");
    let report: Value =
        serde_json::from_str(&read(r.temp().join("sqlcourier-summary/report.json"))).unwrap();
    assert_eq!(report[0]["status"], "failed", "{report}");
    assert!(!r.workspace().join("out/signups_2026-10.csv").exists());
}

/// `run` stops before any file: exit 1 (the query file has a problem) tells the
/// requester to fix it in a new pull request; exit 2 (sqlcourier.yaml or a secret)
/// tells them to ask an operator and then re-run. The step keeps the status.
#[test]
fn run_step_that_stops_before_any_file_says_what_to_do_per_exit_status() {
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    write(
        &r.workspace(),
        "queries/monthly/signups.sql",
        &SIGNUPS.replace("database: main", "database: mian"),
    );
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.stderr.contains("mian"), "{}", ran.log());
    let md = read(
        r.temp()
            .join("sqlcourier-summary/monthly-signups--attempt-1.md"),
    );
    assert_eq!(
        md,
        "\n**queries/monthly/signups.sql** (2026-10) failed before any file was made: a problem in the query file: fix it in a new pull request (a re-run uses the same commit). The step log names the file and line.\n"
    );

    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    write(
        &r.workspace(),
        "sqlcourier.yaml",
        &CONFIG.replace(
            "    driver: sqlite\n",
            "    driver: sqlite\n    drvier: x\n",
        ),
    );
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(2), "{}", ran.log());
    let md = read(
        r.temp()
            .join("sqlcourier-summary/monthly-signups--attempt-1.md"),
    );
    assert!(
        md.contains("failed before any file was made: a set-up problem (sqlcourier.yaml or a secret): ask an operator, then press \"Re-run failed jobs\"."),
        "{md}"
    );
}

/// A binary that is not the one the build job packaged never runs.
#[test]
fn run_step_refuses_a_tampered_binary() {
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    let bin = r.temp().join("sqlcourier-bin/sqlcourier");
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes.extend_from_slice(b"\n#!/bin/sh\n");
    std::fs::write(&bin, bytes).unwrap();
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.all().contains("sqlcourier: FAILED"), "{}", ran.log());
    assert!(ran.all().contains("did NOT match"), "{}", ran.log());
    assert!(
        !r.temp().join("sqlcourier-summary").exists(),
        "{}",
        ran.log()
    );
    assert!(!r.workspace().join("out").exists());
}

// ------------------------------------------------------------------ report job

const HOOK_PATH: &str = "/slack/services/T0SECRET/B0SECRET/xoxSECRETpath";

fn batch(entries: &[(&str, &str, &str)]) -> String {
    let include: Vec<Value> = entries
        .iter()
        .map(|(q, id, p)| serde_json::json!({"query": q, "id": id, "period": p, "variants": []}))
        .collect();
    serde_json::json!({ "include": include }).to_string()
}

/// The Notify job's runner: the binary downloaded, the Slack webhook on the stand-in,
/// the plan's batches and every job's result as given.
fn notify_job(api: &StandIn, plan: &str, runs: [&str; 4], batches: [String; 4]) -> Runner {
    let mut r = Runner::new();
    r.download_sqlcourier();
    r.expr(
        "secrets.SLACK_WEBHOOK_URL",
        &format!("{}{HOOK_PATH}", api.url),
    )
    .expr("vars.SQLCOURIER_SLACK_ON_SUCCESS", "")
    .expr("needs.plan.result", plan)
    .expr("github.server_url", "https://github.com")
    .expr("github.repository", "acme/extracts")
    .expr("github.run_id", "4242");
    for (i, result) in runs.iter().enumerate() {
        r.expr(&format!("needs.run-{i}.result"), result);
    }
    for (i, b) in batches.into_iter().enumerate() {
        r.expr(&format!("needs.plan.outputs.batch-{i}"), &b);
    }
    r
}

fn slack_texts(api: &StandIn) -> Vec<String> {
    api.with(|d| d.slack.clone())
        .iter()
        .map(|m| {
            let blocks: Vec<&str> = m["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["text"]["text"].as_str().unwrap())
                .collect();
            format!("{}\n{}", m["text"].as_str().unwrap(), blocks.join("\n"))
        })
        .collect()
}

/// A third run of the same query and period replaced the waiting run job of this
/// run (GitHub keeps only the newest waiting job of a concurrency group): run-1 is
/// `cancelled`. The operators are told what happened and what to do, never "success".
#[test]
fn notify_step_reports_a_run_job_cancelled_by_the_concurrency_group() {
    let api = StandIn::start();
    let empty = batch(&[]);
    let mut r = notify_job(
        &api,
        "success",
        ["success", "cancelled", "skipped", "skipped"],
        [
            batch(&[("queries/monthly/signups.sql", "monthly-signups", "2026-10")]),
            batch(&[("queries/monthly/orders.sql", "monthly-orders", "2026-10")]),
            empty.clone(),
            empty,
        ],
    );
    let ran = r.run(&Step::load("_run-queries.yml", "report", "Slack"));
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("plan: success; runs: success cancelled skipped skipped => cancelled"),
        "{}",
        ran.log()
    );
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    let t = &texts[0];
    for needle in [
        "sqlcourier: query jobs of a run were cancelled: https://github.com/acme/extracts/actions/runs/4242",
        "in `acme/extracts`",
        "<https://github.com/acme/extracts/actions/runs/4242|Open the run>",
        "a newer run of the same query and period was queued",
        "the newer run replaced it and delivers the same period",
        "if it delivered, nothing is left to do",
        "re-run the cancelled job on this run: open the run and press the job's *Re-run job* button",
        "both keep the period",
        "• `queries/monthly/signups.sql`",
        "• `queries/monthly/orders.sql`",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in {t}");
    }
    assert!(!t.contains("a run failed"), "{t}");
    assert!(!ran.all().contains("T0SECRET"), "{}", ran.log());
}

#[test]
fn notify_step_reports_failed_and_cancelled_jobs_together() {
    let api = StandIn::start();
    let mut r = notify_job(
        &api,
        "success",
        ["failure", "cancelled", "skipped", "skipped"],
        [
            batch(&[("queries/monthly/signups.sql", "monthly-signups", "2026-10")]),
            batch(&[("queries/monthly/orders.sql", "monthly-orders", "2026-10")]),
            String::new(),
            String::new(),
        ],
    );
    let ran = r.run(&Step::load("_run-queries.yml", "report", "Slack"));
    ran.assert_ok();
    assert!(ran.stdout.contains("=> failure cancelled"), "{}", ran.log());
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    let t = &texts[0];
    assert!(t.starts_with("sqlcourier: a run failed: "), "{t}");
    assert!(t.contains(":x: *sqlcourier: a run failed*"), "{t}");
    assert!(
        t.contains("The summary of each failed job says what to do"),
        "{t}"
    );
    assert!(t.contains("the newer run replaced it"), "{t}");
}

#[test]
fn notify_step_is_quiet_on_success_unless_asked_and_reports_a_failed_plan() {
    let api = StandIn::start();
    let one = || batch(&[("queries/monthly/signups.sql", "monthly-signups", "2026-10")]);
    let step = Step::load("_run-queries.yml", "report", "Slack");
    let mut r = notify_job(
        &api,
        "success",
        ["success", "skipped", "skipped", "skipped"],
        [one(), batch(&[]), batch(&[]), batch(&[])],
    );
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(ran.stdout.contains("=> success"), "{}", ran.log());
    assert!(
        ran.stderr.contains("success messages are off"),
        "{}",
        ran.log()
    );
    assert!(slack_texts(&api).is_empty());

    r.expr("vars.SQLCOURIER_SLACK_ON_SUCCESS", "true");
    r.run(&step).assert_ok();
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("the run delivered its files"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("queries/monthly/signups.sql"),
        "{}",
        texts[0]
    );

    // the plan failed: no batches, the run jobs skipped
    let mut r = notify_job(
        &api,
        "failure",
        ["skipped"; 4],
        [String::new(), String::new(), String::new(), String::new()],
    );
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("plan: failure; runs: skipped skipped skipped skipped => failure"),
        "{}",
        ran.log()
    );
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("a run failed"), "{}", texts[1]);
    assert!(!texts[1].contains("*Queries*"), "{}", texts[1]);
}

/// The build failed, so there is no binary: curl posts to the Slack stand-in. The
/// webhook URL (a secret) reaches curl on stdin: it is in no process's command line
/// while the step runs (read from /proc while the stand-in holds the request) and in
/// no output. Without the secret the step says so and posts nothing.
#[test]
fn build_failure_step_posts_with_curl_without_the_url_on_a_command_line() {
    let api = StandIn::start();
    api.with(|d| d.slack_delay_ms = 400);
    let step = Step::load("_run-queries.yml", "report-build", "Slack");
    let mut r = Runner::new();
    r.expr("secrets.SLACK_WEBHOOK_URL", "")
        .expr("inputs.event", "schedule")
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("SLACK_WEBHOOK_URL is not set: no Slack message"),
        "{}",
        ran.log()
    );
    assert!(slack_texts(&api).is_empty());

    r.expr(
        "secrets.SLACK_WEBHOOK_URL",
        &format!("{}{HOOK_PATH}", api.url),
    )
    .watch_processes();
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(ran.stdout.contains("Slack message posted"), "{}", ran.log());
    let curl: Vec<_> = ran
        .processes
        .iter()
        .filter(|p| p.starts_with("curl "))
        .collect();
    assert!(
        !curl.is_empty(),
        "curl was never seen running: {:?}",
        ran.processes
    );
    assert!(curl[0].contains("--config -"), "{curl:?}");
    for p in &ran.processes {
        assert!(
            !p.contains("SECRET"),
            "the webhook URL is on a command line: {p}"
        );
    }
    assert!(!ran.all().contains("SECRET"), "{}", ran.log());
    let sent = api.with(|d| d.slack.clone());
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["text"],
        "sqlcourier: the build failed, so no query of this schedule run ran: https://github.com/acme/extracts/actions/runs/4242"
    );
    let block = sent[0]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(block.starts_with(":x: *sqlcourier: the build failed* in `acme/extracts`; no query ran.\n<https://github.com/acme/extracts/actions/runs/4242|Open the run>"), "{block}");
}

// ------------------------------------------------------------------ run-on-merge

/// The Comment job's runner: the binary and the summaries downloaded, the merged pull
/// request #7 on the stand-in.
fn comment_job(api: &StandIn, run: &str, plan: &str) -> Runner {
    const AFTER: &str = "abcdef0123456789abcdef0123456789abcdef01";
    api.with(|d| {
        d.pulls.insert(AFTER.into(), vec![(7, true, AFTER.into())]);
    });
    let mut r = Runner::new();
    r.api(api);
    r.download_sqlcourier();
    r.expr("github.token", github_api::TOKEN)
        .expr("github.event.after", AFTER)
        .expr("needs.run.result", run)
        .expr("needs.run.outputs.plan-result", plan)
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    r
}

/// Summaries of two queries over attempts 1, 2 and 10 (download-artifact merges them
/// into one folder): the comment on the merged pull request has the NEWEST attempt of
/// each query, once, in query order; a later attempt updates the same comment.
#[test]
fn comment_step_posts_the_newest_attempt_of_each_query_once() {
    let api = StandIn::start();
    let mut r = comment_job(&api, "failure", "success");
    r.var("GITHUB_RUN_ATTEMPT", "10");
    let s = r.temp().join("summaries");
    for (file, body) in [
        (
            "monthly-signups--attempt-1.md",
            "signups: attempt 1 failed (database unreachable)\n",
        ),
        (
            "monthly-signups--attempt-2.md",
            "signups: attempt 2 failed (database unreachable)\n",
        ),
        (
            "monthly-signups--attempt-10.md",
            "signups: attempt 10 delivered signups_2026-10.csv\n",
        ),
        ("adhoc-once--attempt-1.md", "once: delivered once.csv\n"),
        (
            "monthly-orders--attempt-2.md",
            "orders: attempt 2 failed: a problem in the query\n",
        ),
    ] {
        write(&s, file, body);
    }
    let step = Step::load("run-on-merge.yml", "comment", "Comment");
    let ran = r.run(&step);
    ran.assert_ok();
    let comments = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1, "{}", ran.log());
    let body = &comments[0].body;
    assert_eq!(
        body,
        "<!-- sqlcourier:delivered -->\n## sqlcourier: some queries of this pull request failed\n\n\
The summary of each failed query below says what to do: a temporary problem →\n\
**Re-run failed jobs** (same period, same files); a problem in the query → a new pull\n\
request; a set-up problem → ask an operator. This comment is updated after every attempt.\n\n\
Run: https://github.com/acme/extracts/actions/runs/4242 (attempt 10)\n\n\
once: delivered once.csv\n\n\
orders: attempt 2 failed: a problem in the query\n\n\
signups: attempt 10 delivered signups_2026-10.csv\n\n"
    );

    // attempt 11 re-ran the orders query successfully: the same comment is updated
    write(
        &s,
        "monthly-orders--attempt-11.md",
        "orders: attempt 11 delivered orders.csv\n",
    );
    r.var("GITHUB_RUN_ATTEMPT", "11")
        .expr("needs.run.result", "success");
    r.run(&step).assert_ok();
    let comments = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(
        body.contains("## sqlcourier: the queries of this pull request ran\n"),
        "{body}"
    );
    assert!(body.contains("orders: attempt 11 delivered"), "{body}");
    assert!(!body.contains("attempt 2 failed"), "{body}");
    assert_eq!(body.matches("signups:").count(), 1, "{body}");
    assert_eq!(api.count("PATCH", "/issues/comments/"), 1);
}

/// Regression: when the plan failed no run job ran, so there are no summaries; the
/// empty glob made the step die with "bad array subscript" (bash -e) before the
/// comment, and the requester never heard that their merge ran nothing.
#[test]
fn comment_step_after_a_failed_plan_survives_no_summaries_bad_array_subscript() {
    let api = StandIn::start();
    let mut r = comment_job(&api, "failure", "failure");
    let ran = r.run(&Step::load("run-on-merge.yml", "comment", "Comment"));
    ran.assert_ok();
    assert!(!ran.stderr.contains("bad array subscript"), "{}", ran.log());
    let comments = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1, "{}", ran.log());
    let body = &comments[0].body;
    assert!(
        body.contains("## sqlcourier: the queries of this pull request did not run"),
        "{body}"
    );
    assert!(body.contains("Fix it in a **new pull request**"), "{body}");
    assert!(body.ends_with("(attempt 1)\n\n"), "{body:?}");
}

// ------------------------------------------------------------------ scheduled

/// Replaces `gh` (it talks to github.com only). `gh api PATH [--jq F]` is forwarded
/// to the stand-in at `$GITHUB_API_URL` with curl and the same token, and `--jq`
/// applied with `jq -r` (gh prints strings raw, as `jq -r` does); `gh pr list` prints
/// the number written to `pr-number` next to the runner's tools, `gh pr create|edit`
/// only record.
fn fake_gh(r: &Runner, dir: &Path) {
    r.tool(
        "gh",
        &format!(
            r#"case "${{1:-}}" in
  api)
    path="$2"; shift 2
    filter=.
    while [ "$#" -gt 0 ]; do
      case "$1" in
        --jq) filter="$2"; shift 2 ;;
        *) echo "gh stand-in: unsupported flag $1" >&2; exit 2 ;;
      esac
    done
    curl --silent --show-error --fail-with-body \
      --header "Authorization: Bearer ${{GH_TOKEN}}" --header "Accept: application/vnd.github+json" \
      "${{GITHUB_API_URL}}/${{path#/}}" | jq -r "$filter" ;;
  pr)
    [ -n "${{GH_TOKEN:-}}" ] || {{ echo "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable." >&2; exit 4; }}
    case "$2" in
      list) cat {dir:?}/pr-number 2>/dev/null || true ;;
      create|edit) ;;
      *) echo "gh stand-in: unsupported pr command $2" >&2; exit 2 ;;
    esac ;;
  *) echo "gh stand-in: unsupported command $1" >&2; exit 2 ;;
esac"#,
            dir = dir
        ),
    );
}

/// The window of the hourly dispatcher starts at the newest EARLIER run that was not
/// cancelled or skipped (one still in progress counts: it planned its window); later
/// runs never count. `gh` is replaced (see [`fake_gh`]): the step's jq filters run on
/// the stand-in's answers.
#[test]
fn window_step_starts_at_the_previous_run_not_cancelled_or_skipped() {
    let api = StandIn::start();
    let helper = tempfile::tempdir().unwrap();
    let step = Step::load("scheduled.yml", "window", "Previous run's creation time");
    let mut r = Runner::new();
    r.api(&api);
    fake_gh(&r, helper.path());
    r.expr("github.token", github_api::TOKEN);

    // the first run of the workflow: no previous run, the plan takes the last hour
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-02T03:17:00Z".into(),
                "2026-11-02T03:18:10Z".into(),
                1,
            ),
        );
    });
    let ran = r.run(&step);
    ran.assert_ok();
    assert_eq!(ran.outputs["since"], "", "{}", ran.log());
    assert!(
        ran.stdout.contains(
            "this run: 2026-11-02T03:17:00Z; previous run: none (first run: the last hour)"
        ),
        "{}",
        ran.log()
    );

    api.with(|d| {
        for (id, created, conclusion) in [
            (4238, "2026-11-01T23:17:00Z", Some("success")),
            (4239, "2026-11-02T00:17:00Z", Some("failure")),
            (4240, "2026-11-02T01:17:00Z", Some("cancelled")),
            (4241, "2026-11-02T02:17:00Z", Some("skipped")),
            // a later run (GitHub started it before this one asked): never counts
            (4243, "2026-11-02T04:17:00Z", None),
        ] {
            d.runs.insert(id, (created.into(), created.into(), 1));
            if let Some(c) = conclusion {
                d.conclusions.insert(id, c.into());
            }
        }
    });
    let ran = r.run(&step);
    ran.assert_ok();
    // 4241 skipped and 4240 cancelled planned nothing; 4239 failed but owns its window
    assert_eq!(
        ran.outputs["since"],
        "2026-11-02T00:17:00Z",
        "{}",
        ran.log()
    );

    // a previous run still in progress owns its window too
    api.with(|d| {
        d.runs.insert(
            4241,
            (
                "2026-11-02T02:17:00Z".into(),
                "2026-11-02T02:17:00Z".into(),
                1,
            ),
        );
        d.conclusions.remove(&4241);
    });
    let ran = r.run(&step);
    ran.assert_ok();
    assert_eq!(
        ran.outputs["since"],
        "2026-11-02T02:17:00Z",
        "{}",
        ran.log()
    );
    // (the multi-line --jq filter spans several log lines)
    let calls: Vec<_> = r
        .tool_log()
        .into_iter()
        .filter(|c| c.starts_with("gh "))
        .collect();
    assert_eq!(calls.len(), 9, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("gh api repos/acme/extracts/actions/")),
        "{calls:?}"
    );
    assert!(
        api.count(
            "GET",
            "/actions/workflows/159038/runs?per_page=100&exclude_pull_requests=true"
        ) >= 1
    );
    assert!(
        api.requests()
            .iter()
            .all(|q| q.authorization.as_deref() == Some(&*format!("Bearer {}", github_api::TOKEN)))
    );
}

// ------------------------------------------------------------------ missed-runs

/// The daily check's job: Install Rust (rustup recorded), Build sqlcourier (cargo
/// recorded, see [`fake_cargo`]), then the comparison with the real binary against the
/// runs and jobs on the stand-in. The check run was created 2026-11-30 00:47 UTC
/// (09:47 JST): it looks at due times between 54 and 6 hours before, the Tokyo
/// midnights of 29 and 30 November (periods 2026-11-28 and 2026-11-29).
#[test]
fn missed_runs_job_builds_then_reports_nothing_missed_or_every_missed_period() {
    let api = StandIn::start();
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-30T00:47:00Z".into(),
                "2026-11-30T00:47:03Z".into(),
                1,
            ),
        );
        // the scheduler runs after the two midnights; 4201's daily-orders job passed on
        // its re-run (attempt 2)
        d.runs.insert(
            4201,
            (
                "2026-11-28T15:17:00Z".into(),
                "2026-11-28T15:17:00Z".into(),
                2,
            ),
        );
        d.runs.insert(
            4202,
            (
                "2026-11-29T15:17:00Z".into(),
                "2026-11-29T15:17:00Z".into(),
                1,
            ),
        );
        d.jobs.insert(
            4201,
            vec![
                ("Run / Run daily-orders 2026-11-28".into(), "failure".into()),
                ("Run / Run daily-orders 2026-11-28".into(), "success".into()),
            ],
        );
        d.jobs.insert(
            4202,
            vec![("Run / Run daily-orders 2026-11-29".into(), "success".into())],
        );
    });
    let mut r = Runner::new();
    r.api(&api);
    fake_rustup(&r);
    fake_cargo(&r);
    let w = r.workspace();
    write(&w, "sqlcourier.yaml", CONFIG);
    write(
        &w,
        "queries/daily/orders.sql",
        "/*---\ntitle: Daily orders\ndatabase: main\ndestination: out\nschedule: daily\nperiod: previous_day\n---*/\nSELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end\n",
    );
    r.run(&Step::load(
        "missed-runs.yml",
        "check",
        "Install Rust (stable)",
    ))
    .assert_ok();
    r.run(&Step::load("missed-runs.yml", "check", "Build sqlcourier"))
        .assert_ok();
    assert_eq!(
        r.tool_log()[2],
        "cargo build --release --locked --bin sqlcourier"
    );
    r.expr("github.token", github_api::TOKEN)
        .expr(
            "secrets.SLACK_WEBHOOK_URL",
            &format!("{}{HOOK_PATH}", api.url),
        )
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    let step = Step::load(
        "missed-runs.yml",
        "check",
        "Compare the due periods with the successful runs",
    );
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("every query due between 54 and 6 hours ago ran successfully"),
        "{}",
        ran.log()
    );
    assert!(slack_texts(&api).is_empty());
    assert!(ran.summary.is_empty());

    // a weekly query whose Monday (30 November 00:00 JST) run never happened, and the
    // daily query's 29 November run lost
    api.with(|d| {
        d.jobs.insert(
            4202,
            vec![(
                "Run / Run daily-orders 2026-11-29".into(),
                "cancelled".into(),
            )],
        )
    });
    write(
        &w,
        "queries/weekly/stock.sql",
        "/*---\ntitle: Weekly stock\ndatabase: main\ndestination: out\nschedule: weekly\nperiod: previous_week\n---*/\nSELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end\n",
    );
    let ran = r.run(&step);
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.stdout.contains("::error::2 scheduled run(s) did not happen or did not succeed (listed in the job summary)"), "{}", ran.log());
    assert_eq!(
        ran.summary,
        "### sqlcourier: 2 scheduled run(s) missed\n\n- `queries/daily/orders.sql` for 2026-11-29\n- `queries/weekly/stock.sql` for 2026-W48\n\nRun each from Monthly → Run workflow (the query as the glob, the period), or re-run its failed run.\n"
    );
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("scheduled runs did not happen or did not succeed"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("• `queries/daily/orders.sql 2026-11-29`"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("• `queries/weekly/stock.sql 2026-W48`"),
        "{}",
        texts[0]
    );
}

/// Regression: the step posted to Slack before it wrote the job summary, so with
/// Slack down (`set -e`) the run failed with only "the Slack message was not
/// delivered" and no list of the missed runs anywhere but the plan's log.
#[test]
fn missed_runs_summary_is_written_even_when_slack_is_down() {
    let api = StandIn::start();
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-30T00:47:00Z".into(),
                "2026-11-30T00:47:03Z".into(),
                1,
            ),
        );
        d.slack_status = 403;
    });
    let mut r = Runner::new();
    r.api(&api);
    let w = r.workspace();
    write(&w, "sqlcourier.yaml", CONFIG);
    write(
        &w,
        "queries/weekly/stock.sql",
        "/*---\ntitle: Weekly stock\ndatabase: main\ndestination: out\nschedule: weekly\nperiod: previous_week\n---*/\nSELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end\n",
    );
    std::fs::create_dir_all(w.join("target/release")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_sqlcourier"),
        w.join("target/release/sqlcourier"),
    )
    .unwrap();
    r.expr("github.token", github_api::TOKEN)
        .expr(
            "secrets.SLACK_WEBHOOK_URL",
            &format!("{}{HOOK_PATH}", api.url),
        )
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    let ran = r.run(&Step::load(
        "missed-runs.yml",
        "check",
        "Compare the due periods with the successful runs",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.stderr.contains("Slack answered 403"), "{}", ran.log());
    assert!(
        ran.stdout
            .contains("::error::the Slack message about them was not delivered"),
        "{}",
        ran.log()
    );
    assert!(
        ran.summary
            .contains("### sqlcourier: 1 scheduled run(s) missed\n\n- `queries/weekly/stock.sql` for 2026-W48\n"),
        "{}",
        ran.log()
    );
    assert!(!ran.all().contains("T0SECRET"), "{}", ran.log());
}

// ------------------------------------------------------------------ runner-version

fn utc_days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The real check script (python3) against the releases on the stand-in.
#[test]
fn runner_version_step_passes_a_current_pin_and_fails_an_old_one() {
    let api = StandIn::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pin_file = "runner-ami/packer/runner.auto.pkrvars.hcl";
    let pin = read(root.join(pin_file))
        .lines()
        .find_map(|l| {
            l.strip_prefix("runner_version = \"")
                .map(|v| v.trim_end_matches('"').to_string())
        })
        .unwrap();
    let mut r = Runner::new();
    r.api(&api).expr("github.token", github_api::TOKEN);
    for f in ["runner-ami/tools/check-runner-version.py", pin_file] {
        write(&r.workspace(), f, &read(root.join(f)));
    }
    let step = Step::load(
        "runner-version.yml",
        "check",
        "Compare the pinned runner with the newest release",
    );
    api.with(|d| {
        d.releases = vec![
            (format!("v{pin}"), utc_days_ago(40)),
            ("v2.300.0".into(), utc_days_ago(400)),
        ]
    });
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains(&format!("runner {pin} is the newest release")),
        "{}",
        ran.log()
    );

    let (major, rest) = pin.split_once('.').unwrap();
    let minor: u32 = rest.split('.').next().unwrap().parse().unwrap();
    let newer = format!("{major}.{}.0", minor + 1);
    api.with(|d| {
        d.releases
            .insert(0, (format!("v{newer}"), utc_days_ago(20)))
    });
    let ran = r.run(&step);
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(
        ran.stderr
            .contains(&format!("runner {pin} must be updated: v{newer}"))
            || ran
                .stderr
                .contains(&format!("runner {pin} must be updated: {newer}")),
        "{}",
        ran.log()
    );
    assert!(
        ran.stderr
            .contains(&format!("set runner_version = \"{newer}\"")),
        "{}",
        ran.log()
    );
    let asked = api.requests();
    assert!(
        asked
            .iter()
            .all(|q| q.uri == "/repos/actions/runner/releases?per_page=30"),
        "{asked:?}"
    );
    assert_eq!(
        asked[0].authorization.as_deref(),
        Some(&*format!("Bearer {}", github_api::TOKEN))
    );
}

// ------------------------------------------------------------------ pr-check

/// A pull-request checkout as actions/checkout leaves it with `fetch-depth: 2`: a
/// shallow clone of the merge commit of the pull request into main, whose first
/// parent is main. `change` edits the tree of the pull request's branch.
fn pull_request_checkout(workspace: &Path, change: impl FnOnce(&Path)) {
    let seed = tempfile::tempdir().unwrap();
    let w = seed.path();
    git(w, &["init", "-q", "-b", "main"]);
    checkout(w);
    write(w, "README.md", "extracts\n");
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "-m", "base"]);
    git(w, &["checkout", "-q", "-b", "add-query"]);
    change(w);
    git(w, &["add", "-A"]);
    git(w, &["commit", "-q", "-m", "the pull request"]);
    git(w, &["checkout", "-q", "main"]);
    git(
        w,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge add-query into main",
            "add-query",
        ],
    );
    std::fs::remove_dir(workspace).unwrap();
    let url = format!("file://{}", w.display());
    git(
        w,
        &[
            "clone",
            "-q",
            "--depth",
            "2",
            &url,
            workspace.to_str().unwrap(),
        ],
    );
    assert_eq!(git(workspace, &["rev-list", "--count", "HEAD"]), "3");
}

const ONCE: &str = "/*---\ntitle: Members per prefecture, once\ndescription: For the October board meeting.\ndatabase: main\ndestination: out\noutput:\n  file: members_by_prefecture.csv\n---*/\nSELECT m.prefecture, COUNT(*) AS members\nFROM members m\nGROUP BY m.prefecture\n";

/// The PR check job on a pull request that adds a query: the changes step finds it,
/// Rust is installed (rustup recorded) and sqlcourier built (cargo recorded, see
/// [`fake_cargo`]), `check` passes, the reviewer summary describes the new query, and
/// the comment is posted on the pull request through the stand-in.
#[test]
fn pr_check_job_checks_a_query_pull_request_and_comments() {
    let api = StandIn::start();
    let mut r = Runner::new();
    r.api(&api);
    fake_rustup(&r);
    fake_cargo(&r);
    let w = r.workspace();
    pull_request_checkout(&w, |w| {
        write(w, "queries/adhoc/members_by_prefecture.sql", ONCE)
    });
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "What does this pull request change?",
    ));
    ran.assert_ok();
    assert_eq!(ran.outputs["relevant"], "true", "{}", ran.log());
    assert_eq!(ran.outputs["queries"], "true", "{}", ran.log());
    assert_eq!(
        read(r.temp().join("changed-queries")),
        "queries/adhoc/members_by_prefecture.sql\0"
    );
    assert!(
        ran.stdout
            .ends_with("relevant=true queries=true\nqueries/adhoc/members_by_prefecture.sql\n"),
        "{}",
        ran.log()
    );

    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Install Rust (stable)",
    ));
    ran.assert_ok();
    assert!(ran.stdout.starts_with("rustc 1."), "{}", ran.log());
    r.run(&Step::load("pr-check.yml", "check", "Build sqlcourier"))
        .assert_ok();
    assert_eq!(r.tool_log()[2], "cargo build --locked --bin sqlcourier");
    assert!(w.join("target/debug/sqlcourier").is_file());

    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Check queries and sqlcourier.yaml",
    ));
    ran.assert_ok();
    assert!(!ran.all().contains("::error"), "{}", ran.log());
    assert!(
        ran.stderr.contains("checked 2 query file(s): no problems"),
        "{}",
        ran.log()
    );

    let ran = r.run(&Step::load("pr-check.yml", "check", "Reviewer summary"));
    ran.assert_ok();
    let body = read(r.temp().join("pr-check.md"));
    assert_eq!(ran.summary, body);
    for needle in [
        "### Members per prefecture, once — `queries/adhoc/members_by_prefecture.sql`",
        "> For the October board meeting.",
        // --base HEAD^1 compared with main
        "| Changed | new query file |",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in {body}");
    }

    r.expr("github.token", github_api::TOKEN)
        .expr("github.event.pull_request.number", "42");
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Post or update the PR comment",
    ));
    ran.assert_ok();
    let comments = api.with(|d| d.comments.get(&42).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1, "{}", ran.log());
    assert_eq!(
        comments[0].body,
        format!("<!-- sqlcourier:pr-check -->\n{body}")
    );
}

/// A pull request that touches no query, sqlcourier.yaml or code builds nothing; one
/// that adds `queries/Signups.SQL` is relevant (the check must run) but has no query
/// to run, and the check names the file that will never run.
#[test]
fn pr_check_changes_step_tells_irrelevant_and_never_run_files_apart() {
    let changes = Step::load(
        "pr-check.yml",
        "check",
        "What does this pull request change?",
    );
    let mut r = Runner::new();
    pull_request_checkout(&r.workspace(), |w| {
        write(w, "README.md", "extracts, documented\n")
    });
    let ran = r.run(&changes);
    ran.assert_ok();
    assert_eq!(ran.outputs["relevant"], "false", "{}", ran.log());
    assert_eq!(ran.outputs["queries"], "false", "{}", ran.log());
    assert_eq!(read(r.temp().join("changed-all")), "README.md\0");

    let mut r = Runner::new();
    let w = r.workspace();
    pull_request_checkout(&w, |w| write(w, "queries/monthly/Signups.SQL", SIGNUPS));
    let ran = r.run(&changes);
    ran.assert_ok();
    assert_eq!(ran.outputs["relevant"], "true", "{}", ran.log());
    assert_eq!(ran.outputs["queries"], "false", "{}", ran.log());
    // what "Build sqlcourier" leaves
    std::fs::create_dir_all(w.join("target/debug")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_sqlcourier"),
        w.join("target/debug/sqlcourier"),
    )
    .unwrap();
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "check",
        "Check queries and sqlcourier.yaml",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(
        ran.stdout.contains("file=queries/monthly/Signups.SQL"),
        "{}",
        ran.log()
    );
    assert!(ran.stdout.contains(".SQL"), "{}", ran.log());
}

/// The lint job's step on a copy of the workflows: zizmor, actionlint with ShellCheck
/// (from the pinned PyPI wheels, installed once per machine into
/// ~/.cache/sqlcourier, as tests/run.sh's "workflow lint" step does).
#[test]
fn workflow_lint_step_passes_on_the_workflows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut r = Runner::new();
    let w = r.workspace();
    for f in std::fs::read_dir(root.join(".github/workflows")).unwrap() {
        let f = f.unwrap();
        write(
            &w,
            &format!(".github/workflows/{}", f.file_name().to_string_lossy()),
            &read(f.path()),
        );
    }
    for f in [".github/actionlint.yaml", "tests/lint/workflows.sh"] {
        if root.join(f).exists() {
            write(&w, f, &read(root.join(f)));
        }
    }
    let cache = std::env::var("SQLCOURIER_CACHE").unwrap_or_else(|_| {
        format!(
            "{}/.cache/sqlcourier",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    r.var("SQLCOURIER_CACHE", &cache);
    // actionlint finds the project by its git repository, as actions/checkout leaves it
    git(&w, &["init", "-q", "-b", "main"]);
    let ran = r.run(&Step::load(
        "pr-check.yml",
        "workflow-lint",
        "zizmor and actionlint",
    ));
    ran.assert_ok();
    assert!(
        ran.stdout
            .trim_end()
            .ends_with("workflow lint: 3 passed, 0 failed"),
        "{}",
        ran.log()
    );
}

// ------------------------------------------------------------------ schema

/// The schema build job: Install Rust (rustup recorded), Build release binary (cargo
/// recorded, see [`fake_cargo`]) and its packaging into dist/ with a SHA256SUMS that
/// verifies.
#[test]
fn schema_build_job_builds_and_packages_the_binary() {
    let mut r = Runner::new();
    fake_rustup(&r);
    fake_cargo(&r);
    r.run(&Step::load("schema.yml", "build", "Install Rust (stable)"))
        .assert_ok();
    r.run(&Step::load("schema.yml", "build", "Build release binary"))
        .assert_ok();
    assert_eq!(
        r.tool_log(),
        [
            "rustup toolchain install stable --profile minimal --no-self-update",
            "rustup default stable",
            "cargo build --release --locked --bin sqlcourier",
        ]
    );
    let check = Command::new("sha256sum")
        .current_dir(r.workspace().join("dist"))
        .args(["--check", "SHA256SUMS"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
}

/// Runs the pull job on a clone of `branch` of `origin`; returns its runner (the
/// catalogue is in RUNNER_TEMP/schema-out, as the artifact).
fn schema_pull(step: &Step, origin: &Path, branch: &str, db_url: &str) -> (Runner, Ran) {
    let mut r = Runner::new();
    let w = r.workspace();
    std::fs::remove_dir(&w).unwrap();
    git(
        origin.parent().unwrap(),
        &[
            "clone",
            "-q",
            "--branch",
            branch,
            origin.to_str().unwrap(),
            w.to_str().unwrap(),
        ],
    );
    r.download_sqlcourier();
    r.expr("secrets.SQLCOURIER_DB_MAIN", db_url);
    let ran = r.run(step);
    (r, ran)
}

/// Runs the propose job on a clone of `branch` with the pull job's catalogue. `gh` is
/// replaced (see [`fake_gh`]); `git push` is real, to `origin` through
/// `url.<origin>.insteadOf` for the github.com URL the step builds (token included).
fn schema_propose(
    step: &Step,
    origin: &Path,
    branch: &str,
    pulled: &Runner,
    helper: &Path,
) -> (Runner, Ran) {
    let mut r = Runner::new();
    let w = r.workspace();
    std::fs::remove_dir(&w).unwrap();
    git(
        origin.parent().unwrap(),
        &[
            "clone",
            "-q",
            "--branch",
            branch,
            origin.to_str().unwrap(),
            w.to_str().unwrap(),
        ],
    );
    let out = r.temp().join("schema-out");
    let copied = Command::new("cp")
        .arg("-R")
        .arg(pulled.temp().join("schema-out"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(copied.success());
    fake_gh(&r, helper);
    r.var("GIT_CONFIG_COUNT", "1")
        .var(
            "GIT_CONFIG_KEY_0",
            &format!("url.{}.insteadOf", origin.display()),
        )
        .var(
            "GIT_CONFIG_VALUE_0",
            &format!(
                "https://x-access-token:{}@github.com/acme/extracts.git",
                github_api::TOKEN
            ),
        );
    r.expr("github.token", github_api::TOKEN)
        .expr("github.event.repository.default_branch", "main");
    let ran = r.run(step);
    assert!(
        !ran.all().contains(github_api::TOKEN),
        "the token is in the log: {}",
        ran.log()
    );
    (r, ran)
}

fn gh_calls(r: &Runner) -> Vec<String> {
    r.tool_log()
        .into_iter()
        .filter(|l| l.starts_with("gh "))
        .collect()
}

/// The weekly catalogue: the pull job reads a SQLite database with the real binary;
/// the propose job commits schema/ on `sqlcourier/schema`, pushes it and opens the
/// pull request; a week later a new column is committed on top of the same branch (no
/// force push) and the open pull request is edited; a week without change pushes
/// nothing.
#[test]
fn schema_pull_then_propose_opens_then_updates_one_pull_request() {
    let tmp = tempfile::tempdir().unwrap();
    let helper = tmp.path().join("helper");
    std::fs::create_dir_all(&helper).unwrap();
    let seed = tmp.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    checkout(&seed);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "queries"]);
    let origin = tmp.path().join("origin.git");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            seed.to_str().unwrap(),
            origin.to_str().unwrap(),
        ],
    );
    let db = members_db(tmp.path());
    let pull = Step::load("schema.yml", "pull", "schema pull");
    let propose = Step::load(
        "schema.yml",
        "propose",
        "Commit, push and open the pull request",
    );

    // week 1: no schema pull request yet
    let (pulled, ran) = schema_pull(&pull, &origin, "main", &db);
    ran.assert_ok();
    let changes = read(pulled.temp().join("schema-out/changes.md"));
    assert_eq!(ran.summary, changes);
    assert!(
        changes.contains("### `schema/main.yaml` (database `main`)"),
        "{changes}"
    );
    let catalogue = read(pulled.temp().join("schema-out/schema/main.yaml"));
    assert!(catalogue.contains("- name: prefecture"), "{catalogue}");
    let (proposer, ran) = schema_propose(&propose, &origin, "main", &pulled, &helper);
    ran.assert_ok();
    let pushed = git(&origin, &["show", "sqlcourier/schema:schema/main.yaml"]);
    assert_eq!(format!("{pushed}\n"), catalogue);
    assert_eq!(
        git(
            &origin,
            &["log", "-1", "--format=%s%n%an", "sqlcourier/schema"]
        ),
        "schema: catalogue pulled from the databases\nsqlcourier schema workflow"
    );
    let body_file = proposer.temp().join("schema-out/changes.md");
    assert_eq!(
        gh_calls(&proposer),
        [
            "gh pr list --head sqlcourier/schema --base main --state open --json number --jq .[0].number".to_string(),
            format!("gh pr create --head sqlcourier/schema --base main --title Schema catalogue: changes found in the databases --body-file {}", body_file.display()),
        ]
    );
    let body = read(&body_file);
    assert!(body.starts_with(&changes), "{body}");
    assert!(body.contains("Data owners: mark each new personal column `personal: email|phone|name|address|birth_date|free_text|id|other`,"), "{body}");
    let first = git(&origin, &["rev-parse", "sqlcourier/schema"]);

    // week 2: a new column; the pull request #12 is open on the branch
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::{Connection, Executor};
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        c.execute("ALTER TABLE members ADD COLUMN email TEXT")
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    std::fs::write(helper.join("pr-number"), "12\n").unwrap();
    let (pulled, ran) = schema_pull(&pull, &origin, "sqlcourier/schema", &db);
    ran.assert_ok();
    assert!(
        read(pulled.temp().join("schema-out/changes.md")).contains("email"),
        "{}",
        ran.log()
    );
    let (proposer, ran) = schema_propose(&propose, &origin, "sqlcourier/schema", &pulled, &helper);
    ran.assert_ok();
    let calls = gh_calls(&proposer);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[1],
        format!(
            "gh pr edit 12 --body-file {}",
            proposer.temp().join("schema-out/changes.md").display()
        )
    );
    // on top of the first commit: no force push
    assert_eq!(git(&origin, &["rev-parse", "sqlcourier/schema~1"]), first);
    assert!(
        git(&origin, &["show", "sqlcourier/schema:schema/main.yaml"]).contains("- name: email")
    );
    let second = git(&origin, &["rev-parse", "sqlcourier/schema"]);

    // week 3: nothing changed
    let (pulled, ran) = schema_pull(&pull, &origin, "sqlcourier/schema", &db);
    ran.assert_ok();
    let (proposer, ran) = schema_propose(&propose, &origin, "sqlcourier/schema", &pulled, &helper);
    ran.assert_ok();
    assert_eq!(ran.summary, "The catalogue did not change.\n");
    assert!(gh_calls(&proposer).is_empty());
    assert_eq!(git(&origin, &["rev-parse", "sqlcourier/schema"]), second);
}
