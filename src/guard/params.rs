//! Parameter values for one run of one variant. Values are always bound by the
//! database driver; they are never written into the SQL text.

use std::collections::BTreeMap;

use crate::catalog::query::ParamValue;
use crate::guard::period::Period;

/// The names a period binds.
pub const PERIOD_START: &str = "period_start";
pub const PERIOD_END: &str = "period_end";

/// One parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// A value from the query file.
    Value(ParamValue),
    /// A period boundary: local wall-clock text for DATETIME columns, and the same
    /// instant with its UTC offset for PostgreSQL.
    Time { local: String, with_offset: String },
}

impl Bound {
    /// The text form used where a driver takes text (PostgreSQL casts it to the
    /// parameter's type on the server).
    pub fn as_pg_text(&self) -> String {
        match self {
            Bound::Value(v) => v.to_text(),
            Bound::Time { with_offset, .. } => with_offset.clone(),
        }
    }
}

/// Values by name for one variant: query-level params, then the variant's, then the period.
pub fn values(
    shared: &BTreeMap<String, ParamValue>,
    variant: Option<&BTreeMap<String, ParamValue>>,
    period: Option<&Period>,
) -> BTreeMap<String, Bound> {
    let mut out: BTreeMap<String, Bound> = shared
        .iter()
        .map(|(k, v)| (k.clone(), Bound::Value(v.clone())))
        .collect();
    if let Some(v) = variant {
        for (k, val) in v {
            out.insert(k.clone(), Bound::Value(val.clone()));
        }
    }
    if let Some(p) = period {
        out.insert(
            PERIOD_START.into(),
            Bound::Time {
                local: p.start_local(),
                with_offset: p.start_with_offset(),
            },
        );
        out.insert(
            PERIOD_END.into(),
            Bound::Time {
                local: p.end_local(),
                with_offset: p.end_with_offset(),
            },
        );
    }
    out
}

/// A valid parameter name: lower-case letters, digits and `_`, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 48
}
