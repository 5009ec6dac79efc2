//! `schema pull`: one catalogue query per database, inside a read-only transaction
//! with a server-side time limit, on a connection opened exactly as `run` opens it.
//!
//! The database's own catalogue decides what the reading user can see: MySQL's
//! `information_schema` lists only tables the user has a privilege on; on PostgreSQL
//! every column is checked with `has_column_privilege(…, 'SELECT')`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::Executor;

use super::{Column, SchemaFile, Table, TableKind};
use crate::catalog::config::Driver;
use crate::source::{Connection, explain_db_error as explain};

/// One row of a catalogue query: one column of one table.
#[derive(Debug, Clone)]
struct Row {
    /// `None` for the reading user's default schema.
    schema: Option<String>,
    table: String,
    view: bool,
    table_comment: Option<String>,
    column: String,
    ty: String,
    nullable: bool,
    comment: Option<String>,
    position: i64,
}

const MYSQL: &str = "SELECT \
    CONVERT(c.TABLE_NAME USING utf8mb4), \
    CONVERT(t.TABLE_TYPE USING utf8mb4), \
    CONVERT(t.TABLE_COMMENT USING utf8mb4), \
    CONVERT(c.COLUMN_NAME USING utf8mb4), \
    CONVERT(c.COLUMN_TYPE USING utf8mb4), \
    CONVERT(c.IS_NULLABLE USING utf8mb4), \
    CONVERT(c.COLUMN_COMMENT USING utf8mb4), \
    CAST(c.ORDINAL_POSITION AS SIGNED) \
  FROM information_schema.COLUMNS c \
  JOIN information_schema.TABLES t \
    ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
  WHERE c.TABLE_SCHEMA = DATABASE()";

// Tables in `public` are written without a schema: sqlcourier pins `search_path` to
// `pg_catalog, public` (src/source/postgres.rs), so an unqualified name in a query means
// `public` (`current_schema()` would say `pg_catalog` under that pin).
const POSTGRES: &str = "SELECT \
    CASE WHEN n.nspname = 'public' THEN NULL ELSE n.nspname::text END, \
    c.relname::text, \
    c.relkind IN ('v', 'm'), \
    obj_description(c.oid, 'pg_class'), \
    a.attname::text, \
    format_type(a.atttypid, a.atttypmod), \
    NOT a.attnotnull, \
    col_description(c.oid, a.attnum), \
    a.attnum::int8 \
  FROM pg_catalog.pg_class c \
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
    AND NOT c.relispartition \
    AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
    AND has_schema_privilege(n.oid, 'USAGE') \
    AND has_column_privilege(c.oid, a.attnum, 'SELECT')";

const SQLITE: &str = "SELECT m.name, m.type, p.name, p.type, p.\"notnull\", p.pk, p.cid \
  FROM sqlite_master m JOIN pragma_table_info(m.name) p \
  WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

/// Reads the catalogue of the connected database.
pub async fn pull(
    conn: &mut Connection,
    database: &str,
    driver: Driver,
    timeout: Duration,
) -> Result<SchemaFile> {
    let rows = match conn {
        Connection::Mysql(s) => mysql(s.conn_mut(), timeout).await?,
        Connection::Postgres(s) => postgres(s.conn_mut(), timeout).await?,
        Connection::Sqlite(s) => tokio::time::timeout(timeout, sqlite(s.connection()))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "reading the catalogue took longer than {}s",
                    timeout.as_secs()
                )
            })??,
    };
    Ok(build(database, driver, rows))
}

fn build(database: &str, driver: Driver, rows: Vec<Row>) -> SchemaFile {
    type Key = (Option<String>, String);
    let mut tables: BTreeMap<Key, (Table, Vec<(i64, Column)>)> = BTreeMap::new();
    for r in rows {
        let entry = tables
            .entry((r.schema.clone(), r.table.clone()))
            .or_insert_with(|| {
                (
                    Table {
                        schema: r.schema.clone(),
                        name: r.table.clone(),
                        kind: if r.view {
                            TableKind::View
                        } else {
                            TableKind::Table
                        },
                        comment: r.table_comment.clone().filter(|c| !c.is_empty()),
                        columns: Vec::new(),
                    },
                    Vec::new(),
                )
            });
        entry.1.push((
            r.position,
            Column {
                name: r.column,
                ty: r.ty,
                nullable: r.nullable,
                comment: r.comment.filter(|c| !c.is_empty()),
                personal: None,
                not_personal: None,
            },
        ));
    }
    let mut file = SchemaFile {
        database: database.to_string(),
        driver,
        tables: tables
            .into_values()
            .map(|(mut t, mut cols)| {
                cols.sort_by_key(|(p, _)| *p);
                t.columns = cols.into_iter().map(|(_, c)| c).collect();
                t
            })
            .collect(),
    };
    file.sort();
    file
}

async fn mysql(conn: &mut sqlx::MySqlConnection, timeout: Duration) -> Result<Vec<Row>> {
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| explain(&e, "could not talk to MySQL/MariaDB"))?;
    let limit = if version.contains("MariaDB") {
        sqlx::query("SET SESSION max_statement_time = ?").bind(timeout.as_secs_f64())
    } else {
        sqlx::query("SET SESSION MAX_EXECUTION_TIME = ?")
            .bind(timeout.as_millis().min(u32::MAX as u128) as u64)
    };
    limit
        .execute(&mut *conn)
        .await
        .map_err(|e| explain(&e, "could not set the statement time limit"))?;
    conn.execute("START TRANSACTION READ ONLY")
        .await
        .map_err(|e| explain(&e, "could not start a read-only transaction"))?;
    type R = (
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        Option<String>,
        i64,
    );
    let got: std::result::Result<Vec<R>, _> = sqlx::query_as(MYSQL).fetch_all(&mut *conn).await;
    let _ = conn.execute("ROLLBACK").await;
    let got = got.map_err(|e| explain(&e, "could not read the catalogue (information_schema)"))?;
    Ok(got
        .into_iter()
        .map(
            |(table, kind, tc, column, ty, nullable, comment, position)| {
                let view = kind.contains("VIEW");
                Row {
                    schema: None,
                    table,
                    view,
                    // MySQL writes `VIEW` as the comment of every view
                    table_comment: tc.filter(|c| !(view && c == "VIEW")),
                    column,
                    ty,
                    nullable: nullable == "YES",
                    comment,
                    position,
                }
            },
        )
        .collect())
}

async fn postgres(conn: &mut sqlx::PgConnection, timeout: Duration) -> Result<Vec<Row>> {
    conn.execute("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .map_err(|e| explain(&e, "could not start a read-only transaction"))?;
    let got = async {
        sqlx::query("SELECT set_config('statement_timeout', $1, true)")
            .bind(timeout.as_millis().to_string())
            .execute(&mut *conn)
            .await?;
        type R = (
            Option<String>,
            String,
            bool,
            Option<String>,
            String,
            String,
            bool,
            Option<String>,
            i64,
        );
        sqlx::query_as::<_, R>(POSTGRES).fetch_all(&mut *conn).await
    }
    .await;
    let _ = conn.execute("ROLLBACK").await;
    let got = got.map_err(|e| explain(&e, "could not read the catalogue (pg_catalog)"))?;
    Ok(got
        .into_iter()
        .map(
            |(schema, table, view, tc, column, ty, nullable, comment, position)| Row {
                schema,
                table,
                view,
                table_comment: tc,
                column,
                ty,
                nullable,
                comment,
                position,
            },
        )
        .collect())
}

async fn sqlite(conn: &mut sqlx::SqliteConnection) -> Result<Vec<Row>> {
    type R = (String, String, String, String, i64, i64, i64);
    let got: Vec<R> = sqlx::query_as(SQLITE)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| explain(&e, "could not read the catalogue (sqlite_master)"))
        .context("SQLite")?;
    Ok(got
        .into_iter()
        .map(|(table, kind, column, ty, notnull, pk, cid)| {
            // an INTEGER PRIMARY KEY is the row id: never NULL, whatever `notnull` says
            let rowid = pk == 1 && ty.eq_ignore_ascii_case("integer");
            Row {
                schema: None,
                table,
                view: kind == "view",
                table_comment: None,
                column,
                ty: if ty.is_empty() {
                    "any".into()
                } else {
                    ty.to_lowercase()
                },
                nullable: notnull == 0 && !rowid,
                comment: None,
                position: cid,
            }
        })
        .collect())
}
