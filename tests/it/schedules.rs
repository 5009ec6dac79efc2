//! Every schedule runs (issue #17): `plan --schedule due` across month, quarter and
//! week boundaries in Asia/Tokyo, for a scheduler run delayed by hours, a missed day,
//! and consecutive runs that must never plan the same period twice.

use crate::support::{Repo, text};

fn repo() -> Repo {
    let repo = Repo::new("sqlite");
    let sql = "SELECT 1 AS n WHERE 1 > :period_start AND 1 < :period_end";
    for (name, schedule, period) in [
        ("d.sql", "daily", "previous_day"),
        ("w.sql", "weekly", "previous_week"),
        ("m.sql", "monthly", "previous_month"),
        ("q.sql", "quarterly", "previous_quarter"),
    ] {
        repo.query(
            name,
            &format!("schedule: {schedule}\nperiod: {period}\n"),
            sql,
        );
    }
    repo.query(
        "c.sql",
        "schedule: {cron: \"0 3 * * *\"}\n",
        "SELECT 1 AS n",
    );
    repo.query("merge.sql", "", "SELECT 1 AS n");
    repo
}

/// (query, period) pairs the plan contains.
fn due(repo: &Repo, since: &str, as_of: &str) -> Vec<(String, String)> {
    let o = repo.run(
        "sqlite::memory:",
        &[
            "plan",
            "--event",
            "schedule",
            "--schedule",
            "due",
            "--since",
            since,
            "--as-of",
            as_of,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut out: Vec<(String, String)> = v["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["query"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("queries/")
                    .to_string(),
                e["period"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    let ids: std::collections::BTreeSet<&str> = v["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), out.len(), "ids must be unique: {v}");
    out
}

fn p(q: &str, period: &str) -> (String, String) {
    (q.to_string(), period.to_string())
}

#[test]
fn quarter_month_and_day_boundary_in_tokyo() {
    // 00:17 JST on Wed 1 April 2026 is still 31 March in UTC
    let got = due(
        &repo(),
        "2026-03-31T23:17:00+09:00",
        "2026-04-01T00:17:00+09:00",
    );
    assert_eq!(
        got,
        [
            p("d.sql", "2026-03-31"),
            p("m.sql", "2026-03"),
            p("q.sql", "2026-Q1")
        ]
    );
}

#[test]
fn week_boundary_and_cron() {
    // Monday 6 April 2026, 00:17 JST; the cron (03:00 UTC = 12:00 JST) is not due yet
    let got = due(
        &repo(),
        "2026-04-05T23:17:00+09:00",
        "2026-04-06T00:17:00+09:00",
    );
    assert_eq!(got, [p("d.sql", "2026-04-05"), p("w.sql", "2026-W14")]);
    let got = due(
        &repo(),
        "2026-04-06T11:17:00+09:00",
        "2026-04-06T12:17:00+09:00",
    );
    assert_eq!(got, [p("c.sql", "")]);
}

#[test]
fn a_run_delayed_by_hours_and_a_missed_day_are_caught_up_once() {
    let repo = repo();
    // the 00:17 run of 1 Nov started at 05:40 (GitHub delays scheduled runs)
    let got = due(
        &repo,
        "2026-10-31T23:17:00+09:00",
        "2026-11-01T05:40:00+09:00",
    );
    assert_eq!(got, [p("d.sql", "2026-10-31"), p("m.sql", "2026-10")]);
    // the next hourly run plans nothing of that again
    let got = due(
        &repo,
        "2026-11-01T05:40:00+09:00",
        "2026-11-01T06:17:00+09:00",
    );
    assert!(got.is_empty(), "{got:?}");
    // every run of Mon 2 and Tue 3 Nov was dropped: both days, the week and the cron
    // are caught up
    let got = due(
        &repo,
        "2026-11-01T23:17:00+09:00",
        "2026-11-04T00:17:00+09:00",
    );
    assert_eq!(
        got,
        [
            p("c.sql", ""),
            p("d.sql", "2026-11-01"),
            p("d.sql", "2026-11-02"),
            p("d.sql", "2026-11-03"),
            p("w.sql", "2026-W44"),
        ]
    );
}
