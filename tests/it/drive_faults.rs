//! Drive faults that must end, never duplicate, and be found early (issue 16, items 1,
//! 2, 4, 5, 16), against the strict stand-in in drive_standin.rs.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::drive::{assert_no_secrets, cmd, numbers_query, repo, run, upload_log};
use crate::drive_standin::{DRIVE_SCOPE, FOLDER, Fault, Standin};
use crate::support::text;

/// A 3 MiB query in 1 MiB chunks, its clean local copy, and the stand-in.
fn three_chunks(extra: &str) -> (Standin, crate::support::Repo, Vec<u8>) {
    let s = Standin::start();
    let repo = repo(&format!("    chunk_size_mib: 1\n{extra}"));
    numbers_query(&repo, 28_000);
    let o = run(&repo, &s, &["run", "queries/numbers_local.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let local = std::fs::read(repo.out("numbers.csv")).unwrap();
    assert!(local.len() > 2 * 1024 * 1024 + 1);
    (s, repo, local)
}

/// Regression (item 1): a chunk that fails for ever used to alternate PUT and
/// `bytes */N` without end. Now the upload stops at its deadline (or after the bounded
/// retries), says so, and leaves no file.
#[test]
fn drive_a_chunk_that_always_fails_ends_with_nothing_left_behind() {
    let (s, repo, _) = three_chunks("    upload_deadline: 12s\n");
    {
        let mut st = s.st();
        st.fault_from = 1024 * 1024;
        st.faults.push_back(Fault::Persistent(500));
    }
    let started = Instant::now();
    let o = run(&repo, &s, &["run", "queries/numbers.sql"]);
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let out = text(&o);
    assert!(
        out.contains("gave up after 12s") || out.contains("kept failing"),
        "{out}"
    );
    assert!(
        out.contains("nothing was left behind") || out.contains("try again later"),
        "{out}"
    );
    assert!(
        s.st().files_in(FOLDER).is_empty(),
        "a partial file was left"
    );
    let puts = upload_log(&s).len();
    assert!(
        puts < 40,
        "{puts} upload requests: the retries are not bounded"
    );
    // the staging folder is empty
    let work = repo.path().join("work/sqlcourier");
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "staging files left: {left:?}");
    assert_no_secrets(&s, &o);
}

/// Regression (item 2): the last chunk was stored but its answer was lost, and the
/// session was gone when asked: a new session made a second file with the same key.
/// Now the file is looked up again first. Both for a new file and for a re-run.
#[test]
fn drive_lost_answer_to_the_last_chunk_makes_no_duplicate() {
    let (s, repo, local) = three_chunks("");
    for round in ["new file", "re-run"] {
        {
            let mut st = s.st();
            st.fault_from = 2 * 1024 * 1024;
            st.faults.push_back(Fault::StoreThenDrop);
        }
        let o = run(&repo, &s, &["run", "queries/numbers.sql"]);
        assert_eq!(o.status.code(), Some(0), "{round}: {}", text(&o));
        assert!(s.st().faults.is_empty(), "{round}: the fault was never hit");
        let files = s.st().files_in(FOLDER);
        assert_eq!(files.len(), 1, "{round}: {files:?}");
        assert!(files[0].content == local, "{round}: content differs");
    }
    assert_eq!(s.st().sessions_started, 2, "a session was started again");
}

/// Item 4: `Retry-After: 2` is waited for (it used to be retried after 0.2 s).
#[test]
fn drive_retry_after_is_honoured() {
    let (s, repo, local) = three_chunks("");
    {
        let mut st = s.st();
        st.fault_from = 1024 * 1024;
        st.faults.push_back(Fault::StatusRetryAfter(429, 2));
    }
    let o = run(&repo, &s, &["run", "queries/numbers.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(s.st().files_in(FOLDER)[0].content == local);
    let st = s.st();
    let i = st
        .log
        .iter()
        .position(|l| {
            l.starts_with("PUT /upload/") && l.contains(&format!("bytes {}-", 1024 * 1024))
        })
        .unwrap();
    let gap = st.log_times[i + 1] - st.log_times[i];
    assert!(gap >= Duration::from_millis(1950), "retried after {gap:?}");
}

/// Item 4: the token endpoint's 429, 500 and 503 (an HTML page) are retried; two
/// expired tokens in one upload are both refreshed.
#[test]
fn drive_token_endpoint_errors_are_retried_and_every_expired_token_refreshed() {
    let (s, repo, local) = three_chunks("");
    s.st().token_faults.extend([429, 500, 503]);
    let o = run(&repo, &s, &["check", "--destinations"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        s.st().token_requests,
        4,
        "the token endpoint was not retried"
    );

    let before = s.st().token_requests;
    {
        let mut st = s.st();
        st.fault_from = 1024 * 1024;
        st.faults.push_back(Fault::ExpireToken);
        st.faults.push_back(Fault::ExpireToken);
    }
    let o = run(&repo, &s, &["run", "queries/numbers.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(s.st().faults.is_empty());
    assert_eq!(
        s.st().token_requests - before,
        3,
        "one token, two refreshes"
    );
    assert!(s.st().files_in(FOLDER)[0].content == local);
    assert_no_secrets(&s, &o);
}

fn dead_database(repo: &crate::support::Repo) -> (std::net::TcpListener, String) {
    let db = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    db.set_nonblocking(true).unwrap();
    let url = format!("mysql://reader:pw@{}/app", db.local_addr().unwrap());
    let yaml = repo.path().join("sqlcourier.yaml");
    let cfg = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, cfg.replace("driver: sqlite", "driver: mysql")).unwrap();
    (db, url)
}

/// Item 5: a folder outside a shared drive (a service account has no storage) and a
/// full drive are refused by the healthcheck, before the database is touched.
#[test]
fn drive_storage_problems_are_found_before_the_database() {
    let s = Standin::start();
    let repo = repo("");
    repo.query(
        "q.sql",
        "title: t\ndatabase: main\ndestination: drive",
        "SELECT 1 AS n",
    );
    let (db, url) = dead_database(&repo);
    s.st().my_drive.insert(FOLDER.to_string());
    let o = cmd(&repo, &s, &url)
        .args(["run", "queries/q.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not in a shared drive"), "{}", text(&o));
    assert!(db.accept().is_err(), "the database was contacted");

    s.st().my_drive.clear();
    s.st().quota = Some((1_000_000, 1_000_000));
    let o = cmd(&repo, &s, &url)
        .args(["run", "queries/q.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is full"), "{}", text(&o));
    assert!(db.accept().is_err(), "the database was contacted");
    assert_eq!(s.st().sessions_started, 0);

    s.st().quota = Some((1_000_000, 10));
    let o = cmd(&repo, &s, &url)
        .args(["check", "--destinations"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Item 16: the healthcheck reads every page of the folder's permissions — a link share
/// on page 2 is found.
#[test]
fn drive_link_share_on_the_second_page_is_found() {
    let s = Standin::start();
    s.share(serde_json::json!({"kind":"drive#permission","id":"p3","type":"user","role":"reader","emailAddress":"ann@example.com"}));
    s.share(
        serde_json::json!({"kind":"drive#permission","id":"p9","type":"anyone","role":"reader"}),
    );
    let repo = repo("");
    let o = run(&repo, &s, &["check", "--destinations"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("anyone with the link"), "{}", text(&o));
    assert!(
        s.st()
            .log
            .iter()
            .any(|l| l.contains("/permissions?") && l.contains("pageToken=page-2")),
        "the second page was never asked for"
    );
}

/// Item 16: every token sqlcourier asked for carried exactly the one Drive scope (the
/// stand-in records each JWT's `scope` claim).
#[test]
fn drive_every_token_asks_for_exactly_the_drive_scope() {
    let (s, repo, _) = three_chunks("");
    let o = run(&repo, &s, &["run", "queries/numbers.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let claims = s.st().scope_claims.clone();
    assert!(!claims.is_empty());
    assert!(claims.iter().all(|c| c == DRIVE_SCOPE), "{claims:?}");
}

fn raw(s: &Standin, req: &str) -> String {
    let mut c = std::net::TcpStream::connect(s.addr).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out
}

/// Item 16: the stand-in refuses what Drive refuses, so the tests above can fail.
#[test]
fn drive_standin_refuses_what_drive_refuses() {
    let s = Standin::start();
    s.grant("tok-ok", DRIVE_SCOPE);
    s.grant(
        "tok-wide",
        &format!("{DRIVE_SCOPE} https://www.googleapis.com/auth/cloud-platform"),
    );
    let get = |fields: &str, token: &str| {
        raw(
            &s,
            &format!(
                "GET /drive/v3/files/{FOLDER}?supportsAllDrives=true&fields={fields} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    assert!(get("id,name", "tok-ok").starts_with("HTTP/1.1 200"));
    assert!(
        get("id,nmae", "tok-ok").starts_with("HTTP/1.1 400"),
        "a misspelt field"
    );
    assert!(get("id,capabilities(canAdd)", "tok-ok").starts_with("HTTP/1.1 400"));
    assert!(
        get("id", "tok-wide").starts_with("HTTP/1.1 403"),
        "more scopes than asked"
    );
    // a chunk without Authorization
    let put = raw(
        &s,
        "PUT /upload/drive/v3/files?uploadType=resumable&upload_id=session1 HTTP/1.1\r\nHost: x\r\nContent-Range: bytes */10\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(put.starts_with("HTTP/1.1 401"), "{put}");
}

/// Item 6: a renamed query file makes a new file (its identity is its path); the run
/// report says what happens to the old one.
#[test]
fn drive_renamed_query_says_what_happens_to_the_old_file() {
    let s = Standin::start();
    let repo = repo("    retention_days: 30\n");
    let front = "title: t\ndatabase: main\ndestination: drive\noutput: {file: \"t.csv\"}";
    repo.query("old_name.sql", front, "SELECT 1 AS n");
    let o = run(&repo, &s, &["run", "queries/old_name.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::rename(
        repo.path().join("queries/old_name.sql"),
        repo.path().join("queries/new_name.sql"),
    )
    .unwrap();
    let o = run(
        &repo,
        &s,
        &["run", "queries/new_name.sql", "--report", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(s.st().files_in(FOLDER).len(), 2);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let notes = report[0]["notes"].to_string();
    assert!(notes.contains("queries/old_name.sql"), "{notes}");
    assert!(notes.contains("sqlcourier prune"), "{notes}");
    // a re-run of the new name updates its own file and says nothing more
    let o = run(
        &repo,
        &s,
        &["run", "queries/new_name.sql", "--report", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(s.st().files_in(FOLDER).len(), 2);
}
