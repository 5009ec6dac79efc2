//! The run report: one entry per output file, printed for people and as JSON.

use serde::Serialize;

use crate::failure::FailureKind;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Delivered,
    /// The result was empty and the query says `on_empty: skip`: nothing delivered.
    Skipped,
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
    /// Who can fix the failure (decides the summary's "what to do"); only when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
    /// What else the destination did or found, in plain words (e.g. what happened to
    /// the file of a query file that was renamed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl FileReport {
    pub fn ok(&self) -> bool {
        matches!(self.status, Status::Delivered | Status::Skipped)
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
            Status::Skipped => format!(
                "skipped   {} ({}) — {}",
                self.file,
                self.query,
                self.notes.join("; ")
            ),
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

/// Escapes a value for a Markdown table cell.
pub fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
