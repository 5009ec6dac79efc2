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

/// Run time, `SELECT *` from a table `check` cannot see into (no schema catalogue)
/// reaching several personal columns: ONE message names them all (not one per merge),
/// with what to do.
#[tokio::test]
async fn select_star_names_every_personal_column_in_one_message() {
    use sqlx::{Connection, Executor};
    let Some(url) = crate::support::postgres() else {
        return;
    };
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    c.execute(
        "DROP TABLE IF EXISTS it_star_members;
         CREATE TABLE it_star_members (id int, email text, phone text, address text);
         INSERT INTO it_star_members VALUES (1, 'm@example.com', '090-0000-0000', 'Tokyo');
         GRANT SELECT ON it_star_members TO PUBLIC;",
    )
    .await
    .unwrap();
    let repo = Repo::new("postgres");
    repo.query(
        "star.sql",
        "output: {file: star.csv}",
        "SELECT * FROM it_star_members",
    );
    let o = repo.run(&url, &["run", "queries/star.sql", "--report", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let err = report[0]["error"].as_str().unwrap();
    assert!(
        err.contains("the result has 3 columns that look personal"),
        "{err}"
    );
    for col in ["`email`", "`phone`", "`address`"] {
        assert!(err.contains(col), "{col}: {err}");
    }
    assert!(
        err.contains("mask: {email: hash, phone: hash, address: hash}"),
        "{err}"
    );
    assert!(err.contains("instead of `SELECT *`"), "{err}");
    assert_eq!(err.matches("nothing was delivered").count(), 1, "{err}");
    assert!(!err.contains("m@example.com"), "no value: {err}");
    assert_eq!(report[0]["failure"], "query", "{report}");
    assert!(!repo.out("star.csv").exists());
}
