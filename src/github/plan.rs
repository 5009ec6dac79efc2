//! `plan`: which queries a workflow run should run, as a GitHub Actions matrix.
//!
//! - push: the query files added, changed or renamed between two commits (deleted ones
//!   skipped; a first push, whose "before" is all zeros, and a "before" missing from
//!   the clone after a force push, plan every query file of "after");
//! - schedule: every query with that schedule;
//! - manual dispatch: the query files matching a glob.
//!
//! Each entry carries the query, a stable `id` (safe in artifact names and concurrency
//! groups), its period and its variants. A matrix holds at most 256 entries, so the
//! entries are split into batches.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::catalog::QuerySpec;
use crate::catalog::diag::Diagnostic;
use crate::catalog::query::{QueryFile, Schedule};
use crate::guard::period::{self, PeriodKind};

/// GitHub's limit on the entries of one job matrix.
pub const BATCH_SIZE: usize = 256;
/// How many matrix jobs the workflow has (`run-0` … `run-3` in `_run-queries.yml`).
pub const MAX_BATCHES: usize = 4;

/// One matrix entry: one query, all its variants, one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The query file, relative to the repository root, with `/`.
    pub query: String,
    /// Letters, digits, `_` and `-` only; stable for a path.
    pub id: String,
    /// The period label (`2026-10`), or empty when the query has no period.
    pub period: String,
    /// The variant names; empty when the query has none.
    pub variants: Vec<String>,
}

/// What changed between two commits under `queries/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Added, modified or renamed (new path) query files, relative to the root.
    pub files: Vec<String>,
    /// Deleted query files (skipped; listed for the log).
    pub deleted: Vec<String>,
    /// Why every file was planned instead of a diff, if so.
    pub everything_because: Option<String>,
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .context("cannot start git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

fn resolve_commit(root: &Path, rev: &str) -> Option<String> {
    let spec = format!("{rev}^{{commit}}");
    git(root, &["rev-parse", "--verify", "--quiet", &spec])
        .ok()
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn is_zero_sha(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c == '0')
}

fn is_query_path(p: &str) -> bool {
    p.starts_with("queries/") && p.ends_with(".sql")
}

fn split_z(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|t| !t.is_empty())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect()
}

/// The query files of a push from `before` to `after`. The working tree at `root` must
/// be `after` (the files are checked from it).
pub fn push_changes(root: &Path, before: &str, after: &str) -> Result<Changes> {
    if after.is_empty() || is_zero_sha(after) {
        bail!(
            "--after `{after}` is not a commit (a push that deletes a branch has nothing to run)"
        );
    }
    let after_id = resolve_commit(root, after)
        .ok_or_else(|| anyhow!("--after {after} is not a commit in this clone"))?;
    let head = resolve_commit(root, "HEAD").unwrap_or_default();
    if head != after_id {
        bail!(
            "the checked-out commit is {head}, not --after {after}: plan reads the query files from the working tree, so check out {after} first"
        );
    }
    let everything = |why: String| -> Result<Changes> {
        let out = git(
            root,
            &[
                "ls-tree",
                "-r",
                "-z",
                "--name-only",
                &after_id,
                "--",
                "queries/",
            ],
        )?;
        let files = split_z(&out)
            .into_iter()
            .filter(|p| is_query_path(p))
            .collect();
        Ok(Changes {
            files,
            deleted: Vec::new(),
            everything_because: Some(why),
        })
    };
    if before.is_empty() || is_zero_sha(before) {
        return everything(
            "the push has no \"before\" commit (the first push of the branch): planning every query file".into(),
        );
    }
    let Some(before_id) = resolve_commit(root, before) else {
        return everything(format!(
            "the \"before\" commit {before} is not in this clone (a force push rewrote the history, or the checkout is shallow): planning every query file"
        ));
    };
    let out = git(
        root,
        &[
            "diff",
            "--name-status",
            "-z",
            "-M",
            "--no-ext-diff",
            "--relative",
            &before_id,
            &after_id,
            "--",
            "queries/",
        ],
    )?;
    parse_name_status(&split_z(&out))
}

/// Parses `git diff --name-status -z -M` output.
pub fn parse_name_status(tokens: &[String]) -> Result<Changes> {
    let mut c = Changes::default();
    let mut it = tokens.iter();
    while let Some(status) = it.next() {
        let kind = status.chars().next().unwrap_or('?');
        let path = |it: &mut std::slice::Iter<'_, String>| {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow!("git diff output ends after status {status}"))
        };
        match kind {
            // renamed or copied: old path, then new path; run the new one
            'R' | 'C' => {
                let _old = path(&mut it)?;
                let new = path(&mut it)?;
                c.files.push(new);
            }
            'D' => c.deleted.push(path(&mut it)?),
            'A' | 'M' | 'T' => c.files.push(path(&mut it)?),
            // unmerged / unknown / broken pairing: never between two commits
            _ => {
                let p = path(&mut it)?;
                bail!("git diff reported `{status}` for {p}, which plan does not understand");
            }
        }
    }
    c.files.retain(|p| is_query_path(p));
    c.deleted.retain(|p| is_query_path(p));
    c.files.sort();
    c.files.dedup();
    Ok(c)
}

/// Every query file under `root/queries`, relative to `root`, with `/`.
pub fn all_query_files(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("queries");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let files = crate::catalog::query_files(&[dir]).map_err(|d| anyhow!("{d}"))?;
    Ok(files.iter().map(|p| rel_slash(root, p)).collect())
}

/// `p` relative to `root`, with `/` separators.
pub fn rel_slash(root: &Path, p: &Path) -> String {
    let r = p.strip_prefix(root).unwrap_or(p);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The query files matching a glob such as `queries/monthly/*.sql` (`*` stays within
/// one folder, `**` crosses folders).
pub fn glob_files(root: &Path, glob: &str) -> Result<Vec<String>> {
    let pattern = glob.trim().trim_start_matches("./");
    let matcher = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| anyhow!("--glob `{glob}` is not a usable pattern: {e}"))?
        .compile_matcher();
    let files: Vec<String> = all_query_files(root)?
        .into_iter()
        .filter(|p| matcher.is_match(p))
        .collect();
    if files.is_empty() {
        bail!(
            "no query file matches `{glob}`: the pattern is matched against paths like queries/monthly/signups.sql (`*` stays within one folder, `**` crosses folders)"
        );
    }
    Ok(files)
}

/// A stable id for a query path, usable in artifact names and concurrency groups:
/// `queries/monthly/signups.sql` → `monthly-signups`. Paths whose plain form would
/// collide with another file in `all`, or that hold other characters, get a short hash.
pub fn query_id(path: &str, all: &[String]) -> String {
    let (plain, lossy) = plain_id(path);
    let collides = all
        .iter()
        .any(|other| other != path && plain_id(other).0.eq_ignore_ascii_case(&plain));
    if !lossy && !collides && !plain.is_empty() && plain.len() <= 80 {
        return plain;
    }
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(path.as_bytes()));
    let cut: String = plain.chars().take(80).collect();
    let mut base = cut.trim_matches(['-', '_']).to_string();
    if base.is_empty() {
        base.push_str("query");
    }
    format!("{base}-{}", &hash[..8])
}

fn plain_id(path: &str) -> (String, bool) {
    let s = path.strip_prefix("queries/").unwrap_or(path);
    let s = s.strip_suffix(".sql").unwrap_or(s);
    let mut out = String::with_capacity(s.len());
    let mut lossy = false;
    for ch in s.chars() {
        match ch {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => out.push(ch),
            '/' => out.push('-'),
            _ => {
                lossy = true;
                if !out.ends_with('_') {
                    out.push('_');
                }
            }
        }
    }
    (out, lossy)
}

/// Splits entries into matrix batches of at most [`BATCH_SIZE`].
pub fn batches(entries: &[Entry]) -> Result<Vec<Vec<Entry>>> {
    let max = BATCH_SIZE * MAX_BATCHES;
    if entries.len() > max {
        bail!(
            "the plan holds {} queries, more than the {max} ({MAX_BATCHES} jobs × {BATCH_SIZE}) one workflow run can start: run them in several manual runs with narrower globs (e.g. queries/monthly/a*.sql)",
            entries.len()
        );
    }
    Ok(entries.chunks(BATCH_SIZE).map(<[Entry]>::to_vec).collect())
}

/// The plan as printed on stdout.
#[derive(Debug, Clone, Serialize)]
pub struct PlanOutput {
    pub event: String,
    /// The logical time periods were computed from (RFC 3339), if one was needed.
    pub logical_time: Option<String>,
    /// Where the logical time came from, in words.
    pub logical_time_source: Option<String>,
    /// The `--period` override, if given.
    pub period_override: Option<String>,
    pub count: usize,
    pub batches: usize,
    pub include: Vec<Entry>,
    /// Deleted query files of a push (not run).
    pub skipped_deleted: Vec<String>,
}

/// `key=value` lines for `$GITHUB_OUTPUT`: `batch-0`..`batch-3`, `count`, `batches`.
pub fn github_output(batches: &[Vec<Entry>], count: usize) -> String {
    #[derive(Serialize)]
    struct Matrix<'a> {
        include: &'a [Entry],
    }
    let mut s = String::new();
    for i in 0..MAX_BATCHES {
        let include: &[Entry] = batches.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let json = serde_json::to_string(&Matrix { include }).expect("entries serialise");
        s.push_str(&format!("batch-{i}={json}\n"));
    }
    s.push_str(&format!("count={count}\nbatches={}\n", batches.len()));
    s
}

/// Ids of the given paths, computed against every query file of the repository.
pub fn ids_for(paths: &[String], all: &[String]) -> BTreeMap<String, String> {
    paths
        .iter()
        .map(|p| (p.clone(), query_id(p, all)))
        .collect()
}

/// `root` as a usable folder (`""` → `.`).
pub fn root_dir(root: &Path) -> PathBuf {
    if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root.to_path_buf()
    }
}

/// The GitHub event a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
    /// The name GitHub gives the event.
    pub fn name(self) -> &'static str {
        match self {
            Event::Push => "push",
            Event::Schedule => "schedule",
            Event::WorkflowDispatch => "workflow_dispatch",
        }
    }
}

/// What a workflow run asks `plan` for (the arguments of `sqlcourier plan`).
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub event: Option<Event>,
    /// push: the commits before and after the push.
    pub before: &'a str,
    pub after: &'a str,
    /// schedule: `due` or one schedule word.
    pub schedule: &'a str,
    /// workflow_dispatch: the glob of query files.
    pub glob: &'a str,
    /// The `--period` override (blank means none).
    pub period: Option<&'a str>,
    /// The logical time, when given.
    pub as_of: Option<DateTime<FixedOffset>>,
    /// `--schedule due`: the end of the previous scheduler window.
    pub since: Option<DateTime<FixedOffset>>,
}

/// A finished plan: what is printed and the matrix batches.
#[derive(Debug, Clone)]
pub struct Planned {
    pub output: PlanOutput,
    pub batches: Vec<Vec<Entry>>,
}

/// Why no plan could be made.
#[derive(Debug)]
pub enum PlanError {
    /// The command line or the repository is unusable (exit 2).
    Usage(String),
    /// Selected query files fail `check`: nothing runs (exit 1).
    Checks(Vec<Diagnostic>),
    /// Other problems, one message each (exit 1).
    Problems(Vec<String>),
}

impl PlanError {
    /// The exit code this failure ends `plan` with.
    pub fn exit_code(&self) -> i32 {
        match self {
            PlanError::Usage(_) => crate::exit::USAGE,
            PlanError::Checks(_) | PlanError::Problems(_) => crate::exit::PROBLEMS,
        }
    }
}

/// Makes the plan of `req` for the repository of `catalog`. What `plan` tells on the
/// way (deleted files, the logical time, due queries) is pushed onto `notes`, also
/// when planning fails.
pub async fn make(
    catalog: &Catalog,
    req: &Request<'_>,
    notes: &mut Vec<String>,
) -> std::result::Result<Planned, PlanError> {
    let event = req
        .event
        .ok_or_else(|| PlanError::Usage("--event is required".into()))?;
    let root = root_dir(&catalog.root);
    let all = all_query_files(&root).map_err(|e| PlanError::Usage(format!("{e:#}")))?;
    let period_override = req.period.map(str::trim).filter(|p| !p.is_empty());

    // 1. which files
    let mut skipped_deleted = Vec::new();
    let selected: Vec<String> = match event {
        Event::Push => {
            let c = push_changes(&root, req.before, req.after)
                .map_err(|e| PlanError::Usage(format!("{e:#}")))?;
            if let Some(why) = &c.everything_because {
                notes.push(why.clone());
            }
            for d in &c.deleted {
                notes.push(format!("{d}: deleted, nothing to run"));
            }
            skipped_deleted = c.deleted;
            c.files
        }
        Event::Schedule => {
            let name = req.schedule;
            if !matches!(
                name,
                "due" | "missed" | "daily" | "weekly" | "monthly" | "quarterly"
            ) {
                return Err(PlanError::Usage(format!(
                    "--schedule {name}: use `due` (what the hourly scheduler runs), `missed` (the daily check for runs that did not happen) or one of daily, weekly, monthly, quarterly"
                )));
            }
            // the files with that schedule (any schedule but on-merge-only for `due`);
            // a file that cannot be read is selected too, so its problem fails the
            // plan instead of being skipped
            all.iter()
                .filter(
                    |p| match QueryFile::load(&crate::cli::relative(&root.join(p.as_str()))) {
                        Ok(f) if name == "due" || name == "missed" => {
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
            glob_files(&root, req.glob).map_err(|e| PlanError::Problems(vec![format!("{e:#}")]))?
        }
    };

    // 2. every selected file must pass check
    let mut specs: Vec<(String, QuerySpec)> = Vec::new();
    let mut problems = Vec::new();
    for p in &selected {
        match catalog.check_query(&crate::cli::relative(&root.join(p.as_str()))) {
            Ok(spec) => specs.push((p.clone(), spec)),
            Err(diags) => problems.extend(diags),
        }
    }
    if !problems.is_empty() {
        return Err(PlanError::Checks(problems));
    }

    // 3. the logical time, only when a period has to be computed
    let missed = event == Event::Schedule && req.schedule == "missed";
    let due = event == Event::Schedule && (req.schedule == "due" || missed);
    let needs_time = due
        || period_override.is_none()
            && specs
                .iter()
                .any(|(_, s)| s.file.front.period != PeriodKind::None);
    let (as_of, source) = if needs_time {
        match super::time::logical_time(req.as_of).await {
            Ok((t, why)) => (Some(t), Some(why)),
            Err(e) => return Err(PlanError::Problems(vec![format!("plan: {e:#}")])),
        }
    } else {
        (None, None)
    };
    if let (Some(t), Some(why)) = (&as_of, &source) {
        notes.push(format!(
            "logical time {}: {why}",
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }

    // 4. entries
    let ids = ids_for(&selected, &all);
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    if due {
        let now = as_of.unwrap_or_else(Utc::now);
        // `missed` looks at the day before the last MISSED_GRACE hours: runs due later
        // may still be queued or running
        let until = if missed { now - MISSED_GRACE } else { now };
        // two days for `missed`: consecutive daily checks overlap even when GitHub
        // delays one by hours (a run still missing is told again the next day)
        let default_window = if missed {
            chrono::Duration::hours(48)
        } else {
            chrono::Duration::hours(1)
        };
        let since = req
            .since
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(until - default_window);
        if until - since > crate::schedule::MAX_CATCH_UP {
            notes.push(format!(
                "plan: the last scheduler run was {} days ago; catching up only the last {} days",
                (until - since).num_days(),
                crate::schedule::MAX_CATCH_UP.num_days()
            ));
        }
        entries = due_entries(&specs, &ids, since, until, period_override, notes);
        specs.clear();
        if missed {
            notes.push(format!(
                "missed: looking for a successful run of each query due between {} and {}",
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
                until.to_rfc3339_opts(SecondsFormat::Secs, true)
            ));
            let gh = super::GitHub::from_env()
                .map_err(|e| PlanError::Usage(format!("plan --schedule missed: {e:#}")))?;
            let mut jobs = Vec::new();
            let runs = gh
                .runs_since(since)
                .await
                .map_err(|e| PlanError::Problems(vec![format!("plan: {e:#}")]))?;
            for run in runs {
                jobs.extend(
                    gh.run_jobs(run.id)
                        .await
                        .map_err(|e| PlanError::Problems(vec![format!("plan: {e:#}")]))?,
                );
            }
            entries = missed_entries(entries, &jobs);
            for e in &entries {
                notes.push(format!(
                    "{}: MISSED: no successful run for {}",
                    e.query,
                    if e.period.is_empty() {
                        "its due time"
                    } else {
                        e.period.as_str()
                    }
                ));
            }
        }
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
                        bad.push(format!("{p}: --period: {e}"));
                        continue;
                    }
                }
            }
            (_, None, Some(t)) => period::resolve(kind, spec.timezone, t)
                .map(|per| per.label)
                .unwrap_or_default(),
            // a logical time is resolved whenever a period is needed (step 3)
            (_, None, None) => String::new(),
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
    if !bad.is_empty() {
        return Err(PlanError::Problems(bad));
    }

    // 5. batches
    let batches =
        batches(&entries).map_err(|e| PlanError::Problems(vec![format!("plan: {e:#}")]))?;
    let output = PlanOutput {
        event: event.name().to_string(),
        logical_time: as_of.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        logical_time_source: source,
        period_override: period_override.map(str::to_string),
        count: entries.len(),
        batches: batches.len(),
        include: entries,
        skipped_deleted,
    };
    Ok(Planned { output, batches })
}

/// How long after a due time `--schedule missed` waits before it calls the run missed
/// (GitHub delays scheduled runs, the hourly dispatcher catches up, and a run may be
/// queued behind others).
pub const MISSED_GRACE: chrono::Duration = chrono::Duration::hours(6);

/// The due entries no successful job ran. A run job is named `Run {id} {period}`
/// (`_run-queries.yml`; seen through the API as `caller / Run {id} {period}`); a due
/// entry caught up for several periods has the period appended to its id, so both
/// forms count. Any successful attempt counts (a re-run that passed).
pub fn missed_entries(expected: Vec<Entry>, jobs: &[super::Job]) -> Vec<Entry> {
    let done: std::collections::BTreeSet<&str> = jobs
        .iter()
        .filter(|j| j.conclusion.as_deref() == Some("success"))
        .map(|j| j.name.rsplit(" / ").next().unwrap_or(&j.name).trim())
        .collect();
    expected
        .into_iter()
        .filter(|e| {
            let slug = e.period.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
            let base =
                e.id.strip_suffix(&format!("-{slug}"))
                    .filter(|_| !e.period.is_empty())
                    .unwrap_or(&e.id);
            let names = [
                format!("Run {} {}", e.id, e.period),
                format!("Run {base} {}", e.period),
                format!("Run {base}-{slug} {}", e.period),
            ];
            !names.iter().any(|n| done.contains(n.trim()))
        })
        .collect()
}

/// `--schedule due`: one entry per query and period whose schedule occurred in
/// `(since, until]`; a query without a period runs once however often it occurred.
fn due_entries(
    specs: &[(String, QuerySpec)],
    ids: &BTreeMap<String, String>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    period_override: Option<&str>,
    notes: &mut Vec<String>,
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
            notes.push(format!(
                "{p}: due ({}){}",
                f.schedule.label(),
                if label.is_empty() {
                    String::new()
                } else {
                    format!(" for {label}")
                }
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn name_status_renames_deletes_and_non_queries() {
        let c = parse_name_status(&toks(&[
            "M",
            "queries/a.sql",
            "R087",
            "queries/old.sql",
            "queries/new.sql",
            "D",
            "queries/gone.sql",
            "A",
            "queries/README.md",
            "A",
            "queries/sub/b.sql",
        ]))
        .unwrap();
        assert_eq!(
            c.files,
            toks(&["queries/a.sql", "queries/new.sql", "queries/sub/b.sql"])
        );
        assert_eq!(c.deleted, toks(&["queries/gone.sql"]));
        assert!(parse_name_status(&toks(&["R100", "queries/x.sql"])).is_err());
    }

    #[test]
    fn ids_are_plain_when_they_can_be() {
        let all = toks(&[
            "queries/monthly/signups.sql",
            "queries/a/b.sql",
            "queries/a-b.sql",
            "queries/月次/会員.sql",
        ]);
        assert_eq!(
            query_id("queries/monthly/signups.sql", &all),
            "monthly-signups"
        );
        let ab1 = query_id("queries/a/b.sql", &all);
        let ab2 = query_id("queries/a-b.sql", &all);
        assert_ne!(ab1, ab2);
        assert!(ab1.starts_with("a-b-") && ab1.len() == 12, "{ab1}");
        let jp = query_id("queries/月次/会員.sql", &all);
        assert!(jp.starts_with("query-"), "{jp}");
        assert!(
            jp.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{jp}"
        );
        // stable
        assert_eq!(jp, query_id("queries/月次/会員.sql", &all));
    }

    #[test]
    fn missed_entries_are_those_without_a_successful_job() {
        let e = |id: &str, period: &str| Entry {
            query: format!("queries/{id}.sql"),
            id: id.into(),
            period: period.into(),
            variants: vec![],
        };
        let job = |name: &str, conclusion: Option<&str>| crate::github::Job {
            name: name.into(),
            conclusion: conclusion.map(str::to_string),
        };
        let expected = vec![
            e("daily-a", "2026-11-30"),
            e("daily-b", "2026-11-30"),
            e("daily-c-2026-11-29", "2026-11-29"),
            e("daily-c-2026-11-30", "2026-11-30"),
            e("nope", ""),
            e("ok-plain", ""),
        ];
        let jobs = vec![
            job("Run / Run daily-a 2026-11-30", Some("success")),
            // failed, then passed on a re-run: counts
            job("Run / Run daily-b 2026-11-30", Some("failure")),
            job("Run / Run daily-b 2026-11-30", Some("success")),
            // the hourly run planned 11-29 alone (no suffix)
            job("Run / Run daily-c 2026-11-29", Some("success")),
            // 11-30 for c only failed
            job("Run / Run daily-c 2026-11-30", Some("failure")),
            job("Run / Run nope", Some("cancelled")),
            job("Run / Run ok-plain", Some("success")),
        ];
        let left: Vec<String> = missed_entries(expected, &jobs)
            .into_iter()
            .map(|e| format!("{} {}", e.id, e.period))
            .collect();
        assert_eq!(left, vec!["daily-c-2026-11-30 2026-11-30", "nope "]);
    }

    #[test]
    fn batches_of_256_and_the_limit() {
        let e = |i: usize| Entry {
            query: format!("queries/q{i}.sql"),
            id: format!("q{i}"),
            period: String::new(),
            variants: vec![],
        };
        let entries: Vec<Entry> = (0..300).map(e).collect();
        let b = batches(&entries).unwrap();
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![256, 44]);
        let out = github_output(&b, 300);
        assert!(out.contains("batch-2={\"include\":[]}\n"), "{out}");
        assert!(out.ends_with("count=300\nbatches=2\n"));
        let too_many: Vec<Entry> = (0..1025).map(e).collect();
        assert!(batches(&too_many).unwrap_err().to_string().contains("1025"));
        assert_eq!(batches(&[]).unwrap().len(), 0);
    }
}
