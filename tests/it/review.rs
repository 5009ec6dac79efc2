//! The reviewer summary (`check --explain markdown`, the PR comment) and the files a
//! pull request changes that will never run (issue #17).

use std::path::Path;
use std::process::Command;

use crate::support::{Repo, text};

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
}

/// Every table row has as many cells as its header, and the header names its columns.
fn assert_tables_well_formed(md: &str) {
    let lines: Vec<&str> = md.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("| --- |") {
            let header = lines[i - 1];
            let cells = |row: &str| {
                row.trim()
                    .trim_matches('|')
                    .replace("\\|", "")
                    .split('|')
                    .count()
            };
            assert!(
                header
                    .trim_matches(['|', ' '])
                    .split('|')
                    .all(|c| !c.trim().is_empty()),
                "empty header cell: {header}"
            );
            let n = cells(header);
            for row in lines[i + 1..].iter().take_while(|r| r.starts_with('|')) {
                assert_eq!(
                    cells(row),
                    n,
                    "row with a different number of cells: {row}\n{md}"
                );
            }
        }
    }
    // if cmark-gfm is installed (apt-get install cmark-gfm), render it as GitHub would
    if let Ok(o) = Command::new("cmark-gfm")
        .args(["-e", "table"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(md.as_bytes())?;
            c.wait_with_output()
        })
    {
        let html = String::from_utf8_lossy(&o.stdout);
        assert!(html.contains("<th>Setting</th>"), "{html}");
        assert!(!html.contains("<th></th>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
    }
}

#[test]
fn reviewer_summary_shows_readers_dates_masks_and_a_removed_mask() {
    let repo = Repo::new("sqlite");
    git(repo.path(), &["init", "-q", "-b", "main"]);
    let front = "title: 月次 会員 <b>|</b>\ndescription: For the CRM team | monthly.\ndatabase: main\ndestination: out\nschedule: monthly\nperiod: previous_month\ntimeout: 30m\nmask: {email: hash, phone: last4}\nvariants:\n  - {name: tokyo, params: {pref: 東京都}}\n  - {name: osaka, params: {pref: 大阪府}}\n";
    let sql = "SELECT email, phone FROM members WHERE created_at >= :period_start AND created_at < :period_end AND prefecture = :pref";
    repo.query("monthly/q.sql", front, sql);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "base"]);
    repo.query(
        "monthly/q.sql",
        &front.replace(
            "mask: {email: hash, phone: last4}",
            "mask: {phone: last4}\npii_allowed: {email: \"the CRM needs it\"}",
        ),
        sql,
    );
    repo.query("monthly/broken.sql", "titel: x\n", "SELECT 1 AS n");
    let o = repo.run(
        "sqlite::memory:",
        &[
            "check",
            "--explain",
            "markdown",
            "--base",
            "HEAD",
            "--changed",
            "query/lost.sql",
            "--",
            "queries/monthly/q.sql",
            "queries/monthly/broken.sql",
        ],
    );
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    for needle in [
        "| Setting | Value |",
        "> For the CRM team | monthly.",
        "&lt;b&gt;",
        // who can read it / a local folder on an ephemeral runner is flagged
        "whoever can log in to the machine",
        "⚠️ `local` destination",
        "| Runs | on merge, then on the 1st of every month shortly after 00:00 JST (the hourly scheduler",
        "previous_month: a run now covers ",
        "Asia/Tokyo (the end excluded)",
        "| Time limit | 30m |",
        "`phone` → last4 (e.g. `090-1234-5678` → `***-****-5678`)",
        "(variant `tokyo`: `pref` = \"東京都\")",
        "🚨 **mask removed**: `email` was masked with `hash`",
        "⚠️ **allowed unmasked**: `email`",
        "`queries/monthly/broken.sql`: 1 problem(s)",
        "`query/lost.sql`: sqlcourier will never run this file",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    assert!(!md.contains("<b>"), "{md}");
    let changed_row = md.lines().find(|l| l.starts_with("| Changed |")).unwrap();
    assert!(
        changed_row.find("mask removed") < changed_row.find("allowed unmasked"),
        "{changed_row}"
    );
    assert_tables_well_formed(&md);
}

#[test]
fn a_placeholder_drive_folder_id_is_flagged() {
    let repo = Repo::new("sqlite");
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        "databases:\n  main: {driver: sqlite, url_env: SQLCOURIER_DB_MAIN}\ndestinations:\n  out:\n    type: drive\n    folder_id: REPLACE_ME_folder_id\n    key_env: K\n    readers: {groups: [crm@example.com]}\n    retention_days: 90\n",
    )
    .unwrap();
    repo.query("q.sql", "", "SELECT 1 AS n");
    let o = repo.run("sqlite::memory:", &["check", "--explain", "markdown"]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(md.contains("looks like a placeholder"), "{md}");
    assert!(md.contains("Google groups: `crm@example.com`"), "{md}");
    assert!(md.contains("90 days after the last delivery"), "{md}");
    assert!(
        md.contains("new query file") || !md.contains("| Changed |"),
        "{md}"
    );
    assert_tables_well_formed(&md);
}

#[test]
fn changed_files_that_never_run_fail_the_check_with_why() {
    let repo = Repo::new("sqlite");
    std::fs::create_dir_all(repo.path().join("query")).unwrap();
    std::fs::write(repo.path().join("query/a.sql"), "SELECT 1").unwrap();
    std::fs::write(repo.path().join("queries/b.SQL"), "SELECT 1").unwrap();
    let list = repo.path().join("changed");
    std::fs::write(&list, "query/a.sql\0queries/b.SQL\0README.md\0").unwrap();
    // before #17: "checked 0 query file(s): all good"
    let o = repo.run(
        "sqlite::memory:",
        &["check", "--changed-from", list.to_str().unwrap()],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("query/a.sql:1:1: this query file is in `query/`, so it is never run"),
        "{out}"
    );
    assert!(out.contains("move it to `queries/a.sql`"), "{out}");
    assert!(
        out.contains("queries/b.SQL:1:1: this file ends in `.SQL`"),
        "{out}"
    );
    assert!(out.contains("rename it to `b.sql`"), "{out}");
    assert!(!out.contains("README.md"), "{out}");
    assert!(out.contains("2 changed file(s) will never run"), "{out}");
    let summary = repo.path().join("summary.md");
    let o = repo
        .cmd("sqlite::memory:")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "check",
            "--format",
            "github",
            "--changed",
            "query/a.sql",
            "queries/b.SQL",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("::error file=query/a.sql,line=1,col=1,"),
        "{}",
        text(&o)
    );
    assert!(
        stdout.contains("::error file=queries/b.SQL,line=1,col=1,"),
        "{}",
        text(&o)
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### `query/a.sql`"), "{md}");
}

#[test]
fn warnings_for_an_inclusive_period_end_and_select_star_do_not_fail_the_check() {
    let repo = Repo::new("sqlite");
    repo.query(
        "q.sql",
        "period: previous_month\n",
        "SELECT * FROM members\nWHERE created_at >= :period_start AND created_at <= :period_end",
    );
    repo.query(
        "b.sql",
        "period: previous_month\n",
        "SELECT id FROM members WHERE created_at BETWEEN :period_start AND :period_end",
    );
    let o = repo.run("sqlite::memory:", &["check", "--format", "github"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("::warning file=queries/q.sql,line=9,col=39,"),
        "{out}"
    );
    assert!(stdout.contains("first moment of the NEXT period"), "{out}");
    assert!(
        stdout.contains("::warning file=queries/q.sql,line=8,col=8,"),
        "{out}"
    );
    assert!(
        stdout.contains("::warning file=queries/b.sql,line=8,col=30,"),
        "{out}"
    );
    assert!(out.contains("warning(s)"), "{out}");
}

/// Issue #11 item 4: the summary's "Reads" line names every relation the sent
/// statement reads, each with what it is; CTE names are not reads.
#[test]
fn reads_line_names_each_table_view_catalog_and_table_function() {
    let extra = "    allowed_relations:\n      information_schema.columns: \"the data dictionary export\"\n    allowed_functions:\n      generate_series: \"calendar rows\"\n";
    let repo = Repo::with_database("postgres", extra);
    std::fs::create_dir_all(repo.path().join("schema")).unwrap();
    std::fs::write(
        repo.path().join("schema/main.yaml"),
        "database: main\ndriver: postgres\ntables:\n  - name: active_members\n    kind: view\n    columns:\n      - name: member_id\n        type: bigint\n        nullable: false\n      - name: prefecture\n        type: text\n        nullable: false\n  - name: orders\n    columns:\n      - name: member_id\n        type: bigint\n        nullable: false\n      - name: amount\n        type: integer\n        nullable: false\n",
    )
    .unwrap();
    // `recent` is a CTE, named like nothing in the catalogue; `orders` also appears
    // inside it and again in a subquery: listed once
    let sql = "WITH recent AS (SELECT member_id, amount FROM orders WHERE amount > 0)\nSELECT a.prefecture, d.d AS day, c.data_type AS typ, (SELECT count(*) FROM orders) AS n\nFROM active_members a\nJOIN recent r ON r.member_id = a.member_id\nCROSS JOIN generate_series(1, 3) AS d(d)\nCROSS JOIN information_schema.columns c";
    repo.query("q.sql", "", sql);
    let o = repo.run("", &["check", "--explain", "markdown"]);
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let row = md
        .lines()
        .find(|l| l.starts_with("| Reads |"))
        .unwrap_or_else(|| panic!("no Reads row in\n{md}"));
    assert_eq!(
        row,
        "| Reads | `orders` (table), `active_members` (view), `generate_series()` (table function, in `allowed_functions:` \"calendar rows\"), `information_schema.columns` (system catalog, in `allowed_relations:` \"the data dictionary export\") |",
        "{md}"
    );
    assert!(!row.contains("recent"), "a CTE is not a read: {row}");
    assert_tables_well_formed(&md);

    // the plain summary says the same, without Markdown
    let o = repo.run("", &["check", "--explain", "text"]);
    let plain = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        plain.contains("  Reads: orders (table), active_members (view), generate_series() (table function, in allowed_functions: \"calendar rows\"), information_schema.columns (system catalog, in allowed_relations: \"the data dictionary export\")\n"),
        "{plain}"
    );

    // without a catalogue, a relation is "table or view", and says why
    std::fs::remove_file(repo.path().join("schema/main.yaml")).unwrap();
    let o = repo.run("", &["check", "--explain", "markdown"]);
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        md.contains("| Reads | `orders` (table or view: no schema catalogue tells which), `active_members` (table or view: no schema catalogue tells which), `generate_series()` (table function,"),
        "{md}"
    );
    assert_tables_well_formed(&md);
}
