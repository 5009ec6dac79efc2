//! `check` with a catalogue: a hostile corpus of the ways a name can be wrong and a
//! personal column can reach a result, filter or join under another name.

use std::collections::BTreeMap;
use std::path::Path;

use crate::catalog::Catalog;
use crate::catalog::config::RepoConfig;
use crate::catalog::diag::Diagnostic;
use crate::catalog::query::QueryFile;
use crate::schema::SchemaFile;
use crate::schema::check::Catalogue;

const MYSQL_SCHEMA: &str = r#"database: main
driver: mysql
tables:
  - name: members
    columns:
      - name: member_id
        type: bigint(20)
        nullable: false
        not_personal: internal number
      - name: name
        type: varchar(100)
        nullable: false
        personal: name
      - name: email
        type: varchar(255)
        nullable: false
        personal: email
      - name: contact_note
        type: text
        nullable: true
        personal: free_text
      - name: c1
        type: varchar(20)
        nullable: true
        personal: phone
      - name: prefecture
        type: varchar(10)
        nullable: false
      - name: birth_year
        type: int(11)
        nullable: true
        personal: birth_date
      - name: account_id
        type: int(11)
        nullable: true
        not_personal: the shop's own account number, not a person's
      - name: username
        type: varchar(40)
        nullable: true
      - name: created_at
        type: datetime
        nullable: false
  - name: orders
    columns:
      - name: order_id
        type: bigint(20)
        nullable: false
      - name: member_id
        type: bigint(20)
        nullable: false
        not_personal: internal number
      - name: amount
        type: int(11)
        nullable: false
      - name: status
        type: varchar(20)
        nullable: false
      - name: order
        type: int(11)
        nullable: true
  - name: 会員
    columns:
      - name: 会員番号
        type: int(11)
        nullable: false
      - name: 氏名
        type: varchar(40)
        nullable: false
        personal: name
"#;

const PG_SCHEMA: &str = r#"database: main
driver: postgres
tables:
  - name: MixedCase
    columns:
      - name: Amount
        type: integer
        nullable: true
      - name: id
        type: integer
        nullable: false
  - name: members
    columns:
      - name: id
        type: integer
        nullable: false
      - name: email
        type: text
        nullable: true
        personal: email
  - schema: sales
    name: orders
    columns:
      - name: id
        type: integer
        nullable: false
      - name: total
        type: numeric(10,2)
        nullable: true
"#;

fn catalog(driver: &str, schema: &str) -> Catalog {
    let config = RepoConfig::parse(
        Path::new("sqlcourier.yaml"),
        &format!(
            "databases:\n  main: {{driver: {driver}, url_env: DB}}\ndestinations:\n  out: {{type: local, path: out}}\n"
        ),
    )
    .unwrap();
    let file = SchemaFile::parse(Path::new("schema/main.yaml"), schema).unwrap();
    Catalog {
        config,
        config_path: "sqlcourier.yaml".into(),
        root: ".".into(),
        schemas: BTreeMap::from([(
            "main".to_string(),
            Catalogue {
                file,
                shown: "schema/main.yaml".into(),
            },
        )]),
    }
}

/// Checks a query (front matter lines after the fixed three) against the catalogue.
fn check(
    cat: &Catalog,
    front: &str,
    sql: &str,
) -> Result<crate::catalog::QuerySpec, Vec<Diagnostic>> {
    let text =
        format!("/*---\ntitle: t\ndatabase: main\ndestination: out\n{front}\n---*/\n{sql}\n");
    let file = QueryFile::parse(Path::new("q.sql"), text, String::new()).unwrap();
    cat.check_file(file)
}

fn mysql() -> Catalog {
    catalog("mysql", MYSQL_SCHEMA)
}

fn refused(cat: &Catalog, front: &str, sql: &str, needle: &str) -> Vec<Diagnostic> {
    match check(cat, front, sql) {
        Ok(_) => panic!("accepted, expected {needle:?}:\n{sql}"),
        Err(d) => {
            assert!(
                d.iter().any(|d| d.message.contains(needle)
                    || d.help.as_deref().is_some_and(|h| h.contains(needle))),
                "{sql}\nno problem mentions {needle:?}: {d:#?}"
            );
            d
        }
    }
}

fn accepted(cat: &Catalog, front: &str, sql: &str) -> crate::catalog::QuerySpec {
    check(cat, front, sql).unwrap_or_else(|d| {
        panic!(
            "{sql}\nrefused: {}",
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

#[test]
fn unknown_column_is_located_with_a_suggestion() {
    let cat = mysql();
    let d = refused(
        &cat,
        "",
        "SELECT o.order_id,\n  o.amout\nFROM orders o",
        "has no column `amout`",
    );
    let d = d.iter().find(|d| d.message.contains("amout")).unwrap();
    assert_eq!((d.line, d.col), (8, 5), "{d}");
    assert_eq!(d.help.as_deref(), Some("did you mean `amount`?"));
    // unqualified, in WHERE, in ORDER BY, in a join condition, in a subquery
    for sql in [
        "SELECT amout FROM orders",
        "SELECT order_id FROM orders WHERE amout > 1",
        "SELECT order_id FROM orders ORDER BY amout",
        "SELECT o.order_id FROM orders o JOIN members m ON m.member_id = o.membr_id",
        "SELECT order_id FROM orders o WHERE EXISTS (SELECT 1 FROM members m WHERE m.member_id = o.membr_id)",
        "WITH x AS (SELECT order_id, amount FROM orders) SELECT amout FROM x",
        "SELECT t.amout FROM (SELECT amount FROM orders) t",
        "SELECT order_id FROM orders JOIN members USING (membr_id)",
    ] {
        let d = refused(&cat, "", sql, "did you mean");
        assert!(d.iter().all(|d| d.line >= 7), "{d:?}");
    }
}

#[test]
fn unknown_table_or_alias_says_what_to_do() {
    let cat = mysql();
    refused(
        &cat,
        "",
        "SELECT order_id FROM order_lines",
        "run the schema workflow",
    );
    refused(
        &cat,
        "",
        "SELECT order_id FROM ordres",
        "did you mean `orders`?",
    );
    refused(
        &cat,
        "",
        "SELECT x.order_id FROM orders o",
        "no table or alias `x`",
    );
    refused(
        &cat,
        "",
        "SELECT x.* FROM orders o",
        "no table or alias `x`",
    );
}

#[test]
fn select_star_is_expanded_and_all_personal_columns_are_in_one_message() {
    let cat = mysql();
    for sql in [
        "SELECT * FROM members",
        "SELECT m.* FROM members m",
        "SELECT o.order_id, m.* FROM orders o JOIN members m ON m.member_id = o.member_id",
        "SELECT * FROM (SELECT * FROM members) t",
        "WITH x AS (SELECT * FROM members) SELECT * FROM x",
    ] {
        let d = check(&cat, "", sql).unwrap_err();
        let personal: Vec<&Diagnostic> = d
            .iter()
            .filter(|d| d.message.contains("personal"))
            .collect();
        assert_eq!(personal.len(), 1, "{sql}: {d:#?}");
        let m = &personal[0].message;
        for c in [
            "`name`",
            "`email`",
            "`contact_note`",
            "`c1`",
            "`birth_year`",
            "`username`",
        ] {
            assert!(m.contains(c), "{sql}: {c} missing from {m}");
        }
        assert!(
            !m.contains("`prefecture`") && !m.contains("`account_id`"),
            "{m}"
        );
        let help = personal[0].help.as_deref().unwrap();
        assert!(
            help.contains("email: email") && help.contains("name: redact"),
            "{help}"
        );
    }
    // masked and allowed: accepted, and the summary lists the real columns
    let spec = accepted(
        &cat,
        "mask: {name: redact, email: hash, contact_note: null, c1: last4, birth_year: hash, username: hash}",
        "SELECT * FROM members",
    );
    let k = spec.known.unwrap();
    assert!(k.complete);
    assert_eq!(k.columns.len(), 10);
    assert!(k.columns.iter().all(|c| c.from_wildcard));
}

#[test]
fn an_owner_marked_column_is_refused_under_any_alias() {
    let cat = mysql();
    for sql in [
        "SELECT email AS contact FROM members",
        "SELECT m.email info FROM members m",
        "SELECT c1 FROM members",
        "SELECT contact_note AS memo FROM members",
        "SELECT CONCAT(name, '') AS label FROM members",
        "SELECT LOWER(TRIM(m.email)) AS k FROM members m",
        "WITH x AS (SELECT email AS e FROM members) SELECT e AS info FROM x",
        "WITH x (a) AS (SELECT email FROM members) SELECT a FROM x",
        "SELECT t.a AS info FROM (SELECT email AS a FROM members) AS t",
        "SELECT t.z FROM (SELECT email FROM members) AS t (z)",
        "SELECT (SELECT MAX(m.email) FROM members m WHERE m.member_id = o.member_id) AS info FROM orders o",
        "SELECT status AS v FROM orders UNION ALL SELECT email FROM members",
        "SELECT CASE WHEN amount > 0 THEN (SELECT name FROM members LIMIT 1) END AS x FROM orders",
        "SELECT 氏名 AS 担当 FROM 会員",
        "SELECT `会員`.`氏名` AS x FROM `会員`",
        "SELECT MIN(email) AS first FROM members GROUP BY prefecture",
    ] {
        refused(&cat, "", sql, "marked `personal:");
    }
    // COUNT hides the values; masks and allowances by the result name cover it
    accepted(
        &cat,
        "",
        "SELECT COUNT(email) AS n, COUNT(DISTINCT name) AS k FROM members",
    );
    accepted(
        &cat,
        "mask: {contact: hash}",
        "SELECT email AS contact FROM members",
    );
    accepted(
        &cat,
        "pii_allowed: {contact_note: \"reviewed: only the shop's own notes\"}",
        "SELECT contact_note AS info FROM members",
    );
    // an allowance names the source column: the innocent result name does not allow it
    refused(
        &cat,
        "pii_allowed: {info: \"reviewed\"}",
        "SELECT contact_note AS info FROM members",
        "marked `personal: free_text`",
    );
}

#[test]
fn filtering_joining_grouping_on_a_personal_column_needs_an_allowance() {
    let cat = mysql();
    for (sql, how) in [
        (
            "SELECT member_id FROM members WHERE email = :e",
            "marked `personal:",
        ),
        (
            "SELECT member_id FROM members WHERE LOWER(email) LIKE '%@example.com'",
            "marked `personal:",
        ),
        (
            "SELECT a.member_id FROM members a JOIN members b ON a.email = b.email",
            "marked `personal:",
        ),
        (
            "SELECT a.member_id FROM members a JOIN members b USING (email)",
            "marked `personal:",
        ),
        (
            "WITH x AS (SELECT email AS k FROM members) SELECT member_id FROM members m JOIN x ON x.k = m.email",
            "marked `personal:",
        ),
        (
            "SELECT prefecture, COUNT(*) AS n FROM members GROUP BY prefecture, name",
            "marked `personal:",
        ),
        (
            "SELECT member_id FROM members ORDER BY birth_year",
            "marked `personal:",
        ),
        (
            "SELECT order_id FROM orders WHERE member_id IN (SELECT member_id FROM members WHERE c1 = :p)",
            "marked `personal:",
        ),
        (
            "SELECT order_id FROM orders o WHERE EXISTS (SELECT 1 FROM members m WHERE m.email = :e AND m.member_id = o.member_id)",
            "marked `personal:",
        ),
        (
            "SELECT prefecture FROM members GROUP BY prefecture HAVING MAX(name) > 'a'",
            "marked `personal:",
        ),
    ] {
        let front = if sql.contains(":e") {
            "params: {e: x}"
        } else if sql.contains(":p") {
            "params: {p: x}"
        } else {
            ""
        };
        refused(&cat, front, sql, how);
    }
    accepted(
        &cat,
        "params: {e: x}\npii_allowed: {email: \"used only to find one member\"}",
        "SELECT member_id FROM members WHERE email = :e",
    );
    accepted(
        &cat,
        "pii_allowed: {members.email: \"used only to join\"}",
        "SELECT a.member_id FROM members a JOIN members b ON a.email = b.email",
    );
    // sorted by a column that is masked in the result
    accepted(
        &cat,
        "mask: {email: hash}",
        "SELECT email FROM members ORDER BY email",
    );
    // joins on not_personal columns are fine
    accepted(
        &cat,
        "",
        "SELECT o.order_id FROM orders o JOIN members m ON m.member_id = o.member_id WHERE o.amount > 0",
    );
}

#[test]
fn not_personal_suppresses_the_name_heuristic_and_unmarked_names_still_count() {
    let cat = mysql();
    accepted(&cat, "", "SELECT account_id FROM members");
    accepted(&cat, "", "SELECT member_id AS account FROM members");
    refused(&cat, "", "SELECT username FROM members", "looks personal");
    refused(
        &cat,
        "",
        "SELECT username AS handle FROM members",
        "looks personal",
    );
    refused(
        &cat,
        "",
        "SELECT prefecture AS phone FROM members",
        "looks personal",
    );
}

#[test]
fn mask_rules_must_fit_the_column_type() {
    let cat = mysql();
    refused(
        &cat,
        "mask: {amount: month}",
        "SELECT amount FROM orders",
        "does not fit `amount`",
    );
    refused(
        &cat,
        "mask: {birth_year: year}",
        "SELECT birth_year FROM members",
        "`int(11)`",
    );
    refused(
        &cat,
        "mask: {member_id: email}",
        "SELECT member_id FROM members",
        "does not fit",
    );
    accepted(
        &cat,
        "mask: {created_at: month}",
        "SELECT created_at FROM members",
    );
    accepted(&cat, "mask: {c1: last4}", "SELECT c1 FROM members");
    accepted(
        &cat,
        "mask: {birth_year: hash}",
        "SELECT birth_year FROM members",
    );
    // a rule for a column the expanded result does not have
    refused(
        &cat,
        "mask: {emial: hash, email: hash, name: redact, contact_note: null, c1: last4, birth_year: hash, username: hash}",
        "SELECT * FROM members",
        "did you mean `email`?",
    );
}

#[test]
fn names_that_resolve_are_not_reported() {
    let cat = mysql();
    for sql in [
        "SELECT m.prefecture, COUNT(*) AS signups FROM members m GROUP BY m.prefecture ORDER BY signups DESC, m.prefecture",
        "SELECT o.status, SUM(o.amount) AS total FROM orders o GROUP BY o.status HAVING total > 0",
        "SELECT o.`order` FROM orders o",
        "SELECT `order` FROM orders",
        "SELECT order_id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM orders o2 WHERE o2.member_id = o.member_id AND o2.order_id > o.order_id)",
        "SELECT x.n FROM (SELECT COUNT(*) AS n FROM orders) x",
        "WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r",
        "SELECT order_id, CURRENT_DATE AS today FROM orders",
        "SELECT amount FROM orders UNION SELECT member_id FROM members ORDER BY amount",
        "SELECT main.orders.amount FROM main.orders",
        "SELECT status FROM ORDERS",
        "SELECT 会員番号 FROM 会員",
        "SELECT order_id FROM orders WHERE member_id IN (SELECT member_id FROM members WHERE prefecture = 'x')",
    ] {
        accepted(&cat, "", sql);
    }
}

#[test]
fn postgres_names_follow_its_case_rules_and_schemas() {
    let cat = catalog("postgres", PG_SCHEMA);
    accepted(&cat, "", "SELECT \"Amount\" FROM \"MixedCase\"");
    let d = refused(
        &cat,
        "",
        "SELECT Amount FROM \"MixedCase\"",
        "double quotes",
    );
    assert!(
        d[0].help.as_deref().unwrap().contains("\"Amount\""),
        "{d:?}"
    );
    refused(
        &cat,
        "",
        "SELECT id FROM MixedCase",
        "is not in the schema catalogue",
    );
    accepted(&cat, "", "SELECT o.total FROM sales.orders o");
    refused(
        &cat,
        "",
        "SELECT total FROM orders",
        "is not in the schema catalogue",
    );
    // table functions are the guard's business (refused unless an operator lists them)
    refused(
        &cat,
        "",
        "SELECT g FROM generate_series(1, 3) AS g",
        "is not allowed",
    );
    refused(
        &cat,
        "",
        "SELECT m.email AS contact FROM public.members m",
        "marked `personal: email`",
    );
    refused(
        &cat,
        "",
        "SELECT x.* FROM members AS x",
        "marked `personal: email`",
    );
    accepted(
        &cat,
        "mask: {contact: hash}",
        "SELECT m.email AS Contact FROM members m",
    );
}

#[test]
fn without_a_catalogue_check_behaves_as_before() {
    let mut cat = mysql();
    cat.schemas.clear();
    accepted(&cat, "", "SELECT o.amout FROM orders o");
    // innocent names pass: only the catalogue knows `c1` holds phone numbers
    accepted(&cat, "", "SELECT c1 AS info FROM members");
    refused(
        &cat,
        "",
        "SELECT email AS contact FROM members",
        "looks personal",
    );
}

#[test]
fn the_shipped_examples_pass_with_the_shipped_catalogue() {
    let mut cat = catalog("mysql", include_str!("../../schema/main.yaml"));
    cat.config.destinations = RepoConfig::parse(
        Path::new("sqlcourier.yaml"),
        "databases:\n  main: {driver: mysql, url_env: DB}\ndestinations:\n  opex-monthly: {type: local, path: out}\n  marketing: {type: local, path: out}\n  adhoc: {type: local, path: out}\n",
    )
    .unwrap()
    .destinations;
    for (path, text) in crate::demo::EXAMPLES {
        let file = QueryFile::parse(Path::new(path), text.to_string(), String::new()).unwrap();
        let spec = cat
            .check_file(file)
            .unwrap_or_else(|d| panic!("{path}: {d:?}"));
        assert!(spec.known.is_some_and(|k| k.complete), "{path}");
    }
}
