//! The bad-input catalogue: every kind of mistake a requester can make in a query file
//! or in sqlcourier.yaml is answered with `file:line:col`, plain words and what to do.

use crate::support::{Repo, text};

/// (file name, file bytes, expected `path:line:col: ` prefix, words the message must hold)
fn cases() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    let head = "/*---\ntitle: t\ndatabase: main\ndestination: out\n";
    let q = |front: &str, sql: &str| format!("{head}{front}---*/\n{sql}\n").into_bytes();
    vec![
        (
            "malformed.sql",
            q("output:\n\tfile: x\n", "SELECT 1 AS n"),
            "queries/malformed.sql:6:",
            "not valid YAML",
        ),
        (
            "unknown_key.sql",
            q("titel: x\n", "SELECT 1 AS n"),
            "queries/unknown_key.sql:5:1:",
            "`titel` is not a setting",
        ),
        (
            "wrong_type.sql",
            q("output: {gzip: maybe}\n", "SELECT 1 AS n"),
            "queries/wrong_type.sql:5:",
            "wrong kind",
        ),
        (
            "missing_key.sql",
            b"/*---\ntitle: t\ndatabase: main\n---*/\nSELECT 1 AS n\n".to_vec(),
            "queries/missing_key.sql:2:",
            "the setting `destination` is missing",
        ),
        (
            "unknown_db.sql",
            "/*---\ntitle: t\ndatabase: reports\ndestination: out\n---*/\nSELECT 1 AS n\n"
                .to_string()
                .into_bytes(),
            "queries/unknown_db.sql:3:1:",
            "there is no database called `reports`",
        ),
        (
            "unknown_dest.sql",
            b"/*---\ntitle: t\ndatabase: main\ndestination: drive\n---*/\nSELECT 1 AS n\n".to_vec(),
            "queries/unknown_dest.sql:4:1:",
            "there is no destination called `drive`",
        ),
        (
            "empty_sql.sql",
            q("", "   "),
            "queries/empty_sql.sql:6:1:",
            "there is no SQL",
        ),
        (
            "two.sql",
            q("", "SELECT 1 AS a;\nSELECT 2 AS b"),
            "queries/two.sql:7:1:",
            "more than one SQL statement",
        ),
        (
            "non_select.sql",
            q("", "UPDATE members SET name = 'x'"),
            "queries/non_select.sql:6:1:",
            "UPDATE is not allowed",
        ),
        (
            "undeclared.sql",
            q("", "SELECT id FROM t WHERE a = :pref"),
            "queries/undeclared.sql:6:28:",
            ":pref is used but has no value",
        ),
        (
            "unused.sql",
            q("params: {pref: x}\n", "SELECT id FROM t"),
            "queries/unused.sql:5:",
            "declared but the SQL never uses :pref",
        ),
        (
            "bad_tz.sql",
            q("timezone: Tokyo\n", "SELECT 1 AS n"),
            "queries/bad_tz.sql:5:1:",
            "`Tokyo` is not a time zone name",
        ),
        (
            "bad_cron.sql",
            q("schedule: {cron: \"61 * * * *\"}\n", "SELECT 1 AS n"),
            "queries/bad_cron.sql:5:",
            "is not a valid cron schedule",
        ),
        (
            "collision.sql",
            q(
                "output: {file: \"x_{variant}.csv\"}\nvariants:\n  - {name: a, params: {p: 1}}\n  - {name: a, params: {p: 2}}\n",
                "SELECT id FROM t WHERE b = :p",
            ),
            "queries/collision.sql:8:3:",
            "would write the same file",
        ),
        (
            "latin1.sql",
            {
                let mut b = q("", "SELECT 'caf").to_vec();
                b.truncate(b.len() - 1);
                b.extend_from_slice(b"\xe9' AS n\n");
                b
            },
            "queries/latin1.sql:6:12:",
            "not saved as UTF-8",
        ),
        (
            "huge.sql",
            {
                let mut b = q("", "SELECT 1 AS n");
                b.extend(std::iter::repeat_n(b'-', 300 * 1024));
                b
            },
            "queries/huge.sql:1:1:",
            "sqlcourier reads files up to 256 KiB",
        ),
    ]
}

#[test]
fn every_bad_query_file_is_located_and_explained() {
    for (name, bytes, prefix, words) in cases() {
        let repo = Repo::new("mysql");
        std::fs::write(repo.path().join("queries").join(name), &bytes).unwrap();
        let o = repo.run("", &["check"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        let line = err
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{name}: no line starting {prefix:?} in\n{err}"));
        assert!(line.contains(words), "{name}: {line:?} lacks {words:?}");
        assert!(err.contains("what to do:"), "{name}: no advice in\n{err}");
    }
}

#[test]
fn bom_and_crlf_are_accepted() {
    let repo = Repo::new("mysql");
    let text = "\u{feff}/*---\r\ntitle: t\r\ndatabase: main\r\ndestination: out\r\n---*/\r\nSELECT 1 AS n\r\n";
    std::fs::write(repo.path().join("queries/crlf.sql"), text).unwrap();
    let o = repo.run("", &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text_of(&o));
}

fn text_of(o: &std::process::Output) -> String {
    text(o)
}

#[test]
fn bad_repository_config_is_located_and_exits_2() {
    for (yaml, prefix, words) in [
        (
            "databases:\n  main: {driver: oracle, url_env: X}\n",
            "sqlcourier.yaml:2:",
            "`oracle` is not an allowed value",
        ),
        (
            "databases: {}\ndestinations:\n  out: {type: local, path: out, colour: red}\n",
            "sqlcourier.yaml:3:",
            "`colour` is not a setting",
        ),
        (
            "databases:\n  main: {driver: mysql, url_env: \"mysql://u:p@h/db\"}\n",
            "sqlcourier.yaml:2:",
            "must be the NAME of an environment variable",
        ),
        (
            "defaults:\n  timeout: forever\ndatabases: {}\n",
            "sqlcourier.yaml:2:3:",
            "`forever` is not a time limit",
        ),
        (
            "databases:\n\tmain: {}\n",
            "sqlcourier.yaml:",
            "not valid YAML",
        ),
    ] {
        let repo = Repo::new("mysql");
        std::fs::write(repo.path().join("sqlcourier.yaml"), yaml).unwrap();
        let o = repo.run("", &["check"]);
        assert_eq!(o.status.code(), Some(2), "{yaml}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        let line = err
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{yaml}: no line starting {prefix:?} in\n{err}"));
        assert!(line.contains(words), "{yaml}: {line:?} lacks {words:?}");
        assert!(!err.contains("u:p@h"), "{err}");
    }
}
