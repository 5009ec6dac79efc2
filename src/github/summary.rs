//! The Markdown job summary of a `run` (`$GITHUB_STEP_SUMMARY`): one table row per
//! file, the notes, and for failures what went wrong and what to do.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::report::{FileReport, human_bytes, md};

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
        let icon = if r.ok() { "✅" } else { "❌" };
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
        for r in failures {
            let _ = writeln!(
                s,
                "- **{}** (`{}`): {}",
                md(&r.file),
                md(&r.query),
                md(r.error.as_deref().unwrap_or("unknown error"))
            );
        }
        let _ = writeln!(
            s,
            "\nNothing partial was delivered for these files. Fix what the message says (or ask the data team), then press **Re-run failed jobs**: the re-run uses the same period and replaces the same file."
        );
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
