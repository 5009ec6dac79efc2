//! One conformance suite for every source (issue 16 item 12): MariaDB, PostgreSQL and
//! SQLite run the same cases — cell rendering with NULL apart from the empty string, a
//! server-side (or, for SQLite, sqlcourier's own) time limit, and bad credentials
//! explained without the secret. Read-only is per database:
//! `mysql_transaction_is_read_only_even_for_a_writable_user`,
//! `postgres_transaction_is_read_only_even_for_a_writable_user`,
//! `sqlite_connection_refuses_writes`; cancellation: the SIGTERM tests.

use crate::support::{self, Repo, parse_csv, text};

struct Db {
    driver: &'static str,
    url: String,
    /// A SELECT of: 1, -42, 'abc', '', NULL, the byte 0x41, 0.5 and 1e300 as a double.
    cells: &'static str,
    /// How this database writes 1e300 as a double (PostgreSQL: as the server prints it).
    big: &'static str,
    /// A statement that runs for minutes. `None` for SQLite until the SQLite interrupt
    /// lands (the guard work): today the rollback after sqlcourier's timer waits for the
    /// statement to finish on sqlx's worker thread.
    slow: Option<&'static str>,
    /// The URL with a wrong password (PostgreSQL: also a user that does not exist, as
    /// the test server trusts local connections; SQLite: a file that does not exist).
    bad_url: String,
    /// What the message must say.
    hint: &'static str,
}

fn all() -> Vec<Db> {
    let mut v = vec![Db {
        driver: "sqlite",
        url: "sqlite::memory:".into(),
        cells: "SELECT 1 AS i, -42 AS neg, 'abc' AS t, '' AS empty, NULL AS nul, x'41' AS bin, 0.5 AS f, 1e300 AS big",
        big: "1e300",
        slow: None,
        bad_url: "sqlite:///nonexistent/folder/db.sqlite".into(),
        hint: "could not open the SQLite database",
    }];
    if let Some(url) = support::mysql() {
        v.push(Db {
            driver: "mysql",
            bad_url: with_password(&url, None, "wrong-password-xyz"),
            hint: "check the user name and password",
            url,
            cells: "SELECT 1 AS i, -42 AS neg, 'abc' AS t, '' AS empty, NULL AS nul, x'41' AS bin, 0.5e0 AS f, 1e300 AS big",
            big: "1e300",
            slow: Some("SELECT COUNT(*) AS c FROM information_schema.columns a, information_schema.columns b, information_schema.columns c"),
        });
    }
    if let Some(url) = support::postgres() {
        v.push(Db {
            driver: "postgres",
            bad_url: with_password(&url, Some("no_such_user_xyz"), "wrong-password-xyz"),
            hint: "could not connect to PostgreSQL",
            url,
            cells: "SELECT 1 AS i, -42 AS neg, 'abc' AS t, '' AS empty, NULL::text AS nul, '\\x41'::bytea AS bin, 0.5::float8 AS f, 1e300::float8 AS big",
            big: "1e+300",
            slow: Some("SELECT count(*) AS c FROM generate_series(1, 3000000000) g"),
        });
    }
    v
}

fn with_password(url: &str, user: Option<&str>, pw: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = user.unwrap_or_else(|| userinfo.split(':').next().unwrap());
    format!("{scheme}://{user}:{pw}@{host}")
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

#[test]
fn sources_render_cells_alike_and_keep_null_apart_from_empty() {
    for db in all() {
        let repo = Repo::new(db.driver);
        repo.query("cells.sql", "output: {file: cells.csv}", db.cells);
        let o = repo.run(&db.url, &["run", "queries/cells.sql"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", db.driver, text(&o));
        let rows = parse_csv(&repo.read_out("cells.csv"));
        assert_eq!(
            rows[1],
            vec![
                s("1"),
                s("-42"),
                s("abc"),
                s(""),
                None,
                s("0x41"),
                s("0.5"),
                s(db.big)
            ],
            "{}",
            db.driver
        );
    }
}

#[test]
fn sources_stop_at_the_time_limit() {
    for db in all() {
        let Some(slow) = db.slow else { continue };
        // the slow queries read what the guard refuses unless an operator lists it
        let extra = match db.driver {
            "mysql" => {
                "    allowed_relations: {information_schema.columns: \"test: a slow cross join\"}\n"
            }
            _ => "    allowed_functions: {generate_series: \"test: a slow scan\"}\n",
        };
        let repo = Repo::with_database(db.driver, extra);
        repo.query("slow.sql", "timeout: 1s\noutput: {file: slow.csv}", slow);
        let t = std::time::Instant::now();
        let o = repo.run(&db.url, &["run", "queries/slow.sql"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", db.driver, text(&o));
        assert!(
            t.elapsed().as_secs() < 20,
            "{}: {:?}",
            db.driver,
            t.elapsed()
        );
        assert!(
            text(&o).contains("time limit"),
            "{}: {}",
            db.driver,
            text(&o)
        );
        assert!(!repo.out("slow.csv").exists(), "{}", db.driver);
    }
}

#[test]
fn sources_explain_bad_credentials_without_the_secret() {
    for db in all() {
        let repo = Repo::new(db.driver);
        repo.query("q.sql", "output: {file: q.csv}", "SELECT 1 AS n");
        let o = repo.run(&db.bad_url, &["run", "queries/q.sql"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", db.driver, text(&o));
        let out = text(&o);
        assert!(
            !out.contains("wrong-password-xyz"),
            "{}: the password leaked: {out}",
            db.driver
        );
        assert!(out.contains(db.hint), "{}: {out}", db.driver);
    }
}
