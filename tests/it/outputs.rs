//! Every output of a failed CI run, scanned for planted personal values (issue 12 item
//! 4): the run's stdout, stderr, JSON report and job summary; the Drive files'
//! names, descriptions and appProperties (and every metadata body sent to Drive); the
//! pull-request comments the workflows post (the reviewer summary and the merged
//! pull request's comment, built from the job summaries as run-on-merge.yml does);
//! and the Slack message. Real MariaDB and PostgreSQL, the Drive stand-in and the
//! GitHub/Slack stand-in.
//!
//! The failures quote data on purpose: PostgreSQL class 22 errors, values a query
//! turns into names (`CAST(email AS regclass)`, which PostgreSQL answers with a
//! class 0A/42 message quoting the value), class 23 and unknown codes raised by a
//! function, a function forging a "safe" code with the value in its text, MariaDB's
//! `Duplicate entry '…' for key 'group_key'` and `XPATH syntax error: '…'`, and a
//! personal-data-found refusal.

use std::path::Path;
use std::process::Command;

use sqlx::{Connection, Executor};

use crate::drive_standin::{FOLDER, Standin};
use crate::github_api::{self, StandIn};
use crate::support::{self, Repo, text};

/// Substrings of every planted value.
const PLANTED: &[&str] = &["pii-secret", "5555-", "秘密", "090-5555"];

const MERGE_SHA: &str = "abcdef0123456789abcdef0123456789abcdef01";

fn seed_sql(text_type: &str) -> String {
    let mut rows = Vec::new();
    for i in 1..=6 {
        let memo = match i {
            4 => "mail me at zz.pii-secret@example.com please".to_string(),
            5 => "連絡先 090-5555-0005 まで".to_string(),
            _ => format!("call back later #{i}"),
        };
        rows.push(format!(
            "({i}, 'm{i}.pii-secret@example.com', '秘密 {i}', '{memo}')"
        ));
    }
    format!(
        "DROP TABLE IF EXISTS it_out_members;
         CREATE TABLE it_out_members (id INT, email {text_type}, name {text_type}, memo {text_type});
         INSERT INTO it_out_members VALUES {};",
        rows.join(", ")
    )
}

async fn seed_postgres(url: &str) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    c.execute(seed_sql("text").as_str()).await.unwrap();
    // a function that raises any code with its argument in every part of the error
    c.execute(
        "CREATE OR REPLACE FUNCTION it_out_raise(v text, code text) RETURNS int LANGUAGE plpgsql AS $$
         BEGIN
           IF code = '42703' THEN
             RAISE EXCEPTION USING ERRCODE = code, MESSAGE = format('column \"%s\" does not exist', v), HINT = v;
           END IF;
           RAISE EXCEPTION USING ERRCODE = code, MESSAGE = 'Key (email)=(' || v || ') already exists.', DETAIL = v, HINT = v;
         END $$",
    )
    .await
    .unwrap();
}

async fn seed_mysql(url: &str) {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    c.execute("SET NAMES utf8mb4").await.unwrap();
    c.execute(seed_sql("VARCHAR(200) CHARACTER SET utf8mb4").as_str())
        .await
        .unwrap();
    for f in [
        "DROP FUNCTION IF EXISTS it_out_dup",
        "CREATE FUNCTION it_out_dup(v TEXT) RETURNS INT DETERMINISTIC NO SQL BEGIN
           DECLARE m TEXT DEFAULT CONCAT('Duplicate entry ''', v, ''' for key ''email''');
           SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1062, MESSAGE_TEXT = m; RETURN 1; END",
        "DROP FUNCTION IF EXISTS it_out_unknown_column",
        "CREATE FUNCTION it_out_unknown_column(v TEXT) RETURNS INT DETERMINISTIC NO SQL BEGIN
           DECLARE m TEXT DEFAULT CONCAT('Unknown column ''', v, ''' in ''field list''');
           SIGNAL SQLSTATE '42S22' SET MYSQL_ERRNO = 1054, MESSAGE_TEXT = m; RETURN 1; END",
        "DROP FUNCTION IF EXISTS it_out_signal",
        "CREATE FUNCTION it_out_signal(v TEXT) RETURNS INT DETERMINISTIC NO SQL BEGIN
           DECLARE m TEXT DEFAULT CONCAT('customer ', v);
           SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = m; RETURN 1; END",
    ] {
        c.execute(f).await.unwrap();
    }
}

/// A repository with the databases' admin user (the functions above are its own), a
/// local destination and a Drive destination.
fn repo(driver: &str) -> Repo {
    let functions = if driver == "postgres" {
        "      it_out_raise: \"test: raises errors that quote its argument\"\n      replace: \"test\"\n      concat: \"test\"\n"
    } else {
        "      it_out_dup: \"test: raises errors that quote its argument\"\n      it_out_unknown_column: \"test\"\n      it_out_signal: \"test\"\n      extractvalue: \"test\"\n      rand: \"test\"\n      floor: \"test\"\n      concat: \"test\"\n"
    };
    let repo = Repo::new(driver).keep_url();
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        format!(
            "defaults:\n  timezone: Asia/Tokyo\n  encoding: utf-8\ndatabases:\n  main:\n    driver: {driver}\n    url_env: SQLCOURIER_DB_MAIN\n    allow_privileged_user: \"integration test as the admin user\"\n    allowed_functions:\n{functions}destinations:\n  out: {{type: local, path: out}}\n  drive:\n    type: drive\n    folder_id: {FOLDER}\n    key_env: SQLCOURIER_DRIVE_KEY\n    readers:\n      users: [ann@example.com]\nmasking:\n  key_env: SQLCOURIER_MASK_KEY\n"
        ),
    )
    .unwrap();
    repo
}

fn write(repo: &Repo, name: &str, mask: &str, sql: &str) {
    let stem = name.trim_end_matches(".sql");
    repo.query(
        name,
        &format!(
            "title: {stem}\ndatabase: main\ndestination: drive\noutput: {{file: \"{stem}.csv\"}}\n{mask}"
        ),
        sql,
    );
}

/// The failing queries of one database: (file, mask line, SQL, a word the run's
/// output must hold, proving the query reached the server and failed there).
fn failing(pg: bool) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    let refusal = (
        "memo.sql",
        "",
        "SELECT id, memo AS info FROM it_out_members ORDER BY id",
        "column `info` holds what look like e-mail addresses (row 4)",
    );
    if pg {
        vec![
            (
                "cast_integer.sql",
                "mask: {n: hash}",
                "SELECT CAST(email AS integer) AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 22P02",
            ),
            (
                "cast_jsonb.sql",
                "mask: {n: hash}",
                "SELECT CAST(name AS jsonb) AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 22P02",
            ),
            (
                "regclass_cross_database.sql",
                "mask: {n: hash}",
                "SELECT CAST(email AS regclass) AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 0A000",
            ),
            (
                "regclass_relation.sql",
                "mask: {n: hash}",
                "SELECT CAST(replace(email, '.', '_') AS regclass) AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 42P01",
            ),
            (
                "regclass_dotted.sql",
                "mask: {n: hash}",
                "SELECT CAST(concat('a.b.', email) AS regclass) AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 42601",
            ),
            (
                "regprocedure.sql",
                "mask: {n: hash}",
                "SELECT CAST(concat(replace(email, '.', '_'), '()') AS regprocedure) AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 42883",
            ),
            (
                "unique_violation.sql",
                "mask: {n: hash}",
                "SELECT it_out_raise(email, '23505') AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 23505",
            ),
            (
                "unknown_code.sql",
                "mask: {n: hash}",
                "SELECT it_out_raise(name, 'ZX001') AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE ZX001",
            ),
            (
                "forged_safe_code.sql",
                "mask: {n: hash}",
                "SELECT it_out_raise(email, '42703') AS n FROM it_out_members WHERE id = 1",
                "SQLSTATE 42703",
            ),
            refusal,
        ]
    } else {
        vec![
            (
                "duplicate_group_key.sql",
                "mask: {n: hash}",
                "SELECT COUNT(*) AS c, CONCAT((SELECT email FROM it_out_members WHERE id = 1), FLOOR(RAND(0) * 2)) AS n FROM it_out_members GROUP BY n",
                "MySQL error 1062",
            ),
            (
                "xpath.sql",
                "mask: {n: hash}",
                "SELECT EXTRACTVALUE('<a/>', CONCAT('~', email)) AS n FROM it_out_members WHERE id = 1",
                "MySQL error 1105",
            ),
            (
                "signal_duplicate.sql",
                "mask: {n: hash}",
                "SELECT it_out_dup(email) AS n FROM it_out_members WHERE id = 1",
                "MySQL error 1062",
            ),
            (
                "forged_unknown_column.sql",
                "mask: {n: hash}",
                "SELECT it_out_unknown_column(email) AS n FROM it_out_members WHERE id = 1",
                "MySQL error 1054",
            ),
            (
                "signal.sql",
                "mask: {n: hash}",
                "SELECT it_out_signal(name) AS n FROM it_out_members WHERE id = 1",
                "MySQL error 1644",
            ),
            refusal,
        ]
    }
}

fn drive_cmd(repo: &Repo, drive: &Standin, url: &str) -> Command {
    let mut c = crate::drive::cmd(repo, drive, url);
    c.env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/extracts")
        .env("GITHUB_RUN_ID", "4242");
    c
}

/// The binary as a workflow step that talks to GitHub sees it.
fn gh_cmd(dir: &Path, api: &StandIn) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sqlcourier"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_TOKEN", github_api::TOKEN)
        .env(
            "GITHUB_REPOSITORY",
            format!("{}/{}", github_api::OWNER, github_api::REPO),
        )
        .env("GITHUB_API_URL", &api.url);
    c
}

fn assert_no_planted(what: &str, s: &str) {
    for p in PLANTED {
        assert!(!s.contains(p), "{what}: planted value {p:?} leaked in\n{s}");
    }
}

fn every_output_is_value_free(driver: &str, url: &str) {
    let pg = driver == "postgres";
    let repo = repo(driver);
    let drive = Standin::start();
    let api = StandIn::start();
    let summaries = repo.path().join("summaries");
    std::fs::create_dir_all(&summaries).unwrap();

    // a delivered file first: the failed re-runs below must leave it as it was
    write(
        &repo,
        "delivered.sql",
        "mask: {email: hash, name: redact, memo: scrub}",
        "SELECT id, email, name, memo FROM it_out_members WHERE id <= 5 ORDER BY id",
    );
    let o = drive_cmd(&repo, &drive, url)
        .args(["run", "queries/delivered.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_no_planted("the delivered run", &text(&o));
    let before = drive.st().files_in(FOLDER);
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].description.contains("Rows: 5"), "{before:?}");

    let mut queries = Vec::new();
    for (name, mask, sql, proof) in failing(pg) {
        write(&repo, name, mask, sql);
        let check = repo.run(url, &["check", &format!("queries/{name}")]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{driver} {name}: {}",
            text(&check)
        );
        let summary = repo.path().join("summary.md");
        let _ = std::fs::remove_file(&summary);
        let o = drive_cmd(&repo, &drive, url)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(["run", "--report", "json", &format!("queries/{name}")])
            .output()
            .unwrap();
        let summary_text = std::fs::read_to_string(&summary).unwrap_or_default();
        let all = format!("{}\n--- summary\n{summary_text}", text(&o));
        assert_eq!(
            o.status.code(),
            Some(1),
            "{driver} {name} did not fail:\n{all}"
        );
        assert!(
            all.contains(proof),
            "{driver} {name}: want {proof:?} in\n{all}"
        );
        assert!(all.contains("\"status\": \"failed\""), "{all}");
        assert_no_planted(&format!("{driver} {name}: run output"), &all);
        // as _run-queries.yml keeps it for the merged pull request's comment
        std::fs::write(
            summaries.join(name.replace(".sql", ".md")),
            format!(
                "{summary_text}\n**queries/{name}** (2026-10) failed. Open the run, read the job summary, fix the query in a pull request or press \"Re-run failed jobs\".\n"
            ),
        )
        .unwrap();
        queries.push(format!("queries/{name}"));
    }

    // Drive: nothing new, the delivered file untouched, no value in anything sent
    {
        let st = drive.st();
        let after = st.files_in(FOLDER);
        assert_eq!(after.len(), 1, "a failed run delivered a file: {after:?}");
        assert_eq!(after[0].description, before[0].description);
        assert_eq!(after[0].app_properties, before[0].app_properties);
        assert_eq!(after[0].content, before[0].content);
        assert!(!st.metadata.is_empty(), "no metadata was recorded");
        for f in st.files.values() {
            assert_no_planted("a Drive file's name", &f.name);
            assert_no_planted("a Drive file's description", &f.description);
            assert_no_planted(
                "a Drive file's appProperties",
                &format!("{:?}", f.app_properties),
            );
            assert_no_planted(
                "a Drive file's content (masked)",
                &String::from_utf8_lossy(&f.content),
            );
        }
        for m in &st.metadata {
            assert_no_planted("metadata sent to Drive", &m.to_string());
        }
        assert_no_planted("Drive requests", &st.log.join("\n"));
    }

    // the merged pull request's comment, put together as run-on-merge.yml does
    api.with(|d| {
        d.pulls
            .insert(MERGE_SHA.into(), vec![(7, true, MERGE_SHA.into())]);
    });
    let mut body = String::from(
        "## sqlcourier: some queries of this pull request failed\n\nRun: https://github.com/acme/extracts/actions/runs/4242 (attempt 1)\n\n",
    );
    let mut parts: Vec<_> = std::fs::read_dir(&summaries)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    for p in parts {
        body.push_str(&std::fs::read_to_string(p).unwrap());
        body.push('\n');
    }
    let body_file = repo.path().join("comment.md");
    std::fs::write(&body_file, &body).unwrap();
    let o = gh_cmd(repo.path(), &api)
        .args([
            "github",
            "comment",
            "--sha",
            MERGE_SHA,
            "--marker",
            "delivered",
            "--body-file",
        ])
        .arg(&body_file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // the PR check's reviewer summary, posted as pr-check.yml does
    let mut explain = repo.cmd(url);
    explain.args(["check", "--explain", "markdown"]);
    for q in &queries {
        explain.arg(q);
    }
    let o = explain.output().unwrap();
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", text(&o));
    assert_no_planted("check --explain markdown", &text(&o));
    let review = repo.path().join("pr-check.md");
    std::fs::write(&review, &o.stdout).unwrap();
    let o = gh_cmd(repo.path(), &api)
        .args([
            "github",
            "comment",
            "--pr",
            "7",
            "--marker",
            "pr-check",
            "--body-file",
        ])
        .arg(&review)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Slack, as the Notify job calls it
    let hook = format!("{}/slack/services/T0/B0/secretpath", api.url);
    let mut slack = gh_cmd(repo.path(), &api);
    slack.env("SLACK_WEBHOOK_URL", &hook).args([
        "notify",
        "slack",
        "--status",
        "failure",
        "--run-url",
        "https://github.com/acme/extracts/actions/runs/4242",
    ]);
    for q in &queries {
        slack.args(["--query", q]);
    }
    let o = slack.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let comments = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 2, "{comments:?}");
    let delivered = comments
        .iter()
        .find(|c| c.body.contains("sqlcourier:delivered"))
        .unwrap();
    // the comment carries the failures' explanations (so the scan below sees them)
    let (_, _, _, proof) = failing(pg)[0];
    assert!(delivered.body.contains(proof), "{}", delivered.body);
    for c in &comments {
        assert_no_planted("a pull-request comment", &c.body);
    }
    let posted = api.with(|d| d.slack.clone());
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].to_string().contains("a run failed"),
        "{}",
        posted[0]
    );
    for m in &posted {
        assert_no_planted("the Slack message", &m.to_string());
    }
    for r in api.requests() {
        assert_no_planted("a request to GitHub or Slack", &r.body);
    }
}

#[tokio::test]
async fn postgres_failures_quoting_data_leave_no_value_in_any_output() {
    let Some(url) = support::postgres() else {
        return;
    };
    seed_postgres(&url).await;
    every_output_is_value_free("postgres", &url);
}

#[tokio::test]
async fn mysql_failures_quoting_data_leave_no_value_in_any_output() {
    let Some(url) = support::mysql() else { return };
    seed_mysql(&url).await;
    every_output_is_value_free("mysql", &url);
}
