//! `sqlcourier plan`: prints the GitHub Actions matrix of what a workflow run runs.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use clap::Args;

use crate::exit;
pub use crate::github::plan::Event;
use crate::github::plan::{self, PlanError, Planned, Request};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The GitHub event the run is for.
    #[arg(long, value_enum)]
    pub event: Event,
    /// push: the commit before the push (all zeros on a first push).
    #[arg(long, value_name = "SHA", required_if_eq("event", "push"))]
    pub before: Option<String>,
    /// push: the pushed commit (must be the checked-out one).
    #[arg(long, value_name = "SHA", required_if_eq("event", "push"))]
    pub after: Option<String>,
    /// schedule: which queries to plan: `due` (every query whose schedule has an
    /// occurrence after --since, up to the logical time, once per period: what the
    /// hourly scheduler runs), `missed` (the daily check: every query and period due
    /// between --since (default: 54 hours before the logical time) and 6 hours before
    /// the logical time that no workflow job ran successfully, read through the API;
    /// the plan lists them), or one schedule word (`daily`, `weekly`, `monthly`,
    /// `quarterly`) for the period the logical time implies.
    #[arg(long, value_name = "SCHEDULE", required_if_eq("event", "schedule"))]
    pub schedule: Option<String>,
    /// workflow_dispatch: the query files to plan, e.g. 'queries/monthly/*.sql'.
    #[arg(
        long,
        value_name = "GLOB",
        required_if_eq("event", "workflow_dispatch")
    )]
    pub glob: Option<String>,
    /// Use this period instead of the computed one (2026-10, 2026-10-05, 2026-W40,
    /// 2026-Q3, 2026 — the label must fit each planned query's period kind).
    #[arg(long, value_name = "LABEL")]
    pub period: Option<String>,
    /// The logical time periods are computed from (RFC 3339). Default: under GitHub
    /// Actions the workflow run's original creation time (read through the API, the
    /// same for every re-run attempt); elsewhere now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<DateTime<FixedOffset>>,
    /// With `--schedule due`: the end of the previous scheduler window, normally the
    /// creation time of the scheduler's previous run (RFC 3339). Default: one hour
    /// before the logical time. At most 40 days are caught up.
    #[arg(long, value_name = "TIME")]
    pub since: Option<DateTime<FixedOffset>>,
    /// Also append batch-0..batch-3, count and batches to the file named by
    /// $GITHUB_OUTPUT.
    #[arg(long)]
    pub github_output: bool,
}

pub async fn run(cli_config: Option<&Path>, args: &PlanArgs) -> i32 {
    let catalog = match super::load_catalog(cli_config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::USAGE;
        }
    };
    let req = Request {
        event: Some(args.event),
        before: args.before.as_deref().unwrap_or_default(),
        after: args.after.as_deref().unwrap_or_default(),
        schedule: args.schedule.as_deref().unwrap_or_default(),
        glob: args.glob.as_deref().unwrap_or_default(),
        period: args.period.as_deref(),
        as_of: args.as_of,
        since: args.since,
    };
    let mut notes = Vec::new();
    let planned = plan::make(&catalog, &req, &mut notes).await;
    for n in &notes {
        eprintln!("{n}");
    }
    let Planned {
        output: out,
        batches,
    } = match planned {
        Ok(p) => p,
        Err(e) => {
            print_error(&e);
            return e.exit_code();
        }
    };
    if args.github_output {
        let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) else {
            eprintln!(
                "--github-output: GITHUB_OUTPUT is not set (GitHub Actions sets it in every step)"
            );
            return exit::USAGE;
        };
        let text = plan::github_output(&batches, out.count);
        let written = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "--github-output: cannot write {}: {e}",
                Path::new(&path).display()
            );
            return exit::USAGE;
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("the plan serialises")
    );
    eprintln!(
        "planned {} quer{} in {} batch(es)",
        out.count,
        if out.count == 1 { "y" } else { "ies" },
        out.batches
    );
    exit::OK
}

fn print_error(e: &PlanError) {
    match e {
        PlanError::Usage(m) => eprintln!("{m}"),
        PlanError::Problems(lines) => {
            for l in lines {
                eprintln!("{l}");
            }
        }
        PlanError::Checks(diags) => {
            let annotate = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
            for d in diags {
                if annotate {
                    eprintln!("{}", d.to_github());
                }
                eprintln!("{d}\n");
            }
            eprintln!(
                "plan: {} problem(s) in the query files above; nothing will run. Fix them in a pull request (`sqlcourier check` shows the same).",
                diags.len()
            );
        }
    }
}
