//! The job summary of a failed run says what to do per failure kind, from the
//! structured error (not its text): a query problem → a new pull request; a set-up
//! problem → an operator; a temporary one → "Re-run failed jobs".

use std::process::Output;

use crate::support::{self, Repo, text};

/// Runs `args` with GITHUB_STEP_SUMMARY set; returns the output, the JSON report and
/// the summary.
fn run_with_summary(repo: &Repo, url: &str, args: &[&str]) -> (Output, serde_json::Value, String) {
    let summary = repo.path().join("summary.md");
    let o = repo
        .cmd(url)
        .args(args)
        .args(["--report", "json"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let md = std::fs::read_to_string(&summary).unwrap_or_default();
    (o, report, md)
}

/// The summary's group (heading + its files) that lists `file`.
fn group_of<'a>(md: &'a str, file: &str) -> &'a str {
    let at = md
        .find(&format!("- **{file}**"))
        .unwrap_or_else(|| panic!("{file} is not listed: {md}"));
    let start = md[..at].rfind("\n**").expect("a group heading");
    let end = md[at..].find("\n\n**").map_or(md.len(), |e| at + e);
    &md[start..end]
}

fn assert_query_problem(md: &str, file: &str) {
    let g = group_of(md, file);
    assert!(g.contains("**Query problem**"), "{g}");
    assert!(g.contains("new pull request"), "{g}");
    assert!(g.contains("a re-run uses the same commit"), "{g}");
}

#[test]
fn an_unknown_table_is_a_query_problem() {
    let Some(url) = support::mysql() else { return };
    let repo = Repo::new("mysql");
    repo.query(
        "broken.sql",
        "output: {file: broken.csv}",
        "SELECT id FROM it_no_such_table_fk",
    );
    let (o, report, md) = run_with_summary(&repo, &url, &["run", "queries/broken.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(report[0]["failure"], "query", "{report}");
    assert_query_problem(&md, "broken.csv");
}

#[test]
fn a_postgres_syntax_error_is_a_query_problem() {
    let Some(url) = support::postgres() else {
        return;
    };
    let repo = Repo::new("postgres");
    // passes the parser of `check` (a cast to an unknown type fails on the server)
    repo.query(
        "cast.sql",
        "output: {file: cast.csv}",
        "SELECT CAST(1 AS no_such_type_fk) AS n",
    );
    let (o, report, md) = run_with_summary(&repo, &url, &["run", "queries/cast.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(report[0]["failure"], "query", "{report}");
    assert_query_problem(&md, "cast.csv");
}

#[test]
fn personal_data_found_in_the_result_is_a_query_problem() {
    let repo = Repo::new("sqlite");
    repo.query(
        "found.sql",
        "output: {file: found.csv}",
        "SELECT 'taro.yamada@example.com' AS note",
    );
    let (o, report, md) = run_with_summary(&repo, "sqlite::memory:", &["run", "queries/found.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(report[0]["failure"], "query", "{report}");
    assert!(
        report[0]["error"]
            .as_str()
            .unwrap()
            .contains("column `note`"),
        "{report}"
    );
    assert_query_problem(&md, "found.csv");
    assert!(
        !md.contains("taro.yamada"),
        "no data value in the summary: {md}"
    );
}

#[test]
fn a_missing_database_secret_is_for_an_operator() {
    let repo = Repo::new("sqlite");
    repo.query("q.sql", "output: {file: q.csv}", "SELECT 1 AS n");
    let summary = repo.path().join("summary.md");
    let o = repo
        .cmd("unused")
        .env_remove("SQLCOURIER_DB_MAIN")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["run", "queries/q.sql", "--report", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report[0]["failure"], "configuration", "{report}");
    let md = std::fs::read_to_string(&summary).unwrap();
    let g = group_of(&md, "q.csv");
    assert!(g.contains("**Configuration**"), "{g}");
    assert!(g.contains("ask an operator"), "{g}");
    assert!(g.contains("SQLCOURIER_DB_MAIN"), "names the variable: {g}");
}

#[test]
fn an_unreachable_database_is_temporary() {
    let repo = Repo::new("mysql").keep_url();
    repo.query("q.sql", "output: {file: q.csv}", "SELECT 1 AS n");
    // port 9 (discard) on loopback: connection refused at once
    let (o, report, md) = run_with_summary(
        &repo,
        "mysql://reader:secret-pw@127.0.0.1:9/app",
        &["run", "queries/q.sql"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(report[0]["failure"], "transient", "{report}");
    let g = group_of(&md, "q.csv");
    assert!(g.contains("**Temporary**"), "{g}");
    assert!(g.contains("press **Re-run failed jobs**"), "{g}");
    assert!(!md.contains("secret-pw"), "no password: {md}");
}
