//! The Google Drive sink, end to end: the real binary, the real google-drive3 and
//! yup-oauth2 code, against the local stand-in in drive_standin.rs. SQLite (in memory)
//! is the database, so no server is needed.

use std::process::{Command, Output};

use crate::drive_standin::{FOLDER, Fault, SERVICE_ACCOUNT, Standin, TEST_KEY_PEM};
use crate::support::{Repo, text};

pub(crate) const SQLITE: &str = "sqlite::memory:";

/// A repository with a local destination `out` and a Drive destination `drive`
/// (readers: ann@example.com); `extra` adds lines to the Drive destination.
pub(crate) fn repo(extra: &str) -> Repo {
    let repo = Repo::new("sqlite");
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        format!(
            "defaults:\n  timezone: Asia/Tokyo\n  encoding: utf-8\ndatabases:\n  main: {{driver: sqlite, url_env: SQLCOURIER_DB_MAIN}}\ndestinations:\n  out: {{type: local, path: out}}\n  drive:\n    type: drive\n    folder_id: {FOLDER}\n    key_env: SQLCOURIER_DRIVE_KEY\n    readers:\n      users: [ann@example.com]\n{extra}masking:\n  key_env: SQLCOURIER_MASK_KEY\n"
        ),
    )
    .unwrap();
    repo
}

pub(crate) fn cmd(repo: &Repo, s: &Standin, db_url: &str) -> Command {
    let mut c = repo.cmd(db_url);
    c.env("SQLCOURIER_DRIVE_KEY", s.key_json())
        .env("SQLCOURIER_DRIVE_ROOT_URL", s.root_url())
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env_remove("GITHUB_SERVER_URL");
    c
}

pub(crate) fn run(repo: &Repo, s: &Standin, args: &[&str]) -> Output {
    cmd(repo, s, SQLITE).args(args).output().unwrap()
}

/// A query that makes `rows` rows of about 110 bytes, once for Drive and once for
/// the local folder (the reference copy).
pub(crate) fn numbers_query(repo: &Repo, rows: u64) {
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) SELECT i AS n, printf('%0100d', i) AS pad FROM n"
    );
    repo.query(
        "numbers.sql",
        "title: numbers\ndatabase: main\ndestination: drive\noutput: {file: \"numbers.csv\"}",
        &sql,
    );
    repo.query(
        "numbers_local.sql",
        "title: numbers\ndatabase: main\ndestination: out\noutput: {file: \"numbers.csv\"}",
        &sql,
    );
}

/// The stand-in's log lines that are chunk PUTs or status queries.
pub(crate) fn upload_log(s: &Standin) -> Vec<String> {
    s.st()
        .log
        .iter()
        .filter(|l| l.starts_with("PUT /upload/"))
        .cloned()
        .collect()
}

pub(crate) fn assert_no_secrets(s: &Standin, o: &Output) {
    let all = text(o);
    for line in TEST_KEY_PEM.lines().filter(|l| l.len() > 20) {
        assert!(!all.contains(line), "a key line leaked:\n{all}");
    }
    for t in &s.st().issued_tokens {
        assert!(!all.contains(t.as_str()), "an access token leaked:\n{all}");
    }
    assert!(!all.contains("ya29."), "{all}");
}

#[test]
fn drive_delivers_with_provenance_and_a_rerun_updates_the_same_file() {
    let s = Standin::start();
    let repo = repo("");
    numbers_query(&repo, 50);
    let o = run(
        &repo,
        &s,
        &["run", "queries/numbers.sql", "queries/numbers_local.sql"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let local = std::fs::read(repo.out("numbers.csv")).unwrap();
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 1, "{files:?}");
    let f = &files[0];
    assert_eq!(f.name, "numbers.csv");
    assert_eq!(f.content, local, "Drive's copy differs from the local one");
    let p = &f.app_properties;
    assert_eq!(p["sqlcourier"], "1");
    assert_eq!(p["query"], "queries/numbers.sql");
    assert_eq!(p["rows"], "50");
    assert_eq!(p["bytes"], local.len().to_string());
    assert_eq!(p["commit"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(p["query_sha256"].len(), 64);
    assert!(f.description.contains("Rows: 50"), "{}", f.description);
    assert!(
        f.description.contains("Query: queries/numbers.sql"),
        "{}",
        f.description
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("https://drive.google.com/file/d/{}/view", f.id)),
        "{stdout}"
    );
    let first_id = f.id.clone();

    assert!(!p.contains_key("run_url"));

    // a re-run with a run URL records it
    let o = cmd(&repo, &s, SQLITE)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/reports")
        .env("GITHUB_RUN_ID", "4242")
        .args(["run", "queries/numbers.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let f = &s.st().files_in(FOLDER)[0];
    assert_eq!(
        f.app_properties["run_url"],
        "https://github.com/acme/reports/actions/runs/4242"
    );
    assert!(
        f.description
            .contains("Run: https://github.com/acme/reports/actions/runs/4242")
    );

    // a re-run (new commit, same query and period, no run URL) replaces the content of the
    // same file, and clears the old run URL (sent as null)
    let o = cmd(&repo, &s, SQLITE)
        .env("GITHUB_SHA", "fedcba9876543210fedcba9876543210fedcba98")
        .args(["run", "queries/numbers.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 1, "a re-run made a second file: {files:?}");
    assert_eq!(files[0].id, first_id);
    assert_eq!(
        files[0].app_properties["commit"],
        "fedcba9876543210fedcba9876543210fedcba98"
    );
    assert_eq!(files[0].content, local);
    assert!(
        !files[0].app_properties.contains_key("run_url"),
        "stale run_url kept"
    );
    // the folder lookup used the explicit scope and appProperties, on every call
    let log = s.st().log.clone();
    assert!(
        log.iter()
            .any(|l| l.contains("/drive/v3/files?") && l.contains("appProperties")),
        "{log:#?}"
    );
    assert_eq!(s.st().sessions_started, 3);
    assert_no_secrets(&s, &o);
}

/// Each fault hits the second chunk of a 3 MiB upload in 1 MiB chunks; the upload must
/// resume in the same session and deliver one byte-identical file.
#[test]
fn drive_upload_resumes_after_each_fault() {
    let cases: Vec<(&str, Fault)> = vec![
        ("429", Fault::Status(429, "rateLimitExceeded")),
        ("500", Fault::Status(500, "backendError")),
        ("503", Fault::Status(503, "backendError")),
        ("dropped", Fault::DropMidChunk),
        ("expired token", Fault::ExpireToken),
    ];
    for (name, fault) in cases {
        let s = Standin::start();
        let repo = repo("    chunk_size_mib: 1\n");
        numbers_query(&repo, 28_000); // about 3 MiB
        let o = run(&repo, &s, &["run", "queries/numbers_local.sql"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let local = std::fs::read(repo.out("numbers.csv")).unwrap();
        assert!(local.len() > 2 * 1024 * 1024 + 1, "{}", local.len());

        // the fault hits the first chunk that starts at 1 MiB or later: the second one
        {
            let mut st = s.st();
            st.fault_from = 1024 * 1024;
            st.faults.push_back(fault);
        }
        let o = cmd(&repo, &s, SQLITE)
            .env("SQLCOURIER_LOG", "debug")
            .args(["run", "queries/numbers.sql"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        let files = s.st().files_in(FOLDER);
        assert_eq!(files.len(), 1, "{name}: {files:?}");
        assert!(
            files[0].content == local,
            "{name}: content differs ({} vs {} bytes)",
            files[0].content.len(),
            local.len()
        );
        assert_eq!(
            s.st().sessions_started,
            1,
            "{name}: the upload started over"
        );
        assert!(s.st().faults.is_empty(), "{name}: the fault was never hit");
        let log = upload_log(&s);
        let total = local.len();
        assert!(
            log.iter().any(|l| l.ends_with(&format!("bytes */{total}"))),
            "{name}: the session was never asked how much it has: {log:#?}"
        );
        if name == "expired token" {
            assert_eq!(
                s.st().token_requests,
                2,
                "{name}: the token was not refreshed"
            );
        }
        if name == "dropped" {
            // Drive kept 512 KiB of the dropped chunk: the resend starts there, not at 1 MiB
            assert!(
                log.iter()
                    .any(|l| l.contains(&format!("bytes {}-", 1024 * 1024 + 512 * 1024))),
                "{name}: did not resume from the server's offset: {log:#?}"
            );
        }
        assert_no_secrets(&s, &o);
    }
}

#[test]
fn drive_forgotten_session_starts_the_upload_over() {
    let s = Standin::start();
    let repo = repo("    chunk_size_mib: 1\n");
    numbers_query(&repo, 28_000);
    let o = run(&repo, &s, &["run", "queries/numbers_local.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let local = std::fs::read(repo.out("numbers.csv")).unwrap();
    {
        let mut st = s.st();
        st.fault_from = 1024 * 1024;
        st.faults.push_back(Fault::ForgetSession);
    }
    let o = run(&repo, &s, &["run", "queries/numbers.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        s.st().sessions_started,
        2,
        "a forgotten session was not replaced"
    );
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].content == local, "content differs");
}

#[test]
fn drive_metadata_calls_retry_on_429_and_5xx_and_refresh_an_expired_token() {
    let s = Standin::start();
    let repo = repo("");
    {
        let mut st = s.st();
        st.api_faults.push_back(Fault::Status(500, "backendError"));
        st.api_faults
            .push_back(Fault::Status(429, "rateLimitExceeded"));
        st.api_faults.push_back(Fault::ExpireToken);
    }
    let o = run(&repo, &s, &["check", "--destinations"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(s.st().api_faults.is_empty());
    assert_eq!(
        s.st().token_requests,
        2,
        "the expired token was not refreshed"
    );
    // a token endpoint that drops the connection is tried again
    s.st().token_drops = 1;
    let o = run(&repo, &s, &["check", "--destinations"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        s.st().token_requests,
        4,
        "the token request was not retried"
    );
    // a 403 permission error is not retried
    s.st()
        .api_faults
        .push_back(Fault::Status(403, "insufficientFilePermissions"));
    let before = s.st().log.len();
    let o = run(&repo, &s, &["check", "--destinations"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("is not allowed to do this"),
        "{}",
        text(&o)
    );
    let gets = s.st().log[before..]
        .iter()
        .filter(|l| l.starts_with("GET /drive/v3/files/"))
        .count();
    assert_eq!(gets, 1, "a permission error was retried");
    assert_no_secrets(&s, &o);
}

#[test]
fn drive_quota_error_fails_at_once_with_advice_and_no_secrets() {
    let s = Standin::start();
    let repo = repo("");
    numbers_query(&repo, 10);
    s.st()
        .faults
        .push_back(Fault::SessionStatus(403, "storageQuotaExceeded"));
    let o = cmd(&repo, &s, SQLITE)
        .env("SQLCOURIER_LOG", "debug")
        .args(["run", "queries/numbers.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("storage quota"), "{out}");
    assert!(out.contains("shared drive"), "{out}");
    assert!(out.contains(SERVICE_ACCOUNT), "{out}");
    assert_eq!(s.st().sessions_started, 0, "retried a quota error");
    assert!(s.st().files_in(FOLDER).is_empty());
    assert_no_secrets(&s, &o);
}

#[test]
fn drive_over_shared_folder_is_refused_before_the_database_is_touched() {
    let s = Standin::start();
    s.share(
        serde_json::json!({"kind":"drive#permission","id":"p9","type":"anyone","role":"reader"}),
    );
    s.share(serde_json::json!({"kind":"drive#permission","id":"p8","type":"user","role":"writer","emailAddress":"eve@example.org"}));
    let repo = repo("");
    repo.query(
        "q.sql",
        "title: t\ndatabase: main\ndestination: drive",
        "SELECT 1 AS n",
    );
    // a "database" that records whether anyone connects
    let db = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    db.set_nonblocking(true).unwrap();
    let url = format!("mysql://reader:pw@{}/app", db.local_addr().unwrap());
    std::fs::write(
        repo.path().join("sqlcourier.yaml"),
        std::fs::read_to_string(repo.path().join("sqlcourier.yaml"))
            .unwrap()
            .replace("driver: sqlite", "driver: mysql"),
    )
    .unwrap();
    let o = cmd(&repo, &s, &url)
        .args(["run", "queries/q.sql"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("refusing to deliver"), "{out}");
    assert!(out.contains("anyone with the link"), "{out}");
    assert!(out.contains("eve@example.org"), "{out}");
    assert!(
        !out.contains("ann@example.com"),
        "a configured reader was listed: {out}"
    );
    assert!(db.accept().is_err(), "the database was contacted");
    assert_eq!(s.st().sessions_started, 0);

    // check --destinations says the same, and touches no database either
    let o = cmd(&repo, &s, &url)
        .args(["check", "--destinations"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("eve@example.org"), "{}", text(&o));
    assert!(db.accept().is_err(), "the database was contacted");

    // with only the configured reader left, the check passes
    s.st()
        .permissions
        .get_mut(FOLDER)
        .unwrap()
        .retain(|p| p["id"] != "p9" && p["id"] != "p8");
    let o = cmd(&repo, &s, &url)
        .args(["check", "--destinations"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("ok      drive"),
        "{}",
        text(&o)
    );
}

#[test]
fn drive_missing_folder_and_read_only_folder_are_explained() {
    let s = Standin::start();
    let repo = repo("");
    let o = run(
        &repo,
        &s,
        &["check", "--destinations", "--destination", "drive"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    s.st().files.get_mut(FOLDER).unwrap().can_add_children = false;
    let o = run(
        &repo,
        &s,
        &["check", "--destinations", "--destination", "drive"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("cannot add files"), "{}", text(&o));
    s.st().files.remove(FOLDER);
    let o = run(
        &repo,
        &s,
        &["check", "--destinations", "--destination", "drive"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("was not found"), "{}", text(&o));
    assert_no_secrets(&s, &o);
}

#[test]
fn drive_prune_trashes_only_old_sqlcourier_files() {
    let s = Standin::start();
    let repo = repo("    retention_days: 30\n");
    let ours = [("sqlcourier", "1"), ("sqlcourier_key", "k")];
    let old_ours = s.seed("old.csv", FOLDER, &ours, 40);
    let new_ours = s.seed("new.csv", FOLDER, &ours, 5);
    let old_foreign = s.seed("hand-made.xlsx", FOLDER, &[], 400);
    let old_other_app = s.seed("other.csv", FOLDER, &[("sqlcourier", "0")], 400);
    let old_elsewhere = s.seed("elsewhere.csv", "anotherFolder", &ours, 400);

    let o = run(&repo, &s, &["prune", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains(&format!("would trash drive: old.csv (id {old_ours}")),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!s.st().files[&old_ours].trashed, "dry run trashed a file");

    let o = run(&repo, &s, &["prune"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = s.st();
    assert!(st.files[&old_ours].trashed);
    for id in [&new_ours, &old_foreign, &old_other_app, &old_elsewhere] {
        assert!(!st.files[id].trashed, "{id} was trashed");
    }
}

#[test]
fn drive_sheets_conversion_is_checked_and_named() {
    let s = Standin::start();
    let repo = repo("    convert_to_sheets: true\n");
    numbers_query(&repo, 10);
    let o = run(&repo, &s, &["run", "queries/numbers.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "numbers");
    assert_eq!(
        files[0].mime_type,
        "application/vnd.google-apps.spreadsheet"
    );
    assert_eq!(files[0].imported_from.as_deref(), Some("text/csv"));

    // 1,001 columns × 10,000 rows (+ header) is over 10,000,000 cells: refused before uploading
    let cols: Vec<String> = (0..1001).map(|c| format!("1 AS c{c}")).collect();
    repo.query(
        "wide.sql",
        "title: wide\ndatabase: main\ndestination: drive\noutput: {file: \"wide.csv\"}",
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) SELECT {} FROM n",
            cols.join(", ")
        ),
    );
    let o = run(&repo, &s, &["run", "queries/wide.sql"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("10001 rows × 1001 columns = 10011001 cells"),
        "{}",
        text(&o)
    );
    assert_eq!(
        s.st().sessions_started,
        1,
        "the over-large file was uploaded"
    );
}

/// `convert_to_sheets` with `format: xlsx`: the workbook is sent as an xlsx upload whose
/// metadata asks for a Google Sheet, so Drive converts it (the stand-in records which
/// media type each Sheet was converted from, and refuses a conversion Drive would
/// not do). What Google makes of the cell types is Google's and not checked offline.
#[test]
fn drive_sheets_conversion_of_a_workbook_asks_drive_to_convert_the_xlsx() {
    use crate::drive_standin::{SHEETS_MIME, XLSX_MIME};
    let s = Standin::start();
    let repo = repo("    convert_to_sheets: true\n");
    repo.query(
        "book.sql",
        "title: book\ndatabase: main\ndestination: drive\noutput: {file: \"book.xlsx\", format: xlsx}",
        "SELECT '0123' AS code, 12.5 AS amount, DATE('2026-10-31') AS day",
    );
    let o = run(&repo, &s, &["run", "queries/book.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (id, first_meta) = {
        let st = s.st();
        let files = st.files_in(FOLDER);
        assert_eq!(files.len(), 1, "{files:?}");
        let f = &files[0];
        assert_eq!(f.name, "book", "a Sheet is named without .xlsx");
        assert_eq!(f.mime_type, SHEETS_MIME);
        assert_eq!(f.imported_from.as_deref(), Some(XLSX_MIME));
        assert!(f.content.starts_with(b"PK\x03\x04"), "not a workbook");
        assert_eq!(st.upload_types, vec![XLSX_MIME.to_string()]);
        (f.id.clone(), st.metadata[0].clone())
    };
    assert_eq!(first_meta["mimeType"], SHEETS_MIME, "{first_meta}");

    // a re-run updates the same Sheet with a new workbook, converted again
    let o = run(&repo, &s, &["run", "queries/book.sql"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = s.st();
    let files = st.files_in(FOLDER);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].id, id);
    assert_eq!(files[0].mime_type, SHEETS_MIME);
    assert_eq!(files[0].imported_from.as_deref(), Some(XLSX_MIME));
    assert_eq!(st.upload_types.len(), 2);
    assert!(
        st.upload_types.iter().all(|t| t == XLSX_MIME),
        "{:?}",
        st.upload_types
    );
    let update = st.metadata.last().unwrap();
    assert!(
        update.get("mimeType").is_none(),
        "an update cannot change the type: {update}"
    );
}

/// Peak memory (VmHWM) of the real binary uploading a ~100 MiB file in 4 MiB chunks.
#[test]
fn drive_100_mib_upload_keeps_memory_flat() {
    let s = Standin::start();
    let repo = repo("    chunk_size_mib: 4\n");
    numbers_query(&repo, 1_000_000); // ~109 MB
    let mut child = cmd(&repo, &s, SQLITE)
        .args(["run", "queries/numbers.sql"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    loop {
        if let Ok(st) = std::fs::read_to_string(&status_path)
            && let Some(l) = st.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = l.split_whitespace().nth(1).unwrap().parse().unwrap();
            peak_kib = peak_kib.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 1);
    let size = files[0].content.len() as u64;
    assert!(size > 100 * 1024 * 1024, "only {size} bytes");
    assert_eq!(files[0].app_properties["bytes"], size.to_string());
    assert_eq!(
        files[0].content.iter().filter(|&&b| b == b'\n').count(),
        1_000_001
    );
    eprintln!("peak RSS {peak_kib} KiB for a {size}-byte upload");
    assert!(peak_kib > 0, "could not read VmHWM");
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB is not far below {size} bytes"
    );
}

#[test]
fn drive_key_from_a_file_works_and_a_broken_key_is_explained_without_echoing_it() {
    let s = Standin::start();
    let repo = repo("");
    let yaml = repo.path().join("sqlcourier.yaml");
    let cfg = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        cfg.replace(
            "key_env: SQLCOURIER_DRIVE_KEY",
            "key_file: secrets/key.json",
        ),
    )
    .unwrap();
    std::fs::create_dir_all(repo.path().join("secrets")).unwrap();
    std::fs::write(repo.path().join("secrets/key.json"), s.key_json()).unwrap();
    let o = cmd(&repo, &s, SQLITE)
        .env_remove("SQLCOURIER_DRIVE_KEY")
        .args(["check", "--destinations"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // a key cut short: said in plain words, no part of it printed
    let key = s.key_json();
    std::fs::write(repo.path().join("secrets/key.json"), &key[..key.len() / 2]).unwrap();
    let o = cmd(&repo, &s, SQLITE)
        .args(["check", "--destinations"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("does not hold a Google service-account key JSON"),
        "{}",
        text(&o)
    );
    assert_no_secrets(&s, &o);
}

/// Fifty query files × two variants in one invocation, while one chunk upload in ten
/// fails once with 503 and one connection drops mid-chunk: every file is delivered
/// exactly once, byte-identical to a clean run, and the report lists all of them.
#[test]
fn drive_fifty_queries_with_faults_deliver_every_file_exactly_once() {
    let s = Standin::start();
    let repo = repo("");
    for i in 0..50 {
        let sql = format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) SELECT i + :base AS n, 'q{i:02}, \"row\"' AS label FROM n"
        );
        let front = |dest: &str| {
            format!(
                "title: q{i:02}\ndatabase: main\ndestination: {dest}\noutput: {{file: \"q{i:02}_{{variant}}.csv\"}}\nvariants:\n  - {{name: a, params: {{base: 0}}}}\n  - {{name: b, params: {{base: 1000}}}}"
            )
        };
        repo.query(&format!("drive/q{i:02}.sql"), &front("drive"), &sql);
        repo.query(&format!("local/q{i:02}.sql"), &front("out"), &sql);
    }
    let o = run(&repo, &s, &["run", "queries/local"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    {
        let mut st = s.st();
        st.periodic = Some((10, Fault::Status(503, "backendError")));
        st.faults.push_back(Fault::DropMidChunk);
    }
    let o = run(&repo, &s, &["run", "queries/drive", "--report", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = report.as_array().unwrap();
    assert_eq!(entries.len(), 100);
    assert!(
        entries.iter().all(|e| e["status"] == "delivered"),
        "{report}"
    );
    let files = s.st().files_in(FOLDER);
    assert_eq!(files.len(), 100, "exactly once each");
    for f in &files {
        let local = std::fs::read(repo.out(&f.name)).unwrap();
        assert!(f.content == local, "{} differs from the clean run", f.name);
    }
    let injected = s
        .st()
        .log
        .iter()
        .filter(|l| l.starts_with("PUT /upload/"))
        .count();
    assert!(
        injected > 110,
        "the faults caused resends: {injected} chunk requests"
    );
    assert!(
        s.st().faults.is_empty(),
        "the dropped connection was never injected"
    );
    assert_no_secrets(&s, &o);
}
