//! `sqlcourier check`: validates query files without touching a database.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::catalog::{Catalog, QuerySpec, query_files};
use crate::exit;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Query files or folders (default: queries/ next to sqlcourier.yaml).
    pub paths: Vec<PathBuf>,
    /// How to print problems.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also print a reviewer summary of each query (what it reads, which columns are
    /// masked or allowed, which files it produces).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub explain: Option<Explain>,
    /// Check only the destinations in sqlcourier.yaml, as a run does before its query:
    /// a Drive folder must exist, be writable, and be shared with its `readers` only.
    /// Touches no database. Give destination names to check only those.
    #[arg(long, conflicts_with_all = ["paths", "explain"])]
    pub destinations: bool,
    /// With --destinations: the destination names to check (default: all).
    #[arg(long = "destination", value_name = "NAME", requires = "destinations")]
    pub only: Vec<String>,
    /// The files a pull request changes (paths from the repository root): each one
    /// that will never run (`.SQL`, a query outside queries/, …) is reported with why.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub changed: Vec<PathBuf>,
    /// With --explain: compare each query with its version on this git revision (the
    /// pull request's base, e.g. `HEAD^1`) and show what changed; a removed mask
    /// stands out.
    #[arg(long, value_name = "REV", requires = "explain")]
    pub base: Option<String>,
    /// Like --changed, read from a file (one path per line, or NUL-separated as
    /// `git diff -z --name-only` writes them).
    #[arg(long, value_name = "LIST")]
    pub changed_from: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `path:line:col: message` and what to do.
    Text,
    /// GitHub Actions annotations (`::error file=…,line=…,col=…::…`).
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Explain {
    Text,
    Markdown,
}

pub fn run(cli_config: Option<&std::path::Path>, args: &CheckArgs) -> i32 {
    let catalog = match super::load_catalog(cli_config) {
        Ok(c) => c,
        Err(msg) => {
            report_config_error(&msg, args.format);
            return exit::USAGE;
        }
    };
    if args.destinations {
        return super::destinations::check(&catalog, &args.only);
    }
    let inputs = if args.paths.is_empty() {
        vec![catalog.root.join("queries")]
    } else {
        args.paths.clone()
    };
    let files = match query_files(&inputs) {
        Ok(f) => f,
        Err(d) => {
            eprintln!("{d}");
            return exit::USAGE;
        }
    };
    let mut changed = args.changed.clone();
    if let Some(list) = &args.changed_from {
        match std::fs::read(list) {
            Ok(bytes) => changed.extend(
                String::from_utf8_lossy(&bytes)
                    .split(['\0', '\n'])
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(PathBuf::from),
            ),
            Err(e) => {
                eprintln!(
                    "{}: cannot read the list of changed files: {e}",
                    list.display()
                );
                return exit::USAGE;
            }
        }
    }
    // every problem, in file order: errors stop the check, warnings do not
    let mut diags = Vec::new();
    let mut specs = Vec::new();
    let mut failed_files = Vec::new();
    for path in &files {
        let shown = super::relative(path);
        match catalog.check_query(&shown) {
            Ok(spec) => {
                diags.extend(spec.warnings.iter().cloned());
                specs.push(spec);
            }
            Err(d) => {
                failed_files.push((shown.clone(), d.len()));
                diags.extend(d);
            }
        }
    }
    let mut never_run = Vec::new();
    for p in &changed {
        if let Some(d) = crate::catalog::changed::never_runs(p) {
            never_run.push(p.clone());
            diags.push(d);
        }
    }
    let errors = diags.iter().filter(|d| !d.is_warning()).count();
    match args.format {
        Format::Text => {
            for d in &diags {
                eprintln!("{d}\n");
            }
        }
        Format::Github => {
            for line in crate::github::annotations::select(&diags) {
                println!("{line}");
            }
            if let Ok(p) = std::env::var("GITHUB_STEP_SUMMARY")
                && !p.is_empty()
                && !diags.is_empty()
            {
                use std::io::Write as _;
                let md = crate::github::annotations::summary(&diags);
                if let Err(e) = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&p)
                    .and_then(|mut f| f.write_all(md.as_bytes()))
                {
                    eprintln!("could not write the job summary: {e}");
                }
            }
        }
    }
    if let Some(fmt) = args.explain {
        print!(
            "{}",
            explain(
                &catalog,
                &specs,
                fmt,
                &ExplainInput {
                    failed: &failed_files,
                    never_run: &never_run,
                    base: args.base.as_deref(),
                }
            )
        );
    }
    let warnings = diags.len() - errors;
    let mut tail = String::new();
    if warnings > 0 {
        tail.push_str(&format!(", {warnings} warning(s)"));
    }
    if !never_run.is_empty() {
        tail.push_str(&format!(
            "; {} changed file(s) will never run (see above)",
            never_run.len()
        ));
    }
    if errors == 0 {
        eprintln!("checked {} query file(s): no problems{tail}", files.len());
        exit::OK
    } else {
        let bad = diags
            .iter()
            .filter(|d| !d.is_warning())
            .map(|d| &d.path)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        eprintln!(
            "checked {} query file(s): {errors} problem(s) in {bad} file(s){tail}",
            files.len()
        );
        exit::PROBLEMS
    }
}

fn report_config_error(err: &super::ConfigError, format: Format) {
    if format == Format::Github {
        match err {
            super::ConfigError::Invalid(d) => {
                for d in &d.0 {
                    println!("{}", d.to_github());
                }
            }
            super::ConfigError::NotFound(m) => {
                println!("{}", crate::catalog::diag::github_error(None, m));
            }
        }
    }
    eprintln!("{err}");
}

/// What the reviewer summary needs besides the checked queries.
pub struct ExplainInput<'a> {
    /// Files with problems: (path, how many), left out of the summary.
    pub failed: &'a [(PathBuf, usize)],
    /// Changed files that will never run.
    pub never_run: &'a [PathBuf],
    /// The git revision to compare each query with (`--base`).
    pub base: Option<&'a str>,
}

/// The reviewer summary: per query, what it touches and how personal data is handled.
pub fn explain(
    catalog: &Catalog,
    specs: &[QuerySpec],
    fmt: Explain,
    input: &ExplainInput<'_>,
) -> String {
    use crate::review;
    let mut s = String::new();
    let md = fmt == Explain::Markdown;
    let code = |t: &str| if md { format!("`{t}`") } else { t.to_string() };
    if md {
        let _ = writeln!(s, "## sqlcourier: what these queries do\n");
    }
    let now = chrono::Utc::now();
    for spec in specs {
        let f = &spec.file.front;
        let path = spec.file.path.display();
        if md {
            let _ = writeln!(s, "### {} — `{path}`\n", md_text(&f.title));
            if let Some(d) = &f.description {
                for line in d.trim().lines() {
                    let _ = writeln!(s, "> {}", md_text(line));
                }
                let _ = writeln!(s);
            }
        } else {
            let _ = writeln!(s, "{path}: {}", f.title);
            if let Some(d) = &f.description {
                let _ = writeln!(s, "  {}", d.trim().replace('\n', "\n  "));
            }
        }
        let dest_cfg = catalog.config.destinations.get(&f.destination);
        let facts = dest_cfg.map(review::destination);
        let dest = dest_cfg
            .map(|d| match d {
                crate::catalog::config::DestinationConfig::Local { path, .. } => {
                    format!("local folder `{}`", path.display())
                }
                crate::catalog::config::DestinationConfig::Drive(d) => {
                    format!("Google Drive folder `{}`", d.folder_id)
                }
            })
            .unwrap_or_default();
        let mut flags: Vec<String> = facts.as_ref().map(|f| f.flags.clone()).unwrap_or_default();
        for w in &spec.warnings {
            flags.push(format!("⚠️ line {}: {}", w.line, w.message));
        }
        let timeout_default = f.timeout.is_none() && catalog.config.defaults.timeout.is_none();
        let mut rows: Vec<(&str, String)> = vec![
            (
                "Database",
                format!(
                    "`{}` ({})",
                    spec.database_name,
                    spec.database.driver.as_str()
                ),
            ),
            ("Destination", format!("`{}` — {dest}", f.destination)),
            (
                "Who can read it",
                facts
                    .as_ref()
                    .map(|f| f.readers.clone())
                    .unwrap_or_default(),
            ),
            (
                "Kept for",
                facts
                    .as_ref()
                    .map(|f| f.retention.clone())
                    .unwrap_or_default(),
            ),
            ("Runs", review::schedule(&f.schedule, spec.timezone)),
            (
                "If empty",
                match f.on_empty {
                    crate::catalog::query::OnEmpty::Deliver => {
                        "an empty file is delivered, with a note (`on_empty: deliver`, the default)"
                            .to_string()
                    }
                    crate::catalog::query::OnEmpty::Skip => {
                        "nothing is delivered, and the summary says so (`on_empty: skip`)"
                            .to_string()
                    }
                    crate::catalog::query::OnEmpty::Fail => {
                        "the query fails, and the requester is told (`on_empty: fail`)".to_string()
                    }
                },
            ),
            ("Period", review::period(f.period, spec.timezone, now)),
            (
                "Time limit",
                format!(
                    "{}{}",
                    humantime_like(spec.timeout),
                    if timeout_default {
                        " (the default)"
                    } else {
                        ""
                    }
                ),
            ),
            (
                "Reads",
                reads(
                    catalog.schemas.get(&spec.database_name),
                    &spec.database.policy(),
                    &spec.statement.reads,
                ),
            ),
            (
                "Columns",
                match &spec.known {
                    Some(k) => known_columns(k),
                    None => spec
                        .statement
                        .lineage
                        .columns
                        .iter()
                        .map(|c| {
                            if let Some(e) = &c.expand {
                                return format!("`{}.*` (checked at run time)", e.table);
                            }
                            let name = format!(
                                "`{}`",
                                c.name.clone().unwrap_or_else(|| "(unnamed)".into())
                            );
                            if c.reach.is_empty() {
                                return name;
                            }
                            // what the column is made of: reviewers see renames
                            let from: Vec<String> =
                                c.reach.iter().map(|o| format!("`{o}`")).collect();
                            format!("{name} ← {}", from.join(" + "))
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            ),
            (
                "Masked",
                if f.mask.is_empty() {
                    "none".into()
                } else {
                    f.mask
                        .iter()
                        .map(|(c, r)| {
                            format!("`{c}` → {} (e.g. {})", r.name(), review::mask_example(*r))
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            ),
            (
                "Personal, allowed unmasked",
                if f.pii_allowed.is_empty() {
                    "none".into()
                } else {
                    f.pii_allowed
                        .iter()
                        .map(|(c, why)| format!("`{c}` (\"{why}\")"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            (
                "Formula guard",
                match &f.allow_formulas {
                    None => "on".into(),
                    Some(why) => format!("OFF (\"{why}\")"),
                },
            ),
        ];
        if !f.params.is_empty() {
            rows.push((
                "Parameters",
                f.params
                    .iter()
                    .map(|(k, v)| format!("`{k}` = {}", review::param_text(v)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        rows.push((
            "Files",
            spec.variants()
                .iter()
                .map(|v| {
                    let name = format!(
                        "`{}`",
                        spec.file_name(v.map(|v| v.name.as_str()), Some("{period}"))
                    );
                    match v {
                        Some(v) if !v.params.is_empty() => format!(
                            "{name} (variant `{}`: {})",
                            v.name,
                            v.params
                                .iter()
                                .map(|(k, p)| format!("`{k}` = {}", review::param_text(p)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ => name,
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
                + &format!(
                    " ({}{})",
                    spec.encoding.label(),
                    if f.output.gzip { ", gzip" } else { "" }
                ),
        ));
        if let Some(rev) = input.base {
            let base = review::base_version(rev, &spec.file.path);
            let changes = review::changes(base.as_ref(), &spec.file);
            rows.push((
                "Changed",
                if md {
                    changes.join("<br>")
                } else {
                    changes.join("; ")
                },
            ));
        }
        if md {
            for flag in &flags {
                let _ = writeln!(s, "> {}\n", md_text(flag));
            }
            let _ = writeln!(s, "| Setting | Value |\n| --- | --- |");
            for (k, v) in rows {
                let _ = writeln!(s, "| {k} | {} |", table_cell(&v));
            }
            let _ = writeln!(s);
        } else {
            for flag in &flags {
                let _ = writeln!(s, "  {}", flag.replace('`', ""));
            }
            for (k, v) in rows {
                let _ = writeln!(s, "  {k}: {}", v.replace('`', ""));
            }
        }
    }
    if !input.failed.is_empty() || !input.never_run.is_empty() {
        if md {
            let _ = writeln!(s, "### Not summarised\n");
        } else {
            let _ = writeln!(s, "Not summarised:");
        }
        for (p, n) in input.failed {
            let _ = writeln!(
                s,
                "- {}: {n} problem(s); fix them (see the annotations under \"Files changed\") and this summary will show it",
                code(&p.display().to_string())
            );
        }
        for p in input.never_run {
            let _ = writeln!(
                s,
                "- {}: sqlcourier will never run this file (see the check's annotation for why)",
                code(&p.display().to_string())
            );
        }
        let _ = writeln!(s);
    }
    s
}

/// The "Reads" row: every relation in the statement that is sent (tables, views, system
/// catalogs, table functions; CTEs are not reads), each with what it is.
fn reads(
    catalogue: Option<&crate::schema::check::Catalogue>,
    policy: &crate::guard::allow::Policy,
    reads: &[crate::guard::statement::Read],
) -> String {
    if reads.is_empty() {
        return "no table (the query reads only what it computes)".into();
    }
    reads
        .iter()
        .map(|r| format!("`{}` ({})", r.name(), read_kind(catalogue, policy, r)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one read is: table or view from the schema catalogue, or why it is allowed.
fn read_kind(
    catalogue: Option<&crate::schema::check::Catalogue>,
    policy: &crate::guard::allow::Policy,
    r: &crate::guard::statement::Read,
) -> String {
    use crate::guard::statement::ReadKind;
    let listed = || {
        let key = r.policy_key();
        policy
            .functions
            .get(&key)
            .map(|why| ("allowed_functions", why))
            .or_else(|| {
                policy
                    .relations
                    .get(&key)
                    .map(|why| ("allowed_relations", why))
            })
            .map(|(list, why)| format!("in `{list}:` \"{why}\""))
            .unwrap_or_else(|| "allowed in sqlcourier.yaml".into())
    };
    match r.kind {
        ReadKind::Relation => {
            let Some(cat) = catalogue else {
                return "table or view: no schema catalogue tells which".into();
            };
            let (schema, name) = match r.parts.as_slice() {
                [.., s, n] => (Some(s.as_str()), n.as_str()),
                [n] => (None, n.as_str()),
                [] => (None, ""),
            };
            match cat.file.table(schema, name) {
                Some(t) if t.kind == crate::schema::TableKind::View => "view".into(),
                Some(_) => "table".into(),
                None => format!("not in {}", cat.shown),
            }
        }
        ReadKind::SystemCatalog => format!("system catalog, {}", listed()),
        ReadKind::TableFunction => format!("table function, {}", listed()),
        ReadKind::SequenceTable => {
            format!("MariaDB sequence table, a table function, {}", listed())
        }
    }
}

/// `1h30m`, `60m`, `90s`.
fn humantime_like(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Text from a query file inside Markdown: no HTML, no table breaks.
fn md_text(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A table cell: `|` escaped, line breaks as `<br>` (our own), text escaped.
fn table_cell(v: &str) -> String {
    v.split("<br>")
        .map(|part| md_text(part).replace('|', "\\|").replace('\n', " "))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The result columns as the schema catalogue resolved them: `*` expanded, each with
/// the catalogue columns it is made of and the owner's mark.
fn known_columns(k: &crate::schema::check::Checked) -> String {
    let mut parts: Vec<String> = k
        .columns
        .iter()
        .map(|c| {
            let name = c.name.clone().unwrap_or_else(|| "(unnamed)".into());
            let mut s = format!("`{name}`");
            let own =
                c.sources.len() == 1 && c.sources[0].rsplit('.').next() == Some(name.as_str());
            if !c.sources.is_empty() && !own {
                s.push_str(&format!(" ← {}", c.sources.join(" + ")));
            }
            if let Some(p) = c.personal {
                s.push_str(&format!(" (personal: {})", p.as_str()));
            }
            if c.from_wildcard {
                s.push_str(" [from *]");
            }
            s
        })
        .collect();
    if !k.complete {
        parts.push("and the columns of `*` over relations the catalogue does not describe (checked at run time)".into());
    }
    parts.join(", ")
}
