//! The read-only statement check.
//!
//! A query file holds exactly one `SELECT` (with `WITH`, `UNION`, subqueries…). It is
//! parsed with sqlparser in the database's dialect and refused when it could write,
//! lock, sleep, read server files or reach other servers. Only the statement re-rendered
//! from the parsed tree is ever sent to a database, so text the parser did not
//! understand as part of the one statement (a second statement, a comment) never runs.
//!
//! Refused, each with its own message:
//! - anything that is not a query: DML, DDL, `SET`, `CALL`, `COPY`, `LOAD`, `GRANT`, …;
//! - more than one statement;
//! - `SELECT … INTO` (a table, `OUTFILE`, `DUMPFILE`, `@variable`);
//! - `FOR UPDATE`, `FOR SHARE`, `FOR NO KEY UPDATE`, `LOCK IN SHARE MODE`;
//! - data-modifying CTEs (`WITH d AS (DELETE … RETURNING …)`);
//! - MySQL executable comments `/*! … */` (they are code, not comments);
//! - positional placeholders (`?`, `$1`): parameters are written `:name`;
//! - any function that is not on the allow-list of the dialect ([`super::allow`]) or
//!   added by the operator under `allowed_functions:`; the functions in
//!   [`DENIED_FUNCTIONS`] can never be added;
//! - table functions and system catalogs unless the operator listed them under
//!   `allowed_relations:`;
//! - a statement that cannot be rendered for the server unambiguously
//!   ([`super::render`]), and on MySQL a string escape the server reads differently
//!   from the check.

use std::ops::ControlFlow;
use std::path::Path;

use super::allow::{self, Policy};
use sqlparser::ast::{
    Expr, ObjectName, Query, Select, SelectItem, SetExpr, Spanned, Statement, TableFactor, Value,
    Visit, Visitor, visit_expressions_mut,
};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, Tokenizer, Whitespace};

use crate::catalog::config::Driver;
use crate::catalog::diag::Diagnostic;
use crate::guard::lineage::{self, Lineage, NoSchema, Schema};
use crate::guard::scope::{self, CteScope};

/// Functions a query may never call, lower-case, even when an operator lists them. They sleep or lock (holding a connection
/// or blocking others), read or write server files, run SQL text that the check never
/// saw, change settings, signal other sessions, or reach other servers.
pub const DENIED_FUNCTIONS: &[&str] = &[
    // MySQL / MariaDB
    "sleep",
    "benchmark",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "is_free_lock",
    "is_used_lock",
    "load_file",
    "master_pos_wait",
    "source_pos_wait",
    "master_gtid_wait",
    "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    "sys_exec",
    "sys_eval",
    // PostgreSQL
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_logical_emit_message",
    "pg_notify",
    "set_config",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "lo_import",
    "lo_export",
    "lo_unlink",
    "lo_from_bytea",
    "lo_put",
    "nextval",
    "setval",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "cursor_to_xml",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_send_query",
    "dblink_open",
    "dblink_fetch",
    // SQLite
    "load_extension",
    "writefile",
    "readfile",
    "edit",
];

/// A column of the result as far as the SQL text tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// The name the column gets (alias, or the column's own name); `None` for
    /// expressions without an alias and for `*`.
    pub name: Option<String>,
    /// Column names the value is computed from (outside `COUNT(…)`).
    pub sources: Vec<String>,
    /// `*` or `t.*`: resolved against the real result at run time.
    pub wildcard: bool,
    /// 1-based (line, col) in the query file.
    pub at: (usize, usize),
}

/// A statement that passed the check.
#[derive(Debug, Clone)]
pub struct CheckedStatement {
    statement: Statement,
    driver: Driver,
    /// Parameter names (without `:`) in order of first use.
    pub params: Vec<String>,
    /// (line, col) in the file of each parameter's first use.
    pub param_at: Vec<(usize, usize)>,
    /// Everything the query reads, taken from the tree that is sent (see [`Read`]).
    pub reads: Vec<Read>,
    pub columns: Vec<OutputColumn>,
    /// Columns of every other SELECT inside the query (CTEs, subqueries, the later
    /// branches of a UNION): personal data can pass through them under another name.
    pub inner_columns: Vec<OutputColumn>,
    /// What each result column is made of, without a schema catalogue
    /// (see [`CheckedStatement::lineage_with`] for one).
    pub lineage: Lineage,
    /// (line, col) of the SQL's first character in the file.
    sql_at: (usize, usize),
}

/// What a relation the statement reads is, as far as the SQL tells (whether a name is a
/// table or a view only the schema catalogue knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReadKind {
    /// A table or a view of the database.
    Relation,
    /// A system catalog or system schema relation (`information_schema.*`,
    /// `pg_catalog.*` and `pg_…`, `mysql.*`, `performance_schema.*`, `sys.*`,
    /// `sqlite_*`): the operator listed it under `allowed_relations:`.
    SystemCatalog,
    /// A function read as a table (`generate_series()`, `unnest()`, `json_table()`):
    /// listed under `allowed_functions:` (or `allowed_relations:`).
    TableFunction,
    /// MariaDB's `seq_1_to_N` tables, table functions written as tables: listed under
    /// `allowed_functions:` or `allowed_relations:`.
    SequenceTable,
}

/// One relation the statement reads: every table, view, system catalog and table
/// function, in the order of the text, each once; CTE names are not reads. Taken from
/// the tree the rendered text parsed back to ([`super::render::render_tree`]), that is
/// from exactly what is sent. (PostgreSQL's `COPY` path sends the same tree with each
/// placeholder replaced by a `current_setting(…)` cast, which reads no relation.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The name's parts as sent (PostgreSQL: an unquoted name folded to lower case).
    pub parts: Vec<String>,
    pub kind: ReadKind,
}

impl Read {
    /// `schema.name`, and `name()` for a function read as a table.
    pub fn name(&self) -> String {
        let n = self.parts.join(".");
        if self.kind == ReadKind::TableFunction {
            format!("{n}()")
        } else {
            n
        }
    }

    /// The key of `allowed_relations:` / `allowed_functions:` that lets it through.
    pub fn policy_key(&self) -> String {
        self.parts.join(".").to_lowercase()
    }
}

/// Whether the relation `name` is a CTE in scope at the walk's current place.
fn is_cte(scope: &CteScope, driver: Driver, name: &ObjectName) -> bool {
    match name.0.as_slice() {
        [one] => one
            .as_ident()
            .is_some_and(|i| scope.is_cte(&scope::server_name(driver, i))),
        _ => false,
    }
}

/// Collects the [`Read`]s of a (rendered) statement.
struct Reads {
    driver: Driver,
    scope: CteScope,
    out: Vec<Read>,
}

/// The reads of `statement`, in text order, each once.
fn reads_of(statement: &Statement, driver: Driver) -> Vec<Read> {
    let mut r = Reads {
        driver,
        scope: CteScope::new(driver),
        out: Vec::new(),
    };
    let _ = statement.visit(&mut r);
    r.out
}

impl Reads {
    fn push(&mut self, parts: Vec<String>, kind: ReadKind) {
        let read = Read { parts, kind };
        if !self.out.contains(&read) {
            self.out.push(read);
        }
    }
}

/// The parts of a name as written in the tree (quotes off, case kept).
fn written_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| i.value.clone())
                .unwrap_or_else(|| p.to_string())
        })
        .collect()
}

impl Visitor for Reads {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.scope.enter(q);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.scope.leave(q);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        match t {
            TableFactor::Table { name, args, .. } => {
                let parts = written_parts(name);
                if args.is_some() {
                    self.push(parts, ReadKind::TableFunction);
                } else if !is_cte(&self.scope, self.driver, name) {
                    let lower: Vec<String> = parts.iter().map(|p| p.to_lowercase()).collect();
                    let kind = if allow::is_sequence_table(self.driver, &lower) {
                        ReadKind::SequenceTable
                    } else if allow::system_relation(self.driver, &lower).is_some() {
                        ReadKind::SystemCatalog
                    } else {
                        ReadKind::Relation
                    };
                    self.push(parts, kind);
                }
            }
            TableFactor::Function { name, .. } => {
                self.push(written_parts(name), ReadKind::TableFunction)
            }
            TableFactor::UNNEST { .. } => self.push(vec!["unnest".into()], ReadKind::TableFunction),
            TableFactor::JsonTable { .. } => {
                self.push(vec!["json_table".into()], ReadKind::TableFunction)
            }
            TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => {}
            other => {
                // the check refuses these unless listed; name them as it does
                let word = other
                    .to_string()
                    .split(['(', ' '])
                    .next()
                    .unwrap_or("this")
                    .to_lowercase();
                self.push(vec![word], ReadKind::TableFunction);
            }
        }
        ControlFlow::Continue(())
    }
}

/// How parameters are written in the SQL sent to a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `?` in order of appearance (MySQL, SQLite).
    Question,
    /// `$1`, `$2`: one number per distinct name (PostgreSQL).
    Dollar,
}

/// Positions inside the SQL are 1-based from `sql_line`/`sql_col` of the file.
pub struct SqlSource<'a> {
    pub path: &'a Path,
    pub sql: &'a str,
    pub sql_line: usize,
    pub sql_col: usize,
}

/// The file's line and column of `loc`, a position inside SQL that starts at
/// `sql_line`/`sql_col` of the file (an unknown position, line 0, is the SQL's start).
pub fn file_position(sql_line: usize, sql_col: usize, loc: Location) -> (usize, usize) {
    if loc.line == 0 {
        return (sql_line, sql_col);
    }
    let line = sql_line + loc.line as usize - 1;
    let col = if loc.line == 1 {
        sql_col + loc.column as usize - 1
    } else {
        loc.column as usize
    };
    (line, col)
}

impl SqlSource<'_> {
    fn at(&self, loc: Location) -> (usize, usize) {
        file_position(self.sql_line, self.sql_col, loc)
    }

    fn diag(&self, loc: Location, msg: impl Into<String>) -> Diagnostic {
        let (l, c) = self.at(loc);
        Diagnostic::new(self.path, l, c, msg)
    }

    fn diag_offset(&self, byte: usize, msg: impl Into<String>) -> Diagnostic {
        let before = &self.sql[..byte.min(self.sql.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        self.diag(
            Location {
                line: line as u64,
                column: col as u64,
            },
            msg,
        )
    }
}

pub fn dialect(driver: Driver) -> Box<dyn Dialect> {
    match driver {
        Driver::Mysql => Box::new(MySqlDialect {}),
        Driver::Postgres => Box::new(PostgreSqlDialect {}),
        Driver::Sqlite => Box::new(SQLiteDialect {}),
    }
}

const ONLY_SELECT: &str = "a query file may hold only one SELECT that reads data; ask an engineer if you need something else";

/// Checks that `src.sql` is exactly one read-only query for `driver`, with the built-in
/// allow-lists only.
pub fn check(src: &SqlSource<'_>, driver: Driver) -> Result<CheckedStatement, Vec<Diagnostic>> {
    check_with(src, driver, &Policy::default())
}

/// Checks that `src.sql` is exactly one read-only query for `driver`; `policy` holds
/// the functions and relations the operator added for this database.
pub fn check_with(
    src: &SqlSource<'_>,
    driver: Driver,
    policy: &Policy,
) -> Result<CheckedStatement, Vec<Diagnostic>> {
    let mut problems = Vec::new();

    if src.sql.trim().is_empty() {
        return Err(vec![
            src.diag(
                Location { line: 1, column: 1 },
                "there is no SQL after the settings block",
            )
            .help("write one SELECT statement after the `---*/` line"),
        ]);
    }
    if let Some(i) = src.sql.find("/*!").or_else(|| src.sql.find("/*M!")) {
        problems.push(
            src.diag_offset(
                i,
                "`/*! … */` is MySQL code hidden in a comment, and is not allowed",
            )
            .help("remove the `/*! … */` block; write plain SQL"),
        );
    }

    let dialect = dialect(driver);
    let tokens = match Tokenizer::new(dialect.as_ref(), src.sql).tokenize_with_location() {
        Ok(t) => t,
        Err(e) => {
            problems.push(
                src.diag(
                    e.location,
                    format!("the SQL could not be read: {}", e.message),
                )
                .help("look for an unclosed quote or bracket near this place"),
            );
            return Err(problems);
        }
    };
    scan_tokens(src, &tokens, &mut problems);
    if driver == Driver::Mysql {
        mysql_escapes(src, dialect.as_ref(), &tokens, &mut problems);
    }

    let statements = match Parser::new(dialect.as_ref())
        .with_tokens_with_locations(tokens)
        .parse_statements()
    {
        Ok(s) => s,
        Err(e) => {
            if problems.is_empty() {
                problems.push(parse_error(src, &e.to_string()));
            }
            return Err(problems);
        }
    };
    match statements.len() {
        0 => {
            problems.push(
                src.diag(
                    Location { line: 1, column: 1 },
                    "there is no SQL statement here",
                )
                .help("write one SELECT statement after the `---*/` line"),
            );
            return Err(problems);
        }
        1 => {}
        _ => {
            problems.push(
                src.diag(
                    statements[1].span().start,
                    "this file holds more than one SQL statement",
                )
                .help("keep one SELECT per file; make another query file for the next one"),
            );
        }
    }
    let statement = statements.into_iter().next().expect("one statement");
    let Statement::Query(query) = &statement else {
        let kind = statement
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or("this")
            .to_uppercase();
        problems.push(
            src.diag(
                statement.span().start,
                format!("{kind} is not allowed: only SELECT queries can be run"),
            )
            .help(ONLY_SELECT),
        );
        return Err(problems);
    };

    let mut v = Check {
        src,
        driver,
        policy,
        problems: &mut problems,
        params: Vec::new(),
        scope: CteScope::new(driver),
        all_columns: Vec::new(),
    };
    let _ = statement.visit(&mut v);
    let Check {
        params,
        all_columns,
        ..
    } = v;
    let columns = output_columns(src, query);
    let inner_columns = all_columns
        .into_iter()
        .filter(|c| !columns.iter().any(|o| o.at == c.at))
        .collect();

    let lineage = lineage::analyze(query, &NoSchema, &|l| src.at(l));
    if problems.is_empty() {
        let (params, param_at) = params.into_iter().unzip();
        let mut checked = CheckedStatement {
            lineage,
            sql_at: (src.sql_line, src.sql_col),
            statement,
            driver,
            params,
            param_at,
            reads: Vec::new(),
            columns,
            inner_columns,
        };
        // what would be sent must be provably what was checked; what it reads is taken
        // from the tree the sent text parses back to
        let style = match driver {
            Driver::Postgres => Placeholders::Dollar,
            Driver::Mysql | Driver::Sqlite => Placeholders::Question,
        };
        match checked.sent(style) {
            Ok((_, _, sent)) => checked.reads = reads_of(&sent, driver),
            Err(why) => {
                problems.push(
                    src.diag(checked.statement.span().start, format!("this statement cannot be sent to the database exactly as checked: {why}"))
                        .help("write the text or name another way (without backslashes or unusual quoting), or ask an engineer"),
                );
                return Err(problems);
            }
        }
        Ok(checked)
    } else {
        Err(problems)
    }
}

/// Refusals that are easiest to see in the tokens (some of them sqlparser cannot parse).
fn scan_tokens(
    src: &SqlSource<'_>,
    tokens: &[sqlparser::tokenizer::TokenWithSpan],
    problems: &mut Vec<Diagnostic>,
) {
    let words: Vec<(String, Location)> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .map(|t| {
            let w = match &t.token {
                Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
                Token::SemiColon => ";".into(),
                _ => String::new(),
            };
            (w, t.span.start)
        })
        .collect();
    let word = |i: usize| words.get(i).map(|w| w.0.as_str()).unwrap_or("");
    for (i, (w, loc)) in words.iter().enumerate() {
        match w.as_str() {
            "INTO" => problems.push(
                src.diag(*loc, "`INTO` is not allowed: a query may not write its result to a table, a file or a variable")
                    .help("remove the INTO part; sqlcourier writes the CSV file itself"),
            ),
            "LOCK" if word(i + 1) == "IN" && word(i + 2) == "SHARE" => problems.push(
                src.diag(*loc, "`LOCK IN SHARE MODE` is not allowed: it locks rows other people are writing")
                    .help("remove it; a read-only export never needs locks"),
            ),
            "FOR" if matches!(word(i + 1), "UPDATE" | "SHARE" | "NO" | "KEY") => problems.push(
                src.diag(*loc, format!("`FOR {}` is not allowed: it locks rows other people are writing", word(i + 1)))
                    .help("remove it; a read-only export never needs locks"),
            ),
            _ => {}
        }
    }
    for t in tokens {
        match &t.token {
            Token::Placeholder(p) if !p.starts_with(':') => problems.push(
                src.diag(t.span.start, format!("`{p}` is not a named parameter"))
                    .help("write parameters as :name (for example :period_start) and give their values in the settings block"),
            ),
            Token::Whitespace(Whitespace::MultiLineComment(c)) if c.starts_with('!') => {
                // already reported by the text scan
            }
            _ => {}
        }
    }
}

fn parse_error(src: &SqlSource<'_>, msg: &str) -> Diagnostic {
    // sqlparser says "... at Line: 3, Column: 7"
    let (line, col) = msg
        .rsplit_once(" at Line: ")
        .and_then(|(_, rest)| {
            let (l, c) = rest.split_once(", Column: ")?;
            Some((l.trim().parse().ok()?, c.trim().parse().ok()?))
        })
        .unwrap_or((1u64, 1u64));
    let clean = msg
        .trim_start_matches("sql parser error: ")
        .split(" at Line: ")
        .next()
        .unwrap_or(msg);
    src.diag(
        Location { line, column: col },
        format!("the SQL could not be understood: {clean}"),
    )
    .help("check for a missing comma, an unclosed bracket or quote, or a word the database does not know")
}

struct Check<'a, 'b> {
    src: &'a SqlSource<'b>,
    driver: Driver,
    policy: &'a Policy,
    problems: &'a mut Vec<Diagnostic>,
    params: Vec<(String, (usize, usize))>,
    scope: CteScope,
    all_columns: Vec<OutputColumn>,
}

/// Whether a set expression uses the `TABLE name` shorthand (its name is not a table
/// factor the checks would see).
pub(crate) fn has_table_statement(body: &SetExpr) -> bool {
    match body {
        SetExpr::Table(_) => true,
        SetExpr::SetOperation { left, right, .. } => {
            has_table_statement(left) || has_table_statement(right)
        }
        SetExpr::Query(q) => has_table_statement(&q.body),
        _ => false,
    }
}

/// The parts of a name, lower-case.
fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| i.value.to_lowercase())
                .unwrap_or_else(|| p.to_string().to_lowercase())
        })
        .collect()
}

fn last_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_lowercase())
        .unwrap_or_default()
}

impl Visitor for Check<'_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if has_table_statement(&q.body) {
            self.problems.push(
                self.src
                    .diag(q.span().start, "`TABLE name` is not allowed")
                    .help("write `SELECT * FROM name` instead"),
            );
        }
        self.scope.enter(q);
        if !q.locks.is_empty() {
            // FOR UPDATE is reported from the tokens; the tree check is a second net
            if !self
                .problems
                .iter()
                .any(|p| p.message.contains("locks rows"))
            {
                self.problems.push(
                    self.src
                        .diag(
                            q.span().start,
                            "row locks (FOR UPDATE/SHARE) are not allowed",
                        )
                        .help("remove the locking clause"),
                );
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.scope.leave(q);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        self.all_columns.extend(select_columns(self.src, s));
        if s.into.is_some() && !self.problems.iter().any(|p| p.message.contains("`INTO`")) {
            self.problems.push(
                self.src
                    .diag(s.span().start, "`SELECT … INTO` is not allowed")
                    .help("remove the INTO part"),
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, st: &Statement) -> ControlFlow<()> {
        // statements nested in a query: data-modifying CTEs and the like
        if !matches!(st, Statement::Query(_)) {
            let kind = st
                .to_string()
                .split_whitespace()
                .next()
                .unwrap_or("this")
                .to_uppercase();
            self.problems.push(
                self.src
                    .diag(
                        st.span().start,
                        format!("{kind} inside a query is not allowed: it would change data"),
                    )
                    .help(ONLY_SELECT),
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &TableFactor) -> ControlFlow<()> {
        let at = t.span().start;
        match t {
            TableFactor::Table { name, args, .. } => {
                let parts = name_parts(name);
                if args.is_some() {
                    self.table_function(&parts, at);
                } else if is_cte(&self.scope, self.driver, name) {
                    // a CTE in scope here
                } else {
                    let full = parts.join(".");
                    if let Some(why) = allow::system_relation(self.driver, &parts)
                        && !self.policy.relations.contains_key(&full)
                    {
                        self.problems.push(
                            self.src
                                .diag(at, format!("`{name}` is {why}, and a query file may not read it"))
                                .help("read your own tables; if this one is really needed, ask an engineer to add it to `allowed_relations:` in sqlcourier.yaml with a reason"),
                        );
                    }
                }
            }
            TableFactor::Function { name, .. } => {
                let parts = name_parts(name);
                self.table_function(&parts, at);
            }
            TableFactor::UNNEST { .. } => self.table_function(&["unnest".to_string()], at),
            TableFactor::JsonTable { .. } => self.table_function(&["json_table".to_string()], at),
            TableFactor::Derived { .. } | TableFactor::NestedJoin { .. } => {}
            other => {
                let what = other.to_string();
                let word = what
                    .split(['(', ' '])
                    .next()
                    .unwrap_or("this")
                    .to_lowercase();
                self.table_function(&[word], at);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Function(f) => {
                let parts = name_parts(&f.name);
                let n = last_name(&f.name);
                if DENIED_FUNCTIONS.contains(&n.as_str()) {
                    self.deny_function(&n, e.span().start);
                } else if !allow::function_allowed(self.driver, &parts, self.policy) {
                    self.problems.push(
                        self.src
                            .diag(e.span().start, format!("the function `{}` is not on sqlcourier's list of functions that only read", parts.join(".")))
                            .help("use another function (see \"Allowed functions\" in README.md), or ask an engineer to add it to `allowed_functions:` in sqlcourier.yaml if it is safe"),
                    );
                }
            }
            Expr::Identifier(i) if i.quote_style.is_none() && i.value.starts_with('@') => {
                self.problems.push(
                    self.src
                        .diag(e.span().start, format!("`{}` is a session or server variable, and a query file may not read it", i.value))
                        .help("use a parameter (:name) for values that change; see \"Parameters\" in README.md"),
                );
            }
            Expr::Value(v) => {
                if let Value::Placeholder(p) = &v.value
                    && let Some(name) = p.strip_prefix(':')
                    && !self.params.iter().any(|(n, _)| n == name)
                {
                    let at = self.src.at(v.span.start);
                    self.params.push((name.to_string(), at));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl Check<'_, '_> {
    /// A function used as a table: only when the operator listed it.
    fn table_function(&mut self, parts: &[String], loc: Location) {
        let full = parts.join(".");
        let n = parts.last().cloned().unwrap_or_default();
        if DENIED_FUNCTIONS.contains(&n.as_str()) {
            self.deny_function(&n, loc);
            return;
        }
        if !self.policy.functions.contains_key(&full) && !self.policy.relations.contains_key(&full)
        {
            self.problems.push(
                self.src
                    .diag(loc, format!("the table function `{full}` is not allowed in a query file"))
                    .help("read tables instead; if it is needed, ask an engineer to add it to `allowed_functions:` in sqlcourier.yaml with a reason"),
            );
        }
    }

    fn deny_function(&mut self, name: &str, loc: Location) {
        self.problems.push(
            self.src
                .diag(loc, format!("the function `{name}` is not allowed in a query file"))
                .help("it can sleep, lock, read server files, run hidden SQL or reach other servers; see \"Refused statements\" in README.md"),
        );
    }
}

fn output_columns(src: &SqlSource<'_>, query: &Query) -> Vec<OutputColumn> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            SetExpr::Query(q) => body = q.body.as_ref(),
            _ => break,
        }
    }
    let SetExpr::Select(select) = body else {
        return Vec::new();
    };
    select_columns(src, select)
}

fn select_columns(src: &SqlSource<'_>, select: &Select) -> Vec<OutputColumn> {
    select
        .projection
        .iter()
        .map(|item| {
            let at = src.at(item.span().start);
            match item {
                SelectItem::UnnamedExpr(e) => OutputColumn {
                    name: own_name(e),
                    sources: sources(e),
                    wildcard: false,
                    at,
                },
                SelectItem::ExprWithAlias { expr, alias } => OutputColumn {
                    name: Some(alias.value.clone()),
                    sources: sources(expr),
                    wildcard: false,
                    at,
                },
                SelectItem::ExprWithAliases { expr, aliases } => OutputColumn {
                    name: aliases.first().map(|a| a.value.clone()),
                    sources: sources(expr),
                    wildcard: false,
                    at,
                },
                _ => OutputColumn {
                    name: None,
                    sources: Vec::new(),
                    wildcard: true,
                    at,
                },
            }
        })
        .collect()
}

fn own_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        Expr::Nested(inner) => own_name(inner),
        _ => None,
    }
}

/// Column names an expression reads, except inside `COUNT(…)`.
fn sources(e: &Expr) -> Vec<String> {
    struct S {
        out: Vec<String>,
        in_count: usize,
    }
    impl Visitor for S {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::Function(f) if last_name(&f.name) == "count" => self.in_count += 1,
                Expr::Identifier(i) if self.in_count == 0 => self.out.push(i.value.clone()),
                Expr::CompoundIdentifier(p) if self.in_count == 0 => {
                    if let Some(i) = p.last() {
                        self.out.push(i.value.clone())
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = e
                && last_name(&f.name) == "count"
            {
                self.in_count -= 1;
            }
            ControlFlow::Continue(())
        }
    }
    let mut s = S {
        out: Vec::new(),
        in_count: 0,
    };
    let _ = e.visit(&mut s);
    s.out.dedup();
    s.out
}

impl CheckedStatement {
    /// The parsed statement, for read-only lints (`catalog::lint`).
    pub fn tree(&self) -> &Statement {
        &self.statement
    }

    /// The lineage with a schema catalogue that knows tables' columns (expands `*`,
    /// resolves unqualified names).
    pub fn lineage_with(&self, schema: &dyn Schema) -> Lineage {
        let Statement::Query(q) = &self.statement else {
            return Lineage::default();
        };
        let (sql_line, sql_col) = self.sql_at;
        lineage::analyze(q, schema, &|l| file_position(sql_line, sql_col, l))
    }

    /// The statement as sent: re-rendered from the tree, `:name` parameters replaced,
    /// literals and names written so the server cannot read them two ways, and proven
    /// to parse back to the same tree ([`super::render`]). Returns the SQL and, for each
    /// placeholder written, the parameter name it binds; the error says why the
    /// statement cannot be sent.
    pub fn render(&self, style: Placeholders) -> Result<(String, Vec<String>), String> {
        self.sent(style).map(|(sql, order, _)| (sql, order))
    }

    /// [`CheckedStatement::render`], with the tree the rendered text parsed back to.
    fn sent(&self, style: Placeholders) -> Result<(String, Vec<String>, Statement), String> {
        let mut stmt = self.statement.clone();
        let mut order = Vec::new();
        let _ = visit_expressions_mut(&mut stmt, |e| {
            if let Expr::Value(v) = e
                && let Value::Placeholder(p) = &v.value
                && let Some(name) = p.strip_prefix(':')
            {
                let name = name.to_string();
                let ph = match style {
                    Placeholders::Question => {
                        order.push(name);
                        "?".to_string()
                    }
                    Placeholders::Dollar => {
                        let n = match self.params.iter().position(|p| *p == name) {
                            Some(i) => i + 1,
                            None => 0,
                        };
                        format!("${n}")
                    }
                };
                v.value = Value::Placeholder(ph);
            }
            ControlFlow::<()>::Continue(())
        });
        if style == Placeholders::Dollar {
            order = self.params.clone();
        }
        let (sql, tree) = super::render::render_tree(&stmt, self.driver)?;
        Ok((sql, order, tree))
    }

    /// The statement with each `:name` replaced by the expression `replace(name)`
    /// (used for PostgreSQL COPY, which takes no bind parameters), rendered and proven
    /// like [`CheckedStatement::render`].
    pub fn render_with(&self, mut replace: impl FnMut(&str) -> Expr) -> Result<String, String> {
        let mut stmt = self.statement.clone();
        let _ = visit_expressions_mut(&mut stmt, |e| {
            if let Expr::Value(v) = e
                && let Value::Placeholder(p) = &v.value
                && let Some(name) = p.strip_prefix(':')
            {
                *e = replace(name);
            }
            ControlFlow::<()>::Continue(())
        });
        super::render::render(&stmt, self.driver)
    }
}

/// MySQL reads string escapes slightly differently from the check's parser (`\a` is
/// `a` to the server, BEL to the parser). Compare the two readings of every string and
/// refuse where they differ, so the approved text means what the server would read.
fn mysql_escapes(
    src: &SqlSource<'_>,
    dialect: &dyn Dialect,
    tokens: &[sqlparser::tokenizer::TokenWithSpan],
    problems: &mut Vec<Diagnostic>,
) {
    let Ok(raw) = Tokenizer::new(dialect, src.sql)
        .with_unescape(false)
        .tokenize_with_location()
    else {
        return;
    };
    if raw.len() != tokens.len() {
        problems.push(
            src.diag(
                Location { line: 1, column: 1 },
                "the SQL could not be read the same way twice",
            )
            .help("look for unusual quoting or backslashes"),
        );
        return;
    }
    for (r, t) in raw.iter().zip(tokens) {
        let (raw_s, quote, read) = match (&r.token, &t.token) {
            (Token::SingleQuotedString(a), Token::SingleQuotedString(b))
            | (Token::NationalStringLiteral(a), Token::NationalStringLiteral(b)) => (a, '\'', b),
            (Token::DoubleQuotedString(a), Token::DoubleQuotedString(b)) => (a, '"', b),
            _ => continue,
        };
        if mysql_unescape(raw_s, quote) != *read {
            problems.push(
                src.diag(t.span.start, "this text uses a backslash escape that MySQL reads differently from sqlcourier's check")
                    .help("write the character itself, or use only \\\\, \\n, \\t, \\r, \\0, \\', \\\" and \\Z escapes"),
            );
        }
    }
}

/// A MySQL string body as the server reads it (default sql_mode): the escapes of
/// <https://dev.mysql.com/doc/refman/8.0/en/string-literals.html>, `\%`/`\_` kept.
fn mysql_unescape(raw: &str, quote: char) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('0') => out.push('\0'),
                Some('b') => out.push('\u{8}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('Z') => out.push('\u{1a}'),
                Some(c @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(c);
                }
                Some(c) => out.push(c),
                None => out.push('\\'),
            }
        } else if c == quote && it.peek() == Some(&quote) {
            it.next();
            out.push(quote);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str, driver: Driver) -> Result<CheckedStatement, Vec<Diagnostic>> {
        check(
            &SqlSource {
                path: Path::new("q.sql"),
                sql,
                sql_line: 10,
                sql_col: 1,
            },
            driver,
        )
    }

    fn refused(sql: &str, driver: Driver, needle: &str) -> Diagnostic {
        let e = run(sql, driver).expect_err(sql);
        let d = e
            .iter()
            .find(|d| d.message.contains(needle))
            .unwrap_or_else(|| panic!("{sql}: no problem mentions {needle:?}: {e:?}"));
        d.clone()
    }

    const ALL: [Driver; 3] = [Driver::Mysql, Driver::Postgres, Driver::Sqlite];

    #[test]
    fn plain_selects_pass_with_params_and_tables() {
        for d in ALL {
            let c = run(
                "WITH x AS (SELECT id FROM members WHERE created_at >= :period_start)\nSELECT m.id, m.email AS contact, COUNT(o.id) AS n\nFROM x JOIN members m ON m.id = x.id LEFT JOIN orders o ON o.member_id = m.id\nWHERE m.created_at < :period_end AND m.created_at >= :period_start\nGROUP BY m.id, m.email",
                d,
            )
            .unwrap_or_else(|e| panic!("{d:?}: {e:?}"));
            assert_eq!(c.params, ["period_start", "period_end"]);
            let reads: Vec<String> = c.reads.iter().map(Read::name).collect();
            assert_eq!(reads, ["members", "orders"]);
            assert!(c.reads.iter().all(|r| r.kind == ReadKind::Relation));
            assert_eq!(c.columns[1].name.as_deref(), Some("contact"));
            assert_eq!(c.columns[1].sources, ["email"]);
            assert!(c.columns[2].sources.is_empty(), "COUNT hides sources");
            assert_eq!(c.param_at[0], (10, 55));
        }
    }

    #[test]
    fn render_replaces_params_and_drops_comments() {
        let c = run(
            "SELECT a FROM t -- a comment; DROP TABLE t\nWHERE b = :x AND c = :y AND d = :x",
            Driver::Mysql,
        )
        .unwrap();
        let (sql, order) = c.render(Placeholders::Question).unwrap();
        assert_eq!(
            sql,
            "SELECT `a` FROM `t` WHERE `b` = ? AND `c` = ? AND `d` = ?"
        );
        assert_eq!(order, ["x", "y", "x"]);
        let c = run(
            "SELECT a FROM t WHERE b = :x AND c = :y AND d = :x",
            Driver::Postgres,
        )
        .unwrap();
        let (sql, order) = c.render(Placeholders::Dollar).unwrap();
        assert_eq!(
            sql,
            r#"SELECT "a" FROM "t" WHERE "b" = $1 AND "c" = $2 AND "d" = $1"#
        );
        assert_eq!(order, ["x", "y"]);
    }

    #[test]
    fn refuses_dml_and_ddl_with_location() {
        for d in ALL {
            let e = refused(
                "\n  DELETE FROM members WHERE id = 1",
                d,
                "DELETE is not allowed",
            );
            assert_eq!((e.line, e.col), (11, 3), "{d:?}");
            refused("UPDATE t SET a = 1", d, "UPDATE is not allowed");
            refused("INSERT INTO t VALUES (1)", d, "not allowed");
            refused("DROP TABLE t", d, "DROP is not allowed");
            refused("CREATE TABLE t (a int)", d, "CREATE is not allowed");
        }
        refused("SET @a = 1", Driver::Mysql, "SET is not allowed");
        refused(
            "SET statement_timeout = 0",
            Driver::Postgres,
            "SET is not allowed",
        );
        refused("CALL p()", Driver::Mysql, "CALL is not allowed");
        refused(
            "COPY t TO '/tmp/x'",
            Driver::Postgres,
            "COPY is not allowed",
        );
        refused("TRUNCATE t", Driver::Postgres, "TRUNCATE is not allowed");
    }

    #[test]
    fn refuses_two_statements() {
        for d in ALL {
            let e = refused("SELECT 1;\nSELECT 2", d, "more than one");
            assert_eq!(e.line, 11);
            refused("SELECT 1; DELETE FROM t", d, "more than one");
        }
    }

    #[test]
    fn refuses_into_in_every_form() {
        refused(
            "SELECT a INTO OUTFILE '/tmp/x' FROM t",
            Driver::Mysql,
            "`INTO`",
        );
        refused(
            "SELECT a FROM t INTO OUTFILE '/tmp/x'",
            Driver::Mysql,
            "`INTO`",
        );
        refused(
            "SELECT a FROM t INTO DUMPFILE '/tmp/x'",
            Driver::Mysql,
            "`INTO`",
        );
        refused("SELECT a INTO @v FROM t", Driver::Mysql, "`INTO`");
        refused("SELECT a INTO newtable FROM t", Driver::Postgres, "`INTO`");
    }

    #[test]
    fn refuses_locks() {
        refused("SELECT a FROM t FOR UPDATE", Driver::Mysql, "FOR UPDATE");
        refused("SELECT a FROM t FOR SHARE", Driver::Postgres, "FOR SHARE");
        refused(
            "SELECT a FROM t FOR NO KEY UPDATE",
            Driver::Postgres,
            "locks rows",
        );
        refused(
            "SELECT a FROM t LOCK IN SHARE MODE",
            Driver::Mysql,
            "LOCK IN SHARE MODE",
        );
    }

    #[test]
    fn refuses_data_modifying_cte() {
        refused(
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            Driver::Postgres,
            "DELETE inside a query",
        );
    }

    #[test]
    fn refuses_executable_comments() {
        let e = refused("SELECT 1 /*! , SLEEP(10) */", Driver::Mysql, "/*!");
        assert_eq!((e.line, e.col), (10, 10));
        refused("SELECT 1 /*!50000 FROM t */", Driver::Postgres, "/*!");
    }

    #[test]
    fn refuses_denied_functions_anywhere() {
        refused("SELECT SLEEP(5)", Driver::Mysql, "`sleep`");
        refused(
            "SELECT a FROM t WHERE BENCHMARK(1000, MD5('x')) = 0",
            Driver::Mysql,
            "`benchmark`",
        );
        refused("SELECT GET_LOCK('a', 1)", Driver::Mysql, "`get_lock`");
        refused(
            "SELECT LOAD_FILE('/etc/passwd')",
            Driver::Mysql,
            "`load_file`",
        );
        refused(
            "SELECT (SELECT pg_sleep(1))",
            Driver::Postgres,
            "`pg_sleep`",
        );
        refused(
            "SELECT pg_catalog.pg_terminate_backend(1)",
            Driver::Postgres,
            "`pg_terminate_backend`",
        );
        refused(
            "SELECT pg_cancel_backend(1)",
            Driver::Postgres,
            "`pg_cancel_backend`",
        );
        refused(
            "SELECT set_config('a', 'b', false)",
            Driver::Postgres,
            "`set_config`",
        );
        refused(
            "SELECT pg_read_file('x')",
            Driver::Postgres,
            "`pg_read_file`",
        );
        refused(
            "SELECT lo_export(1, '/tmp/x')",
            Driver::Postgres,
            "`lo_export`",
        );
        refused(
            "SELECT * FROM dblink('h', 'select 1') AS t(a int)",
            Driver::Postgres,
            "`dblink`",
        );
        refused("SELECT * FROM pg_sleep(3)", Driver::Postgres, "`pg_sleep`");
        refused(
            "SELECT query_to_xml('delete from t', true, true, '')",
            Driver::Postgres,
            "`query_to_xml`",
        );
        refused(
            "SELECT load_extension('x')",
            Driver::Sqlite,
            "`load_extension`",
        );
    }

    #[test]
    fn refuses_positional_placeholders() {
        refused(
            "SELECT a FROM t WHERE b = ?",
            Driver::Mysql,
            "not a named parameter",
        );
        refused(
            "SELECT a FROM t WHERE b = $1",
            Driver::Postgres,
            "not a named parameter",
        );
    }

    #[test]
    fn empty_and_unparsable() {
        refused("  \n ", Driver::Mysql, "no SQL");
        refused("-- just a comment\n", Driver::Mysql, "no SQL statement");
        let e = refused(
            "SELECT a,, b FROM t",
            Driver::Postgres,
            "could not be understood",
        );
        assert_eq!(e.line, 10);
    }

    #[test]
    fn inner_columns_of_ctes_subqueries_and_unions() {
        let c = run(
            "WITH x AS (SELECT email AS e, id FROM u) SELECT e, (SELECT max(n) FROM t) AS m FROM x UNION ALL SELECT phone, 1 FROM v",
            Driver::Postgres,
        )
        .unwrap();
        let inner: Vec<(Option<&str>, Vec<&str>)> = c
            .inner_columns
            .iter()
            .map(|c| {
                (
                    c.name.as_deref(),
                    c.sources.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert!(inner.contains(&(Some("e"), vec!["email"])), "{inner:?}");
        assert!(inner.contains(&(Some("phone"), vec!["phone"])), "{inner:?}");
        assert!(
            !c.inner_columns
                .iter()
                .any(|i| c.columns.iter().any(|o| o.at == i.at))
        );
    }

    #[test]
    fn reads_lists_every_table_catalog_and_table_function() {
        let mut policy = Policy::default();
        policy
            .functions
            .insert("generate_series".into(), "calendar".into());
        policy
            .relations
            .insert("information_schema.columns".into(), "dictionary".into());
        policy
            .relations
            .insert("pg_stat_activity".into(), "sessions report".into());
        let c = check_with(
            &SqlSource {
                path: Path::new("q.sql"),
                sql: "WITH x AS (SELECT id FROM a) SELECT g, (SELECT max(n) FROM b) AS m FROM x, generate_series(1, 3) g JOIN information_schema.columns c ON true JOIN pg_stat_activity p ON true WHERE EXISTS (SELECT 1 FROM s.d WHERE d.id = x.id) UNION ALL SELECT 1, 2 FROM e, a",
                sql_line: 1,
                sql_col: 1,
            },
            Driver::Postgres,
            &policy,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let reads: Vec<(String, ReadKind)> = c.reads.iter().map(|r| (r.name(), r.kind)).collect();
        use ReadKind::*;
        let want = [
            ("a", Relation),
            ("b", Relation),
            ("generate_series()", TableFunction),
            ("information_schema.columns", SystemCatalog),
            ("pg_stat_activity", SystemCatalog),
            ("s.d", Relation),
            ("e", Relation),
        ];
        let want: Vec<(String, ReadKind)> = want.iter().map(|(n, k)| (n.to_string(), *k)).collect();
        assert_eq!(reads, want, "CTE `x` is not a read, `a` once");
        assert_eq!(c.reads[2].policy_key(), "generate_series");
    }

    #[test]
    fn reads_of_mysql_catalogs_and_sequence_tables() {
        let mut policy = Policy::default();
        for r in ["seq_1_to_3", "performance_schema.threads", "sys.version"] {
            policy.relations.insert(r.into(), "test".into());
        }
        policy
            .relations
            .insert("mysql.help_topic".into(), "test".into());
        policy.functions.insert("json_table".into(), "test".into());
        let c = check_with(
            &SqlSource {
                path: Path::new("q.sql"),
                sql: "SELECT 1 AS a FROM seq_1_to_3, performance_schema.threads, sys.version, mysql.help_topic, `Orders`, JSON_TABLE('[1]', '$[*]' COLUMNS (v INT PATH '$')) j",
                sql_line: 1,
                sql_col: 1,
            },
            Driver::Mysql,
            &policy,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let reads: Vec<(String, ReadKind)> = c.reads.iter().map(|r| (r.name(), r.kind)).collect();
        use ReadKind::*;
        let want = [
            ("seq_1_to_3", SequenceTable),
            ("performance_schema.threads", SystemCatalog),
            ("sys.version", SystemCatalog),
            ("mysql.help_topic", SystemCatalog),
            ("Orders", Relation),
            ("json_table()", TableFunction),
        ];
        let want: Vec<(String, ReadKind)> = want.iter().map(|(n, k)| (n.to_string(), *k)).collect();
        assert_eq!(reads, want);
    }

    #[test]
    fn reads_come_from_the_tree_that_is_sent() {
        // PostgreSQL folds the unquoted name: the server reads `members`, not `Members`
        let c = run(
            "SELECT m.id FROM Members m JOIN \"Orders\" o ON o.member_id = m.id",
            Driver::Postgres,
        )
        .unwrap();
        let names: Vec<String> = c.reads.iter().map(Read::name).collect();
        assert_eq!(names, ["members", "Orders"]);
        // and they are exactly the reads of the text sent, parsed again
        for (sql, d) in [
            (
                "WITH w AS (SELECT * FROM Members) SELECT * FROM w, Orders",
                Driver::Postgres,
            ),
            (
                "SELECT * FROM `Members` m, orders WHERE m.a = 'x\\\\'",
                Driver::Mysql,
            ),
            (
                "SELECT * FROM Members, (SELECT 1 AS b FROM t) x",
                Driver::Sqlite,
            ),
        ] {
            let c = run(sql, d).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            let (sent, _) = c
                .render(match d {
                    Driver::Postgres => Placeholders::Dollar,
                    _ => Placeholders::Question,
                })
                .unwrap();
            let again = Parser::new(dialect(d).as_ref())
                .try_with_sql(&sent)
                .unwrap()
                .parse_statement()
                .unwrap();
            assert_eq!(c.reads, reads_of(&again, d), "{sent}");
        }
    }

    #[test]
    fn a_cte_body_with_the_cte_name_reads_the_real_relation() {
        // the CTE is not in scope in its own (non-recursive) body
        refused(
            "WITH pg_authid AS (SELECT * FROM pg_authid) SELECT rolname FROM pg_authid",
            Driver::Postgres,
            "system catalog",
        );
        refused(
            "WITH seq_1_to_9 AS (SELECT * FROM seq_1_to_9) SELECT * FROM seq_1_to_9",
            Driver::Mysql,
            "sequence table",
        );
        let c = run(
            "WITH members AS (SELECT * FROM members WHERE id > 1) SELECT * FROM members",
            Driver::Postgres,
        )
        .unwrap();
        let names: Vec<String> = c.reads.iter().map(Read::name).collect();
        assert_eq!(names, ["members"]);
        // a recursive CTE naming itself reads nothing
        let c = run(
            "WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT n FROM t",
            Driver::Postgres,
        )
        .unwrap();
        assert!(c.reads.is_empty(), "{:?}", c.reads);
    }

    #[test]
    fn refuses_table_shorthand() {
        refused(
            "SELECT * FROM (TABLE mysql.user) t",
            Driver::Mysql,
            "`TABLE name`",
        );
        refused(
            "SELECT 1 AS a UNION ALL (TABLE pg_authid)",
            Driver::Postgres,
            "could not be understood",
        );
    }

    #[test]
    fn default_deny_functions_and_catalogs() {
        let e = refused(
            "SELECT txid_current() AS x",
            Driver::Postgres,
            "not on sqlcourier's list",
        );
        assert!(
            e.help
                .as_deref()
                .unwrap_or("")
                .contains("allowed_functions:")
        );
        refused(
            "SELECT * FROM pg_file_settings",
            Driver::Postgres,
            "system catalog",
        );
        refused("SELECT * FROM mysql.user", Driver::Mysql, "system schema");
        refused(
            "SELECT * FROM generate_series(1, 2) g",
            Driver::Postgres,
            "table function",
        );
        refused("SELECT @@datadir AS d", Driver::Mysql, "server variable");
        refused(r"SELECT 'a\a' AS d", Driver::Mysql, "reads differently");
        run(
            "SELECT lower(name), count(*) FROM t GROUP BY 1",
            Driver::Postgres,
        )
        .unwrap();
        run("SELECT pg_catalog.lower(name) FROM t", Driver::Postgres).unwrap();
    }

    #[test]
    fn wildcard_columns_are_marked() {
        let c = run("SELECT *, t.a AS b FROM t", Driver::Postgres).unwrap();
        assert!(c.columns[0].wildcard);
        assert_eq!(c.columns[1].name.as_deref(), Some("b"));
    }
}
