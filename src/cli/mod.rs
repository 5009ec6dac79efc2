//! The command line: argument definitions and one module per subcommand. This layer
//! only parses arguments, wires the library's stages together and prints.

pub mod check;
pub mod demo;
pub mod destinations;
pub mod github;
pub mod notify;
pub mod plan;
pub mod run;
pub mod schema;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::catalog::Catalog;
use crate::catalog::diag::Diagnostics;

const EXAMPLES: &str = "\
Examples:
  # see it work, no database or config needed (writes ./out/)
  sqlcourier demo

  # check every query file (what the pull-request check runs)
  sqlcourier check queries/
  sqlcourier check --format github queries/
  sqlcourier check --explain markdown queries/monthly/signups_by_prefecture.sql

  # run one query for last month, or a given month (backfill / re-run)
  SQLCOURIER_DB_MAIN='mysql://reader:…@db:3306/app' sqlcourier run queries/monthly/signups_by_prefecture.sql
  sqlcourier run queries/monthly/signups_by_prefecture.sql --period 2026-10

  # check the destinations only (Drive folder sharing), touching no database
  sqlcourier check --destinations

  # trash delivered files older than each destination's retention_days
  sqlcourier prune --dry-run

  # write schema/main.yaml from the database (the schema workflow runs this weekly)
  sqlcourier schema pull main

  # run every monthly query, with a machine-readable report
  sqlcourier run --schedule monthly --report json

Exit codes: 0 ok, 1 problems found or a query failed, 2 usage or configuration error,
130 interrupted. Logs go to stderr (SQLCOURIER_LOG=sqlcourier=debug for more, --log-format json).";

/// Runs reviewed, read-only SQL files and delivers the results as Excel-ready CSV files.
#[derive(Debug, Parser)]
#[command(name = "sqlcourier", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// The repository configuration (found in this folder or a parent when not given).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check query files without a database: settings, read-only SQL, parameters,
    /// masking of personal columns, output names.
    #[command(
        after_help = "Examples:\n  sqlcourier check queries/\n  sqlcourier check --format github queries/\n  sqlcourier check --explain markdown queries/monthly/signups_by_prefecture.sql"
    )]
    Check(check::CheckArgs),
    /// Run queries and deliver their files.
    #[command(
        after_help = "Examples:\n  sqlcourier run queries/monthly/signups_by_prefecture.sql\n  sqlcourier run queries/monthly/signups_by_prefecture.sql --period 2026-10\n  sqlcourier run --schedule monthly --report json\n  sqlcourier run --all --as-of 2026-11-01T00:30:00+09:00"
    )]
    Run(run::RunArgs),
    /// Create a SQLite demo database with fake members and orders, run the example
    /// queries against it and write the CSV files under ./out/.
    #[command(after_help = "Example:\n  sqlcourier demo && ls out/")]
    Demo(demo::DemoArgs),
    /// Print the GitHub Actions matrix of the queries a workflow run runs (JSON), for a
    /// push, a schedule or a manual dispatch; each entry has its period and variants.
    #[command(
        after_help = "Examples:\n  sqlcourier plan --event push --before \"$BEFORE\" --after \"$AFTER\" --github-output\n  sqlcourier plan --event schedule --schedule monthly\n  sqlcourier plan --event workflow_dispatch --glob 'queries/monthly/*.sql' --period 2026-10\n  sqlcourier plan --event schedule --schedule monthly --as-of 2026-11-01T00:30:00+09:00"
    )]
    Plan(plan::PlanArgs),
    /// GitHub API calls the workflows make (pull-request comments).
    Github(github::GithubArgs),
    /// Tell people how a workflow run went (Slack).
    Notify(notify::NotifyArgs),
    /// Trash delivered files older than their destination's `retention_days` — only
    /// files sqlcourier delivered (marked in their appProperties).
    #[command(
        after_help = "Examples:\n  sqlcourier prune --dry-run\n  sqlcourier prune --destination opex-monthly"
    )]
    Prune(destinations::PruneArgs),
    /// The schema catalogue (`schema/<database>.yaml`): tables, columns, types and the
    /// data owner's personal-data marks, read by `check` instead of a database.
    Schema(schema::SchemaArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Finds `sqlcourier.yaml`: the given path, or this folder and its parents.
pub fn find_config(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("{}: there is no such file", p.display()))
        };
    }
    let mut dir = std::env::current_dir().map_err(|e| e.to_string())?;
    loop {
        let candidate = dir.join("sqlcourier.yaml");
        if candidate.exists() {
            return Ok(candidate);
        }
        if !dir.pop() {
            return Err("sqlcourier.yaml was not found in this folder or any parent; run sqlcourier from the repository, or pass --config FILE".into());
        }
    }
}

/// Why the repository configuration could not be loaded, kept structured so `check`
/// can turn each problem into an annotation on its line.
#[derive(Debug)]
pub enum ConfigError {
    /// `sqlcourier.yaml` was not found (no file to point at).
    NotFound(String),
    /// It was found and has these located problems.
    Invalid(Diagnostics),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::NotFound(m) => f.write_str(m),
            ConfigError::Invalid(d) => write!(f, "{d}"),
        }
    }
}

pub fn load_catalog(given: Option<&Path>) -> Result<Catalog, ConfigError> {
    let path = find_config(given).map_err(ConfigError::NotFound)?;
    let shown = relative(&path);
    Catalog::load(&shown).map_err(ConfigError::Invalid)
}

/// A path relative to the current folder when it is below it (for messages).
pub fn relative(p: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    match p.strip_prefix(&cwd) {
        Ok(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
        _ => p.to_path_buf(),
    }
}
