//! Name resolution against the schema catalogue: every table and column a query names
//! must exist (through aliases, joins, `USING`/`NATURAL`, CTEs, derived tables,
//! correlated subqueries, `UNION`), or `check` says so on its line with "did you mean";
//! `*` and `t.*` are expanded to the result's real column names; a result column that
//! is a catalogue column unchanged is tied to it (its type decides which mask rules fit).
//!
//! What each column is *made of* is not decided here: that is the column lineage of
//! [`crate::guard::lineage`], which the catalogue plugs into as its `Schema`.
//!
//! Hand-written because no crate resolves sqlparser trees against a schema; it follows
//! the SQL scoping rules closely enough for `check`, and says "unknown" (an opaque
//! relation) rather than guess where it cannot tell (table functions, `UNNEST`, a table
//! missing from the catalogue). Lookups go through the small [`Tables`] trait.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::Path;

use sqlparser::ast::{
    Expr, GroupByExpr, Ident, OrderBy, OrderByKind, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Spanned, TableAlias, TableFactor, TableWithJoins,
    Visit, Visitor,
};
use sqlparser::tokenizer::Location;

use crate::catalog::config::Driver;
use crate::catalog::diag::Diagnostic;

/// A catalogue column: (table index, column index) in the [`Tables`] source.
pub type BaseCol = (usize, usize);

/// Where table definitions come from.
pub trait Tables {
    /// The table a query names (`schema` is the qualifier, if written); its index.
    fn find(&self, schema: Option<&str>, name: &str) -> Option<usize>;
    /// How messages name table `t`.
    fn table_name(&self, t: usize) -> String;
    /// The column names of table `t`, in order.
    fn column_names(&self, t: usize) -> Vec<String>;
    /// All table names, for "did you mean".
    fn all_tables(&self) -> Vec<String>;
    /// Where the catalogue lives (for messages).
    fn source(&self) -> String;
}

/// A column of a query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct OutCol {
    /// The name the database gives it; `None` for an unnamed expression.
    pub name: Option<String>,
    /// The catalogue column when the value is that column unchanged.
    pub direct: Option<BaseCol>,
    /// 1-based (line, col) in the query file.
    pub at: (usize, usize),
    /// Came from expanding `*` or `t.*`.
    pub from_wildcard: bool,
}

/// The outcome for one statement.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub columns: Vec<OutCol>,
    /// False when a `*` covered something the catalogue cannot describe.
    pub complete: bool,
    pub problems: Vec<Diagnostic>,
}

/// Positions inside the SQL are relative to where it starts in the file (as in
/// `guard::statement`).
#[derive(Clone, Copy)]
pub struct SqlAt<'a> {
    pub path: &'a Path,
    pub sql_line: usize,
    pub sql_col: usize,
}

impl SqlAt<'_> {
    fn at(&self, loc: Location) -> (usize, usize) {
        crate::guard::statement::file_position(self.sql_line, self.sql_col, loc)
    }
}

#[derive(Debug, Clone)]
struct RelCol {
    name: String,
    direct: Option<BaseCol>,
}

/// A relation in a FROM clause.
#[derive(Debug, Clone)]
struct Rel {
    /// The name it is referred to by (alias, or the table's own name).
    name: Option<String>,
    /// The catalogue table, for `schema.table.column` and messages.
    table: Option<usize>,
    /// `None`: the columns are unknown (a table function, a table not in the catalogue).
    cols: Option<Vec<RelCol>>,
    /// Columns merged by `USING`/`NATURAL`: `*` shows them once.
    merged: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct QueryOut {
    cols: Vec<OutCol>,
    complete: bool,
}

/// Named queries (CTEs) visible at a point; innermost last.
type Ctes = Vec<(String, Option<Vec<RelCol>>)>;

/// Resolves `query` (the checked statement's query).
pub fn resolve(query: &Query, tables: &dyn Tables, driver: Driver, at: SqlAt<'_>) -> Resolution {
    let mut r = Resolver {
        tables,
        driver,
        at,
        problems: Vec::new(),
        cte_stack: Vec::new(),
    };
    let out = r.query(query, &[], &Vec::new());
    // one message per place, even when a name is reached twice
    let mut seen = BTreeSet::new();
    r.problems
        .retain(|d| seen.insert((d.line, d.col, d.message.clone())));
    Resolution {
        columns: out.cols,
        complete: out.complete,
        problems: r.problems,
    }
}

struct Resolver<'a> {
    tables: &'a dyn Tables,
    driver: Driver,
    at: SqlAt<'a>,
    problems: Vec<Diagnostic>,
    /// The CTEs visible where an expression's subqueries are resolved.
    cte_stack: Vec<Ctes>,
}

/// Which clause an expression is in: decides alias visibility and what a use is called.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Clause {
    Projection,
    Where,
    Join,
    GroupBy,
    Having,
    OrderBy,
    Other,
}

const NILADIC: &[&str] = &[
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "current_user",
    "session_user",
    "user",
    "current_role",
    "current_catalog",
    "current_schema",
    "true",
    "false",
    "null",
];

impl<'a> Resolver<'a> {
    /// The name an identifier stands for: PostgreSQL folds unquoted names to lower case.
    fn fold(&self, i: &Ident) -> String {
        if self.driver == Driver::Postgres && i.quote_style.is_none() {
            i.value.to_lowercase()
        } else {
            i.value.clone()
        }
    }

    fn same(&self, a: &str, b: &str) -> bool {
        super::names_equal(self.driver, a, b)
    }

    fn diag(&self, loc: Location, msg: String) -> Diagnostic {
        let (l, c) = self.at.at(loc);
        Diagnostic::new(self.at.path, l, c, msg)
    }

    fn query(&mut self, q: &Query, outer: &[&[Rel]], ctes: &Ctes) -> QueryOut {
        let mut ctes = ctes.clone();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = self.fold(&cte.alias.name);
                if with.recursive {
                    // the recursive part reads its own rows: unknown while resolving it
                    ctes.push((name.clone(), None));
                }
                let out = self.query(&cte.query, outer, &ctes);
                let cols = out.complete.then(|| {
                    rename(
                        out.cols
                            .into_iter()
                            .map(|c| RelCol {
                                name: c.name.unwrap_or_default(),
                                direct: c.direct,
                            })
                            .collect(),
                        &cte.alias,
                        self,
                    )
                });
                ctes.retain(|(n, _)| n != &name || !with.recursive);
                ctes.push((name, cols));
            }
        }
        self.cte_stack.push(ctes.clone());
        let out = self.set_expr(&q.body, outer, &ctes, q.order_by.as_ref());
        self.cte_stack.pop();
        out
    }

    fn set_expr(
        &mut self,
        body: &SetExpr,
        outer: &[&[Rel]],
        ctes: &Ctes,
        order_by: Option<&OrderBy>,
    ) -> QueryOut {
        match body {
            SetExpr::Select(s) => self.select(s, outer, ctes, order_by),
            SetExpr::Query(q) => {
                let out = self.query(q, outer, ctes);
                self.order_by_outputs(order_by, &out, outer);
                out
            }
            SetExpr::SetOperation { left, right, .. } => {
                let mut l = self.set_expr(left, outer, ctes, None);
                let r = self.set_expr(right, outer, ctes, None);
                l.complete &= r.complete;
                if l.cols.len() == r.cols.len() {
                    for (a, b) in l.cols.iter_mut().zip(r.cols) {
                        if a.direct != b.direct {
                            a.direct = None;
                        }
                    }
                } else {
                    l.complete = false;
                }
                self.order_by_outputs(order_by, &l, outer);
                l
            }
            SetExpr::Values(v) => {
                for row in &v.rows {
                    for e in &row.content {
                        self.expr(e, &[], outer, Clause::Other, None);
                    }
                }
                let n = v.rows.first().map(|r| r.content.len()).unwrap_or(0);
                let at = self.at.at(body.span().start);
                QueryOut {
                    cols: (0..n)
                        .map(|i| OutCol {
                            name: Some(format!("column{}", i + 1)),
                            direct: None,
                            at,
                            from_wildcard: false,
                        })
                        .collect(),
                    complete: true,
                }
            }
            _ => QueryOut {
                cols: Vec::new(),
                complete: false,
            },
        }
    }

    /// ORDER BY after a UNION or a parenthesised query: output names only.
    fn order_by_outputs(&mut self, order_by: Option<&OrderBy>, out: &QueryOut, outer: &[&[Rel]]) {
        let Some(OrderBy {
            kind: OrderByKind::Expressions(items),
            ..
        }) = order_by
        else {
            return;
        };
        let rel = Rel {
            name: None,
            table: None,
            cols: out.complete.then(|| {
                out.cols
                    .iter()
                    .map(|c| RelCol {
                        name: c.name.clone().unwrap_or_default(),
                        direct: c.direct,
                    })
                    .collect()
            }),
            merged: BTreeSet::new(),
        };
        let scope = [rel];
        for i in items {
            self.expr(&i.expr, &scope, outer, Clause::OrderBy, None);
        }
    }

    fn select(
        &mut self,
        s: &Select,
        outer: &[&[Rel]],
        ctes: &Ctes,
        order_by: Option<&OrderBy>,
    ) -> QueryOut {
        let mut rels: Vec<Rel> = Vec::new();
        for twj in &s.from {
            self.table_with_joins(twj, &mut rels, outer, ctes);
        }
        if let Some(w) = &s.selection {
            self.expr(w, &rels, outer, Clause::Where, None);
        }
        if let Some(w) = &s.prewhere {
            self.expr(w, &rels, outer, Clause::Where, None);
        }
        // the result list
        let mut cols = Vec::new();
        let mut complete = true;
        for item in &s.projection {
            let at = self.at.at(item.span().start);
            match item {
                SelectItem::UnnamedExpr(e) => {
                    self.expr(e, &rels, outer, Clause::Projection, None);
                    cols.push(OutCol {
                        name: own_name(e).map(|i| self.fold(i)),
                        direct: self.direct(e, &rels, outer),
                        at,
                        from_wildcard: false,
                    });
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    self.expr(expr, &rels, outer, Clause::Projection, None);
                    cols.push(OutCol {
                        name: Some(self.fold(alias)),
                        direct: self.direct(expr, &rels, outer),
                        at,
                        from_wildcard: false,
                    });
                }
                SelectItem::ExprWithAliases { expr, aliases } => {
                    self.expr(expr, &rels, outer, Clause::Projection, None);
                    cols.push(OutCol {
                        name: aliases.first().map(|a| self.fold(a)),
                        direct: self.direct(expr, &rels, outer),
                        at,
                        from_wildcard: false,
                    });
                }
                SelectItem::Wildcard(_) => {
                    for rel in &rels {
                        complete &= expand(rel, &mut cols, at, true);
                    }
                    if rels.is_empty() {
                        complete = false;
                    }
                }
                SelectItem::QualifiedWildcard(kind, _) => match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(name) => {
                        let parts: Vec<&Ident> =
                            name.0.iter().filter_map(|p| p.as_ident()).collect();
                        match self.find_rel(&parts, &rels, &[]) {
                            Some(rel) => complete &= expand(rel, &mut cols, at, false),
                            None => {
                                self.unknown_qualifier(&parts, &rels, outer);
                                complete = false;
                            }
                        }
                    }
                    SelectItemQualifiedWildcardKind::Expr(e) => {
                        self.expr(e, &rels, outer, Clause::Projection, None);
                        complete = false;
                    }
                },
            }
        }
        if let Some(sqlparser::ast::Distinct::On(exprs)) = &s.distinct {
            for e in exprs {
                self.expr(e, &rels, outer, Clause::OrderBy, Some(&cols));
            }
        }
        if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
            for e in exprs {
                self.expr(e, &rels, outer, Clause::GroupBy, Some(&cols));
            }
        }
        if let Some(h) = &s.having {
            self.expr(h, &rels, outer, Clause::Having, Some(&cols));
        }
        if let Some(q) = &s.qualify {
            self.expr(q, &rels, outer, Clause::Having, Some(&cols));
        }
        if let Some(OrderBy {
            kind: OrderByKind::Expressions(items),
            ..
        }) = order_by
        {
            for i in items {
                self.expr(&i.expr, &rels, outer, Clause::OrderBy, Some(&cols));
            }
        }
        QueryOut { cols, complete }
    }

    fn table_with_joins(
        &mut self,
        twj: &TableWithJoins,
        rels: &mut Vec<Rel>,
        outer: &[&[Rel]],
        ctes: &Ctes,
    ) {
        self.factor(&twj.relation, rels, outer, ctes);
        for j in &twj.joins {
            let left = rels.len();
            self.factor(&j.relation, rels, outer, ctes);
            use sqlparser::ast::JoinConstraint as C;
            use sqlparser::ast::JoinOperator as O;
            let constraint = match &j.join_operator {
                O::Join(c)
                | O::Inner(c)
                | O::Left(c)
                | O::LeftOuter(c)
                | O::Right(c)
                | O::RightOuter(c)
                | O::FullOuter(c)
                | O::CrossJoin(c)
                | O::Semi(c)
                | O::LeftSemi(c)
                | O::RightSemi(c)
                | O::Anti(c)
                | O::LeftAnti(c)
                | O::RightAnti(c)
                | O::StraightJoin(c) => Some(c),
                O::AsOf {
                    match_condition,
                    constraint,
                } => {
                    self.expr(match_condition, rels, outer, Clause::Join, None);
                    Some(constraint)
                }
                _ => None,
            };
            match constraint {
                Some(C::On(e)) => {
                    self.expr(e, rels, outer, Clause::Join, None);
                }
                Some(C::Using(names)) => {
                    for n in names {
                        let Some(ident) = n.0.last().and_then(|p| p.as_ident()) else {
                            continue;
                        };
                        let name = self.fold(ident);
                        for side in [&rels[..left], &rels[left..]] {
                            self.column_in(ident, &name, side);
                        }
                        for r in rels.iter_mut() {
                            r.merged.insert(name.clone());
                        }
                    }
                }
                Some(C::Natural) => {
                    // the common columns are merged: `*` shows them once
                    let right: Vec<String> = rels[left..]
                        .iter()
                        .filter_map(|r| r.cols.as_ref())
                        .flatten()
                        .map(|c| c.name.clone())
                        .collect();
                    for name in right {
                        let common = rels[..left]
                            .iter()
                            .filter_map(|r| r.cols.as_ref())
                            .flatten()
                            .any(|c| self.same(&c.name, &name));
                        if common {
                            for r in rels.iter_mut() {
                                r.merged.insert(name.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A `USING` column must exist on each side of the join.
    fn column_in(&mut self, ident: &Ident, name: &str, side: &[Rel]) {
        let mut found = false;
        let mut opaque = false;
        for r in side {
            match &r.cols {
                None => opaque = true,
                Some(cols) => found |= cols.iter().any(|c| self.same(&c.name, name)),
            }
        }
        if !found && !opaque {
            let names = side
                .iter()
                .filter_map(|r| r.cols.as_ref())
                .flatten()
                .map(|c| c.name.clone())
                .collect();
            self.problems
                .push(self.unknown_column(ident, name, None, names));
        }
    }

    fn factor(&mut self, f: &TableFactor, rels: &mut Vec<Rel>, outer: &[&[Rel]], ctes: &Ctes) {
        match f {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let parts: Vec<&Ident> = name.0.iter().filter_map(|p| p.as_ident()).collect();
                let Some(last) = parts.last() else {
                    rels.push(opaque(alias.as_ref().map(|a| self.fold(&a.name))));
                    return;
                };
                let table_name = self.fold(last);
                let shown = alias
                    .as_ref()
                    .map(|a| self.fold(&a.name))
                    .unwrap_or_else(|| table_name.clone());
                if args.is_some() {
                    // a table function: the guard judges it; its columns are unknown here
                    rels.push(opaque(Some(shown)));
                    return;
                }
                if parts.len() == 1
                    && let Some((_, cols)) =
                        ctes.iter().rev().find(|(n, _)| self.same(n, &table_name))
                {
                    let cols = cols.clone().map(|c| match alias {
                        Some(a) => rename(c, a, self),
                        None => c,
                    });
                    rels.push(Rel {
                        name: Some(shown),
                        table: None,
                        cols,
                        merged: BTreeSet::new(),
                    });
                    return;
                }
                let schema = (parts.len() >= 2).then(|| self.fold(parts[parts.len() - 2]));
                match self.tables.find(schema.as_deref(), &table_name) {
                    Some(t) => {
                        let cols: Vec<RelCol> = self
                            .tables
                            .column_names(t)
                            .into_iter()
                            .enumerate()
                            .map(|(i, n)| RelCol {
                                name: n,
                                direct: Some((t, i)),
                            })
                            .collect();
                        let cols = match alias {
                            Some(a) => rename(cols, a, self),
                            None => cols,
                        };
                        rels.push(Rel {
                            name: Some(shown),
                            table: Some(t),
                            cols: Some(cols),
                            merged: BTreeSet::new(),
                        });
                    }
                    None if crate::guard::allow::system_relation(
                        self.driver,
                        &parts
                            .iter()
                            .map(|i| i.value.to_lowercase())
                            .collect::<Vec<_>>(),
                    )
                    .is_some() =>
                    {
                        // a system catalog (the guard lets it through only when the
                        // operator listed it): the catalogue does not describe it
                        rels.push(opaque(Some(shown)));
                    }
                    None => {
                        let written = name.to_string();
                        let mut d = self.diag(
                            f.span().start,
                            format!(
                                "the table `{written}` is not in the schema catalogue ({})",
                                self.tables.source()
                            ),
                        );
                        d = match suggest(&table_name, self.tables.all_tables()) {
                            Some(s) => d.help(format!(
                                "did you mean `{s}`? If `{written}` is a new table, run the schema workflow (Actions → schema → Run workflow) so the catalogue knows it"
                            )),
                            None => d.help(format!(
                                "check the name; if `{written}` is a new table or view, run the schema workflow (Actions → schema → Run workflow) so the catalogue knows it"
                            )),
                        };
                        self.problems.push(d);
                        rels.push(opaque(Some(shown)));
                    }
                }
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                let before: Vec<Rel>;
                let mut scopes: Vec<&[Rel]> = outer.to_vec();
                if *lateral {
                    before = rels.clone();
                    scopes.insert(0, &before);
                }
                let out = self.query(subquery, &scopes, ctes);
                let cols = out.complete.then(|| {
                    let c: Vec<RelCol> = out
                        .cols
                        .into_iter()
                        .map(|c| RelCol {
                            name: c.name.unwrap_or_default(),
                            direct: c.direct,
                        })
                        .collect();
                    match alias {
                        Some(a) => rename(c, a, self),
                        None => c,
                    }
                });
                rels.push(Rel {
                    name: alias.as_ref().map(|a| self.fold(&a.name)),
                    table: None,
                    cols,
                    merged: BTreeSet::new(),
                });
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins, rels, outer, ctes),
            other => {
                let alias = table_factor_alias(other).map(|a| self.fold(&a.name));
                rels.push(opaque(alias));
            }
        }
    }

    /// The catalogue column an expression is, unchanged (for type checks of masks).
    fn direct(&self, e: &Expr, rels: &[Rel], outer: &[&[Rel]]) -> Option<BaseCol> {
        match e {
            Expr::Nested(inner) => self.direct(inner, rels, outer),
            Expr::Identifier(i) => {
                let name = self.fold(i);
                let mut found = None;
                for r in rels {
                    for c in r.cols.iter().flatten() {
                        if self.same(&c.name, &name) {
                            found = found.or(c.direct);
                        }
                    }
                }
                found
            }
            Expr::CompoundIdentifier(parts) => {
                let (col, qual) = parts.split_last()?;
                let q: Vec<&Ident> = qual.iter().collect();
                let rel = self.find_rel(&q, rels, outer)?;
                let name = self.fold(col);
                rel.cols
                    .iter()
                    .flatten()
                    .find(|c| self.same(&c.name, &name))
                    .and_then(|c| c.direct)
            }
            _ => None,
        }
    }

    /// Resolves every column an expression reads. Subqueries inside are resolved with
    /// this scope as their outer scope.
    fn expr(
        &mut self,
        e: &Expr,
        rels: &[Rel],
        outer: &[&[Rel]],
        clause: Clause,
        outputs: Option<&[OutCol]>,
    ) {
        let mut v = ExprVisitor {
            r: self,
            rels,
            outer,
            clause,
            outputs,
            depth: 0,
        };
        let _ = e.visit(&mut v);
    }

    fn find_rel<'r>(
        &self,
        qual: &[&Ident],
        rels: &'r [Rel],
        outer: &[&'r [Rel]],
    ) -> Option<&'r Rel> {
        let last = qual.last()?;
        let name = self.fold(last);
        let schema = (qual.len() >= 2).then(|| self.fold(qual[qual.len() - 2]));
        std::iter::once(rels)
            .chain(outer.iter().copied())
            .flat_map(|s| s.iter())
            .find(|r| {
                r.name.as_deref().is_some_and(|n| self.same(n, &name))
                    && match (&schema, r.table) {
                        (Some(s), Some(t)) => {
                            // `schema.table.col`: the table must be that schema's
                            self.tables.find(Some(s), &name) == Some(t)
                        }
                        _ => true,
                    }
            })
    }

    fn unknown_qualifier(&mut self, qual: &[&Ident], rels: &[Rel], outer: &[&[Rel]]) {
        let Some(last) = qual.last() else { return };
        let name = self.fold(last);
        let names: Vec<String> = std::iter::once(rels)
            .chain(outer.iter().copied())
            .flat_map(|s| s.iter())
            .filter_map(|r| r.name.clone())
            .collect();
        let written = qual
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(".");
        let mut d = self.diag(
            last.span.start,
            format!("there is no table or alias `{written}` in this part of the query"),
        );
        d = match suggest(&name, names.clone()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None if names.is_empty() => d.help("name the table in FROM or JOIN first"),
            None => d.help(format!(
                "the tables here are called: {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        self.problems.push(d);
    }

    fn unknown_column(
        &self,
        ident: &Ident,
        name: &str,
        table: Option<&str>,
        candidates: Vec<String>,
    ) -> Diagnostic {
        let what = match table {
            Some(t) => format!("`{t}` has no column `{}`", ident.value),
            None => format!(
                "there is no column `{}` in the tables of this part of the query",
                ident.value
            ),
        };
        let d = self.diag(ident.span.start, what);
        // PostgreSQL: `Amount` unquoted is `amount`; the column may be "Amount"
        if self.driver == Driver::Postgres
            && let Some(exact) = candidates.iter().find(|c| c.to_lowercase() == name)
        {
            return d.help(format!(
                "PostgreSQL reads names without quotes in lower case: write \"{exact}\" in double quotes"
            ));
        }
        match suggest(name, candidates.clone()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None if candidates.is_empty() => {
                d.help(format!("check the name against {}", self.tables.source()))
            }
            None => {
                let mut c = candidates;
                c.sort();
                c.dedup();
                c.truncate(30);
                d.help(format!(
                    "the columns here are: {}",
                    c.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
}

fn opaque(name: Option<String>) -> Rel {
    Rel {
        name,
        table: None,
        cols: None,
        merged: BTreeSet::new(),
    }
}

fn table_factor_alias(f: &TableFactor) -> Option<&TableAlias> {
    match f {
        TableFactor::Function { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::JsonTable { alias, .. } => alias.as_ref(),
        _ => None,
    }
}

/// `AS t(a, b)`: the first columns get the new names.
fn rename(mut cols: Vec<RelCol>, alias: &TableAlias, r: &Resolver<'_>) -> Vec<RelCol> {
    for (c, a) in cols.iter_mut().zip(&alias.columns) {
        c.name = r.fold(&a.name);
    }
    cols
}

/// Appends a relation's columns for `*` / `t.*`; false when they are unknown.
fn expand(rel: &Rel, out: &mut Vec<OutCol>, at: (usize, usize), skip_merged: bool) -> bool {
    let Some(cols) = &rel.cols else {
        return false;
    };
    for c in cols {
        if skip_merged
            && rel.merged.contains(&c.name)
            && out
                .iter()
                .any(|o| o.name.as_deref() == Some(c.name.as_str()))
        {
            continue;
        }
        out.push(OutCol {
            name: Some(c.name.clone()),
            direct: c.direct,
            at,
            from_wildcard: true,
        });
    }
    true
}

fn own_name(e: &Expr) -> Option<&Ident> {
    match e {
        Expr::Identifier(i) => Some(i),
        Expr::CompoundIdentifier(parts) => parts.last(),
        Expr::Nested(inner) => own_name(inner),
        _ => None,
    }
}

/// The closest name by edit distance, when it is close enough to be a typo.
pub fn suggest(name: &str, candidates: Vec<String>) -> Option<String> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d > 0 || c != name)
        .filter(|(d, _)| *d <= 2.max(lower.chars().count() / 3))
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)))
        .map(|(_, c)| c)
}

struct ExprVisitor<'v, 'a> {
    r: &'v mut Resolver<'a>,
    rels: &'v [Rel],
    outer: &'v [&'v [Rel]],
    clause: Clause,
    outputs: Option<&'v [OutCol]>,
    /// Inside a subquery (resolved on its own): identifiers there are not ours.
    depth: usize,
}

impl ExprVisitor<'_, '_> {
    fn output_named(&self, name: &str) -> bool {
        self.outputs.is_some_and(|outs| {
            outs.iter()
                .any(|o| o.name.as_deref().is_some_and(|n| self.r.same(n, name)))
        })
    }

    fn ident(&mut self, i: &Ident) {
        if i.value.starts_with('@') {
            return; // a MySQL variable
        }
        let name = self.r.fold(i);
        // ORDER BY names the result's columns first
        if self.clause == Clause::OrderBy && self.output_named(&name) {
            return;
        }
        let mut opaque = false;
        for scope in std::iter::once(self.rels).chain(self.outer.iter().copied()) {
            let mut found = false;
            for r in scope {
                match &r.cols {
                    None => opaque = true,
                    Some(cols) => found |= cols.iter().any(|c| self.r.same(&c.name, &name)),
                }
            }
            if found {
                return;
            }
            if opaque {
                return; // may come from the relation we cannot see into
            }
        }
        let alias_visible = matches!(self.clause, Clause::GroupBy | Clause::Having)
            || (self.r.driver == Driver::Sqlite && self.clause == Clause::Where);
        if alias_visible && self.output_named(&name) {
            return;
        }
        if i.quote_style.is_none() && NILADIC.contains(&i.value.to_lowercase().as_str()) {
            return;
        }
        let mut candidates: Vec<String> = std::iter::once(self.rels)
            .chain(self.outer.iter().copied())
            .flat_map(|s| s.iter())
            .filter_map(|r| r.cols.as_ref())
            .flatten()
            .map(|c| c.name.clone())
            .collect();
        if alias_visible || self.clause == Clause::OrderBy {
            candidates.extend(
                self.outputs
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o.name.clone()),
            );
        }
        let d = self.r.unknown_column(i, &name, None, candidates);
        self.r.problems.push(d);
    }

    fn compound(&mut self, parts: &[Ident]) {
        let Some((col, qual)) = parts.split_last() else {
            return;
        };
        let q: Vec<&Ident> = qual.iter().collect();
        let found = self.r.find_rel(&q, self.rels, self.outer).map(|rel| {
            let name = self.r.fold(col);
            let table = rel.name.clone();
            let hit = rel
                .cols
                .as_ref()
                .map(|cols| cols.iter().any(|c| self.r.same(&c.name, &name)));
            let names: Vec<String> = rel.cols.iter().flatten().map(|c| c.name.clone()).collect();
            (name, table, hit, names)
        });
        match found {
            None => {
                let rels = self.rels;
                let outer = self.outer;
                self.r.unknown_qualifier(&q, rels, outer);
            }
            Some((_, _, None, _)) => {} // opaque relation
            Some((_, _, Some(true), _)) => {}
            Some((name, table, Some(false), names)) => {
                let shown = table.unwrap_or_default();
                let d = self.r.unknown_column(col, &name, Some(&shown), names);
                self.r.problems.push(d);
            }
        }
    }
}

impl Visitor for ExprVisitor<'_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.depth == 0 {
            let mut scopes: Vec<&[Rel]> = vec![self.rels];
            scopes.extend(self.outer.iter().copied());
            let ctes = self.r.cte_stack.last().cloned().unwrap_or_default();
            self.r.query(q, &scopes, &ctes);
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
            Expr::Identifier(i) => self.ident(i),
            Expr::CompoundIdentifier(parts) => self.compound(parts),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
