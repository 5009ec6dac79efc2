//! Issue #11: a name the check approved resolves, on the server, to what the check
//! assumed (src/source/resolution.rs). As the over-privileged test user, objects are
//! created that a server could pick instead of a built-in (a function, a quoted-name
//! function, an operator, a type, an implicit cast, a relation) whose bodies would
//! leave a trace (`SHADOWED` in the output); each query that would reach one is
//! refused by `run` with the object's name, nothing is delivered, and the same query
//! runs once the object is gone. Each database runs in a database of its own, so the
//! shadows do not reach other tests.

use sqlx::{Connection, Executor};

use crate::support::{self, Repo, parse_csv, text};

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

/// Runs `sql` as the admin user against `url`: (exit code, output, first cell).
fn run(driver: &str, url: &str, extra: &str, sql: &str) -> (Option<i32>, String, Option<String>) {
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

fn refused(driver: &str, url: &str, extra: &str, sql: &str, names: &str) {
    let (code, t, cell) = run(driver, url, extra, sql);
    assert_eq!(code, Some(1), "{sql}\n{t}");
    assert!(t.contains(names), "{sql}: the message names {names}\n{t}");
    assert!(t.contains("ask an engineer"), "{t}");
    assert_eq!(cell, None, "{sql}: something was delivered");
}

fn runs(driver: &str, url: &str, extra: &str, sql: &str, want: &str) {
    let (code, t, cell) = run(driver, url, extra, sql);
    assert_eq!(code, Some(0), "{sql}\n{t}");
    assert_eq!(cell.as_deref(), Some(want), "{sql}\n{t}");
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
    c.close().await.unwrap();
    let url = with_db(&admin, &db);
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let none = "";
    let relations =
        "    allowed_relations:\n      pg_report: \"test: a user table named like a catalog\"\n";

    // before any shadow: the queries run, with the built-ins
    runs("postgres", &url, none, "SELECT lower('A') AS a", "a");
    runs(
        "postgres",
        &url,
        none,
        "SELECT lower(1::text) || 'x' AS a",
        "1x",
    );

    // (object, query that would reach it, name in the message, drop)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE sql AS $$ SELECT 'SHADOWED' $$",
            "SELECT lower(1) AS a",
            "function `public.lower`",
            "DROP FUNCTION public.lower(integer)",
        ),
        (
            "CREATE FUNCTION public.\"Lower\"(text) RETURNS text LANGUAGE sql AS $$ SELECT 'SHADOWED' $$",
            "SELECT \"Lower\"('A') AS a",
            "function `public.Lower`",
            "DROP FUNCTION public.\"Lower\"(text)",
        ),
        (
            "CREATE FUNCTION public.count(text) RETURNS bigint LANGUAGE sql AS $$ SELECT 42::bigint $$",
            "SELECT count('x') AS a",
            "function `public.count`",
            "DROP FUNCTION public.count(text)",
        ),
        (
            "CREATE FUNCTION public.shadow_cat(text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'SHADOWED' $$; \
             CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.shadow_cat)",
            "SELECT lower('A') || 'x' AS a",
            "operator `public.||`",
            "DROP OPERATOR public.|| (text, text); DROP FUNCTION public.shadow_cat(text, text)",
        ),
        (
            "CREATE TYPE public.mood AS ENUM ('SHADOWED')",
            "SELECT 'SHADOWED'::mood AS a",
            "type `public.mood`",
            "DROP TYPE public.mood",
        ),
        (
            "CREATE TYPE public.mood AS ENUM ('SHADOWED'); CREATE CAST (mood AS integer) WITH INOUT AS IMPLICIT",
            "SELECT 1 AS a",
            "implicit cast mood AS integer",
            "DROP CAST (mood AS integer); DROP TYPE public.mood",
        ),
    ];
    for (create, sql, name, drop) in cases {
        c.execute(*create).await.unwrap();
        refused("postgres", &url, none, sql, name);
        c.execute(*drop).await.unwrap();
    }
    // a relation that is not where the check assumed: `pg_report` is read as a
    // catalog (listed by the operator), but it is a table in public
    c.execute(
        "CREATE TABLE public.pg_report (a text); INSERT INTO public.pg_report VALUES ('SHADOWED')",
    )
    .await
    .unwrap();
    refused(
        "postgres",
        &url,
        relations,
        "SELECT a FROM pg_report",
        "`pg_report` resolves to a relation in schema `public` at run time, not to `pg_catalog.pg_report`",
    );
    // and after all of them are gone, the same queries run again
    runs(
        "postgres",
        &url,
        none,
        "SELECT lower('A') || 'x' AS a",
        "ax",
    );
    runs("postgres", &url, none, "SELECT lower(1::text) AS a", "1");
    c.close().await.unwrap();
}

#[tokio::test]
async fn mysql_stored_functions_that_could_shadow_built_ins_are_refused() {
    let Some(admin) = support::mysql() else {
        return;
    };
    let url = with_db(&admin, &format!("{}_shadow", db_name(&admin)));
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
    for f in ["regexp_like", "lower", "Json_Pretty"] {
        c.execute(format!("DROP FUNCTION IF EXISTS {f}").as_str())
            .await
            .unwrap();
    }
    runs("mysql", &url, "", "SELECT lower('A') AS a", "a");
    let cases: &[(&str, &str, &str)] = &[
        // not a MariaDB built-in: `regexp_like(` would call the stored function
        (
            "CREATE FUNCTION regexp_like(a TEXT, b TEXT) RETURNS TEXT DETERMINISTIC RETURN 'SHADOWED'",
            "SELECT regexp_like('a', 'a') AS a",
            "stored function `regexp_like`",
        ),
        // a built-in wins over it, but sqlcourier does not rely on which wins
        (
            "CREATE FUNCTION lower(a TEXT) RETURNS TEXT DETERMINISTIC RETURN 'SHADOWED'",
            "SELECT LOWER('A') AS a",
            "stored function `lower`",
        ),
        (
            "CREATE FUNCTION Json_Pretty(a TEXT) RETURNS TEXT DETERMINISTIC RETURN 'SHADOWED'",
            "SELECT json_pretty('[1]') AS a",
            "stored function `Json_Pretty`",
        ),
    ];
    for (create, sql, name) in cases {
        c.execute(*create).await.unwrap();
        refused("mysql", &url, "", sql, name);
    }
    // the qualified form reaches a stored function by design: the check refuses it
    let db = db_name(&url);
    let (code, t, _) = run("mysql", &url, "", &format!("SELECT {db}.lower('A') AS a"));
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("is not on sqlcourier's list"), "{t}");
    for f in ["regexp_like", "lower", "Json_Pretty"] {
        c.execute(format!("DROP FUNCTION {f}").as_str())
            .await
            .unwrap();
    }
    // with a space before `(` (IGNORE_SPACE is off in the pinned session, and the
    // statement is rendered without the space) the built-in runs
    runs("mysql", &url, "", "SELECT lower ('A') AS a", "a");
    c.close().await.unwrap();
}
