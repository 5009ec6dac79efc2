//! Integration tests: the real binary, in a temp repository, against the real local
//! MariaDB and PostgreSQL (started by tests/run.sh) and the embedded SQLite demo.

mod bad_input;
mod contract;
mod drive;
mod drive_faults;
mod drive_standin;
mod failure_kinds;
mod fuzz_corpus;
mod github;
mod github_api;
mod guard;
mod messages;
mod on_empty;
mod outputs;
mod pii;
mod review;
mod schedules;
mod schema;
mod shadowing;
mod sink_conformance;
mod source_conformance;
mod support;
mod workflow;
mod workflow_steps;
mod xlsx;

use sqlx::{Connection, Executor};
use support::{Repo, parse_csv, text};

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

// ------------------------------------------------------------------ check (no DB)

#[test]
fn shipped_examples_pass_check() {
    let root = env!("CARGO_MANIFEST_DIR");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sqlcourier"))
        .current_dir(root)
        .args(["check", "queries/"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn delete_dropped_into_queries_is_refused_with_its_line() {
    let repo = Repo::new("mysql");
    repo.query("ok.sql", "", "SELECT 1 AS n");
    repo.query(
        "monthly/delete.sql",
        "",
        "-- tidy up\nDELETE FROM members WHERE id = 1",
    );
    let o = repo.run("", &["check", "queries/"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("queries/monthly/delete.sql:8:1: DELETE is not allowed"),
        "{err}"
    );
    let o = repo.run("", &["check", "--format", "github", "queries/"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("::error file=queries/monthly/delete.sql,line=8,col=1,"),
        "{out}"
    );
}

#[test]
fn check_reports_every_problem_in_plain_words() {
    let repo = Repo::new("postgres");
    repo.query(
        "bad.sql",
        "title: bad\ndatabase: nope\ndestination: out\ntimezone: Mars/Base",
        "SELECT 1",
    );
    repo.query("two.sql", "", "SELECT 1; SELECT 2");
    repo.query(
        "param.sql",
        "params: {unused: 1}",
        "SELECT a FROM t WHERE b = :missing",
    );
    repo.query(
        "pii.sql",
        "",
        "SELECT u.mail AS contact, u.phone FROM users u",
    );
    repo.query(
        "cte.sql",
        "",
        "WITH x AS (SELECT email AS e FROM users) SELECT e FROM x",
    );
    let o = repo.run("", &["check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "queries/bad.sql:3:1: there is no database called `nope`",
        "queries/bad.sql:5:1: `Mars/Base` is not a time zone name",
        "queries/two.sql:7:11: this file holds more than one SQL statement",
        ":missing is used but has no value",
        "the parameter `unused` is declared but the SQL never uses :unused",
        "the column `contact` is made of `users.mail`, which looks personal",
        "the column `phone` looks personal",
        "the column `e` is made of `users.email`, which looks personal",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
}

#[test]
fn explain_markdown_lists_masks_and_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sqlcourier"))
        .current_dir(root)
        .args([
            "check",
            "--explain",
            "markdown",
            "queries/monthly/new_members_contact.sql",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("`email` → hash"), "{md}");
    assert!(md.contains("new_members_tokyo_{period}.csv"), "{md}");
    assert!(md.contains("| Reads | `members` (table) |"), "{md}");
}

#[test]
fn demo_writes_non_empty_csvs_in_a_fresh_folder() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sqlcourier"))
        .current_dir(dir.path())
        .args(["demo", "--members", "800", "--orders", "5000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut files = 0;
    for sub in ["opex-monthly", "marketing", "adhoc"] {
        for e in std::fs::read_dir(dir.path().join("out").join(sub)).unwrap() {
            let p = e.unwrap().path();
            assert!(std::fs::metadata(&p).unwrap().len() > 20, "{}", p.display());
            files += 1;
        }
    }
    assert_eq!(files, 6);
}

// ------------------------------------------------------------------ MariaDB / MySQL

async fn my_exec(url: &str, sql: &str) {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    c.execute(sql).await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn mysql_every_type_to_csv() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "SET SESSION sql_mode = ''; SET time_zone = '+09:00';
         DROP TABLE IF EXISTS it_types;
         CREATE TABLE it_types (
           id INT PRIMARY KEY, d DECIMAL(20,6), dt6 DATETIME(6), dt DATETIME, da DATE, t TIME,
           bu BIGINT UNSIGNED, bi BIGINT, ti TINYINT(1), b BIT(10), bl BLOB, j JSON, txt TEXT,
           zd DATE, zdt DATETIME, f DOUBLE, y YEAR, e ENUM('a','b'), vb VARBINARY(10), ts TIMESTAMP NULL,
           big TIME(6)
         ) DEFAULT CHARSET utf8mb4;
         INSERT INTO it_types VALUES
          (1, 12345678901234.123456, '2026-10-31 23:59:59.123456', '2026-10-01 00:00:00', '2026-10-05',
           '-838:59:59', 18446744073709551615, -9223372036854775808, 1, b'1010101010', 0x00FF10,
           '{\"a\": [1, \"x\"]}', 'a,b \"q\"\nline2 東京', '0000-00-00', '0000-00-00 00:00:00', 0.1, 2026, 'b', 0x0102,
           '2026-10-01 00:00:00', '100:00:01.5'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    )
    .await;
    let repo = Repo::new("mysql");
    repo.query(
        "types.sql",
        "output: {file: types.csv}\nallow_formulas: \"test data: negative TIME values\"",
        "SELECT * FROM it_types ORDER BY id",
    );
    let o = repo.run(&url, &["run", "queries/types.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = parse_csv(&repo.read_out("types.csv"));
    assert_eq!(rows[0][0], s("id"));
    assert_eq!(rows.len(), 3);
    let r1: Vec<Option<String>> = rows[1].clone();
    let expect = [
        s("1"),
        s("12345678901234.123456"),
        s("2026-10-31 23:59:59.123456"),
        s("2026-10-01 00:00:00"),
        s("2026-10-05"),
        s("-838:59:59"),
        s("18446744073709551615"),
        s("-9223372036854775808"),
        s("1"),
        s("682"),
        s("0x00ff10"),
        s("{\"a\": [1, \"x\"]}"),
        s("a,b \"q\"\nline2 東京"),
        s("0000-00-00"),
        s("0000-00-00 00:00:00"),
        s("0.1"),
        s("2026"),
        s("b"),
        s("0x0102"),
        s("2026-10-01 00:00:00"),
        s("100:00:01.500000"),
    ];
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(&r1[i], e, "column {:?}", rows[0][i]);
    }
    let r2 = &rows[2];
    assert_eq!(r2[0], s("2"));
    assert_eq!(r2[12], s(""), "empty string stays an empty string");
    for (i, v) in r2.iter().enumerate() {
        if i != 0 && i != 12 {
            assert_eq!(v, &None, "column {:?} is NULL", rows[0][i]);
        }
    }
}

#[tokio::test]
async fn mysql_period_boundaries_in_tokyo_and_rerun_repeats_the_period() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "DROP TABLE IF EXISTS it_events;
         CREATE TABLE it_events (id INT, created_at DATETIME);
         INSERT INTO it_events VALUES (1, '2026-09-30 23:59:59'), (2, '2026-10-01 00:00:00'),
           (3, '2026-10-31 23:59:59'), (4, '2026-11-01 00:00:00');",
    )
    .await;
    let repo = Repo::new("mysql");
    repo.query(
        "events.sql",
        "period: previous_month\noutput: {file: \"events_{period}.csv\"}",
        "SELECT id FROM it_events WHERE created_at >= :period_start AND created_at < :period_end ORDER BY id",
    );
    // 2026-11-01 00:30 JST is still October 31 in UTC: the previous month is October
    let o = repo.run(
        &url,
        &[
            "run",
            "queries/events.sql",
            "--as-of",
            "2026-10-31T15:30:00Z",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let csv = repo.read_out("events_2026-10.csv");
    assert_eq!(csv, "id\r\n2\r\n3\r\n");
    // a re-run days later with the original logical time, or with --period, is the same file
    std::fs::remove_file(repo.out("events_2026-10.csv")).unwrap();
    let o = repo.run(&url, &["run", "queries/events.sql", "--period", "2026-10"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(repo.read_out("events_2026-10.csv"), csv);
}

#[tokio::test]
async fn mysql_variants_cp932_and_its_error_leave_no_file() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "DROP TABLE IF EXISTS it_pref;
         CREATE TABLE it_pref (pref VARCHAR(10), city VARCHAR(20)) DEFAULT CHARSET utf8mb4;
         INSERT INTO it_pref VALUES ('東京都', '渋谷区'), ('東京都', '新宿区'), ('大阪府', '北区'), ('沖縄県', '那覇市🌺');",
    )
    .await;
    let repo = Repo::new("mysql");
    repo.query(
        "pref.sql",
        "output: {file: \"pref_{variant}.csv\", encoding: cp932}\nvariants:\n  - {name: tokyo, params: {p: 東京都}}\n  - {name: osaka, params: {p: 大阪府}}\n  - {name: okinawa, params: {p: 沖縄県}}",
        "SELECT pref, city FROM it_pref WHERE pref = :p ORDER BY city",
    );
    let o = repo.run(&url, &["run", "queries/pref.sql"]);
    assert_eq!(o.status.code(), Some(1), "one variant fails: {}", text(&o));
    let tokyo = std::fs::read(repo.out("pref_tokyo.csv")).unwrap();
    let (t, _, bad) = encoding_rs::SHIFT_JIS.decode(&tokyo);
    assert!(!bad);
    assert_eq!(t, "pref,city\r\n東京都,新宿区\r\n東京都,渋谷区\r\n");
    assert!(repo.out("pref_osaka.csv").exists());
    assert!(
        !repo.out("pref_okinawa.csv").exists(),
        "a failed file is never delivered"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("row 1, column `city`"), "{out}");
    assert!(!out.contains("那覇"), "no data values in errors: {out}");
    // nothing left behind in the staging folder
    let leftovers: Vec<_> = std::fs::read_dir(repo.path().join("work/sqlcourier"))
        .map(|d| d.filter_map(Result::ok).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn mysql_masked_output_contains_no_original_value() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "DROP TABLE IF EXISTS it_people;
         CREATE TABLE it_people (id INT, email VARCHAR(80), phone VARCHAR(20), name VARCHAR(40), born DATE) DEFAULT CHARSET utf8mb4;
         INSERT INTO it_people VALUES (1, 'hanako.yamada@example.jp', '090-1234-5678', '山田 花子', '1990-04-01'),
                                      (2, 'taro.sato@example.com', '080-8765-4321', '佐藤 太郎', '1985-12-24');",
    )
    .await;
    let repo = Repo::new("mysql");
    let front = "output: {file: \"people_{query}.csv\"}\nmask: {email: hash, phone: last4, name: redact, born: year}";
    let sql = "SELECT id, email, phone, name, born FROM it_people ORDER BY id";
    repo.query("a.sql", front, sql);
    repo.query("b.sql", front, sql);
    let o = repo.run(&url, &["run", "queries/a.sql", "queries/b.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let a = repo.read_out("people_a.csv");
    for original in [
        "hanako", "yamada", "example", "1234", "090", "山田", "花子", "佐藤", "04-01",
    ] {
        assert!(!a.contains(original), "{original} leaked: {a}");
    }
    assert!(
        a.contains("***-****-5678") && a.contains("[redacted]") && a.contains(",1990\r\n"),
        "{a}"
    );
    // deterministic across queries: the hashed column still joins
    assert_eq!(a, repo.read_out("people_b.csv"));
    // another key, other tokens
    let o = repo
        .cmd(&url)
        .env("SQLCOURIER_MASK_KEY", "another-integration-key-99999")
        .args(["run", "queries/a.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let a2 = repo.read_out("people_a.csv");
    assert_ne!(parse_csv(&a)[1][1], parse_csv(&a2)[1][1]);
    // no key: refused before the query runs
    let o = repo
        .cmd(&url)
        .env_remove("SQLCOURIER_MASK_KEY")
        .args(["run", "queries/a.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("SQLCOURIER_MASK_KEY (the masking key) is not set"),
        "{}",
        text(&o)
    );
}

#[tokio::test]
async fn mysql_sniffer_stops_personal_values_under_innocent_names() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "DROP TABLE IF EXISTS it_notes;
         CREATE TABLE it_notes (id INT, note VARCHAR(80));
         INSERT INTO it_notes VALUES (1, 'call back'), (2, 'jiro.suzuki@example.org');",
    )
    .await;
    let repo = Repo::new("mysql");
    repo.query(
        "memo.sql",
        "output: {file: memo.csv}",
        "SELECT id, note AS memo FROM it_notes ORDER BY id",
    );
    let o = repo.run(&url, &["run", "queries/memo.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("column `memo` holds what look like e-mail addresses (row 2)"),
        "{t}"
    );
    assert!(!t.contains("jiro"), "{t}");
    assert!(!repo.out("memo.csv").exists());
    // a reviewer's allowance of the source column lets it through
    repo.query(
        "memo.sql",
        "output: {file: memo.csv}\npii_allowed: {note: \"support notes, agreed with DPO\"}",
        "SELECT id, note AS memo FROM it_notes ORDER BY id",
    );
    let o = repo.run(&url, &["run", "queries/memo.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // SELECT * with a personal column name is refused at run time, before any row
    my_exec(&url, "DROP TABLE IF EXISTS it_star; CREATE TABLE it_star (id INT, email VARCHAR(50)); INSERT INTO it_star VALUES (1, 'x@example.com');").await;
    repo.query(
        "star.sql",
        "output: {file: star.csv}",
        "SELECT * FROM it_star",
    );
    let o = repo.run(&url, &["run", "queries/star.sql"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("a column `email` that looks personal"),
        "{}",
        text(&o)
    );
    assert!(!repo.out("star.csv").exists());
}

#[tokio::test]
async fn mysql_server_side_time_limit_fires() {
    let Some(url) = support::mysql() else { return };
    let repo = Repo::with_database(
        "mysql",
        "    allowed_relations:\n      information_schema.columns: \"test: a slow cross join\"\n",
    );
    repo.query(
        "slow.sql",
        "timeout: 1s\noutput: {file: slow.csv}",
        "SELECT COUNT(*) AS c FROM information_schema.columns a, information_schema.columns b, information_schema.columns c",
    );
    let started = std::time::Instant::now();
    let o = repo.run(&url, &["run", "queries/slow.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(started.elapsed().as_secs() < 20);
    assert!(
        text(&o).contains("longer than its time limit (1s)"),
        "{}",
        text(&o)
    );
    assert!(!repo.out("slow.csv").exists());
}

#[tokio::test]
async fn mysql_bad_password_is_explained_without_secrets() {
    let Some(url) = support::mysql() else { return };
    let bad = url.replace(
        "sqlcourier_admin:sqlcourier_admin",
        "sqlcourier_admin:wrong-pass-xyz",
    );
    let repo = Repo::new("mysql");
    repo.query("q.sql", "", "SELECT 1 AS n");
    let o = repo.run(&bad, &["run", "queries/q.sql"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("check the user name and password"), "{t}");
    assert!(
        !t.contains("wrong-pass-xyz") && !t.contains("mysql://"),
        "{t}"
    );
    // unreachable server
    let o = repo.run(
        "mysql://u:topsecretpw@127.0.0.1:1/db",
        &["run", "queries/q.sql"],
    );
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("could not connect"), "{t}");
    assert!(!t.contains("topsecretpw"), "{t}");
}

// ------------------------------------------------------------------ PostgreSQL

async fn pg_exec(url: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    c.execute(sql).await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn postgres_types_through_copy_with_bound_parameters() {
    let Some(url) = support::postgres() else {
        return;
    };
    pg_exec(
        &url,
        "DROP TABLE IF EXISTS it_pg_types;
         CREATE TABLE it_pg_types (id int, n numeric(30,10), ts timestamp(6), tstz timestamptz, d date,
           t time, b bool, by bytea, j jsonb, txt text, f float8, i8 bigint, arr int[], who text);
         INSERT INTO it_pg_types VALUES
          (1, 12345678901234567890.0123456789, '2026-10-31 23:59:59.123456', '2026-10-01 00:00:00+09',
           '2026-10-05', '12:34:56', true, '\\x00ff10', '{\"a\": [1, \"x\"]}', E'tab\\there\\nnew \"q\", back\\\\slash 東京',
           0.1, -9223372036854775808, '{1,2}', 'O''Brien'),
          (2, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, '', NULL, NULL, NULL, 'x');",
    )
    .await;
    let repo = Repo::new("postgres");
    repo.query(
        "types.sql",
        "output: {file: types.csv}\nparams: {who: \"O'Brien\", min_id: 1, since: \"2026-01-01\"}",
        "SELECT id, n, ts, tstz, d, t, b, by, j, txt, f, i8, arr FROM it_pg_types\nWHERE (who = :who OR id >= :min_id + 1) AND (d IS NULL OR d >= :since) ORDER BY id",
    );
    let o = repo.run(&url, &["run", "queries/types.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = parse_csv(&repo.read_out("types.csv"));
    assert_eq!(rows.len(), 3, "{rows:?}");
    let expect = [
        s("1"),
        s("12345678901234567890.0123456789"),
        s("2026-10-31 23:59:59.123456"),
        s("2026-10-01 00:00:00+09"),
        s("2026-10-05"),
        s("12:34:56"),
        s("true"),
        s("0x00ff10"),
        s("{\"a\": [1, \"x\"]}"),
        s("tab\there\nnew \"q\", back\\slash 東京"),
        s("0.1"),
        s("-9223372036854775808"),
        s("{1,2}"),
    ];
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(&rows[1][i], e, "column {:?}", rows[0][i]);
    }
    assert_eq!(rows[2][6], s("false"));
    assert_eq!(rows[2][9], s(""), "empty string");
    assert_eq!(rows[2][1], None, "NULL");
}

#[tokio::test]
async fn postgres_period_with_timestamptz_and_timestamp() {
    let Some(url) = support::postgres() else {
        return;
    };
    pg_exec(
        &url,
        "DROP TABLE IF EXISTS it_pg_events;
         CREATE TABLE it_pg_events (id int, at_tz timestamptz, at_local timestamp);
         INSERT INTO it_pg_events VALUES
           (1, '2026-09-30 23:59:59+09', '2026-09-30 23:59:59'),
           (2, '2026-10-01 00:00:00+09', '2026-10-01 00:00:00'),
           (3, '2026-10-31 23:59:59+09', '2026-10-31 23:59:59'),
           (4, '2026-11-01 00:00:00+09', '2026-11-01 00:00:00');",
    )
    .await;
    let repo = Repo::new("postgres");
    repo.query(
        "tz.sql",
        "period: previous_month\noutput: {file: \"tz_{period}.csv\"}",
        "SELECT id FROM it_pg_events WHERE at_tz >= :period_start AND at_tz < :period_end AND at_local >= :period_start AND at_local < :period_end ORDER BY id",
    );
    let o = repo.run(
        &url,
        &[
            "run",
            "queries/tz.sql",
            "--as-of",
            "2026-11-01T00:30:00+09:00",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(repo.read_out("tz_2026-10.csv"), "id\r\n2\r\n3\r\n");
}

#[tokio::test]
async fn postgres_server_side_time_limit_fires() {
    let Some(url) = support::postgres() else {
        return;
    };
    let repo = Repo::with_database(
        "postgres",
        "    allowed_functions:\n      generate_series: \"test: a slow scan\"\n",
    );
    repo.query(
        "slow.sql",
        "timeout: 1s\noutput: {file: slow.csv}",
        "SELECT count(*) AS c FROM generate_series(1, 2000000000) g",
    );
    let started = std::time::Instant::now();
    let o = repo.run(&url, &["run", "queries/slow.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(started.elapsed().as_secs() < 20);
    assert!(
        text(&o).contains("longer than its time limit (1s)"),
        "{}",
        text(&o)
    );
    assert!(!repo.out("slow.csv").exists());
}

#[tokio::test]
async fn postgres_transaction_is_read_only_even_for_a_writable_user() {
    // a function that writes cannot be smuggled past the check by name, but the server's
    // read-only transaction is the second net: prove it refuses a write
    let Some(url) = support::postgres() else {
        return;
    };
    pg_exec(
        &url,
        "DROP TABLE IF EXISTS it_pg_victim; CREATE TABLE it_pg_victim (id int);
         CREATE OR REPLACE FUNCTION it_pg_sneaky() RETURNS int LANGUAGE sql AS 'INSERT INTO it_pg_victim VALUES (1) RETURNING id';",
    )
    .await;
    // the function is listed and the admin user accepted: only the server's read-only
    // transaction stands in the way
    let repo = Repo::with_database(
        "postgres",
        "    allowed_functions:\n      it_pg_sneaky: \"test: the read-only transaction must stop it\"\n",
    )
    .admin_user();
    repo.query(
        "sneaky.sql",
        "output: {file: sneaky.csv}",
        "SELECT it_pg_sneaky() AS x",
    );
    let o = repo.run(&url, &["run", "queries/sneaky.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("read-only transaction"), "{}", text(&o));
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM it_pg_victim")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

// ------------------------------------------------------------------ cancellation

/// Starts a long query, waits until the server shows it running (`running` counts it),
/// sends SIGTERM, and checks that the cancellation was the clean one, not the 9-second
/// watchdog (which exits without a report): exit 130 well under 9 s, the report says
/// "cancelled", the server no longer runs the query, nothing was delivered and the
/// staging folder is empty.
async fn cancel_run<F, Fut>(repo: &Repo, url: &str, running: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let child = repo
        .cmd(url)
        .args(["run", "queries/long.sql"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let waiting = std::time::Instant::now();
    while running().await < 1 {
        assert!(
            waiting.elapsed().as_secs() < 30,
            "the query never showed up as running on the server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let sent = std::time::Instant::now();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let took = sent.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        took.as_millis() < 7000,
        "took {took:?}: the watchdog (9 s), not the cancellation, ended it"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cancelled"),
        "no cancelled entry: {}",
        text(&out)
    );
    let gone = std::time::Instant::now();
    while running().await > 0 {
        assert!(
            gone.elapsed().as_secs() < 5,
            "the query is still running on the server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!repo.out("long.csv").exists());
    let left: Vec<_> = std::fs::read_dir(repo.path().join("work/sqlcourier"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "staging files left: {left:?}");
}

#[tokio::test]
async fn mysql_sigterm_kills_the_query_on_the_server() {
    let Some(url) = support::mysql() else { return };
    let repo = Repo::with_database(
        "mysql",
        "    allowed_relations:\n      information_schema.columns: \"test: a slow cross join\"\n",
    );
    repo.query(
        "long.sql",
        "timeout: 5m\noutput: {file: long.csv}",
        "SELECT COUNT(*) AS c FROM information_schema.columns a, information_schema.columns b, information_schema.columns c WHERE a.ordinal_position > -1",
    );
    let probe = url.clone();
    cancel_run(&repo, &url, || {
        let url = probe.clone();
        async move {
            let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE '%`ordinal_position` > -1%' AND command <> 'Sleep' AND id <> CONNECTION_ID()",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            let _ = c.close().await;
            n
        }
    })
    .await;
}

#[tokio::test]
async fn postgres_sigterm_cancels_the_query_on_the_server() {
    let Some(url) = support::postgres() else {
        return;
    };
    let repo = Repo::with_database(
        "postgres",
        "    allowed_functions:\n      generate_series: \"test: a slow scan\"\n",
    );
    repo.query(
        "long.sql",
        "timeout: 5m\noutput: {file: long.csv}",
        "SELECT count(*) AS c FROM generate_series(1, 3000000000) g WHERE g > -7",
    );
    let probe = url.clone();
    cancel_run(&repo, &url, || {
        let url = probe.clone();
        async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%\"g\" > -7%' AND state = 'active' AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            let _ = c.close().await;
            n
        }
    })
    .await;
}

// ------------------------------------------------------------------ faults

#[tokio::test]
async fn one_failing_query_does_not_stop_the_others() {
    let Some(url) = support::mysql() else { return };
    let repo = Repo::new("mysql");
    repo.query(
        "a_broken.sql",
        "output: {file: a.csv}",
        "SELECT id FROM it_no_such_table",
    );
    repo.query("b_fine.sql", "output: {file: b.csv}", "SELECT 1 AS n");
    let o = repo.run(&url, &["run", "--all", "--report", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = report.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["status"], "failed");
    assert!(
        entries[0]["error"]
            .as_str()
            .unwrap()
            .contains("it_no_such_table")
    );
    assert_eq!(entries[1]["status"], "delivered");
    assert_eq!(entries[1]["rows"], 1);
    assert!(repo.out("b.csv").exists() && !repo.out("a.csv").exists());
}

/// Kills the export's connection from another session once it is streaming, then
/// checks that nothing was delivered and that the next run works.
async fn killed_mid_stream(driver: &str, url: &str, kill: &str, big: &str) {
    let repo = Repo::new(driver);
    repo.query(
        "big.sql",
        "output: {file: big.csv}\ntimeout: 2m",
        &format!("SELECT a.n AS x, b.n AS y FROM {big} a, {big} b"),
    );
    let child = repo
        .cmd(url)
        .args(["run", "queries/big.sql"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    if driver == "mysql" {
        my_exec(url, kill).await;
    } else {
        pg_exec(url, kill).await;
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("FAILED"), "{t}");
    assert!(!t.contains("sqlcourier_admin:"), "no DSN in output: {t}");
    assert!(!repo.out("big.csv").exists(), "nothing delivered");
    // the next run works
    repo.query(
        "big.sql",
        "output: {file: big.csv}",
        &format!("SELECT COUNT(*) AS c FROM {big}"),
    );
    let o = repo.run(url, &["run", "queries/big.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[tokio::test]
async fn mysql_connection_killed_mid_stream() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "DROP TABLE IF EXISTS it_big; CREATE TABLE it_big (n INT); INSERT INTO it_big SELECT seq FROM seq_1_to_20000;",
    )
    .await;
    // a procedure-free kill: find the export's connection by its statement text
    let kill = "SET @id = (SELECT id FROM information_schema.processlist WHERE info LIKE '%FROM `it_big`%`a`, `it_big`%`b`%' AND id <> CONNECTION_ID() LIMIT 1); SET @k = CONCAT('KILL CONNECTION ', @id); PREPARE s FROM @k; EXECUTE s;";
    killed_mid_stream("mysql", &url, kill, "it_big").await;
}

#[tokio::test]
async fn postgres_connection_killed_mid_stream() {
    let Some(url) = support::postgres() else {
        return;
    };
    pg_exec(
        &url,
        "DROP TABLE IF EXISTS it_pg_big; CREATE TABLE it_pg_big AS SELECT g AS n FROM generate_series(1, 20000) g;",
    )
    .await;
    let kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%\"it_pg_big\"%\"a\", \"it_pg_big\"%\"b\"%' AND pid <> pg_backend_pid()";
    killed_mid_stream("postgres", &url, kill, "it_pg_big").await;
}
