//! The catalog: `sqlcourier.yaml` and the query files, parsed and validated against
//! each other. Everything here works without a database, so `check` can run in a PR.

pub mod config;
pub mod diag;
pub mod query;
pub(crate) mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use crate::encode::Encoding;
use crate::guard::params::{PERIOD_END, PERIOD_START, valid_name};
use crate::guard::period::PeriodKind;
use crate::guard::statement::{self, CheckedStatement, SqlSource};
use config::{DatabaseConfig, RepoConfig};
use diag::{Diagnostic, Diagnostics};
use query::{QueryFile, Variant};

/// The repository configuration and where it lives.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub config: RepoConfig,
    pub config_path: PathBuf,
    /// The folder holding `sqlcourier.yaml`: relative destination paths start here.
    pub root: PathBuf,
    /// The schema catalogues (`schema/<database>.yaml`) that exist, by database name.
    pub schemas: BTreeMap<String, crate::schema::check::Catalogue>,
}

/// A query file that passed every check, ready to run.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub file: QueryFile,
    pub database_name: String,
    pub database: DatabaseConfig,
    pub statement: CheckedStatement,
    pub timezone: Tz,
    pub timeout: Duration,
    pub encoding: Encoding,
    /// The output file name template.
    pub template: String,
    /// What the schema catalogue tells about the result columns (`None` without one).
    pub known: Option<crate::schema::check::Checked>,
}

impl Catalog {
    pub fn load(config_path: &Path) -> Result<Catalog, Diagnostics> {
        let config = RepoConfig::load(config_path)?;
        let root = config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut schemas = BTreeMap::new();
        let mut problems = Vec::new();
        for name in config.databases.keys() {
            match crate::schema::check::load(&root, name) {
                Ok(Some(c)) => {
                    schemas.insert(name.clone(), c);
                }
                Ok(None) => {}
                Err(d) => problems.push(d),
            }
        }
        if !problems.is_empty() {
            return Err(Diagnostics(problems));
        }
        Ok(Catalog {
            config,
            config_path: config_path.to_path_buf(),
            root,
            schemas,
        })
    }

    /// Loads and checks one query file; every problem found is returned, located.
    pub fn check_query(&self, path: &Path) -> Result<QuerySpec, Vec<Diagnostic>> {
        let file = QueryFile::load(path).map_err(|d| vec![d])?;
        self.check_file(file)
    }

    pub fn check_file(&self, file: QueryFile) -> Result<QuerySpec, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let f = &file.front;
        let cfg = &self.config;

        let database = match cfg.databases.get(&f.database) {
            Some(db) => Some(db.clone()),
            None => {
                problems.push(
                    file.diag_at(
                        &["database"],
                        format!("there is no database called `{}`", f.database),
                    )
                    .help(known("databases", cfg.databases.keys())),
                );
                None
            }
        };
        if !cfg.destinations.contains_key(&f.destination) {
            problems.push(
                file.diag_at(
                    &["destination"],
                    format!("there is no destination called `{}`", f.destination),
                )
                .help(known("destinations", cfg.destinations.keys())),
            );
        }
        if f.title.trim().is_empty() {
            problems.push(
                file.diag_at(&["title"], "the title is empty")
                    .help("write a short title people recognise"),
            );
        }

        let tz_name = f.timezone.as_deref().unwrap_or(cfg.timezone());
        let timezone = match tz_name.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                problems.push(
                    file.diag_at(
                        &["timezone"],
                        format!("`{tz_name}` is not a time zone name"),
                    )
                    .help("use an IANA name such as Asia/Tokyo or UTC"),
                );
                chrono_tz::Asia::Tokyo
            }
        };
        let timeout = match f.timeout.as_deref().or(cfg.defaults.timeout.as_deref()) {
            None => crate::guard::timeout::DEFAULT,
            Some(t) => match crate::guard::timeout::parse(t) {
                Ok(d) => d,
                Err(msg) => {
                    problems.push(
                        file.diag_at(&["timeout"], msg)
                            .help("write it like 90s, 30m or 1h30m"),
                    );
                    crate::guard::timeout::DEFAULT
                }
            },
        };
        if let query::Schedule::Unknown(word) = &f.schedule {
            problems.push(
                file.diag_at(&["schedule"], format!("`{word}` is not a schedule sqlcourier knows"))
                    .help("use `monthly`, `on-merge-only`, or `{cron: \"0 0 3 * *\"}` (cron times are UTC)"),
            );
        }
        if let query::Schedule::Cron(expr) = &f.schedule
            && let Err(e) = croner::Cron::new(expr).parse()
        {
            problems.push(
                file.diag_at(&["schedule", "cron"], format!("`{expr}` is not a valid cron schedule: {e}"))
                    .help("write five fields: minute hour day-of-month month day-of-week, e.g. \"0 0 3 * *\" (times are UTC)"),
            );
        }

        // the SQL
        let statement = match &database {
            Some(db) => match statement::check(
                &SqlSource {
                    path: &file.path,
                    sql: &file.sql,
                    sql_line: file.sql_line,
                    sql_col: file.sql_col,
                },
                db.driver,
            ) {
                Ok(s) => Some(s),
                Err(mut d) => {
                    problems.append(&mut d);
                    None
                }
            },
            None => None,
        };

        let mut known = None;
        if let (Some(st), Some(db)) = (&statement, &database) {
            check_params(&file, st, &mut problems);
            // with the schema catalogue, personal data is judged by lineage and marks
            match self.schemas.get(&f.database) {
                Some(cat) => {
                    known = crate::schema::check::check(cat, &file, st, db.driver, &mut problems)
                }
                None => check_personal_columns(&file, &st.lineage, &mut problems),
            }
        }
        let template = check_output(&file, &mut problems);
        check_masking_block(&file, &mut problems);

        match (problems.is_empty(), database, statement) {
            (true, Some(database), Some(statement)) => Ok(QuerySpec {
                encoding: f
                    .output
                    .encoding
                    .or(cfg.defaults.encoding)
                    .unwrap_or_default(),
                database_name: f.database.clone(),
                database,
                statement,
                timezone,
                timeout,
                template,
                known,
                file,
            }),
            _ => Err(problems),
        }
    }
}

fn known<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        format!("sqlcourier.yaml defines no {what} yet; ask an engineer to add one")
    } else {
        format!(
            "use one of the {what} in sqlcourier.yaml: {}",
            names.join(", ")
        )
    }
}

fn check_params(file: &QueryFile, st: &CheckedStatement, problems: &mut Vec<Diagnostic>) {
    let f = &file.front;
    let has_period = f.period != PeriodKind::None;
    let used: BTreeSet<&str> = st.params.iter().map(String::as_str).collect();

    for (name, at) in st.params.iter().zip(&st.param_at) {
        let is_period = name == PERIOD_START || name == PERIOD_END;
        if is_period && !has_period {
            problems.push(
                Diagnostic::new(&file.path, at.0, at.1, format!(":{name} is used but the query has no period"))
                    .help("add `period: previous_month` (or previous_day, previous_week, previous_quarter, previous_year, current_month) to the settings"),
            );
            continue;
        }
        if is_period {
            continue;
        }
        if !valid_name(name) {
            problems.push(
                Diagnostic::new(
                    &file.path,
                    at.0,
                    at.1,
                    format!(":{name} is not a usable parameter name"),
                )
                .help("use lower-case letters, digits and _ (e.g. :prefecture)"),
            );
            continue;
        }
        let shared = f.params.contains_key(name);
        if f.variants.is_empty() {
            if !shared {
                problems.push(
                    Diagnostic::new(
                        &file.path,
                        at.0,
                        at.1,
                        format!(":{name} is used but has no value"),
                    )
                    .help(format!(
                        "add it under `params:` in the settings, e.g. `params: {{{name}: ...}}`"
                    )),
                );
            }
        } else if !shared {
            for (i, v) in f.variants.iter().enumerate() {
                if !v.params.contains_key(name) {
                    let (l, c) = locate_variant(file, i);
                    problems.push(
                        Diagnostic::new(
                            &file.path,
                            l,
                            c,
                            format!("variant `{}` gives no value for :{name}", v.name),
                        )
                        .help(format!(
                            "add `{name}: ...` to its params, or a shared value under `params:`"
                        )),
                    );
                }
            }
        }
    }
    if has_period && !used.contains(PERIOD_START) && !used.contains(PERIOD_END) {
        problems.push(
            file.diag_at(&["period"], "a period is set but the SQL uses neither :period_start nor :period_end")
                .help("filter on the period, e.g. `WHERE created_at >= :period_start AND created_at < :period_end`, or remove `period:`"),
        );
    }
    for name in f.params.keys() {
        if !used.contains(name.as_str()) {
            problems.push(
                file.diag_at(
                    &["params", name],
                    format!("the parameter `{name}` is declared but the SQL never uses :{name}"),
                )
                .help("remove it, or use it in the SQL"),
            );
        }
        if name == PERIOD_START || name == PERIOD_END {
            problems.push(
                file.diag_at(
                    &["params", name],
                    format!("`{name}` is set by `period:` and cannot be given by hand"),
                )
                .help("remove it; use `sqlcourier run --period 2026-10` to choose another period"),
            );
        }
    }
    for (i, v) in f.variants.iter().enumerate() {
        for name in v.params.keys() {
            if !used.contains(name.as_str()) {
                let (l, c) = locate_variant(file, i);
                problems.push(
                    Diagnostic::new(
                        &file.path,
                        l,
                        c,
                        format!(
                            "variant `{}` sets `{name}`, which the SQL never uses",
                            v.name
                        ),
                    )
                    .help(format!("remove it, or use :{name} in the SQL")),
                );
            }
        }
    }
}

/// The line of the i-th entry under `variants:`.
fn locate_variant(file: &QueryFile, i: usize) -> (usize, usize) {
    let (start, _) = file.locate(&["variants"]);
    let idx = diag::LineIndex::new(&file.text);
    let mut seen = 0;
    for line in start + 1..=file.front_last_line {
        let t = idx.line_text(line);
        let trimmed = t.trim_start();
        if trimmed.starts_with("- ") || trimmed == "-" {
            if seen == i {
                return (line, t.len() - trimmed.len() + 1);
            }
            seen += 1;
        }
    }
    (start, 1)
}

fn check_output(file: &QueryFile, problems: &mut Vec<Diagnostic>) -> String {
    let f = &file.front;
    let has_period = f.period != PeriodKind::None;
    let has_variants = !f.variants.is_empty();
    let template = match &f.output.file {
        Some(t) => t.clone(),
        None => {
            let mut t = "{query}".to_string();
            if has_variants {
                t.push_str("_{variant}");
            }
            if has_period {
                t.push_str("_{period}");
            }
            t.push_str(".csv");
            t
        }
    };
    let at = &["output", "file"];
    // placeholders
    let mut rest = template.as_str();
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else {
            problems.push(
                file.diag_at(at, "a `{` in the file name is never closed")
                    .help("write placeholders as {period}, {variant} or {query}"),
            );
            break;
        };
        let name = &rest[i + 1..i + j];
        if !matches!(name, "period" | "variant" | "query") {
            problems.push(
                file.diag_at(
                    at,
                    format!("`{{{name}}}` is not a placeholder sqlcourier fills in"),
                )
                .help("use {period}, {variant} or {query}"),
            );
        }
        rest = &rest[i + j + 1..];
    }
    if template.contains(['/', '\\'])
        || template.contains("..")
        || template.starts_with('.')
        || template.trim().is_empty()
    {
        problems.push(
            file.diag_at(at, "the output file name must be a plain file name")
                .help("remove `/`, `\\` and `..`; the folder comes from the destination"),
        );
    }
    if has_variants && !template.contains("{variant}") {
        problems.push(
            file.diag_at(
                at,
                "every variant would write the same file: the name has no {variant}",
            )
            .help("add {variant} to the file name, e.g. \"signups_{variant}_{period}.csv\""),
        );
    }
    if has_period && !template.contains("{period}") {
        problems.push(
            file.diag_at(
                at,
                "each period would overwrite the last one's file: the name has no {period}",
            )
            .help("add {period} to the file name, e.g. \"signups_{period}.csv\""),
        );
    }
    // variant names and collisions
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, v) in f.variants.iter().enumerate() {
        let (l, c) = locate_variant(file, i);
        if v.name.is_empty()
            || !v
                .name
                .chars()
                .all(|ch| ch.is_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            || v.name.starts_with('.')
        {
            problems.push(
                Diagnostic::new(
                    &file.path,
                    l,
                    c,
                    format!(
                        "the variant name `{}` cannot be used in a file name",
                        v.name
                    ),
                )
                .help("use letters, digits, - and _ only (e.g. tokyo, osaka-2)"),
            );
        }
        let rendered = render_name(&template, &file.stem(), Some(&v.name), Some("P"));
        if let Some(first) = names.insert(rendered.to_lowercase(), i) {
            problems.push(
                Diagnostic::new(
                    &file.path,
                    l,
                    c,
                    format!(
                        "variants `{}` and `{}` would write the same file",
                        f.variants[first].name, v.name
                    ),
                )
                .help("give every variant its own name"),
            );
        }
    }
    template
}

fn check_masking_block(file: &QueryFile, problems: &mut Vec<Diagnostic>) {
    let f = &file.front;
    for (col, reason) in &f.pii_allowed {
        if reason.trim().is_empty() {
            problems.push(
                file.diag_at(&["pii_allowed", col], format!("`{col}` is allowed without a reason"))
                    .help("write why a reviewer agreed it may stay unmasked, e.g. \"region only, not personal\""),
            );
        }
        if f.mask.contains_key(col) {
            problems.push(
                file.diag_at(
                    &["pii_allowed", col],
                    format!("`{col}` is both masked and allowed"),
                )
                .help("keep one: `mask:` if it must be hidden, `pii_allowed:` if it may stay"),
            );
        }
    }
    if let Some(r) = &f.allow_formulas
        && r.trim().is_empty()
    {
        problems.push(
            file.diag_at(&["allow_formulas"], "`allow_formulas` needs a reason")
                .help("write why cells starting with = + - @ may reach spreadsheets as they are"),
        );
    }
}

/// `check`-time personal-data guard: every result column is judged by what it is made
/// of (its lineage), and every personal column the query reads anywhere else (filters,
/// joins, grouping) must be allowed. See [`crate::guard::personal`].
fn check_personal_columns(
    file: &QueryFile,
    lineage: &crate::guard::lineage::Lineage,
    problems: &mut Vec<Diagnostic>,
) {
    use crate::guard::lineage::Reach;
    let f = &file.front;
    let rules = crate::guard::personal::Rules {
        mask: &f.mask,
        allowed: &f.pii_allowed,
        classify: None,
    };
    let mut names = BTreeSet::new();
    let mut all_named = true;
    let mut judged = Reach::new();
    for col in &lineage.columns {
        let (name, reach) = match &col.expand {
            // the real columns are judged at run time; only values that another UNION
            // branch may put there are judged now
            Some(e) => {
                all_named = false;
                (None, &e.extra)
            }
            None => {
                match &col.name {
                    Some(n) => {
                        names.insert(n.clone());
                    }
                    None => all_named = false,
                }
                (col.name.as_deref(), &col.reach)
            }
        };
        judged.extend(reach.iter().cloned());
        if let Err(list) = rules.judge(name, reach) {
            for p in list {
                let (msg, help) = p.message(name);
                problems.push(Diagnostic::new(&file.path, col.at.0, col.at.1, msg).help(help));
            }
        }
    }
    for (origin, at) in &lineage.used {
        if judged.contains(origin) {
            continue;
        }
        if let Some(p) = rules.judge_used(origin) {
            let (msg, help) = p.used_message();
            problems.push(Diagnostic::new(&file.path, at.0, at.1, msg).help(help));
        }
    }
    if all_named {
        for col in f.mask.keys() {
            if !names.contains(col) {
                problems.push(
                    file.diag_at(
                        &["mask", col],
                        format!("the mask rule names `{col}`, but the query has no such column"),
                    )
                    .help(format!(
                        "the columns are: {}; fix the name so nothing leaks unmasked",
                        names.iter().cloned().collect::<Vec<_>>().join(", ")
                    )),
                );
            }
        }
    }
}

/// Fills a file name template.
pub fn render_name(
    template: &str,
    query: &str,
    variant: Option<&str>,
    period: Option<&str>,
) -> String {
    template
        .replace("{query}", query)
        .replace("{variant}", variant.unwrap_or(""))
        .replace("{period}", period.unwrap_or(""))
}

impl QuerySpec {
    /// The variants to run: each entry, or one unnamed run.
    pub fn variants(&self) -> Vec<Option<&Variant>> {
        if self.file.front.variants.is_empty() {
            vec![None]
        } else {
            self.file.front.variants.iter().map(Some).collect()
        }
    }

    pub fn file_name(&self, variant: Option<&str>, period: Option<&str>) -> String {
        let mut name = render_name(&self.template, &self.file.stem(), variant, period);
        if self.file.front.output.gzip && !name.ends_with(".gz") {
            name.push_str(".gz");
        }
        name
    }

    pub fn uses_hash(&self) -> bool {
        self.file
            .front
            .mask
            .values()
            .any(|r| *r == crate::transform::mask::MaskRule::Hash)
    }
}

/// Expands files and folders into query files (`*.sql`, recursively, sorted).
pub fn query_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut out).map_err(|e| {
                Diagnostic::new(input, 1, 1, format!("cannot read this folder: {e}"))
            })?;
        } else if input.exists() {
            out.push(input.clone());
        } else {
            return Err(
                Diagnostic::new(input, 1, 1, "there is no such file or folder")
                    .help("check the path; query files live under queries/"),
            );
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "sql") {
            out.push(p);
        }
    }
    Ok(())
}
