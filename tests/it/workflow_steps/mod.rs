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
use crate::support::{git, text};
use crate::workflow::{Ran, Runner, Step, run_steps};

mod missed_runs;
mod notify;
mod pr_check;
mod run_on_merge;
mod run_queries;
mod runner_version;
mod scheduled;
mod schema;

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
        &[
            "build_job_builds_checks_glibc_and_packages_the_binary",
            "check_glibc_refuses_a_binary_that_needs_a_newer_glibc",
        ],
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
    let sources = [
        include_str!("missed_runs.rs"),
        include_str!("notify.rs"),
        include_str!("pr_check.rs"),
        include_str!("run_on_merge.rs"),
        include_str!("run_queries.rs"),
        include_str!("runner_version.rs"),
        include_str!("scheduled.rs"),
        include_str!("schema.rs"),
    ];
    let source = sources.concat();
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

/// The Slack webhook on the stand-in; its secret parts must never show.
const HOOK_PATH: &str = "/slack/services/T0SECRET/B0SECRET/xoxSECRETpath";

/// Each message posted to the Slack stand-in: its `text`, then its blocks' texts.
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
