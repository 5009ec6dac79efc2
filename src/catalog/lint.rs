//! Warnings: a query that runs, but probably not as its requester meant. They are
//! shown by `check` (and as `::warning` annotations in a pull request) and never stop
//! a run.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, Expr, Spanned, Value, Visit, Visitor};

use super::diag::Diagnostic;
use super::query::QueryFile;
use crate::guard::params::PERIOD_END;
use crate::guard::statement::CheckedStatement;

/// Every warning for one checked query file.
pub fn warnings(file: &QueryFile, st: &CheckedStatement) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    inclusive_period_end(file, st, &mut out);
    select_star(file, st, &mut out);
    out
}

fn at(file: &QueryFile, loc: sqlparser::tokenizer::Location) -> (usize, usize) {
    if loc.line == 0 {
        return (file.sql_line, file.sql_col);
    }
    let line = file.sql_line + loc.line as usize - 1;
    let col = if loc.line == 1 {
        file.sql_col + loc.column as usize - 1
    } else {
        loc.column as usize
    };
    (line, col)
}

fn is_period_end(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(&v.value, Value::Placeholder(p) if p.strip_prefix(':') == Some(PERIOD_END)))
}

/// `x <= :period_end`, `:period_end >= x` and `x BETWEEN … AND :period_end` include the
/// first instant of the next period, which the next run counts again.
fn inclusive_period_end(file: &QueryFile, st: &CheckedStatement, out: &mut Vec<Diagnostic>) {
    struct Find(Vec<(sqlparser::tokenizer::Location, &'static str)>);
    impl Visitor for Find {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::LtEq,
                    right,
                } if is_period_end(right) => self.0.push((left.span().start, "<=")),
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::GtEq,
                    right,
                } if is_period_end(left) => self.0.push((right.span().start, ">=")),
                Expr::Between {
                    expr,
                    negated: false,
                    high,
                    ..
                } if is_period_end(high) => self.0.push((expr.span().start, "BETWEEN")),
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Find(Vec::new());
    let _ = st.tree().visit(&mut f);
    for (loc, how) in f.0 {
        let (l, c) = at(file, loc);
        out.push(
            Diagnostic::new(
                &file.path,
                l,
                c,
                format!(
                    "this compares with `{how}` up to and including :period_end, the first moment of the NEXT period; rows at exactly that time are counted in this file and again in the next one"
                ),
            )
            .help("write `>= :period_start AND … < :period_end` (the end is excluded)")
            .warning(),
        );
    }
}

/// `SELECT *` (or `t.*`): which columns the file gets is decided by the table at run
/// time, not by the reviewed text.
fn select_star(file: &QueryFile, st: &CheckedStatement, out: &mut Vec<Diagnostic>) {
    for col in st.columns.iter().filter(|c| c.wildcard) {
        out.push(
            Diagnostic::new(
                &file.path,
                col.at.0,
                col.at.1,
                "`*` sends every column the table has when the query runs, including columns added after this review",
            )
            .help("list the columns you need by name (e.g. `SELECT member_id, created_at`); personal columns among them are found at run time and stop the run until masked or allowed")
            .warning(),
        );
    }
}
