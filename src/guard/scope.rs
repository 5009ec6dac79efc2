//! Which CTE names are in scope where, for the visitors that walk a statement
//! (`statement`'s check and its list of reads, `names`): a one-part relation name is a
//! CTE only where the server would read it as one.
//!
//! - A query's own CTEs are visible in its body (and in the bodies of its subqueries).
//! - Inside the body of a CTE, only the CTEs before it in the same `WITH` are visible:
//!   `WITH pg_authid AS (SELECT * FROM pg_authid) …` reads the real `pg_authid` inside.
//! - `WITH RECURSIVE`: a CTE also sees itself; on PostgreSQL every CTE of the list
//!   (the server lets them be written in any order).
//!
//! Where the rules of a server are not certain, a name counts as a relation: it is then
//! checked (and listed as read) rather than skipped. (Tried on MariaDB 10.11 and
//! PostgreSQL 15: both read the real table in `WITH x AS (SELECT * FROM x)` and for a
//! later CTE's name in a non-recursive `WITH`. MariaDB also lets a recursive CTE name a
//! later one; MySQL 8 does not, so on MySQL/MariaDB that name counts as a relation.)
//!
//! Use: call [`CteScope::enter`] from `pre_visit_query` and [`CteScope::leave`] from
//! `post_visit_query`, then ask [`CteScope::is_cte`] in `pre_visit_table_factor`.

use sqlparser::ast::{Ident, Query};

use crate::catalog::config::Driver;

/// The CTE names in scope at the current place of a walk.
#[derive(Debug)]
pub struct CteScope {
    driver: Driver,
    frames: Vec<Frame>,
}

#[derive(Debug)]
struct Frame {
    /// The CTE bodies of this query, to recognise them when the walk enters one.
    bodies: Vec<*const Query>,
    names: Vec<String>,
    recursive: bool,
    /// How many of `names` are visible at the current place.
    visible: usize,
}

/// A CTE or relation name as the server compares it: PostgreSQL folds an unquoted name
/// to lower case and keeps a quoted one; MySQL/MariaDB and SQLite compare without case.
pub fn server_name(driver: Driver, i: &Ident) -> String {
    match driver {
        Driver::Postgres if i.quote_style.is_some() => i.value.clone(),
        _ => i.value.to_lowercase(),
    }
}

impl CteScope {
    pub fn new(driver: Driver) -> CteScope {
        CteScope {
            driver,
            frames: Vec::new(),
        }
    }

    /// The walk enters `q` (before its `WITH`).
    pub fn enter(&mut self, q: &Query) {
        if let Some(top) = self.frames.last_mut()
            && let Some(i) = top.bodies.iter().position(|b| std::ptr::eq(*b, q))
        {
            top.visible = match (top.recursive, self.driver) {
                (false, _) => i,
                (true, Driver::Postgres) => top.names.len(),
                (true, _) => i + 1,
            };
        }
        let (bodies, names, recursive) = match &q.with {
            Some(w) => (
                w.cte_tables
                    .iter()
                    .map(|c| &*c.query as *const Query)
                    .collect(),
                w.cte_tables
                    .iter()
                    .map(|c| server_name(self.driver, &c.alias.name))
                    .collect::<Vec<_>>(),
                w.recursive,
            ),
            None => (Vec::new(), Vec::new(), false),
        };
        self.frames.push(Frame {
            visible: names.len(),
            bodies,
            names,
            recursive,
        });
    }

    /// The walk leaves `q`.
    pub fn leave(&mut self, q: &Query) {
        self.frames.pop();
        if let Some(top) = self.frames.last_mut()
            && top.bodies.iter().any(|b| std::ptr::eq(*b, q))
        {
            // the next CTE body resets it; the query's own body sees every CTE
            top.visible = top.names.len();
        }
    }

    /// Whether the one-part relation name `name` (as [`server_name`] writes it) is a CTE
    /// at the current place.
    pub fn is_cte(&self, name: &str) -> bool {
        self.frames
            .iter()
            .any(|f| f.names[..f.visible].iter().any(|n| n == name))
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use sqlparser::ast::{Query, TableFactor, Visit, Visitor};
    use sqlparser::parser::Parser;

    use super::*;

    /// The one-part relation names of `sql` that are not CTEs where they stand.
    fn relations(sql: &str, driver: Driver) -> Vec<String> {
        struct V(CteScope, Vec<String>);
        impl Visitor for V {
            type Break = ();
            fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
                self.0.enter(q);
                ControlFlow::Continue(())
            }
            fn post_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
                self.0.leave(q);
                ControlFlow::Continue(())
            }
            fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
                if let TableFactor::Table { name, .. } = t
                    && let [one] = name.0.as_slice()
                {
                    let n = server_name(self.0.driver, one.as_ident().unwrap());
                    if !self.0.is_cte(&n) {
                        self.1.push(n);
                    }
                }
                ControlFlow::Continue(())
            }
        }
        let d = crate::guard::statement::dialect(driver);
        let s = Parser::parse_sql(d.as_ref(), sql).unwrap();
        let mut v = V(CteScope::new(driver), Vec::new());
        let _ = s[0].visit(&mut v);
        v.1
    }

    #[test]
    fn a_cte_body_reads_the_real_table_of_its_own_name() {
        for d in [Driver::Postgres, Driver::Mysql, Driver::Sqlite] {
            assert_eq!(
                relations(
                    "WITH pg_authid AS (SELECT * FROM pg_authid) SELECT * FROM pg_authid",
                    d
                ),
                ["pg_authid"],
                "{d:?}"
            );
        }
    }

    #[test]
    fn later_ctes_and_subqueries_see_earlier_ones() {
        let r = relations(
            "WITH a AS (SELECT * FROM b), b AS (SELECT * FROM a) \
             SELECT * FROM a, (SELECT * FROM b) x WHERE EXISTS (SELECT 1 FROM c)",
            Driver::Postgres,
        );
        // `b` inside `a` is the table b (the CTE b comes later)
        assert_eq!(r, ["b", "c"]);
    }

    #[test]
    fn nested_with_and_recursion() {
        let r = relations(
            "WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 3) \
             SELECT * FROM (WITH u AS (SELECT * FROM t) SELECT * FROM u) x, u",
            Driver::Mysql,
        );
        // the last `u` is outside the subquery that defines it
        assert_eq!(r, ["u"]);
        // PostgreSQL: in WITH RECURSIVE a CTE may name a later one
        assert!(
            relations(
                "WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1 AS n) SELECT * FROM a",
                Driver::Postgres
            )
            .is_empty()
        );
        assert_eq!(
            relations(
                "WITH RECURSIVE a AS (SELECT * FROM b), b AS (SELECT 1 AS n) SELECT * FROM a",
                Driver::Mysql
            ),
            ["b"]
        );
    }

    #[test]
    fn postgres_quoted_cte_names_are_exact() {
        assert_eq!(
            relations("WITH \"X\" AS (SELECT 1) SELECT * FROM x", Driver::Postgres),
            ["x"]
        );
        assert!(relations("WITH X AS (SELECT 1) SELECT * FROM x", Driver::Mysql).is_empty());
    }
}
