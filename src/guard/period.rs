//! Periods: `:period_start` and `:period_end` (half-open), computed in the query's time
//! zone from a logical time — the workflow run's original creation time, never "now"
//! on a re-run.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// Which period a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// No period parameters.
    #[default]
    None,
    /// The day before the logical time.
    PreviousDay,
    /// The ISO week (Monday to Sunday) before the logical time's week.
    PreviousWeek,
    /// The calendar month before the logical time's month.
    PreviousMonth,
    /// The calendar month of the logical time, up to its end.
    CurrentMonth,
    /// The calendar quarter before the logical time's quarter.
    PreviousQuarter,
    /// The calendar year before the logical time's year.
    PreviousYear,
}

/// A resolved period: `[start, end)` in local time of `tz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    /// `2026-10`, `2026-10-05`, `2026-W40`, `2026-Q3`, `2026`.
    pub label: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub tz: Tz,
}

impl Period {
    /// `2026-10-01 00:00:00`: local wall-clock time, for DATETIME columns.
    pub fn start_local(&self) -> String {
        self.start.format("%Y-%m-%d %H:%M:%S").to_string()
    }
    pub fn end_local(&self) -> String {
        self.end.format("%Y-%m-%d %H:%M:%S").to_string()
    }
    /// `2026-10-01 00:00:00+09:00`: an exact instant, for PostgreSQL `timestamptz`.
    pub fn start_with_offset(&self) -> String {
        with_offset(self.tz, self.start)
    }
    pub fn end_with_offset(&self) -> String {
        with_offset(self.tz, self.end)
    }
}

fn with_offset(tz: Tz, t: NaiveDateTime) -> String {
    match tz.from_local_datetime(&t).earliest() {
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%:z").to_string(),
        // a local midnight skipped by a DST change: the first instant after the gap
        None => tz
            .from_local_datetime(&(t + Duration::hours(1)))
            .earliest()
            .map(|dt| dt.format("%Y-%m-%d %H:%M:%S%:z").to_string())
            .unwrap_or_else(|| t.format("%Y-%m-%d %H:%M:%S").to_string()),
    }
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).expect("midnight exists")
}

fn month_start(y: i32, m: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, 1).expect("valid month")
}

fn add_months(y: i32, m: u32, n: i32) -> (i32, u32) {
    let idx = y * 12 + (m as i32 - 1) + n;
    (idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32)
}

/// The period of `kind` for a run whose logical time is `as_of`, in `tz`.
pub fn resolve(kind: PeriodKind, tz: Tz, as_of: DateTime<Utc>) -> Option<Period> {
    let local = as_of.with_timezone(&tz).date_naive();
    let (start, end, label) = match kind {
        PeriodKind::None => return None,
        PeriodKind::PreviousDay => {
            let d = local - Duration::days(1);
            (d, local, d.format("%Y-%m-%d").to_string())
        }
        PeriodKind::PreviousWeek => {
            let this_monday = local - Duration::days(local.weekday().num_days_from_monday() as i64);
            let start = this_monday - Duration::days(7);
            let w = start.iso_week();
            (start, this_monday, format!("{}-W{:02}", w.year(), w.week()))
        }
        PeriodKind::PreviousMonth => {
            let (y, m) = add_months(local.year(), local.month(), -1);
            let start = month_start(y, m);
            (
                start,
                month_start(local.year(), local.month()),
                format!("{y}-{m:02}"),
            )
        }
        PeriodKind::CurrentMonth => {
            let start = month_start(local.year(), local.month());
            let (y, m) = add_months(local.year(), local.month(), 1);
            (
                start,
                month_start(y, m),
                format!("{}-{:02}", local.year(), local.month()),
            )
        }
        PeriodKind::PreviousQuarter => {
            let q = (local.month() - 1) / 3; // 0..3, this quarter
            let (y, m) = add_months(local.year(), q * 3 + 1, -3);
            let start = month_start(y, m);
            let end = month_start(local.year(), q * 3 + 1);
            (start, end, format!("{y}-Q{}", (m - 1) / 3 + 1))
        }
        PeriodKind::PreviousYear => {
            let y = local.year() - 1;
            (
                NaiveDate::from_ymd_opt(y, 1, 1)?,
                NaiveDate::from_ymd_opt(y + 1, 1, 1)?,
                y.to_string(),
            )
        }
    };
    Some(Period {
        kind,
        label,
        start: midnight(start),
        end: midnight(end),
        tz,
    })
}

/// Refuses a period that has not ended at `now` (a chosen `--period 2030-01` would
/// deliver an empty or partial file marked as done); `current_month` is meant to.
pub fn refuse_unfinished(p: &Period, now: DateTime<Utc>) -> Result<(), String> {
    if p.kind == PeriodKind::CurrentMonth {
        return Ok(());
    }
    let end =
        p.tz.from_local_datetime(&p.end)
            .earliest()
            .map(|t| t.with_timezone(&Utc));
    match end {
        Some(end) if end > now => Err(format!(
            "the period {} has not ended yet (it ends {} {}), so its file would be incomplete; choose a period that has ended, or use `period: current_month` for a running month",
            p.label,
            p.end.format("%Y-%m-%d %H:%M"),
            p.tz
        )),
        _ => Ok(()),
    }
}

/// Parses a `--period` override such as `2026-10` for a query of `kind`.
pub fn parse_label(kind: PeriodKind, label: &str, tz: Tz) -> Result<Period, String> {
    let bad = |want: &str| {
        format!("`{label}` is not a period of this query's kind; write it like {want}")
    };
    let (start, end) = match kind {
        PeriodKind::None => {
            return Err("this query has no period, so --period does not apply to it".into());
        }
        PeriodKind::PreviousDay => {
            let d = NaiveDate::parse_from_str(label, "%Y-%m-%d").map_err(|_| bad("2026-10-05"))?;
            (d, d + Duration::days(1))
        }
        PeriodKind::PreviousWeek => {
            let (y, w) = label.split_once("-W").ok_or_else(|| bad("2026-W40"))?;
            let y: i32 = y.parse().map_err(|_| bad("2026-W40"))?;
            let w: u32 = w.parse().map_err(|_| bad("2026-W40"))?;
            let d = NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon)
                .ok_or_else(|| bad("2026-W40"))?;
            (d, d + Duration::days(7))
        }
        PeriodKind::PreviousMonth | PeriodKind::CurrentMonth => {
            let d = NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d")
                .map_err(|_| bad("2026-10"))?;
            let (y, m) = add_months(d.year(), d.month(), 1);
            (d, month_start(y, m))
        }
        PeriodKind::PreviousQuarter => {
            let (y, q) = label.split_once("-Q").ok_or_else(|| bad("2026-Q3"))?;
            let y: i32 = y.parse().map_err(|_| bad("2026-Q3"))?;
            let q: u32 = q.parse().map_err(|_| bad("2026-Q3"))?;
            if !(1..=4).contains(&q) {
                return Err(bad("2026-Q3"));
            }
            let start = month_start(y, (q - 1) * 3 + 1);
            let (ey, em) = add_months(y, (q - 1) * 3 + 1, 3);
            (start, month_start(ey, em))
        }
        PeriodKind::PreviousYear => {
            let y: i32 = label.parse().map_err(|_| bad("2026"))?;
            (
                NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(|| bad("2026"))?,
                NaiveDate::from_ymd_opt(y + 1, 1, 1).ok_or_else(|| bad("2026"))?,
            )
        }
    };
    Ok(Period {
        kind,
        // the canonical label, whatever was typed (`2026-W4` → `2026-W04`): the file
        // name and the re-run identity must not depend on how a period was written
        label: label_of(kind, start),
        start: midnight(start),
        end: midnight(end),
        tz,
    })
}

/// The label of the period of `kind` that starts on `start`.
fn label_of(kind: PeriodKind, start: NaiveDate) -> String {
    match kind {
        PeriodKind::None => String::new(),
        PeriodKind::PreviousDay => start.format("%Y-%m-%d").to_string(),
        PeriodKind::PreviousWeek => {
            let w = start.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        PeriodKind::PreviousMonth | PeriodKind::CurrentMonth => {
            format!("{}-{:02}", start.year(), start.month())
        }
        PeriodKind::PreviousQuarter => format!("{}-Q{}", start.year(), (start.month() - 1) / 3 + 1),
        PeriodKind::PreviousYear => start.year().to_string(),
    }
}

#[cfg(test)]
mod unfinished_tests {
    use super::*;

    #[test]
    fn a_future_or_running_period_is_refused_unless_current_month() {
        let tz = chrono_tz::Asia::Tokyo;
        let now = Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap();
        let p = parse_label(PeriodKind::PreviousMonth, "2030-01", tz).unwrap();
        assert!(
            refuse_unfinished(&p, now)
                .unwrap_err()
                .contains("has not ended yet")
        );
        let p = parse_label(PeriodKind::PreviousMonth, "2026-11", tz).unwrap();
        assert!(refuse_unfinished(&p, now).is_err());
        let p = parse_label(PeriodKind::PreviousMonth, "2026-10", tz).unwrap();
        assert!(refuse_unfinished(&p, now).is_ok());
        let p = parse_label(PeriodKind::CurrentMonth, "2026-11", tz).unwrap();
        assert!(refuse_unfinished(&p, now).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    const TOKYO: Tz = chrono_tz::Asia::Tokyo;

    #[test]
    fn previous_month_just_after_midnight_jst_is_october() {
        // 2026-11-01 00:30 JST is still 2026-10-31 in UTC
        let p = resolve(PeriodKind::PreviousMonth, TOKYO, at("2026-10-31T15:30:00Z")).unwrap();
        assert_eq!(p.label, "2026-10");
        assert_eq!(p.start_local(), "2026-10-01 00:00:00");
        assert_eq!(p.end_local(), "2026-11-01 00:00:00");
        assert_eq!(p.start_with_offset(), "2026-10-01 00:00:00+09:00");
    }

    #[test]
    fn just_before_midnight_jst_is_still_september() {
        let p = resolve(PeriodKind::PreviousMonth, TOKYO, at("2026-10-31T14:59:59Z")).unwrap();
        assert_eq!(p.label, "2026-09");
        // the same instant in UTC would give September too, but one second later differs
        let p = resolve(
            PeriodKind::PreviousMonth,
            chrono_tz::UTC,
            at("2026-10-31T15:30:00Z"),
        )
        .unwrap();
        assert_eq!(p.label, "2026-09");
    }

    #[test]
    fn january_wraps_to_december() {
        let p = resolve(PeriodKind::PreviousMonth, TOKYO, at("2027-01-05T00:00:00Z")).unwrap();
        assert_eq!(p.label, "2026-12");
        assert_eq!(p.end_local(), "2027-01-01 00:00:00");
    }

    #[test]
    fn other_kinds() {
        let t = at("2026-11-04T03:00:00Z"); // Wednesday 2026-11-04 JST
        assert_eq!(
            resolve(PeriodKind::PreviousDay, TOKYO, t).unwrap().label,
            "2026-11-03"
        );
        let w = resolve(PeriodKind::PreviousWeek, TOKYO, t).unwrap();
        assert_eq!(w.start_local(), "2026-10-26 00:00:00");
        assert_eq!(w.label, "2026-W44");
        let q = resolve(PeriodKind::PreviousQuarter, TOKYO, t).unwrap();
        assert_eq!(
            (q.label.as_str(), q.start_local().as_str()),
            ("2026-Q3", "2026-07-01 00:00:00")
        );
        assert_eq!(q.end_local(), "2026-10-01 00:00:00");
        assert_eq!(
            resolve(PeriodKind::PreviousYear, TOKYO, t).unwrap().label,
            "2025"
        );
        assert_eq!(
            resolve(PeriodKind::CurrentMonth, TOKYO, t).unwrap().label,
            "2026-11"
        );
        assert!(resolve(PeriodKind::None, TOKYO, t).is_none());
    }

    #[test]
    fn labels_round_trip() {
        let t = at("2026-11-04T03:00:00Z");
        for k in [
            PeriodKind::PreviousDay,
            PeriodKind::PreviousWeek,
            PeriodKind::PreviousMonth,
            PeriodKind::PreviousQuarter,
            PeriodKind::PreviousYear,
        ] {
            let p = resolve(k, TOKYO, t).unwrap();
            assert_eq!(parse_label(k, &p.label, TOKYO).unwrap(), p, "{k:?}");
        }
        assert!(parse_label(PeriodKind::PreviousMonth, "2026-13", TOKYO).is_err());
        // typed labels are normalised, so a re-run names the same file
        assert_eq!(
            parse_label(PeriodKind::PreviousMonth, "2026-1", TOKYO)
                .unwrap()
                .label,
            "2026-01"
        );
        assert_eq!(
            parse_label(PeriodKind::PreviousWeek, "2026-W4", TOKYO)
                .unwrap()
                .label,
            "2026-W04"
        );
        assert_eq!(
            parse_label(PeriodKind::PreviousDay, "2026-10-5", TOKYO)
                .unwrap()
                .label,
            "2026-10-05"
        );
        assert!(parse_label(PeriodKind::None, "2026-10", TOKYO).is_err());
    }
}
