//! PostgreSQL, through the COPY protocol: the server formats rows itself and streams
//! them; we only split and unescape COPY's text format.
//!
//! COPY takes no bind parameters, so parameters travel another way that still never
//! puts a value into SQL text: the statement is first prepared with `$n` placeholders
//! so the server tells each parameter's type; each value is then bound (by the driver)
//! into a transaction-local setting with `set_config($1, $2, true)`; and the COPY
//! statement, re-rendered from the parsed tree, reads each parameter as
//! `CAST(current_setting('sqlcourier.p_<name>') AS <type>)`.

use std::str::FromStr;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Column, ConnectOptions, Connection, Either, Executor, Statement, TypeInfo};

use super::{Canceller, CellVec, Export, RowSink, explain_db_error, explain_query_error};
use crate::guard::statement::Placeholders;

pub struct PostgresSource {
    conn: PgConnection,
    url: String,
    pid: i32,
    /// A COPY stopped part-way (a cell over the limit, a sink error): the rest of its
    /// rows are still on the wire, so nothing more may be read from or sent on this
    /// connection; the server rolls the transaction back when it is closed.
    broken: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fix {
    None,
    /// `t`/`f` → `true`/`false`.
    Bool,
    /// `\x0102` → `0x0102`.
    Bytea,
}

impl PostgresSource {
    pub async fn connect(url: &str) -> Result<PostgresSource> {
        crate::redact::register(url);
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| explain_db_error(&e, "the PostgreSQL connection URL is not valid"))?
            .application_name("sqlcourier")
            .statement_cache_capacity(16)
            .disable_statement_logging();
        let mut conn = opts
            .connect()
            .await
            .map_err(|e| explain_db_error(&e, "could not connect to PostgreSQL"))?;
        pin_session(&mut conn).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| explain_db_error(&e, "could not talk to PostgreSQL"))?;
        Ok(PostgresSource {
            conn,
            url: url.to_string(),
            pid,
            broken: false,
        })
    }

    pub fn canceller(&self) -> Option<Canceller> {
        Some(Canceller::Postgres {
            url: self.url.clone(),
            pid: self.pid,
        })
    }

    pub(crate) fn conn_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }

    pub async fn export(&mut self, job: &Export<'_>, sink: &mut dyn RowSink) -> Result<()> {
        if self.broken {
            anyhow::bail!(
                "the connection was left unusable by the previous error; nothing was run. What to do: run the query again"
            );
        }
        self.conn
            .execute("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(|e| explain_db_error(&e, "could not start a read-only transaction"))?;
        let result = self.stream(job, sink).await;
        if !self.broken {
            let _ = self.conn.execute("ROLLBACK").await;
        }
        result
    }

    async fn set(&mut self, name: &str, value: &str) -> Result<()> {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut self.conn)
            .await
            .map_err(|e| explain_db_error(&e, "could not prepare the session"))?;
        Ok(())
    }

    async fn stream(&mut self, job: &Export<'_>, sink: &mut dyn RowSink) -> Result<()> {
        let ms = job.timeout.as_millis().to_string();
        self.set("statement_timeout", &ms).await?;
        self.set("TimeZone", job.timezone).await?;
        self.set("DateStyle", "ISO, YMD").await?;
        self.set("IntervalStyle", "iso_8601").await?;
        self.set("extra_float_digits", "1").await?;
        self.set("bytea_output", "hex").await?;
        // every name resolves to what the check approved (source::resolution)
        let mut names = crate::guard::names::unresolved(job.statement.tree());
        names
            .functions
            .retain(|f| !job.operator_functions.contains(&f.to_lowercase()));
        super::resolution::postgres(&mut self.conn, &names).await?;

        // 1. prepare with $n: the server names the parameter and column types
        let (sql, order) = job
            .statement
            .render(Placeholders::Dollar)
            .map_err(|why| anyhow::anyhow!("the query cannot be sent exactly as checked: {why}"))?;
        let stmt = (&mut self.conn).prepare(sql.as_str()).await.map_err(|e| {
            explain_query_error(&e, "the database could not prepare the query", &sql)
        })?;
        let names = super::column_names(stmt.columns());
        let fixes: Vec<Fix> = stmt
            .columns()
            .iter()
            .map(|c| match c.type_info().name() {
                "BOOL" => Fix::Bool,
                "BYTEA" => Fix::Bytea,
                _ => Fix::None,
            })
            .collect();
        let column_kinds: Vec<super::ColumnKind> = (stmt.columns().iter())
            .map(|c| super::kind::postgres(c.type_info().name()))
            .collect();
        let param_oids: Vec<u32> = match stmt.parameters() {
            Some(Either::Left(types)) => types
                .iter()
                .map(|t| t.oid().map(|o| o.0).unwrap_or(25))
                .collect(),
            _ => vec![25; order.len()],
        };
        drop(stmt);
        sink.kinds(&column_kinds)?;
        sink.columns(&names)?;

        // 2. bind each value into a transaction-local setting, learn its type's name
        let mut types = Vec::with_capacity(order.len());
        for (i, name) in order.iter().enumerate() {
            let value = job
                .params
                .get(name)
                .with_context(|| format!("no value for parameter :{name}"))?;
            self.set(&format!("sqlcourier.p_{name}"), &value.as_pg_text())
                .await?;
            let oid = param_oids.get(i).copied().unwrap_or(25);
            let ty: String = sqlx::query_scalar("SELECT format_type($1::oid, NULL)")
                .bind(oid as i64)
                .fetch_one(&mut self.conn)
                .await
                .map_err(|e| explain_db_error(&e, "could not read a parameter type"))?;
            types.push((name.clone(), ty));
        }

        // 3. COPY the re-rendered statement
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut bad = None;
        let body = job.statement.render_with(|name| {
            let ty = types
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.as_str())
                .unwrap_or("text");
            let text = format!("CAST(current_setting('sqlcourier.p_{name}') AS {ty})");
            match sqlparser::parser::Parser::new(&dialect)
                .try_with_sql(&text)
                .and_then(|mut p| p.parse_expr())
            {
                Ok(e) => e,
                Err(e) => {
                    bad = Some(format!(
                        "parameter :{name} has a type ({ty}) sqlcourier cannot pass: {e}"
                    ));
                    sqlparser::ast::Expr::value(sqlparser::ast::Value::Null)
                }
            }
        });
        if let Some(b) = bad {
            anyhow::bail!(b);
        }
        let body = body
            .map_err(|why| anyhow::anyhow!("the query cannot be sent exactly as checked: {why}"))?;
        let copy = format!("COPY ({body}) TO STDOUT");
        let mut stream = self
            .conn
            .copy_out_raw(&copy)
            .await
            .map_err(|e| explain_query_error(&e, "the query failed", &copy))?;

        let mut parser = CopyText::new(fixes);
        parser.limit = Some((job.max_cell_bytes, names.clone()));
        // the patched driver (vendor/sqlx-postgres) hands a huge row out in pieces of at
        // most 1 MiB, and the parser refuses a field as soon as it passes the limit: a
        // huge value costs about the limit in memory, not its own size
        let fed: Result<()> = async {
            while let Some(chunk) = stream.try_next().await.map_err(|e| {
                explain_query_error(&e, "the query failed while reading rows", &copy)
            })? {
                parser.feed(&chunk, sink)?;
            }
            parser.finish(sink)
        }
        .await;
        if fed.is_err() {
            // an error from the server ends the COPY cleanly; any other leaves it part-way
            self.broken = true;
        }
        fed
    }
}

/// The session settings that decide how the server reads SQL text, pinned at connect
/// whatever the server, database or role defaults are, and read back (fail closed):
/// `standard_conforming_strings = on` (a backslash in `'…'` is text, as the check reads
/// it, and `U&'…'` is accepted), `backslash_quote = off`, `client_encoding = UTF8` (no
/// multi-byte encoding whose second byte can be a backslash or quote), and a fixed
/// `search_path` with `pg_catalog` first (built-in functions cannot be shadowed).
pub const SESSION: &[(&str, &str)] = &[
    ("standard_conforming_strings", "on"),
    ("backslash_quote", "off"),
    ("client_encoding", "UTF8"),
    ("search_path", "pg_catalog, public"),
];

async fn pin_session(conn: &mut PgConnection) -> Result<()> {
    let fail = |e: sqlx::Error| explain_db_error(&e, "could not pin the session's settings");
    for (name, value) in SESSION {
        sqlx::query("SELECT set_config($1, $2, false)")
            .bind(name)
            .bind(value)
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
        let now: String = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
        if !now.eq_ignore_ascii_case(value) {
            anyhow::bail!(
                "the server did not keep the session setting {name} = {value} (it says {now}); nothing was run. What to do: ask the operator to check the server and any connection pooler"
            );
        }
    }
    Ok(())
}

/// Splits COPY text format (tab-separated, `\N` for NULL, backslash escapes) into rows.
struct CopyText {
    fixes: Vec<Fix>,
    /// An incomplete row carried over from the previous chunk (PostgreSQL sends one
    /// row per message, a huge one in pieces, so this holds at most one row, and
    /// with a limit each of its fields at most about twice the limit).
    carry: Vec<u8>,
    /// Where the row in `carry` stands, for the limit.
    partial: Partial,
    fields: Vec<Vec<u8>>,
    spans: Vec<Span>,
    cells: CellVec,
    /// The cell size limit and the column names for its message.
    limit: Option<(u64, Vec<String>)>,
    rows: u64,
}

impl CopyText {
    fn new(fixes: Vec<Fix>) -> Self {
        let n = fixes.len();
        CopyText {
            fixes,
            carry: Vec::new(),
            partial: Partial::default(),
            fields: vec![Vec::with_capacity(32); n.max(1)],
            spans: vec![Span::Null; n.max(1)],
            cells: CellVec::with_capacity(n),
            limit: None,
            rows: 0,
        }
    }

    fn feed(&mut self, chunk: &[u8], sink: &mut dyn RowSink) -> Result<()> {
        let mut rest = chunk;
        if !self.carry.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    let mut line = std::mem::take(&mut self.carry);
                    self.partial = Partial::default();
                    line.extend_from_slice(&rest[..i]);
                    self.line(&line, sink)?;
                    rest = &rest[i + 1..];
                }
                None => {
                    self.account(rest)?;
                    self.carry.extend_from_slice(rest);
                    return Ok(());
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..i], sink)?;
            rest = &rest[i + 1..];
        }
        self.account(rest)?;
        self.carry.extend_from_slice(rest);
        Ok(())
    }

    /// Counts the value bytes of the incomplete row's fields as `bytes` is added to
    /// it, and refuses the field that passes the limit before it is kept: a value of
    /// any size costs at most about the limit. (An escape `\\x` is one value byte;
    /// `\\N`, NULL, counts one.)
    fn account(&mut self, bytes: &[u8]) -> Result<()> {
        let Some((max, names)) = &self.limit else {
            return Ok(());
        };
        let p = &mut self.partial;
        let over = |p: &Partial| {
            let name = names.get(p.col).map(String::as_str).unwrap_or("?");
            super::cell_too_large(self.rows + 1, name, None, *max)
        };
        let mut i = 0;
        while i < bytes.len() {
            if p.escape {
                p.escape = false;
                p.len += 1;
                i += 1;
            } else {
                match memchr::memchr2(b'\t', b'\\', &bytes[i..]) {
                    None => {
                        p.len += (bytes.len() - i) as u64;
                        i = bytes.len();
                    }
                    Some(k) => {
                        p.len += k as u64;
                        if p.len > *max {
                            return Err(over(p));
                        }
                        if bytes[i + k] == b'\t' {
                            p.col += 1;
                            p.len = 0;
                        } else {
                            p.escape = true;
                        }
                        i += k + 1;
                    }
                }
            }
            if p.len > *max {
                return Err(over(p));
            }
        }
        Ok(())
    }

    fn finish(&mut self, sink: &mut dyn RowSink) -> Result<()> {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line, sink)?;
        }
        Ok(())
    }

    fn line(&mut self, line: &[u8], sink: &mut dyn RowSink) -> Result<()> {
        let n = self.fixes.len();
        // first pass: where each field is; only fields with escapes or fixes are copied
        let mut col = 0;
        let mut start = 0;
        loop {
            let end = memchr::memchr(b'\t', &line[start..]).map_or(line.len(), |i| start + i);
            if col >= n {
                anyhow::bail!("PostgreSQL sent more fields than columns");
            }
            let raw = &line[start..end];
            if let Some((max, names)) = &self.limit
                && raw.len() as u64 > *max
            {
                // the escaped text is a little longer than the value; measure the value
                let mut v = Vec::new();
                unescape(raw, &mut v);
                if v.len() as u64 > *max {
                    let name = names.get(col).map(String::as_str).unwrap_or("?");
                    return Err(super::cell_too_large(
                        self.rows + 1,
                        name,
                        Some(v.len()),
                        *max,
                    ));
                }
            }
            self.spans[col] = if raw == b"\\N" {
                Span::Null
            } else if self.fixes[col] == Fix::None && memchr::memchr(b'\\', raw).is_none() {
                Span::Raw(start, end)
            } else {
                let out = &mut self.fields[col];
                out.clear();
                unescape(raw, out);
                match self.fixes[col] {
                    Fix::None => {}
                    Fix::Bool => {
                        let t = out.as_slice() == b"t";
                        out.clear();
                        out.extend_from_slice(if t { b"true" } else { b"false" });
                    }
                    Fix::Bytea => {
                        if out.starts_with(b"\\x") {
                            out[0] = b'0';
                        }
                    }
                }
                Span::Owned
            };
            col += 1;
            if end == line.len() {
                break;
            }
            start = end + 1;
        }
        if col != n {
            anyhow::bail!("PostgreSQL sent {col} fields for {n} columns");
        }
        // second pass: the row as cell references
        let mut cells = self.cells.take();
        for c in 0..n {
            cells.push(match self.spans[c] {
                Span::Null => None,
                Span::Raw(a, b) => Some(&line[a..b]),
                Span::Owned => Some(&self.fields[c][..]),
            });
        }
        let r = sink.row(&cells);
        self.cells.give(cells);
        self.rows += 1;
        r
    }
}

/// How far the incomplete row in [`CopyText::carry`] has got: its current field, the
/// value bytes of that field so far, and whether its last byte began an escape.
#[derive(Debug, Default)]
struct Partial {
    col: usize,
    len: u64,
    escape: bool,
}

#[derive(Debug, Clone, Copy)]
enum Span {
    Null,
    Raw(usize, usize),
    Owned,
}

fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    if !raw.contains(&b'\\') {
        out.extend_from_slice(raw);
        return;
    }
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' || i + 1 >= raw.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let e = raw[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = (e - b'0') as u32;
                let mut k = 0;
                while k < 2 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                    v = v * 8 + (raw[i] - b'0') as u32;
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            b'x' if i < raw.len() && raw[i].is_ascii_hexdigit() => {
                let mut v = 0u32;
                let mut k = 0;
                while k < 2 && i < raw.len() && raw[i].is_ascii_hexdigit() {
                    v = v * 16 + (raw[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<Vec<Option<String>>>);
    impl RowSink for Collect {
        fn row(&mut self, cells: &[Option<&[u8]>]) -> Result<()> {
            self.0.push(
                cells
                    .iter()
                    .map(|c| c.map(|b| String::from_utf8_lossy(b).into_owned()))
                    .collect(),
            );
            Ok(())
        }
    }

    #[test]
    fn copy_text_split_across_chunks() {
        let data = b"1\ta\\tb\\nc\t\\N\tt\t\\\\x0a\n2\t\t\\\\\tf\t\\\\x\n";
        let mut p = CopyText::new(vec![Fix::None, Fix::None, Fix::None, Fix::Bool, Fix::Bytea]);
        let mut sink = Collect::default();
        for chunk in data.chunks(3) {
            p.feed(chunk, &mut sink).unwrap();
        }
        p.finish(&mut sink).unwrap();
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            sink.0,
            vec![
                vec![s("1"), s("a\tb\nc"), None, s("true"), s("0x0a")],
                vec![s("2"), s(""), s("\\"), s("false"), s("0x")],
            ]
        );
    }
}
