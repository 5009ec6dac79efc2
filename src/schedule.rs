//! When scheduled queries are due. One hourly workflow (`.github/workflows/scheduled.yml`)
//! asks `plan --schedule due --since T`: every occurrence of a query's schedule in
//! `(since, as_of]` is due, each with the period its occurrence implies. A GitHub cron
//! that ran hours late or not at all is caught up by the next run (its window starts
//! where the last one ended), and a period is planned once per window, so consecutive
//! windows never run a query twice for the same period.
//!
//! Occurrences, in the query's time zone: `daily` every local midnight, `weekly` each
//! Monday's, `monthly` the 1st's, `quarterly` the 1st of January, April, July and
//! October; `cron` at its own times (UTC, as GitHub reads cron).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::catalog::query::Schedule;

/// The longest window caught up at once: a scheduler that was off for longer starts
/// again from this far back (and says so), instead of flooding the database.
pub const MAX_CATCH_UP: Duration = Duration::days(40);

/// The occurrences of `schedule` in `(since, until]`, oldest first.
pub fn occurrences(
    schedule: &Schedule,
    tz: Tz,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let since = since.max(until - MAX_CATCH_UP);
    if since >= until {
        return Vec::new();
    }
    let day_matches: fn(NaiveDate) -> bool = match schedule {
        Schedule::Daily => |_| true,
        Schedule::Weekly => |d| d.weekday() == Weekday::Mon,
        Schedule::Monthly => |d| d.day() == 1,
        Schedule::Quarterly => |d| d.day() == 1 && matches!(d.month(), 1 | 4 | 7 | 10),
        Schedule::Cron(expr) => return cron_occurrences(expr, since, until),
        Schedule::OnMergeOnly | Schedule::Unknown(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut d = since.with_timezone(&tz).date_naive();
    let last = until.with_timezone(&tz).date_naive();
    while d <= last {
        if day_matches(d)
            && let Some(t) = local_midnight(tz, d)
            && t > since
            && t <= until
        {
            out.push(t);
        }
        d += Duration::days(1);
    }
    out
}

/// The first instant of local day `d` (after a gap when midnight is skipped by DST).
fn local_midnight(tz: Tz, d: NaiveDate) -> Option<DateTime<Utc>> {
    let m = d.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&m)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(m + Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

fn cron_occurrences(expr: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Ok(cron) = croner::Cron::new(expr).parse() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut t = since;
    // every loop ends: at most one occurrence per minute of the (bounded) window
    for _ in 0..=MAX_CATCH_UP.num_minutes() {
        match cron.find_next_occurrence(&t, false) {
            Ok(n) if n <= until => {
                out.push(n);
                t = n;
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Tokyo;

    fn jst(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn shown(v: &[DateTime<Utc>]) -> Vec<String> {
        v.iter()
            .map(|t| t.with_timezone(&Tokyo).format("%Y-%m-%d %H:%M").to_string())
            .collect()
    }

    #[test]
    fn daily_weekly_monthly_quarterly_in_tokyo() {
        // the hourly run at 00:17 JST on Wed 1 April 2026 (still 31 March in UTC)
        let since = jst("2026-03-31T23:17:00+09:00");
        let until = jst("2026-04-01T00:17:00+09:00");
        let at = |s: Schedule| shown(&occurrences(&s, Tokyo, since, until));
        assert_eq!(at(Schedule::Daily), ["2026-04-01 00:00"]);
        assert_eq!(at(Schedule::Monthly), ["2026-04-01 00:00"]);
        assert_eq!(at(Schedule::Quarterly), ["2026-04-01 00:00"]);
        assert!(at(Schedule::Weekly).is_empty());
        assert!(at(Schedule::OnMergeOnly).is_empty());
        // Monday 6 April 2026
        let w = occurrences(
            &Schedule::Weekly,
            Tokyo,
            jst("2026-04-05T23:17:00+09:00"),
            jst("2026-04-06T00:17:00+09:00"),
        );
        assert_eq!(shown(&w), ["2026-04-06 00:00"]);
        // the 2nd of a quarter's first month is no quarter start
        assert!(
            occurrences(
                &Schedule::Quarterly,
                Tokyo,
                jst("2026-04-01T00:17:00+09:00"),
                jst("2026-04-02T00:17:00+09:00")
            )
            .is_empty()
        );
    }

    #[test]
    fn consecutive_windows_never_repeat_an_occurrence() {
        let start = jst("2026-09-28T00:17:00+09:00");
        let mut seen = Vec::new();
        for h in 0..24 * 40 {
            let since = start + Duration::hours(h);
            let until = since + Duration::hours(1);
            for s in [
                Schedule::Daily,
                Schedule::Weekly,
                Schedule::Monthly,
                Schedule::Quarterly,
            ] {
                for t in occurrences(&s, Tokyo, since, until) {
                    assert!(!seen.contains(&(s.label(), t)), "{s:?} {t} twice");
                    seen.push((s.label(), t));
                }
            }
        }
        let count = |l: &str| seen.iter().filter(|(s, _)| s == l).count();
        assert_eq!(count("daily"), 40);
        assert_eq!(count("weekly"), 5); // Mondays 5, 12, 19, 26 Oct and 2 Nov
        assert_eq!(count("monthly"), 2); // 1 Oct, 1 Nov
        assert_eq!(count("quarterly"), 1); // 1 Oct
    }

    #[test]
    fn a_cron_delayed_by_hours_and_a_missed_day_are_caught_up() {
        // the run due at 00:17 JST on 1 Nov ran at 05:40; the one before was 23:17 on 31 Oct
        let since = jst("2026-10-31T23:17:00+09:00");
        let late = jst("2026-11-01T05:40:00+09:00");
        assert_eq!(
            shown(&occurrences(&Schedule::Monthly, Tokyo, since, late)),
            ["2026-11-01 00:00"]
        );
        // GitHub dropped every run of 2 and 3 Nov: the next run catches up both days
        let since = jst("2026-11-01T23:17:00+09:00");
        let until = jst("2026-11-04T00:17:00+09:00");
        assert_eq!(
            shown(&occurrences(&Schedule::Daily, Tokyo, since, until)),
            ["2026-11-02 00:00", "2026-11-03 00:00", "2026-11-04 00:00"]
        );
        // a cron schedule (UTC) delayed past two of its times
        let c = occurrences(
            &Schedule::Cron("0 */6 * * *".into()),
            Tokyo,
            jst("2026-11-01T08:00:00+09:00"),
            jst("2026-11-01T22:00:00+09:00"),
        );
        assert_eq!(
            shown(&c),
            ["2026-11-01 09:00", "2026-11-01 15:00", "2026-11-01 21:00"]
        );
    }

    #[test]
    fn a_long_outage_is_capped() {
        let until = jst("2026-11-01T00:17:00+09:00");
        let o = occurrences(&Schedule::Daily, Tokyo, until - Duration::days(400), until);
        assert_eq!(o.len(), 40);
    }
}
