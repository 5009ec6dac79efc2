//! `sqlcourier run`: runs queries and delivers their files.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Args;

use super::ReportFormat;
use crate::catalog::{Catalog, QuerySpec, query_files};
use crate::exit;
use crate::pipeline::{self, RunContext, Shutdown};
use crate::report::FileReport;
use crate::sink::Sinks;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Query files or folders to run.
    pub paths: Vec<PathBuf>,
    /// Run every query file under queries/.
    #[arg(long, conflicts_with_all = ["paths", "schedule"])]
    pub all: bool,
    /// Run every query with this schedule (`daily`, `weekly`, `monthly`, `quarterly`).
    #[arg(long, value_name = "SCHEDULE", conflicts_with = "paths")]
    pub schedule: Option<String>,
    /// Use this period instead of the computed one: 2026-10 (months), 2026-10-05
    /// (days), 2026-W40 (weeks), 2026-Q3 (quarters), 2026 (years).
    #[arg(long, value_name = "LABEL")]
    pub period: Option<String>,
    /// The logical time periods are computed from (RFC 3339); default: now. Workflows
    /// pass the run's original creation time so a re-run repeats the same period.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<DateTime<chrono::FixedOffset>>,
    /// Print the report as text (default) or JSON on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// Folder for staging files (default: $RUNNER_TEMP or the system temp folder).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

pub async fn run(cli_config: Option<&Path>, args: &RunArgs, shutdown: Shutdown) -> i32 {
    let catalog = match super::load_catalog(cli_config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::USAGE;
        }
    };
    let specs = match select(&catalog, args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if specs.is_empty() {
        eprintln!("no query to run");
        return if args.schedule.is_some() {
            exit::OK
        } else {
            exit::USAGE
        };
    }
    // an empty --period (a workflow input left blank) means "computed"
    let period = args.period.clone().filter(|p| !p.trim().is_empty());
    // under GitHub Actions the logical time is the run's original creation time, so a
    // re-run repeats the same period; never "now"
    let needs_time = specs
        .iter()
        .any(|s| s.file.front.period != crate::guard::period::PeriodKind::None);
    let as_of = if period.is_some() || !needs_time {
        args.as_of
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now)
    } else {
        match crate::github::time::logical_time(args.as_of).await {
            Ok((t, why)) => {
                tracing::debug!(logical_time = %t, source = %why, "periods are computed from this time");
                t
            }
            Err(e) => {
                eprintln!("cannot tell which period to run: {e:#}; pass --period or --as-of");
                return exit::USAGE;
            }
        }
    };
    let ctx = RunContext {
        as_of,
        period,
        work_dir: args.work_dir.clone().unwrap_or_else(default_work_dir),
        sniff_rows: catalog.config.masking.sniff_rows,
        key_env: catalog.config.masking.key_env.clone(),
        key_override: None,
        commit: std::env::var("GITHUB_SHA").ok(),
        run_url: github_run_url(),
        url_override: None,
    };
    let reports = run_specs(&catalog, &specs, &ctx, &shutdown).await;
    print_reports(&reports, args.report);
    finish_code(&reports, &shutdown)
}

/// Runs each query in turn; one failing query does not stop the others.
pub async fn run_specs(
    catalog: &Catalog,
    specs: &[QuerySpec],
    ctx: &RunContext,
    shutdown: &Shutdown,
) -> Vec<FileReport> {
    let mut reports = Vec::new();
    // each destination built (and health-checked) once per run, not once per query
    let sinks = Sinks::new(&catalog.config.destinations, &catalog.root);
    for spec in specs {
        let Some(sink) = sinks.get(&spec.file.front.destination) else {
            continue; // the catalog checked that every destination exists
        };
        // identity and provenance: the path from the repository root, however typed
        let path = repo_path(&catalog.root, &spec.file.path);
        tracing::info!(query = %path, "running");
        reports.extend(pipeline::run_query(spec, &path, &sink, ctx, shutdown).await);
    }
    reports
}

/// `file`'s path relative to the repository root (the folder holding sqlcourier.yaml),
/// with `/` between the parts — the same text for `queries/x.sql`, `./queries/x.sql`,
/// an absolute path, or `x.sql` from inside `queries/` with `--config`. A file outside
/// the repository keeps its absolute path.
pub fn repo_path(root: &Path, file: &Path) -> String {
    let canon = |p: &Path| {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        std::fs::canonicalize(p).ok()
    };
    match (canon(root), canon(file)) {
        (Some(r), Some(f)) => match f.strip_prefix(&r) {
            Ok(rel) => rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
            Err(_) => f.display().to_string(),
        },
        _ => file.display().to_string(),
    }
}

pub fn print_reports(reports: &[FileReport], format: ReportFormat) {
    match format {
        ReportFormat::Text => {
            for r in reports {
                println!("{}", r.line());
            }
        }
        ReportFormat::Json => {
            for r in reports {
                eprintln!("{}", r.line());
            }
            println!(
                "{}",
                serde_json::to_string_pretty(reports).unwrap_or_default()
            );
        }
    }
    crate::github::summary::append_step_summary(reports);
}

pub fn finish_code(reports: &[FileReport], shutdown: &Shutdown) -> i32 {
    if shutdown.requested() {
        exit::INTERRUPTED
    } else if reports.iter().all(FileReport::ok) {
        exit::OK
    } else {
        exit::PROBLEMS
    }
}

fn select(catalog: &Catalog, args: &RunArgs) -> Result<Vec<QuerySpec>, i32> {
    let inputs = if args.all || args.schedule.is_some() || args.paths.is_empty() {
        if !args.all && args.schedule.is_none() {
            eprintln!("say which queries to run: give paths, --all, or --schedule monthly");
            return Err(exit::USAGE);
        }
        vec![catalog.root.join("queries")]
    } else {
        args.paths.clone()
    };
    let files = query_files(&inputs).map_err(|d| {
        eprintln!("{d}");
        exit::USAGE
    })?;
    let mut specs = Vec::new();
    let mut bad = false;
    for path in files {
        match catalog.check_query(&super::relative(&path)) {
            Ok(spec) => {
                let keep = match args.schedule.as_deref() {
                    None => true,
                    Some(word @ ("daily" | "weekly" | "monthly" | "quarterly")) => {
                        spec.file.front.schedule.label() == word
                    }
                    Some(other) => {
                        eprintln!(
                            "--schedule {other}: use daily, weekly, monthly or quarterly (cron schedules and catching up run through `sqlcourier plan --schedule due`)"
                        );
                        return Err(exit::USAGE);
                    }
                };
                if keep {
                    specs.push(spec);
                }
            }
            Err(diags) => {
                bad = true;
                for d in diags {
                    eprintln!("{d}\n");
                }
            }
        }
    }
    if bad {
        eprintln!(
            "some query files have problems (above); nothing was run. Run `sqlcourier check` to see them all."
        );
        return Err(exit::PROBLEMS);
    }
    Ok(specs)
}

fn default_work_dir() -> PathBuf {
    std::env::var_os("RUNNER_TEMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("sqlcourier")
}

fn github_run_url() -> Option<String> {
    let server = std::env::var("GITHUB_SERVER_URL").ok()?;
    let repo = std::env::var("GITHUB_REPOSITORY").ok()?;
    let run = std::env::var("GITHUB_RUN_ID").ok()?;
    Some(format!("{server}/{repo}/actions/runs/{run}"))
}
