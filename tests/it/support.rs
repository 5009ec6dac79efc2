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

// ------------------------------------------------------------------ what a server received

/// The statements sqlcourier itself sends around a query (session set-up, the privilege
/// and name-resolution checks, the transaction), as prefixes of what MariaDB logs.
pub const MYSQL_OWN_STATEMENTS: &[&str] = &[
    "SET NAMES",
    "SET SESSION sql_mode",
    "SET sql_mode",
    "SELECT @@SESSION.sql_mode",
    "SELECT DATABASE()",
    "SELECT CONNECTION_ID()",
    "SELECT CAST(CURRENT_USER() AS CHAR)",
    "SHOW GRANTS",
    "SET time_zone",
    "SET SESSION max_statement_time",
    "START TRANSACTION READ ONLY",
    "ROLLBACK",
    // source::resolution: stored functions that could shadow a called built-in
    "SELECT CAST(ROUTINE_NAME AS CHAR) FROM information_schema.ROUTINES",
];

/// The same for PostgreSQL, as the first line of what it logs (`""`: a statement
/// whose text starts with a line break).
pub const PG_OWN_STATEMENTS: &[&str] = &[
    "SELECT set_config(",
    "SELECT current_setting(",
    "SELECT pg_backend_pid()",
    "SELECT format_type(",
    "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    "ROLLBACK",
    "WITH me AS (SELECT oid, rolname FROM pg_roles WHERE rolname = current_user)",
    // source::resolution: objects that could shadow a name, where relations resolve
    "WITH path AS (",
    "SELECT n.nspname::text FROM pg_catalog.pg_class c",
    "",
];

/// Whether `sql` (as logged) is one of sqlcourier's own statements in `own`.
pub fn is_own_statement(own: &[&str], sql: &str) -> bool {
    own.contains(&sql) || own.iter().any(|o| !o.is_empty() && sql.starts_with(o))
}

/// One entry of MariaDB's general log.
#[derive(Debug, Clone)]
pub struct LoggedStatement {
    /// The connection (`thread_id`).
    pub thread: u64,
    /// `user[user] @ host [ip]`.
    pub user_host: String,
    /// `Connect`, `Query`, `Prepare` or `Execute`.
    pub command: String,
    /// The statement (for `Execute` with the bound values in it); for `Connect`,
    /// `user@host on database using …`.
    pub argument: String,
}

/// What MariaDB received, from its general log written to the table
/// `mysql.general_log`. The log is one switch for the whole server and tests run in
/// parallel: readers sign in to the table `it_general_log_readers` of the test
/// database under a server lock, and the last one to leave turns the log off again.
///
/// Entries are found by connection, not by time: `event_time` is written in each
/// session's time zone (sqlcourier's sessions set the query's), but connection ids
/// only grow within one server life (the first reader empties the log), so the
/// connections made after a [`MysqlLog::mark`] are exactly those with a larger id.
pub struct MysqlLog {
    url: String,
    admin: sqlx::MySqlConnection,
    started: u64,
}

const MYSQL_LOG_LOCK: &str = "sqlcourier_it_general_log";

impl MysqlLog {
    /// Turns the general log on (as the admin user of `admin_url`, who holds SUPER in
    /// tests/lib/databases.sh).
    pub async fn start(admin_url: &str) -> MysqlLog {
        use sqlx::{Connection, Executor};
        let mut admin = sqlx::MySqlConnection::connect(admin_url).await.unwrap();
        admin
            .execute("CREATE TABLE IF NOT EXISTS it_general_log_readers (conn BIGINT UNSIGNED PRIMARY KEY)")
            .await
            .unwrap();
        Self::lock(&mut admin).await;
        // the first reader empties the log: connection ids start again at 1 when the
        // server restarts, so entries of an earlier server life (an earlier test run)
        // would pass for this run's (found by a fresh root's second ./tests/run.sh)
        admin
            .execute(
                "DELETE FROM it_general_log_readers
                  WHERE conn NOT IN (SELECT ID FROM information_schema.PROCESSLIST)",
            )
            .await
            .unwrap();
        let readers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM it_general_log_readers")
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if readers == 0 {
            admin
                .execute("SET GLOBAL general_log = OFF; TRUNCATE TABLE mysql.general_log")
                .await
                .unwrap();
        }
        admin
            .execute(
                "INSERT IGNORE INTO it_general_log_readers VALUES (CONNECTION_ID());
                 SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = ON",
            )
            .await
            .unwrap();
        Self::unlock(&mut admin).await;
        let mut log = MysqlLog {
            url: admin_url.to_string(),
            admin,
            started: 0,
        };
        log.started = log.mark().await;
        log
    }

    async fn lock(c: &mut sqlx::MySqlConnection) {
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 60)")
            .bind(MYSQL_LOG_LOCK)
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(got, Some(1), "could not take the general-log lock");
    }

    async fn unlock(c: &mut sqlx::MySqlConnection) {
        sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(MYSQL_LOG_LOCK)
            .execute(&mut *c)
            .await
            .unwrap();
    }

    /// A point in the log: the id of a connection made now (every later connection
    /// has a larger one).
    pub async fn mark(&mut self) -> u64 {
        use sqlx::Connection;
        let mut c = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        id
    }

    /// The mark [`MysqlLog::start`] took once the log was on.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Every connection and statement the server logged for connections made after
    /// `mark`, any user, in the order logged.
    pub async fn since(&mut self, mark: u64) -> Vec<LoggedStatement> {
        use sqlx::Row;
        sqlx::query(
            "SELECT thread_id, CAST(user_host AS CHAR), CAST(command_type AS CHAR),
                    CAST(argument AS CHAR)
               FROM mysql.general_log
              WHERE thread_id > ? AND command_type IN ('Connect', 'Query', 'Prepare', 'Execute')",
        )
        .bind(mark)
        .fetch_all(&mut self.admin)
        .await
        .unwrap()
        .iter()
        .map(|r| LoggedStatement {
            thread: r.get(0),
            user_host: r.get(1),
            command: r.get(2),
            argument: r.get::<String, _>(3).trim().to_string(),
        })
        .collect()
    }

    /// Signs out; the last reader turns the general log off.
    pub async fn stop(mut self) {
        use sqlx::{Connection, Executor};
        Self::lock(&mut self.admin).await;
        self.admin
            .execute(
                "DELETE FROM it_general_log_readers WHERE conn = CONNECTION_ID()
                   OR conn NOT IN (SELECT ID FROM information_schema.PROCESSLIST)",
            )
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM it_general_log_readers")
            .fetch_one(&mut self.admin)
            .await
            .unwrap();
        if left == 0 {
            self.admin
                .execute("SET GLOBAL general_log = OFF")
                .await
                .unwrap();
        }
        Self::unlock(&mut self.admin).await;
        self.admin.close().await.unwrap();
    }
}

/// One statement in PostgreSQL's server log (`log_statement = 'all'`).
#[derive(Debug, Clone)]
pub struct PgLogged {
    /// The backend's process id.
    pub pid: u32,
    /// `user@database`.
    pub user_db: String,
    /// The statement's first line (`statement:` and extended-protocol `execute` lines).
    pub sql: String,
}

/// What PostgreSQL received, from the server log of the Debian cluster
/// tests/lib/databases.sh starts (`log_line_prefix = '%m [%p] %q%u@%d '`). The test
/// turns `log_statement = 'all'` on for its own role or database.
pub struct PgLog {
    path: PathBuf,
}

impl PgLog {
    /// The newest `/var/log/postgresql/postgresql-*-main.log`. Under tests/run.sh
    /// (`SQLCOURIER_REQUIRE_DATABASES`) it must exist; otherwise `None` skips the proof.
    pub fn open() -> Option<PgLog> {
        let found = std::fs::read_dir("/var/log/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("postgresql-") && n.ends_with("-main.log"))
            })
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        if found.is_none() && std::env::var("SQLCOURIER_REQUIRE_DATABASES").is_ok() {
            panic!("no PostgreSQL server log in /var/log/postgresql");
        }
        found.map(|path| PgLog { path })
    }

    /// The log's length now: read from here with [`PgLog::text_since`].
    pub fn mark(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Everything written to the log after `from`.
    pub fn text_since(&self, from: u64) -> String {
        use std::io::{Read, Seek};
        let mut f = std::fs::File::open(&self.path).unwrap();
        f.seek(std::io::SeekFrom::Start(from)).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The statements logged after `from`, any user and database, in order.
    pub fn statements_since(&self, from: u64) -> Vec<PgLogged> {
        self.text_since(from)
            .lines()
            .filter_map(|line| {
                let (_, rest) = line.split_once(" [")?;
                let (pid, rest) = rest.split_once("] ")?;
                let (user_db, msg) = rest.split_once(" LOG:  ")?;
                let sql = if let Some(s) = msg.strip_prefix("statement: ") {
                    s
                } else {
                    msg.strip_prefix("execute ")?.split_once(": ")?.1
                };
                Some(PgLogged {
                    pid: pid.parse().ok()?,
                    user_db: user_db.to_string(),
                    sql: sql.trim().to_string(),
                })
            })
            .collect()
    }
}

/// Runs `git` in `dir` with no user or system configuration and a fixed author, and
/// returns its trimmed stdout; a failure fails the test with git's output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Requester")
        .env("GIT_AUTHOR_EMAIL", "requester@example.com")
        .env("GIT_COMMITTER_NAME", "Requester")
        .env("GIT_COMMITTER_EMAIL", "requester@example.com")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
