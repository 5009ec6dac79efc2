//! The names a checked statement leaves for the server to resolve: unqualified
//! function calls (scalar, aggregate, window and table functions), the type names of
//! casts and typed literals, and unqualified relations. The check approves a call of
//! `lower` as the built-in; whether the server picks the built-in depends on what else
//! by that name exists where it looks (PostgreSQL's search path, MySQL's current
//! database). `source::resolution` asks the server before the query runs.
//!
//! Names are as the server reads them: an unquoted name folded to lower case, a quoted
//! one kept exactly (`"Lower"` is not `lower` to PostgreSQL, and a function by that
//! name in `public` would be the one called).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    ArrayElemTypeDef, DataType, Expr, Ident, ObjectName, Statement, TableFactor, Visit, Visitor,
};

use crate::catalog::config::Driver;
use crate::guard::scope::CteScope;

/// What the server will resolve by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// Functions called without a schema.
    pub functions: BTreeSet<String>,
    /// Types named without a schema in `CAST`, `::` and typed literals.
    pub types: BTreeSet<String>,
    /// Relations named without a schema (CTE names excluded).
    pub relations: BTreeSet<String>,
}

/// The unqualified names of `statement`.
pub fn unresolved(statement: &Statement) -> Unresolved {
    let mut c = Collect {
        names: Unresolved::default(),
        // relations are resolved on PostgreSQL only (`source::resolution`), so CTE
        // names follow its rules
        scope: CteScope::new(Driver::Postgres),
    };
    let _ = statement.visit(&mut c);
    c.names
}

struct Collect {
    names: Unresolved,
    /// A relation named like a CTE is that CTE only where the CTE is in scope.
    scope: CteScope,
}

/// The name as the server reads it (see the module comment).
fn server_name(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// The single part of an unqualified name; `None` for a qualified one.
fn bare(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [one] => Some(
            one.as_ident()
                .map(server_name)
                .unwrap_or_else(|| one.to_string()),
        ),
        _ => None,
    }
}

fn type_name(t: &DataType, out: &mut BTreeSet<String>) {
    match t {
        DataType::Custom(name, _) => out.extend(bare(name)),
        DataType::Array(
            ArrayElemTypeDef::AngleBracket(inner)
            | ArrayElemTypeDef::SquareBracket(inner, _)
            | ArrayElemTypeDef::Parenthesis(inner)
            | ArrayElemTypeDef::Qualified(inner, _),
        ) => type_name(inner, out),
        // the SQL-standard and built-in type keywords name pg_catalog / built-in types,
        // which no schema on the search path comes before
        _ => {}
    }
}

impl Visitor for Collect {
    type Break = ();

    fn pre_visit_query(&mut self, q: &sqlparser::ast::Query) -> ControlFlow<()> {
        self.scope.enter(q);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &sqlparser::ast::Query) -> ControlFlow<()> {
        self.scope.leave(q);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, args, .. } = t
            && let Some(n) = bare(name)
        {
            if args.is_some() {
                self.names.functions.insert(n);
            } else if !self.scope.is_cte(&n) {
                self.names.relations.insert(n);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Function(f) => self.names.functions.extend(bare(&f.name)),
            Expr::Cast { data_type, .. } => type_name(data_type, &mut self.names.types),
            Expr::TypedString(t) => type_name(&t.data_type, &mut self.names.types),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn names(sql: &str) -> Unresolved {
        let s = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        unresolved(&s[0])
    }

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn functions_types_and_relations_as_the_server_reads_them() {
        let n = names(
            "WITH w AS (SELECT 1 AS a) SELECT LOWER(x), \"Upper\"(y), pg_catalog.length(z), \
             count(*) OVER (), 'x'::mytype, CAST(a AS \"MyType\"[]), b::int, \
             s.other(1) FROM orders o JOIN w ON true JOIN reporting.t ON true \
             CROSS JOIN generate_series(1, 2) g WHERE EXISTS (SELECT 1 FROM \"People\")",
        );
        assert_eq!(
            n.functions,
            set(&["Upper", "count", "generate_series", "lower"])
        );
        assert_eq!(n.types, set(&["MyType", "mytype"]));
        assert_eq!(n.relations, set(&["People", "orders"]));
    }

    #[test]
    fn a_cte_body_naming_its_own_cte_reads_the_relation() {
        let n = names("WITH orders AS (SELECT * FROM orders) SELECT * FROM orders");
        assert_eq!(n.relations, set(&["orders"]));
        let n = names("WITH a AS (SELECT 1 AS x), b AS (SELECT * FROM a) SELECT * FROM b");
        assert!(n.relations.is_empty(), "{n:?}");
    }
}
