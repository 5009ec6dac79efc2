//! What is sent is what was approved: the text a database receives, built from the
//! checked tree, and the proof that the server reads it as that tree.
//!
//! The rendering leaves the server nothing to read two ways, whatever its `sql_mode`
//! (MySQL/MariaDB) or `standard_conforming_strings` (PostgreSQL):
//!
//! - String literals whose content has no backslash are written `'…'` with `'` doubled,
//!   which every server mode reads the same. Content with a backslash is written without
//!   one: MySQL/MariaDB `_utf8mb4 X'…'` (hex of the bytes), PostgreSQL `U&'…'` (which
//!   the server refuses outright unless `standard_conforming_strings` is on). `"…"`,
//!   `E'…'`, `$$…$$`, `N'…'` and introducer literals all become one of these forms.
//!   A NUL character is refused.
//! - Column references, relation names and aliases are always quoted with the dialect's
//!   identifier quote (MySQL backtick, PostgreSQL `"`, SQLite backtick), the quote doubled
//!   inside; unquoted PostgreSQL names are folded to lower case first, as the server
//!   does. Identifiers with control characters or backslashes are refused. A keyword the
//!   server would read as a function (`user`, `current_user`) can therefore never hide
//!   behind a name.
//! - No comment is ever sent.
//!
//! The proof, before anything is sent: the rendered text is tokenized again and every
//! token must be of a small set whose meaning does not depend on server modes (plain
//! ASCII words, quoted identifiers, the literal forms above, numbers, operators, spaces);
//! then it is parsed again in the same dialect and the tree must equal the rendered
//! tree exactly. Any difference is a refusal. Sources also pin the session's lexical
//! modes at connect time (see `source::session`), so the server's parser agrees with
//! the dialect the check used.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr, Statement,
    TableFactor, Value, ValueWithSpan, VisitMut, VisitorMut,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::catalog::config::Driver;

/// Character set introducers a MySQL/MariaDB literal may carry.
const INTRODUCERS: &[&str] = &[
    "_utf8mb4", "_utf8mb3", "_utf8", "_latin1", "_ascii", "_binary",
];

/// The identifier quote of `driver`.
pub fn ident_quote(driver: Driver) -> char {
    match driver {
        Driver::Postgres => '"',
        Driver::Mysql | Driver::Sqlite => '`',
    }
}

/// Renders `stmt` (parameters already replaced by placeholders or expressions) for
/// `driver`, and proves the text parses back to the same tree. The error says why the
/// statement cannot be sent.
pub fn render(stmt: &Statement, driver: Driver) -> Result<String, String> {
    render_tree(stmt, driver).map(|(sql, _)| sql)
}

/// [`render`], with the tree the rendered text parsed back to (equal to the rendered
/// tree, or there is an error): what the statement reads is taken from it.
pub fn render_tree(stmt: &Statement, driver: Driver) -> Result<(String, Statement), String> {
    let mut t = stmt.clone();
    keep_output_names(&mut t, driver);
    let mut n = Normalize {
        driver,
        problems: Vec::new(),
    };
    let _ = t.visit(&mut n);
    if let Some(p) = n.problems.into_iter().next() {
        return Err(p);
    }
    let sql = t.to_string();
    lexical_check(&sql, driver)?;
    let dialect = super::statement::dialect(driver);
    let again = Parser::new(dialect.as_ref())
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| format!("the statement as it would be sent does not parse again ({e})"))?;
    let Ok([one]) = <[Statement; 1]>::try_from(again) else {
        return Err("the statement as it would be sent is not one statement".into());
    };
    if one != t {
        return Err("the statement as it would be sent parses to a different statement".into());
    }
    Ok((sql, one))
}

/// MySQL and SQLite name an unaliased expression column by its text. Quoting the
/// identifiers inside would change that name, so such columns get their name (the
/// text as sqlcourier wrote it before) as an explicit alias.
fn keep_output_names(stmt: &mut Statement, driver: Driver) {
    if driver == Driver::Postgres {
        return;
    }
    let Statement::Query(q) = stmt else { return };
    let mut body = q.body.as_mut();
    loop {
        match body {
            SetExpr::SetOperation { left, .. } => body = left.as_mut(),
            SetExpr::Query(q) => body = q.body.as_mut(),
            _ => break,
        }
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    for item in select.projection.iter_mut() {
        if let SelectItem::UnnamedExpr(e) = item {
            if matches!(
                e,
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_)
            ) {
                continue;
            }
            let text = e.to_string();
            if text.chars().count() > 256
                || text
                    .chars()
                    .any(|c| c.is_control() || c == '\\' || c == '`')
            {
                continue;
            }
            let alias = Ident::with_quote(ident_quote(driver), text);
            *item = SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias,
            };
        }
    }
}

struct Normalize {
    driver: Driver,
    problems: Vec<String>,
}

/// The content of a string-like literal, or `None` for other values.
fn string_content(v: &Value) -> Option<&str> {
    match v {
        Value::SingleQuotedString(s)
        | Value::DoubleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::UnicodeStringLiteral(s)
        | Value::NationalStringLiteral(s) => Some(s),
        Value::DollarQuotedString(d) => Some(&d.value),
        _ => None,
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

impl Normalize {
    fn problem(&mut self, p: impl Into<String>) {
        self.problems.push(p.into());
    }

    /// An identifier in a name position: always quoted.
    fn ident(&mut self, i: &mut Ident) {
        if i.value.is_empty() {
            self.problem("an empty name cannot be sent");
            return;
        }
        if i.value
            .chars()
            .any(|c| c.is_control() || c == '\\' || c == '\u{feff}')
        {
            self.problem(format!(
                "the name `{}` holds a backslash or a control character",
                i.value.escape_default()
            ));
            return;
        }
        match self.driver {
            Driver::Postgres => {
                if i.quote_style.is_none() {
                    i.value = i.value.to_ascii_lowercase();
                }
                if i.value.len() > 63 {
                    self.problem(format!(
                        "the name `{}` is longer than PostgreSQL's 63 bytes (the server would shorten it)",
                        i.value
                    ));
                }
            }
            Driver::Mysql => {
                if i.value.chars().count() > 64 {
                    self.problem(format!(
                        "the name `{}` is longer than 64 characters",
                        i.value
                    ));
                }
            }
            Driver::Sqlite => {}
        }
        i.quote_style = Some(ident_quote(self.driver));
    }

    fn object_name(&mut self, n: &mut ObjectName) {
        for part in n.0.iter_mut() {
            match part {
                ObjectNamePart::Identifier(i) => self.ident(i),
                _ => self.problem("this kind of name cannot be sent"),
            }
        }
    }

    /// A literal outside an expression position (`DATE '…'`, `SEPARATOR '…'`, …).
    fn value(&mut self, v: &mut ValueWithSpan) {
        let new = match &v.value {
            Value::Number(n, long) => {
                if *long || !number_ok(n) {
                    self.problem(format!("the number `{n}` cannot be sent as written"));
                }
                return;
            }
            Value::Boolean(_) | Value::Null => return,
            Value::Placeholder(p) => {
                if !placeholder_ok(p) {
                    self.problem(format!("`{p}` cannot be sent"));
                }
                return;
            }
            Value::HexStringLiteral(h) => {
                if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    self.problem("a hex literal holds a character that is not a hex digit");
                }
                return;
            }
            Value::SingleQuotedByteStringLiteral(b)
                if b.bytes().all(|c| c == b'0' || c == b'1') =>
            {
                return;
            }
            other => match string_content(other) {
                None => {
                    self.problem(format!(
                        "this kind of literal cannot be sent: {}",
                        other.to_string().chars().take(20).collect::<String>()
                    ));
                    return;
                }
                Some(s) => {
                    if s.contains('\0') {
                        self.problem("a text literal holds a NUL character");
                        return;
                    }
                    let national = matches!(other, Value::NationalStringLiteral(_));
                    if !s.contains('\\') {
                        if national && self.driver == Driver::Mysql {
                            Value::NationalStringLiteral(s.to_string())
                        } else {
                            Value::SingleQuotedString(s.to_string())
                        }
                    } else {
                        match self.driver {
                            Driver::Sqlite => Value::SingleQuotedString(s.to_string()),
                            Driver::Postgres => Value::UnicodeStringLiteral(s.to_string()),
                            // only reached outside expressions (those become
                            // `_utf8mb4 X'…'` in pre_visit_expr)
                            Driver::Mysql => Value::HexStringLiteral(hex_upper(s.as_bytes())),
                        }
                    }
                }
            },
        };
        v.value = new;
    }
}

fn number_ok(n: &str) -> bool {
    let b = n.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let int = digits(&mut i);
    let mut frac = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac = digits(&mut i);
    }
    if int + frac == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn placeholder_ok(p: &str) -> bool {
    p == "?"
        || p.strip_prefix('$')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl VisitorMut for Normalize {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if super::statement::has_table_statement(&q.body) {
            self.problem("`TABLE name` cannot be sent");
        }
        if let Some(with) = q.with.as_mut() {
            for cte in with.cte_tables.iter_mut() {
                self.ident(&mut cte.alias.name);
                for c in cte.alias.columns.iter_mut() {
                    self.ident(&mut c.name);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
        for item in s.projection.iter_mut() {
            match item {
                SelectItem::ExprWithAlias { alias, .. } => self.ident(alias),
                SelectItem::ExprWithAliases { aliases, .. } => {
                    for a in aliases.iter_mut() {
                        self.ident(a)
                    }
                }
                SelectItem::QualifiedWildcard(
                    sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => self.object_name(n),
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, r: &mut ObjectName) -> ControlFlow<()> {
        self.object_name(r);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        let alias = match t {
            TableFactor::Table { alias, .. }
            | TableFactor::Derived { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::NestedJoin { alias, .. } => alias.as_mut(),
            _ => None,
        };
        if let Some(a) = alias {
            self.ident(&mut a.name);
            for c in a.columns.iter_mut() {
                self.ident(&mut c.name);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        match e {
            Expr::Identifier(i) => self.ident(i),
            Expr::CompoundIdentifier(parts) => {
                for i in parts.iter_mut() {
                    self.ident(i)
                }
            }
            Expr::Prefixed { prefix, value } => {
                let intro = prefix.value.to_ascii_lowercase();
                if self.driver != Driver::Mysql
                    || prefix.quote_style.is_some()
                    || !INTRODUCERS.contains(&intro.as_str())
                {
                    self.problem(format!(
                        "`{}` before a literal is not a character set sqlcourier knows",
                        prefix.value
                    ));
                    return ControlFlow::Continue(());
                }
                prefix.value = intro;
                if let Expr::Value(v) = value.as_mut()
                    && let Some(s) = string_content(&v.value)
                    && s.contains('\\')
                {
                    v.value = Value::HexStringLiteral(hex_upper(s.as_bytes()));
                }
            }
            Expr::Value(v) if self.driver == Driver::Mysql => {
                if let Some(s) = string_content(&v.value)
                    && s.contains('\\')
                    && !s.contains('\0')
                {
                    let intro = if matches!(v.value, Value::NationalStringLiteral(_)) {
                        "_utf8mb3"
                    } else {
                        "_utf8mb4"
                    };
                    *e = Expr::Prefixed {
                        prefix: Ident::new(intro),
                        value: Box::new(Expr::value(Value::HexStringLiteral(hex_upper(
                            s.as_bytes(),
                        )))),
                    };
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, v: &mut ValueWithSpan) -> ControlFlow<()> {
        self.value(v);
        ControlFlow::Continue(())
    }
}

/// Every token of the rendered text must be one whose meaning no server mode changes.
fn lexical_check(sql: &str, driver: Driver) -> Result<(), String> {
    let dialect = super::statement::dialect(driver);
    let tokens = Tokenizer::new(dialect.as_ref(), sql)
        .with_unescape(false)
        .tokenize()
        .map_err(|e| format!("the statement as it would be sent cannot be read again ({e})"))?;
    let q = ident_quote(driver);
    for t in &tokens {
        let bad = match t {
            Token::Word(w) => match w.quote_style {
                None => {
                    let mut cs = w.value.chars();
                    !cs.next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        || !cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
                }
                Some(c) => c != q || w.value.chars().any(|c| c.is_control() || c == '\\'),
            },
            Token::SingleQuotedString(s) | Token::NationalStringLiteral(s) => {
                s.contains('\\') && driver != Driver::Sqlite || s.contains('\0')
            }
            Token::UnicodeStringLiteral(_) => driver != Driver::Postgres,
            Token::HexStringLiteral(h) => !h.bytes().all(|b| b.is_ascii_hexdigit()),
            Token::SingleQuotedByteStringLiteral(b) => !b.bytes().all(|c| c == b'0' || c == b'1'),
            Token::Number(n, long) => *long || !number_ok(n),
            Token::Placeholder(p) => !placeholder_ok(p),
            Token::Whitespace(w) => {
                !matches!(w, Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
            }
            Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::Char(_)
            | Token::Backslash
            | Token::SemiColon => true,
            // `#` starts a comment on MySQL
            Token::Sharp if driver == Driver::Mysql => true,
            _ => false,
        };
        if bad {
            return Err(format!(
                "the statement as it would be sent holds `{}`, which a database server could read in more than one way",
                t.to_string().chars().take(30).collect::<String>()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str, d: Driver) -> Statement {
        let dialect = super::super::statement::dialect(d);
        Parser::new(dialect.as_ref())
            .try_with_sql(sql)
            .unwrap()
            .parse_statements()
            .unwrap()
            .remove(0)
    }

    fn r(sql: &str, d: Driver) -> Result<String, String> {
        render(&parse(sql, d), d)
    }

    #[test]
    fn mysql_backslash_strings_become_hex() {
        let s = r(
            r"SELECT 'a\\' AS x, 'b' FROM t WHERE c = 'it''s'",
            Driver::Mysql,
        )
        .unwrap();
        assert_eq!(
            s,
            "SELECT _utf8mb4 X'615C' AS `x`, 'b' FROM `t` WHERE `c` = 'it''s'"
        );
        let s = r(r#"SELECT "x\\""y" FROM t"#, Driver::Mysql).unwrap();
        assert!(s.contains("_utf8mb4 X'785C2279'"), "{s}");
        assert!(!s.contains('\\'), "{s}");
    }

    #[test]
    fn mysql_breakout_stays_a_string() {
        // the classic: the parser reads one string, Display would have ended it early
        let s = r(r"SELECT 'x\\' , SLEEP(5) -- ' AS a FROM t", Driver::Mysql);
        // parsed as one string 'x\' then `, SLEEP(5)` – the check refuses SLEEP; here
        // we only look at how the string is written
        if let Ok(s) = s {
            assert!(!s.contains("\\"), "{s}");
        }
        let s = r(r"SELECT 'a\' OR 1=1 -- ' AS v", Driver::Mysql).unwrap();
        // `\'` is an escaped quote: one string, written with the quote doubled
        assert_eq!(s, "SELECT 'a'' OR 1=1 -- ' AS `v`");
    }

    #[test]
    fn postgres_backslash_strings_become_unicode_literals() {
        let s = r(
            r"SELECT E'a\\b', $$c\d$$, 'e\f' FROM Members",
            Driver::Postgres,
        )
        .unwrap();
        assert_eq!(s, r#"SELECT U&'a\\b', U&'c\\d', U&'e\\f' FROM "members""#);
        let s = r("SELECT 'Tōkyō 東京' AS \"Name\"", Driver::Postgres).unwrap();
        assert_eq!(s, "SELECT 'Tōkyō 東京' AS \"Name\"");
    }

    #[test]
    fn identifiers_are_quoted_and_doubled() {
        let s = r("SELECT `a``b`, c FROM `t``x` AS y", Driver::Mysql).unwrap();
        assert_eq!(s, "SELECT `a``b`, `c` FROM `t``x` AS `y`");
        let s = r("SELECT \"a\"\"b\", C FROM s.T", Driver::Postgres).unwrap();
        assert_eq!(s, "SELECT \"a\"\"b\", \"c\" FROM \"s\".\"t\"");
        assert!(r("SELECT `a\\b` FROM t", Driver::Mysql).is_err());
    }

    #[test]
    fn output_names_kept_on_mysql() {
        let s = r("SELECT MIN(email), COUNT(*) FROM t", Driver::Mysql).unwrap();
        assert_eq!(
            s,
            "SELECT MIN(`email`) AS `MIN(email)`, COUNT(*) AS `COUNT(*)` FROM `t`"
        );
    }

    #[test]
    fn refuses_nul_and_unknown_introducers() {
        assert!(r("SELECT _sjis'x'", Driver::Mysql).is_err());
        assert!(r("SELECT _foo 'x'", Driver::Postgres).is_err());
        assert!(r(r"SELECT 'a\0b'", Driver::Mysql).is_err());
    }

    #[test]
    fn numbers() {
        for ok in ["1", "1.5", ".5", "1.", "1e3", "1.5E-3"] {
            assert!(number_ok(ok), "{ok}");
        }
        for bad in ["", ".", "1e", "0x1f", "1_000", "1e+"] {
            assert!(!number_ok(bad), "{bad}");
        }
    }
}
