//! SQLite: the embedded demo database (and small local files). Opened read-only with
//! `PRAGMA query_only`. SQLite has no server-side time limit and its steps run on a
//! worker thread an async timer cannot stop, so the limit is a progress handler inside
//! SQLite: every 1,000 virtual-machine instructions it checks the deadline, and past it
//! SQLite interrupts the statement itself.

use std::str::FromStr;

use anyhow::Result;
use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteValueRef};
use sqlx::{
    Column, ConnectOptions, Connection, Decode, Executor, Row, Sqlite, Statement, TypeInfo,
    ValueRef,
};

use super::{CellVec, Export, RowSink, explain_db_error, explain_query_error, push_hex};
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
        let mut column_kinds: Vec<super::ColumnKind> =
            declared.iter().map(|k| k.unwrap_or_default()).collect();
        let mut row_kinds = column_kinds.clone();
        sink.kinds(&column_kinds)?;
        sink.columns(&names)?;
        let q = super::bind_all(stmt.query(), &order, job.params)?;
        let n = names.len();
        let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); n];
        let mut present = vec![false; n];
        let mut storage = CellVec::with_capacity(n);
        let mut rows = q.fetch(&mut self.conn);
        let mut row_no = 0u64;
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(|e| explain_query_error(&e, "the query failed while reading rows", &sql))?
        {
            for i in 0..n {
                let out = &mut bufs[i];
                out.clear();
                let v: SqliteValueRef<'_> = row.try_get_raw(i)?;
                present[i] = !v.is_null();
                if !present[i] {
                    continue;
                }
                // the value's storage class
                let class: &'static str = match v.type_info().name() {
                    "INTEGER" => "INTEGER",
                    "REAL" => "REAL",
                    "BLOB" => "BLOB",
                    _ => "TEXT",
                };
                if declared[i].is_none() {
                    row_kinds[i] = super::kind::sqlite(class);
                }
                match class {
                    "INTEGER" => {
                        let x = <i64 as Decode<Sqlite>>::decode(v).map_err(anyhow::Error::msg)?;
                        out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes());
                    }
                    "REAL" => {
                        let x = <f64 as Decode<Sqlite>>::decode(v).map_err(anyhow::Error::msg)?;
                        super::float::push_f64(out, x);
                    }
                    "BLOB" => {
                        let x = <&[u8] as Decode<Sqlite>>::decode(v).map_err(anyhow::Error::msg)?;
                        push_hex(out, x);
                    }
                    _ => {
                        let x = <&str as Decode<Sqlite>>::decode(v).map_err(anyhow::Error::msg)?;
                        out.extend_from_slice(x.as_bytes());
                    }
                }
            }
            row_no += 1;
            if let Some(i) = (0..n).find(|&i| bufs[i].len() as u64 > job.max_cell_bytes) {
                return Err(super::cell_too_large(
                    row_no,
                    &names[i],
                    Some(bufs[i].len()),
                    job.max_cell_bytes,
                ));
            }
            if row_kinds != column_kinds {
                column_kinds.clone_from(&row_kinds);
                sink.kinds(&column_kinds)?;
            }
            storage.emit(&bufs, &present, sink)?;
        }
        Ok(())
    }
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
