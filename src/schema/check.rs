//! `check` with the catalogue: the personal-data rules judged on what each result
//! column is made of (its lineage), the data owner's marks, and mask rules that fit
//! the column's type.
//!
//! - A column the owner marked `personal:` must be masked or allowed wherever it
//!   reaches the result, whatever the result column is called; a query that filters,
//!   joins, groups or sorts on it needs it allowed (`pii_allowed:` naming the column),
//!   unless the same column is masked in the result.
//! - A column marked `not_personal:` is not judged by its name.
//! - Other columns are judged by name, as without a catalogue (result name and the
//!   names of the columns it is made of).
//!
//! All unmasked personal result columns of a query are reported in one message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::resolve::{self, BaseCol, OutCol, Resolution, SqlAt, Tables};
use super::{Mark, SchemaFile};
use crate::catalog::diag::Diagnostic;
use crate::catalog::query::QueryFile;
use crate::guard::statement::CheckedStatement;
use crate::transform::mask::MaskRule;
use crate::transform::pii;

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

/// A result column as the reviewer summary and `run` see it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownColumn {
    pub name: Option<String>,
    /// `members.email`, … : the catalogue columns it is made of.
    pub sources: Vec<String>,
    /// The strongest owner mark among them.
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
    let Resolution {
        columns,
        complete,
        uses,
        problems: mut found,
    } = res;
    let names_ok = found.is_empty();
    problems.append(&mut found);
    personal_outputs(cat, file, &columns, problems);
    personal_uses(cat, file, &columns, &uses, problems);
    if names_ok {
        mask_rules(cat, file, &columns, complete, problems);
    }
    Some(Checked {
        columns: columns
            .iter()
            .map(|c| KnownColumn {
                name: c.name.clone(),
                sources: c.lineage.iter().map(|b| cat.full(*b)).collect(),
                personal: c.lineage.iter().filter_map(|b| cat.col(*b).personal).min(),
                from_wildcard: c.from_wildcard,
            })
            .collect(),
        complete,
    })
}

fn covered(file: &QueryFile, name: &str) -> bool {
    let f = &file.front;
    f.mask.contains_key(name) || f.pii_allowed.contains_key(name)
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
    columns: &[OutCol],
    problems: &mut Vec<Diagnostic>,
) {
    let mut findings: Vec<Finding> = Vec::new();
    for c in columns {
        if c.name.as_deref().is_some_and(|n| covered(file, n)) {
            continue;
        }
        let shown = c
            .name
            .as_deref()
            .map(|n| format!("`{n}`"))
            .unwrap_or_else(|| "an unnamed column".into());
        // 1. the owner's marks
        let marked: Vec<(BaseCol, super::Personal)> = c
            .lineage
            .iter()
            .filter_map(|b| match cat.col(*b).mark() {
                Mark::Personal(p) => Some((*b, p)),
                _ => None,
            })
            .collect();
        if let Some((b, p)) = marked.first() {
            let what = if c.direct == Some(*b) && c.name.as_deref() == Some(&cat.col(*b).name) {
                format!("{shown} is `{}`", cat.full(*b))
            } else {
                format!(
                    "{shown} is made of {}",
                    marked
                        .iter()
                        .map(|(b, _)| format!("`{}`", cat.full(*b)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            findings.push(Finding {
                at: c.at,
                text: format!(
                    "{what}, marked `personal: {}` by the data owner",
                    p.as_str()
                ),
                rule: p.suggested_rule(),
                name: c.name.clone(),
            });
            continue;
        }
        // 2. names, where the owner has not classified every source
        let all_classified = !c.lineage.is_empty()
            && c.lineage
                .iter()
                .all(|b| cat.col(*b).mark() != Mark::Unmarked);
        if all_classified {
            continue;
        }
        if let Some(n) = &c.name
            && let Some(word) = pii::personal_name(n)
        {
            findings.push(Finding {
                at: c.at,
                text: format!("{shown} looks personal (\"{word}\")"),
                rule: "hash",
                name: c.name.clone(),
            });
            continue;
        }
        for b in &c.lineage {
            let col = cat.col(*b);
            if col.mark() != Mark::Unmarked || c.name.as_deref() == Some(&col.name) {
                continue;
            }
            if file.front.pii_allowed.contains_key(&col.name) {
                continue;
            }
            if let Some(word) = pii::personal_name(&col.name) {
                findings.push(Finding {
                    at: c.at,
                    text: format!(
                        "{shown} comes from `{}`, which looks personal (\"{word}\")",
                        cat.full(*b)
                    ),
                    rule: "hash",
                    name: c.name.clone(),
                });
                break;
            }
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
            "add `mask: {{{}}}` (rules: hash, email, last4, redact, null, year, month), or list a column under `pii_allowed:` with the reason a reviewer agreed to",
            named.join(", ")
        ));
    }
    if findings.iter().any(|f| f.name.is_none()) {
        if !help.is_empty() {
            help.push_str("; ");
        }
        help.push_str("give unnamed columns a name with `AS name` so they can be masked");
    }
    if findings
        .iter()
        .any(|f| f.text.contains(" from `") || f.text.contains("*"))
        || columns.iter().any(|c| c.from_wildcard)
    {
        help.push_str("; or list only the columns you need instead of `*`");
    }
    problems.push(Diagnostic::new(&file.path, first.at.0, first.at.1, msg).help(help));
}

fn personal_uses(
    cat: &Catalogue,
    file: &QueryFile,
    columns: &[OutCol],
    uses: &[resolve::Use],
    problems: &mut Vec<Diagnostic>,
) {
    let f = &file.front;
    let masked_out: BTreeSet<BaseCol> = columns
        .iter()
        .filter(|c| c.name.as_deref().is_some_and(|n| f.mask.contains_key(n)))
        .flat_map(|c| c.lineage.iter().copied())
        .collect();
    let mut seen = BTreeSet::new();
    for u in uses {
        let Mark::Personal(p) = cat.col(u.base).mark() else {
            continue;
        };
        let col = &cat.col(u.base).name;
        let full = cat.full(u.base);
        if f.pii_allowed.contains_key(col)
            || f.pii_allowed.contains_key(&full)
            || masked_out.contains(&u.base)
        {
            continue;
        }
        if !seen.insert((u.base, u.how)) {
            continue;
        }
        problems.push(
            Diagnostic::new(
                &file.path,
                u.at.0,
                u.at.1,
                format!(
                    "this query {} `{full}`, which the data owner marked `personal: {}`",
                    u.how,
                    p.as_str()
                ),
            )
            .help(format!(
                "if a reviewer agrees, add `pii_allowed: {{{col}: \"why, e.g. used only to join\"}}`; otherwise use another column"
            )),
        );
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
            if let Some(what) = self.personal.get(n)
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
