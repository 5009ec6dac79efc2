//! Database errors without data values.
//!
//! Servers quote the offending value in many messages (PostgreSQL `invalid input
//! syntax for type integer: "taro@…"`, MySQL `Truncated incorrect DOUBLE value: '…'`,
//! `Duplicate entry '…'`). Every database error sqlcourier shows goes through
//! [`safe_db_error`]: the server's own text is kept only for error codes known not to
//! quote data (syntax, unknown names, permissions, time limits, read-only); every other
//! code, and any code not listed, gets a fixed explanation. The result is what reaches
//! stdout, stderr, the JSON report, the job summary, Slack, the PR comment and the
//! Drive description.
//!
//! Even for those codes a query can turn a value into a name (`CAST(email AS
//! regclass)`), so when the statement is known ([`safe_db_error_in`]) the server's text
//! keeps only what echoes the statement ([`super::echo::echo_only`]), and a text in
//! which the personal-data detectors still find an e-mail address, phone or card
//! number is replaced by the fixed explanation.
//!
//! To explain more codes in plain words, extend [`explain_code`]; to let a code's
//! server text through, add it to [`PG_SAFE_CLASSES`] or [`MYSQL_SAFE`] only after
//! checking that its message can never contain a value.

use std::fmt;

/// A database error as it may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeDbError {
    /// `SQLSTATE 22P02` (PostgreSQL), `MySQL error 1292` (MySQL/MariaDB), `SQLite
    /// error 1`; `None` for errors that are not the server's (network, TLS, URL).
    pub code: Option<String>,
    /// 1-based character position in the statement as sent, when the server gave one.
    pub position: Option<usize>,
    /// The explanation: the server's text for safe codes, a fixed text otherwise.
    pub text: String,
}

impl fmt::Display for SafeDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        match (&self.code, self.position) {
            (Some(c), Some(p)) => write!(f, " ({c}, at character {p} of the statement)"),
            (Some(c), None) => write!(f, " ({c})"),
            (None, Some(p)) => write!(f, " (at character {p} of the statement)"),
            (None, None) => Ok(()),
        }
    }
}

/// PostgreSQL SQLSTATE classes whose messages name only things written in the query
/// or the server's state, never a value: connection (08), feature not supported (0A),
/// cardinality (21), transaction state (25, "read-only transaction"), authorization
/// (28), catalog/schema names (3D, 3F), rollback (40), syntax and access (42),
/// resources (53), limits (54), object state (55), operator intervention (57,
/// "canceling statement due to statement timeout").
pub const PG_SAFE_CLASSES: &[&str] = &[
    "08", "0A", "21", "25", "28", "3D", "3F", "40", "42", "53", "54", "55", "57",
];

/// MySQL/MariaDB error numbers whose messages quote only names from the query,
/// the user/host, or nothing.
pub const MYSQL_SAFE: &[u16] = &[
    1040, // too many connections
    1044, 1045, // access denied for user
    1046, // no database selected
    1049, // unknown database
    1051, // unknown table
    1052, // column is ambiguous
    1054, // unknown column
    1055, // not in GROUP BY
    1064, // syntax error near (query text)
    1109, // unknown table in …
    1111, // invalid use of group function
    1140, // mixing of GROUP columns
    1142, 1143, // command denied
    1146, // table doesn't exist
    1149, // syntax error
    1203, // too many connections for user
    1205, // lock wait timeout
    1213, // deadlock
    1222, // different number of columns (UNION)
    1226, // resource limit
    1227, // access denied; needs privilege
    1235, // not supported yet
    1241, // operand should contain N columns
    1242, // subquery returns more than 1 row
    1248, // derived table needs an alias
    1267, // illegal mix of collations
    1271, // illegal mix of collations
    1305, // function does not exist
    1317, // query execution was interrupted
    1356, // view references invalid tables
    1370, // execute command denied
    1582, 1583, 1584, // incorrect parameter count/names to a function
    1630, // function does not exist
    1792, // cannot execute statement in a READ ONLY transaction
    1969, // MariaDB: max_statement_time exceeded
    3024, // MySQL: maximum statement execution time exceeded
    4031, // disconnected by the server (idle)
];

/// A fixed, value-free explanation for codes whose server text may quote data.
pub fn explain_code(code: &str) -> Option<&'static str> {
    Some(match code {
        // PostgreSQL
        "22P02" | "22P03" | "22P04" => {
            "a value could not be read as the type it is compared with or cast to"
        }
        "22003" => "a number is out of range for its type",
        "22012" => "division by zero",
        "22001" => "a text value is too long for its type",
        "22007" | "22008" | "22009" | "22015" => {
            "a date, time or interval value is not valid or out of range"
        }
        "22004" | "22002" => "a NULL value was used where it is not allowed",
        "22021" | "22P05" => "a text value has a character the encoding cannot hold",
        "2201B" => "a regular expression is not valid",
        "22025" | "22019" | "2200C" => "an escape sequence is not valid",
        "2202E" => "an array subscript is out of range",
        "22023" => "a function was given a value it does not accept",
        "22030" | "22031" | "22032" | "22033" | "22034" | "22035" | "22036" | "22037" | "22038"
        | "22039" | "2203A" | "2203B" | "2203C" | "2203D" | "2203E" | "2203F" => {
            "a JSON value or path is not valid"
        }
        "23505" => "a value would break a uniqueness rule",
        "P0001" => "a database function raised an error",
        // MySQL / MariaDB
        "1292" | "1366" | "1367" | "1411" | "1525" | "1918" | "1265" => {
            "a value could not be converted to the type it is compared with or cast to"
        }
        "1062" | "1586" | "1169" => "a value would break a uniqueness rule",
        "1264" | "1690" => "a number is out of range for its type",
        "1406" => "a text value is too long for its type",
        "1365" => "division by zero",
        "3140" | "3141" | "3143" | "3146" | "3147" | "3149" => "a JSON value or path is not valid",
        "1139" | "3685" | "3686" | "3687" | "3688" | "3689" | "3690" | "3691" | "3692" | "3693"
        | "3694" | "3695" | "3696" | "3697" | "3698" | "3699" => {
            "a regular expression is not valid or failed"
        }
        _ => return None,
    })
}

/// The one place a database error becomes text: its code, position, and a text that
/// cannot carry a data value. Secrets (URLs, passwords) are scrubbed as well.
pub fn safe_db_error(e: &sqlx::Error) -> SafeDbError {
    safe_db_error_in(e, None)
}

/// [`safe_db_error`] for an error of `statement` (the text as sent): the server's
/// words for a safe code are kept only where they echo the statement.
pub fn safe_db_error_in(e: &sqlx::Error, statement: Option<&str>) -> SafeDbError {
    use sqlx::Error;
    let server = |code: &str, message: &str| server_text(code, message, statement);
    match e {
        Error::Database(d) => {
            if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let code = pg.code().to_string();
                let position = match pg.position() {
                    Some(sqlx::postgres::PgErrorPosition::Original(p)) => Some(p),
                    _ => None,
                };
                let text = if PG_SAFE_CLASSES.iter().any(|c| code.starts_with(c)) {
                    server(&code, pg.message())
                } else {
                    fixed(&code, explain_code(&code))
                };
                return SafeDbError {
                    code: Some(format!("SQLSTATE {code}")),
                    position,
                    text,
                };
            }
            if let Some(my) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                let n = my.number();
                let text = if MYSQL_SAFE.contains(&n) {
                    server(&n.to_string(), my.message())
                } else {
                    fixed(&n.to_string(), explain_code(&n.to_string()))
                };
                return SafeDbError {
                    code: Some(format!("MySQL error {n}")),
                    position: None,
                    text,
                };
            }
            // SQLite's messages name tables, columns and functions, never values
            // (`no such column: x`, `UNIQUE constraint failed: t.c`).
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            SafeDbError {
                code: d.code().map(|c| format!("SQLite error {c}")),
                position: None,
                text: server(&code, d.message()),
            }
        }
        // what the driver could not decode may be a value: say only that
        Error::ColumnDecode { index, .. } => SafeDbError {
            code: None,
            position: None,
            text: format!("a value in result column {index} could not be read"),
        },
        Error::Decode(_) => SafeDbError {
            code: None,
            position: None,
            text: "a value from the database could not be read".into(),
        },
        Error::Protocol(_) => SafeDbError {
            code: None,
            position: None,
            text: "the database sent something sqlcourier did not understand".into(),
        },
        other => SafeDbError {
            code: None,
            position: None,
            text: super::scrub(&super::cause_chain(other)),
        },
    }
}

/// The server's text for a code that normally quotes no data: cut to what echoes the
/// statement (when known), scrubbed of secrets, and dropped for the fixed explanation
/// if a personal-data detector still finds something in it.
fn server_text(code: &str, message: &str, statement: Option<&str>) -> String {
    let kept = match statement {
        Some(sql) => super::echo::echo_only(message, sql),
        None => message.to_string(),
    };
    let kept = super::scrub(&kept);
    if crate::transform::pii::sniff(kept.as_bytes()).is_some() {
        return fixed(code, explain_code(code));
    }
    kept
}

/// The message a server gave for `e`, as far as it may be shown: for the advice that
/// names the column or table (`db_advice`). Empty for codes whose text is never shown.
pub fn shown_message(e: &sqlx::Error, statement: Option<&str>) -> String {
    let s = safe_db_error_in(e, statement);
    match s.text.strip_prefix("the database refused the query") {
        Some(_) => String::new(),
        None => s.text,
    }
}

fn fixed(code: &str, known: Option<&str>) -> String {
    match known {
        Some(t) => format!("the database refused the query: {t}"),
        None => format!(
            "the database refused the query with code {code}; its own message is not shown because messages of this kind can quote data values"
        ),
    }
}
