//! `output: { format: xlsx }`: every cell of a type corpus read back with an independent
//! reader (Python openpyxl, tests/lib/read_xlsx.py, installed by tests/run.sh), per
//! database; Excel's limits; check-time refusals; the Drive MIME type.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use sqlx::{Connection, Executor};

use crate::support::{self, Repo, text};

/// A Python 3 that has openpyxl: `SQLCOURIER_TEST_PYTHON`, else the system's, else
/// `python3` on PATH. A missing reader fails the test (tests/run.sh installs it).
fn python() -> String {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("SQLCOURIER_TEST_PYTHON") {
        candidates.push(p);
    }
    candidates.extend(["/usr/bin/python3".to_string(), "python3".to_string()]);
    for p in &candidates {
        let ok = Command::new(p)
            .args(["-c", "import openpyxl"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return p.clone();
        }
    }
    panic!(
        "no Python with openpyxl (tried {candidates:?}); run ./tests/run.sh or `apt-get install python3-openpyxl`"
    );
}

/// The workbook as tests/lib/read_xlsx.py sees it.
fn read_workbook(p: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lib/read_xlsx.py");
    let o = Command::new(python()).arg(script).arg(p).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A cell: openpyxl's data type, its value as text, its number format.
fn c(t: &str, v: &str, f: &str) -> Value {
    json!({"t": t, "v": v, "f": f})
}
fn txt(v: &str) -> Value {
    c("s", v, "@")
}
fn int(v: &str) -> Value {
    c("n", v, "0")
}
fn date(v: &str) -> Value {
    c("d", &format!("{v} 00:00:00.000"), "yyyy-mm-dd")
}
fn datetime(v: &str) -> Value {
    c("d", &format!("{v}.000"), "yyyy-mm-dd hh:mm:ss")
}
fn datetime_ms(v: &str) -> Value {
    c("d", v, "yyyy-mm-dd hh:mm:ss.000")
}
/// An empty string: a blank cell formatted as text (a NULL has no cell at all).
fn empty() -> Value {
    json!({"t": "n", "v": null, "f": "@"})
}

/// Compares cell by cell, naming the column on a mismatch.
fn assert_row(book: &Value, row: usize, expect: &[(&str, Value)]) {
    let header = &book["rows"][0];
    let got = &book["rows"][row];
    for (i, (name, want)) in expect.iter().enumerate() {
        assert_eq!(header[i]["v"], json!(name), "header of column {i}");
        assert_eq!(&got[i], want, "row {row}, column `{name}`");
    }
    let width = got.as_array().map_or(0, Vec::len);
    assert_eq!(width, expect.len(), "row {row} has {width} cells: {got}");
}

/// The things every workbook has: one sheet named after the file, a bold frozen
/// header, fitted widths, no formula anywhere.
fn assert_sheet(book: &Value, sheet: &str) {
    assert_eq!(book["sheets"], json!([sheet]));
    assert_eq!(book["freeze"], json!("A2"));
    assert_eq!(book["bold_header"], json!(true));
    assert_eq!(book["formulas"], json!(0), "no formula is ever written");
    assert!(
        book["widths"].as_object().is_some_and(|w| !w.is_empty()),
        "{}",
        book["widths"]
    );
}

/// Text values that CSV loses when Excel opens it; each must come back literally.
const TRICKY: &[&str] = &[
    "0123",
    "09012345678",
    "1-2",
    "3/4",
    "12:30",
    "1E5",
    "TRUE",
    "=1+1",
    "@SUM(A1)",
    "_x0041_",
    " lead and trail ",
    "東京都 ｱｲｳ",
];

fn tricky_select(quote: fn(&str) -> String) -> String {
    TRICKY
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} AS s{i}", quote(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sql_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

fn tricky_expect() -> Vec<(String, Value)> {
    TRICKY
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("s{i}"), txt(v)))
        .collect()
}

fn run_ok(repo: &Repo, url: &str, query: &str) {
    let o = repo.run(url, &["run", query]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

// ------------------------------------------------------------------ MariaDB

#[tokio::test]
async fn xlsx_mariadb_type_corpus_reads_back_exactly() {
    let Some(url) = support::mysql() else { return };
    let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
    conn.execute(
        "SET SESSION sql_mode = ''; SET time_zone = '+09:00';
         DROP TABLE IF EXISTS it_xlsx;
         CREATE TABLE it_xlsx (
           id INT, code VARCHAR(10), ubig BIGINT UNSIGNED, big BIGINT, i15 BIGINT, i16 BIGINT,
           neg INT, d20 DECIMAL(20,0), d2 DECIMAL(10,2), dz DECIMAL(6,3), dbig DECIMAL(20,6),
           dt6 DATETIME(6), dt3 DATETIME(3), dt DATETIME, da DATE, zd DATE, zdt DATETIME,
           old DATE, d1900 DATE, t TIME, f DOUBLE, ff FLOAT, ti TINYINT(1), y YEAR,
           bl VARBINARY(10), j JSON, ts TIMESTAMP NULL, ml TEXT, ctl VARCHAR(10),
           empty VARCHAR(10), nul VARCHAR(10)
         ) DEFAULT CHARSET utf8mb4;
         INSERT INTO it_xlsx VALUES
          (1, '0123', 18446744073709551615, 9007199254740993, 999999999999999, -1000000000000000,
           -42, 12345678901234567890, 12.50, 0.001, 12345678901234.123456,
           '2026-10-31 23:59:59.999999', '2026-10-31 23:59:59.999', '2026-10-31 23:59:59',
           '2026-10-05', '0000-00-00', '0000-00-00 00:00:00', '1800-01-01', '1900-01-01',
           '12:30:00', 0.1, 1.5, 1, 2026, 0x00FF10, '{\"a\": 1}', '2026-10-01 00:00:00',
           'a\\nb\\tc', CONCAT('x', CHAR(1), 'y'), '', NULL),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, '', NULL);",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();

    let repo = Repo::new("mysql");
    let sql = format!(
        "SELECT it_xlsx.*, {} FROM it_xlsx ORDER BY id",
        tricky_select(sql_quote)
    );
    repo.query(
        "types.sql",
        "title: 型の一覧\ndatabase: main\ndestination: out\nperiod: previous_month\noutput: {file: \"types_{period}.xlsx\", format: xlsx}\npii_allowed: {s1: \"test data: a made-up phone number\"}",
        &sql.replace("FROM it_xlsx", "FROM it_xlsx WHERE :period_start < :period_end OR 1 = 1"),
    );
    let o = repo.run(&url, &["run", "queries/types.sql", "--period", "2026-10"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let book = read_workbook(&repo.out("types_2026-10.xlsx"));
    assert_sheet(&book, "types_2026-10");
    assert_eq!(book["title"], json!("型の一覧"));
    assert_eq!(book["subject"], json!("period 2026-10"));
    assert_eq!(book["custom"]["period"], json!("2026-10"));
    assert_eq!(book["custom"]["query"], json!("queries/types.sql"));

    let mut expect: Vec<(String, Value)> = vec![
        ("id".into(), int("1")),
        ("code".into(), txt("0123")),
        ("ubig".into(), txt("18446744073709551615")),
        ("big".into(), txt("9007199254740993")),
        ("i15".into(), int("999999999999999")),
        ("i16".into(), txt("-1000000000000000")),
        ("neg".into(), int("-42")),
        ("d20".into(), txt("12345678901234567890")),
        ("d2".into(), c("n", "12.5", "0.00")),
        ("dz".into(), c("n", "0.001", "0.000")),
        ("dbig".into(), txt("12345678901234.123456")),
        ("dt6".into(), txt("2026-10-31 23:59:59.999999")),
        ("dt3".into(), datetime_ms("2026-10-31 23:59:59.999")),
        ("dt".into(), datetime("2026-10-31 23:59:59")),
        ("da".into(), date("2026-10-05")),
        ("zd".into(), txt("0000-00-00")),
        ("zdt".into(), txt("0000-00-00 00:00:00")),
        ("old".into(), txt("1800-01-01")),
        ("d1900".into(), date("1900-01-01")),
        ("t".into(), txt("12:30:00")),
        ("f".into(), c("n", "0.1", "General")),
        ("ff".into(), c("n", "1.5", "General")),
        ("ti".into(), int("1")),
        ("y".into(), int("2026")),
        ("bl".into(), txt("0x00ff10")),
        ("j".into(), txt("{\"a\": 1}")),
        ("ts".into(), datetime("2026-10-01 00:00:00")),
        ("ml".into(), txt("a\nb\tc")),
        ("ctl".into(), txt("x\u{1}y")),
        ("empty".into(), empty()),
        ("nul".into(), Value::Null),
    ];
    expect.extend(tricky_expect());
    let expect: Vec<(&str, Value)> = expect
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    assert_row(&book, 1, &expect);
    // row 2: NULL everywhere but id and the empty strings
    let row2 = &book["rows"][2];
    assert_eq!(row2[0], int("2"));
    for (i, (name, _)) in expect.iter().enumerate().skip(1) {
        let want = match *name {
            "empty" => empty(),
            n if n.starts_with('s') && n[1..].parse::<usize>().is_ok() => row2[i].clone(),
            _ => Value::Null,
        };
        assert_eq!(row2[i], want, "row 2, column `{name}`");
    }
}

// ------------------------------------------------------------------ PostgreSQL

#[tokio::test]
async fn xlsx_postgres_type_corpus_reads_back_exactly() {
    let Some(url) = support::postgres() else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute(
        "DROP TABLE IF EXISTS it_xlsx;
         CREATE TABLE it_xlsx (id int, code text, u64 numeric(20,0), big int8, i15 int8,
           neg int4, n20 numeric(20,0), n2 numeric(10,2), nfree numeric, nnan numeric,
           ts6 timestamp(6), ts3 timestamp(3), ts timestamp(0), tstz timestamptz, d date,
           old date, bc date, inf timestamp, t time, b bool, f float8, f4 float4, finf float8,
           by bytea, iv interval, empty text, nul text);
         INSERT INTO it_xlsx VALUES
          (1, '0123', 18446744073709551615, 9007199254740993, 999999999999999, -42,
           12345678901234567890, 12.50, 1.5, 'NaN', '2026-10-31 23:59:59.999999',
           '2026-10-31 23:59:59.999', '2026-10-31 23:59:59', '2026-10-01 00:00:00+09',
           '2026-10-05', '1800-01-01', '0044-03-15 BC', 'infinity', '12:30:00', true, 0.1,
           1.5, 'Infinity', '\\x00ff10', '1 day', '', NULL),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, '', NULL);",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();

    let repo = Repo::new("postgres");
    let sql = format!(
        "SELECT it_xlsx.*, {} FROM it_xlsx WHERE id >= :min_id ORDER BY id",
        tricky_select(sql_quote)
    );
    repo.query(
        "types.sql",
        "params: {min_id: 1}\noutput: {format: xlsx}\npii_allowed: {s1: \"test data: a made-up phone number\"}",
        &sql,
    );
    run_ok(&repo, &url, "queries/types.sql");
    let book = read_workbook(&repo.out("types.xlsx"));
    assert_sheet(&book, "types");
    let mut expect: Vec<(String, Value)> = vec![
        ("id".into(), int("1")),
        ("code".into(), txt("0123")),
        ("u64".into(), txt("18446744073709551615")),
        ("big".into(), txt("9007199254740993")),
        ("i15".into(), int("999999999999999")),
        ("neg".into(), int("-42")),
        ("n20".into(), txt("12345678901234567890")),
        ("n2".into(), c("n", "12.5", "0.00")),
        ("nfree".into(), c("n", "1.5", "0.0")),
        ("nnan".into(), txt("NaN")),
        ("ts6".into(), txt("2026-10-31 23:59:59.999999")),
        ("ts3".into(), datetime_ms("2026-10-31 23:59:59.999")),
        ("ts".into(), datetime("2026-10-31 23:59:59")),
        ("tstz".into(), datetime("2026-10-01 00:00:00")),
        ("d".into(), date("2026-10-05")),
        ("old".into(), txt("1800-01-01")),
        ("bc".into(), txt("0044-03-15 BC")),
        ("inf".into(), txt("infinity")),
        ("t".into(), txt("12:30:00")),
        ("b".into(), c("b", "TRUE", "General")),
        ("f".into(), c("n", "0.1", "General")),
        ("f4".into(), c("n", "1.5", "General")),
        ("finf".into(), txt("Infinity")),
        ("by".into(), txt("0x00ff10")),
        ("iv".into(), txt("P1D")),
        ("empty".into(), empty()),
        ("nul".into(), Value::Null),
    ];
    expect.extend(tricky_expect());
    let expect: Vec<(&str, Value)> = expect
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    assert_row(&book, 1, &expect);
    assert_eq!(book["rows"][2][19], c("b", "FALSE", "General"));
    assert_eq!(book["rows"][2][25], empty());
    assert_eq!(book["rows"][2][26], Value::Null);
}

// ------------------------------------------------------------------ SQLite

/// A SQLite file with declared column types (SQLite keeps whatever a value is).
async fn sqlite_file(dir: &Path, sql: &str) -> String {
    let p = dir.join("types.sqlite");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", p.display()))
        .await
        .unwrap();
    conn.execute(sql).await.unwrap();
    conn.close().await.unwrap();
    format!("sqlite://{}", p.display())
}

#[tokio::test]
async fn xlsx_sqlite_type_corpus_reads_back_exactly_and_masks_stay_text() {
    let repo = Repo::new("sqlite");
    let url = sqlite_file(
        repo.path(),
        "CREATE TABLE t (id INTEGER, code TEXT, ubig TEXT, big INTEGER, i15 INTEGER, r REAL,
           da DATE, dt6 DATETIME, dt3 DATETIME, notdate DATETIME, b BOOLEAN, bl BLOB,
           phone INTEGER, num NUMERIC, empty TEXT, nul TEXT);
         INSERT INTO t VALUES (1, '0123', '18446744073709551615', 9007199254740993,
           999999999999999, 0.1, '2026-10-05', '2026-10-31 23:59:59.999999',
           '2026-10-31 23:59:59.999', 'soon', 1, x'00ff10', 9012345678, '1-2', '', NULL);",
    )
    .await;
    let sql = format!(
        "SELECT t.*, COUNT(*) OVER () AS n, {} FROM t ORDER BY id",
        tricky_select(sql_quote)
    );
    repo.query(
        "types.sql",
        "output: {file: \"型.xlsx\", format: xlsx}\nmask: {phone: last4}\npii_allowed: {s1: \"test data: a made-up phone number\"}",
        &sql,
    );
    run_ok(&repo, &url, "queries/types.sql");
    let book = read_workbook(&repo.out("型.xlsx"));
    assert_sheet(&book, "型");
    let mut expect: Vec<(String, Value)> = vec![
        ("id".into(), int("1")),
        ("code".into(), txt("0123")),
        ("ubig".into(), txt("18446744073709551615")),
        ("big".into(), txt("9007199254740993")),
        ("i15".into(), int("999999999999999")),
        ("r".into(), c("n", "0.1", "General")),
        ("da".into(), date("2026-10-05")),
        ("dt6".into(), txt("2026-10-31 23:59:59.999999")),
        ("dt3".into(), datetime_ms("2026-10-31 23:59:59.999")),
        ("notdate".into(), txt("soon")),
        ("b".into(), c("b", "TRUE", "General")),
        ("bl".into(), txt("0x00ff10")),
        // a masked value is text whatever the column's type
        ("phone".into(), txt("******5678")),
        ("num".into(), txt("1-2")),
        ("empty".into(), empty()),
        ("nul".into(), Value::Null),
        ("n".into(), int("1")),
    ];
    expect.extend(tricky_expect());
    let expect: Vec<(&str, Value)> = expect
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    assert_row(&book, 1, &expect);

    // an expression has no declared type: each value keeps its own storage class, so a
    // text '123' next to integers stays text
    repo.query(
        "mixed.sql",
        "output: {format: xlsx}",
        "SELECT column1 AS v, COUNT(*) OVER () AS n FROM (VALUES ('0123'), (7), ('123'), (1.5), (NULL), (x'00'), (-3))",
    );
    run_ok(&repo, &url, "queries/mixed.sql");
    let book = read_workbook(&repo.out("mixed.xlsx"));
    let got: Vec<Value> = (1..=7).map(|r| book["rows"][r][0].clone()).collect();
    assert_eq!(
        got,
        vec![
            txt("0123"),
            int("7"),
            txt("123"),
            c("n", "1.5", "General"),
            Value::Null,
            txt("0x00"),
            int("-3"),
        ]
    );
    assert_eq!(book["rows"][7][1], int("7"));
}

// ------------------------------------------------------------------ limits

#[test]
fn xlsx_over_the_row_limit_is_refused_with_the_numbers_and_nothing_is_delivered() {
    let repo = Repo::new("sqlite");
    // mostly NULL cells: cheap to generate and to write, yet every row counts
    let rows = |n: u64| {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) SELECT CASE WHEN i % 250000 = 0 OR i = {n} THEN i END AS i FROM n"
        )
    };
    repo.query("fits.sql", "output: {format: xlsx}", &rows(1_048_575));
    repo.query("over.sql", "output: {format: xlsx}", &rows(1_048_576));
    let o = repo.run("sqlite::memory:", &["run", "queries/over.sql"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let all = text(&o);
    assert!(all.contains("1048576 rows"), "{all}");
    assert!(
        all.contains("at most 1048575 rows below its header"),
        "{all}"
    );
    assert!(all.contains("deliver CSV instead"), "{all}");
    assert!(!repo.out("over.xlsx").exists(), "nothing may be delivered");
    assert!(
        std::fs::read_dir(repo.path().join("out"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "no partial file in out/"
    );

    // exactly at the limit: delivered, the last row on Excel's last row
    let o = repo.run("sqlite::memory:", &["run", "queries/fits.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let tail = sheet_tail(&repo.out("fits.xlsx"));
    assert!(tail.contains("<dimension ref=\"A1:A1048576\"/>"), "{tail}");
    let last = tail
        .split("<row r=\"1048576\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no row 1048576: {tail}"));
    assert!(last.contains(">1048575<"), "{tail}");
}

/// The `<dimension>` element and the last 300 characters of the sheet XML (read with
/// Python's zipfile: openpyxl would load a million rows).
fn sheet_tail(p: &Path) -> String {
    let code = "import re,sys,zipfile\nx=zipfile.ZipFile(sys.argv[1]).read('xl/worksheets/sheet1.xml').decode()\nprint(re.search(r'<dimension[^>]*>',x).group(0)+x[-300:])";
    let o = Command::new(python())
        .args(["-c", code])
        .arg(p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn xlsx_cells_over_32767_characters_are_refused_with_row_and_column() {
    let repo = Repo::new("sqlite");
    repo.query(
        "long.sql",
        "output: {format: xlsx}",
        "SELECT 1 AS id, 'ok' AS note UNION ALL SELECT 2, printf('%.32768c', 'x') ORDER BY id",
    );
    repo.query(
        "fits.sql",
        "output: {format: xlsx}",
        "SELECT printf('%.32767c', 'x') AS note, printf('%.16383c', '東') || 'x' AS wide",
    );
    let o = repo.run("sqlite::memory:", &["run", "queries/long.sql"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let all = text(&o);
    assert!(
        all.contains("row 2, column `note` holds 32768 characters"),
        "{all}"
    );
    assert!(all.contains("at most 32767"), "{all}");
    assert!(!repo.out("long.xlsx").exists());
    run_ok(&repo, "sqlite::memory:", "queries/fits.sql");
    let book = read_workbook(&repo.out("fits.xlsx"));
    assert_eq!(book["rows"][1][0]["v"].as_str().map(str::len), Some(32_767));
}

// ------------------------------------------------------------------ check

#[test]
fn xlsx_check_refuses_gzip_encoding_and_a_wrong_extension() {
    let repo = Repo::new("sqlite");
    repo.query(
        "gz.sql",
        "output: {format: xlsx, gzip: true}",
        "SELECT 1 AS n",
    );
    repo.query(
        "sjis.sql",
        "output: {format: xlsx, encoding: cp932}",
        "SELECT 1 AS n",
    );
    repo.query(
        "name.sql",
        "output: {format: xlsx, file: \"report.csv\"}",
        "SELECT 1 AS n",
    );
    repo.query(
        "csvname.sql",
        "output: {file: \"report.xlsx\"}",
        "SELECT 1 AS n",
    );
    repo.query("fine.sql", "output: {format: xlsx}", "SELECT 1 AS n");
    let o = repo.run("sqlite::memory:", &["check", "queries/"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let all = text(&o);
    for needle in [
        "gz.sql:",
        "`gzip: true` cannot be used with `format: xlsx`",
        "sjis.sql:",
        "`encoding: cp932` cannot be used with `format: xlsx`",
        "name.sql:",
        "the file name must end in `.xlsx`",
        "csvname.sql:",
        "add `format: xlsx`",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in\n{all}");
    }
    assert!(!all.contains("fine.sql:"), "{all}");
    repo.query("bad.sql", "output: {format: xls}", "SELECT 1 AS n");
    let o = repo.run("sqlite::memory:", &["check", "queries/bad.sql"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn xlsx_rerun_writes_the_same_workbook() {
    let repo = Repo::new("sqlite");
    repo.query(
        "same.sql",
        "period: previous_month\noutput: {format: xlsx}",
        "SELECT :period_start AS since, 1.25 AS x",
    );
    let run = || {
        let o = repo
            .cmd("sqlite::memory:")
            .args([
                "run",
                "queries/same.sql",
                "--period",
                "2026-10",
                "--as-of",
                "2026-11-01T09:00:00+09:00",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        std::fs::read(repo.out("same_2026-10.xlsx")).unwrap()
    };
    let a = run();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = run();
    assert!(a.starts_with(b"PK"));
    assert!(
        a == b,
        "a re-run of the same period must write the same bytes"
    );
}

// ------------------------------------------------------------------ Google Drive

fn drive_repo(s: &crate::drive_standin::Standin, sheets: bool) -> (Repo, Command) {
    use crate::drive_standin::FOLDER;
    let repo = Repo::new("sqlite");
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        format!(
            "defaults:\n  timezone: Asia/Tokyo\ndatabases:\n  main: {{driver: sqlite, url_env: SQLCOURIER_DB_MAIN}}\ndestinations:\n  drive:\n    type: drive\n    folder_id: {FOLDER}\n    key_env: SQLCOURIER_DRIVE_KEY\n    convert_to_sheets: {sheets}\n    readers:\n      users: [ann@example.com]\nmasking:\n  key_env: SQLCOURIER_MASK_KEY\n"
        ),
    )
    .unwrap();
    repo.query(
        "book.sql",
        "title: book\ndatabase: main\ndestination: drive\noutput: {format: xlsx}",
        "SELECT '0123' AS code, 12.50 AS amount",
    );
    let mut c = repo.cmd("sqlite::memory:");
    c.env("SQLCOURIER_DRIVE_KEY", s.key_json())
        .env("SQLCOURIER_DRIVE_ROOT_URL", s.root_url())
        .args(["run", "queries/book.sql"]);
    (repo, c)
}

const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[test]
fn xlsx_drive_upload_is_a_workbook_and_a_rerun_updates_it() {
    use crate::drive_standin::{FOLDER, Standin};
    let s = Standin::start();
    let (repo, mut c) = drive_repo(&s, false);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].name, "book.xlsx");
    assert_eq!(files[0].mime_type, XLSX_MIME);
    assert_eq!(s.st().upload_types, vec![XLSX_MIME.to_string()]);
    let local = repo.path().join("drive-copy.xlsx");
    std::fs::write(&local, &files[0].content).unwrap();
    let book = read_workbook(&local);
    assert_eq!(book["rows"][1][0], txt("0123"));
    // a re-run replaces the same file
    let (_again_repo, mut again) = drive_repo(&s, false);
    let o = again.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(s.st().files_in(FOLDER).len(), 1);
}

#[test]
fn xlsx_drive_convert_to_sheets_sends_the_workbook_for_conversion() {
    use crate::drive_standin::{FOLDER, Standin};
    let s = Standin::start();
    let (_repo, mut c) = drive_repo(&s, true);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].name, "book");
    assert_eq!(
        files[0].mime_type,
        "application/vnd.google-apps.spreadsheet"
    );
    // Drive converts what it is sent: the workbook, with its typed cells
    assert_eq!(s.st().upload_types, vec![XLSX_MIME.to_string()]);
    assert!(files[0].content.starts_with(b"PK"));
}

#[test]
fn xlsx_demo_writes_one_workbook_with_numbers_as_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_sqlcourier"))
        .current_dir(dir.path())
        .args(["demo", "--members", "300", "--orders", "2000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut books = Vec::new();
    for sub in ["opex-monthly", "marketing", "adhoc"] {
        for e in std::fs::read_dir(dir.path().join("out").join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xlsx") {
                books.push(p);
            }
        }
    }
    assert_eq!(books.len(), 1, "{books:?}");
    let book = read_workbook(&books[0]);
    let name = books[0].file_stem().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("sales_by_status_"), "{name}");
    assert_sheet(&book, &name);
    assert_eq!(book["title"], json!("月次 売上集計（ステータス別）"));
    let rows = book["rows"].as_array().unwrap();
    assert!(rows.len() > 1, "{book}");
    for r in &rows[1..] {
        assert_eq!(r[0]["t"], json!("s"), "status is text: {r}");
        for c in 1..5 {
            assert_eq!(r[c]["t"], json!("n"), "column {c} is a number: {r}");
        }
    }
}
