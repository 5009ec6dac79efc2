//! The GitHub Actions integration, in one place: what the workflows in
//! `.github/workflows/` call through `sqlcourier plan`, `github …` and `notify …`.
//!
//! - [`plan`]: which queries a workflow run runs, as job matrices (push, schedule,
//!   dispatch), with their periods;
//! - [`time`]: the logical time periods are computed from (the workflow run's original
//!   creation time, so a re-run repeats the same period);
//! - [`summary`]: the Markdown job summary of a run;
//! - [`annotations`]: `check` problems as workflow annotations within GitHub's limits;
//! - [`notify`]: the Slack message for operators;
//! - [`api`]: the GitHub REST calls (workflow runs, pull requests, comments).
//!
//! `cli/` only parses the arguments of those commands and prints what these modules
//! return.

pub mod annotations;
pub mod api;
pub mod notify;
pub mod plan;
pub mod summary;
pub mod time;

pub use api::*;
