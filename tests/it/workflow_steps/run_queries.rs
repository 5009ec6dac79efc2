//! The build, plan and run-N jobs of `_run-queries.yml`.

use super::*;

/// The build job: Install Rust (rustup recorded, the real `rustc --version`), Build
/// release binary (cargo recorded, see [`fake_cargo`]), Check glibc (the real
/// objdump on the real binary: this machine is Debian 12, glibc 2.36, as the runners),
/// Package (dist/ with a SHA256SUMS that verifies, and `--version` of the packaged
/// binary).
#[test]
fn build_job_builds_checks_glibc_and_packages_the_binary() {
    let mut r = Runner::new();
    fake_rustup(&r);
    fake_cargo(&r);
    let w = "_run-queries.yml";
    let ran = r.run(&Step::load(w, "build", "Install Rust (stable)"));
    ran.assert_ok();
    assert!(ran.stdout.starts_with("rustc 1."), "{}", ran.log());
    let ran = r.run(&Step::load(w, "build", "Build release binary"));
    ran.assert_ok();
    assert_eq!(
        r.tool_log(),
        [
            "rustup toolchain install stable --profile minimal --no-self-update",
            "rustup default stable",
            "cargo build --release --locked --bin sqlcourier",
        ]
    );
    let ran = r.run(&Step::load(w, "build", "Check glibc (runners have 2.36)"));
    ran.assert_ok();
    let newest = ran
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("newest glibc symbol: GLIBC_"))
        .unwrap_or_else(|| panic!("{}", ran.log()));
    let minor: u32 = newest.split('.').nth(1).unwrap().parse().unwrap();
    assert!(minor <= 36, "{}", ran.log());
    assert!(!ran.all().contains("::error::"), "{}", ran.log());

    let ran = r.run(&Step::load(w, "build", "Package"));
    ran.assert_ok();
    assert!(ran.stdout.contains("  sqlcourier\n"), "{}", ran.log());
    assert!(ran.stdout.contains("sqlcourier 0.1.0"), "{}", ran.log());
    let dist = r.workspace().join("dist");
    let check = Command::new("sha256sum")
        .current_dir(&dist)
        .args(["--check", "SHA256SUMS"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    assert_eq!(
        std::fs::read(dist.join("sqlcourier")).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_sqlcourier")).unwrap()
    );
}

/// A binary linked against a newer glibc than the runners' 2.36 (the real binary with
/// a symbol version renamed to GLIBC_2.39 in its dynamic string table, as a build on
/// ubuntu-24.04 would leave it) fails the build.
#[test]
fn check_glibc_refuses_a_binary_that_needs_a_newer_glibc() {
    let mut r = Runner::new();
    let bin = r.workspace().join("target/release/sqlcourier");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    let mut bytes = std::fs::read(env!("CARGO_BIN_EXE_sqlcourier")).unwrap();
    // any version of the same length will do: GLIBC_2.39 becomes the newest
    let to = b"GLIBC_2.39\0";
    let at = (30..=36)
        .find_map(|minor| {
            let from = format!("GLIBC_2.{minor}\0");
            bytes.windows(from.len()).position(|w| w == from.as_bytes())
        })
        .expect("the binary needs a GLIBC_2.3x symbol version");
    bytes[at..at + to.len()].copy_from_slice(to);
    std::fs::write(&bin, bytes).unwrap();
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "build",
        "Check glibc (runners have 2.36)",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(
        ran.stdout.contains("newest glibc symbol: GLIBC_2.39\n"),
        "{}",
        ran.log()
    );
    assert!(
        ran.stdout
            .contains("::error::sqlcourier needs GLIBC_2.39, newer than the runners' glibc 2.36"),
        "{}",
        ran.log()
    );
}

// ------------------------------------------------------------------ plan job

#[test]
fn plan_refuses_manual_runs_from_other_branches_only() {
    let step = Step::load(
        "_run-queries.yml",
        "plan",
        "Refuse manual runs from other branches",
    );
    let mut r = Runner::new();
    r.expr("github.event.repository.default_branch", "main");
    r.expr("inputs.event", "workflow_dispatch")
        .var("GITHUB_REF", "refs/heads/try-a-query");
    let ran = r.run(&step);
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(
        ran.stdout.contains(
            "::error::Manual runs only use reviewed queries: start this workflow from the main branch, not refs/heads/try-a-query."
        ),
        "{}",
        ran.log()
    );
    r.var("GITHUB_REF", "refs/heads/main");
    r.run(&step).assert_ok();
    // a push or a schedule is never refused here (pushes only start from main)
    r.expr("inputs.event", "push")
        .var("GITHUB_REF", "refs/heads/try-a-query");
    r.run(&step).assert_ok();
}

/// The `plan` job's inputs as `_run-queries.yml` receives them.
fn plan_inputs(r: &mut Runner, event: &str) {
    for (k, v) in [
        ("inputs.event", event),
        ("inputs.before", ""),
        ("inputs.after", ""),
        ("inputs.schedule", "monthly"),
        ("inputs.since", ""),
        ("inputs.glob", "queries/**/*.sql"),
        ("inputs.period", ""),
        ("github.token", github_api::TOKEN),
    ] {
        r.expr(k, v);
    }
}

/// A push: the plan reads the run's original creation time from the stand-in and
/// writes batch-0..3, count and batches to GITHUB_OUTPUT (what the run-N jobs' matrix
/// reads), and the plan to the job summary. A dispatch with a glob and a period plans
/// that month without asking GitHub for the time; a schedule plans what fell due since
/// the previous dispatcher run.
#[test]
fn plan_step_writes_the_batches_of_a_push_and_of_a_dispatch() {
    let api = StandIn::start();
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-02T01:00:00Z".into(),
                "2026-11-02T01:00:05Z".into(),
                1,
            ),
        )
    });
    let mut r = Runner::new();
    r.api(&api);
    let w = r.workspace();
    git(&w, &["init", "-q", "-b", "main"]);
    checkout(&w);
    write(
        &w,
        "queries/adhoc/once.sql",
        "/*---\ntitle: once\ndatabase: main\ndestination: out\n---*/\nSELECT 1 AS n\n",
    );
    git(&w, &["add", "-A"]);
    git(&w, &["commit", "-q", "-m", "base"]);
    let before = git(&w, &["rev-parse", "HEAD"]);
    write(
        &w,
        "queries/monthly/signups.sql",
        &SIGNUPS.replace("ORDER BY m.prefecture", "ORDER BY signups DESC"),
    );
    git(&w, &["commit", "-q", "-am", "sort by signups"]);
    let after = git(&w, &["rev-parse", "HEAD"]);
    r.download_sqlcourier();
    plan_inputs(&mut r, "push");
    r.expr("inputs.before", &before)
        .expr("inputs.after", &after);
    let step = Step::load("_run-queries.yml", "plan", "Plan");
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout.contains(": OK"),
        "sha256sum --check: {}",
        ran.log()
    );
    let batch: Value = serde_json::from_str(&ran.outputs["batch-0"]).unwrap();
    assert_eq!(
        batch["include"],
        serde_json::json!([{"query": "queries/monthly/signups.sql", "id": "monthly-signups", "period": "2026-10", "variants": []}]),
        "{}",
        ran.log()
    );
    for i in 1..4 {
        assert_eq!(ran.outputs[&format!("batch-{i}")], r#"{"include":[]}"#);
    }
    assert_eq!(ran.outputs["count"], "1");
    assert_eq!(ran.outputs["batches"], "1");
    assert!(
        ran.summary.starts_with("### Plan\n\n```json\n{"),
        "{}",
        ran.log()
    );
    assert!(ran.summary.contains("\"monthly-signups\""), "{}", ran.log());
    assert_eq!(api.count("GET", "/actions/runs/4242"), 1);

    // Monthly → Run workflow with a glob and a month
    let mut r2 = Runner::new();
    r2.api(&api);
    checkout(&r2.workspace());
    r2.download_sqlcourier();
    plan_inputs(&mut r2, "workflow_dispatch");
    r2.expr("inputs.glob", "queries/monthly/*.sql")
        .expr("inputs.period", "2026-09");
    let ran = r2.run(&step);
    ran.assert_ok();
    let batch: Value = serde_json::from_str(&ran.outputs["batch-0"]).unwrap();
    assert_eq!(batch["include"][0]["period"], "2026-09", "{}", ran.log());
    assert_eq!(ran.outputs["count"], "1");

    // the hourly dispatcher: run 4300 was created 2026-11-01 00:30 JST; the window
    // since the previous run (23:17 JST) holds the Tokyo midnight of the 1st
    api.with(|d| {
        d.runs.insert(
            4300,
            (
                "2026-10-31T15:30:00Z".into(),
                "2026-10-31T15:30:04Z".into(),
                1,
            ),
        )
    });
    let mut r3 = Runner::new();
    r3.api(&api).var("GITHUB_RUN_ID", "4300");
    checkout(&r3.workspace());
    r3.download_sqlcourier();
    plan_inputs(&mut r3, "schedule");
    r3.expr("inputs.schedule", "due")
        .expr("inputs.since", "2026-10-31T14:17:00Z");
    let ran = r3.run(&step);
    ran.assert_ok();
    let batch: Value = serde_json::from_str(&ran.outputs["batch-0"]).unwrap();
    assert_eq!(
        batch["include"][0]["id"],
        "monthly-signups",
        "{}",
        ran.log()
    );
    assert_eq!(batch["include"][0]["period"], "2026-10", "{}", ran.log());
    // an hour later the window no longer holds it: never planned twice
    r3.expr("inputs.since", "2026-10-31T15:30:00Z");
    api.with(|d| {
        d.runs.insert(
            4300,
            (
                "2026-10-31T16:30:00Z".into(),
                "2026-10-31T16:30:04Z".into(),
                1,
            ),
        )
    });
    let ran = r3.run(&step);
    ran.assert_ok();
    assert_eq!(ran.outputs["count"], "0", "{}", ran.log());
}

#[test]
fn plan_step_refuses_an_unknown_event() {
    let mut r = Runner::new();
    checkout(&r.workspace());
    r.download_sqlcourier();
    plan_inputs(&mut r, "pull_request");
    let ran = r.run(&Step::load("_run-queries.yml", "plan", "Plan"));
    assert_eq!(ran.code, Some(2), "{}", ran.log());
    assert!(
        ran.stdout.contains("::error::unknown event 'pull_request'"),
        "{}",
        ran.log()
    );
    assert!(ran.outputs.is_empty(), "{}", ran.log());
}

// ------------------------------------------------------------------ run jobs

/// The four batch jobs share their steps (`steps: *run-steps`): each delivers the
/// query's file, prints the JSON report, and keeps the job summary as
/// `<id>--attempt-1.md` for the pull-request comment.
#[test]
fn run_step_delivers_on_every_batch_job_and_keeps_the_summary_per_attempt() {
    let first = Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    );
    for job in ["run-0", "run-1", "run-2", "run-3"] {
        let step = Step::load(
            "_run-queries.yml",
            job,
            "Run the query and deliver its files",
        );
        assert_eq!(step.script, first.script, "{job}");
        let db = tempfile::tempdir().unwrap();
        let mut r = run_job(db.path());
        let ran = r.run(&step);
        ran.assert_ok();
        let csv = read(r.workspace().join("out/signups_2026-10.csv"));
        assert_eq!(
            crate::support::parse_csv(&csv),
            [
                ["prefecture", "signups"].map(|s| Some(s.to_string())),
                ["Osaka", "1"].map(|s| Some(s.to_string())),
                ["Tokyo", "2"].map(|s| Some(s.to_string())),
            ],
            "{job}"
        );
        let out = r.temp().join("sqlcourier-summary");
        let report: Value = serde_json::from_str(&read(out.join("report.json"))).unwrap();
        assert_eq!(report[0]["rows"], 2, "{report}");
        // the report is printed for the log too
        assert!(ran.stdout.contains("\"rows\": 2"), "{}", ran.log());
        let md = read(out.join("monthly-signups--attempt-1.md"));
        assert_eq!(md, ran.summary, "{job}");
        assert!(md.contains("signups_2026-10.csv"), "{md}");
        assert!(!md.contains("failed before any file"), "{md}");
    }
}

/// "Re-run failed jobs": attempt 2 keeps its summary as `<id>--attempt-2.md` (the
/// comment picks the newest), and a run that failed at the database keeps its exit
/// status and its own summary (no "before any file" sentence: a summary exists).
#[test]
fn run_step_on_attempt_2_keeps_its_own_summary_and_the_exit_status() {
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    r.var("GITHUB_RUN_ATTEMPT", "2");
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    ran.assert_ok();
    let out = r.temp().join("sqlcourier-summary");
    assert!(out.join("monthly-signups--attempt-2.md").is_file());
    assert!(!out.join("monthly-signups--attempt-1.md").exists());

    // the database lacks a column the query reads: `run` fails after its summary
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    r.var("GITHUB_RUN_ATTEMPT", "2");
    write(
        &r.workspace(),
        "queries/monthly/signups.sql",
        &SIGNUPS.replace("m.prefecture", "m.region"),
    );
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    let md = read(
        r.temp()
            .join("sqlcourier-summary/monthly-signups--attempt-2.md"),
    );
    assert_eq!(md, ran.summary);
    assert!(md.contains("**Query problem**"), "{md}");
    assert!(md.contains("no such column"), "{md}");
    assert!(!md.contains("failed before any file"), "{md}");
    let report: Value =
        serde_json::from_str(&read(r.temp().join("sqlcourier-summary/report.json"))).unwrap();
    assert_eq!(report[0]["status"], "failed", "{report}");
    assert!(!r.workspace().join("out/signups_2026-10.csv").exists());
}

/// `run` stops before any file: exit 1 (the query file has a problem) tells the
/// requester to fix it in a new pull request; exit 2 (sqlcourier.yaml or a secret)
/// tells them to ask an operator and then re-run. The step keeps the status.
#[test]
fn run_step_that_stops_before_any_file_says_what_to_do_per_exit_status() {
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    write(
        &r.workspace(),
        "queries/monthly/signups.sql",
        &SIGNUPS.replace("database: main", "database: mian"),
    );
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.stderr.contains("mian"), "{}", ran.log());
    let md = read(
        r.temp()
            .join("sqlcourier-summary/monthly-signups--attempt-1.md"),
    );
    assert_eq!(
        md,
        "\n**queries/monthly/signups.sql** (2026-10) failed before any file was made: a problem in the query file: fix it in a new pull request (a re-run uses the same commit). The step log names the file and line.\n"
    );

    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    write(
        &r.workspace(),
        "sqlcourier.yaml",
        &CONFIG.replace(
            "    driver: sqlite\n",
            "    driver: sqlite\n    drvier: x\n",
        ),
    );
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(2), "{}", ran.log());
    let md = read(
        r.temp()
            .join("sqlcourier-summary/monthly-signups--attempt-1.md"),
    );
    assert!(
        md.contains("failed before any file was made: a set-up problem (sqlcourier.yaml or a secret): ask an operator, then press \"Re-run failed jobs\"."),
        "{md}"
    );
}

/// A binary that is not the one the build job packaged never runs.
#[test]
fn run_step_refuses_a_tampered_binary() {
    let db = tempfile::tempdir().unwrap();
    let mut r = run_job(db.path());
    let bin = r.temp().join("sqlcourier-bin/sqlcourier");
    let mut bytes = std::fs::read(&bin).unwrap();
    bytes.extend_from_slice(b"\n#!/bin/sh\n");
    std::fs::write(&bin, bytes).unwrap();
    let ran = r.run(&Step::load(
        "_run-queries.yml",
        "run-0",
        "Run the query and deliver its files",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.all().contains("sqlcourier: FAILED"), "{}", ran.log());
    assert!(ran.all().contains("did NOT match"), "{}", ran.log());
    assert!(
        !r.temp().join("sqlcourier-summary").exists(),
        "{}",
        ran.log()
    );
    assert!(!r.workspace().join("out").exists());
}
