//! `schema pull` on MariaDB and PostgreSQL (views, comments, Japanese names, reserved
//! words, mixed case), marks surviving a pull, and `check`/`run` with the catalogue.

use sqlx::{Connection, Executor};

use super::support::{self, Repo, text};

async fn exec_mysql(url: &str, sql: &str) {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    c.execute(sql).await.unwrap();
    c.close().await.unwrap();
}

async fn exec_pg(url: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    c.execute(sql).await.unwrap();
    c.close().await.unwrap();
}

/// The part of a catalogue file describing the tables whose names start with `prefix`
/// (the MariaDB test database is shared with other tests).
fn section(file: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in file.lines() {
        if let Some(name) = line.strip_prefix("  - name: ") {
            keep = name.trim_matches('"').starts_with(prefix);
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn pull(repo: &Repo, url: &str) -> (String, String) {
    let o = repo.run(url, &["schema", "pull", "main"]);
    assert!(o.status.success(), "{}", text(&o));
    let file = std::fs::read_to_string(repo.path().join("schema/main.yaml")).unwrap();
    (file, String::from_utf8_lossy(&o.stdout).into_owned())
}

const MARIADB_EXPECTED: &str = r#"  - name: sch_Order
    columns:
      - name: id
        type: int(11)
        nullable: false
      - name: Amount
        type: decimal(10,2)
        nullable: true
  - name: sch_active
    kind: view
    columns:
      - name: member_id
        type: bigint(20)
        nullable: false
        comment: "会員番号"
      - name: email
        type: varchar(255)
        nullable: true
        comment: "メール: \"login\" # not a comment"
  - name: sch_members
    comment: "会員マスタ"
    columns:
      - name: member_id
        type: bigint(20)
        nullable: false
        comment: "会員番号"
      - name: "氏名"
        type: varchar(40)
        nullable: false
        comment: "フルネーム"
      - name: email
        type: varchar(255)
        nullable: true
        comment: "メール: \"login\" # not a comment"
      - name: order
        type: int(11)
        nullable: true
      - name: Select
        type: tinyint(1)
        nullable: false
"#;

#[tokio::test]
async fn mariadb_pull_writes_the_documented_file_keeps_marks_and_check_uses_it() {
    let Some(admin) = support::mysql() else {
        return;
    };
    let Some(ro) = support::db_url("SQLCOURIER_TEST_MYSQL_RO_URL") else {
        return;
    };
    exec_mysql(
        &admin,
        "DROP VIEW IF EXISTS sch_active;
         DROP TABLE IF EXISTS sch_members, `sch_Order`;
         CREATE TABLE sch_members (
           member_id BIGINT NOT NULL PRIMARY KEY COMMENT '会員番号',
           `氏名` VARCHAR(40) NOT NULL COMMENT 'フルネーム',
           email VARCHAR(255) NULL COMMENT 'メール: \"login\" # not a comment',
           `order` INT NULL,
           `Select` TINYINT(1) NOT NULL DEFAULT 0
         ) COMMENT '会員マスタ';
         CREATE TABLE `sch_Order` (id INT NOT NULL, `Amount` DECIMAL(10,2));
         CREATE VIEW sch_active AS SELECT member_id, email FROM sch_members;
         INSERT INTO sch_members VALUES (1, '山田 太郎', 'taro@example.com', 1, 0);",
    )
    .await;
    let repo = Repo::new("mysql");
    let (first, report) = pull(&repo, &ro);
    assert!(first.starts_with("# The schema catalogue of the database `main`"));
    assert!(first.contains("\ndatabase: main\ndriver: mysql\ntables:\n"));
    assert_eq!(section(&first, "sch_"), MARIADB_EXPECTED, "{first}");
    assert!(
        report.contains("`sch_members.email` (\"email\")"),
        "{report}"
    );
    assert!(report.contains("`sch_members.氏名` (\"氏名\")"), "{report}");
    // twice in a row: the same bytes
    let (second, report2) = pull(&repo, &ro);
    assert_eq!(first, second);
    assert!(report2.contains("No change."), "{report2}");

    // the data owner's marks survive a pull; marked columns that go are reported
    let marked = first
        .replacen(
            "        type: varchar(255)\n        nullable: true\n        comment: \"メール: \\\"login\\\" # not a comment\"\n      - name: order",
            "        type: varchar(255)\n        nullable: true\n        comment: \"メール: \\\"login\\\" # not a comment\"\n        personal: email\n      - name: order",
            1,
        )
        .replace(
            "      - name: order\n        type: int(11)\n        nullable: true\n",
            "      - name: order\n        type: int(11)\n        nullable: true\n        not_personal: display order of the row\n",
        )
        .replace(
            "        comment: \"フルネーム\"\n",
            "        comment: \"フルネーム\"\n        personal: name\n",
        );
    assert_ne!(marked, first);
    std::fs::write(repo.path().join("schema/main.yaml"), &marked).unwrap();
    let (again, _) = pull(&repo, &ro);
    assert_eq!(again, marked, "marks must survive a pull");
    exec_mysql(
        &admin,
        "ALTER TABLE sch_members DROP COLUMN `order`, ADD COLUMN tel VARCHAR(20) NULL",
    )
    .await;
    let (after, report3) = pull(&repo, &ro);
    assert!(
        report3.contains("`sch_members.order (not_personal)`"),
        "{report3}"
    );
    assert!(report3.contains("`sch_members.tel` (\"tel\")"), "{report3}");
    assert!(after.contains("        personal: email\n"));
    assert!(!after.contains("not_personal: display order"));

    // check, without a database: a typo, `SELECT *` expanded, a marked column renamed
    repo.query(
        "typo.sql",
        "",
        "SELECT m.member_id, m.emial FROM sch_members m",
    );
    repo.query("star.sql", "", "SELECT * FROM sch_members");
    repo.query(
        "alias.sql",
        "",
        "SELECT a.member_id, a.email AS contact FROM sch_active a",
    );
    repo.query(
        "ok.sql",
        "mask: {email: hash, 氏名: redact, tel: last4}",
        "SELECT * FROM sch_members",
    );
    let o = repo.run("", &["check", "queries/"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "queries/typo.sql:7:23: `m` has no column `emial`\n  what to do: did you mean `email`?"
        ),
        "{out}"
    );
    assert_eq!(out.matches("queries/typo.sql:").count(), 1, "{out}");
    let star: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("queries/star.sql:"))
        .collect();
    assert_eq!(
        star.len(),
        1,
        "one message for every personal column of *: {out}"
    );
    assert!(star[0].contains("3 result columns are personal"), "{out}");
    assert!(
        out.contains("`氏名` is `sch_members.氏名`, marked `personal: name`"),
        "{out}"
    );
    assert!(
        out.contains("`email` is `sch_members.email`, marked `personal: email`"),
        "{out}"
    );
    assert!(out.contains("the column `tel` looks personal"), "{out}");
    assert!(
        out.contains("mask: {氏名: redact, email: email, tel: hash}"),
        "{out}"
    );
    // a view's columns carry their own marks; unmarked, the name still counts
    assert!(
        out.contains("queries/alias.sql:7:21: a result column is personal"),
        "{out}"
    );
    // ok.sql may get warnings (`SELECT *`), never an error
    assert!(
        out.lines()
            .filter(|l| l.starts_with("queries/ok.sql"))
            .all(|l| l.contains("warning:")),
        "{out}"
    );

    // run: the database returns a column the catalogue does not know yet
    exec_mysql(
        &admin,
        "ALTER TABLE sch_members ADD COLUMN mobile VARCHAR(20) NULL",
    )
    .await;
    let o = repo.run(&ro, &["run", "queries/ok.sql"]);
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("mobile"), "{out}");
    assert!(out.contains("differ from the schema catalogue"), "{out}");
    assert!(!repo.out("ok.csv").exists());
}

#[tokio::test]
async fn postgres_pull_lists_what_the_user_can_read_with_schemas_views_and_comments() {
    let Some(admin) = support::postgres() else {
        return;
    };
    // a database of its own: the whole file is compared
    let db = format!(
        "{}_pull",
        admin.rsplit('/').next().unwrap_or("sqlcourier_test")
    );
    exec_pg(
        &admin,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .await;
    exec_pg(&admin, &format!("CREATE DATABASE {db}")).await;
    let base = admin.rsplit_once('/').unwrap().0;
    let admin_db = format!("{base}/{db}");
    let ro_db = admin_db.replace(
        "sqlcourier_admin:sqlcourier_admin",
        "sqlcourier_ro:sqlcourier_ro",
    );
    exec_pg(
        &admin_db,
        r#"CREATE TABLE members (id integer NOT NULL, "Email" text, "氏名" varchar(40) NOT NULL, "select" int);
           COMMENT ON TABLE members IS '会員';
           COMMENT ON COLUMN members."Email" IS 'ログイン用
二行目';
           CREATE SCHEMA sales;
           CREATE TABLE sales.orders (id bigint NOT NULL, total numeric(10,2), placed timestamp with time zone);
           CREATE VIEW active AS SELECT id, "Email" FROM members;
           CREATE TABLE hidden (secret text);
           GRANT USAGE ON SCHEMA sales TO sqlcourier_ro;
           GRANT SELECT ON members, active TO sqlcourier_ro;
           GRANT SELECT (id, total) ON sales.orders TO sqlcourier_ro;"#,
    )
    .await;
    let repo = Repo::new("postgres");
    let (first, _) = pull(&repo, &ro_db);
    let expected = r#"# The schema catalogue of the database `main`, written by `sqlcourier schema pull`.
# Data owners: mark each personal column `personal: email|phone|name|address|birth_date|free_text|id|other`,
# or `not_personal: <reason>` where the name looks personal but is not. `pull` keeps the marks.
database: main
driver: postgres
tables:
  - name: active
    kind: view
    columns:
      - name: id
        type: integer
        nullable: true
      - name: Email
        type: text
        nullable: true
  - name: members
    comment: "会員"
    columns:
      - name: id
        type: integer
        nullable: false
      - name: Email
        type: text
        nullable: true
        comment: "ログイン用\n二行目"
      - name: "氏名"
        type: character varying(40)
        nullable: false
      - name: select
        type: integer
        nullable: true
  - schema: sales
    name: orders
    columns:
      - name: id
        type: bigint
        nullable: false
      - name: total
        type: numeric(10,2)
        nullable: true
"#;
    assert_eq!(first, expected);
    let (second, _) = pull(&repo, &ro_db);
    assert_eq!(first, second);

    // check: PostgreSQL's letter case, schemas, and the owner's mark on "Email"
    std::fs::write(
        repo.path().join("schema/main.yaml"),
        first.replace(
            "        comment: \"ログイン用\\n二行目\"\n",
            "        comment: \"ログイン用\\n二行目\"\n        personal: email\n",
        ),
    )
    .unwrap();
    repo.query("case.sql", "", "SELECT Email FROM members");
    repo.query("alias.sql", "", "SELECT a.\"Email\" AS who FROM active a");
    repo.query("schema.sql", "", "SELECT o.total FROM sales.orders o");
    repo.query("hidden.sql", "", "SELECT secret FROM hidden");
    let o = repo.run("", &["check", "queries/"]);
    let out = text(&o);
    assert!(
        out.contains("queries/case.sql:7:8: there is no column `Email`"),
        "{out}"
    );
    assert!(out.contains("write \"Email\" in double quotes"), "{out}");
    assert!(
        out.contains("queries/alias.sql:7:8: a result column is personal"),
        "{out}"
    );
    assert!(out.contains("run the schema workflow"), "{out}");
    assert!(!out.contains("queries/schema.sql"), "{out}");
    // the reviewer summary tells the view from the tables, from the pulled catalogue
    repo.query(
        "kinds.sql",
        "",
        "SELECT a.id, o.total FROM active a JOIN members m ON m.id = a.id JOIN sales.orders o ON o.id = a.id",
    );
    let o = repo.run("", &["check", "--explain", "markdown", "queries/kinds.sql"]);
    let md = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        md.contains("| Reads | `active` (view), `members` (table), `sales.orders` (table) |"),
        "{md}"
    );
    exec_pg(
        &admin,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .await;
}

/// The shipped `schema/main.yaml` is what `schema pull` writes from the demo database
/// (with the marks kept): the demo's catalogue cannot drift from its tables.
#[test]
fn the_shipped_demo_catalogue_is_what_pull_writes_from_the_demo_database() {
    let repo = Repo::new("sqlite");
    let o = repo.run(
        "",
        &["demo", "--out", "out", "--members", "50", "--orders", "100"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let shipped = include_str!("../../schema/main.yaml");
    std::fs::create_dir_all(repo.path().join("schema")).unwrap();
    std::fs::write(repo.path().join("schema/main.yaml"), shipped).unwrap();
    let url = format!("sqlite://{}", repo.path().join("out/demo.sqlite").display());
    let (after, report) = pull(&repo, &url);
    assert_eq!(
        after, shipped,
        "run `sqlcourier schema pull main` on the demo database"
    );
    assert!(report.contains("No change."), "{report}");
    // and the shipped examples pass `check` with it
    for (path, sql) in sqlcourier::demo::EXAMPLES {
        let p = repo.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, sql).unwrap();
    }
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        "databases:\n  main: {driver: sqlite, url_env: SQLCOURIER_DB_MAIN}\ndestinations:\n  opex-monthly: {type: local, path: out}\n  marketing: {type: local, path: out}\n  adhoc: {type: local, path: out}\n",
    )
    .unwrap();
    let o = repo.run("", &["check", "--explain", "text", "queries/"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("email (personal: email)"), "{out}");
}
