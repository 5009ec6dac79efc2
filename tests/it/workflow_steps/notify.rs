//! The Notify jobs of `_run-queries.yml`: `report` (`notify slack`) and `report-build` (curl).

use super::*;

fn batch(entries: &[(&str, &str, &str)]) -> String {
    let include: Vec<Value> = entries
        .iter()
        .map(|(q, id, p)| serde_json::json!({"query": q, "id": id, "period": p, "variants": []}))
        .collect();
    serde_json::json!({ "include": include }).to_string()
}

/// The Notify job's runner: the binary downloaded, the Slack webhook on the stand-in,
/// the plan's batches and every job's result as given.
fn notify_job(api: &StandIn, plan: &str, runs: [&str; 4], batches: [String; 4]) -> Runner {
    let mut r = Runner::new();
    r.download_sqlcourier();
    r.expr(
        "secrets.SLACK_WEBHOOK_URL",
        &format!("{}{HOOK_PATH}", api.url),
    )
    .expr("vars.SQLCOURIER_SLACK_ON_SUCCESS", "")
    .expr("needs.plan.result", plan)
    .expr("github.server_url", "https://github.com")
    .expr("github.repository", "acme/extracts")
    .expr("github.run_id", "4242");
    for (i, result) in runs.iter().enumerate() {
        r.expr(&format!("needs.run-{i}.result"), result);
    }
    for (i, b) in batches.into_iter().enumerate() {
        r.expr(&format!("needs.plan.outputs.batch-{i}"), &b);
    }
    r
}

/// A third run of the same query and period replaced the waiting run job of this
/// run (GitHub keeps only the newest waiting job of a concurrency group): run-1 is
/// `cancelled`. The operators are told what happened and what to do, never "success".
#[test]
fn notify_step_reports_a_run_job_cancelled_by_the_concurrency_group() {
    let api = StandIn::start();
    let empty = batch(&[]);
    let mut r = notify_job(
        &api,
        "success",
        ["success", "cancelled", "skipped", "skipped"],
        [
            batch(&[("queries/monthly/signups.sql", "monthly-signups", "2026-10")]),
            batch(&[("queries/monthly/orders.sql", "monthly-orders", "2026-10")]),
            empty.clone(),
            empty,
        ],
    );
    let ran = r.run(&Step::load("_run-queries.yml", "report", "Slack"));
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("plan: success; runs: success cancelled skipped skipped => cancelled"),
        "{}",
        ran.log()
    );
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    let t = &texts[0];
    for needle in [
        "sqlcourier: query jobs of a run were cancelled: https://github.com/acme/extracts/actions/runs/4242",
        "in `acme/extracts`",
        "<https://github.com/acme/extracts/actions/runs/4242|Open the run>",
        "a newer run of the same query and period was queued",
        "the newer run replaced it and delivers the same period",
        "if it delivered, nothing is left to do",
        "re-run the cancelled job on this run: open the run and press the job's *Re-run job* button",
        "both keep the period",
        "• `queries/monthly/signups.sql`",
        "• `queries/monthly/orders.sql`",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in {t}");
    }
    assert!(!t.contains("a run failed"), "{t}");
    assert!(!ran.all().contains("T0SECRET"), "{}", ran.log());
}

#[test]
fn notify_step_reports_failed_and_cancelled_jobs_together() {
    let api = StandIn::start();
    let mut r = notify_job(
        &api,
        "success",
        ["failure", "cancelled", "skipped", "skipped"],
        [
            batch(&[("queries/monthly/signups.sql", "monthly-signups", "2026-10")]),
            batch(&[("queries/monthly/orders.sql", "monthly-orders", "2026-10")]),
            String::new(),
            String::new(),
        ],
    );
    let ran = r.run(&Step::load("_run-queries.yml", "report", "Slack"));
    ran.assert_ok();
    assert!(ran.stdout.contains("=> failure cancelled"), "{}", ran.log());
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    let t = &texts[0];
    assert!(t.starts_with("sqlcourier: a run failed: "), "{t}");
    assert!(t.contains(":x: *sqlcourier: a run failed*"), "{t}");
    assert!(
        t.contains("The summary of each failed job says what to do"),
        "{t}"
    );
    assert!(t.contains("the newer run replaced it"), "{t}");
}

#[test]
fn notify_step_is_quiet_on_success_unless_asked_and_reports_a_failed_plan() {
    let api = StandIn::start();
    let one = || batch(&[("queries/monthly/signups.sql", "monthly-signups", "2026-10")]);
    let step = Step::load("_run-queries.yml", "report", "Slack");
    let mut r = notify_job(
        &api,
        "success",
        ["success", "skipped", "skipped", "skipped"],
        [one(), batch(&[]), batch(&[]), batch(&[])],
    );
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(ran.stdout.contains("=> success"), "{}", ran.log());
    assert!(
        ran.stderr.contains("success messages are off"),
        "{}",
        ran.log()
    );
    assert!(slack_texts(&api).is_empty());

    r.expr("vars.SQLCOURIER_SLACK_ON_SUCCESS", "true");
    r.run(&step).assert_ok();
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("the run delivered its files"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("queries/monthly/signups.sql"),
        "{}",
        texts[0]
    );

    // the plan failed: no batches, the run jobs skipped
    let mut r = notify_job(
        &api,
        "failure",
        ["skipped"; 4],
        [String::new(), String::new(), String::new(), String::new()],
    );
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("plan: failure; runs: skipped skipped skipped skipped => failure"),
        "{}",
        ran.log()
    );
    let texts = slack_texts(&api);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("a run failed"), "{}", texts[1]);
    assert!(!texts[1].contains("*Queries*"), "{}", texts[1]);
}

/// The build failed, so there is no binary: curl posts to the Slack stand-in. The
/// webhook URL (a secret) reaches curl on stdin: it is in no process's command line
/// while the step runs (read from /proc while the stand-in holds the request) and in
/// no output. Without the secret the step says so and posts nothing.
#[test]
fn build_failure_step_posts_with_curl_without_the_url_on_a_command_line() {
    let api = StandIn::start();
    api.with(|d| d.slack_delay_ms = 400);
    let step = Step::load("_run-queries.yml", "report-build", "Slack");
    let mut r = Runner::new();
    r.expr("secrets.SLACK_WEBHOOK_URL", "")
        .expr("inputs.event", "schedule")
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(
        ran.stdout
            .contains("SLACK_WEBHOOK_URL is not set: no Slack message"),
        "{}",
        ran.log()
    );
    assert!(slack_texts(&api).is_empty());

    r.expr(
        "secrets.SLACK_WEBHOOK_URL",
        &format!("{}{HOOK_PATH}", api.url),
    )
    .watch_processes();
    let ran = r.run(&step);
    ran.assert_ok();
    assert!(ran.stdout.contains("Slack message posted"), "{}", ran.log());
    let curl: Vec<_> = ran
        .processes
        .iter()
        .filter(|p| p.starts_with("curl "))
        .collect();
    assert!(
        !curl.is_empty(),
        "curl was never seen running: {:?}",
        ran.processes
    );
    assert!(curl[0].contains("--config -"), "{curl:?}");
    for p in &ran.processes {
        assert!(
            !p.contains("SECRET"),
            "the webhook URL is on a command line: {p}"
        );
    }
    assert!(!ran.all().contains("SECRET"), "{}", ran.log());
    let sent = api.with(|d| d.slack.clone());
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["text"],
        "sqlcourier: the build failed, so no query of this schedule run ran: https://github.com/acme/extracts/actions/runs/4242"
    );
    let block = sent[0]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(block.starts_with(":x: *sqlcourier: the build failed* in `acme/extracts`; no query ran.\n<https://github.com/acme/extracts/actions/runs/4242|Open the run>"), "{block}");
}
