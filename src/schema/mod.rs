//! The schema catalogue: `schema/<database>.yaml`, written by `sqlcourier schema pull`
//! from the database and read by `check` (which has no database) and `run`.
//!
//! One file per database in `sqlcourier.yaml`: every table and view the reading user
//! can see, each column with its type, nullability and the database's own comment,
//! and the data owner's classification of the column (`personal: email` or
//! `not_personal: reason`). `pull` rewrites the generated parts and keeps the marks.
//!
//! ```yaml
//! database: main
//! driver: mysql
//! tables:
//!   - name: members
//!     comment: 会員
//!     columns:
//!       - name: member_id
//!         type: bigint(20)
//!         nullable: false
//!         not_personal: internal number, meaningless outside the database
//!       - name: email
//!         type: varchar(255)
//!         nullable: false
//!         comment: ログイン用メールアドレス
//!         personal: email
//!   - name: active_members
//!     kind: view
//!     columns: …
//! ```
//!
//! The file is written by [`SchemaFile::render`] in a fixed order and layout (tables by
//! schema and name, columns in table order, keys in the order above), so a pull that
//! finds nothing new writes the same bytes and a diff shows exactly what changed.

pub mod check;
#[cfg(test)]
mod check_tests;
pub mod pull;
pub mod resolve;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::config::Driver;
use crate::catalog::diag::Diagnostic;

/// The folder, next to `sqlcourier.yaml`, that holds the catalogue files.
pub const DIR: &str = "schema";

/// The catalogue file of `database` under the repository root.
pub fn path_for(root: &Path, database: &str) -> PathBuf {
    root.join(DIR).join(format!("{database}.yaml"))
}

/// One database's catalogue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// The database name in `sqlcourier.yaml`.
    pub database: String,
    /// The driver the catalogue was pulled with (type names are that database's).
    pub driver: Driver,
    #[serde(default)]
    pub tables: Vec<Table>,
}

/// A table or view.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The schema (PostgreSQL) when it is not the reading user's default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub name: String,
    #[serde(default)]
    pub kind: TableKind,
    /// The database's own comment on the table.
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    #[default]
    Table,
    View,
}

/// A column, with the data owner's classification.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    /// The type as the database writes it (`varchar(255)`, `timestamp with time zone`).
    #[serde(rename = "type")]
    pub ty: String,
    pub nullable: bool,
    /// The database's own comment on the column.
    #[serde(default)]
    pub comment: Option<String>,
    /// The data owner's mark: what kind of personal data the column holds.
    #[serde(default)]
    pub personal: Option<Personal>,
    /// The data owner's mark: why a column whose name looks personal is not.
    #[serde(default)]
    pub not_personal: Option<String>,
}

/// What kind of personal data a column holds (the data owner's mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Personal {
    Email,
    Phone,
    Name,
    Address,
    BirthDate,
    FreeText,
    Id,
    Other,
}

impl Personal {
    pub fn as_str(self) -> &'static str {
        match self {
            Personal::Email => "email",
            Personal::Phone => "phone",
            Personal::Name => "name",
            Personal::Address => "address",
            Personal::BirthDate => "birth_date",
            Personal::FreeText => "free_text",
            Personal::Id => "id",
            Personal::Other => "other",
        }
    }
    /// A mask rule that fits this kind, for the "what to do" part of messages.
    pub fn suggested_rule(self) -> &'static str {
        match self {
            Personal::Email => "email",
            Personal::Phone => "last4",
            Personal::BirthDate => "year",
            Personal::Name | Personal::Address | Personal::FreeText => "redact",
            Personal::Id | Personal::Other => "hash",
        }
    }
}

/// The owner's classification of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark<'a> {
    Personal(Personal),
    NotPersonal(&'a str),
    Unmarked,
}

impl Column {
    pub fn mark(&self) -> Mark<'_> {
        match (&self.personal, &self.not_personal) {
            (Some(p), _) => Mark::Personal(*p),
            (None, Some(r)) => Mark::NotPersonal(r),
            (None, None) => Mark::Unmarked,
        }
    }
    fn has_mark(&self) -> bool {
        self.personal.is_some() || self.not_personal.is_some()
    }
}

impl Table {
    /// `schema.name` or `name`, as messages show it.
    pub fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
    fn key(&self) -> (Option<&str>, &str) {
        (self.schema.as_deref(), self.name.as_str())
    }
}

impl SchemaFile {
    /// Reads and validates a catalogue file; problems are located in it.
    pub fn load(path: &Path) -> Result<SchemaFile, Diagnostic> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostic::new(path, 1, 1, format!("cannot read the schema catalogue: {e}"))
                .help("run the schema workflow (or `sqlcourier schema pull`) to write it again")
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<SchemaFile, Diagnostic> {
        let file: SchemaFile =
            crate::catalog::yaml::parse(path, text, 1, "the schema catalogue", &[]).map_err(
                |d| {
                    d.into_iter().next().unwrap_or_else(|| {
                        Diagnostic::new(path, 1, 1, "the schema catalogue could not be read")
                    })
                },
            )?;
        file.validate(path, text)?;
        Ok(file)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), Diagnostic> {
        for t in &self.tables {
            for c in &t.columns {
                let bad = if c.personal.is_some() && c.not_personal.is_some() {
                    Some("is marked both `personal:` and `not_personal:`")
                } else if c
                    .not_personal
                    .as_deref()
                    .is_some_and(|r| r.trim().is_empty())
                {
                    Some("is marked `not_personal:` without a reason")
                } else {
                    None
                };
                if let Some(bad) = bad {
                    let (line, col) = locate_column(text, &c.name);
                    return Err(Diagnostic::new(
                        path,
                        line,
                        col,
                        format!("the column `{}.{}` {bad}", t.display(), c.name),
                    )
                    .help("keep one mark: `personal: email|phone|name|address|birth_date|free_text|id|other`, or `not_personal: <why it is not personal>`"));
                }
            }
        }
        Ok(())
    }

    /// Sorts tables (schema, then name) so the file is written in one order.
    pub fn sort(&mut self) {
        self.tables.sort_by(|a, b| a.key().cmp(&b.key()));
    }

    /// The file's text: fixed order, fixed layout, one key per line.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# The schema catalogue of the database `");
        s.push_str(&self.database);
        s.push_str("`, written by `sqlcourier schema pull`.\n");
        s.push_str("# Data owners: mark each personal column `personal: email|phone|name|address|birth_date|free_text|id|other`,\n");
        s.push_str("# or `not_personal: <reason>` where the name looks personal but is not. `pull` keeps the marks.\n");
        let _ = writeln!(s, "database: {}", scalar(&self.database));
        let _ = writeln!(s, "driver: {}", self.driver.as_str());
        if self.tables.is_empty() {
            s.push_str("tables: []\n");
            return s;
        }
        s.push_str("tables:\n");
        for t in &self.tables {
            if let Some(schema) = &t.schema {
                let _ = writeln!(s, "  - schema: {}", scalar(schema));
                let _ = writeln!(s, "    name: {}", scalar(&t.name));
            } else {
                let _ = writeln!(s, "  - name: {}", scalar(&t.name));
            }
            if t.kind == TableKind::View {
                s.push_str("    kind: view\n");
            }
            if let Some(c) = &t.comment {
                let _ = writeln!(s, "    comment: {}", scalar(c));
            }
            if t.columns.is_empty() {
                s.push_str("    columns: []\n");
                continue;
            }
            s.push_str("    columns:\n");
            for c in &t.columns {
                let _ = writeln!(s, "      - name: {}", scalar(&c.name));
                let _ = writeln!(s, "        type: {}", scalar(&c.ty));
                let _ = writeln!(s, "        nullable: {}", c.nullable);
                if let Some(cm) = &c.comment {
                    let _ = writeln!(s, "        comment: {}", scalar(cm));
                }
                if let Some(p) = c.personal {
                    let _ = writeln!(s, "        personal: {}", p.as_str());
                }
                if let Some(r) = &c.not_personal {
                    let _ = writeln!(s, "        not_personal: {}", scalar(r));
                }
            }
        }
        s
    }

    /// Finds a table by what a query wrote (`name` or `schema.name`), following the
    /// database's rules for letter case.
    pub fn table(&self, schema: Option<&str>, name: &str) -> Option<&Table> {
        let eq = |a: &str, b: &str| names_equal(self.driver, a, b);
        self.tables.iter().find(|t| {
            eq(&t.name, name)
                && match (schema, &t.schema) {
                    (None, None) => true,
                    (Some(s), Some(ts)) => eq(ts, s),
                    // `app.members` on MySQL (the database name), `public.members` on PG
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                }
        })
    }
}

/// Are two identifiers the same object? PostgreSQL compares exactly (the caller folds
/// unquoted identifiers to lower case first); MySQL and SQLite ignore letter case.
pub fn names_equal(driver: Driver, a: &str, b: &str) -> bool {
    match driver {
        Driver::Postgres => a == b,
        Driver::Mysql | Driver::Sqlite => a.to_lowercase() == b.to_lowercase(),
    }
}

/// The (line, col) of the first `- name: <column>` line naming `column`.
fn locate_column(text: &str, column: &str) -> (usize, usize) {
    let want = scalar(column);
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("- name:")
            && (rest.trim() == want || rest.trim() == column)
        {
            return (i + 1, line.len() - t.len() + 1);
        }
    }
    (1, 1)
}

/// A YAML scalar: plain when it cannot be read as anything but this string, otherwise
/// double-quoted with JSON escapes (a subset of YAML's double-quoted style).
pub fn scalar(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '(' | ')' | ',' | '.' | '-')
        })
        && v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && !v.ends_with(' ')
        && !v.contains("  ")
        && !matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        v.to_string()
    } else {
        serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into())
    }
}

/// What `pull` found when it compared the new catalogue with the old file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PullReport {
    /// Marked columns (or tables holding marked columns) the database no longer has.
    pub gone_marked: Vec<String>,
    /// New columns without a mark whose names look personal, with the word matched.
    pub new_personal_looking: Vec<(String, String)>,
    /// New tables and views.
    pub new_tables: Vec<String>,
    /// Tables and views the database no longer has (or the user can no longer read).
    pub gone_tables: Vec<String>,
    /// New columns of tables that were already there.
    pub new_columns: Vec<String>,
}

impl PullReport {
    pub fn is_empty(&self) -> bool {
        *self == PullReport::default()
    }
}

/// Carries the owner's marks from `old` into `new` (same table and column name) and
/// reports what changed.
pub fn merge_marks(new: &mut SchemaFile, old: Option<&SchemaFile>) -> PullReport {
    let mut report = PullReport::default();
    let empty = SchemaFile {
        database: new.database.clone(),
        driver: new.driver,
        tables: Vec::new(),
    };
    let old = old.unwrap_or(&empty);
    let old_tables: BTreeMap<(Option<&str>, &str), &Table> =
        old.tables.iter().map(|t| (t.key(), t)).collect();
    for t in &mut new.tables {
        let shown = t.display();
        let before = old_tables
            .get(&(t.schema.as_deref(), t.name.as_str()))
            .copied();
        if before.is_none() && !old.tables.is_empty() {
            report.new_tables.push(shown.clone());
        }
        for c in &mut t.columns {
            let prev = before.and_then(|b| b.columns.iter().find(|p| p.name == c.name));
            match prev {
                Some(p) => {
                    c.personal = p.personal;
                    c.not_personal = p.not_personal.clone();
                }
                None => {
                    if before.is_some() {
                        report.new_columns.push(format!("{shown}.{}", c.name));
                    }
                    if !c.has_mark()
                        && let Some(word) = crate::transform::pii::personal_name(&c.name)
                    {
                        report
                            .new_personal_looking
                            .push((format!("{shown}.{}", c.name), word));
                    }
                }
            }
        }
    }
    let new_keys: BTreeMap<(Option<&str>, &str), &Table> =
        new.tables.iter().map(|t| (t.key(), t)).collect();
    for t in &old.tables {
        let now = new_keys.get(&t.key());
        if now.is_none() {
            report.gone_tables.push(t.display());
        }
        for c in t.columns.iter().filter(|c| c.has_mark()) {
            let still = now.is_some_and(|n| n.columns.iter().any(|x| x.name == c.name));
            if !still {
                let mark = match c.mark() {
                    Mark::Personal(p) => format!("personal: {}", p.as_str()),
                    Mark::NotPersonal(_) => "not_personal".to_string(),
                    Mark::Unmarked => String::new(),
                };
                report
                    .gone_marked
                    .push(format!("{}.{} ({mark})", t.display(), c.name));
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
            nullable: true,
            comment: None,
            personal: None,
            not_personal: None,
        }
    }

    #[test]
    fn scalars_quote_what_yaml_would_misread() {
        for (v, want) in [
            ("members", "members"),
            ("varchar(255)", "varchar(255)"),
            ("timestamp with time zone", "timestamp with time zone"),
            ("yes", "\"yes\""),
            ("NULL", "\"NULL\""),
            ("123", "\"123\""),
            ("a: b", "\"a: b\""),
            ("# x", "\"# x\""),
            ("会員", "\"会員\""),
            ("", "\"\""),
            ("line\nbreak \"q\"", "\"line\\nbreak \\\"q\\\"\""),
            ("select", "select"),
            (" lead", "\" lead\""),
        ] {
            assert_eq!(scalar(v), want, "{v:?}");
        }
    }

    #[test]
    fn render_parses_back_to_the_same_file() {
        let mut c2 = col("メール", "varchar(255)");
        c2.comment = Some("連絡先: \"必須\"\n二行目 # not a comment".into());
        c2.personal = Some(Personal::Email);
        let mut c3 = col("Order", "int");
        c3.not_personal = Some("order number, not a person".into());
        c3.nullable = false;
        let f = SchemaFile {
            database: "main".into(),
            driver: Driver::Postgres,
            tables: vec![
                Table {
                    schema: None,
                    name: "MixedCase".into(),
                    kind: TableKind::Table,
                    comment: Some("true".into()),
                    columns: vec![col("id", "bigint"), c2, c3],
                },
                Table {
                    schema: Some("sales".into()),
                    name: "v".into(),
                    kind: TableKind::View,
                    comment: None,
                    columns: vec![],
                },
            ],
        };
        let text = f.render();
        let back = SchemaFile::parse(Path::new("schema/main.yaml"), &text).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.render(), text);
    }

    #[test]
    fn marks_survive_a_merge_and_changes_are_reported() {
        let mut old_email = col("email", "text");
        old_email.personal = Some(Personal::Email);
        let mut old_fax = col("fax", "text");
        old_fax.personal = Some(Personal::Phone);
        let old = SchemaFile {
            database: "main".into(),
            driver: Driver::Mysql,
            tables: vec![Table {
                schema: None,
                name: "members".into(),
                kind: TableKind::Table,
                comment: None,
                columns: vec![col("id", "int"), old_email, old_fax],
            }],
        };
        let mut new = SchemaFile {
            database: "main".into(),
            driver: Driver::Mysql,
            tables: vec![
                Table {
                    schema: None,
                    name: "members".into(),
                    kind: TableKind::Table,
                    comment: None,
                    columns: vec![
                        col("id", "int"),
                        col("email", "varchar(255)"),
                        col("phone", "text"),
                    ],
                },
                Table {
                    schema: None,
                    name: "orders".into(),
                    kind: TableKind::Table,
                    comment: None,
                    columns: vec![col("id", "int")],
                },
            ],
        };
        let r = merge_marks(&mut new, Some(&old));
        assert_eq!(new.tables[0].columns[1].personal, Some(Personal::Email));
        assert_eq!(r.gone_marked, ["members.fax (personal: phone)"]);
        assert_eq!(r.new_columns, ["members.phone"]);
        assert_eq!(
            r.new_personal_looking,
            [("members.phone".into(), "phone".into())]
        );
        assert_eq!(r.new_tables, ["orders"]);
    }

    #[test]
    fn both_marks_are_refused_on_their_line() {
        let text = "database: main\ndriver: mysql\ntables:\n  - name: t\n    columns:\n      - name: c\n        type: int\n        nullable: true\n        personal: id\n        not_personal: x\n";
        let e = SchemaFile::parse(Path::new("schema/main.yaml"), text).unwrap_err();
        assert_eq!(e.line, 6);
        assert!(e.message.contains("both"), "{}", e.message);
        let bad = text.replace("personal: id", "personal: mail");
        let e = SchemaFile::parse(Path::new("schema/main.yaml"), &bad).unwrap_err();
        assert_eq!(e.line, 9, "{}", e.message);
    }
}
