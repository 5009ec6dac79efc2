//! SQLite: the embedded demo database (and small local files). Opened read-only with
//! `PRAGMA query_only`. SQLite has no server-side time limit and its steps run on a
//! worker thread an async timer cannot stop, so the limit is a progress handler inside
//! SQLite: every 1,000 virtual-machine instructions it checks the deadline, and past it
//! SQLite interrupts the statement itself.

use std::str::FromStr;

use anyhow::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Column, ConnectOptions, Connection, Executor, Statement, TypeInfo};

use super::sqlite_step::{Class, HeapLimit, StepError, Stmt, heap_budget};
use super::{CellVec, Export, RowSink, explain_db_error, explain_query_error, push_hex};
use crate::guard::params::Bound;
use crate::guard::statement::Placeholders;

pub struct SqliteSource {
    conn: SqliteConnection,
}

impl SqliteSource {
    pub async fn connect(url: &str) -> Result<SqliteSource> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| explain_db_error(&e, "the SQLite URL is not valid"))?
            .read_only(true)
            .disable_statement_logging();
        let mut conn = opts
            .connect()
            .await
            .map_err(|e| explain_db_error(&e, "could not open the SQLite database"))?;
        conn.execute("PRAGMA query_only = ON")
            .await
            .map_err(|e| explain_db_error(&e, "could not make the SQLite connection read-only"))?;
        Ok(SqliteSource { conn })
    }

    /// The open connection, for the schema catalogue query (`schema::pull`).
    pub(crate) fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }

    pub async fn export(&mut self, job: &Export<'_>, sink: &mut dyn RowSink) -> Result<()> {
        self.conn
            .execute("BEGIN")
            .await
            .map_err(|e| explain_db_error(&e, "could not start a transaction"))?;
        let deadline = std::time::Instant::now() + job.timeout;
        let expired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let flag = expired.clone();
            let mut h = self
                .conn
                .lock_handle()
                .await
                .map_err(|e| explain_db_error(&e, "could not prepare the SQLite connection"))?;
            h.set_progress_handler(1000, move || {
                if std::time::Instant::now() < deadline {
                    true
                } else {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    false
                }
            });
        }
        let r = self.stream(job, sink).await;
        if let Ok(mut h) = self.conn.lock_handle().await {
            h.remove_progress_handler();
        }
        let _ = self.conn.execute("ROLLBACK").await;
        if expired.load(std::sync::atomic::Ordering::Relaxed) {
            anyhow::bail!(
                "the query ran longer than its time limit ({}s) and was stopped",
                job.timeout.as_secs()
            );
        }
        r
    }

    async fn stream(&mut self, job: &Export<'_>, sink: &mut dyn RowSink) -> Result<()> {
        let (sql, order) = job
            .statement
            .render(Placeholders::Question)
            .map_err(|why| anyhow::anyhow!("the query cannot be sent exactly as checked: {why}"))?;
        let stmt = (&mut self.conn).prepare(sql.as_str()).await.map_err(|e| {
            explain_query_error(&e, "the database could not prepare the query", &sql)
        })?;
        let names = super::column_names(stmt.columns());
        // a declared type gives the column's kind; a column without one (an
        // expression: COUNT(*), CASE, VALUES) takes each value's own storage class
        let declared: Vec<Option<super::ColumnKind>> = (stmt.columns().iter())
            .map(|c| match c.type_info().name() {
                "NULL" => None,
                name => Some(super::kind::sqlite(name)),
            })
            .collect();
        let column_kinds: Vec<super::ColumnKind> =
            declared.iter().map(|k| k.unwrap_or_default()).collect();
        sink.kinds(&column_kinds)?;
        sink.columns(&names)?;
        let values: Vec<&Bound> = (order.iter())
            .map(|name| {
                job.params
                    .get(name)
                    .ok_or_else(|| anyhow::anyhow!("no value for parameter :{name}"))
            })
            .collect::<Result<_>>()?;
        let mut handle = self
            .conn
            .lock_handle()
            .await
            .map_err(|e| explain_db_error(&e, "could not prepare the SQLite connection"))?;
        let db = handle.as_raw_handle();
        let work = || -> Result<()> {
            let _cap = HeapLimit::set(heap_budget(job.max_cell_bytes));
            // SAFETY: sqlx's lock on the connection (`handle`) is held until after the
            // statement is finalized at the end of this closure
            let mut st = unsafe { Stmt::prepare(db, &sql) }.map_err(|e| {
                explain_query_error(
                    &e.into_sqlx(),
                    "the database could not prepare the query",
                    &sql,
                )
            })?;
            anyhow::ensure!(
                st.column_count() == names.len(),
                "the query cannot be sent exactly as checked: SQLite prepared {} columns, not {}",
                st.column_count(),
                names.len()
            );
            st.bind(&values).map_err(|e| {
                explain_query_error(
                    &e.into_sqlx(),
                    "the database could not take the parameters",
                    &sql,
                )
            })?;
            read_rows(&mut st, job, &names, &declared, column_kinds, &sql, sink)
        };
        // the steps block: off the async worker when the runtime has others
        let r = match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
            _ => work(),
        };
        drop(handle);
        r
    }
}

/// Reads every row of `st` into `sink`. Each value's size is looked at before it is
/// copied, so a value over the cell limit costs no copy.
fn read_rows(
    st: &mut Stmt,
    job: &Export<'_>,
    names: &[String],
    declared: &[Option<super::ColumnKind>],
    mut column_kinds: Vec<super::ColumnKind>,
    sql: &str,
    sink: &mut dyn RowSink,
) -> Result<()> {
    let n = names.len();
    let mut row_kinds = column_kinds.clone();
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); n];
    let mut present = vec![false; n];
    let mut storage = CellVec::with_capacity(n);
    let mut row_no = 0u64;
    loop {
        match st.step() {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) if e.is_out_of_room() => {
                return Err(row_out_of_room(row_no + 1, job.max_cell_bytes));
            }
            Err(e) => {
                return Err(explain_query_error(
                    &e.into_sqlx(),
                    "the query failed while reading rows",
                    sql,
                ));
            }
        }
        row_no += 1;
        for i in 0..n {
            let out = &mut bufs[i];
            out.clear();
            let class = st.class(i);
            present[i] = class != Class::Null;
            if !present[i] {
                continue;
            }
            if declared[i].is_none() {
                row_kinds[i] = super::kind::sqlite(match class {
                    Class::Integer => "INTEGER",
                    Class::Real => "REAL",
                    Class::Blob => "BLOB",
                    _ => "TEXT",
                });
            }
            let too_large = |len: usize| {
                super::cell_too_large(row_no, &names[i], Some(len), job.max_cell_bytes)
            };
            let read_failed = |e: StepError| {
                if e.is_out_of_room() {
                    row_out_of_room(row_no, job.max_cell_bytes)
                } else {
                    explain_query_error(&e.into_sqlx(), "the query failed while reading rows", sql)
                }
            };
            match class {
                Class::Integer => {
                    out.extend_from_slice(itoa::Buffer::new().format(st.int64(i)).as_bytes());
                }
                Class::Real => super::float::push_f64(out, st.double(i)),
                Class::Blob => {
                    // written as 0x and two hex digits a byte
                    let shown = st.len(i).saturating_mul(2).saturating_add(2);
                    if shown as u64 > job.max_cell_bytes {
                        return Err(too_large(shown));
                    }
                    push_hex(out, st.blob(i).map_err(read_failed)?);
                }
                _ => {
                    let len = st.len(i);
                    if len as u64 > job.max_cell_bytes {
                        return Err(too_large(len));
                    }
                    let text = st.text(i).map_err(read_failed)?;
                    if std::str::from_utf8(text).is_err() {
                        anyhow::bail!(
                            "row {row_no}, column `{}`: a text value is not valid UTF-8, so the export was stopped and nothing was delivered. What to do: select it as hex(...) or fix the stored text",
                            names[i]
                        );
                    }
                    out.extend_from_slice(text);
                }
            }
        }
        if row_kinds != column_kinds {
            column_kinds.clone_from(&row_kinds);
            sink.kinds(&column_kinds)?;
        }
        storage.emit(&bufs, &present, sink)?;
    }
}

/// SQLite ran out of the memory it may use ([`heap_budget`]) while building row `row`:
/// a value far over the cell limit (SQLite builds a value whole, so the column cannot
/// be named).
fn row_out_of_room(row: u64, limit: u64) -> anyhow::Error {
    let budget = heap_budget(limit) >> 20;
    crate::failure::failure(
        crate::failure::FailureKind::Query,
        format!(
            "row {row}: SQLite needed more than the {budget} MiB it may use to build this row, which means a value in it is far larger than the cell limit of {limit} bytes, so the export was stopped and nothing was delivered. What to do: select a shorter part of the long column (for example substr(col, 1, 1000)), or ask an engineer to raise `max_cell_bytes` for this database in sqlcourier.yaml"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 17 of issue 16: the SQLite connection sqlcourier opens refuses a write, even
    /// on a file the process could write.
    #[tokio::test]
    async fn sqlite_connection_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.sqlite").display());
        let mut w = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        w.execute("CREATE TABLE t (id INTEGER)").await.unwrap();
        w.close().await.unwrap();
        let mut src = SqliteSource::connect(&url).await.unwrap();
        for write in [
            "INSERT INTO t VALUES (1)",
            "CREATE TABLE u (id INTEGER)",
            "DELETE FROM t",
        ] {
            let e = src.conn.execute(write).await.unwrap_err().to_string();
            assert!(
                e.contains("readonly") || e.contains("read-only"),
                "{write}: {e}"
            );
        }
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut src.conn)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
