//! `sqlcourier plan`: prints the GitHub Actions matrix of what a workflow run runs.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use clap::{Args, ValueEnum};

use crate::catalog::QuerySpec;
use crate::catalog::query::{QueryFile, Schedule};
use crate::exit;
use crate::github::GitHub;
use crate::guard::period::{self, PeriodKind};
use crate::plan::{self, Entry, PlanOutput};

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
    /// hourly scheduler runs), or one schedule word (`daily`, `weekly`, `monthly`,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Event {
    /// The query files added, changed or renamed between --before and --after.
    Push,
    /// Every query with --schedule.
    Schedule,
    /// The query files matching --glob.
    #[value(name = "workflow_dispatch")]
    WorkflowDispatch,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::Push => "push",
            Event::Schedule => "schedule",
            Event::WorkflowDispatch => "workflow_dispatch",
        }
    }
}

pub async fn run(cli_config: Option<&Path>, args: &PlanArgs) -> i32 {
    let catalog = match super::load_catalog(cli_config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::USAGE;
        }
    };
    let root = plan::root_dir(&catalog.root);
    let all = match plan::all_query_files(&root) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e:#}");
            return exit::USAGE;
        }
    };
    let period_override = args
        .period
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());

    // 1. which files
    let mut skipped_deleted = Vec::new();
    let selected: Vec<String> = match args.event {
        Event::Push => {
            let before = args.before.as_deref().unwrap_or_default();
            let after = args.after.as_deref().unwrap_or_default();
            match plan::push_changes(&root, before, after) {
                Ok(c) => {
                    if let Some(why) = &c.everything_because {
                        eprintln!("{why}");
                    }
                    for d in &c.deleted {
                        eprintln!("{d}: deleted, nothing to run");
                    }
                    skipped_deleted = c.deleted;
                    c.files
                }
                Err(e) => {
                    eprintln!("{e:#}");
                    return exit::USAGE;
                }
            }
        }
        Event::Schedule => {
            let name = args.schedule.as_deref().unwrap_or_default();
            if !matches!(name, "due" | "daily" | "weekly" | "monthly" | "quarterly") {
                eprintln!(
                    "--schedule {name}: use `due` (what the hourly scheduler runs) or one of daily, weekly, monthly, quarterly"
                );
                return exit::USAGE;
            }
            // the files with that schedule (any schedule but on-merge-only for `due`);
            // a file that cannot be read is selected too, so its problem fails the
            // plan instead of being skipped
            all.iter()
                .filter(
                    |p| match QueryFile::load(&super::relative(&root.join(p.as_str()))) {
                        Ok(f) if name == "due" => {
                            !matches!(f.front.schedule, Schedule::OnMergeOnly)
                        }
                        Ok(f) => f.front.schedule.label() == name,
                        Err(_) => true,
                    },
                )
                .cloned()
                .collect()
        }
        Event::WorkflowDispatch => {
            match plan::glob_files(&root, args.glob.as_deref().unwrap_or_default()) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{e:#}");
                    return exit::PROBLEMS;
                }
            }
        }
    };

    // 2. every selected file must pass check
    let annotate = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let mut specs: Vec<(String, QuerySpec)> = Vec::new();
    let mut problems = 0;
    for p in &selected {
        match catalog.check_query(&super::relative(&root.join(p.as_str()))) {
            Ok(spec) => specs.push((p.clone(), spec)),
            Err(diags) => {
                problems += diags.len();
                for d in diags {
                    if annotate {
                        eprintln!("{}", d.to_github());
                    }
                    eprintln!("{d}\n");
                }
            }
        }
    }
    if problems > 0 {
        eprintln!(
            "plan: {problems} problem(s) in the query files above; nothing will run. Fix them in a pull request (`sqlcourier check` shows the same)."
        );
        return exit::PROBLEMS;
    }

    // 3. the logical time, only when a period has to be computed
    let due = args.event == Event::Schedule && args.schedule.as_deref() == Some("due");
    let needs_time = due
        || period_override.is_none()
            && specs
                .iter()
                .any(|(_, s)| s.file.front.period != PeriodKind::None);
    let (as_of, source) = if needs_time {
        match logical_time(args.as_of).await {
            Ok((t, why)) => (Some(t), Some(why)),
            Err(e) => {
                eprintln!("plan: {e:#}");
                return exit::PROBLEMS;
            }
        }
    } else {
        (None, None)
    };
    if let (Some(t), Some(why)) = (&as_of, &source) {
        eprintln!(
            "logical time {}: {why}",
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
    }

    // 4. entries
    let ids = plan::ids_for(&selected, &all);
    let mut entries = Vec::new();
    let mut bad = false;
    if due {
        let until = as_of.unwrap_or_else(Utc::now);
        let since = args
            .since
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(until - chrono::Duration::hours(1));
        if until - since > crate::schedule::MAX_CATCH_UP {
            eprintln!(
                "plan: the last scheduler run was {} days ago; catching up only the last {} days",
                (until - since).num_days(),
                crate::schedule::MAX_CATCH_UP.num_days()
            );
        }
        entries = due_entries(&specs, &ids, since, until, period_override);
        specs.clear();
    }
    for (p, spec) in &specs {
        let kind = spec.file.front.period;
        let period = match (kind, period_override, as_of) {
            (PeriodKind::None, _, _) => String::new(),
            (_, Some(label), _) => {
                match period::parse_label(kind, label, spec.timezone).and_then(|per| {
                    period::refuse_unfinished(&per, as_of.unwrap_or_else(Utc::now)).map(|()| per)
                }) {
                    Ok(per) => per.label,
                    Err(e) => {
                        eprintln!("{p}: --period: {e}");
                        bad = true;
                        continue;
                    }
                }
            }
            (_, None, Some(t)) => period::resolve(kind, spec.timezone, t)
                .map(|per| per.label)
                .unwrap_or_default(),
            (_, None, None) => unreachable!("a logical time is resolved when a period is needed"),
        };
        entries.push(Entry {
            query: p.clone(),
            id: ids[p].clone(),
            period,
            variants: spec
                .file
                .front
                .variants
                .iter()
                .map(|v| v.name.clone())
                .collect(),
        });
    }
    if bad {
        return exit::PROBLEMS;
    }

    // 5. batches and output
    let batches = match plan::batches(&entries) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("plan: {e:#}");
            return exit::PROBLEMS;
        }
    };
    let out = PlanOutput {
        event: args.event.name().to_string(),
        logical_time: as_of.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        logical_time_source: source,
        period_override: period_override.map(str::to_string),
        count: entries.len(),
        batches: batches.len(),
        include: entries,
        skipped_deleted,
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

/// `--schedule due`: one entry per query and period whose schedule occurred in
/// `(since, until]`; a query without a period runs once however often it occurred.
fn due_entries(
    specs: &[(String, QuerySpec)],
    ids: &std::collections::BTreeMap<String, String>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    period_override: Option<&str>,
) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (p, spec) in specs {
        let f = &spec.file.front;
        let times = crate::schedule::occurrences(&f.schedule, spec.timezone, since, until);
        let mut labels: Vec<String> = Vec::new();
        for t in &times {
            let label = match (f.period, period_override) {
                (PeriodKind::None, _) => String::new(),
                (_, Some(l)) => l.to_string(),
                (k, None) => period::resolve(k, spec.timezone, *t)
                    .map(|per| per.label)
                    .unwrap_or_default(),
            };
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        let many = labels.len() > 1;
        for label in labels {
            let id = if many {
                format!(
                    "{}-{}",
                    ids[p],
                    label.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
                )
            } else {
                ids[p].clone()
            };
            eprintln!(
                "{p}: due ({}){}",
                f.schedule.label(),
                if label.is_empty() {
                    String::new()
                } else {
                    format!(" for {label}")
                }
            );
            entries.push(Entry {
                query: p.clone(),
                id,
                period: label,
                variants: f.variants.iter().map(|v| v.name.clone()).collect(),
            });
        }
    }
    entries
}

/// `--as-of`, else the workflow run's original creation time, else (outside GitHub
/// Actions only) now.
pub async fn logical_time(
    as_of: Option<DateTime<FixedOffset>>,
) -> anyhow::Result<(DateTime<Utc>, String)> {
    if let Some(t) = as_of {
        return Ok((t.with_timezone(&Utc), "given by --as-of".into()));
    }
    let run_id = std::env::var("GITHUB_RUN_ID")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let Some(run_id) = run_id else {
        return Ok((
            Utc::now(),
            "now (GITHUB_RUN_ID is not set, so this is not a workflow run; pass --as-of or --period to choose)".into(),
        ));
    };
    let id: u64 = run_id
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("GITHUB_RUN_ID `{run_id}` is not a number"))?;
    let gh = GitHub::from_env()?;
    let run = gh.workflow_run(id).await?;
    let attempt = std::env::var("GITHUB_RUN_ATTEMPT").unwrap_or_else(|_| "?".into());
    Ok((
        run.created_at,
        format!(
            "the original creation time of workflow run {id} (this is attempt {attempt}; re-runs keep it, so they repeat the same period)"
        ),
    ))
}
