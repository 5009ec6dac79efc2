//! The CSV contract cell by cell, and README promises that had no test (issue 16,
//! items 3, 7, 8, 9, 17). Against the real MariaDB and SQLite.

use sqlx::{Connection, Executor};

use crate::support::{self, Repo, parse_csv, text};

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

async fn my_exec(url: &str, sql: &str) {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    c.execute(sql).await.unwrap();
    c.close().await.unwrap();
}

/// Regression (items 7, 8, 9): BINARY/VARBINARY/BLOB values that happen to be UTF-8
/// were written as text (x'41' → `A`, x'' → `""`), `utf8mb4_bin` text with a control
/// character as hex, YEAR 0000 as `0`, DOUBLE 1e300 as 301 digits. Decided now by the
/// column definition (type + character set), never by the bytes.
#[tokio::test]
async fn mysql_binary_text_year_and_float_cells_follow_the_column_type() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "DROP TABLE IF EXISTS it_cells;
         CREATE TABLE it_cells (
           id INT PRIMARY KEY, b BINARY(1), vb VARBINARY(10), bl BLOB, e VARBINARY(10), z VARBINARY(10),
           tb VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
           tt TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
           y YEAR, y0 YEAR, fl FLOAT, fmax FLOAT, d1 DOUBLE, d2 DOUBLE, d3 DOUBLE, d4 DOUBLE
         ) DEFAULT CHARSET utf8mb4;
         INSERT INTO it_cells VALUES (1, x'41', x'3D636D64', 'abc', x'', x'00',
           CONCAT('a', CHAR(1 USING utf8mb4), 'b'), 'plain', 2026, 0,
           0.1, 3.4028234e38, 1e300, 0.1, -1.5e-7, 123456789012345678);",
    )
    .await;
    let repo = Repo::new("mysql");
    repo.query(
        "cells.sql",
        "output: {file: cells.csv}\nallow_formulas: \"test data\"",
        "SELECT id, b, vb, bl, e, z, tb, tt, y, y0, fl, fmax, d1, d2, d3, d4, x'41' AS lit, CAST('A' AS BINARY) AS cast_bin, CONVERT(x'41' USING utf8mb4) AS conv FROM it_cells",
    );
    let o = repo.run(&url, &["run", "queries/cells.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = parse_csv(&repo.read_out("cells.csv"));
    let expect = [
        ("id", s("1")),
        ("b", s("0x41")),
        ("vb", s("0x3d636d64")),
        ("bl", s("0x616263")),
        ("e", s("0x")),
        ("z", s("0x00")),
        ("tb", s("a\u{1}b")),
        ("tt", s("plain")),
        ("y", s("2026")),
        ("y0", s("0000")),
        ("fl", s("0.1")),
        ("fmax", s("3.4028235e38")),
        ("d1", s("1e300")),
        ("d2", s("0.1")),
        ("d3", s("-1.5e-7")),
        ("d4", s("1.2345678901234568e17")),
        ("lit", s("0x41")),
        ("cast_bin", s("0x41")),
        ("conv", s("A")),
    ];
    for (i, (name, want)) in expect.iter().enumerate() {
        assert_eq!(rows[0][i].as_deref(), Some(*name));
        assert_eq!(&rows[1][i], want, "column {name}");
    }
    // FLOAT reads back as the same 4-byte float, DOUBLE as the same 8-byte one
    assert_eq!(
        rows[1][11].as_deref().unwrap().parse::<f32>().unwrap(),
        3.4028234e38f32
    );
    assert_eq!(
        rows[1][12].as_deref().unwrap().parse::<f64>().unwrap(),
        1e300
    );
}

/// Item 9 on SQLite (REAL): the shortest round-trip text, never positional 301 digits.
#[test]
fn sqlite_real_cells_are_the_shortest_round_trip_text() {
    let repo = Repo::new("sqlite");
    repo.query(
        "reals.sql",
        "output: {file: reals.csv}",
        "SELECT 1e300 AS a, 0.1 AS b, 1.0 / 3 AS c, 123456789012345678.0 AS d, 2.5e-10 AS e, x'41' AS f",
    );
    let o = repo.run("sqlite::memory:", &["run", "queries/reals.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = parse_csv(&repo.read_out("reals.csv"));
    assert_eq!(
        rows[1],
        vec![
            s("1e300"),
            s("0.1"),
            s("0.3333333333333333"),
            s("1.2345678901234568e17"),
            s("2.5e-10"),
            s("0x41")
        ]
    );
}

/// Regression (item 3): `run queries/x.sql`, `./queries/x.sql`, an absolute path and
/// `x.sql` from inside `queries/` with `--config` all name the file the same way, so a
/// Drive file's identity (and the report) cannot depend on how the path was typed.
#[test]
fn query_identity_is_the_path_from_the_repository_root_however_typed() {
    let repo = Repo::new("sqlite");
    repo.query("x.sql", "output: {file: x.csv}", "SELECT 1 AS n");
    let abs = repo.path().join("queries/x.sql");
    let abs = abs.to_str().unwrap();
    let cfg = repo.path().join("sqlcourier.yaml");
    let cfg = cfg.to_str().unwrap();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("", vec!["run", "queries/x.sql"]),
        ("", vec!["run", "./queries/x.sql"]),
        ("", vec!["run", abs]),
        ("queries", vec!["--config", cfg, "run", "x.sql"]),
        (
            "queries",
            vec!["--config", "../sqlcourier.yaml", "run", "./x.sql"],
        ),
    ];
    for (dir, args) in runs {
        let mut args = args.clone();
        args.extend(["--report", "json"]);
        let o = repo
            .cmd("sqlite::memory:")
            .current_dir(repo.path().join(dir))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report[0]["query"], "queries/x.sql", "{args:?}");
    }
}

/// Item 17: what README's quick start promises of the demo — the six names, CP932,
/// masked values, and a real gzip file.
#[test]
fn demo_delivers_the_promised_names_encodings_masks_and_gzip() {
    use chrono::Datelike;
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sqlcourier"))
        .current_dir(dir.path())
        .args(["demo", "--members", "800", "--orders", "5000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo);
    let first = now.date_naive().with_day(1).unwrap();
    let m = (first - chrono::Duration::days(1))
        .format("%Y-%m")
        .to_string();
    let out = dir.path().join("out");
    let mut names: Vec<String> = Vec::new();
    for sub in ["opex-monthly", "marketing", "adhoc"] {
        for e in std::fs::read_dir(out.join(sub)).unwrap() {
            names.push(format!(
                "{sub}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    names.sort();
    let mut want = vec![
        format!("opex-monthly/signups_by_prefecture_{m}.csv"),
        format!("opex-monthly/sales_by_status_{m}.xlsx"),
        format!("opex-monthly/order_details_{m}.csv.gz"),
        format!("marketing/new_members_tokyo_{m}.csv"),
        format!("marketing/new_members_osaka_{m}.csv"),
        "adhoc/dormant_members.csv".to_string(),
    ];
    want.sort();
    assert_eq!(names, want);

    // CP932 and masked: no address, no name, e-mails hashed, birth dates cut to the month
    for v in ["tokyo", "osaka"] {
        let bytes = std::fs::read(out.join(format!("marketing/new_members_{v}_{m}.csv"))).unwrap();
        assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "CP932 has no BOM");
        let (t, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad, "not CP932");
        let rows = parse_csv(&t);
        assert_eq!(
            rows[0],
            [
                "member_id",
                "name",
                "email",
                "phone",
                "birth_date",
                "created_at"
            ]
            .map(s)
            .to_vec()
        );
        assert!(rows.len() > 1, "{v}: no rows");
        for r in &rows[1..] {
            assert_eq!(r[1], s("[redacted]"));
            let e = r[2].as_deref().unwrap();
            assert!(e.starts_with("h_") && e.len() == 18, "{e}");
            if let Some(p) = r[3].as_deref() {
                assert!(p.starts_with("***-****-") && p.len() == 13, "{p}");
            }
            let b = r[4].as_deref().unwrap();
            assert!(b.len() == 7 && b.as_bytes()[4] == b'-', "{b}");
        }
        assert!(!t.contains('@'), "an e-mail address leaked");
    }
    // UTF-8 with BOM and Japanese text where the query keeps it
    let signups =
        std::fs::read(out.join(format!("opex-monthly/signups_by_prefecture_{m}.csv"))).unwrap();
    let t = String::from_utf8(signups).unwrap();
    assert!(t.starts_with('\u{feff}') && t.contains("東京都"), "{t}");
    // a real gzip file holding a CSV
    let gz = std::fs::read(out.join(format!("opex-monthly/order_details_{m}.csv.gz"))).unwrap();
    assert_eq!(&gz[..2], b"\x1f\x8b", "not gzip");
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut csv)
        .unwrap();
    let csv = csv.strip_prefix('\u{feff}').unwrap_or(&csv);
    assert!(csv.lines().count() > 10 && csv.ends_with("\r\n"));
}

/// Item 17: README says the gzip level the code uses.
#[test]
fn readme_states_the_gzip_level_the_code_uses() {
    let readme = include_str!("../../README.md");
    let want = format!("gzip-compressed (level {}", sqlcourier::encode::gzip::LEVEL);
    assert!(readme.contains(&want), "README does not say `{want}`");
}

/// Item 17: a `mask:` rule naming a column the result does not have (a typo that would
/// leave the real column unmasked) fails the file before anything is written.
#[test]
fn a_mask_rule_naming_a_missing_column_is_an_error() {
    let repo = Repo::new("sqlite");
    repo.query(
        "typo.sql",
        "output: {file: typo.csv}\nmask: {emial: hash}\npii_allowed: {email: \"test only\"}",
        "SELECT 'a@example.com' AS email",
    );
    let o = repo.run("sqlite::memory:", &["run", "queries/typo.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    // refused by `check` already (the result's columns are known), or at run time
    assert!(
        out.contains("no such column") || out.contains("names a column the result does not have"),
        "{out}"
    );
    assert!(out.contains("emial"), "{out}");
    assert!(!out.contains("a@example.com"), "{out}");
    assert!(!repo.out("typo.csv").exists());
}

/// Item 17: the MySQL/MariaDB read-only transaction refuses a write smuggled through a
/// stored function (PostgreSQL has its own test).
#[tokio::test]
async fn mysql_transaction_is_read_only_even_for_a_writable_user() {
    let Some(url) = support::mysql() else { return };
    my_exec(
        &url,
        "DROP TABLE IF EXISTS it_my_victim; CREATE TABLE it_my_victim (id INT);
         DROP FUNCTION IF EXISTS it_my_sneaky;
         CREATE FUNCTION it_my_sneaky() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO it_my_victim VALUES (1); RETURN 1; END",
    )
    .await;
    // a writable user, accepted in writing, and the function allowed by the operator:
    // only the read-only transaction stands between the query and the write
    let repo = Repo::with_database(
        "mysql",
        "    allowed_functions: {it_my_sneaky: \"test: a write smuggled through a stored function\"}\n",
    )
    .admin_user();
    repo.query(
        "sneaky.sql",
        "output: {file: sneaky.csv}",
        "SELECT it_my_sneaky() AS x",
    );
    let o = repo.run(&url, &["run", "queries/sneaky.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).to_lowercase().contains("read only"),
        "{}",
        text(&o)
    );
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM it_my_victim")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 0, "the write went through");
    assert!(!repo.out("sneaky.csv").exists());
}
