//! Shared helpers: database URLs, a throw-away repository in a temp dir, and running the
//! real binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A database URL from the environment (tests/run.sh sets them). Without one the test
/// is skipped — except under CI or tests/run.sh, where a missing database fails.
pub fn db_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true")
                || std::env::var("SQLCOURIER_REQUIRE_DATABASES").is_ok()
            {
                panic!(
                    "{var} is not set: run the tests through ./tests/run.sh, which starts the databases"
                );
            }
            eprintln!("skipped: {var} is not set (run ./tests/run.sh)");
            None
        }
    }
}

pub fn mysql() -> Option<String> {
    db_url("SQLCOURIER_TEST_MYSQL_URL")
}
pub fn postgres() -> Option<String> {
    db_url("SQLCOURIER_TEST_PG_URL")
}

/// A repository in a temp dir: `sqlcourier.yaml`, `queries/`, output in `out/`.
///
/// Queries run as the documented read-only user: when [`Repo::run`] / [`Repo::cmd`] get
/// the admin URL of tests/lib/databases.sh (`SQLCOURIER_TEST_*_URL`, which the tests use
/// to create their tables), the binary connects with the matching read-only URL
/// (`SQLCOURIER_TEST_*_RO_URL`) instead, because `run` refuses a user that can write.
/// A test that needs the admin user says so with [`Repo::admin_user`].
pub struct Repo {
    pub dir: tempfile::TempDir,
    admin: bool,
}

impl Repo {
    /// `driver` is mysql | postgres | sqlite; the URL is passed as SQLCOURIER_DB_MAIN.
    pub fn new(driver: &str) -> Repo {
        Self::with_database(driver, "")
    }

    /// Like [`Repo::new`], with more settings for the database `main`: YAML lines
    /// indented by four spaces, e.g. `"    allowed_functions:\n      generate_series: test\n"`.
    pub fn with_database(driver: &str, extra: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sqlcourier.yaml"),
            format!(
                "defaults:\n  timezone: Asia/Tokyo\n  encoding: utf-8\ndatabases:\n  main:\n    driver: {driver}\n    url_env: SQLCOURIER_DB_MAIN\n{extra}destinations:\n  out: {{type: local, path: out}}\nmasking:\n  key_env: SQLCOURIER_MASK_KEY\n"
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("queries")).unwrap();
        Repo { dir, admin: false }
    }

    /// Passes the URL given to [`Repo::run`] / [`Repo::cmd`] unchanged (no switch to
    /// the read-only user, no `allow_privileged_user`): for the privilege check's tests.
    pub fn keep_url(mut self) -> Repo {
        self.admin = true;
        self
    }

    /// Runs the binary as the admin user (a user that can write) and accepts it in
    /// sqlcourier.yaml with `allow_privileged_user`.
    pub fn admin_user(mut self) -> Repo {
        let p = self.path().join("sqlcourier.yaml");
        let text = std::fs::read_to_string(&p).unwrap();
        let text = text.replacen(
            "    url_env: SQLCOURIER_DB_MAIN\n",
            "    url_env: SQLCOURIER_DB_MAIN\n    allow_privileged_user: \"integration test as the admin user\"\n",
            1,
        );
        std::fs::write(&p, text).unwrap();
        self.admin = true;
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `queries/<name>` with the given front matter lines and SQL.
    pub fn query(&self, name: &str, front: &str, sql: &str) -> PathBuf {
        let p = self.path().join("queries").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let front = if front.contains("destination:") {
            front.to_string()
        } else {
            format!("title: test\ndatabase: main\ndestination: out\n{front}")
        };
        std::fs::write(&p, format!("/*---\n{front}\n---*/\n{sql}\n")).unwrap();
        p
    }

    pub fn out(&self, file: &str) -> PathBuf {
        self.path().join("out").join(file)
    }

    pub fn read_out(&self, file: &str) -> String {
        let p = self.out(file);
        String::from_utf8(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .unwrap()
    }

    /// Runs the real binary in the repository with `SQLCOURIER_DB_MAIN=url`.
    pub fn run(&self, url: &str, args: &[&str]) -> Output {
        self.cmd(url).args(args).output().unwrap()
    }

    pub fn cmd(&self, url: &str) -> Command {
        let url = if self.admin {
            url.to_string()
        } else {
            read_only(url)
        };
        let mut c = Command::new(env!("CARGO_BIN_EXE_sqlcourier"));
        c.current_dir(self.path())
            .env("SQLCOURIER_DB_MAIN", url)
            .env("SQLCOURIER_MASK_KEY", "integration-test-key-0123456789")
            .env("RUNNER_TEMP", self.path().join("work"))
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_RUN_ID")
            .env_remove("GITHUB_SHA")
            .env_remove("GITHUB_SERVER_URL")
            .env("NO_COLOR", "1");
        c
    }
}

/// The read-only URL for the admin URL `url` of tests/lib/databases.sh; other URLs
/// unchanged.
pub fn read_only(url: &str) -> String {
    for (admin, ro) in [
        ("SQLCOURIER_TEST_MYSQL_URL", "SQLCOURIER_TEST_MYSQL_RO_URL"),
        ("SQLCOURIER_TEST_PG_URL", "SQLCOURIER_TEST_PG_RO_URL"),
    ] {
        if std::env::var(admin).is_ok_and(|a| !a.is_empty() && a == url)
            && let Ok(r) = std::env::var(ro)
            && !r.is_empty()
        {
            return r;
        }
    }
    url.to_string()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Parses a CSV file (CRLF, RFC 4180) into rows of fields, keeping NULL (unquoted
/// empty) apart from an empty string (`""`).
pub fn parse_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quoted = true;
            }
            ',' => {
                row.push(take(&mut field, &mut quoted));
            }
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(take(&mut field, &mut quoted));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    assert!(
        row.is_empty() && field.is_empty(),
        "file does not end with CRLF"
    );
    rows
}

fn take(field: &mut String, quoted: &mut bool) -> Option<String> {
    let f = std::mem::take(field);
    let q = std::mem::replace(quoted, false);
    if f.is_empty() && !q { None } else { Some(f) }
}
