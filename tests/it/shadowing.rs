//! Issue #11: a name the check approved resolves, on the server, to what the check
//! assumed (src/source/resolution.rs). As the over-privileged test user, objects are
//! created that a server could pick instead of a built-in (a function, a quoted-name
//! function, an operator, a type, an implicit cast, a relation) whose bodies would
//! leave a trace (`SHADOWED` in the output); each query that would reach one is
//! refused by `run` with the object's name, nothing is delivered, and the same query
//! runs once the object is gone. Each database runs in a database of its own, so the
//! shadows do not reach other tests.
//!
//! The server's own record proves it: while each case runs, MariaDB's general log and
//! PostgreSQL's server log (`log_statement = 'all'` for the test's database) capture
//! what the server received. For a refused case the run's connections sent only
//! sqlcourier's own statements (session set-up, the privilege and resolution checks)
//! and nothing anywhere holds the case's marker (a unique column alias); for a query
//! that runs, the statement with its marker is there.

use std::collections::BTreeSet;

use sqlx::{Connection, Executor};

use crate::support::{self, MysqlLog, PgLog, Repo, parse_csv, text};

/// `url` with its database name replaced.
fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

fn db_name(url: &str) -> String {
    url.rsplit_once('/')
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

/// What one `run` gave: (exit code, output, first cell of the file).
type Ran = (Option<i32>, String, Option<String>);

/// Runs `sql` as the admin user against `url`.
fn run(driver: &str, url: &str, extra: &str, sql: &str) -> Ran {
    let repo = Repo::with_database(driver, extra).admin_user();
    repo.query("q.sql", "output: {file: q.csv}", sql);
    let o = repo.run(url, &["run", "queries/q.sql"]);
    let cell = repo
        .out("q.csv")
        .exists()
        .then(|| parse_csv(&repo.read_out("q.csv"))[1][0].clone())
        .flatten();
    (o.status.code(), text(&o), cell)
}

/// `run` refused `sql`, naming `names` and saying what to do, and delivered nothing.
fn assert_refused(sql: &str, (code, t, cell): &Ran, names: &str) {
    assert_eq!(*code, Some(1), "{sql}\n{t}");
    assert!(t.contains(names), "{sql}: the message names {names}\n{t}");
    assert!(t.contains("ask an engineer"), "{t}");
    assert_eq!(*cell, None, "{sql}: something was delivered");
}

/// `run` ran `sql` and delivered `want`.
fn assert_ran(sql: &str, (code, t, cell): &Ran, want: &str) {
    assert_eq!(*code, Some(0), "{sql}\n{t}");
    assert_eq!(cell.as_deref(), Some(want), "{sql}\n{t}");
}

/// The column alias of `sql` (`… AS <marker>`): unique per case, so the marker is in
/// the statement as sent, and nowhere else.
fn marker(sql: &str) -> &str {
    let (_, m) = sql.rsplit_once(" AS ").unwrap();
    assert!(
        m.starts_with("shadow_"),
        "{sql}: the alias is the case's marker"
    );
    m
}

/// What the server received while one run ran: the statements of the run's own
/// connections, and whether the marker appeared anywhere in the log.
struct Received {
    statements: Vec<String>,
    marker_seen: bool,
}

impl Received {
    /// The refused query never reached the server: the run did connect (the log was
    /// capturing), sent only sqlcourier's own statements, and no connection sent the
    /// marker.
    fn refused_before_sending(&self, own: &[&str], sql: &str) {
        assert!(
            !self.statements.is_empty(),
            "{sql}: the server log shows nothing of the run"
        );
        for st in &self.statements {
            assert!(
                support::is_own_statement(own, st),
                "{sql}: the server received a statement while the run was refused: {st}"
            );
        }
        assert!(!self.marker_seen, "{sql}: the query reached the server");
    }

    /// The query that runs reached the server, marker and all.
    fn sent(&self, sql: &str) {
        let m = marker(sql);
        assert!(
            self.statements.iter().any(|s| s.contains(m)),
            "{sql}: the server log does not show the query\n{:#?}",
            self.statements
        );
    }
}

/// Runs `f` and reads what PostgreSQL logged for the database `db` meanwhile; the
/// test's own connection (`own_pid`) is left out.
fn pg_received(
    log: &PgLog,
    db: &str,
    own_pid: u32,
    sql: &str,
    f: impl FnOnce() -> Ran,
) -> (Received, Ran) {
    let from = log.mark();
    let ran = f();
    let tag = format!("@{db}");
    let statements = log
        .statements_since(from)
        .into_iter()
        .filter(|s| s.user_db.ends_with(&tag) && s.pid != own_pid)
        .map(|s| s.sql)
        .collect();
    let received = Received {
        statements,
        marker_seen: log.text_since(from).contains(marker(sql)),
    };
    (received, ran)
}

/// Runs `f` and reads what MariaDB logged meanwhile for the connections made to the
/// database `db` (found by their `Connect` entries).
async fn my_received(
    log: &mut MysqlLog,
    db: &str,
    sql: &str,
    f: impl FnOnce() -> Ran,
) -> (Received, Ran) {
    let from = log.mark().await;
    let ran = f();
    let all = log.since(from).await;
    let on_db = format!(" on {db} ");
    let threads: BTreeSet<u64> = all
        .iter()
        .filter(|r| r.command == "Connect" && r.argument.contains(&on_db))
        .map(|r| r.thread)
        .collect();
    let received = Received {
        statements: all
            .iter()
            .filter(|r| r.command != "Connect" && threads.contains(&r.thread))
            .map(|r| r.argument.clone())
            .collect(),
        marker_seen: all.iter().any(|r| r.argument.contains(marker(sql))),
    };
    (received, ran)
}

#[tokio::test]
async fn postgres_objects_that_could_shadow_built_ins_are_refused() {
    let Some(admin) = support::postgres() else {
        return;
    };
    let db = format!("{}_shadow", db_name(&admin));
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    c.execute(format!("DROP DATABASE IF EXISTS {db}").as_str())
        .await
        .unwrap();
    c.execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    // every session in this database logs every statement it receives
    c.execute(format!("ALTER DATABASE {db} SET log_statement = 'all'").as_str())
        .await
        .unwrap();
    c.close().await.unwrap();
    let log = PgLog::open();
    let url = with_db(&admin, &db);
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let own_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let own_pid = u32::try_from(own_pid).unwrap();
    let none = "";
    let relations =
        "    allowed_relations:\n      pg_report: \"test: a user table named like a catalog\"\n";
    let own = support::PG_OWN_STATEMENTS;
    // runs `sql`, with what the server received meanwhile (when its log can be read)
    let case = |sql: &str, extra: &str| -> (Option<Received>, Ran) {
        let go = || run("postgres", &url, extra, sql);
        match &log {
            Some(log) => {
                let (r, ran) = pg_received(log, &db, own_pid, sql, go);
                (Some(r), ran)
            }
            None => (None, go()),
        }
    };

    // before any shadow: the queries run, with the built-ins
    for (sql, want) in [
        ("SELECT lower('A') AS shadow_pg_before_1", "a"),
        ("SELECT lower(1::text) || 'x' AS shadow_pg_before_2", "1x"),
    ] {
        let (r, ran) = case(sql, none);
        assert_ran(sql, &ran, want);
        if let Some(r) = r {
            r.sent(sql);
        }
    }

    // (object, query that would reach it, name in the message, drop)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE sql AS $$ SELECT 'SHADOWED' $$",
            "SELECT lower(1) AS shadow_pg_1",
            "function `public.lower`",
            "DROP FUNCTION public.lower(integer)",
        ),
        (
            "CREATE FUNCTION public.\"Lower\"(text) RETURNS text LANGUAGE sql AS $$ SELECT 'SHADOWED' $$",
            "SELECT \"Lower\"('A') AS shadow_pg_2",
            "function `public.Lower`",
            "DROP FUNCTION public.\"Lower\"(text)",
        ),
        (
            "CREATE FUNCTION public.count(text) RETURNS bigint LANGUAGE sql AS $$ SELECT 42::bigint $$",
            "SELECT count('x') AS shadow_pg_3",
            "function `public.count`",
            "DROP FUNCTION public.count(text)",
        ),
        (
            "CREATE FUNCTION public.shadow_cat(text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'SHADOWED' $$; \
             CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.shadow_cat)",
            "SELECT lower('A') || 'x' AS shadow_pg_4",
            "operator `public.||`",
            "DROP OPERATOR public.|| (text, text); DROP FUNCTION public.shadow_cat(text, text)",
        ),
        (
            "CREATE TYPE public.mood AS ENUM ('SHADOWED')",
            "SELECT 'SHADOWED'::mood AS shadow_pg_5",
            "type `public.mood`",
            "DROP TYPE public.mood",
        ),
        (
            "CREATE TYPE public.mood AS ENUM ('SHADOWED'); CREATE CAST (mood AS integer) WITH INOUT AS IMPLICIT",
            "SELECT 1 AS shadow_pg_6",
            "implicit cast mood AS integer",
            "DROP CAST (mood AS integer); DROP TYPE public.mood",
        ),
    ];
    for (create, sql, name, drop) in cases {
        c.execute(*create).await.unwrap();
        // the server's record first: it shows what a broken refusal let through
        let (r, ran) = case(sql, none);
        if let Some(r) = r {
            r.refused_before_sending(own, sql);
        }
        assert_refused(sql, &ran, name);
        c.execute(*drop).await.unwrap();
    }
    // a relation that is not where the check assumed: `pg_report` is read as a
    // catalog (listed by the operator), but it is a table in public
    c.execute(
        "CREATE TABLE public.pg_report (a text); INSERT INTO public.pg_report VALUES ('SHADOWED')",
    )
    .await
    .unwrap();
    let sql = "SELECT a AS shadow_pg_7 FROM pg_report";
    let (r, ran) = case(sql, relations);
    if let Some(r) = r {
        r.refused_before_sending(own, sql);
    }
    assert_refused(
        sql,
        &ran,
        "`pg_report` resolves to a relation in schema `public` at run time, not to `pg_catalog.pg_report`",
    );
    // and after all of them are gone, the same queries run again, and reach the server
    for (sql, want) in [
        ("SELECT lower('A') || 'x' AS shadow_pg_after_1", "ax"),
        ("SELECT lower(1::text) AS shadow_pg_after_2", "1"),
    ] {
        let (r, ran) = case(sql, none);
        assert_ran(sql, &ran, want);
        if let Some(r) = r {
            r.sent(sql);
        }
    }
    c.close().await.unwrap();
}

#[tokio::test]
async fn mysql_stored_functions_that_could_shadow_built_ins_are_refused() {
    let Some(admin) = support::mysql() else {
        return;
    };
    let db = format!("{}_shadow", db_name(&admin));
    let url = with_db(&admin, &db);
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
    for f in ["regexp_like", "lower", "Json_Pretty"] {
        c.execute(format!("DROP FUNCTION IF EXISTS {f}").as_str())
            .await
            .unwrap();
    }
    let mut log = MysqlLog::start(&admin).await;
    let own = support::MYSQL_OWN_STATEMENTS;

    let sql = "SELECT lower('A') AS shadow_my_before";
    let (r, ran) = my_received(&mut log, &db, sql, || run("mysql", &url, "", sql)).await;
    assert_ran(sql, &ran, "a");
    r.sent(sql);
    let cases: &[(&str, &str, &str)] = &[
        // not a MariaDB built-in: `regexp_like(` would call the stored function
        (
            "CREATE FUNCTION regexp_like(a TEXT, b TEXT) RETURNS TEXT DETERMINISTIC RETURN 'SHADOWED'",
            "SELECT regexp_like('a', 'a') AS shadow_my_1",
            "stored function `regexp_like`",
        ),
        // a built-in wins over it, but sqlcourier does not rely on which wins
        (
            "CREATE FUNCTION lower(a TEXT) RETURNS TEXT DETERMINISTIC RETURN 'SHADOWED'",
            "SELECT LOWER('A') AS shadow_my_2",
            "stored function `lower`",
        ),
        (
            "CREATE FUNCTION Json_Pretty(a TEXT) RETURNS TEXT DETERMINISTIC RETURN 'SHADOWED'",
            "SELECT json_pretty('[1]') AS shadow_my_3",
            "stored function `Json_Pretty`",
        ),
    ];
    for (create, sql, name) in cases {
        c.execute(*create).await.unwrap();
        let (r, ran) = my_received(&mut log, &db, sql, || run("mysql", &url, "", sql)).await;
        r.refused_before_sending(own, sql);
        assert_refused(sql, &ran, name);
    }
    // the qualified form reaches a stored function by design: the check refuses it
    // before any connection
    let sql = format!("SELECT {db}.lower('A') AS shadow_my_4");
    let (r, (code, t, _)) = my_received(&mut log, &db, &sql, || run("mysql", &url, "", &sql)).await;
    assert!(
        r.statements.is_empty() && !r.marker_seen,
        "{sql}: {:?}",
        r.statements
    );
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("is not on sqlcourier's list"), "{t}");
    for f in ["regexp_like", "lower", "Json_Pretty"] {
        c.execute(format!("DROP FUNCTION {f}").as_str())
            .await
            .unwrap();
    }
    // once they are gone the query runs: with a space before `(` (IGNORE_SPACE is off
    // in the pinned session, and the statement is rendered without the space) the
    // built-in runs
    let sql = "SELECT lower ('A') AS shadow_my_after";
    let (r, ran) = my_received(&mut log, &db, sql, || run("mysql", &url, "", sql)).await;
    assert_ran(sql, &ran, "a");
    r.sent(sql);
    log.stop().await;
    c.close().await.unwrap();
}
