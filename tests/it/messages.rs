//! Messages for how people really type (issue #17): full-width characters from a
//! Japanese input method, indentation one space off, an unquoted `{period}` file name,
//! a wrongly typed value in sqlcourier.yaml. Each case runs the real `check` and
//! asserts the located `path:line:col`, the words, and the what-to-do.

use crate::support::{Repo, text};

struct Case {
    name: &'static str,
    front: &'static str,
    sql: &'static str,
    /// `queries/<name>:line:col:`
    at: &'static str,
    says: &'static str,
    todo: &'static str,
}

/// The front matter starts on line 2; `front` replaces title/database/destination
/// when it holds `destination`.
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "colon.sql",
            front: "title：月次\ndatabase: main\ndestination: out\n",
            sql: "SELECT 1 AS n",
            at: "2:6",
            says: "a full-width `：` follows the setting name `title`",
            todo: "type the half-width `:`",
        },
        Case {
            name: "space_after_colon.sql",
            front: "title: t\ndatabase:　main\ndestination: out\n",
            sql: "SELECT 1 AS n",
            at: "3:10",
            says: "a full-width space follows the `:`",
            todo: "type the half-width space",
        },
        Case {
            name: "space_after_value.sql",
            front: "title: t\ndatabase: main　\ndestination: out\n",
            sql: "SELECT 1 AS n",
            at: "3:15",
            says: "a full-width space follows the value",
            todo: "type the half-width space",
        },
        Case {
            name: "space_indent.sql",
            front: "title: t\ndatabase: main\ndestination: out\noutput:\n　file: a.csv\n",
            sql: "SELECT 1 AS n",
            at: "6:1",
            says: "a full-width space is used to indent this line",
            todo: "type the half-width space",
        },
        Case {
            name: "brackets.sql",
            front: "title: t\ndatabase: main\ndestination: out\n",
            sql: "SELECT COUNT（*） AS n FROM t",
            at: "6:13",
            says: "a full-width `（` is used as a bracket in the SQL",
            todo: "type the half-width `(`",
        },
        Case {
            name: "sql_space.sql",
            front: "title: t\ndatabase: main\ndestination: out\n",
            sql: "SELECT id\nFROM　orders",
            at: "7:5",
            says: "a full-width space separates the SQL words here",
            todo: "type the half-width space",
        },
        Case {
            name: "indent_too_far.sql",
            front: "title: t\ndatabase: main\ndestination: out\noutput:\n  file: \"a_{period}.csv\"\n   encoding: cp932\nperiod: previous_month\n",
            sql: "SELECT 1 AS n WHERE 1 > :period_start AND 1 < :period_end",
            at: "7:4",
            says: "`encoding` is indented further than `file`",
            todo: "start `encoding` in the same column as `file` (2 space(s)",
        },
        Case {
            name: "not_indented.sql",
            front: "title: t\ndatabase: main\ndestination: out\noutput:\nfile: a.csv\n",
            sql: "SELECT 1 AS n",
            at: "6:1",
            says: "`file` belongs under `output:` on the line above, but is not indented",
            todo: "by two spaces more than `output`, i.e. 2 spaces",
        },
        Case {
            name: "unquoted_placeholder.sql",
            front: "title: t\ndatabase: main\ndestination: out\noutput:\n  file: {period}_x.csv\nperiod: previous_month\n",
            sql: "SELECT 1 AS n WHERE 1 > :period_start AND 1 < :period_end",
            at: "6:9",
            says: "starts with `{`",
            todo: "put the name in quotes: `\"{period}_x.csv\"`",
        },
        Case {
            name: "placeholder_only.sql",
            front: "title: t\ndatabase: main\ndestination: out\noutput:\n  file: {query}\n",
            sql: "SELECT 1 AS n",
            at: "6:9",
            says: "starts with `{`",
            todo: "put the name in quotes",
        },
    ]
}

#[test]
fn japanese_input_and_indentation_mistakes_are_located_with_what_to_type() {
    let repo = Repo::new("sqlite");
    for c in cases() {
        let p = repo.path().join("queries").join(c.name);
        std::fs::write(&p, format!("/*---\n{}---*/\n{}\n", c.front, c.sql)).unwrap();
    }
    let o = repo.run("sqlite::memory:", &["check"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    for c in cases() {
        let at = format!("queries/{}:{}: ", c.name, c.at);
        let block = stderr
            .split("\n\n")
            .find(|b| b.contains(&at))
            .unwrap_or_else(|| panic!("{}: no problem at {at}\n{out}", c.name));
        assert!(block.contains(c.says), "{}: {block}", c.name);
        assert!(block.contains(c.todo), "{}: {block}", c.name);
        // one clear problem per mistake, not a cascade of parser words
        assert!(
            !block.contains("expected struct") && !block.contains("found map"),
            "{}: {block}",
            c.name
        );
    }
}

#[test]
fn japanese_text_in_values_and_sql_literals_stays_legal() {
    let repo = Repo::new("sqlite");
    repo.query(
        "ok.sql",
        "title: 月次　新規会員数（都道府県別）：確定版\ndescription: \"会議：　第1回\"\ndatabase: main\ndestination: out\nparams: {pref: 東京都　本店}\n",
        "-- 全角（コメント）　\nSELECT '東京都（本社）　' AS label, :pref AS p /* 全角　*/",
    );
    let o = repo.run("sqlite::memory:", &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn full_width_brackets_fail_the_check_not_the_run_after_merge() {
    // before #17 this passed the check and failed after the merge ("no such column")
    let repo = Repo::new("sqlite");
    repo.query("q.sql", "", "SELECT COUNT（*） AS n FROM (SELECT 1)");
    let o = repo.run("sqlite::memory:", &["run", "queries/q.sql"]);
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("queries/q.sql:7:13:"), "{out}");
    assert!(out.contains("half-width `(`"), "{out}");
    assert!(!repo.out("q.csv").exists());
}

#[test]
fn retention_days_with_a_percent_sign_is_located_and_escaped() {
    let repo = Repo::new("sqlite");
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        "databases:\n  main: {driver: sqlite, url_env: SQLCOURIER_DB_MAIN}\ndestinations:\n  out:\n    type: local\n    path: out\n    retention_days: 100%\n",
    )
    .unwrap();
    repo.query("q.sql", "", "SELECT 1 AS n");
    let o = repo.run("sqlite::memory:", &["check"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("sqlcourier.yaml:7:5:"), "{out}");
    assert!(out.contains("whole number"), "{out}");
    assert!(!out.contains("u32"), "{out}");
    let o = repo.run("sqlite::memory:", &["check", "--format", "github"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("::error file=sqlcourier.yaml,line=7,col=5,"))
        .unwrap_or_else(|| panic!("no annotation on line 7\n{}", text(&o)));
    assert!(line.contains("no `%25` or units"), "{line}");
    assert!(
        !line.replace("%25", "").contains('%') || line.contains("%0A"),
        "{line}"
    );
}

#[test]
fn a_setting_not_indented_in_sqlcourier_yaml_names_its_section() {
    let repo = Repo::new("sqlite");
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        "defaults:\ntimezone: Asia/Tokyo\ndatabases:\n  main: {driver: sqlite, url_env: SQLCOURIER_DB_MAIN}\n",
    )
    .unwrap();
    let o = repo.run("sqlite::memory:", &["check"]);
    let out = text(&o);
    assert!(out.contains("sqlcourier.yaml:2:1:"), "{out}");
    assert!(out.contains("belongs under `defaults:`"), "{out}");
}

#[test]
fn a_database_error_at_run_time_is_explained_by_its_code() {
    let repo = Repo::new("sqlite");
    repo.query("q.sql", "", "SELECT amuont FROM (SELECT 1 AS amount) AS o");
    let o = repo.run("sqlite::memory:", &["run", "queries/q.sql"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the column `amuont` does not exist"), "{out}");
    assert!(!out.contains("read its message above"), "{out}");
}

#[test]
fn a_period_that_has_not_ended_is_refused_not_delivered_empty() {
    let repo = Repo::new("sqlite");
    repo.query(
        "q.sql",
        "period: previous_month\n",
        "SELECT 1 AS n WHERE '2000-01-01' >= :period_start AND '2000-01-01' < :period_end",
    );
    let o = repo.run(
        "sqlite::memory:",
        &["run", "queries/q.sql", "--period", "2030-01"],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("the period 2030-01 has not ended yet"),
        "{out}"
    );
    assert!(!repo.out("q_2030-01.csv").exists(), "{out}");
}
