//! `run-on-merge.yml`: the comment on the merged pull request.

use super::*;

/// The Comment job's runner: the binary and the summaries downloaded, the merged pull
/// request #7 on the stand-in.
fn comment_job(api: &StandIn, run: &str, plan: &str) -> Runner {
    const AFTER: &str = "abcdef0123456789abcdef0123456789abcdef01";
    api.with(|d| {
        d.pulls.insert(AFTER.into(), vec![(7, true, AFTER.into())]);
    });
    let mut r = Runner::new();
    r.api(api);
    r.download_sqlcourier();
    r.expr("github.token", github_api::TOKEN)
        .expr("github.event.after", AFTER)
        .expr("needs.run.result", run)
        .expr("needs.run.outputs.plan-result", plan)
        .expr("github.server_url", "https://github.com")
        .expr("github.repository", "acme/extracts")
        .expr("github.run_id", "4242");
    r
}

/// Summaries of two queries over attempts 1, 2 and 10 (download-artifact merges them
/// into one folder): the comment on the merged pull request has the NEWEST attempt of
/// each query, once, in query order; a later attempt updates the same comment.
#[test]
fn comment_step_posts_the_newest_attempt_of_each_query_once() {
    let api = StandIn::start();
    let mut r = comment_job(&api, "failure", "success");
    r.var("GITHUB_RUN_ATTEMPT", "10");
    let s = r.temp().join("summaries");
    for (file, body) in [
        (
            "monthly-signups--attempt-1.md",
            "signups: attempt 1 failed (database unreachable)\n",
        ),
        (
            "monthly-signups--attempt-2.md",
            "signups: attempt 2 failed (database unreachable)\n",
        ),
        (
            "monthly-signups--attempt-10.md",
            "signups: attempt 10 delivered signups_2026-10.csv\n",
        ),
        ("adhoc-once--attempt-1.md", "once: delivered once.csv\n"),
        (
            "monthly-orders--attempt-2.md",
            "orders: attempt 2 failed: a problem in the query\n",
        ),
    ] {
        write(&s, file, body);
    }
    let step = Step::load("run-on-merge.yml", "comment", "Comment");
    let ran = r.run(&step);
    ran.assert_ok();
    let comments = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1, "{}", ran.log());
    let body = &comments[0].body;
    assert_eq!(
        body,
        "<!-- sqlcourier:delivered -->\n## sqlcourier: some queries of this pull request failed\n\n\
The summary of each failed query below says what to do: a temporary problem →\n\
**Re-run failed jobs** (same period, same files); a problem in the query → a new pull\n\
request; a set-up problem → ask an operator. This comment is updated after every attempt.\n\n\
Run: https://github.com/acme/extracts/actions/runs/4242 (attempt 10)\n\n\
once: delivered once.csv\n\n\
orders: attempt 2 failed: a problem in the query\n\n\
signups: attempt 10 delivered signups_2026-10.csv\n\n"
    );

    // attempt 11 re-ran the orders query successfully: the same comment is updated
    write(
        &s,
        "monthly-orders--attempt-11.md",
        "orders: attempt 11 delivered orders.csv\n",
    );
    r.var("GITHUB_RUN_ATTEMPT", "11")
        .expr("needs.run.result", "success");
    r.run(&step).assert_ok();
    let comments = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(
        body.contains("## sqlcourier: the queries of this pull request ran\n"),
        "{body}"
    );
    assert!(body.contains("orders: attempt 11 delivered"), "{body}");
    assert!(!body.contains("attempt 2 failed"), "{body}");
    assert_eq!(body.matches("signups:").count(), 1, "{body}");
    assert_eq!(api.count("PATCH", "/issues/comments/"), 1);
}

/// Regression: when the plan failed no run job ran, so there are no summaries; the
/// empty glob made the step die with "bad array subscript" (bash -e) before the
/// comment, and the requester never heard that their merge ran nothing.
#[test]
fn comment_step_after_a_failed_plan_survives_no_summaries_bad_array_subscript() {
    let api = StandIn::start();
    let mut r = comment_job(&api, "failure", "failure");
    let ran = r.run(&Step::load("run-on-merge.yml", "comment", "Comment"));
    ran.assert_ok();
    assert!(!ran.stderr.contains("bad array subscript"), "{}", ran.log());
    let comments = api.with(|d| d.comments.get(&7).cloned().unwrap_or_default());
    assert_eq!(comments.len(), 1, "{}", ran.log());
    let body = &comments[0].body;
    assert!(
        body.contains("## sqlcourier: the queries of this pull request did not run"),
        "{body}"
    );
    assert!(body.contains("Fix it in a **new pull request**"), "{body}");
    assert!(body.ends_with("(attempt 1)\n\n"), "{body:?}");
}
