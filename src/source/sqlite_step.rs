//! Steps a prepared SQLite statement through SQLite's C API (`libsqlite3-sys`, the
//! library sqlx bundles), so that a huge value costs bounded memory.
//!
//! Written by hand because sqlx cannot do this: its row type copies every value of a
//! row (`sqlite3_value_dup`) before the caller can see how big it is, and it does not
//! check that copy (a NULL from a failed allocation is turned into a `NonNull`), so
//! neither a size check nor a heap limit can be put in front of it. Here:
//!
//! - each value's size is read (`sqlite3_column_bytes`) before anything is copied, and
//!   a value over the cell limit stops the export with its row and column;
//! - SQLite's own memory is capped for the export with `sqlite3_hard_heap_limit64`
//!   ([`HeapLimit`]): SQLite has no streaming for a value, it builds it whole (a
//!   `printf('%.*c', 500000000, 'x')`, a `group_concat` over a big table), so a value
//!   that would need far more than the cell limit fails inside SQLite with
//!   `SQLITE_NOMEM` instead of taking the machine's memory. SQLite is built to survive
//!   a failed allocation (its test suite fails every one in turn): the statement ends
//!   with the error and the connection stays usable.
//!
//! sqlx still opens the connection, prepares the statement once for the column names
//! and declared types (its type inference), and owns the connection: the raw handle
//! is used only while sqlx's lock on it is held (`LockedSqliteHandle`).

use std::borrow::Cow;
use std::ffi::{CStr, c_char, c_int};
use std::ptr::NonNull;

use libsqlite3_sys as ffi;

use crate::catalog::query::ParamValue;
use crate::guard::params::Bound;

/// How much memory SQLite may hold during an export with cell limit `max_cell`: a value
/// at the limit is built by doubling a buffer (`printf`, `replace`, `group_concat`), so
/// up to about three times its size is live at once; plus room for the page cache,
/// sorting and the statement itself.
pub(super) fn heap_budget(max_cell: u64) -> i64 {
    let bytes = max_cell.saturating_mul(4).saturating_add(64 << 20);
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Caps SQLite's memory (process-wide) while it lives; the previous cap comes back on
/// drop. Exports run one at a time, so nothing else is under the cap meanwhile.
pub(super) struct HeapLimit {
    previous: i64,
}

impl HeapLimit {
    pub(super) fn set(bytes: i64) -> HeapLimit {
        // SAFETY: sets one global under SQLite's own mutex; any value is valid
        let previous = unsafe { ffi::sqlite3_hard_heap_limit64(bytes) };
        HeapLimit { previous }
    }
}

impl Drop for HeapLimit {
    fn drop(&mut self) {
        // SAFETY: as in `set`
        unsafe { ffi::sqlite3_hard_heap_limit64(self.previous) };
    }
}

/// An error SQLite reported: its extended result code and its message, shaped as a
/// sqlx database error so that `source::explain_query_error` phrases it exactly as an
/// error that came through sqlx (same codes, same redaction).
#[derive(Debug)]
pub(super) struct StepError {
    pub(super) code: c_int,
    message: String,
}

impl StepError {
    /// The error SQLite holds for `db` after `rc`.
    fn of(db: NonNull<ffi::sqlite3>, rc: c_int) -> StepError {
        // SAFETY: db is an open connection; errmsg returns a string SQLite owns, valid
        // until the next call on db, copied here at once
        let message = unsafe {
            let p = ffi::sqlite3_errmsg(db.as_ptr());
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        // SAFETY: db is an open connection
        let extended = unsafe { ffi::sqlite3_extended_errcode(db.as_ptr()) };
        let code = if extended & 0xff == rc & 0xff {
            extended
        } else {
            rc
        };
        StepError { code, message }
    }

    /// SQLite could not get memory under the cap, or a value passed SQLite's own
    /// length limit (`SQLITE_TOOBIG`, 1,000,000,000 bytes).
    pub(super) fn is_out_of_room(&self) -> bool {
        matches!(self.code & 0xff, ffi::SQLITE_NOMEM | ffi::SQLITE_TOOBIG)
    }

    pub(super) fn into_sqlx(self) -> sqlx::Error {
        sqlx::Error::Database(Box::new(self))
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for StepError {}

impl sqlx::error::DatabaseError for StepError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

/// A value's storage class, as `sqlite3_column_type` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Null,
    Integer,
    Real,
    Text,
    Blob,
}

/// One prepared statement on a connection sqlx has locked for us; finalized on drop.
pub(super) struct Stmt {
    db: NonNull<ffi::sqlite3>,
    raw: NonNull<ffi::sqlite3_stmt>,
}

impl Stmt {
    /// Prepares `sql`, which must be exactly one statement.
    ///
    /// # Safety
    /// `db` is an open connection no other thread uses while the `Stmt` lives (sqlx's
    /// `LockedSqliteHandle` is held for at least as long).
    pub(super) unsafe fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Stmt, StepError> {
        let len = c_int::try_from(sql.len()).map_err(|_| StepError {
            code: ffi::SQLITE_TOOBIG,
            message: "statement too long".into(),
        })?;
        let mut raw: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        let mut tail: *const c_char = std::ptr::null();
        // SAFETY: sql outlives the call and len is its length; raw and tail are out
        // parameters
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr().cast(), len, &mut raw, &mut tail)
        };
        if rc != ffi::SQLITE_OK {
            if !raw.is_null() {
                // SAFETY: a statement SQLite gave us, finalized once
                unsafe { ffi::sqlite3_finalize(raw) };
            }
            return Err(StepError::of(db, rc));
        }
        let Some(raw) = NonNull::new(raw) else {
            return Err(StepError {
                code: ffi::SQLITE_MISUSE,
                message: "the statement is empty".into(),
            });
        };
        let stmt = Stmt { db, raw };
        // the rest of the text must be nothing: one statement, as the guard checked
        let used = (tail as usize).saturating_sub(sql.as_ptr() as usize);
        if !sql.get(used..).unwrap_or("").trim().is_empty() {
            return Err(StepError {
                code: ffi::SQLITE_MISUSE,
                message: "more than one statement".into(),
            });
        }
        Ok(stmt)
    }

    pub(super) fn column_count(&self) -> usize {
        // SAFETY: a live statement
        let n = unsafe { ffi::sqlite3_column_count(self.raw.as_ptr()) };
        usize::try_from(n).unwrap_or(0)
    }

    /// Binds `values` to the statement's `?` placeholders 1, 2, … in order, as
    /// `source::bind_all` does for sqlx (a boolean is the integer 1 or 0).
    pub(super) fn bind(&mut self, values: &[&Bound]) -> Result<(), StepError> {
        for (i, v) in values.iter().enumerate() {
            let at = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
            let p = self.raw.as_ptr();
            // SAFETY: a live statement; text is copied by SQLite (SQLITE_TRANSIENT)
            let rc = unsafe {
                match v {
                    Bound::Value(ParamValue::Int(x)) => ffi::sqlite3_bind_int64(p, at, *x),
                    Bound::Value(ParamValue::Float(x)) => ffi::sqlite3_bind_double(p, at, *x),
                    Bound::Value(ParamValue::Bool(b)) => {
                        ffi::sqlite3_bind_int64(p, at, i64::from(*b))
                    }
                    Bound::Value(ParamValue::Text(s)) => bind_text(p, at, s),
                    Bound::Time { local, .. } => bind_text(p, at, local),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(StepError::of(self.db, rc));
            }
        }
        Ok(())
    }

    /// Runs the statement to its next row: `true` when a row is there.
    pub(super) fn step(&mut self) -> Result<bool, StepError> {
        // SAFETY: a live statement
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(StepError::of(self.db, rc)),
        }
    }

    /// The storage class of column `i` of the current row.
    pub(super) fn class(&self, i: usize) -> Class {
        // SAFETY: a live statement on a row; SQLite checks i
        match unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), col(i)) } {
            ffi::SQLITE_INTEGER => Class::Integer,
            ffi::SQLITE_FLOAT => Class::Real,
            ffi::SQLITE_BLOB => Class::Blob,
            ffi::SQLITE_NULL => Class::Null,
            _ => Class::Text,
        }
    }

    pub(super) fn int64(&self, i: usize) -> i64 {
        // SAFETY: a live statement on a row
        unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), col(i)) }
    }

    pub(super) fn double(&self, i: usize) -> f64 {
        // SAFETY: a live statement on a row
        unsafe { ffi::sqlite3_column_double(self.raw.as_ptr(), col(i)) }
    }

    /// The size in bytes of column `i` as text (`Class::Text`) or as a blob: SQLite
    /// knows it without copying the value. Call [`Stmt::text`] / [`Stmt::blob`] after
    /// this, never before (the order the SQLite documentation asks for).
    pub(super) fn len(&self, i: usize) -> usize {
        // SAFETY: a live statement on a row
        let n = unsafe { ffi::sqlite3_column_bytes(self.raw.as_ptr(), col(i)) };
        usize::try_from(n).unwrap_or(0)
    }

    /// Column `i` as UTF-8 bytes (not checked to be valid UTF-8), borrowed until the
    /// next call on this statement.
    pub(super) fn text(&self, i: usize) -> Result<&[u8], StepError> {
        // SAFETY: a live statement on a row
        let p = unsafe { ffi::sqlite3_column_text(self.raw.as_ptr(), col(i)) };
        self.bytes(p, i)
    }

    /// Column `i` as bytes, borrowed until the next call on this statement.
    pub(super) fn blob(&self, i: usize) -> Result<&[u8], StepError> {
        // SAFETY: a live statement on a row
        let p = unsafe { ffi::sqlite3_column_blob(self.raw.as_ptr(), col(i)) };
        self.bytes(p.cast(), i)
    }

    /// The bytes at `p`, which `sqlite3_column_text` / `_blob` just returned for column
    /// `i`: a NULL pointer is an empty value, or a failed allocation when the size says
    /// there is something.
    fn bytes(&self, p: *const u8, i: usize) -> Result<&[u8], StepError> {
        let n = self.len(i);
        if p.is_null() {
            return if n == 0 {
                Ok(&[])
            } else {
                Err(StepError::of(self.db, ffi::SQLITE_NOMEM))
            };
        }
        // SAFETY: SQLite keeps the value's n bytes at p until the next step or
        // conversion of this column; the borrow of self keeps both from happening
        Ok(unsafe { std::slice::from_raw_parts(p, n) })
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: finalized exactly once, here
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}

fn col(i: usize) -> c_int {
    c_int::try_from(i).unwrap_or(c_int::MAX)
}

/// # Safety
/// `p` is a live statement.
unsafe fn bind_text(p: *mut ffi::sqlite3_stmt, at: c_int, s: &str) -> c_int {
    let Ok(n) = c_int::try_from(s.len()) else {
        return ffi::SQLITE_TOOBIG;
    };
    // SAFETY: s is valid for n bytes; SQLITE_TRANSIENT makes SQLite copy it now
    unsafe { ffi::sqlite3_bind_text(p, at, s.as_ptr().cast(), n, ffi::SQLITE_TRANSIENT()) }
}
