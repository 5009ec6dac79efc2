//! Transforms between a source and the CSV encoder: masking, the personal-data guard
//! (names and sniffed values), and the spreadsheet formula guard.
//!
//! [`Transformer`] is the [`RowSink`] a source writes into. When the source tells it
//! the result's columns it checks them — every mask names a real column, no column
//! that looks personal is unmasked and unallowed — before a single row is written.

pub mod formula;
pub mod mask;
pub mod pii;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::encode::Encoder;
use crate::failure::{FailureKind, failure, mark};
use crate::guard::lineage::{Lineage, Origin, Reach};
use crate::guard::personal::{Problem, Rules, Treatment};
use crate::source::{ColumnKind, RowSink};
use mask::{MaskRule, Masked, Masker};

/// What the query file asks the transforms to do.
#[derive(Debug, Clone, Default)]
pub struct TransformPlan {
    pub mask: BTreeMap<String, MaskRule>,
    /// Personal columns a reviewer allowed, with the reason.
    pub pii_allowed: BTreeMap<String, String>,
    /// Prefix formula-like cells with `'` (on unless the query opts out).
    pub formula_guard: bool,
    /// Rows of each unmasked, unallowed column checked for personal values.
    pub sniff_rows: u64,
    /// The `hash` key (only when a `hash` rule is used).
    pub key: Option<Vec<u8>>,
    /// What the schema catalogue expects of the result (`None` without a catalogue).
    pub expected: Option<crate::schema::check::Expected>,
    /// What each result column is made of; `None` judges the real columns by name only.
    pub lineage: Option<Lineage>,
}

struct ColumnPlan {
    name: String,
    /// The `pii_allowed:` key(s) that would let it through unsniffed.
    allow: String,
    mask: Option<Masker>,
    sniff: bool,
}

/// How often a long export logs its progress.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Applies the plan to each row and encodes it.
pub struct Transformer {
    plan: TransformPlan,
    enc: Encoder,
    columns: Vec<ColumnPlan>,
    /// The columns' kinds from the source (none: all text).
    kinds: Vec<ColumnKind>,
    scratch: Vec<u8>,
    rows: u64,
    /// Cells a `year`/`month` rule could not read as a date (written as NULL).
    pub unfit: u64,
    started: Instant,
    last_progress: Instant,
    label: String,
}

impl Transformer {
    pub fn new(plan: TransformPlan, enc: Encoder, label: String) -> Self {
        let now = Instant::now();
        Transformer {
            plan,
            enc,
            columns: Vec::new(),
            kinds: Vec::new(),
            scratch: Vec::with_capacity(128),
            rows: 0,
            unfit: 0,
            started: now,
            last_progress: now,
            label,
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn bytes(&self) -> u64 {
        self.enc.written()
    }

    /// The kinds the encoder writes: a masked value is text whatever the column held
    /// (`month` → "1990-04").
    fn effective_kinds(&self) -> Vec<ColumnKind> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, p)| match p.mask {
                Some(_) => ColumnKind::Text,
                None => self.kinds.get(i).copied().unwrap_or_default(),
            })
            .collect()
    }

    /// The result's columns (known once the source sent the header).
    pub fn column_count(&self) -> u64 {
        self.columns.len() as u64
    }

    pub fn into_encoder(self) -> Encoder {
        self.enc
    }

    fn progress(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_progress) >= PROGRESS_EVERY {
            self.last_progress = now;
            tracing::info!(
                target: "sqlcourier::progress",
                file = %self.label,
                rows = self.rows,
                bytes = self.bytes(),
                elapsed_s = self.started.elapsed().as_secs(),
                "still exporting"
            );
        }
    }
}

impl RowSink for Transformer {
    fn kinds(&mut self, kinds: &[ColumnKind]) -> Result<()> {
        self.kinds = kinds.to_vec();
        if !self.columns.is_empty() {
            let kinds = self.effective_kinds();
            self.enc.set_kinds(&kinds);
        }
        Ok(())
    }

    fn columns(&mut self, names: &[String]) -> Result<()> {
        for col in self.plan.mask.keys() {
            if !names.iter().any(|n| n == col) {
                return Err(failure(
                    FailureKind::Query,
                    format!(
                        "the mask rule for `{col}` names a column the result does not have (it has: {}); fix the name in `mask:` so nothing leaks unmasked",
                        names.join(", ")
                    ),
                ));
            }
        }
        if let Some(exp) = &self.plan.expected {
            exp.cross_check(names, &self.plan.mask, &self.plan.pii_allowed)
                .map_err(|e| mark(e, FailureKind::Query))?;
        }
        let reaches: Vec<Reach> = match &self.plan.lineage {
            Some(l) => l.runtime(names),
            None => names
                .iter()
                .map(|n| {
                    Reach::from([Origin::Column {
                        table: None,
                        column: n.to_lowercase(),
                    }])
                })
                .collect(),
        };
        let rules = Rules {
            mask: &self.plan.mask,
            allowed: &self.plan.pii_allowed,
            classify: None,
        };
        let mut plans = Vec::with_capacity(names.len());
        // every offending column is named in ONE message (a `SELECT *` that reaches
        // several personal columns must not reveal them one merge at a time)
        // (column, what is wrong with it, the whole message when it is the only one)
        let mut offending: Vec<(String, String, String)> = Vec::new();
        for (name, reach) in names.iter().zip(&reaches) {
            let treatment = match rules.judge(Some(name), reach) {
                Ok(t) => t,
                Err(problems) => {
                    offending.push(match &problems[0] {
                        Problem::Name { word } => (
                            name.clone(),
                            format!("`{name}` looks personal (\"{word}\")"),
                            format!(
                                "the result has a column `{name}` that looks personal (\"{word}\") and is neither masked nor allowed; add `mask: {{{name}: hash}}` (or another rule) or `pii_allowed: {{{name}: \"reason\"}}` to the query file"
                            ),
                        ),
                        p => {
                            let (msg, help) = p.message(Some(name));
                            let whole =
                                format!("in the result, {msg}; nothing was delivered. {help}");
                            (name.clone(), msg, whole)
                        }
                    });
                    continue;
                }
            };
            let mask = match (treatment, self.plan.mask.get(name)) {
                (Treatment::Masked, Some(rule)) => {
                    Some(Masker::new(*rule, self.plan.key.as_deref()).map_err(|e| {
                        failure(FailureKind::Configuration, format!("column `{name}`: {e}"))
                    })?)
                }
                _ => None,
            };
            // what a reviewer would allow: the source columns it is made of
            let sources: Vec<String> = reach
                .iter()
                .filter_map(|o| match o {
                    Origin::Column { column, .. } => Some(column.clone()),
                    _ => None,
                })
                .collect();
            let allow = sources.first().cloned().unwrap_or_else(|| name.clone());
            plans.push(ColumnPlan {
                allow,
                name: name.clone(),
                sniff: treatment == Treatment::Sniffed && self.plan.sniff_rows > 0,
                mask,
            });
        }
        match offending.as_slice() {
            [] => {}
            [(_, _, whole)] => return Err(failure(FailureKind::Query, whole.clone())),
            many => {
                let list: Vec<String> = many.iter().map(|(_, m, _)| m.clone()).collect();
                let masks: Vec<String> =
                    many.iter().map(|(n, _, _)| format!("{n}: hash")).collect();
                return Err(failure(
                    FailureKind::Query,
                    format!(
                        "the result has {} columns that look personal and are neither masked nor allowed: {}; nothing was delivered. Mask each (e.g. `mask: {{{}}}`), allow it with a reason under `pii_allowed:`, or list only the columns you need instead of `SELECT *`",
                        many.len(),
                        list.join("; "),
                        masks.join(", ")
                    ),
                ));
            }
        }
        self.columns = plans;
        let kinds = self.effective_kinds();
        self.enc.header(names, &kinds)?;
        Ok(())
    }

    #[inline]
    fn row(&mut self, cells: &[Option<&[u8]>]) -> Result<()> {
        let row_no = self.rows + 1;
        let sniffing = row_no <= self.plan.sniff_rows;
        for (i, cell) in cells.iter().enumerate() {
            let col = &self.columns[i];
            let value: Option<&[u8]> = match (cell, &col.mask) {
                (Some(v), Some(m)) => match m.apply(v, &mut self.scratch) {
                    Masked::Scratch => Some(&self.scratch),
                    Masked::Null => None,
                    Masked::Unfit => {
                        self.unfit += 1;
                        None
                    }
                },
                (v, _) => {
                    if sniffing
                        && col.sniff
                        && let Some(v) = v
                        && let Some(kind) = pii::sniff(v)
                    {
                        return Err(failure(
                            FailureKind::Query,
                            format!(
                                "column `{}` holds what look like {} (row {row_no}); nothing was delivered. Add `mask: {{{}: {}}}` (`scrub` keeps free text and replaces what was found) or, if a reviewer agrees they may leave unmasked, `pii_allowed: {{{}: \"reason\"}}`",
                                col.name,
                                kind.words(),
                                col.name,
                                kind.rule(),
                                col.allow
                            ),
                        ));
                    }
                    *v
                }
            };
            let guard = self.plan.formula_guard && value.is_some_and(formula::needs_guard);
            self.enc.field(value, guard)?;
        }
        self.enc.end_record()?;
        self.rows += 1;
        if self.rows & 0x1fff == 0 {
            self.progress();
        }
        Ok(())
    }
}

impl Transformer {
    /// Flushes the encoder.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.enc.flush()
    }
}
