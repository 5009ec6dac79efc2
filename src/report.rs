//! The run report: one entry per output file, printed for people and as JSON.

use std::fmt::Write as _;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Delivered,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub query: String,
    pub title: String,
    pub variant: Option<String>,
    pub period: Option<String>,
    pub file: String,
    pub status: Status,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// Where the file is (path or link); only when delivered.
    pub location: Option<String>,
    /// What went wrong and what to do, in plain words; only when failed.
    pub error: Option<String>,
    /// What else the destination did or found, in plain words (e.g. what happened to
    /// the file of a query file that was renamed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl FileReport {
    pub fn ok(&self) -> bool {
        matches!(self.status, Status::Delivered)
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        match self.status {
            Status::Delivered => {
                let mut l = format!(
                    "delivered {} — {} rows, {}, {:.1}s → {}",
                    self.file,
                    self.rows,
                    human_bytes(self.bytes),
                    self.seconds,
                    self.location.as_deref().unwrap_or("?")
                );
                for n in &self.notes {
                    l.push_str("\n          note: ");
                    l.push_str(n);
                }
                l
            }
            Status::Failed => format!(
                "FAILED    {} ({}) — {}",
                self.file,
                self.query,
                self.error.as_deref().unwrap_or("unknown error")
            ),
        }
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

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

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
