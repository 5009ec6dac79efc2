//! What kind of failure an error is, so the job summary, the pull-request comment and
//! Slack can tell the truth about what to do next. A re-run of a GitHub job uses the
//! same commit, so pressing "Re-run failed jobs" only helps when the cause was outside
//! the query file.
//!
//! The kind is attached where the error is made (a [`Failure`] in the error chain:
//! database errors by their code in `source`, Drive answers by their status in
//! `sink::drive`, the personal-data guard in `transform`, missing secrets in
//! `pipeline`) and read back by [`kind_of`], never guessed from the message text.

use std::fmt;

use serde::Serialize;

/// Who can fix a failure, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// Outside the query and likely to pass on a second try: network, time-outs,
    /// Drive 5xx / rate limits, a busy or restarting database, an interrupted run.
    Transient,
    /// The query file itself: SQL syntax, an unknown column or table, a refusal by
    /// the guard, personal data found in the result.
    Query,
    /// The set-up, which only an operator can change: a missing secret, a database
    /// user without the right grants or with too many, a Drive folder not shared.
    Configuration,
    /// Nothing in the error says which: read the message.
    Unknown,
}

impl FailureKind {
    /// A short name for tables.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Transient => "temporary",
            FailureKind::Query => "query problem",
            FailureKind::Configuration => "configuration",
            FailureKind::Unknown => "unclassified",
        }
    }

    /// What the requester should do, in one sentence (Markdown).
    pub fn what_to_do(self) -> &'static str {
        match self {
            FailureKind::Transient => {
                "This looks temporary (network, time-out, Drive or database busy): press **Re-run failed jobs**. The re-run uses the same period and replaces the same file; if it fails the same way again, ask an operator."
            }
            FailureKind::Query => {
                "This is a problem in the query file: fix it in a **new pull request** (a re-run uses the same commit, so it would fail the same way). Merging the fix runs the query again."
            }
            FailureKind::Configuration => {
                "This is a set-up problem (a secret, a database grant or a Drive folder's sharing): **ask an operator** to fix what the message names, then press **Re-run failed jobs** (nothing in the query needs to change)."
            }
            FailureKind::Unknown => {
                "Read the message: if it points at the query, fix it in a new pull request (a re-run uses the same commit); otherwise press **Re-run failed jobs** once and ask an operator if it fails again."
            }
        }
    }
}

/// An error that knows its [`FailureKind`]; its text is the message shown.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// An error of `kind` with `message`.
pub fn failure(kind: FailureKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        kind,
        message: message.into(),
    })
}

/// The same error, marked as `kind` unless something deeper already says what it is.
pub fn mark(e: anyhow::Error, kind: FailureKind) -> anyhow::Error {
    if e.chain().any(|c| c.downcast_ref::<Failure>().is_some()) {
        e
    } else {
        failure(kind, format!("{e:#}"))
    }
}

/// The kind of `e`: the innermost [`Failure`] in its chain (the one closest to the
/// cause); else an I/O error of a transport kind is [`FailureKind::Transient`]; else
/// [`FailureKind::Unknown`].
pub fn kind_of(e: &anyhow::Error) -> FailureKind {
    if let Some(f) = e.chain().filter_map(|c| c.downcast_ref::<Failure>()).last() {
        return f.kind;
    }
    let transport = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            use std::io::ErrorKind as K;
            matches!(
                io.kind(),
                K::TimedOut
                    | K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::BrokenPipe
                    | K::Interrupted
                    | K::UnexpectedEof
            )
        })
    });
    if transport {
        FailureKind::Transient
    } else {
        FailureKind::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_mark_wins_through_context() {
        let e = failure(FailureKind::Query, "unknown column")
            .context("delivery")
            .context("outer");
        assert_eq!(kind_of(&e), FailureKind::Query);
        let e = mark(e, FailureKind::Transient);
        assert_eq!(kind_of(&e), FailureKind::Query, "a deeper mark is kept");
        let e = mark(anyhow::anyhow!("plain"), FailureKind::Configuration);
        assert_eq!(kind_of(&e), FailureKind::Configuration);
        assert_eq!(e.to_string(), "plain");
    }

    #[test]
    fn io_transport_errors_are_transient_and_the_rest_unknown() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = anyhow::Error::new(io).context("reading");
        assert_eq!(kind_of(&e), FailureKind::Transient);
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no");
        assert_eq!(kind_of(&anyhow::Error::new(io)), FailureKind::Unknown);
        assert_eq!(kind_of(&anyhow::anyhow!("x")), FailureKind::Unknown);
    }

    #[test]
    fn each_kind_says_a_different_next_step() {
        assert!(
            FailureKind::Transient
                .what_to_do()
                .contains("Re-run failed jobs")
        );
        assert!(FailureKind::Query.what_to_do().contains("new pull request"));
        assert!(!FailureKind::Query.what_to_do().contains("press **Re-run"));
        assert!(
            FailureKind::Configuration
                .what_to_do()
                .contains("ask an operator")
        );
    }
}
