//! The Markdown job summary of a `run` (`$GITHUB_STEP_SUMMARY`): one table row per
//! file, the notes, and for failures what went wrong and what to do.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::failure::FailureKind;
use crate::report::{FileReport, Status, human_bytes, md};

/// The Markdown job summary for GitHub Actions (`$GITHUB_STEP_SUMMARY`).
pub fn markdown(reports: &[FileReport]) -> String {
    let mut s = String::new();
    let failed = reports.iter().filter(|r| !r.ok()).count();
    if failed == 0 {
        let _ = writeln!(s, "### sqlcourier: {} file(s) delivered\n", reports.len());
    } else {
        let _ = writeln!(
            s,
            "### sqlcourier: {failed} of {} file(s) FAILED\n",
            reports.len()
        );
    }
    let _ = writeln!(
        s,
        "| Status | File | Query | Period | Rows | Size | Time | Where |"
    );
    let _ = writeln!(s, "|---|---|---|---|---:|---:|---:|---|");
    for r in reports {
        let icon = match r.status {
            Status::Delivered => "✅",
            Status::Skipped => "⏭️",
            Status::Failed => "❌",
        };
        let loc = match (&r.location, r.ok()) {
            (Some(l), true) if l.starts_with("http") => format!("[open]({l})"),
            (Some(l), true) => format!("`{l}`"),
            _ => "—".into(),
        };
        let _ = writeln!(
            s,
            "| {icon} | {} | {} | {} | {} | {} | {:.1}s | {loc} |",
            md(&r.file),
            md(&r.title),
            r.period.as_deref().unwrap_or("—"),
            r.rows,
            human_bytes(r.bytes),
            r.seconds
        );
    }
    let noted: Vec<&FileReport> = reports.iter().filter(|r| !r.notes.is_empty()).collect();
    if !noted.is_empty() {
        let _ = writeln!(s, "\n#### Notes\n");
        for r in noted {
            for n in &r.notes {
                let _ = writeln!(s, "- **{}**: {}", md(&r.file), md(n));
            }
        }
    }
    let failures: Vec<&FileReport> = reports.iter().filter(|r| !r.ok()).collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "\n#### What went wrong\n");
        let _ = writeln!(s, "Nothing partial was delivered for these files.");
        // one group per kind, each with the step that fixes it
        for kind in [
            FailureKind::Query,
            FailureKind::Configuration,
            FailureKind::Transient,
            FailureKind::Unknown,
        ] {
            let of_kind: Vec<&&FileReport> = failures
                .iter()
                .filter(|r| r.failure.unwrap_or(FailureKind::Unknown) == kind)
                .collect();
            if of_kind.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "\n**{}** — {}\n",
                capitalise(kind.label()),
                kind.what_to_do()
            );
            for r in of_kind {
                let _ = writeln!(
                    s,
                    "- **{}** (`{}`): {}",
                    md(&r.file),
                    md(&r.query),
                    md(r.error.as_deref().unwrap_or("unknown error"))
                );
            }
        }
    }
    s
}

/// Appends the job summary of `reports` to `$GITHUB_STEP_SUMMARY` when GitHub Actions
/// set it; does nothing elsewhere.
pub fn append_step_summary(reports: &[FileReport]) {
    if let Ok(p) = std::env::var("GITHUB_STEP_SUMMARY")
        && !p.is_empty()
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&p)
    {
        let _ = f.write_all(markdown(reports).as_bytes());
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(file: &str, kind: Option<FailureKind>, error: &str) -> FileReport {
        FileReport {
            query: format!("queries/{file}.sql"),
            title: file.into(),
            variant: None,
            period: Some("2026-10".into()),
            file: format!("{file}.csv"),
            status: Status::Failed,
            rows: 0,
            bytes: 0,
            seconds: 0.0,
            location: None,
            error: Some(error.into()),
            failure: kind,
            notes: vec![],
        }
    }

    /// The text of the group a file is listed in: from its heading to the next one.
    fn group_of<'a>(md: &'a str, file: &str) -> &'a str {
        let at = md
            .find(&format!("**{file}**"))
            .unwrap_or_else(|| panic!("{file}: {md}"));
        let start = md[..at].rfind("\n**").expect("a group heading");
        &md[start..at]
    }

    #[test]
    fn each_failure_kind_gets_its_own_next_step() {
        let reports = vec![
            failed("syntax", Some(FailureKind::Query), "near `FORM`"),
            failed("net", Some(FailureKind::Transient), "Drive answered 503"),
            failed("grant", Some(FailureKind::Configuration), "SELECT denied"),
            failed("odd", None, "something"),
        ];
        let md = markdown(&reports);
        let q = group_of(&md, "syntax.csv");
        assert!(q.contains("new pull request"), "{q}");
        assert!(!q.contains("press **Re-run"), "{q}");
        let t = group_of(&md, "net.csv");
        assert!(t.contains("press **Re-run failed jobs**"), "{t}");
        let c = group_of(&md, "grant.csv");
        assert!(c.contains("ask an operator"), "{c}");
        let u = group_of(&md, "odd.csv");
        assert!(u.starts_with("\n**Unclassified**"), "{u}");
        // only the kinds present are shown
        let only = markdown(&[failed("syntax", Some(FailureKind::Query), "x")]);
        assert!(!only.contains("Re-run failed jobs**. The re-run"), "{only}");
    }
}
