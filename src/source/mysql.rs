//! MySQL 8, Aurora MySQL and MariaDB.
//!
//! The statement is prepared (binary protocol), parameters are bound by the driver, and
//! rows are read as a stream. Each value's raw bytes are turned into text here, by
//! column type, without going through intermediate Rust values.

use std::str::FromStr;

use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow, MySqlValueRef};
use sqlx::{Column, ConnectOptions, Connection, Decode, Executor, MySql, Row, Statement, TypeInfo};

use super::{Canceller, Export, RowSink, explain_db_error, explain_query_error, push_hex};
use crate::guard::statement::Placeholders;

pub struct MysqlSource {
    conn: MySqlConnection,
    url: String,
    connection_id: u64,
    mariadb: bool,
    /// Reading rows stopped part-way (a cell over the limit, a sink error): the rest of
    /// the result is still on the wire, so nothing more is sent on this connection (a
    /// ROLLBACK would first read every remaining row); the server rolls the transaction
    /// back when it is closed.
    broken: bool,
}

/// How a column's binary-protocol bytes become text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int {
        size: u8,
        unsigned: bool,
    },
    Float,
    Double,
    /// DECIMAL, strings, ENUM, SET, JSON: the bytes are the text.
    Text,
    /// BINARY, VARBINARY, BLOB, GEOMETRY: hex.
    Binary,
    /// BIT(n): an unsigned number.
    Bit,
    Year,
    Date,
    DateTime,
    Time,
    Null,
}

/// How column `c` is written, from its column definition: the type and, for the string
/// family, the character set — `binary` (id 63) is BINARY/VARBINARY/BLOB, anything else
/// is text, even with a `_bin` collation (which carries the same BINARY flag). The
/// bytes are never looked at: `x'41'` is `0x41`, a control character in text stays text.
fn kind_of_column(c: &sqlx::mysql::MySqlColumn) -> Kind {
    kind_of(c.type_info().name(), c.is_binary_charset())
}

fn kind_of(type_name: &str, binary_charset: bool) -> Kind {
    let unsigned = type_name.ends_with("UNSIGNED");
    match type_name.trim_end_matches(" UNSIGNED") {
        "BOOLEAN" | "TINYINT" => Kind::Int { size: 1, unsigned },
        "SMALLINT" => Kind::Int { size: 2, unsigned },
        "MEDIUMINT" | "INT" => Kind::Int { size: 4, unsigned },
        "BIGINT" => Kind::Int { size: 8, unsigned },
        "FLOAT" => Kind::Float,
        "DOUBLE" => Kind::Double,
        "YEAR" => Kind::Year,
        "DATE" => Kind::Date,
        "DATETIME" | "TIMESTAMP" => Kind::DateTime,
        "TIME" => Kind::Time,
        "BIT" => Kind::Bit,
        "NULL" => Kind::Null,
        "GEOMETRY" => Kind::Binary,
        // the string family: sqlx names these from the BINARY flag, which `_bin` text
        // has too; the character set decides
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "CHAR"
        | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT"
            if binary_charset =>
        {
            Kind::Binary
        }
        _ => Kind::Text,
    }
}

impl MysqlSource {
    pub async fn connect(url: &str) -> Result<MysqlSource> {
        crate::redact::register(url);
        let opts = MySqlConnectOptions::from_str(url)
            .map_err(|e| explain_db_error(&e, "the MySQL connection URL is not valid"))?
            .charset("utf8mb4")
            .statement_cache_capacity(16)
            .disable_statement_logging();
        let conn = opts
            .connect()
            .await
            .map_err(|e| explain_db_error(&e, "could not connect to MySQL/MariaDB"))?;
        Self::from_connection(conn, url).await
    }

    /// Takes over an open connection, whatever its session settings: they are pinned
    /// first (`url` is kept for the canceller).
    pub async fn from_connection(mut conn: MySqlConnection, url: &str) -> Result<MysqlSource> {
        crate::redact::register(url);
        pin_session(&mut conn).await?;
        let (id, version): (u64, String) = sqlx::query_as("SELECT CONNECTION_ID(), VERSION()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| explain_db_error(&e, "could not talk to MySQL/MariaDB"))?;
        Ok(MysqlSource {
            conn,
            url: url.to_string(),
            connection_id: id,
            mariadb: version.contains("MariaDB"),
            broken: false,
        })
    }

    pub fn canceller(&self) -> Option<Canceller> {
        Some(Canceller::Mysql {
            url: self.url.clone(),
            connection_id: self.connection_id,
        })
    }

    pub(crate) fn conn_mut(&mut self) -> &mut MySqlConnection {
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
        let conn = &mut self.conn;
        // session settings: time zone for TIMESTAMP, the server-side time limit
        if sqlx::query("SET time_zone = ?")
            .bind(job.timezone)
            .execute(&mut *conn)
            .await
            .is_err()
        {
            // named zones need the server's time zone tables; fall back to the offset
            let offset = offset_of(job.timezone);
            sqlx::query("SET time_zone = ?")
                .bind(offset)
                .execute(&mut *conn)
                .await
                .map_err(|e| explain_db_error(&e, "could not set the session time zone"))?;
        }
        let limit = if self.mariadb {
            sqlx::query("SET SESSION max_statement_time = ?").bind(job.timeout.as_secs_f64())
        } else {
            sqlx::query("SET SESSION MAX_EXECUTION_TIME = ?")
                .bind(job.timeout.as_millis().min(u32::MAX as u128) as u64)
        };
        limit
            .execute(&mut *conn)
            .await
            .map_err(|e| explain_db_error(&e, "could not set the statement time limit"))?;
        conn.execute("START TRANSACTION READ ONLY")
            .await
            .map_err(|e| explain_db_error(&e, "could not start a read-only transaction"))?;

        let result = self.stream(job, sink).await;
        if !self.broken {
            let _ = self.conn.execute("ROLLBACK").await;
        }
        result
    }

    async fn stream(&mut self, job: &Export<'_>, sink: &mut dyn RowSink) -> Result<()> {
        // every function name resolves to the built-in the check approved
        let mut unresolved = crate::guard::names::unresolved(job.statement.tree());
        unresolved
            .functions
            .retain(|f| !job.operator_functions.contains(&f.to_lowercase()));
        super::resolution::mysql(&mut self.conn, &unresolved).await?;
        let (sql, order) = job
            .statement
            .render(Placeholders::Question)
            .map_err(|why| anyhow::anyhow!("the query cannot be sent exactly as checked: {why}"))?;
        let stmt = (&mut self.conn).prepare(sql.as_str()).await.map_err(|e| {
            explain_query_error(&e, "the database could not prepare the query", &sql)
        })?;
        let names = super::column_names(stmt.columns());
        let kinds: Vec<Kind> = stmt.columns().iter().map(kind_of_column).collect();
        let column_kinds: Vec<super::ColumnKind> = (stmt.columns().iter())
            .map(|c| super::kind::mysql(c.type_info().name()))
            .collect();
        sink.kinds(&column_kinds)?;
        sink.columns(&names)?;

        // a row is at most its cells at the limit plus their length headers and the
        // NULL bitmap: the patched driver (vendor/sqlx-mysql) refuses a bigger one
        // while assembling it (memory: the limit plus one 16 MiB protocol part), and
        // the cell that made it too big is read from the kept part's length headers
        let n = kinds.len();
        let max_row = (job.max_cell_bytes.saturating_add(9))
            .saturating_mul(n.max(1) as u64)
            .saturating_add(n as u64 / 8 + 2);
        let columns: Vec<sqlx::mysql::MySqlColumn> = stmt.columns().to_vec();
        self.conn
            .set_max_packet_bytes(Some(usize::try_from(max_row).unwrap_or(usize::MAX)));
        let q = super::bind_all(stmt.query(), &order, job.params)?;
        let mut rows = q.fetch(&mut self.conn);
        let mut bufs: Vec<Vec<u8>> = vec![Vec::with_capacity(32); n];
        let mut present = vec![false; n];
        let mut storage = super::CellVec::with_capacity(n);
        let mut row_no = 0u64;
        let read: Result<()> = async {
            while let Some(row) = rows.try_next().await.map_err(|e| {
                oversize(&e, &columns, &names, row_no + 1, job.max_cell_bytes).unwrap_or_else(
                    || explain_query_error(&e, "the query failed while reading rows", &sql),
                )
            })? {
                row_no += 1;
                for i in 0..n {
                    present[i] = render(&row, i, kinds[i], &mut bufs[i])?;
                    if bufs[i].len() as u64 > job.max_cell_bytes {
                        return Err(super::cell_too_large(
                            row_no,
                            &names[i],
                            Some(bufs[i].len()),
                            job.max_cell_bytes,
                        ));
                    }
                }
                storage.emit(&bufs, &present, sink)?;
            }
            Ok(())
        }
        .await;
        drop(rows);
        if read.is_err() {
            self.broken = true;
        }
        read
    }
}

/// The cell-limit error for a row the driver refused as too large (see
/// `MysqlSource::stream`), naming the cell from the row's kept part.
fn oversize(
    e: &sqlx::Error,
    columns: &[sqlx::mysql::MySqlColumn],
    names: &[String],
    row: u64,
    limit: u64,
) -> Option<anyhow::Error> {
    let sqlx::Error::Decode(inner) = e else {
        return None;
    };
    let big = inner.downcast_ref::<sqlx::mysql::PacketTooLarge>()?;
    Some(match big.oversized_binary_cell(columns, limit) {
        Some((i, len)) => super::cell_too_large(
            row,
            names.get(i).map(String::as_str).unwrap_or("?"),
            usize::try_from(len).ok(),
            limit,
        ),
        // cannot happen for a row over the limit computed above; still refuse clearly
        None => anyhow::anyhow!(
            "row {row}: the row is {} bytes, more than its cells can be at the cell limit of {limit} bytes, so the export was stopped and nothing was delivered. What to do: select shorter values, or ask an engineer to raise `max_cell_bytes` for this database in sqlcourier.yaml",
            big.len()
        ),
    })
}

/// The session's `sql_mode`, set at connect whatever the server's default: no
/// `ANSI_QUOTES` (`"` quotes text, as the check reads it), backslash escapes on (as the
/// check reads them), `PIPES_AS_CONCAT` (`||` joins text, as the check reads it), and no
/// mode that changes how a SELECT parses (`IGNORE_SPACE`, `HIGH_NOT_PRECEDENCE`,
/// `ORACLE`, `ANSI`, …). The statements sqlcourier sends hold neither `"` nor a
/// backslash anyway (`guard::render`); this makes the server parse them as the check did.
pub const SQL_MODE: &str =
    "PIPES_AS_CONCAT,STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

/// Pins the lexical settings of the session and reads them back (fail closed).
async fn pin_session(conn: &mut MySqlConnection) -> Result<()> {
    let fail = |e: sqlx::Error| {
        explain_db_error(&e, "could not pin the session's SQL mode and character set")
    };
    conn.execute("SET NAMES utf8mb4").await.map_err(fail)?;
    conn.execute(format!("SET SESSION sql_mode = '{SQL_MODE}'").as_str())
        .await
        .map_err(fail)?;
    let (mode, client, connection): (String, String, String) = sqlx::query_as(
        "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.character_set_connection",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(fail)?;
    let set = |s: &str| {
        s.split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
            .collect::<std::collections::BTreeSet<_>>()
    };
    // unqualified names resolve in the connection's database: never a system schema
    let db: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&mut *conn)
        .await
        .map_err(fail)?;
    if let Some(db) = db
        && matches!(
            db.to_ascii_lowercase().as_str(),
            "mysql" | "information_schema" | "performance_schema" | "sys"
        )
    {
        anyhow::bail!(
            "the connection URL names the system schema `{db}` as its database; nothing was run. What to do: name the application's database in the URL"
        );
    }
    if set(&mode) != set(SQL_MODE) || client != "utf8mb4" || connection != "utf8mb4" {
        anyhow::bail!(
            "the server did not keep the session settings sqlcourier needs (sql_mode {mode}, character set {client}/{connection}); nothing was run. What to do: ask the operator to check the server's init_connect and proxies"
        );
    }
    Ok(())
}

/// Writes the text of column `i` into `out`; false for NULL.
#[inline]
fn render(row: &MySqlRow, i: usize, kind: Kind, out: &mut Vec<u8>) -> Result<bool> {
    out.clear();
    let v: MySqlValueRef<'_> = row.try_get_raw(i)?;
    // zero dates are reported as NULL by `is_null`; read the raw bytes instead
    let Ok(b) = <&[u8] as Decode<MySql>>::decode(v) else {
        return Ok(false);
    };
    match kind {
        Kind::Null => return Ok(false),
        Kind::Text => out.extend_from_slice(b),
        Kind::Binary => push_hex(out, b),
        Kind::Int { size, unsigned } => {
            let mut it = itoa::Buffer::new();
            let s = match (size, unsigned) {
                (1, false) => it.format(i8::from_le_bytes([b[0]])),
                (1, true) => it.format(b[0]),
                (2, false) => it.format(i16::from_le_bytes(le(b)?)),
                (2, true) => it.format(u16::from_le_bytes(le(b)?)),
                (4, false) => it.format(i32::from_le_bytes(le(b)?)),
                (4, true) => it.format(u32::from_le_bytes(le(b)?)),
                (_, false) => it.format(i64::from_le_bytes(le(b)?)),
                (_, true) => it.format(u64::from_le_bytes(le(b)?)),
            };
            out.extend_from_slice(s.as_bytes());
        }
        Kind::Year => {
            // four digits, as the server prints YEAR (`0000`, not `0`)
            let y = u32::from(u16::from_le_bytes(le(b)?));
            two(out, y / 100);
            two(out, y % 100);
        }
        Kind::Float => super::float::push_f32(out, f32::from_le_bytes(le(b)?)),
        Kind::Double => super::float::push_f64(out, f64::from_le_bytes(le(b)?)),
        Kind::Bit => {
            let mut v: u64 = 0;
            for &x in b {
                v = (v << 8) | x as u64;
            }
            let mut it = itoa::Buffer::new();
            out.extend_from_slice(it.format(v).as_bytes());
        }
        Kind::Date => date_time(b, out, false)?,
        Kind::DateTime => date_time(b, out, true)?,
        Kind::Time => time(b, out)?,
    }
    Ok(true)
}

fn le<const N: usize>(b: &[u8]) -> Result<[u8; N]> {
    b.get(..N)
        .and_then(|s| s.try_into().ok())
        .context("the server sent a number shorter than its type")
}

fn two(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Binary-protocol DATE/DATETIME/TIMESTAMP: a length byte, then y(2) m d [h m s [µs(4)]].
fn date_time(b: &[u8], out: &mut Vec<u8>, with_time: bool) -> Result<()> {
    let len = *b.first().unwrap_or(&0) as usize;
    let p = b.get(1..1 + len).context("the server sent a short date")?;
    let (y, mo, d) = if len >= 4 {
        (
            u16::from_le_bytes([p[0], p[1]]) as u32,
            p[2] as u32,
            p[3] as u32,
        )
    } else {
        (0, 0, 0)
    };
    let (h, mi, s) = if len >= 7 {
        (p[4] as u32, p[5] as u32, p[6] as u32)
    } else {
        (0, 0, 0)
    };
    let us = if len >= 11 {
        u32::from_le_bytes([p[7], p[8], p[9], p[10]])
    } else {
        0
    };
    two(out, y / 100);
    two(out, y % 100);
    out.push(b'-');
    two(out, mo);
    out.push(b'-');
    two(out, d);
    if with_time {
        out.push(b' ');
        two(out, h);
        out.push(b':');
        two(out, mi);
        out.push(b':');
        two(out, s);
        micros(out, us);
    }
    Ok(())
}

fn micros(out: &mut Vec<u8>, us: u32) {
    if us > 0 {
        out.push(b'.');
        let s = format!("{us:06}");
        out.extend_from_slice(s.as_bytes());
    }
}

/// Binary-protocol TIME: a length byte, then negative(1) days(4) h m s [µs(4)].
fn time(b: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let len = *b.first().unwrap_or(&0) as usize;
    let p = b.get(1..1 + len).context("the server sent a short time")?;
    if len < 8 {
        out.extend_from_slice(b"00:00:00");
        return Ok(());
    }
    let neg = p[0] == 1;
    let days = u64::from(u32::from_le_bytes([p[1], p[2], p[3], p[4]]));
    // u64: no server value can overflow it
    let hours = days * 24 + u64::from(p[5]);
    if neg {
        out.push(b'-');
    }
    if hours >= 100 {
        let mut it = itoa::Buffer::new();
        out.extend_from_slice(it.format(hours).as_bytes());
    } else {
        two(out, hours as u32); // < 100 here
    }
    out.push(b':');
    two(out, p[6] as u32);
    out.push(b':');
    two(out, p[7] as u32);
    if len >= 12 {
        micros(out, u32::from_le_bytes([p[8], p[9], p[10], p[11]]));
    }
    Ok(())
}

/// `+09:00` for a zone name, at the current instant.
fn offset_of(tz: &str) -> String {
    use chrono::{Offset, TimeZone};
    let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    let off = zone
        .offset_from_utc_datetime(&chrono::Utc::now().naive_utc())
        .fix()
        .local_minus_utc();
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    format!("{sign}{:02}:{:02}", off / 3600, off % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_dates_and_times() {
        let mut out = Vec::new();
        date_time(&[0], &mut out, true).unwrap();
        assert_eq!(out, b"0000-00-00 00:00:00");
        out.clear();
        date_time(&[4, 0xEA, 0x07, 10, 5], &mut out, false).unwrap();
        assert_eq!(out, b"2026-10-05");
        out.clear();
        date_time(
            &[11, 0xEA, 0x07, 10, 5, 23, 59, 58, 0x40, 0xE2, 0x01, 0],
            &mut out,
            true,
        )
        .unwrap();
        assert_eq!(out, b"2026-10-05 23:59:58.123456");
        out.clear();
        time(&[8, 1, 1, 0, 0, 0, 2, 3, 4], &mut out).unwrap();
        assert_eq!(out, b"-26:03:04");
        out.clear();
        time(&[8, 0, 34, 0, 0, 0, 22, 59, 59], &mut out).unwrap();
        assert_eq!(out, b"838:59:59");
    }

    #[test]
    fn kinds_from_type_names() {
        assert_eq!(
            kind_of("BIGINT UNSIGNED", true),
            Kind::Int {
                size: 8,
                unsigned: true
            }
        );
        assert_eq!(kind_of("VARBINARY", true), Kind::Binary);
        assert_eq!(kind_of("BLOB", true), Kind::Binary);
        // utf8mb4_bin text: sqlx calls it VARBINARY/BLOB from the flag; it is text
        assert_eq!(kind_of("VARBINARY", false), Kind::Text);
        assert_eq!(kind_of("BLOB", false), Kind::Text);
        assert_eq!(kind_of("VARCHAR", false), Kind::Text);
        assert_eq!(kind_of("GEOMETRY", true), Kind::Binary);
        assert_eq!(kind_of("DECIMAL", true), Kind::Text);
        assert_eq!(kind_of("JSON", false), Kind::Text);
    }
}
