//! One query file: YAML front matter inside a leading `/*--- … ---*/` comment, then one
//! SQL statement.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::diag::{Diagnostic, LineIndex};
use crate::encode::{Encoding, OutputFormat};
use crate::guard::period::PeriodKind;
use crate::transform::mask::MaskRule;

/// What a run does when the result has no rows (`on_empty:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnEmpty {
    /// Deliver the empty file (with its header) and say so in the summary.
    #[default]
    Deliver,
    /// Deliver nothing and say so.
    Skip,
    /// Fail the query: an empty result means something is wrong.
    Fail,
}

impl OnEmpty {
    /// The word in the query file.
    pub fn word(self) -> &'static str {
        match self {
            OnEmpty::Deliver => "deliver",
            OnEmpty::Skip => "skip",
            OnEmpty::Fail => "fail",
        }
    }
}

/// The front matter of a query file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    /// A short title people recognise, e.g. `月次 新規会員数（都道府県別）`.
    pub title: String,
    /// What the extract is for and who asked for it.
    #[serde(default)]
    pub description: Option<String>,
    /// A database name from `sqlcourier.yaml`.
    pub database: String,
    /// A destination name from `sqlcourier.yaml`.
    pub destination: String,
    /// `monthly`, `on-merge-only` (default) or `{cron: "0 0 3 * *"}`.
    #[serde(default)]
    pub schedule: Schedule,
    /// Which period `:period_start`/`:period_end` cover (default `none`).
    #[serde(default)]
    pub period: PeriodKind,
    /// IANA time zone for the period (default from `sqlcourier.yaml`, else Asia/Tokyo).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Statement time limit, e.g. `30m` (default from `sqlcourier.yaml`, else `60m`).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Parameters shared by every variant.
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
    /// Output file settings.
    #[serde(default)]
    pub output: Output,
    /// Masking rules by result column name.
    #[serde(default)]
    pub mask: BTreeMap<String, MaskRule>,
    /// Personal columns a reviewer allowed unmasked, with the reason.
    #[serde(default)]
    pub pii_allowed: BTreeMap<String, String>,
    /// Turns the spreadsheet formula guard off; the value is the reason.
    #[serde(default)]
    pub allow_formulas: Option<String>,
    /// What an empty result means: `deliver` (the default: an empty file, with a note
    /// in the summary), `skip` (no file, said in the summary) or `fail`.
    #[serde(default)]
    pub on_empty: OnEmpty,
    /// One output file per entry.
    #[serde(default)]
    pub variants: Vec<Variant>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// File name template: `{query}`, `{variant}`, `{period}` are filled in.
    #[serde(default)]
    pub file: Option<String>,
    /// `csv` (default) or `xlsx` (an Excel workbook with typed cells).
    #[serde(default)]
    pub format: OutputFormat,
    /// `utf-8`, `utf-8-bom` or `cp932` (CSV only).
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// Compress with gzip (`.gz` is appended to the name; CSV only).
    #[serde(default)]
    pub gzip: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
}

/// A parameter value from the reviewed file; always bound by the driver.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl ParamValue {
    pub fn to_text(&self) -> String {
        match self {
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(f) => f.to_string(),
            ParamValue::Text(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Schedule {
    /// Runs on merge, then every day after local midnight (for `previous_day`).
    Daily,
    /// Runs on merge, then every Monday after local midnight (for `previous_week`).
    Weekly,
    /// Runs when a PR adding or changing it is merged, and on the monthly schedule.
    Monthly,
    /// Runs on merge, then on the 1st of January, April, July and October.
    Quarterly,
    /// Runs only when a PR adding or changing it is merged (or by hand).
    #[default]
    OnMergeOnly,
    /// Runs on merge and on this cron schedule (UTC, as GitHub reads it).
    Cron(String),
    /// A word sqlcourier does not know; reported, located, by `check`.
    Unknown(String),
}

impl Schedule {
    pub fn label(&self) -> String {
        match self {
            Schedule::Daily => "daily".into(),
            Schedule::Weekly => "weekly".into(),
            Schedule::Quarterly => "quarterly".into(),
            Schedule::Monthly => "monthly".into(),
            Schedule::OnMergeOnly => "on-merge-only".into(),
            Schedule::Cron(c) => format!("cron \"{c}\""),
            Schedule::Unknown(w) => format!("unknown ({w})"),
        }
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct CronMap {
            cron: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Cron(CronMap),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "daily" => Ok(Schedule::Daily),
            Raw::Word(w) if w == "weekly" => Ok(Schedule::Weekly),
            Raw::Word(w) if w == "monthly" => Ok(Schedule::Monthly),
            Raw::Word(w) if w == "quarterly" => Ok(Schedule::Quarterly),
            Raw::Word(w) if w == "on-merge-only" => Ok(Schedule::OnMergeOnly),
            Raw::Word(w) => Ok(Schedule::Unknown(w)),
            Raw::Cron(c) => Ok(Schedule::Cron(c.cron)),
        }
    }
}

/// A query file split into its parts, before validation against the configuration.
#[derive(Debug, Clone)]
pub struct QueryFile {
    pub path: PathBuf,
    /// The whole text (BOM dropped, LF line endings).
    pub text: String,
    pub front: FrontMatter,
    /// 1-based line where the front matter's YAML starts.
    pub front_first_line: usize,
    /// 1-based line where the front matter's YAML ends.
    pub front_last_line: usize,
    /// The SQL after the front matter.
    pub sql: String,
    /// 1-based line and column where `sql` starts in the file.
    pub sql_line: usize,
    pub sql_col: usize,
    /// SHA-256 of the file's bytes as stored, hex.
    pub sha256: String,
}

fn first(mut d: Vec<Diagnostic>) -> Diagnostic {
    d.swap_remove(0)
}

const OPEN: &str = "/*---";
const CLOSE: &str = "---*/";

impl QueryFile {
    /// Reads and parses a query file; the SQL itself is checked by `guard`.
    pub fn load(path: &Path) -> Result<QueryFile, Diagnostic> {
        Self::load_all(path).map_err(first)
    }

    /// Like [`QueryFile::load`], with every problem found before the settings parsed.
    pub fn load_all(path: &Path) -> Result<QueryFile, Vec<Diagnostic>> {
        let text = super::config::read_text(path).map_err(|d| vec![d])?;
        let sha256 = {
            use sha2::Digest;
            let bytes = std::fs::read(path).unwrap_or_default();
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        Self::parse_all(path, text, sha256)
    }

    pub fn parse(path: &Path, text: String, sha256: String) -> Result<QueryFile, Diagnostic> {
        Self::parse_all(path, text, sha256).map_err(first)
    }

    /// Like [`QueryFile::parse`], with every problem found before the settings parsed.
    pub fn parse_all(
        path: &Path,
        text: String,
        sha256: String,
    ) -> Result<QueryFile, Vec<Diagnostic>> {
        let text = super::config::normalize_newlines(&text);
        let idx = LineIndex::new(&text);
        // the front matter opens on the first non-blank line
        let mut open_line = None;
        for line in 1..=idx.line_count() {
            let l = idx.line_text(line).trim();
            if l.is_empty() {
                continue;
            }
            if l == OPEN {
                open_line = Some(line);
            }
            break;
        }
        let Some(open_line) = open_line else {
            return Err(vec![Diagnostic::new(
                path,
                1,
                1,
                "this query file does not start with its settings block",
            )
            .help(format!(
                "start the file with a line `{OPEN}`, then the settings (title, database, destination, …), then a line `{CLOSE}`, then the SELECT; see queries/monthly/ for examples"
            ))]);
        };
        let close_line = (open_line + 1..=idx.line_count())
            .find(|&l| idx.line_text(l).trim() == CLOSE)
            .ok_or_else(|| {
                vec![
                    Diagnostic::new(path, open_line, 1, "the settings block is never closed")
                        .help(format!("add a line `{CLOSE}` after the last setting")),
                ]
            })?;
        let yaml_start = idx.line_start(open_line + 1);
        let yaml_end = idx.line_start(close_line);
        let yaml = &text[yaml_start..yaml_end];
        if yaml.trim().is_empty() {
            return Err(vec![
                Diagnostic::new(path, open_line, 1, "the settings block is empty")
                    .help("add at least title, database and destination"),
            ]);
        }
        let front: FrontMatter = super::yaml::parse(
            path,
            yaml,
            open_line + 1,
            "settings block",
            super::indent::FRONT_MATTER,
        )?;
        let sql_start = idx.line_start(close_line + 1).min(text.len());
        let sql = text[sql_start..].to_string();
        Ok(QueryFile {
            path: path.to_path_buf(),
            front,
            front_first_line: open_line + 1,
            front_last_line: close_line - 1,
            sql,
            sql_line: close_line + 1,
            sql_col: 1,
            sha256,
            text,
        })
    }

    /// Where a front-matter key is written, e.g. `&["output", "encoding"]`.
    pub fn locate(&self, keys: &[&str]) -> (usize, usize) {
        let idx = LineIndex::new(&self.text);
        super::diag::locate_key(&idx, self.front_first_line, self.front_last_line, keys)
    }

    /// A diagnostic at a front-matter key.
    pub fn diag_at(&self, keys: &[&str], message: impl Into<String>) -> Diagnostic {
        let (l, c) = self.locate(keys);
        Diagnostic::new(&self.path, l, c, message)
    }

    /// The file's stem, used as `{query}` in file names.
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "query".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<QueryFile, Diagnostic> {
        QueryFile::parse(Path::new("queries/q.sql"), text.to_string(), String::new())
    }

    const OK: &str = "/*---\ntitle: t\ndatabase: main\ndestination: out\nschedule: monthly\nperiod: previous_month\nvariants:\n  - {name: tokyo, params: {prefecture: 東京都}}\n---*/\nSELECT 1\n";

    #[test]
    fn splits_front_matter_and_sql() {
        let q = parse(OK).unwrap();
        assert_eq!(q.front.title, "t");
        assert_eq!(q.front.schedule, Schedule::Monthly);
        assert_eq!(q.sql_line, 10);
        assert_eq!(q.sql.trim(), "SELECT 1");
        assert_eq!(
            q.front.variants[0].params["prefecture"],
            ParamValue::Text("東京都".into())
        );
    }

    #[test]
    fn cron_schedule() {
        let q = parse(&OK.replace("schedule: monthly", "schedule: {cron: \"0 0 3 * *\"}")).unwrap();
        assert_eq!(q.front.schedule, Schedule::Cron("0 0 3 * *".into()));
        let q = parse(&OK.replace("schedule: monthly", "schedule: weekly")).unwrap();
        assert_eq!(q.front.schedule, Schedule::Weekly);
        let q = parse(&OK.replace("schedule: monthly", "schedule: fortnightly")).unwrap();
        assert_eq!(q.front.schedule, Schedule::Unknown("fortnightly".into()));
    }

    #[test]
    fn missing_block_and_unclosed_block() {
        let e = parse("SELECT 1").unwrap_err();
        assert!(
            e.message.contains("does not start with its settings"),
            "{e}"
        );
        let e = parse("/*---\ntitle: t\nSELECT 1\n").unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
    }

    #[test]
    fn unknown_key_is_located_in_the_file() {
        let e = parse(&OK.replace("title: t", "title: t\ntitel: x")).unwrap_err();
        assert_eq!((e.line, e.col), (3, 1), "{e}");
    }

    #[test]
    fn locate_variant_key() {
        let q = parse(OK).unwrap();
        assert_eq!(q.locate(&["variants"]), (7, 1));
        assert_eq!(q.locate(&["period"]), (6, 1));
    }
}
