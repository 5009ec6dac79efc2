//! One conformance suite for every sink (issue 16 item 12): the local folder and Google
//! Drive (the stand-in) must both pass the same cases — atomic delivery, a re-run
//! replaces the same file, no partial file after a failure, the healthcheck refuses an
//! unusable destination before the database is touched, and retries end.

use crate::drive::{cmd, repo as drive_repo};
use crate::drive_standin::{FOLDER, Fault, Standin};
use crate::support::{Repo, text};

/// A sink under test: its repository (destination `d`) and how to look inside it.
struct Case {
    name: &'static str,
    repo: Repo,
    drive: Option<Standin>,
}

impl Case {
    fn all() -> Vec<Case> {
        let local = Repo::new("sqlite");
        let yaml = local.path().join("sqlcourier.yaml");
        let cfg = std::fs::read_to_string(&yaml).unwrap();
        std::fs::write(
            &yaml,
            cfg.replace(
                "  out: {type: local, path: out}",
                "  out: {type: local, path: out}\n  d: {type: local, path: dest}",
            ),
        )
        .unwrap();
        let drive = drive_repo("    upload_deadline: 6s\n");
        let yaml = drive.path().join("sqlcourier.yaml");
        let cfg = std::fs::read_to_string(&yaml).unwrap();
        std::fs::write(&yaml, cfg.replace("  drive:\n", "  d:\n")).unwrap();
        vec![
            Case {
                name: "local",
                repo: local,
                drive: None,
            },
            Case {
                name: "drive",
                repo: drive,
                drive: Some(Standin::start()),
            },
        ]
    }

    fn run(&self, url: &str, args: &[&str]) -> std::process::Output {
        match &self.drive {
            Some(s) => cmd(&self.repo, s, url).args(args).output().unwrap(),
            None => self.repo.run(url, args),
        }
    }

    /// (name, content, id) of every file in the destination.
    fn files(&self) -> Vec<(String, Vec<u8>, String)> {
        match &self.drive {
            Some(s) => s
                .st()
                .files_in(FOLDER)
                .into_iter()
                .map(|f| (f.name, f.content, f.id))
                .collect(),
            None => std::fs::read_dir(self.repo.path().join("dest"))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| {
                            let n = e.file_name().to_string_lossy().to_string();
                            (n.clone(), std::fs::read(e.path()).unwrap(), n)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn staging_is_empty(&self) -> bool {
        std::fs::read_dir(self.repo.path().join("work/sqlcourier"))
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    }
}

const DB: &str = "sqlite::memory:";

fn query(c: &Case, file: &str, sql: &str) {
    c.repo.query(
        file,
        &format!(
            "title: t\ndatabase: main\ndestination: d\noutput: {{file: \"{}.csv\"}}",
            file.trim_end_matches(".sql")
        ),
        sql,
    );
}

#[test]
fn sinks_deliver_whole_files_and_a_rerun_replaces_the_same_file() {
    for c in Case::all() {
        query(&c, "a.sql", "SELECT 1 AS n, 'first' AS v");
        let o = c.run(DB, &["run", "queries/a.sql"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", c.name, text(&o));
        let first = c.files();
        assert_eq!(first.len(), 1, "{}", c.name);
        assert_eq!(first[0].1, b"n,v\r\n1,first\r\n", "{}", c.name);
        query(&c, "a.sql", "SELECT 2 AS n, 'second' AS v");
        let o = c.run(DB, &["run", "queries/a.sql"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", c.name, text(&o));
        let second = c.files();
        assert_eq!(second.len(), 1, "{}: a re-run made a second file", c.name);
        assert_eq!(second[0].2, first[0].2, "{}: not the same file", c.name);
        assert_eq!(second[0].1, b"n,v\r\n2,second\r\n", "{}", c.name);
        assert!(c.staging_is_empty(), "{}", c.name);
    }
}

#[test]
fn sinks_get_no_partial_file_when_the_query_fails_mid_stream() {
    for c in Case::all() {
        // 5,000 rows are written to the staging file, then SQLite fails (integer overflow)
        query(
            &c,
            "b.sql",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) SELECT CASE WHEN i < 5000 THEN i ELSE abs(-9223372036854775807 - 1) END AS x FROM n",
        );
        let o = c.run(DB, &["run", "queries/b.sql"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", c.name, text(&o));
        assert!(
            c.files().is_empty(),
            "{}: a partial file was delivered",
            c.name
        );
        assert!(c.staging_is_empty(), "{}: staging file left", c.name);
    }
}

#[test]
fn sinks_refuse_an_unusable_destination_before_the_database() {
    for c in Case::all() {
        query(&c, "c.sql", "SELECT 1 AS n");
        match &c.drive {
            Some(s) => {
                s.st().files.remove(FOLDER);
            }
            // a file where the folder should be
            None => std::fs::write(c.repo.path().join("dest"), b"not a folder").unwrap(),
        }
        let db = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        db.set_nonblocking(true).unwrap();
        let url = format!("mysql://reader:pw@{}/app", db.local_addr().unwrap());
        let yaml = c.repo.path().join("sqlcourier.yaml");
        let cfg = std::fs::read_to_string(&yaml).unwrap();
        std::fs::write(&yaml, cfg.replace("driver: sqlite", "driver: mysql")).unwrap();
        let o = c.run(&url, &["run", "queries/c.sql"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", c.name, text(&o));
        assert!(
            text(&o).contains("is not ready"),
            "{}: {}",
            c.name,
            text(&o)
        );
        assert!(
            db.accept().is_err(),
            "{}: the database was contacted",
            c.name
        );
    }
}

/// Retries end: a destination that keeps failing fails the file within its deadline,
/// and leaves nothing. (The local folder has no retries: its failures are final at once.)
#[test]
fn sinks_give_up_in_bounded_time_and_leave_nothing() {
    for c in Case::all() {
        let Some(s) = &c.drive else { continue };
        query(&c, "d.sql", "SELECT 1 AS n");
        s.st().faults.push_back(Fault::Persistent(503));
        let t = std::time::Instant::now();
        let o = c.run(DB, &["run", "queries/d.sql"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", c.name, text(&o));
        assert!(
            t.elapsed().as_secs() < 25,
            "{}: took {:?}",
            c.name,
            t.elapsed()
        );
        assert!(c.files().is_empty(), "{}", c.name);
        assert!(c.staging_is_empty(), "{}", c.name);
    }
}
