//! `on_empty: deliver | skip | fail`: what an empty result means, per query.

use crate::support::{Repo, text};

const EMPTY: &str = "SELECT 1 AS n WHERE 1 = 0";

#[test]
fn an_empty_result_is_delivered_skipped_or_failed_as_the_query_says() {
    let repo = Repo::new("sqlite");
    repo.query("a_default.sql", "output: {file: a.csv}", EMPTY);
    repo.query("b_skip.sql", "output: {file: b.csv}\non_empty: skip", EMPTY);
    repo.query("c_fail.sql", "output: {file: c.csv}\non_empty: fail", EMPTY);
    repo.query(
        "d_rows.sql",
        "output: {file: d.csv}\non_empty: fail",
        "SELECT 1 AS n",
    );
    let summary = repo.path().join("summary.md");
    let o = repo
        .cmd("sqlite::memory:")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["run", "--all", "--report", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "c fails: {}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let status: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        ["delivered", "skipped", "failed", "delivered"],
        "{report}"
    );
    // deliver: the empty file (its header) and a visible note
    assert_eq!(repo.read_out("a.csv").trim(), "n");
    assert!(
        report[0]["notes"][0]
            .as_str()
            .unwrap()
            .contains("the result is empty (0 rows)"),
        "{report}"
    );
    // skip: no file, and it says so
    assert!(!repo.out("b.csv").exists());
    assert!(
        report[1]["notes"][0]
            .as_str()
            .unwrap()
            .contains("nothing was delivered (`on_empty: skip`)"),
        "{report}"
    );
    // fail: no file, a query problem with what to do
    assert!(!repo.out("c.csv").exists());
    assert_eq!(report[2]["failure"], "query", "{report}");
    let err = report[2]["error"].as_str().unwrap();
    assert!(
        err.contains("`on_empty: fail`") && err.contains("new pull request"),
        "{err}"
    );
    // rows: on_empty does not matter
    assert!(repo.out("d.csv").exists());
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| ⏭️ | b.csv |"), "{md}");
    assert!(
        md.contains("**a.csv**: the result is empty (0 rows)"),
        "{md}"
    );
    assert!(md.contains("**Query problem**"), "{md}");
}

#[test]
fn the_reviewer_summary_says_what_an_empty_result_does() {
    let repo = Repo::new("sqlite");
    repo.query("skip.sql", "output: {file: s.csv}\non_empty: skip", EMPTY);
    repo.query("plain.sql", "output: {file: p.csv}", EMPTY);
    let o = repo.run(
        "sqlite::memory:",
        &[
            "check",
            "--explain",
            "markdown",
            "queries/skip.sql",
            "queries/plain.sql",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("nothing is delivered, and the summary says so (`on_empty: skip`)"),
        "{md}"
    );
    assert!(
        md.contains("an empty file is delivered, with a note (`on_empty: deliver`, the default)"),
        "{md}"
    );
}

#[test]
fn an_unknown_on_empty_word_is_located() {
    let repo = Repo::new("sqlite");
    repo.query("bad.sql", "output: {file: x.csv}\non_empty: nothing", EMPTY);
    let o = repo.run("sqlite::memory:", &["check", "queries/bad.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    // the front matter starts on line 2: title, database, destination, output, on_empty
    assert!(t.contains("queries/bad.sql:6:"), "{t}");
    assert!(
        t.contains("deliver") && t.contains("skip") && t.contains("fail"),
        "{t}"
    );
}
