//! `scheduled.yml`: the hourly dispatcher's window.

use super::*;

/// The window of the hourly dispatcher starts at the newest EARLIER run that was not
/// cancelled or skipped (one still in progress counts: it planned its window); later
/// runs never count. `gh` is replaced (see [`fake_gh`]): the step's jq filters run on
/// the stand-in's answers.
#[test]
fn window_step_starts_at_the_previous_run_not_cancelled_or_skipped() {
    let api = StandIn::start();
    let helper = tempfile::tempdir().unwrap();
    let step = Step::load("scheduled.yml", "window", "Previous run's creation time");
    let mut r = Runner::new();
    r.api(&api);
    fake_gh(&r, helper.path());
    r.expr("github.token", github_api::TOKEN);

    // the first run of the workflow: no previous run, the plan takes the last hour
    api.with(|d| {
        d.runs.insert(
            4242,
            (
                "2026-11-02T03:17:00Z".into(),
                "2026-11-02T03:18:10Z".into(),
                1,
            ),
        );
    });
    let ran = r.run(&step);
    ran.assert_ok();
    assert_eq!(ran.outputs["since"], "", "{}", ran.log());
    assert!(
        ran.stdout.contains(
            "this run: 2026-11-02T03:17:00Z; previous run: none (first run: the last hour)"
        ),
        "{}",
        ran.log()
    );

    api.with(|d| {
        for (id, created, conclusion) in [
            (4238, "2026-11-01T23:17:00Z", Some("success")),
            (4239, "2026-11-02T00:17:00Z", Some("failure")),
            (4240, "2026-11-02T01:17:00Z", Some("cancelled")),
            (4241, "2026-11-02T02:17:00Z", Some("skipped")),
            // a later run (GitHub started it before this one asked): never counts
            (4243, "2026-11-02T04:17:00Z", None),
        ] {
            d.runs.insert(id, (created.into(), created.into(), 1));
            if let Some(c) = conclusion {
                d.conclusions.insert(id, c.into());
            }
        }
    });
    let ran = r.run(&step);
    ran.assert_ok();
    // 4241 skipped and 4240 cancelled planned nothing; 4239 failed but owns its window
    assert_eq!(
        ran.outputs["since"],
        "2026-11-02T00:17:00Z",
        "{}",
        ran.log()
    );

    // a previous run still in progress owns its window too
    api.with(|d| {
        d.runs.insert(
            4241,
            (
                "2026-11-02T02:17:00Z".into(),
                "2026-11-02T02:17:00Z".into(),
                1,
            ),
        );
        d.conclusions.remove(&4241);
    });
    let ran = r.run(&step);
    ran.assert_ok();
    assert_eq!(
        ran.outputs["since"],
        "2026-11-02T02:17:00Z",
        "{}",
        ran.log()
    );
    // (the multi-line --jq filter spans several log lines)
    let calls: Vec<_> = r
        .tool_log()
        .into_iter()
        .filter(|c| c.starts_with("gh "))
        .collect();
    assert_eq!(calls.len(), 9, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("gh api repos/acme/extracts/actions/")),
        "{calls:?}"
    );
    assert!(
        api.count(
            "GET",
            "/actions/workflows/159038/runs?per_page=100&exclude_pull_requests=true"
        ) >= 1
    );
    assert!(
        api.requests()
            .iter()
            .all(|q| q.authorization.as_deref() == Some(&*format!("Bearer {}", github_api::TOKEN)))
    );
}
