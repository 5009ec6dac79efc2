//! Judging result columns by what they are made of ([`crate::guard::lineage`]) against
//! the query file's `mask:` and `pii_allowed:`. The same rules run at `check` time on
//! the SQL text and at run time on the real result columns.
//!
//! - `mask:` is keyed by the **result** column name: the rule applies to the value,
//!   whatever it is made of.
//! - `pii_allowed:` is keyed by the **source** column name (`email`, or `members.email`):
//!   it allows that column wherever it flows. A key equal to a result column's name also
//!   allows that result column's whole-row or unknown parts (the fix the check asks for:
//!   "give the column a name and list it"), but never a different personal column that
//!   was renamed to it (`SELECT email AS prefecture` is not allowed by `prefecture`).
//! - A column is sniffed at run time unless it is masked or everything it is made of is
//!   allowed.

use std::collections::BTreeMap;

use crate::guard::lineage::{Origin, Reach};
use crate::transform::pii;

/// The data owner's classification of source columns (the schema catalogue).
pub trait Classify {
    /// `Some(Some(why))`: personal; `Some(None)`: marked not personal; `None`: not
    /// classified (the name heuristics decide).
    fn personal(&self, table: Option<&str>, column: &str) -> Option<Option<String>>;
}

/// What the file says about personal columns.
pub struct Rules<'a, M> {
    pub mask: &'a BTreeMap<String, M>,
    pub allowed: &'a BTreeMap<String, String>,
    /// The catalogue's classification, consulted before the name heuristics.
    pub classify: Option<&'a dyn Classify>,
}

/// Why a column may not leave as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The column's own name looks personal.
    Name { word: String },
    /// It is made of a column that looks personal.
    Personal { origin: Origin, word: String },
    /// It carries a whole row or something the check cannot follow.
    Whole { origin: Origin },
}

/// How a column that may leave is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    Masked,
    /// Everything it is made of is allowed: not sniffed.
    Allowed,
    /// Not masked, not (wholly) allowed: every value is sniffed.
    Sniffed,
}

impl<M> Rules<'_, M> {
    fn allowed_key(&self, key: &str) -> bool {
        self.allowed.keys().any(|k| k.eq_ignore_ascii_case(key))
    }

    fn masked(&self, name: &str) -> bool {
        self.mask.contains_key(name)
    }

    /// Why a source column is personal, or `None`.
    pub fn personal(&self, o: &Origin) -> Option<String> {
        let Origin::Column { table, column } = o else {
            return None;
        };
        if let Some(c) = self.classify
            && let Some(verdict) = c.personal(table.as_deref(), column)
        {
            return verdict;
        }
        pii::personal_name(column)
    }

    /// Is this source allowed by a `pii_allowed:` key naming it?
    pub fn origin_allowed(&self, o: &Origin) -> bool {
        match o {
            Origin::Column { table, column } => {
                self.allowed_key(column)
                    || table
                        .as_ref()
                        .is_some_and(|t| self.allowed_key(&format!("{t}.{column}")))
            }
            _ => false,
        }
    }

    /// Judges one result column: how it is treated, or why it may not leave.
    pub fn judge(&self, name: Option<&str>, reach: &Reach) -> Result<Treatment, Vec<Problem>> {
        if name.is_some_and(|n| self.masked(n)) {
            return Ok(Treatment::Masked);
        }
        let name_allowed = name.is_some_and(|n| self.allowed_key(n));
        let mut problems = Vec::new();
        if let Some(n) = name
            && !name_allowed
            && let Some(word) = pii::personal_name(n)
        {
            problems.push(Problem::Name { word });
        }
        // a column of literals only carries no table data: its result name can allow it
        let mut all_allowed = !reach.is_empty() || name_allowed;
        for o in reach {
            match o {
                Origin::Column { .. } => {
                    if self.origin_allowed(o) {
                        continue;
                    }
                    all_allowed = false;
                    if let Some(word) = self.personal(o) {
                        problems.push(Problem::Personal {
                            origin: o.clone(),
                            word,
                        });
                    }
                }
                Origin::Row { .. } | Origin::Unknown { .. } => {
                    if !name_allowed {
                        all_allowed = false;
                        problems.push(Problem::Whole { origin: o.clone() });
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(if all_allowed {
            Treatment::Allowed
        } else {
            Treatment::Sniffed
        })
    }

    /// A source the query reads outside the result (filters, joins, grouping): may it?
    pub fn judge_used(&self, o: &Origin) -> Option<Problem> {
        match o {
            Origin::Column { .. } => {
                if self.origin_allowed(o) {
                    return None;
                }
                self.personal(o).map(|word| Problem::Personal {
                    origin: o.clone(),
                    word,
                })
            }
            _ => Some(Problem::Whole { origin: o.clone() }),
        }
    }
}

impl Problem {
    /// Plain words for a result column called `name` (or an unnamed one).
    pub fn message(&self, name: Option<&str>) -> (String, String) {
        let col = match name {
            Some(n) => format!("the column `{n}`"),
            None => "this column".to_string(),
        };
        let fix = |src: &str| {
            match name {
            Some(n) => format!(
                "add `mask: {{{n}: hash}}` (or another rule), or `pii_allowed: {{{src}: \"reason\"}}` if a reviewer agrees it may stay"
            ),
            None => "give it a name with `AS name`, then add `mask: {name: hash}` (or another rule) or list it in `pii_allowed:`".to_string(),
        }
        };
        match self {
            Problem::Name { word } => (
                format!("{col} looks personal (\"{word}\") and is neither masked nor allowed"),
                match name {
                    Some(n) => format!(
                        "add `mask: {{{n}: hash}}` (or email, last4, redact, null, year, month, scrub), or `pii_allowed: {{{n}: \"reason\"}}` if a reviewer agrees it may stay"
                    ),
                    None => fix(""),
                },
            ),
            Problem::Personal { origin, word } => {
                let src = match origin {
                    Origin::Column { column, .. } => column.clone(),
                    _ => String::new(),
                };
                (
                    format!("{col} is made of `{origin}`, which looks personal (\"{word}\")"),
                    fix(&src),
                )
            }
            Problem::Whole { origin } => (
                match origin {
                    Origin::Row { table } => format!(
                        "{col} carries whole rows of `{table}` (every column, personal ones included)"
                    ),
                    Origin::Unknown { why } => {
                        format!("the check cannot tell what {col} is made of: {why}")
                    }
                    Origin::Column { .. } => format!("{col} cannot be followed"),
                },
                match name {
                    Some(n) => format!(
                        "select the columns you need by name; or list `{n}` in `mask:` (e.g. `mask: {{{n}: scrub}}`) or in `pii_allowed:` with a reason"
                    ),
                    None => "give the column a name and list it in `pii_allowed:` or `mask:` (or select the columns you need by name)".to_string(),
                },
            ),
        }
    }

    /// Plain words for a source read outside the result.
    pub fn used_message(&self) -> (String, String) {
        match self {
            Problem::Personal { origin, word } => {
                let src = match origin {
                    Origin::Column { column, .. } => column.clone(),
                    _ => String::new(),
                };
                (
                    format!(
                        "the query reads `{origin}` (to filter, join, group or sort), which looks personal (\"{word}\")"
                    ),
                    format!(
                        "if a reviewer agrees, add `pii_allowed: {{{src}: \"used only to filter\"}}` (or the reason)"
                    ),
                )
            }
            Problem::Whole { origin } => (
                match origin {
                    Origin::Unknown { why } => format!("the check cannot follow this: {why}"),
                    o => format!("the query reads `{o}` outside the result"),
                },
                "name the columns it needs (for a join: `JOIN … USING (col)` or `ON a.col = b.col`)"
                    .to_string(),
            ),
            Problem::Name { .. } => self.message(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: &str, c: &str) -> Origin {
        Origin::Column {
            table: Some(t.into()),
            column: c.into(),
        }
    }

    #[test]
    fn allowances_follow_the_source_not_the_name() {
        let mask: BTreeMap<String, ()> = BTreeMap::new();
        let allowed = BTreeMap::from([("prefecture".to_string(), "region".to_string())]);
        let r = Rules {
            mask: &mask,
            allowed: &allowed,
            classify: None,
        };
        let region = Reach::from([col("members", "prefecture")]);
        assert_eq!(r.judge(Some("region"), &region), Ok(Treatment::Allowed));
        let email = Reach::from([col("members", "email")]);
        assert!(r.judge(Some("prefecture"), &email).is_err());
        // a harmless-looking column under an allowed name is still sniffed
        let note = Reach::from([col("orders", "note")]);
        assert_eq!(r.judge(Some("prefecture"), &note), Ok(Treatment::Sniffed));
        let row = Reach::from([Origin::Row {
            table: "members".into(),
        }]);
        assert!(r.judge(Some("j"), &row).is_err());
        let allowed = BTreeMap::from([("j".to_string(), "checked".to_string())]);
        let r = Rules {
            mask: &mask,
            allowed: &allowed,
            classify: None,
        };
        assert_eq!(r.judge(Some("j"), &row), Ok(Treatment::Allowed));
        assert!(r.judge(Some("j"), &email).is_err());
        assert!(r.judge_used(&col("members", "email")).is_some());
        assert!(r.judge_used(&col("members", "status")).is_none());
    }
}
