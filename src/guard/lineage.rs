//! Column lineage: what every result column of a query is made of.
//!
//! The personal-data guard judges a column by what it is made of, not by what it is
//! called. [`analyze`] walks a parsed query and returns, for each result column, its
//! **reach**: the set of base [`Origin`]s its value can carry —
//!
//! - [`Origin::Column`]: a table column (`members.email`), followed through aliases,
//!   CTEs (with their column lists `WITH x(a, b)`), derived tables, table-alias column
//!   lists (`FROM members AS m(a, b, c)`), subqueries (scalar ones too), every branch of
//!   a `UNION`, `USING`/`NATURAL JOIN`, and every expression over it (`HEX(c)`,
//!   `c || ';'`, `GROUP_CONCAT(c)`, …). Only `COUNT(…)` hides what it counts.
//! - [`Origin::Row`]: a whole row of a table packed in one value (PostgreSQL `m`,
//!   `m.*` inside an expression, `ROW(m.*)`, `m::text`, `row_to_json(m)`, `to_jsonb`,
//!   `json_agg(m)`, `format('%s', m)`, attribute notation `m.row_to_json`), a table read
//!   by name (`table_to_xml('members', …)`), or "some column of the table" when a rename
//!   list hides which one (`WITH x(a) AS (SELECT * FROM members)` without a catalogue).
//! - [`Origin::Unknown`]: something the check cannot follow (a `NATURAL JOIN` whose
//!   common columns are not known, a function that runs SQL text). Fail closed: the
//!   caller refuses it unless the column is masked or allowed by its result name.
//!
//! It also returns every origin the query **uses** anywhere (filters, joins, `GROUP BY`,
//! `HAVING`, `ORDER BY`, subqueries), with the place of its first use, because a query
//! that only filters on a personal column still reads it.
//!
//! `SELECT *` / `t.*` over a base table is expanded with a [`Schema`] when one knows the
//! table's columns (the schema catalogue plugs in here); without one it stays an
//! [`Expand`] of that table, and the result's real column names are judged at run time
//! (a `*` from a base table always keeps the real column names).
//!
//! Names are compared case-insensitively (lower-cased). Table names are the dotted
//! name as written, lower-cased (`public.members`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, JoinConstraint, JoinOperator,
    ObjectName, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned,
    TableAlias, TableFactor, TableWithJoins, Value, Visit, Visitor,
};
use sqlparser::tokenizer::Location;

/// Where a value can come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A column of a table. `table` is `None` when the column name could not be tied to
    /// one table (an unqualified name with several candidate tables and no catalogue).
    Column {
        table: Option<String>,
        column: String,
    },
    /// A whole row of the table (every column, personal ones included), or one of its
    /// columns that the check cannot tell apart.
    Row { table: String },
    /// Something the check cannot follow; the text says what.
    Unknown { why: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Column {
                table: Some(t),
                column,
            } => write!(f, "{t}.{column}"),
            Origin::Column {
                table: None,
                column,
            } => write!(f, "{column}"),
            Origin::Row { table } => write!(f, "{table}.* (the whole row)"),
            Origin::Unknown { why } => write!(f, "? ({why})"),
        }
    }
}

/// The set of origins a value can carry.
pub type Reach = BTreeSet<Origin>;

/// A base table's columns, for expanding `*` and resolving unqualified names.
pub trait Schema {
    /// The table's columns in order, lower-cased, or `None` when not known.
    fn columns(&self, table: &str) -> Option<Vec<String>>;
}

/// No catalogue: every base table's columns are unknown.
pub struct NoSchema;

impl Schema for NoSchema {
    fn columns(&self, _table: &str) -> Option<Vec<String>> {
        None
    }
}

/// `*` over a base table whose columns are known only at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expand {
    pub table: String,
    /// Leading columns of the table already listed as named columns (renamed by a
    /// column list): the expansion starts after them.
    pub skip: usize,
    /// Values from elsewhere that may also appear in these columns (another `UNION`
    /// branch that does not line up).
    pub extra: Reach,
}

/// One result column (or, for an [`Expand`], the run of columns it stands for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultColumn {
    /// The name it gets, lower-case is not applied (as written). `None` for an
    /// expression without an alias.
    pub name: Option<String>,
    pub reach: Reach,
    /// `Some` when this stands for the columns of `*` over a base table.
    pub expand: Option<Expand>,
    /// 1-based (line, col) in the query file.
    pub at: (usize, usize),
}

/// What [`analyze`] found.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    /// The result columns, in order.
    pub columns: Vec<ResultColumn>,
    /// Every origin the query reads anywhere, with its first place.
    pub used: BTreeMap<Origin, (usize, usize)>,
}

impl Lineage {
    /// The reach of the run-time result columns `names`: positions are matched to
    /// [`Lineage::columns`]; columns of an expanded `*` get `table.name`. When the
    /// counts cannot match, every column is "unknown" (fail closed).
    pub fn runtime(&self, names: &[String]) -> Vec<Reach> {
        let n = names.len();
        let cols = &self.columns;
        let first = cols.iter().position(|c| c.expand.is_some());
        let Some(first) = first else {
            if cols.len() == n {
                return cols.iter().map(|c| c.reach.clone()).collect();
            }
            return vec![unknown("the result's columns do not match the query text"); n];
        };
        let last = cols
            .iter()
            .rposition(|c| c.expand.is_some())
            .unwrap_or(first);
        let tail = cols.len() - last - 1;
        if first + tail > n {
            return vec![unknown("the result's columns do not match the query text"); n];
        }
        let middle: Vec<&ResultColumn> = cols[first..=last].iter().collect();
        let fixed_middle: Vec<&&ResultColumn> =
            middle.iter().filter(|c| c.expand.is_none()).collect();
        let mut out = Vec::with_capacity(n);
        for c in &cols[..first] {
            out.push(c.reach.clone());
        }
        for name in &names[first..n - tail] {
            let mut r = Reach::new();
            for c in &middle {
                if let Some(e) = &c.expand {
                    r.insert(Origin::Column {
                        table: (!e.table.is_empty()).then(|| e.table.clone()),
                        column: name.to_lowercase(),
                    });
                    r.extend(e.extra.iter().cloned());
                }
            }
            // fixed columns between two expansions cannot be placed: they may be any
            for c in &fixed_middle {
                r.extend(c.reach.iter().cloned());
            }
            out.push(r);
        }
        for c in &cols[last + 1..] {
            out.push(c.reach.clone());
        }
        out
    }
}

fn unknown(why: &str) -> Reach {
    Reach::from([Origin::Unknown { why: why.into() }])
}

/// Functions that read a whole table given its name as text.
const TABLE_BY_NAME: &[&str] = &[
    "table_to_xml",
    "table_to_xmlschema",
    "table_to_xml_and_xmlschema",
];
/// Functions that run SQL text or read whole schemas: their reach cannot be followed.
const OPAQUE: &[&str] = &[
    "schema_to_xml",
    "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema",
    "database_to_xml",
    "database_to_xmlschema",
    "database_to_xml_and_xmlschema",
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "ts_stat",
    "xpath_table",
    "crosstab",
    "dblink",
];
/// Functions PostgreSQL also accepts in attribute notation on a whole row
/// (`m.row_to_json` is `row_to_json(m)`).
const ROW_FUNCTIONS: &[&str] = &[
    "row_to_json",
    "to_json",
    "to_jsonb",
    "json_build_array",
    "jsonb_build_array",
    "hstore",
    "text",
    "record_out",
    "record_send",
    "textin",
    "to_tsvector",
    "json_object",
    "jsonb_object",
];

/// Analyses `query`; `at` turns a parser location into the file's (line, col).
pub fn analyze(
    query: &Query,
    schema: &dyn Schema,
    at: &dyn Fn(Location) -> (usize, usize),
) -> Lineage {
    let mut a = Analyzer {
        schema,
        at,
        ctes: Vec::new(),
        scopes: Vec::new(),
        used: BTreeMap::new(),
    };
    let parts = a.query(query);
    let columns = parts
        .into_iter()
        .map(|p| match p.kind {
            Kind::Col { name, reach } => ResultColumn {
                name,
                reach,
                expand: None,
                at: p.at,
            },
            Kind::Expand(e) => ResultColumn {
                name: None,
                reach: Reach::new(),
                expand: Some(e),
                at: p.at,
            },
            // columns of a table function: named only at run time, each may carry
            // whatever the function's arguments read
            Kind::Opaque(reach) => ResultColumn {
                name: None,
                reach: Reach::new(),
                expand: Some(Expand {
                    table: String::new(),
                    skip: 0,
                    extra: reach,
                }),
                at: p.at,
            },
        })
        .collect();
    Lineage {
        columns,
        used: a.used,
    }
}

#[derive(Debug, Clone)]
struct Part {
    kind: Kind,
    at: (usize, usize),
}

#[derive(Debug, Clone)]
enum Kind {
    Col {
        name: Option<String>,
        reach: Reach,
    },
    Expand(Expand),
    /// Columns not known, each may carry this reach.
    Opaque(Reach),
}

/// A FROM item visible by name.
#[derive(Debug, Clone)]
struct Item {
    name: String,
    parts: Vec<Part>,
}

impl Item {
    /// Reach of a column `col` (lower-case): `Some(definite)` when a named column
    /// matches; otherwise what unknown columns may carry.
    fn column(&self, col: &str) -> (Option<Reach>, Reach) {
        let mut definite: Option<Reach> = None;
        let mut maybe = Reach::new();
        for p in &self.parts {
            match &p.kind {
                Kind::Col {
                    name: Some(n),
                    reach,
                } if n.to_lowercase() == col => {
                    definite
                        .get_or_insert_with(Reach::new)
                        .extend(reach.iter().cloned());
                }
                Kind::Col { .. } => {}
                Kind::Expand(e) => {
                    maybe.insert(Origin::Column {
                        table: Some(e.table.clone()),
                        column: col.to_string(),
                    });
                    maybe.extend(e.extra.iter().cloned());
                }
                Kind::Opaque(r) => maybe.extend(r.iter().cloned()),
            }
        }
        (definite, maybe)
    }

    fn has_unknown_columns(&self) -> bool {
        self.parts
            .iter()
            .any(|p| !matches!(p.kind, Kind::Col { .. }))
    }

    /// Everything the item's rows carry.
    fn whole_row(&self) -> Reach {
        let mut r = Reach::new();
        for p in &self.parts {
            match &p.kind {
                Kind::Col { reach, .. } => r.extend(reach.iter().cloned()),
                Kind::Expand(e) => {
                    r.insert(Origin::Row {
                        table: e.table.clone(),
                    });
                    r.extend(e.extra.iter().cloned());
                }
                Kind::Opaque(x) => r.extend(x.iter().cloned()),
            }
        }
        r
    }

    fn known_names(&self) -> Option<Vec<String>> {
        self.parts
            .iter()
            .map(|p| match &p.kind {
                Kind::Col { name: Some(n), .. } => Some(n.to_lowercase()),
                _ => None,
            })
            .collect()
    }
}

struct Analyzer<'a> {
    schema: &'a dyn Schema,
    at: &'a dyn Fn(Location) -> (usize, usize),
    /// CTEs in scope, innermost last.
    ctes: Vec<(String, Vec<Part>)>,
    /// FROM items of the SELECTs being analysed, innermost last.
    scopes: Vec<Vec<Item>>,
    used: BTreeMap<Origin, (usize, usize)>,
}

fn lower(i: &Ident) -> String {
    i.value.to_lowercase()
}

fn object_name(n: &ObjectName) -> String {
    n.0.iter()
        .map(|p| p.as_ident().map(lower).unwrap_or_else(|| p.to_string()))
        .collect::<Vec<_>>()
        .join(".")
}

fn last_part(n: &ObjectName) -> String {
    n.0.last()
        .map(|p| p.as_ident().map(lower).unwrap_or_else(|| p.to_string()))
        .unwrap_or_default()
}

fn join_constraint(op: &JoinOperator) -> Option<&JoinConstraint> {
    use JoinOperator::*;
    match op {
        Join(c) | Inner(c) | Left(c) | LeftOuter(c) | Right(c) | RightOuter(c) | FullOuter(c)
        | CrossJoin(c) | Semi(c) | LeftSemi(c) | RightSemi(c) | Anti(c) | LeftAnti(c)
        | RightAnti(c) | StraightJoin(c) => Some(c),
        AsOf { constraint, .. } => Some(constraint),
        _ => None,
    }
}

impl Analyzer<'_> {
    fn use_all(&mut self, r: &Reach, at: (usize, usize)) {
        for o in r {
            self.used.entry(o.clone()).or_insert(at);
        }
    }

    fn query(&mut self, q: &Query) -> Vec<Part> {
        let ctes_before = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let parts = self.query(&cte.query);
                let parts = rename(parts, &cte.alias);
                self.ctes.push((lower(&cte.alias.name), parts));
            }
        }
        let extra: Vec<&Expr> = q
            .order_by
            .iter()
            .flat_map(|o| match &o.kind {
                sqlparser::ast::OrderByKind::Expressions(v) => {
                    v.iter().map(|e| &e.expr).collect::<Vec<_>>()
                }
                _ => Vec::new(),
            })
            .collect();
        let parts = self.set_expr(&q.body, &extra);
        // LIMIT/OFFSET/FETCH: only subqueries there can read anything
        if let Some(l) = &q.limit_clause {
            let r = self.reach_of(l, None);
            let at = (self.at)(q.span().start);
            self.use_all(&r, at);
        }
        self.ctes.truncate(ctes_before);
        parts
    }

    fn set_expr(&mut self, body: &SetExpr, order_by: &[&Expr]) -> Vec<Part> {
        match body {
            SetExpr::Select(s) => self.select(s, order_by),
            SetExpr::Query(q) => {
                let parts = self.query(q);
                self.order_by_outputs(&parts, order_by);
                parts
            }
            SetExpr::SetOperation { left, right, .. } => {
                let l = self.set_expr(left, &[]);
                let r = self.set_expr(right, &[]);
                let parts = union(l, r);
                self.order_by_outputs(&parts, order_by);
                parts
            }
            SetExpr::Values(v) => {
                let mut cols: Vec<Part> = Vec::new();
                for row in &v.rows {
                    for (i, e) in row.iter().enumerate() {
                        let r = self.reach_of(e, None);
                        let at = (self.at)(e.span().start);
                        self.use_all(&r, at);
                        if let Some(Part {
                            kind: Kind::Col { reach, .. },
                            ..
                        }) = cols.get_mut(i)
                        {
                            reach.extend(r);
                        } else {
                            cols.push(Part {
                                kind: Kind::Col {
                                    name: Some(format!("column{}", i + 1)),
                                    reach: r,
                                },
                                at,
                            });
                        }
                    }
                }
                cols
            }
            SetExpr::Table(t) => {
                let name = match (&t.schema_name, &t.table_name) {
                    (Some(s), Some(n)) => format!("{}.{}", s.to_lowercase(), n.to_lowercase()),
                    (None, Some(n)) => n.to_lowercase(),
                    _ => String::new(),
                };
                let at = (self.at)(body.span().start);
                let item = self.base_table(&name, None, at);
                self.use_all(&item.whole_row(), at);
                item.parts
            }
            other => {
                let at = (self.at)(other.span().start);
                vec![Part {
                    kind: Kind::Opaque(unknown("a statement inside the query")),
                    at,
                }]
            }
        }
    }

    /// ORDER BY of a UNION (or a parenthesised query) names output columns.
    fn order_by_outputs(&mut self, parts: &[Part], order_by: &[&Expr]) {
        for e in order_by {
            let r = self.reach_of(*e, Some(parts));
            let at = (self.at)(e.span().start);
            self.use_all(&r, at);
        }
    }

    fn base_table(&self, name: &str, alias: Option<&TableAlias>, at: (usize, usize)) -> Item {
        // a CTE by that name shadows a table
        if !name.contains('.')
            && let Some((_, parts)) = self.ctes.iter().rev().find(|(n, _)| n == name)
        {
            let parts = match alias {
                Some(a) => rename(parts.clone(), a),
                None => parts.clone(),
            };
            return Item {
                name: alias.map(|a| lower(&a.name)).unwrap_or_else(|| name.into()),
                parts,
            };
        }
        let parts = match self.schema.columns(name) {
            Some(cols) => cols
                .into_iter()
                .map(|c| Part {
                    kind: Kind::Col {
                        name: Some(c.clone()),
                        reach: Reach::from([Origin::Column {
                            table: Some(name.to_string()),
                            column: c,
                        }]),
                    },
                    at,
                })
                .collect(),
            None => vec![Part {
                kind: Kind::Expand(Expand {
                    table: name.to_string(),
                    skip: 0,
                    extra: Reach::new(),
                }),
                at,
            }],
        };
        let parts = match alias {
            Some(a) => rename(parts, a),
            None => parts,
        };
        let shown = name.rsplit('.').next().unwrap_or(name).to_string();
        Item {
            name: alias.map(|a| lower(&a.name)).unwrap_or(shown),
            parts,
        }
    }

    fn table_factor(&mut self, tf: &TableFactor, items: &mut Vec<Item>) {
        let at = (self.at)(tf.span().start);
        match tf {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let n = object_name(name);
                if let Some(args) = args {
                    // a table function: `FROM f(args)`
                    let fname = last_part(name);
                    let mut reach = Reach::new();
                    for a in &args.args {
                        reach.extend(self.arg_reach(a));
                    }
                    reach.extend(self.function_reach(&fname, &args.args));
                    if !reach.is_empty() {
                        self.use_all(&reach, at);
                    }
                    let parts = rename(
                        vec![Part {
                            kind: Kind::Opaque(reach),
                            at,
                        }],
                        alias.as_ref().unwrap_or(&no_alias()),
                    );
                    items.push(Item {
                        name: alias.as_ref().map(|a| lower(&a.name)).unwrap_or(fname),
                        parts,
                    });
                } else {
                    items.push(self.base_table(&n, alias.as_ref(), at));
                }
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                // LATERAL sees the items before it; others do not refer to them
                self.scopes.push(items.clone());
                let parts = self.query(subquery);
                self.scopes.pop();
                let parts = match alias {
                    Some(a) => rename(parts, a),
                    None => parts,
                };
                items.push(Item {
                    name: alias.as_ref().map(|a| lower(&a.name)).unwrap_or_default(),
                    parts,
                });
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let mut inner = Vec::new();
                self.joined(table_with_joins, &mut inner);
                match alias {
                    Some(a) => {
                        let parts: Vec<Part> = inner.into_iter().flat_map(|i| i.parts).collect();
                        items.push(Item {
                            name: lower(&a.name),
                            parts: rename(parts, a),
                        });
                    }
                    None => items.extend(inner),
                }
            }
            other => {
                // table functions, UNNEST, JSON_TABLE, PIVOT…: the columns are unknown;
                // each may carry whatever the arguments read
                self.scopes.push(items.clone());
                let reach = self.reach_of(other, None);
                self.scopes.pop();
                self.use_all(&reach, at);
                let alias = match other {
                    TableFactor::TableFunction { alias, .. }
                    | TableFactor::Function { alias, .. }
                    | TableFactor::UNNEST { alias, .. }
                    | TableFactor::JsonTable { alias, .. }
                    | TableFactor::OpenJsonTable { alias, .. }
                    | TableFactor::Pivot { alias, .. }
                    | TableFactor::Unpivot { alias, .. } => alias.clone(),
                    _ => None,
                };
                let parts = vec![Part {
                    kind: Kind::Opaque(reach),
                    at,
                }];
                items.push(Item {
                    name: alias.as_ref().map(|a| lower(&a.name)).unwrap_or_default(),
                    parts: match &alias {
                        Some(a) => rename(parts, a),
                        None => parts,
                    },
                });
            }
        }
    }

    fn joined(&mut self, twj: &TableWithJoins, items: &mut Vec<Item>) {
        self.table_factor(&twj.relation, items);
        for j in &twj.joins {
            let left = items.clone();
            let before = items.len();
            self.table_factor(&j.relation, items);
            let at = (self.at)(j.relation.span().start);
            match join_constraint(&j.join_operator) {
                Some(JoinConstraint::On(e)) => {
                    self.scopes.push(items.clone());
                    let r = self.reach_of(e, None);
                    self.scopes.pop();
                    self.use_all(&r, at);
                }
                Some(JoinConstraint::Using(cols)) => {
                    self.scopes.push(items.clone());
                    for c in cols {
                        let r = self.resolve(&[], &last_part(c));
                        self.use_all(&r, at);
                    }
                    self.scopes.pop();
                }
                Some(JoinConstraint::Natural) => {
                    let right = &items[before..];
                    let names = |v: &[Item]| -> Option<BTreeSet<String>> {
                        let mut s = BTreeSet::new();
                        for i in v {
                            s.extend(i.known_names()?);
                        }
                        Some(s)
                    };
                    match (names(&left), names(right)) {
                        (Some(l), Some(r)) => {
                            self.scopes.push(items.clone());
                            for c in l.intersection(&r) {
                                let reach = self.resolve(&[], c);
                                self.use_all(&reach, at);
                            }
                            self.scopes.pop();
                        }
                        _ => self
                            .use_all(&unknown("NATURAL JOIN on columns the check cannot see"), at),
                    }
                }
                _ => {}
            }
        }
    }

    fn select(&mut self, s: &Select, order_by: &[&Expr]) -> Vec<Part> {
        let mut items = Vec::new();
        for twj in &s.from {
            self.joined(twj, &mut items);
        }
        self.scopes.push(items);
        let mut parts = Vec::new();
        for item in &s.projection {
            let at = (self.at)(item.span().start);
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let reach = self.reach_of(e, None);
                    parts.push(Part {
                        kind: Kind::Col {
                            name: own_name(e),
                            reach,
                        },
                        at,
                    });
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let reach = self.reach_of(expr, None);
                    parts.push(Part {
                        kind: Kind::Col {
                            name: Some(alias.value.clone()),
                            reach,
                        },
                        at,
                    });
                }
                SelectItem::ExprWithAliases { expr, aliases } => {
                    let reach = self.reach_of(expr, None);
                    for a in aliases {
                        parts.push(Part {
                            kind: Kind::Col {
                                name: Some(a.value.clone()),
                                reach: reach.clone(),
                            },
                            at,
                        });
                    }
                }
                SelectItem::Wildcard(_) => {
                    let items = self.scopes.last().cloned().unwrap_or_default();
                    for i in items {
                        parts.extend(i.parts.into_iter().map(|mut p| {
                            p.at = at;
                            p
                        }));
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        let q = last_part(n);
                        let found = self
                            .scopes
                            .last()
                            .and_then(|s| s.iter().find(|i| i.name == q))
                            .cloned();
                        match found {
                            Some(i) => parts.extend(i.parts.into_iter().map(|mut p| {
                                p.at = at;
                                p
                            })),
                            None => parts.push(Part {
                                kind: Kind::Expand(Expand {
                                    table: object_name(n),
                                    skip: 0,
                                    extra: Reach::new(),
                                }),
                                at,
                            }),
                        }
                    }
                    SelectItemQualifiedWildcardKind::Expr(e) => {
                        let reach = self.reach_of(e, None);
                        parts.push(Part {
                            kind: Kind::Opaque(reach),
                            at,
                        });
                    }
                },
            }
        }
        for p in &parts {
            match &p.kind {
                Kind::Col { reach, .. } | Kind::Opaque(reach) => self.use_all(reach, p.at),
                Kind::Expand(_) => {}
            }
        }
        // everything else the SELECT reads: filters, grouping, ordering, windows
        let mut others: Vec<(Reach, (usize, usize))> = Vec::new();
        let mut add = |a: &mut Self, v: &dyn VisitDyn, loc: Location, aliases: bool| {
            let r = if aliases {
                a.reach_of_dyn(v, Some(&parts))
            } else {
                a.reach_of_dyn(v, None)
            };
            others.push((r, (a.at)(loc)));
        };
        let start = s.span().start;
        if let Some(e) = &s.selection {
            add(self, e, e.span().start, false);
        }
        if let Some(e) = &s.prewhere {
            add(self, e, e.span().start, false);
        }
        if let Some(e) = &s.having {
            add(self, e, e.span().start, true);
        }
        if let Some(e) = &s.qualify {
            add(self, e, e.span().start, true);
        }
        add(self, &s.group_by, start, true);
        add(self, &s.sort_by, start, true);
        add(self, &s.cluster_by, start, true);
        add(self, &s.distribute_by, start, true);
        add(self, &s.named_window, start, true);
        add(self, &s.connect_by, start, false);
        add(self, &s.lateral_views, start, false);
        add(self, &s.distinct, start, false);
        for e in order_by {
            add(self, *e, e.span().start, true);
        }
        for (r, at) in others {
            self.use_all(&r, at);
        }
        self.scopes.pop();
        parts
    }

    /// Resolves a column reference `qualifier.col` (qualifier may be empty) in the
    /// scopes, innermost first.
    fn resolve(&self, qualifier: &[String], col: &str) -> Reach {
        let col = col.to_lowercase();
        if qualifier.is_empty() {
            for scope in self.scopes.iter().rev() {
                if scope.is_empty() {
                    continue;
                }
                let mut definite = Reach::new();
                let mut found = false;
                let mut maybe = Reach::new();
                let mut any_unknown = false;
                for item in scope {
                    let (d, m) = item.column(&col);
                    if let Some(d) = d {
                        found = true;
                        definite.extend(d);
                    }
                    if item.has_unknown_columns() {
                        any_unknown = true;
                        maybe.extend(m);
                    }
                }
                // PostgreSQL reads a bare table name as its whole row
                let mut row = Reach::new();
                for item in scope.iter().filter(|i| i.name == col) {
                    row.extend(item.whole_row());
                }
                if found {
                    return definite;
                }
                if any_unknown || !row.is_empty() {
                    maybe.extend(row);
                    return maybe;
                }
            }
            return Reach::from([Origin::Column {
                table: None,
                column: col,
            }]);
        }
        // qualified: try the last qualifier part as a FROM item, then the first
        // (`m.col.field` reads a field of a composite column)
        let candidates = [qualifier.last(), qualifier.first()];
        for (k, q) in candidates.iter().enumerate() {
            let Some(q) = q else { continue };
            for scope in self.scopes.iter().rev() {
                if let Some(item) = scope.iter().find(|i| &i.name == *q) {
                    let col = if k == 1 && qualifier.len() > 1 {
                        qualifier[1].clone()
                    } else {
                        col.clone()
                    };
                    let (d, m) = item.column(&col);
                    if let Some(d) = d {
                        return d;
                    }
                    if ROW_FUNCTIONS.contains(&col.as_str()) {
                        // attribute notation: `m.row_to_json`
                        let mut r = item.whole_row();
                        r.extend(m);
                        return r;
                    }
                    if item.has_unknown_columns() {
                        return m;
                    }
                    // a named column that does not exist: the database refuses it,
                    // unless it is a function in attribute notation
                    return item.whole_row();
                }
            }
        }
        let table = qualifier.last().cloned();
        let mut r = Reach::from([Origin::Column {
            table: table.clone(),
            column: col.clone(),
        }]);
        if ROW_FUNCTIONS.contains(&col.as_str())
            && let Some(t) = table
        {
            r.insert(Origin::Row { table: t });
        }
        r
    }

    fn arg_reach(&mut self, a: &FunctionArg) -> Reach {
        let e = match a {
            FunctionArg::Named { arg, .. }
            | FunctionArg::ExprNamed { arg, .. }
            | FunctionArg::Unnamed(arg) => arg,
        };
        match e {
            FunctionArgExpr::Expr(e) => self.reach_of(e, None),
            other => self.wildcard_arg(other),
        }
    }

    fn wildcard_arg(&self, a: &FunctionArgExpr) -> Reach {
        let mut r = Reach::new();
        match a {
            FunctionArgExpr::QualifiedWildcard(n) => {
                let q = last_part(n);
                let found = self
                    .scopes
                    .iter()
                    .rev()
                    .find_map(|s| s.iter().find(|i| i.name == q));
                match found {
                    Some(i) => r.extend(i.whole_row()),
                    None => {
                        r.insert(Origin::Row {
                            table: object_name(n),
                        });
                    }
                }
            }
            FunctionArgExpr::Wildcard | FunctionArgExpr::WildcardWithOptions(_) => {
                if let Some(s) = self.scopes.last() {
                    for i in s {
                        r.extend(i.whole_row());
                    }
                }
            }
            FunctionArgExpr::Expr(_) => {}
        }
        r
    }

    /// What a function adds beyond its arguments: a table read by name, or SQL text.
    fn function_reach(&self, name: &str, args: &[FunctionArg]) -> Reach {
        let mut r = Reach::new();
        if TABLE_BY_NAME.contains(&name) {
            let first = args.first().and_then(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(Expr::Value(v)),
                    ..
                } => match &v.value {
                    Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                        Some(s.trim().trim_matches('"').to_lowercase())
                    }
                    _ => None,
                },
                _ => None,
            });
            match first {
                Some(t) => {
                    r.insert(Origin::Row { table: t });
                }
                None => {
                    r.insert(Origin::Unknown {
                        why: format!("`{name}` reads a table named by an expression"),
                    });
                }
            }
        } else if OPAQUE.contains(&name) {
            r.insert(Origin::Unknown {
                why: format!("`{name}` reads data the check cannot follow"),
            });
        }
        r
    }

    fn reach_of(&mut self, v: &dyn VisitDyn, aliases: Option<&[Part]>) -> Reach {
        self.reach_of_dyn(v, aliases)
    }

    fn reach_of_dyn(&mut self, v: &dyn VisitDyn, aliases: Option<&[Part]>) -> Reach {
        let mut r = ReachVisitor {
            a: self,
            aliases,
            reach: Reach::new(),
            in_count: 0,
            depth: 0,
        };
        v.visit_dyn(&mut r);
        // what only `COUNT(…)` reads is neither in the value nor a use: a count of
        // e-mail addresses says nothing about any of them
        r.reach
    }
}

/// `Visit` is generic over the visitor; this makes it callable on mixed parts.
trait VisitDyn {
    fn visit_dyn(&self, v: &mut ReachVisitor<'_, '_>);
}

impl<T: Visit> VisitDyn for T {
    fn visit_dyn(&self, v: &mut ReachVisitor<'_, '_>) {
        let _ = self.visit(v);
    }
}

struct ReachVisitor<'a, 'b> {
    a: &'a mut Analyzer<'b>,
    aliases: Option<&'a [Part]>,
    reach: Reach,
    in_count: usize,
    /// > 0 inside a subquery (analysed on its own).
    depth: usize,
}

impl ReachVisitor<'_, '_> {
    fn add(&mut self, r: Reach) {
        if self.in_count == 0 {
            self.reach.extend(r);
        }
    }
}

impl Visitor for ReachVisitor<'_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.depth == 0 {
            let parts = self.a.query(q);
            let mut r = Reach::new();
            for p in &parts {
                match &p.kind {
                    Kind::Col { reach, .. } | Kind::Opaque(reach) => {
                        r.extend(reach.iter().cloned())
                    }
                    Kind::Expand(e) => {
                        r.insert(Origin::Row {
                            table: e.table.clone(),
                        });
                        r.extend(e.extra.iter().cloned());
                    }
                }
            }
            self.add(r);
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.depth > 0 {
            return ControlFlow::Continue(());
        }
        match e {
            Expr::Identifier(i) => {
                let col = lower(i);
                if let Some(aliases) = self.aliases
                    && let Some(r) = alias_reach(aliases, &col)
                {
                    self.add(r);
                } else {
                    let r = self.a.resolve(&[], &col);
                    self.add(r);
                }
            }
            Expr::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(lower).collect();
                let (q, c) = names.split_at(names.len() - 1);
                let r = self.a.resolve(q, &c[0]);
                self.add(r);
            }
            Expr::QualifiedWildcard(n, _) => {
                let r = self
                    .a
                    .wildcard_arg(&FunctionArgExpr::QualifiedWildcard(n.clone()));
                self.add(r);
            }
            Expr::Wildcard(_) => {
                let r = self.a.wildcard_arg(&FunctionArgExpr::Wildcard);
                self.add(r);
            }
            Expr::Function(f) => {
                let name = last_part(&f.name);
                if name == "count" {
                    // `COUNT(*) FILTER (WHERE email = …)` filters on what it reads
                    if self.in_count == 0
                        && let Some(filter) = &f.filter
                    {
                        let r = self.a.reach_of(filter.as_ref(), None);
                        let at = (self.a.at)(filter.span().start);
                        self.a.use_all(&r, at);
                    }
                    self.in_count += 1;
                }
                if let FunctionArguments::List(list) = &f.args {
                    for a in &list.args {
                        let arg = match a {
                            FunctionArg::Named { arg, .. }
                            | FunctionArg::ExprNamed { arg, .. }
                            | FunctionArg::Unnamed(arg) => arg,
                        };
                        if !matches!(arg, FunctionArgExpr::Expr(_)) {
                            let r = self.a.wildcard_arg(arg);
                            self.add(r);
                        }
                    }
                    let r = self.a.function_reach(&name, &list.args);
                    self.add(r);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.depth == 0
            && let Expr::Function(f) = e
            && last_part(&f.name) == "count"
        {
            self.in_count -= 1;
        }
        ControlFlow::Continue(())
    }
}

fn alias_reach(parts: &[Part], col: &str) -> Option<Reach> {
    let mut out: Option<Reach> = None;
    for p in parts {
        if let Kind::Col {
            name: Some(n),
            reach,
        } = &p.kind
            && n.to_lowercase() == col
        {
            out.get_or_insert_with(Reach::new)
                .extend(reach.iter().cloned());
        }
    }
    out
}

fn own_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        Expr::Nested(inner) => own_name(inner),
        _ => None,
    }
}

fn no_alias() -> TableAlias {
    TableAlias {
        explicit: false,
        name: Ident::new(""),
        columns: Vec::new(),
        at: None,
    }
}

/// Applies a column list (`AS x(a, b)`) to parts: named columns are renamed in order;
/// when the list reaches a run of unknown columns, the remaining names stand for "some
/// column of" that run.
fn rename(parts: Vec<Part>, alias: &TableAlias) -> Vec<Part> {
    if alias.columns.is_empty() {
        return parts;
    }
    let names: Vec<String> = alias.columns.iter().map(|c| c.name.value.clone()).collect();
    let mut out = Vec::new();
    let mut k = 0;
    let mut iter = parts.into_iter().peekable();
    while let Some(p) = iter.next() {
        match p.kind {
            Kind::Col { reach, name } => {
                let name = if k < names.len() {
                    k += 1;
                    Some(names[k - 1].clone())
                } else {
                    name
                };
                out.push(Part {
                    kind: Kind::Col { name, reach },
                    at: p.at,
                });
            }
            kind @ (Kind::Expand(_) | Kind::Opaque(_)) => {
                if k >= names.len() {
                    out.push(Part { kind, at: p.at });
                    continue;
                }
                // the remaining names may be any columns of this run or the ones after
                let mut any = Reach::new();
                let mut rest = vec![Part {
                    kind: kind.clone(),
                    at: p.at,
                }];
                rest.extend(iter.by_ref());
                for r in &rest {
                    match &r.kind {
                        Kind::Col { reach, .. } | Kind::Opaque(reach) => {
                            any.extend(reach.iter().cloned())
                        }
                        Kind::Expand(e) => {
                            any.insert(Origin::Row {
                                table: e.table.clone(),
                            });
                            any.extend(e.extra.iter().cloned());
                        }
                    }
                }
                let taken = names.len() - k;
                for n in &names[k..] {
                    out.push(Part {
                        kind: Kind::Col {
                            name: Some(n.clone()),
                            reach: any.clone(),
                        },
                        at: p.at,
                    });
                }
                // the columns after the renamed ones keep their names
                for mut r in rest {
                    if let Kind::Expand(e) = &mut r.kind {
                        e.skip += taken;
                        e.extra.extend(any.iter().cloned());
                    }
                    if let Kind::Opaque(x) = &mut r.kind {
                        x.extend(any.iter().cloned());
                    }
                    out.push(r);
                }
                break;
            }
        }
    }
    out
}

/// The columns of `left UNION right`: named by the left branch, each carrying both.
fn union(mut l: Vec<Part>, r: Vec<Part>) -> Vec<Part> {
    let aligned = l.len() == r.len()
        && l.iter()
            .chain(r.iter())
            .all(|p| matches!(p.kind, Kind::Col { .. }));
    if aligned {
        for (a, b) in l.iter_mut().zip(r) {
            if let (Kind::Col { reach: ra, .. }, Kind::Col { reach: rb, .. }) =
                (&mut a.kind, b.kind)
            {
                ra.extend(rb);
            }
        }
        return l;
    }
    // the columns do not line up as written: any column may carry anything of either
    let mut all = Reach::new();
    for p in l.iter().chain(r.iter()) {
        match &p.kind {
            Kind::Col { reach, .. } | Kind::Opaque(reach) => all.extend(reach.iter().cloned()),
            Kind::Expand(e) => {
                all.insert(Origin::Row {
                    table: e.table.clone(),
                });
                all.extend(e.extra.iter().cloned());
            }
        }
    }
    for p in &mut l {
        match &mut p.kind {
            Kind::Col { reach, .. } | Kind::Opaque(reach) => reach.extend(all.iter().cloned()),
            Kind::Expand(e) => {
                let own = Origin::Row {
                    table: e.table.clone(),
                };
                e.extra.extend(all.iter().filter(|o| **o != own).cloned());
            }
        }
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};
    use sqlparser::parser::Parser;

    struct Cat;
    impl Schema for Cat {
        fn columns(&self, table: &str) -> Option<Vec<String>> {
            match table {
                "members" => Some(vec!["id".into(), "email".into(), "prefecture".into()]),
                _ => None,
            }
        }
    }

    fn lin(sql: &str, pg: bool, schema: &dyn Schema) -> Lineage {
        let st = if pg {
            Parser::parse_sql(&PostgreSqlDialect {}, sql)
        } else {
            Parser::parse_sql(&MySqlDialect {}, sql)
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let Statement::Query(q) = &st[0] else {
            panic!("not a query")
        };
        analyze(q, schema, &|l| (l.line as usize, l.column as usize))
    }

    /// (name, reach as text) of each result column.
    fn cols(sql: &str, pg: bool) -> Vec<(String, Vec<String>)> {
        lin(sql, pg, &NoSchema)
            .columns
            .iter()
            .map(|c| {
                let name = match (&c.name, &c.expand) {
                    (_, Some(e)) => format!("*{}+{}", e.table, e.skip),
                    (Some(n), None) => n.clone(),
                    (None, None) => "?".into(),
                };
                let mut r: Vec<String> = c.reach.iter().map(|o| o.to_string()).collect();
                if let Some(e) = &c.expand {
                    r.extend(e.extra.iter().map(|o| o.to_string()));
                }
                (name, r)
            })
            .collect()
    }

    fn reach_of(sql: &str, pg: bool, col: usize) -> Vec<String> {
        cols(sql, pg)[col].1.clone()
    }

    fn row(t: &str) -> String {
        Origin::Row { table: t.into() }.to_string()
    }

    #[test]
    fn renames_follow_what_a_column_is_made_of() {
        let c = cols(
            "SELECT prefecture AS region, email AS prefecture FROM members",
            false,
        );
        assert_eq!(c[0], ("region".into(), vec!["members.prefecture".into()]));
        assert_eq!(c[1], ("prefecture".into(), vec!["members.email".into()]));
    }

    #[test]
    fn expressions_over_a_column_reach_it() {
        for sql in [
            "SELECT HEX(contact) AS x FROM (SELECT email AS contact FROM members) d",
            "SELECT TO_BASE64(c1) AS x FROM (SELECT email AS c1 FROM members) d",
            "SELECT CONCAT(c1, ';') AS x FROM (SELECT email c1 FROM members) d",
            "SELECT GROUP_CONCAT(c1 SEPARATOR ',') AS x FROM (SELECT email c1 FROM members) d",
            "SELECT CASE WHEN id > 0 THEN email END AS x FROM members",
            "SELECT (SELECT m2.email FROM members m2 WHERE m2.id = m.id) AS x FROM members m",
        ] {
            assert!(
                reach_of(sql, false, 0).contains(&"members.email".to_string()),
                "{sql}: {:?}",
                cols(sql, false)
            );
        }
        for sql in [
            "SELECT c1 || ';' AS x FROM (SELECT email AS c1 FROM members) d",
            "SELECT string_agg(c1, ',') AS x FROM (SELECT email AS c1 FROM members) d",
            "WITH x(a, b) AS (SELECT id, email FROM members) SELECT b AS fine FROM x",
            "SELECT c AS fine FROM (SELECT id, email FROM members) AS t(a, c)",
            "SELECT x FROM (SELECT id AS x FROM orders UNION ALL SELECT email FROM members) u",
            "SELECT e FROM orders o JOIN LATERAL (SELECT m.email AS e FROM members m WHERE m.id = o.member_id) l ON true",
        ] {
            assert!(
                reach_of(sql, true, 0).contains(&"members.email".to_string()),
                "{sql}: {:?}",
                cols(sql, true)
            );
        }
    }

    #[test]
    fn whole_row_references_reach_the_row() {
        for sql in [
            "SELECT row_to_json(m) AS j FROM members m",
            "SELECT to_jsonb(m) AS j FROM members m",
            "SELECT json_agg(m) AS j FROM members m",
            "SELECT m::text AS j FROM members m",
            "SELECT m AS j FROM members m",
            "SELECT ROW(m.*)::text AS j FROM members m",
            "SELECT format('%s', m) AS j FROM members m",
            "SELECT m.row_to_json AS j FROM members m",
            "SELECT members AS j FROM members",
            "SELECT (SELECT x FROM members x LIMIT 1)::text AS j",
            "SELECT table_to_xml('members', true, false, '') AS j",
            "SELECT a AS j FROM members AS m(a, b, c)",
            "WITH x(a, b) AS (SELECT * FROM members) SELECT b AS j FROM x",
        ] {
            assert!(
                reach_of(sql, true, 0).contains(&row("members")),
                "{sql}: {:?}",
                cols(sql, true)
            );
        }
    }

    #[test]
    fn wildcards_expand_at_run_time_or_with_a_schema() {
        let c = cols("SELECT * FROM members m JOIN orders o USING (id)", true);
        assert_eq!(c[0].0, "*members+0");
        assert_eq!(c[1].0, "*orders+0");
        let c = cols("SELECT * FROM (SELECT email AS x FROM members) d", true);
        assert_eq!(c, [("x".into(), vec!["members.email".into()])]);
        let c = cols("SELECT * FROM members AS m(a, b)", true);
        assert_eq!(c[0].0, "a");
        assert!(c[0].1.contains(&row("members")));
        assert_eq!(c[2].0, "*members+2");
        // with a catalogue: `*` becomes real columns, renames land on the right ones
        let l = lin("SELECT * FROM members AS m(a, b)", true, &Cat);
        let names: Vec<_> = l.columns.iter().map(|c| c.name.clone().unwrap()).collect();
        assert_eq!(names, ["a", "b", "prefecture"]);
        assert_eq!(
            l.columns[1].reach,
            Reach::from([Origin::Column {
                table: Some("members".into()),
                column: "email".into()
            }])
        );
        let l = lin("SELECT m FROM members m", true, &Cat);
        assert_eq!(l.columns[0].reach.len(), 3);
    }

    #[test]
    fn runtime_maps_expanded_columns_by_position() {
        let l = lin(
            "SELECT m.id AS k, *, 1 AS one FROM members m",
            true,
            &NoSchema,
        );
        let r = l.runtime(&["k".into(), "id".into(), "email".into(), "one".into()]);
        assert_eq!(r.len(), 4);
        assert!(r[2].contains(&Origin::Column {
            table: Some("members".into()),
            column: "email".into()
        }));
        assert!(r[3].is_empty());
        // a mismatch fails closed
        let l = lin("SELECT id FROM members", true, &NoSchema);
        let r = l.runtime(&["a".into(), "b".into()]);
        assert!(
            r.iter()
                .all(|x| x.iter().any(|o| matches!(o, Origin::Unknown { .. })))
        );
    }

    #[test]
    fn filters_joins_and_grouping_are_used() {
        let l = lin(
            "SELECT m.id FROM members m JOIN orders o ON o.buyer_tel = m.phone WHERE m.email = 'x' GROUP BY m.name HAVING max(m.kana) > '' ORDER BY m.birth",
            false,
            &NoSchema,
        );
        let used: Vec<String> = l.used.keys().map(|o| o.to_string()).collect();
        for c in [
            "orders.buyer_tel",
            "members.phone",
            "members.email",
            "members.name",
            "members.kana",
            "members.birth",
            "members.id",
        ] {
            assert!(used.contains(&c.to_string()), "{c}: {used:?}");
        }
        let l = lin(
            "SELECT id FROM members WHERE id IN (SELECT member_id FROM blocked WHERE mail = 'x')",
            false,
            &NoSchema,
        );
        assert!(l.used.contains_key(&Origin::Column {
            table: Some("blocked".into()),
            column: "mail".into()
        }));
        let l = lin("SELECT COUNT(email) AS n FROM members", false, &NoSchema);
        assert!(l.columns[0].reach.is_empty(), "COUNT hides the value");
        assert!(l.used.is_empty(), "{:?}", l.used);
        let l = lin(
            "SELECT COUNT(*) FILTER (WHERE email LIKE 'a%') AS n FROM members",
            true,
            &NoSchema,
        );
        assert!(l.used.keys().any(|o| o.to_string() == "members.email"));
        let l = lin("SELECT a.x FROM a NATURAL JOIN b", true, &NoSchema);
        assert!(l.used.keys().any(|o| matches!(o, Origin::Unknown { .. })));
    }

    #[test]
    fn table_function_columns_carry_their_arguments() {
        let l = lin(
            "SELECT * FROM unnest(ARRAY(SELECT email FROM members)) AS u",
            true,
            &NoSchema,
        );
        let e = l.columns[0].expand.as_ref().expect("expanded at run time");
        assert!(e.extra.iter().any(|o| o.to_string() == "members.email"));
        let l = lin("SELECT * FROM generate_series(1, 3) AS g", true, &NoSchema);
        assert!(l.columns[0].expand.as_ref().unwrap().extra.is_empty());
    }

    #[test]
    fn order_by_an_alias_follows_the_alias() {
        let l = lin(
            "SELECT email AS contact FROM members ORDER BY contact",
            false,
            &NoSchema,
        );
        assert!(!l.used.keys().any(|o| o.to_string() == "members.contact"));
    }
}
