//! Sources: one module per database. Each runs one checked statement inside a
//! read-only transaction with a server-side time limit and streams the result, row by
//! row, into a [`RowSink`] as text cells — memory does not grow with the result.
//!
//! Cell text (README.md "CSV format"): numbers and DECIMAL exactly as the database
//! prints them; dates `YYYY-MM-DD`, date-times `YYYY-MM-DD HH:MM:SS[.ffffff]`;
//! booleans `true`/`false` on PostgreSQL (MySQL has none: `BOOLEAN` is `TINYINT(1)`,
//! written `1`/`0`); binary as `0x` and lower-case hex; MySQL zero dates as written
//! by MySQL (`0000-00-00`).

mod db_advice;
pub mod float;
pub mod kind;
pub mod mysql;
pub mod postgres;
pub mod privileges;
pub mod resolution;
pub mod sqlite;
mod sqlite_step;

pub use kind::ColumnKind;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use crate::catalog::config::Driver;
use crate::failure::FailureKind;
use crate::guard::params::Bound;
use crate::guard::statement::CheckedStatement;

/// Receives a result: first its column names, then each row. Hooks default to no-ops.
pub trait RowSink {
    /// Called before [`RowSink::columns`] with each column's kind (from the database's
    /// column types); a source that knows nothing sends nothing. A source whose values
    /// carry their own type (SQLite expressions) calls it again before a row whose
    /// kinds differ from the last ones sent.
    fn kinds(&mut self, _kinds: &[ColumnKind]) -> Result<()> {
        Ok(())
    }
    /// Called once, before any row, with the result's column names.
    fn columns(&mut self, _names: &[String]) -> Result<()> {
        Ok(())
    }
    /// One row; `None` is SQL NULL.
    fn row(&mut self, _cells: &[Option<&[u8]>]) -> Result<()> {
        Ok(())
    }
}

/// One statement to export.
pub struct Export<'a> {
    pub statement: &'a CheckedStatement,
    pub params: &'a BTreeMap<String, Bound>,
    /// Server-side statement time limit.
    pub timeout: Duration,
    /// IANA time zone for the session (TIMESTAMP / timestamptz rendering).
    pub timezone: &'a str,
    /// The largest cell, in bytes ([`DEFAULT_MAX_CELL_BYTES`] unless the database's
    /// `max_cell_bytes` says): a bigger value stops the export with its row and column.
    pub max_cell_bytes: u64,
    /// The functions the operator listed under `allowed_functions:` (lower case): user
    /// code an engineer vouched for, so its name is not refused as a possible shadow of
    /// a built-in (`source::resolution`).
    pub operator_functions: &'a std::collections::BTreeSet<String>,
}

/// The default cell size limit: 64 MiB.
pub const DEFAULT_MAX_CELL_BYTES: u64 = 64 * 1024 * 1024;

/// The error for a cell over the limit (row 1 is the first data row). `len` is the
/// value's size when it is known: a source that stops reading a huge value as soon as
/// it passes the limit (so that memory stays bounded) does not know it.
pub(crate) fn cell_too_large(
    row: u64,
    column: &str,
    len: Option<usize>,
    limit: u64,
) -> anyhow::Error {
    let value = match len {
        Some(len) => format!("a value of {len} bytes"),
        None => "a value".to_string(),
    };
    anyhow::anyhow!(
        "row {row}, column `{column}`: {value} is larger than the cell limit of {limit} bytes, so the export was stopped and nothing was delivered. What to do: select a shorter part of it (for example LEFT(col, 1000)), or ask an engineer to raise `max_cell_bytes` for this database in sqlcourier.yaml"
    )
}

/// An open connection to one of the supported databases.
pub enum Connection {
    Mysql(mysql::MysqlSource),
    Postgres(postgres::PostgresSource),
    Sqlite(sqlite::SqliteSource),
}

impl Connection {
    /// Connects. The URL never appears in an error: they are phrased from the cause.
    pub async fn open(driver: Driver, url: &str) -> Result<Connection> {
        Ok(match driver {
            Driver::Mysql => Connection::Mysql(mysql::MysqlSource::connect(url).await?),
            Driver::Postgres => Connection::Postgres(postgres::PostgresSource::connect(url).await?),
            Driver::Sqlite => Connection::Sqlite(sqlite::SqliteSource::connect(url).await?),
        })
    }

    pub async fn export(&mut self, job: &Export<'_>, sink: &mut dyn RowSink) -> Result<()> {
        match self {
            Connection::Mysql(s) => s.export(job, sink).await,
            Connection::Postgres(s) => s.export(job, sink).await,
            Connection::Sqlite(s) => s.export(job, sink).await,
        }
    }

    /// A handle that can stop the running statement on the server from elsewhere.
    pub fn canceller(&self) -> Option<Canceller> {
        match self {
            Connection::Mysql(s) => s.canceller(),
            Connection::Postgres(s) => s.canceller(),
            Connection::Sqlite(_) => None,
        }
    }

    pub async fn close(self) {
        match self {
            Connection::Mysql(s) => s.close().await,
            Connection::Postgres(s) => s.close().await,
            Connection::Sqlite(s) => s.close().await,
        }
    }
}

/// Stops a running statement on the server over a second connection. (No `Debug`:
/// it holds the connection URL.)
#[derive(Clone)]
pub enum Canceller {
    /// `KILL QUERY <id>` over a new connection.
    Mysql { url: String, connection_id: u64 },
    /// `pg_cancel_backend(<pid>)` over a new connection.
    Postgres { url: String, pid: i32 },
}

impl Canceller {
    pub async fn cancel(&self) -> Result<()> {
        use sqlx::Connection as _;
        match self {
            Canceller::Mysql { url, connection_id } => {
                let mut c = sqlx::MySqlConnection::connect(url).await?;
                sqlx::query(&format!("KILL QUERY {connection_id}"))
                    .execute(&mut c)
                    .await?;
                c.close().await?;
            }
            Canceller::Postgres { url, pid } => {
                let mut c = sqlx::PgConnection::connect(url).await?;
                sqlx::query("SELECT pg_cancel_backend($1)")
                    .bind(pid)
                    .execute(&mut c)
                    .await?;
                c.close().await?;
            }
        }
        Ok(())
    }
}

/// A reusable row of cell references: the allocation survives from row to row while
/// the borrows do not.
pub(crate) struct CellVec(Vec<Option<&'static [u8]>>);

impl CellVec {
    pub(crate) fn with_capacity(n: usize) -> Self {
        CellVec(Vec::with_capacity(n))
    }
    pub(crate) fn take<'a>(&mut self) -> Vec<Option<&'a [u8]>> {
        let mut v = std::mem::take(&mut self.0);
        v.clear();
        v.into_iter().map(|_| None).collect()
    }
    pub(crate) fn give(&mut self, mut v: Vec<Option<&[u8]>>) {
        v.clear();
        self.0 = v.into_iter().map(|_| None).collect();
    }
    /// Hands one row to `sink`: `bufs[i]` is cell i's text, `None` where `present[i]`
    /// is false (SQL NULL).
    pub(crate) fn emit(
        &mut self,
        bufs: &[Vec<u8>],
        present: &[bool],
        sink: &mut dyn RowSink,
    ) -> Result<()> {
        let mut cells = self.take();
        cells.extend(
            bufs.iter()
                .zip(present)
                .map(|(b, &p)| if p { Some(&b[..]) } else { None }),
        );
        let r = sink.row(&cells);
        self.give(cells);
        r
    }
}

/// Column names of a prepared statement.
pub(crate) fn column_names<C: sqlx::Column>(columns: &[C]) -> Vec<String> {
    columns.iter().map(|c| c.name().to_string()).collect()
}

/// Binds the values of the parameters in `order` (as the rendered SQL writes them),
/// by the driver, to a prepared query.
pub(crate) fn bind_all<'q, DB>(
    mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    order: &[String],
    params: &'q BTreeMap<String, Bound>,
) -> Result<sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use crate::catalog::query::ParamValue;
    for name in order {
        let v = params
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no value for parameter :{name}"))?;
        q = match v {
            Bound::Value(ParamValue::Int(i)) => q.bind(*i),
            Bound::Value(ParamValue::Float(f)) => q.bind(*f),
            Bound::Value(ParamValue::Bool(b)) => q.bind(*b),
            Bound::Value(ParamValue::Text(s)) => q.bind(s.as_str()),
            Bound::Time { local, .. } => q.bind(local.as_str()),
        };
    }
    Ok(q)
}

/// Appends `0x` and lower-case hex of `bytes`.
pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(2 + bytes.len() * 2);
    out.extend_from_slice(b"0x");
    for b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

/// Phrases a database error without the URL or password, with what to do.
/// The error carries its [`FailureKind`] (by the error's code, see `db_advice`).
pub(crate) fn explain_db_error(e: &sqlx::Error, phase: &str) -> anyhow::Error {
    crate::failure::failure(db_failure_kind(e), format!("{:#}", explain(e, phase, None)))
}

/// Which server sent a database error (its codes are read by `db_advice`).
fn server_of(d: &dyn sqlx::error::DatabaseError) -> db_advice::Db {
    if d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some()
    {
        db_advice::Db::Mysql
    } else if d
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        db_advice::Db::Postgres
    } else {
        db_advice::Db::Sqlite
    }
}

/// Who can fix a database error.
fn db_failure_kind(e: &sqlx::Error) -> FailureKind {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => FailureKind::Transient,
        sqlx::Error::Tls(_) | sqlx::Error::Configuration(_) => FailureKind::Configuration,
        sqlx::Error::Database(d) => {
            let mysql = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>();
            let db = server_of(d.as_ref());
            let m = d.message();
            if m.to_lowercase().contains("access denied")
                || m.contains("password authentication failed")
            {
                return FailureKind::Configuration;
            }
            db_advice::failure_kind(db, d.code().as_deref(), mysql.map(|m| m.number()), m)
        }
        _ => FailureKind::Unknown,
    }
}

/// [`explain_db_error`] for an error of the query itself: `statement` is the text as
/// sent, so the server's words are kept only where they echo it (a value the query
/// turned into a name is cut, `crate::redact::echo`).
pub(crate) fn explain_query_error(e: &sqlx::Error, phase: &str, statement: &str) -> anyhow::Error {
    crate::failure::failure(
        db_failure_kind(e),
        format!("{:#}", explain(e, phase, Some(statement))),
    )
}

fn explain(e: &sqlx::Error, phase: &str, statement: Option<&str>) -> anyhow::Error {
    let text = || crate::redact::db::safe_db_error_in(e, statement).to_string();
    let hint = match e {
        sqlx::Error::Io(_) => {
            "check that the database is running and reachable from this machine (host, port, firewall / security group)"
        }
        sqlx::Error::Tls(_) => "check the TLS settings in the connection URL",
        sqlx::Error::Configuration(_) => {
            "check the connection URL in the environment variable named by `url_env` (its form, not its secret)"
        }
        sqlx::Error::Database(d)
            if d.message().to_lowercase().contains("access denied")
                || d.message().contains("password authentication failed")
                || d.message().contains("authentication") =>
        {
            "check the user name and password in the connection URL secret"
        }
        sqlx::Error::Database(d) => {
            let db = server_of(d.as_ref());
            let number = d
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|m| m.number());
            let shown = crate::redact::db::shown_message(e, statement);
            if let Some(a) = db_advice::advice(db, d.code().as_deref(), number, &shown) {
                return anyhow::anyhow!("{phase}: {}. What to do: {a}", text());
            }
            "fix the query where the error says, or ask an engineer to look up the error code (the server's own words are left out when they could quote data)"
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => {
            "try again; if it keeps failing, check the database server"
        }
        _ => "try again; if it keeps failing, ask the operator to check the database",
    };
    anyhow::anyhow!("{phase}: {}. What to do: {hint}", text())
}
