//! `missed-runs.yml`: the daily check that every due period ran.

use super::*;

/// The daily check's job: Install Rust (rustup recorded), Build sqlcourier (cargo
/// recorded, see [`fake_cargo`]), then the comparison with the real binary against the
/// runs and jobs on the stand-in. The check run was created 2026-11-30 00:47 UTC
/// (09:47 JST): it looks at due times between 54 and 6 hours before, the Tokyo
/// midnights of 29 and 30 November (periods 2026-11-28 and 2026-11-29).
#[test]
fn missed_runs_job_builds_then_reports_nothing_missed_or_every_missed_period() {
    let api = StandIn::start();
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-30T00:47:00Z".into(),
                "2026-11-30T00:47:03Z".into(),
                1,
            ),
        );
        // the scheduler runs after the two midnights; 4201's daily-orders job passed on
        // its re-run (attempt 2)
        d.runs.insert(
            4201,
            (
                "2026-11-28T15:17:00Z".into(),
                "2026-11-28T15:17:00Z".into(),
                2,
            ),
        );
        d.runs.insert(
            4202,
            (
                "2026-11-29T15:17:00Z".into(),
                "2026-11-29T15:17:00Z".into(),
                1,
            ),
        );
        d.jobs.insert(
            4201,
            vec![
                ("Run / Run daily-orders 2026-11-28".into(), "failure".into()),
                ("Run / Run daily-orders 2026-11-28".into(), "success".into()),
            ],
        );
        d.jobs.insert(
            4202,
            vec![("Run / Run daily-orders 2026-11-29".into(), "success".into())],
        );
    });
    let mut r = Runner::new();
    r.api(&api);
    fake_rustup(&r);
    fake_cargo(&r);
    let w = r.workspace();
    write(&w, "sqlcourier.yaml", CONFIG);
    write(
        &w,
        "queries/daily/orders.sql",
        "/*---\ntitle: Daily orders\ndatabase: main\ndestination: out\nschedule: daily\nperiod: previous_day\n---*/\nSELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end\n",
    );
    r.run(&Step::load(
        "missed-runs.yml",
        "check",
        "Install Rust (stable)",
    ))
    .assert_ok();
    r.run(&Step::load("missed-runs.yml", "check", "Build sqlcourier"))
        .assert_ok();
    assert_eq!(
        r.tool_log()[2],
        "cargo build --release --locked --bin sqlcourier"
    );
    r.expr("github.token", github_api::TOKEN)
        .expr(
            "secrets.SLACK_WEBHOOK_URL",
            &format!("{}{HOOK_PATH}", api.url),
        )
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    let step = Step::load(
        "missed-runs.yml",
        "check",
        "Compare the due periods with the successful runs",
    );
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("every query due between 54 and 6 hours ago ran successfully"),
        "{}",
        ran.log()
    );
    assert!(slack_texts(&api).is_empty());
    assert!(ran.summary.is_empty());

    // a weekly query whose Monday (30 November 00:00 JST) run never happened, and the
    // daily query's 29 November run lost
    api.with(|d| {
        d.jobs.insert(
            4202,
            vec![(
                "Run / Run daily-orders 2026-11-29".into(),
                "cancelled".into(),
            )],
        )
    });
    write(
        &w,
        "queries/weekly/stock.sql",
        "/*---\ntitle: Weekly stock\ndatabase: main\ndestination: out\nschedule: weekly\nperiod: previous_week\n---*/\nSELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end\n",
    );
    let ran = r.run(&step);
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.stdout.contains("::error::2 scheduled run(s) did not happen or did not succeed (listed in the job summary)"), "{}", ran.log());
    assert_eq!(
        ran.summary,
        "### sqlcourier: 2 scheduled run(s) missed\n\n- `queries/daily/orders.sql` for 2026-11-29\n- `queries/weekly/stock.sql` for 2026-W48\n\nRun each from Monthly → Run workflow (the query as the glob, the period), or re-run its failed run.\n"
    );
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("scheduled runs did not happen or did not succeed"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("• `queries/daily/orders.sql 2026-11-29`"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("• `queries/weekly/stock.sql 2026-W48`"),
        "{}",
        texts[0]
    );
}

/// Regression: the step posted to Slack before it wrote the job summary, so with
/// Slack down (`set -e`) the run failed with only "the Slack message was not
/// delivered" and no list of the missed runs anywhere but the plan's log.
#[test]
fn missed_runs_summary_is_written_even_when_slack_is_down() {
    let api = StandIn::start();
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-30T00:47:00Z".into(),
                "2026-11-30T00:47:03Z".into(),
                1,
            ),
        );
        d.slack_status = 403;
    });
    let mut r = Runner::new();
    r.api(&api);
    let w = r.workspace();
    write(&w, "sqlcourier.yaml", CONFIG);
    write(
        &w,
        "queries/weekly/stock.sql",
        "/*---\ntitle: Weekly stock\ndatabase: main\ndestination: out\nschedule: weekly\nperiod: previous_week\n---*/\nSELECT COUNT(*) AS n FROM members WHERE created_at >= :period_start AND created_at < :period_end\n",
    );
    std::fs::create_dir_all(w.join("target/release")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_sqlcourier"),
        w.join("target/release/sqlcourier"),
    )
    .unwrap();
    r.expr("github.token", github_api::TOKEN)
        .expr(
            "secrets.SLACK_WEBHOOK_URL",
            &format!("{}{HOOK_PATH}", api.url),
        )
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    let ran = r.run(&Step::load(
        "missed-runs.yml",
        "check",
        "Compare the due periods with the successful runs",
    ));
    assert_eq!(ran.code, Some(1), "{}", ran.log());
    assert!(ran.stderr.contains("Slack answered 403"), "{}", ran.log());
    assert!(
        ran.stdout
            .contains("::error::the Slack message about them was not delivered"),
        "{}",
        ran.log()
    );
    assert!(
        ran.summary
            .contains("### sqlcourier: 1 scheduled run(s) missed\n\n- `queries/weekly/stock.sql` for 2026-W48\n"),
        "{}",
        ran.log()
    );
    assert!(!ran.all().contains("T0SECRET"), "{}", ran.log());
}
