//! sqlcourier: runs reviewed, read-only SQL files and delivers the results as CSV files.
//!
//! The pipeline reads top to bottom, one folder per stage:
//!
//! ```text
//! catalog  → guard      → source     → transform → encode  → sink
//! (files)    (read-only,  (MySQL, PG,  (masking,    (CSV,      (local folder,
//!             params,      SQLite)      PII guard,   encodings, Google Drive)
//!             periods)                  formulas)    gzip)
//! ```
//!
//! [`pipeline`] wires one query run through the stages and returns a [`report::FileReport`]
//! per delivered file; the command-line interface in `cli/` only parses arguments and
//! calls into the library.

pub mod catalog;
pub mod cli;
pub mod demo;
pub mod encode;
pub mod failure;
#[doc(hidden)]
pub mod fuzzing;
pub mod github;
pub mod guard;
pub mod pipeline;
pub mod redact;
pub mod report;
pub mod review;
pub mod schedule;
pub mod schema;
pub mod sink;
pub mod source;
pub mod transform;

/// Exit codes, stable and documented in README.md.
pub mod exit {
    /// Everything asked for worked.
    pub const OK: i32 = 0;
    /// `check` found problems, or at least one query failed in `run`.
    pub const PROBLEMS: i32 = 1;
    /// The command line or the repository configuration is unusable.
    pub const USAGE: i32 = 2;
    /// Interrupted by SIGINT/SIGTERM; nothing was delivered for unfinished files.
    pub const INTERRUPTED: i32 = 130;
}
