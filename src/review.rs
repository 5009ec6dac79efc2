//! What a data owner needs to approve a query, in plain words: who can read the
//! destination and for how long, when the query runs and which dates it covers, what
//! each mask rule turns a value into, and what changed against the base branch (a
//! removed mask stands out). `check --explain` puts these into the reviewer summary.

use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::catalog::config::DestinationConfig;
use crate::catalog::query::{FrontMatter, ParamValue, QueryFile, Schedule};
use crate::guard::period::{self, PeriodKind};
use crate::transform::mask::{MaskRule, Masked, Masker};

/// How scheduled runs happen, for the summary.
const DISPATCH: &str = "the hourly scheduler runs it at the next :17; a delayed or dropped GitHub run is caught up, never run twice";

/// `JST` for Asia/Tokyo, else the IANA name.
fn tz_short(tz: Tz) -> String {
    let abbr = Utc::now().with_timezone(&tz).format("%Z").to_string();
    if abbr.starts_with(['+', '-']) {
        tz.name().to_string()
    } else {
        abbr
    }
}

/// Who can read a destination, and how long files stay; `flags` are things a reviewer
/// must look at (a placeholder folder id, a local folder on an ephemeral runner).
pub struct DestinationFacts {
    pub readers: String,
    pub retention: String,
    pub flags: Vec<String>,
}

pub fn destination(d: &DestinationConfig) -> DestinationFacts {
    match d {
        DestinationConfig::Local {
            path,
            retention_days,
        } => DestinationFacts {
            readers: format!(
                "whoever can log in to the machine that runs sqlcourier (local folder `{}`)",
                path.display()
            ),
            retention: match retention_days {
                Some(n) => format!("{n} days is set, but not acted on for local folders"),
                None => "kept until someone deletes them".into(),
            },
            flags: vec![format!(
                "⚠️ `local` destination: the workflows run on ephemeral runners, so a file written to `{}` is gone when the job ends; nobody can fetch it. Use a `drive` destination for scheduled runs.",
                path.display()
            )],
        },
        DestinationConfig::Drive(d) => {
            let mut who = Vec::new();
            for (list, what) in [
                (&d.readers.users, "people"),
                (&d.readers.groups, "Google groups"),
                (&d.readers.domains, "everyone in the domains"),
            ] {
                if !list.is_empty() {
                    who.push(format!(
                        "{what}: {}",
                        list.iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            let mut flags = Vec::new();
            if looks_like_placeholder(&d.folder_id) {
                flags.push(format!(
                    "⚠️ the Drive `folder_id` `{}` looks like a placeholder, not a real folder id: the run will fail (or deliver to the wrong folder). Ask an operator for the real id.",
                    d.folder_id
                ));
            }
            DestinationFacts {
                readers: format!(
                    "{} (checked before every upload; any other access, or link sharing, stops the run)",
                    who.join("; ")
                ),
                retention: match d.retention_days {
                    Some(n) => format!(
                        "{n} days after the last delivery, then `sqlcourier prune` moves the file to the trash"
                    ),
                    None => "no retention set: kept until someone deletes them".into(),
                },
                flags,
            }
        }
    }
}

/// Real Drive folder ids are 19 or more letters, digits, `-` and `_`, without words.
pub fn looks_like_placeholder(id: &str) -> bool {
    let l = id.to_ascii_lowercase();
    id.len() < 19
        || [
            "replace",
            "example",
            "placeholder",
            "changeme",
            "change_me",
            "todo",
            "xxxx",
            "folder",
            "your",
            "dummy",
            "sample",
            "abcdef",
        ]
        .iter()
        .any(|w| l.contains(w))
}

/// When the query runs, in the query's time zone: "on merge, then on the 1st of every
/// month at 09:17 JST (00:17 UTC)".
pub fn schedule(s: &Schedule, tz: Tz) -> String {
    match s {
        Schedule::OnMergeOnly => {
            "once, when this pull request is merged (and by hand with \"Run workflow\")".into()
        }
        Schedule::Monthly => format!(
            "on merge, then on the 1st of every month shortly after 00:00 {} ({})",
            tz_short(tz),
            DISPATCH
        ),
        Schedule::Daily => format!(
            "on merge, then every day shortly after 00:00 {} ({})",
            tz_short(tz),
            DISPATCH
        ),
        Schedule::Weekly => format!(
            "on merge, then every Monday shortly after 00:00 {} ({})",
            tz_short(tz),
            DISPATCH
        ),
        Schedule::Quarterly => format!(
            "on merge, then on 1 January, April, July and October shortly after 00:00 {} ({})",
            tz_short(tz),
            DISPATCH
        ),
        Schedule::Cron(expr) => {
            let next = croner::Cron::new(expr).parse().ok().and_then(|c| {
                let mut t = Utc::now();
                let mut v = Vec::new();
                for _ in 0..2 {
                    let n = c.find_next_occurrence(&t, false).ok()?;
                    v.push(n.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string());
                    t = n;
                }
                Some(v.join(", "))
            });
            match next {
                Some(n) => format!("on merge, then on cron `{expr}` (UTC); next: {n}"),
                None => format!("on merge, then on cron `{expr}` (UTC)"),
            }
        }
        Schedule::Unknown(w) => format!("unknown schedule `{w}`"),
    }
}

/// The concrete dates a run now would cover: "previous_month: 2026-10-01 00:00 to
/// 2026-11-01 00:00 Asia/Tokyo (the end excluded), file label `2026-10`".
pub fn period(kind: PeriodKind, tz: Tz, now: DateTime<Utc>) -> String {
    let name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    match period::resolve(kind, tz, now) {
        None => "none (the query reads all matching rows every time)".into(),
        Some(p) => format!(
            "{name}: a run now covers {} to {} {tz} (the end excluded), file label `{}`",
            p.start.format("%Y-%m-%d %H:%M"),
            p.end.format("%Y-%m-%d %H:%M"),
            p.label
        ),
    }
}

/// What a rule makes of a typical value, with a fixed example key for `hash`.
pub fn mask_example(rule: MaskRule) -> String {
    let sample = match rule {
        MaskRule::Hash | MaskRule::Email => "taro.yamada@example.com",
        MaskRule::Last4 => "090-1234-5678",
        MaskRule::Redact => "山田 太郎",
        MaskRule::Null => "山田 太郎",
        MaskRule::Year | MaskRule::Month => "1990-04-12",
        MaskRule::Scrub => "連絡は taro.yamada@example.com か 090-1234-5678 まで",
    };
    let key = b"example-key-not-the-real-one";
    let Ok(m) = Masker::new(rule, Some(key)) else {
        return String::new();
    };
    let mut out = Vec::new();
    let shown = match m.apply(sample.as_bytes(), &mut out) {
        Masked::Null => "empty (NULL)".to_string(),
        Masked::Scratch => format!("`{}`", String::from_utf8_lossy(&out)),
        Masked::Unfit => "empty".to_string(),
    };
    let note = if rule == MaskRule::Hash {
        " (the same input always gives the same code, so files still join)"
    } else {
        ""
    };
    format!("`{sample}` → {shown}{note}")
}

pub fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Text(s) => format!("\"{s}\""),
        other => other.to_text(),
    }
}

/// The query file as it is on `rev` (e.g. the base branch), or `None` when it did not
/// exist there. A relative `path` is relative to the current folder (`REV:./path`).
pub fn base_version(rev: &str, path: &Path) -> Option<QueryFile> {
    let shown = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let spec = if path.is_absolute() {
        format!("{rev}:{shown}")
    } else {
        format!("{rev}:./{shown}")
    };
    let out = std::process::Command::new("git")
        .args(["show", &spec])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    QueryFile::parse(path, text, String::new()).ok()
}

/// What changed against the base branch, one line each; a removed or weakened mask and
/// a new unmasked allowance come first and are marked.
pub fn changes(base: Option<&QueryFile>, now: &QueryFile) -> Vec<String> {
    let Some(base) = base else {
        return vec!["new query file".into()];
    };
    let (b, n): (&FrontMatter, &FrontMatter) = (&base.front, &now.front);
    let mut alarms = Vec::new();
    let mut rest = Vec::new();
    for (col, rule) in &b.mask {
        match n.mask.get(col) {
            None => alarms.push(format!(
                "🚨 **mask removed**: `{col}` was masked with `{}`; it now leaves the database {}",
                rule.name(),
                if n.pii_allowed.contains_key(col) {
                    "unmasked (allowed in `pii_allowed`)"
                } else {
                    "unmasked unless the run-time guard stops it"
                }
            )),
            Some(r) if r != rule => alarms.push(format!(
                "⚠️ **mask changed**: `{col}` from `{}` to `{}`",
                rule.name(),
                r.name()
            )),
            _ => {}
        }
    }
    for (col, rule) in &n.mask {
        if !b.mask.contains_key(col) {
            rest.push(format!("mask added: `{col}` → `{}`", rule.name()));
        }
    }
    for (col, why) in &n.pii_allowed {
        if b.pii_allowed.get(col) != Some(why) {
            alarms.push(format!("⚠️ **allowed unmasked**: `{col}` (\"{why}\")"));
        }
    }
    if b.allow_formulas.is_none()
        && let Some(why) = &n.allow_formulas
    {
        alarms.push(format!("⚠️ **formula guard turned off** (\"{why}\")"));
    }
    let mut field = |name: &str, old: String, new: String, alarm: bool| {
        if old != new {
            let line = format!("{name}: `{old}` → `{new}`");
            if alarm {
                alarms.push(format!("⚠️ **{name} changed**: `{old}` → `{new}`"));
            } else {
                rest.push(line);
            }
        }
    };
    field(
        "destination",
        b.destination.clone(),
        n.destination.clone(),
        true,
    );
    field("database", b.database.clone(), n.database.clone(), true);
    field("schedule", b.schedule.label(), n.schedule.label(), false);
    field(
        "period",
        format!("{:?}", b.period),
        format!("{:?}", n.period),
        false,
    );
    field(
        "variants",
        b.variants
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        n.variants
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        false,
    );
    if base.sql.trim() != now.sql.trim() {
        let old: Vec<&str> = base.sql.lines().collect();
        let new: Vec<&str> = now.sql.lines().collect();
        let changed = new.iter().filter(|l| !old.contains(l)).count();
        let removed = old.iter().filter(|l| !new.contains(l)).count();
        rest.push(format!(
            "SQL changed: {changed} line(s) new or edited, {removed} line(s) removed (see \"Files changed\")"
        ));
    }
    alarms.extend(rest);
    if alarms.is_empty() {
        alarms.push("only wording or comments changed".into());
    }
    alarms
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn q(front: &str) -> QueryFile {
        QueryFile::parse(
            Path::new("queries/q.sql"),
            format!("/*---\ntitle: t\ndatabase: main\ndestination: out\n{front}---*/\nSELECT 1\n"),
            String::new(),
        )
        .unwrap()
    }

    #[test]
    fn a_removed_mask_comes_first_and_stands_out() {
        let base = q("mask: {email: hash, phone: last4}\n");
        let now = q("mask: {phone: redact}\nschedule: monthly\n");
        let c = changes(Some(&base), &now);
        assert!(
            c[0].contains("mask removed") && c[0].contains("`email`"),
            "{c:?}"
        );
        assert!(c[1].contains("mask changed"), "{c:?}");
        assert!(c.iter().any(|l| l.starts_with("schedule:")), "{c:?}");
        assert_eq!(changes(None, &now), vec!["new query file".to_string()]);
    }

    #[test]
    fn period_and_schedule_are_concrete() {
        let now = Utc.with_ymd_and_hms(2026, 11, 15, 3, 0, 0).unwrap();
        let p = period(PeriodKind::PreviousMonth, chrono_tz::Asia::Tokyo, now);
        assert!(
            p.contains("2026-10-01 00:00 to 2026-11-01 00:00 Asia/Tokyo"),
            "{p}"
        );
        let s = schedule(&Schedule::Monthly, chrono_tz::Asia::Tokyo);
        assert!(
            s.contains("1st of every month shortly after 00:00 JST"),
            "{s}"
        );
    }

    #[test]
    fn mask_examples_and_placeholders() {
        assert_eq!(
            mask_example(MaskRule::Last4),
            "`090-1234-5678` → `***-****-5678`"
        );
        assert!(mask_example(MaskRule::Hash).contains("→ `h_"));
        assert!(looks_like_placeholder("REPLACE_WITH_FOLDER_ID"));
        assert!(looks_like_placeholder("1AbCdEfGhIjKlMnOpQrStUvWxYz"));
        assert!(!looks_like_placeholder("1Zq8Tn3kLmW0pQvRsT5uVxYb2cD4eF6gH"));
    }
}
