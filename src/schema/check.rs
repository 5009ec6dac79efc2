//! `check` with the catalogue: names resolved against it ([`super::resolve`]), the
//! data owner's marks applied to what each result column is made of (the column
//! lineage of [`crate::guard::lineage`], with the catalogue as its schema), and mask
//! rules that must fit the column's type.
//!
//! - A column the owner marked `personal:` must be masked (by result name) or allowed
//!   (`pii_allowed:` naming the source column, as [`crate::guard::personal`] reads
//!   it) wherever it reaches the result, whatever the result column is called; a query
//!   that filters, joins, groups or sorts on it needs it allowed, unless the same
//!   column is masked in the result.
//! - A column marked `not_personal:` is not judged by its name.
//! - Unmarked columns are judged as without a catalogue (by name, [`Rules`]).
//!
//! All personal result columns a query leaves unmasked are reported in one message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::resolve::{self, BaseCol, OutCol, SqlAt, Tables};
use super::{Mark, SchemaFile};
use crate::catalog::diag::Diagnostic;
use crate::catalog::query::QueryFile;
use crate::guard::lineage::{Lineage, Origin, Reach, Schema};
use crate::guard::personal::Rules;
use crate::guard::statement::CheckedStatement;
use crate::transform::mask::MaskRule;

/// A catalogue loaded for one database, with where it came from.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub file: SchemaFile,
    /// As messages show it, e.g. `schema/main.yaml`.
    pub shown: String,
}

impl Tables for Catalogue {
    fn find(&self, schema: Option<&str>, name: &str) -> Option<usize> {
        let t = self.file.table(schema, name)?;
        self.file.tables.iter().position(|x| std::ptr::eq(x, t))
    }
    fn table_name(&self, t: usize) -> String {
        self.file.tables[t].display()
    }
    fn column_names(&self, t: usize) -> Vec<String> {
        self.file.tables[t]
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }
    fn all_tables(&self) -> Vec<String> {
        self.file.tables.iter().map(|t| t.display()).collect()
    }
    fn source(&self) -> String {
        self.shown.clone()
    }
}

/// The lineage names tables dotted and in lower case, as written (`public.members`).
impl Schema for Catalogue {
    fn columns(&self, table: &str) -> Option<Vec<String>> {
        let t = self.base(table)?;
        Some(
            self.file.tables[t]
                .columns
                .iter()
                .map(|c| c.name.to_lowercase())
                .collect(),
        )
    }
}

/// A result column as the reviewer summary and `run` see it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownColumn {
    pub name: Option<String>,
    /// `members.email`, … : what it is made of.
    pub sources: Vec<String>,
    /// The owner's mark, when it is made of a column marked `personal:`.
    pub personal: Option<super::Personal>,
    pub from_wildcard: bool,
}

/// What the catalogue check found out about a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub columns: Vec<KnownColumn>,
    /// False when a `*` covered something the catalogue cannot describe.
    pub complete: bool,
}

impl Catalogue {
    fn col(&self, b: BaseCol) -> &super::Column {
        &self.file.tables[b.0].columns[b.1]
    }
    fn full(&self, b: BaseCol) -> String {
        format!("{}.{}", self.file.tables[b.0].display(), self.col(b).name)
    }

    /// The table the lineage means by `table` (dotted, lower case).
    fn base(&self, table: &str) -> Option<usize> {
        let (schema, name) = match table.rsplit_once('.') {
            Some((s, n)) => (Some(s.rsplit('.').next().unwrap_or(s)), n),
            None => (None, table),
        };
        let lower = |s: &str| s.to_lowercase();
        self.file.tables.iter().position(|t| {
            lower(&t.name) == name
                && match (schema, &t.schema) {
                    (None, None) | (Some(_), None) => true,
                    (Some(s), Some(ts)) => lower(ts) == s,
                    (None, Some(_)) => false,
                }
        })
    }

    /// The catalogue columns an origin stands for (a whole row: all of them; a column
    /// the lineage could not tie to one table: every column of that name).
    fn bases(&self, o: &Origin) -> Vec<BaseCol> {
        let in_table = |t: usize, column: &str| -> Option<BaseCol> {
            self.file.tables[t]
                .columns
                .iter()
                .position(|c| c.name.to_lowercase() == column.to_lowercase())
                .map(|i| (t, i))
        };
        match o {
            Origin::Column {
                table: Some(t),
                column,
            } => self
                .base(t)
                .and_then(|t| in_table(t, column))
                .into_iter()
                .collect(),
            Origin::Column {
                table: None,
                column,
            } => (0..self.file.tables.len())
                .filter_map(|t| in_table(t, column))
                .collect(),
            Origin::Row { table } => self
                .base(table)
                .map(|t| {
                    (0..self.file.tables[t].columns.len())
                        .map(|i| (t, i))
                        .collect()
                })
                .unwrap_or_default(),
            Origin::Unknown { .. } => Vec::new(),
        }
    }

    /// The first owner-marked personal column an origin carries.
    fn personal(&self, o: &Origin) -> Option<(BaseCol, super::Personal)> {
        self.bases(o)
            .into_iter()
            .find_map(|b| match self.col(b).mark() {
                Mark::Personal(p) => Some((b, p)),
                _ => None,
            })
    }

    /// Has the owner classified everything this origin carries?
    fn classified(&self, o: &Origin) -> bool {
        let b = self.bases(o);
        !b.is_empty() && b.iter().all(|b| self.col(*b).mark() != Mark::Unmarked)
    }
}

/// Runs the catalogue checks on a statement that passed the read-only check.
pub fn check(
    cat: &Catalogue,
    file: &QueryFile,
    st: &CheckedStatement,
    driver: crate::catalog::config::Driver,
    problems: &mut Vec<Diagnostic>,
) -> Option<Checked> {
    let sqlparser::ast::Statement::Query(q) = st.tree() else {
        return None;
    };
    let at = SqlAt {
        path: &file.path,
        sql_line: file.sql_line,
        sql_col: file.sql_col,
    };
    let res = resolve::resolve(q, cat, driver, at);
    let names_ok = res.problems.is_empty();
    problems.extend(res.problems.iter().cloned());
    let lineage = st.lineage_with(cat);
    // the resolver's names are exact (letter case as the database returns them)
    let aligned = res.columns.len() == lineage.columns.len();
    let names: Vec<Option<String>> = lineage
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if aligned {
                res.columns[i].name.clone()
            } else {
                c.name.clone()
            }
        })
        .collect();
    // a result column with a misspelt name is reported by name only: what it is made
    // of cannot be known until the name is fixed
    let starts: Vec<(usize, usize)> = lineage.columns.iter().map(|c| c.at).collect();
    let misspelt: BTreeSet<usize> = res
        .problems
        .iter()
        .filter_map(|d| starts.iter().rposition(|&at| at <= (d.line, d.col)))
        .collect();
    personal_outputs(cat, file, &lineage, &names, &misspelt, problems);
    personal_uses(cat, file, &lineage, problems);
    if names_ok {
        mask_rules(cat, file, &res.columns, res.complete, problems);
    }
    Some(Checked {
        columns: lineage
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mine = aligned.then(|| &res.columns[i]);
                KnownColumn {
                    name: names[i].clone(),
                    sources: c.reach.iter().map(ToString::to_string).collect(),
                    personal: c
                        .reach
                        .iter()
                        .filter_map(|o| cat.personal(o).map(|(_, p)| p))
                        .min(),
                    from_wildcard: mine.is_some_and(|m| m.from_wildcard),
                }
            })
            .collect(),
        complete: res.complete && aligned && lineage.columns.iter().all(|c| c.expand.is_none()),
    })
}

/// One line of the "personal columns" message.
struct Finding {
    at: (usize, usize),
    text: String,
    rule: &'static str,
    name: Option<String>,
}

fn personal_outputs(
    cat: &Catalogue,
    file: &QueryFile,
    lineage: &Lineage,
    names: &[Option<String>],
    misspelt: &BTreeSet<usize>,
    problems: &mut Vec<Diagnostic>,
) {
    let f = &file.front;
    let rules = Rules {
        mask: &f.mask,
        allowed: &f.pii_allowed,
        // the owner's marks are applied here, before these rules see what is left
        classify: None,
    };
    let mut findings: Vec<Finding> = Vec::new();
    for (i, (c, name)) in lineage.columns.iter().zip(names).enumerate() {
        if c.expand.is_some() || misspelt.contains(&i) {
            continue; // a table the catalogue lacks: reported by name, judged at run time
        }
        let name = name.as_deref();
        if name.is_some_and(|n| f.mask.contains_key(n)) {
            continue;
        }
        let name_allowed = name.is_some_and(|n| f.pii_allowed.contains_key(n));
        let shown = name
            .map(|n| format!("`{n}`"))
            .unwrap_or_else(|| "an unnamed column".into());
        // 1. the owner's marks
        let marked: Vec<(&Origin, BaseCol, super::Personal)> = c
            .reach
            .iter()
            .filter(|o| {
                !(rules.origin_allowed(o) || name_allowed && matches!(o, Origin::Row { .. }))
            })
            .filter_map(|o| cat.personal(o).map(|(b, p)| (o, b, p)))
            .collect();
        if let Some((_, b, p)) = marked.first() {
            let own = c.reach.len() == 1 && name == Some(cat.col(*b).name.as_str());
            let what = if own {
                format!("{shown} is `{}`", cat.full(*b))
            } else {
                let mut parts: Vec<String> = marked
                    .iter()
                    .map(|(_, b, _)| format!("`{}`", cat.full(*b)))
                    .collect();
                parts.dedup();
                format!("{shown} is made of {}", parts.join(", "))
            };
            findings.push(Finding {
                at: c.at,
                text: format!(
                    "{what}, marked `personal: {}` by the data owner",
                    p.as_str()
                ),
                rule: p.suggested_rule(),
                name: name.map(str::to_string),
            });
            continue;
        }
        // 2. what the owner has not classified is judged by name
        let rest: Reach = c
            .reach
            .iter()
            .filter(|o| !cat.classified(o))
            .cloned()
            .collect();
        if !c.reach.is_empty() && rest.is_empty() {
            continue;
        }
        if let Err(list) = rules.judge(name, &rest) {
            let (msg, _) = list[0].message(name);
            findings.push(Finding {
                at: c.at,
                text: msg,
                rule: "hash",
                name: name.map(str::to_string),
            });
        }
    }
    let Some(first) = findings.first() else {
        return;
    };
    let n = findings.len();
    let mut msg = if n == 1 {
        format!(
            "a result column is personal and neither masked nor allowed: {}",
            first.text
        )
    } else {
        format!("{n} result columns are personal and neither masked nor allowed:")
    };
    if n > 1 {
        for f in &findings {
            msg.push_str(&format!("\n  - line {}: {}", f.at.0, f.text));
        }
    }
    let named: Vec<String> = findings
        .iter()
        .filter_map(|f| f.name.as_ref().map(|n| format!("{n}: {}", f.rule)))
        .collect();
    let mut help = String::new();
    if !named.is_empty() {
        help.push_str(&format!(
            "add `mask: {{{}}}` (rules: hash, email, last4, redact, null, year, month, scrub), or, if a reviewer agrees it may stay, list the source column under `pii_allowed:` with the reason",
            named.join(", ")
        ));
    }
    if findings.iter().any(|f| f.name.is_none()) {
        if !help.is_empty() {
            help.push_str("; ");
        }
        help.push_str("give unnamed columns a name with `AS name` so they can be masked");
    }
    if file.sql.contains('*') {
        help.push_str("; or list only the columns you need instead of `*`");
    }
    problems.push(Diagnostic::new(&file.path, first.at.0, first.at.1, msg).help(help));
}

fn personal_uses(
    cat: &Catalogue,
    file: &QueryFile,
    lineage: &Lineage,
    problems: &mut Vec<Diagnostic>,
) {
    let f = &file.front;
    let rules = Rules {
        mask: &f.mask,
        allowed: &f.pii_allowed,
        // the owner's marks are applied here, before these rules see what is left
        classify: None,
    };
    // a source that reaches the result is judged there (masked, allowed or refused)
    let judged: BTreeSet<&Origin> = lineage.columns.iter().flat_map(|c| &c.reach).collect();
    for (o, at) in &lineage.used {
        if judged.contains(o) || rules.origin_allowed(o) {
            continue;
        }
        if let Some((b, p)) = cat.personal(o) {
            let col = &cat.col(b).name;
            problems.push(
                Diagnostic::new(
                    &file.path,
                    at.0,
                    at.1,
                    format!(
                        "this query reads `{}` (to filter, join, group or sort), which the data owner marked `personal: {}`",
                        cat.full(b),
                        p.as_str()
                    ),
                )
                .help(format!(
                    "if a reviewer agrees, add `pii_allowed: {{{col}: \"why, e.g. used only to join\"}}`; otherwise use another column"
                )),
            );
            continue;
        }
        if cat.classified(o) {
            continue;
        }
        if let Some(p) = rules.judge_used(o) {
            let (msg, help) = p.used_message();
            problems.push(Diagnostic::new(&file.path, at.0, at.1, msg).help(help));
        }
    }
}

/// What a column's type is, as far as mask rules care.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TypeClass {
    Integer,
    Number,
    Text,
    Date,
    Time,
    Bool,
    Binary,
    Other,
}

fn type_class(ty: &str) -> TypeClass {
    let t = ty.to_lowercase();
    let head = t.split(['(', ' ']).next().unwrap_or("").to_string();
    match head.as_str() {
        "tinyint" if t.starts_with("tinyint(1)") => TypeClass::Bool,
        "int" | "integer" | "tinyint" | "smallint" | "mediumint" | "bigint" | "int2" | "int4"
        | "int8" | "serial" | "bigserial" | "smallserial" | "year" | "bit" => TypeClass::Integer,
        "decimal" | "numeric" | "float" | "double" | "real" | "float4" | "float8" | "money" => {
            TypeClass::Number
        }
        "char" | "varchar" | "character" | "text" | "tinytext" | "mediumtext" | "longtext"
        | "enum" | "set" | "json" | "jsonb" | "citext" | "name" | "uuid" | "clob" | "string"
        | "nvarchar" | "nchar" => TypeClass::Text,
        "date" | "datetime" | "timestamp" | "timestamptz" => TypeClass::Date,
        "time" | "timetz" | "interval" => TypeClass::Time,
        "bool" | "boolean" => TypeClass::Bool,
        "binary" | "varbinary" | "blob" | "tinyblob" | "mediumblob" | "longblob" | "bytea" => {
            TypeClass::Binary
        }
        _ => TypeClass::Other,
    }
}

/// Why `rule` cannot work on a value of `class`, if it cannot.
fn misfit(rule: MaskRule, class: TypeClass) -> Option<&'static str> {
    use TypeClass as T;
    match rule {
        MaskRule::Year | MaskRule::Month => match class {
            T::Date | T::Text | T::Other => None,
            _ => Some("keeps part of a date, so it needs a date, date-time or text column"),
        },
        MaskRule::Email => match class {
            T::Text | T::Other => None,
            _ => Some("keeps the domain of an e-mail address, so it needs a text column"),
        },
        MaskRule::Last4 => match class {
            T::Text | T::Integer | T::Number | T::Other => None,
            _ => Some("keeps the last four digits, so it needs a text or number column"),
        },
        MaskRule::Scrub => match class {
            T::Text | T::Other => None,
            _ => Some("removes personal data from text, so it needs a text column"),
        },
        MaskRule::Hash | MaskRule::Redact | MaskRule::Null => None,
    }
}

fn mask_rules(
    cat: &Catalogue,
    file: &QueryFile,
    columns: &[OutCol],
    complete: bool,
    problems: &mut Vec<Diagnostic>,
) {
    for (name, rule) in &file.front.mask {
        let Some(out) = columns.iter().find(|c| c.name.as_deref() == Some(name)) else {
            if complete {
                let names: Vec<String> = columns.iter().filter_map(|c| c.name.clone()).collect();
                let mut d = file.diag_at(
                    &["mask", name],
                    format!("the mask rule names `{name}`, but the query has no such column"),
                );
                d = match resolve::suggest(name, names.clone()) {
                    Some(s) => d.help(format!(
                        "did you mean `{s}`? Fix the name so nothing leaks unmasked"
                    )),
                    None => d.help(format!(
                        "the columns are: {}; fix the name so nothing leaks unmasked",
                        names.join(", ")
                    )),
                };
                problems.push(d);
            }
            continue;
        };
        let Some(b) = out.direct else { continue };
        let col = cat.col(b);
        if let Some(why) = misfit(*rule, type_class(&col.ty)) {
            problems.push(
                file.diag_at(
                    &["mask", name],
                    format!(
                        "the mask rule `{}` does not fit `{name}`: it {why}, and `{}` is `{}`",
                        rule.name(),
                        cat.full(b),
                        col.ty
                    ),
                )
                .help(
                    "use `hash`, `redact` or `null`, which fit any column, or mask another column",
                ),
            );
        }
    }
}

/// Loads `schema/<database>.yaml` under `root` when it exists.
pub fn load(root: &Path, database: &str) -> Result<Option<Catalogue>, Diagnostic> {
    let path = super::path_for(root, database);
    if !path.exists() {
        return Ok(None);
    }
    let shown = crate::cli::relative(&path);
    let file = SchemaFile::load(&shown)?;
    Ok(Some(Catalogue {
        file,
        shown: shown.display().to_string(),
    }))
}

/// What `run` expects of the result, from the catalogue as `check` read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expected {
    /// The result column names in order, when the catalogue described every one.
    pub names: Option<Vec<String>>,
    /// Result columns made of owner-marked personal columns: name → what they are made of.
    pub personal: BTreeMap<String, String>,
}

impl From<&Checked> for Expected {
    fn from(k: &Checked) -> Self {
        Expected {
            names: k.complete.then(|| {
                k.columns
                    .iter()
                    .map(|c| c.name.clone().unwrap_or_default())
                    .collect()
            }),
            personal: k
                .columns
                .iter()
                .filter_map(|c| {
                    let p = c.personal?;
                    Some((
                        c.name.clone()?,
                        format!("{} (personal: {})", c.sources.join(", "), p.as_str()),
                    ))
                })
                .collect(),
        }
    }
}

impl Expected {
    /// Compares the columns the database returned with the catalogue's, before any row
    /// is written. An owner-marked column must be masked or allowed whatever happened
    /// since `check`; a column the catalogue does not know is judged like any other by
    /// the name and value guards that follow, and logged so the schema workflow runs.
    pub fn cross_check(
        &self,
        names: &[String],
        mask: &BTreeMap<String, MaskRule>,
        allowed: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        for n in names {
            if let Some(what) = self
                .personal
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, w)| w)
                && !mask.contains_key(n)
                && !allowed.contains_key(n)
            {
                anyhow::bail!(
                    "the result column `{n}` is made of {what}, marked personal by the data owner, and is neither masked nor allowed; nothing was written. Add `mask: {{{n}: hash}}` (or another rule) or `pii_allowed: {{{n}: \"reason\"}}` to the query file"
                );
            }
        }
        if let Some(exp) = &self.names {
            let has = |list: &[String], n: &str| list.iter().any(|x| x.eq_ignore_ascii_case(n));
            let new: Vec<&str> = names
                .iter()
                .filter(|n| !has(exp, n))
                .map(String::as_str)
                .collect();
            let gone: Vec<&str> = exp
                .iter()
                .filter(|n| !has(names, n))
                .map(String::as_str)
                .collect();
            if !new.is_empty() || !gone.is_empty() {
                tracing::warn!(
                    new = ?new,
                    missing = ?gone,
                    "the result's columns differ from the schema catalogue: the new ones are judged by their names and values only; run the schema workflow so the data owner can classify them"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_classes() {
        for (t, c) in [
            ("int(11)", TypeClass::Integer),
            ("bigint unsigned", TypeClass::Integer),
            ("integer", TypeClass::Integer),
            ("varchar(255)", TypeClass::Text),
            ("character varying(20)", TypeClass::Text),
            ("timestamp with time zone", TypeClass::Date),
            ("date", TypeClass::Date),
            ("tinyint(1)", TypeClass::Bool),
            ("numeric(10,2)", TypeClass::Number),
            ("bytea", TypeClass::Binary),
            ("any", TypeClass::Other),
        ] {
            assert_eq!(type_class(t), c, "{t}");
        }
        assert!(misfit(MaskRule::Month, TypeClass::Integer).is_some());
        assert!(misfit(MaskRule::Month, TypeClass::Text).is_none());
        assert!(misfit(MaskRule::Email, TypeClass::Date).is_some());
        assert!(misfit(MaskRule::Hash, TypeClass::Binary).is_none());
    }
}
