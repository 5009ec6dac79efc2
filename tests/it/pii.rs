//! The personal-data guard against real MariaDB and PostgreSQL, with a hostile corpus:
//! every way the issue found (and more) to get a personal value out under an innocent
//! name, after the sniff window, inside free text or an encoding, or inside a database
//! error message. Each case must either be refused (by `check`, or by `run` before
//! anything is delivered, naming the column and row) or deliver no original value; and
//! no planted value may appear in any output: stdout, stderr, the JSON report, the job
//! summary.

use std::path::Path;

use sqlx::{Connection, Executor};

use crate::support::{self, Repo, text};

/// Substrings of every planted personal value.
const PLANTED: &[&str] = &[
    "pii-secret",
    "5555-",
    "５５５５",
    "4111 1111",
    "4111111111111111",
    "秘密",
    // hex and base64 of the planted e-mail address's local part
    "7069692d736563726574",
    "cGlpLXNlY3JldE",
];

const ROWS: usize = 1500;

fn seed_sql(ident_text: &str) -> String {
    let mut s = format!(
        "DROP TABLE IF EXISTS it_pii_members;
         CREATE TABLE it_pii_members (id INT, email {t}, phone {t}, name {t}, prefecture {t}, memo {t}, card {t});
         INSERT INTO it_pii_members VALUES ",
        t = ident_text
    );
    let mut rows = Vec::new();
    for i in 1..=ROWS {
        let memo = match i {
            1300 => "mail me at zz.pii-secret@example.com please".to_string(),
            1400 => "連絡先 090-5555-0001 まで".to_string(),
            1450 => "card 4111 1111 1111 1111 exp 12/27".to_string(),
            1460 => "携帯０９０－５５５５－１２３４".to_string(),
            _ if i % 7 == 0 => String::new(),
            _ => format!("call back later, order 2026-10-01 #{i}"),
        };
        rows.push(format!(
            "({i}, 'm{i}.pii-secret@example.com', '090-5555-{:04}', '秘密 {i}', '東京都', '{memo}', '4111111111111111')",
            i % 10000
        ));
    }
    s.push_str(&rows.join(",\n"));
    s.push(';');
    s
}

async fn seed_mysql(url: &str) {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    c.execute("SET NAMES utf8mb4").await.unwrap();
    c.execute(seed_sql("VARCHAR(200) CHARACTER SET utf8mb4").as_str())
        .await
        .unwrap();
}

async fn seed_postgres(url: &str) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    c.execute(seed_sql("text").as_str()).await.unwrap();
}

/// Every output of a `run`: stdout, stderr, the JSON report, the job summary.
struct Outputs {
    all: String,
    status: Option<i32>,
}

fn run_all(repo: &Repo, url: &str, file: &str) -> Outputs {
    let summary = repo.path().join("summary.md");
    let _ = std::fs::remove_file(&summary);
    let o = repo
        .cmd(url)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["run", "--report", "json", file])
        .output()
        .unwrap();
    let mut all = text(&o);
    all.push_str("\n--- summary\n");
    all.push_str(&std::fs::read_to_string(&summary).unwrap_or_default());
    Outputs {
        all,
        status: o.status.code(),
    }
}

fn assert_no_planted(what: &str, s: &str) {
    for p in PLANTED {
        assert!(!s.contains(p), "{what}: planted value {p:?} leaked in\n{s}");
    }
}

fn out_files(repo: &Repo) -> Vec<String> {
    let dir = repo.path().join("out");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn write(repo: &Repo, name: &str, front: &str, sql: &str) {
    repo.query(
        name,
        &format!(
            "output: {{file: \"{}.csv\"}}\n{front}",
            name.trim_end_matches(".sql")
        ),
        sql,
    );
}

/// Queries the check must refuse, with the words expected in its message.
fn refused_everywhere() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "allowance_follows_source.sql",
            "pii_allowed: {prefecture: \"region only\"}",
            "SELECT prefecture AS region, email AS prefecture FROM it_pii_members",
        ),
        (
            "filter_only.sql",
            "",
            "SELECT id FROM it_pii_members WHERE email LIKE 'm1.%'",
        ),
        (
            "union_branch.sql",
            "",
            "SELECT id AS info FROM it_pii_members UNION ALL SELECT phone FROM it_pii_members",
        ),
        (
            "star_of_derived.sql",
            "",
            "SELECT * FROM (SELECT email AS info FROM it_pii_members) d",
        ),
        (
            "scalar_subquery.sql",
            "",
            "SELECT (SELECT x.name FROM it_pii_members x WHERE x.id = m.id) AS info FROM it_pii_members m",
        ),
        (
            "case_expr.sql",
            "",
            "SELECT CASE WHEN id > 0 THEN card END AS info FROM it_pii_members",
        ),
    ]
}

fn refused_postgres() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut v = refused_everywhere();
    for (name, sql) in [
        (
            "row_to_json.sql",
            "SELECT row_to_json(m) AS info FROM it_pii_members m",
        ),
        (
            "to_jsonb.sql",
            "SELECT to_jsonb(m) AS info FROM it_pii_members m",
        ),
        (
            "json_agg.sql",
            "SELECT json_agg(m) AS info FROM it_pii_members m",
        ),
        (
            "cast_text.sql",
            "SELECT m::text AS info FROM it_pii_members m",
        ),
        ("bare_row.sql", "SELECT m AS info FROM it_pii_members m"),
        (
            "row_star.sql",
            "SELECT ROW(m.*)::text AS info FROM it_pii_members m",
        ),
        (
            "format.sql",
            "SELECT format('%s', m) AS info FROM it_pii_members m",
        ),
        (
            "attribute.sql",
            "SELECT m.row_to_json AS info FROM it_pii_members m",
        ),
        (
            "scalar_row.sql",
            "SELECT (SELECT x FROM it_pii_members x WHERE x.id = m.id)::text AS info FROM it_pii_members m",
        ),
        (
            "table_to_xml.sql",
            "SELECT table_to_xml('it_pii_members', true, false, '') AS info",
        ),
        (
            "cte_columns.sql",
            "WITH x(a, b) AS (SELECT * FROM it_pii_members) SELECT b AS info FROM x",
        ),
        (
            "alias_columns.sql",
            "SELECT b AS info FROM it_pii_members AS m(a, b, c)",
        ),
        (
            "hex.sql",
            "SELECT encode(convert_to(email, 'UTF8'), 'hex') AS info FROM it_pii_members",
        ),
        (
            "concat.sql",
            "SELECT c1 || ';' AS info FROM (SELECT email AS c1 FROM it_pii_members) d",
        ),
        (
            "string_agg.sql",
            "SELECT string_agg(c1, ',') AS info FROM (SELECT phone AS c1 FROM it_pii_members) d",
        ),
        (
            "natural.sql",
            "SELECT a.id FROM it_pii_members a NATURAL JOIN it_pii_members b",
        ),
        (
            "count_filter.sql",
            "SELECT COUNT(*) FILTER (WHERE email LIKE 'm1%') AS n FROM it_pii_members",
        ),
        (
            "unnest.sql",
            "SELECT * FROM unnest(ARRAY(SELECT email FROM it_pii_members)) AS u",
        ),
        (
            "hstore_like.sql",
            "SELECT array_agg(m)::text AS info FROM it_pii_members m",
        ),
    ] {
        v.push((name, "", sql));
    }
    v
}

fn refused_mysql() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut v = refused_everywhere();
    for (name, sql) in [
        (
            "hex.sql",
            "SELECT HEX(contact) AS info FROM (SELECT email AS contact FROM it_pii_members) d",
        ),
        (
            "base64.sql",
            "SELECT TO_BASE64(c1) AS info FROM (SELECT phone AS c1 FROM it_pii_members) d",
        ),
        (
            "concat.sql",
            "SELECT CONCAT(c1, ';') AS info FROM (SELECT name c1 FROM it_pii_members) d",
        ),
        (
            "group_concat.sql",
            "SELECT GROUP_CONCAT(c1) AS info FROM (SELECT email c1 FROM it_pii_members) d",
        ),
        (
            "cte_columns.sql",
            "WITH x(a, b) AS (SELECT id, email FROM it_pii_members) SELECT b AS info FROM x",
        ),
        (
            "cte_star_columns.sql",
            "WITH x(a, b) AS (SELECT * FROM it_pii_members) SELECT b AS info FROM x",
        ),
    ] {
        v.push((name, "", sql));
    }
    v
}

/// Queries the text check lets through, that `run` must stop before delivery.
fn stopped_at_run(pg: bool) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    let mut v = vec![
        (
            "memo.sql",
            "",
            "SELECT id, memo FROM it_pii_members ORDER BY id",
            "column `memo` holds what look like e-mail addresses (row 1300)",
        ),
        (
            "memo_renamed.sql",
            "pii_allowed: {prefecture: \"region only\"}",
            "SELECT id, memo AS prefecture FROM it_pii_members ORDER BY id",
            "column `prefecture` holds what look like e-mail addresses (row 1300)",
        ),
        (
            "late_union.sql",
            "",
            "SELECT memo AS info FROM it_pii_members WHERE id < 1350 UNION ALL SELECT memo FROM it_pii_members WHERE id >= 1350",
            "(row 1300)",
        ),
        (
            "phone_in_text.sql",
            "",
            "SELECT id, memo AS info FROM it_pii_members WHERE id > 1350 ORDER BY id",
            "phone numbers (row 50)",
        ),
        (
            "card_in_text.sql",
            "",
            "SELECT id, memo AS info FROM it_pii_members WHERE id > 1420 ORDER BY id",
            "payment card numbers (row 30)",
        ),
        (
            "fullwidth_phone.sql",
            "",
            "SELECT id, memo AS info FROM it_pii_members WHERE id > 1455 ORDER BY id",
            "phone numbers (row 5)",
        ),
        (
            "upper.sql",
            "",
            "SELECT UPPER(memo) AS info FROM it_pii_members ORDER BY id",
            "(row 1300)",
        ),
    ];
    if pg {
        v.push((
            "hex_of_text.sql",
            "",
            "SELECT encode(convert_to(memo, 'UTF8'), 'hex') AS info FROM it_pii_members WHERE id = 1300",
            "e-mail addresses (row 1)",
        ));
        v.push((
            "base64_of_text.sql",
            "",
            "SELECT translate(encode(convert_to(memo, 'UTF8'), 'base64'), E'\\n', '') AS info FROM it_pii_members WHERE id = 1300",
            "e-mail addresses (row 1)",
        ));
        v.push((
            "bytea.sql",
            "",
            "SELECT convert_to(memo, 'UTF8') AS info FROM it_pii_members WHERE id >= 1300 ORDER BY id",
            "e-mail addresses (row 1)",
        ));
        v.push((
            "wrapped_base64.sql",
            "",
            "SELECT encode(convert_to(repeat(memo, 3), 'UTF8'), 'base64') AS info FROM it_pii_members WHERE id = 1300",
            "e-mail addresses (row 1)",
        ));
    } else {
        v.push((
            "hex_of_text.sql",
            "",
            "SELECT HEX(memo) AS info FROM it_pii_members WHERE id = 1300",
            "e-mail addresses (row 1)",
        ));
        v.push((
            "base64_of_text.sql",
            "",
            "SELECT TO_BASE64(memo) AS info FROM it_pii_members WHERE id = 1400",
            "phone numbers (row 1)",
        ));
        v.push((
            "binary.sql",
            "",
            "SELECT CAST(memo AS BINARY) AS info FROM it_pii_members WHERE id >= 1300 ORDER BY id",
            "e-mail addresses (row 1)",
        ));
        v.push((
            "base64_of_hex.sql",
            "",
            "SELECT TO_BASE64(HEX(memo)) AS info FROM it_pii_members WHERE id = 1300",
            "e-mail addresses (row 1)",
        ));
    }
    v
}

fn hostile_corpus(driver: &str, url: &str) {
    let pg = driver == "postgres";
    let repo = Repo::new(driver);
    let refused = if pg {
        refused_postgres()
    } else {
        refused_mysql()
    };
    for (name, front, sql) in &refused {
        write(&repo, name, front, sql);
        let o = repo.run("", &["check", &format!("queries/{name}")]);
        let t = text(&o);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{driver} {name} passed check:\n{t}"
        );
        assert!(
            t.contains(&format!("queries/{name}:")),
            "{driver} {name}: not located\n{t}"
        );
        let r = run_all(&repo, url, &format!("queries/{name}"));
        assert_ne!(r.status, Some(0), "{driver} {name} ran:\n{}", r.all);
        assert_no_planted(&format!("{driver} {name}"), &r.all);
        assert!(
            out_files(&repo).is_empty(),
            "{driver} {name} delivered a file"
        );
    }
    for (name, front, sql, needle) in stopped_at_run(pg) {
        write(&repo, name, front, sql);
        let o = repo.run("", &["check", &format!("queries/{name}")]);
        assert_eq!(o.status.code(), Some(0), "{driver} {name}: {}", text(&o));
        let r = run_all(&repo, url, &format!("queries/{name}"));
        assert_eq!(r.status, Some(1), "{driver} {name} delivered:\n{}", r.all);
        assert!(
            r.all.contains(needle),
            "{driver} {name}: want {needle:?} in\n{}",
            r.all
        );
        assert!(r.all.contains("nothing was delivered"), "{}", r.all);
        assert_no_planted(&format!("{driver} {name}"), &r.all);
        assert!(
            out_files(&repo).is_empty(),
            "{driver} {name} delivered a file"
        );
    }
}

fn delivered_as_before(driver: &str, url: &str) {
    let pg = driver == "postgres";
    let repo = Repo::new(driver);
    // clean free text before the planted rows: delivered, every row sniffed
    write(
        &repo,
        "clean.sql",
        "",
        "SELECT id, memo AS info FROM it_pii_members WHERE id < 1300 ORDER BY id",
    );
    let r = run_all(&repo, url, "queries/clean.sql");
    assert_eq!(r.status, Some(0), "{}", r.all);
    assert_eq!(support::parse_csv(&repo.read_out("clean.csv")).len(), 1300);
    // scrub: the text stays, the values do not
    write(
        &repo,
        "scrubbed.sql",
        "mask: {memo: scrub, email: hash, phone: last4, name: redact, card: last4}",
        "SELECT id, email, phone, name, card, memo FROM it_pii_members ORDER BY id",
    );
    let r = run_all(&repo, url, "queries/scrubbed.sql");
    assert_eq!(r.status, Some(0), "{}", r.all);
    let csv = repo.read_out("scrubbed.csv");
    assert_no_planted("scrubbed csv", &csv);
    for token in [
        "mail me at [email] please",
        "連絡先 [phone] まで",
        "card [card] exp 12/27",
        "携帯[phone]",
        "call back later, order 2026-10-01 #12",
    ] {
        assert!(csv.contains(token), "{token} missing");
    }
    // numbers are not phone numbers
    let sql = if pg {
        "SELECT 0.0000000001::float8 AS d, 0.1234567890::numeric(11,10) AS n, 12345678901234567890.0123456789::numeric(30,10) AS big, true AS b, DATE '2026-10-01' AS day"
    } else {
        "SELECT CAST(0.0000000001 AS DOUBLE) AS d, CAST(0.1234567890 AS DECIMAL(11,10)) AS n, CAST(12345678901234567890.0123456789 AS DECIMAL(30,10)) AS big, TRUE AS b, DATE '2026-10-01' AS day"
    };
    write(&repo, "numbers.sql", "", sql);
    let r = run_all(&repo, url, "queries/numbers.sql");
    assert_eq!(r.status, Some(0), "{}", r.all);
    // an allowance of the source column lets its values through
    write(
        &repo,
        "allowed.sql",
        "pii_allowed: {email: \"agreed with the data owner\"}",
        "SELECT id, email AS contact FROM it_pii_members WHERE id = 1",
    );
    let r = run_all(&repo, url, "queries/allowed.sql");
    assert_eq!(r.status, Some(0), "{}", r.all);
    assert!(
        repo.read_out("allowed.csv")
            .contains("m1.pii-secret@example.com")
    );
    // the opt-down still works: only the first rows are sniffed
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        std::fs::read_to_string(repo.path().join("sqlcourier.yaml"))
            .unwrap()
            .replace("masking:\n", "masking:\n  sniff_rows: 1000\n"),
    )
    .unwrap();
    write(
        &repo,
        "window.sql",
        "",
        "SELECT id, memo FROM it_pii_members ORDER BY id",
    );
    let r = run_all(&repo, url, "queries/window.sql");
    assert_eq!(r.status, Some(0), "{}", r.all);
}

/// Errors whose server text quotes the value.
async fn error_messages(driver: &str, url: &str) {
    let repo = Repo::new(driver);
    if driver == "postgres" {
        write(
            &repo,
            "cast.sql",
            "mask: {n: hash}",
            "SELECT CAST(memo AS integer) AS n FROM it_pii_members WHERE id = 1300",
        );
        let r = run_all(&repo, url, "queries/cast.sql");
        assert_eq!(r.status, Some(1), "{}", r.all);
        assert!(r.all.contains("SQLSTATE 22P02"), "{}", r.all);
        assert!(r.all.contains("could not be read as the type"), "{}", r.all);
        assert_no_planted("pg cast error", &r.all);
        write(
            &repo,
            "date.sql",
            "mask: {n: hash}",
            "SELECT CAST(email AS date) AS n FROM it_pii_members WHERE id = 3",
        );
        let r = run_all(&repo, url, "queries/date.sql");
        assert_eq!(r.status, Some(1), "{}", r.all);
        assert_no_planted("pg date error", &r.all);
        write(
            &repo,
            "json.sql",
            "mask: {n: hash}",
            "SELECT CAST(name AS jsonb) AS n FROM it_pii_members WHERE id = 3",
        );
        let r = run_all(&repo, url, "queries/json.sql");
        assert_eq!(r.status, Some(1), "{}", r.all);
        assert_no_planted("pg json error", &r.all);
    }
    // a safe code keeps the server's words (names from the query only)
    write(
        &repo,
        "unknown.sql",
        "",
        "SELECT no_such_column FROM it_pii_members",
    );
    let r = run_all(&repo, url, "queries/unknown.sql");
    assert_eq!(r.status, Some(1), "{}", r.all);
    assert!(r.all.contains("no_such_column"), "{}", r.all);
    let code = if driver == "postgres" {
        "SQLSTATE 42703"
    } else {
        "MySQL error 1054"
    };
    assert!(r.all.contains(code), "{}", r.all);
}

#[tokio::test]
async fn postgres_personal_values_never_leave_unmasked() {
    let Some(url) = support::postgres() else {
        return;
    };
    seed_postgres(&url).await;
    hostile_corpus("postgres", &url);
    delivered_as_before("postgres", &url);
    error_messages("postgres", &url).await;
}

#[tokio::test]
async fn mysql_personal_values_never_leave_unmasked() {
    let Some(url) = support::mysql() else { return };
    seed_mysql(&url).await;
    hostile_corpus("mysql", &url);
    delivered_as_before("mysql", &url);
    error_messages("mysql", &url).await;
}

#[test]
fn explain_shows_what_each_column_is_made_of() {
    let repo = Repo::new("postgres");
    write(
        &repo,
        "e.sql",
        "mask: {prefecture: hash}",
        "SELECT m.prefecture AS region, m.email AS prefecture FROM members m",
    );
    let o = repo.run("", &["check", "--explain", "text", "queries/e.sql"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("prefecture ← members.email"), "{t}");
    assert!(t.contains("region ← members.prefecture"), "{t}");
    let _ = Path::new("");
}
