//! Database errors at run time explained in the requester's words, by (driver, code):
//! which column does not exist, a syntax error, a missing permission, the time limit.
//! Kept apart from how the error text itself is made value-free (`crate::redact`), so
//! each can change alone. The advice names identifiers (a column, a table), never a
//! value.

use crate::failure::FailureKind;

/// Which database said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// MySQL / MariaDB: `number` is the error number (1054), `code` the SQLSTATE.
    Mysql,
    /// PostgreSQL: `code` is the SQLSTATE (42703).
    Postgres,
    /// SQLite: the message is all there is (`no such column: x`).
    Sqlite,
}

/// The kind of a database error this module has advice for.
fn kind(db: Db, code: Option<&str>, number: Option<u16>, message: &str) -> Option<Kind> {
    Some(match (db, number, code) {
        (Db::Mysql, Some(1054), _) | (Db::Postgres, _, Some("42703")) => Kind::UnknownColumn,
        (Db::Mysql, Some(1146), _) | (Db::Postgres, _, Some("42P01")) => Kind::UnknownTable,
        (Db::Mysql, Some(1052), _) | (Db::Postgres, _, Some("42702")) => Kind::Ambiguous,
        (Db::Mysql, Some(1064), _) | (Db::Postgres, _, Some("42601")) => Kind::Syntax,
        (Db::Mysql, Some(1305), _) | (Db::Postgres, _, Some("42883")) => Kind::UnknownFunction,
        (Db::Mysql, Some(1142 | 1143 | 1044 | 1227 | 1370), _)
        | (Db::Postgres, _, Some("42501")) => Kind::Permission,
        (Db::Mysql, Some(3024 | 1969 | 1317 | 1028), _) | (Db::Postgres, _, Some("57014")) => {
            Kind::Timeout
        }
        (Db::Postgres, _, Some("22P02" | "22007" | "22008")) => Kind::BadValue,
        (Db::Sqlite, _, _) => {
            let m = message.to_ascii_lowercase();
            if m.starts_with("no such column") {
                Kind::UnknownColumn
            } else if m.starts_with("no such table") {
                Kind::UnknownTable
            } else if m.starts_with("ambiguous column") {
                Kind::Ambiguous
            } else if m.contains("syntax error") {
                Kind::Syntax
            } else if m.starts_with("no such function") {
                Kind::UnknownFunction
            } else if m.contains("interrupted") {
                Kind::Timeout
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

/// What to do about a database error, or `None` when there is nothing better to say
/// than the database's own words.
pub fn advice(db: Db, code: Option<&str>, number: Option<u16>, message: &str) -> Option<String> {
    let kind = kind(db, code, number, message)?;
    let name = identifier(message);
    let named = |what: &str| match &name {
        Some(n) => format!("the {what} `{n}`"),
        None => format!("a {what}"),
    };
    Some(match kind {
        Kind::UnknownColumn => format!(
            "{} does not exist in the tables the query reads: check its spelling and, with several tables, which table it belongs to (`m.email`, not `o.email`); `sqlcourier check` with the schema catalogue lists the real columns",
            named("column")
        ),
        Kind::UnknownTable => format!(
            "{} does not exist, or this database user cannot see it: check the name (and the schema, e.g. `sales.orders`) against the database, or ask the data owner",
            named("table")
        ),
        Kind::Ambiguous => format!(
            "{} is in more than one of the tables the query joins: write it with its table's name or alias in front, e.g. `m.created_at`",
            named("column")
        ),
        Kind::Syntax => "the database could not read the SQL near the place it names: look for a missing comma, a bracket that is not closed, or a word used as a name (quote it); fix it in a new pull request".into(),
        Kind::UnknownFunction => format!(
            "{} does not exist in this database (or not with these arguments): each database has its own function names; fix it in a new pull request",
            named("function")
        ),
        Kind::Permission => "the database user sqlcourier runs as may not read this: ask an operator to grant SELECT on the table, or use another table; a re-run will fail the same way until then".into(),
        Kind::Timeout => "the query ran longer than its time limit and was stopped: filter earlier (a shorter period, an indexed column in WHERE), or raise `timeout:` in the query file in a new pull request".into(),
        Kind::BadValue => "a parameter's value does not fit the column it is compared with (e.g. text compared with a date): check the values under `params:` and the column types".into(),
    })
}

/// Who can fix a database error (see [`crate::failure`]), by its code: the query
/// file (syntax, unknown names, ambiguous columns, bad parameter values), an operator
/// (grants, log-in), or nobody (connection lost, server busy or restarting,
/// deadlocks, time limits: try again). Codes not listed are
/// [`FailureKind::Unknown`].
pub fn failure_kind(db: Db, code: Option<&str>, number: Option<u16>, message: &str) -> FailureKind {
    let transient = match (db, number, code) {
        // too many connections, lock wait, deadlock, server gone / lost, shutdown, killed
        (Db::Mysql, Some(1040 | 1205 | 1213 | 2006 | 2013 | 1053 | 1927 | 1317), _) => true,
        (Db::Postgres, _, Some(c)) => {
            c.starts_with("08")
                || c.starts_with("53")
                || matches!(c, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        }
        (Db::Sqlite, _, _) => {
            let m = message.to_ascii_lowercase();
            m.contains("database is locked") || m.contains("busy")
        }
        _ => false,
    };
    if transient {
        return FailureKind::Transient;
    }
    let login = match (db, number, code) {
        (Db::Mysql, Some(1045 | 1044 | 1698), _) => true,
        (Db::Postgres, _, Some(c)) => c.starts_with("28"),
        _ => false,
    };
    if login {
        return FailureKind::Configuration;
    }
    match kind(db, code, number, message) {
        Some(Kind::Permission) => FailureKind::Configuration,
        Some(Kind::Timeout) => FailureKind::Transient,
        Some(
            Kind::UnknownColumn
            | Kind::UnknownTable
            | Kind::Ambiguous
            | Kind::Syntax
            | Kind::UnknownFunction
            | Kind::BadValue,
        ) => FailureKind::Query,
        // PostgreSQL classes 42 (syntax error or access rule violation: grants were
        // taken above) and 22 (data exception) are the statement's
        None => match (db, code) {
            (Db::Postgres, Some(c)) if c.starts_with("42") || c.starts_with("22") => {
                FailureKind::Query
            }
            _ => FailureKind::Unknown,
        },
    }
}

enum Kind {
    UnknownColumn,
    UnknownTable,
    Ambiguous,
    Syntax,
    UnknownFunction,
    Permission,
    Timeout,
    BadValue,
}

/// The first quoted name in a database message (`'x'`, `"x"`, or after `: `).
fn identifier(message: &str) -> Option<String> {
    for q in ['\'', '"', '`'] {
        if let Some((_, rest)) = message.split_once(q)
            && let Some((name, _)) = rest.split_once(q)
            && is_identifier(name)
        {
            return Some(name.to_string());
        }
    }
    let (_, rest) = message.split_once(": ")?;
    let name = rest.split_whitespace().next()?;
    is_identifier(name).then(|| name.to_string())
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_by_code() {
        use FailureKind::*;
        for (db, code, num, msg, want) in [
            (
                Db::Mysql,
                Some("42S22"),
                Some(1054),
                "Unknown column 'x'",
                Query,
            ),
            (
                Db::Mysql,
                Some("42000"),
                Some(1064),
                "You have an error",
                Query,
            ),
            (
                Db::Postgres,
                Some("42601"),
                None,
                "syntax error at or near",
                Query,
            ),
            (Db::Sqlite, None, None, "no such table: t", Query),
            (
                Db::Mysql,
                Some("42000"),
                Some(1142),
                "SELECT command denied",
                Configuration,
            ),
            (
                Db::Postgres,
                Some("42501"),
                None,
                "permission denied for table t",
                Configuration,
            ),
            (
                Db::Postgres,
                Some("28P01"),
                None,
                "password authentication failed",
                Configuration,
            ),
            (
                Db::Mysql,
                Some("28000"),
                Some(1045),
                "Access denied",
                Configuration,
            ),
            (
                Db::Mysql,
                Some("08S01"),
                Some(1040),
                "Too many connections",
                Transient,
            ),
            (
                Db::Mysql,
                Some("40001"),
                Some(1213),
                "Deadlock found",
                Transient,
            ),
            (
                Db::Postgres,
                Some("53300"),
                None,
                "too many clients",
                Transient,
            ),
            (
                Db::Postgres,
                Some("57P01"),
                None,
                "terminating connection",
                Transient,
            ),
            (
                Db::Postgres,
                Some("57014"),
                None,
                "canceling statement due to statement timeout",
                Transient,
            ),
            (Db::Sqlite, None, None, "database is locked", Transient),
            (
                Db::Postgres,
                Some("42704"),
                None,
                "type \"x\" does not exist",
                Query,
            ),
            (Db::Postgres, Some("XX000"), None, "internal error", Unknown),
        ] {
            assert_eq!(
                failure_kind(db, code, num, msg),
                want,
                "{db:?} {code:?} {num:?} {msg}"
            );
        }
    }

    #[test]
    fn unknown_column_names_the_column_for_every_database() {
        for (db, code, num, msg) in [
            (
                Db::Mysql,
                Some("42S22"),
                Some(1054),
                "Unknown column 'emial' in 'field list'",
            ),
            (
                Db::Postgres,
                Some("42703"),
                None,
                "column \"emial\" does not exist",
            ),
            (Db::Sqlite, Some("1"), None, "no such column: emial"),
        ] {
            let a = advice(db, code, num, msg).unwrap();
            assert!(
                a.starts_with("the column `emial` does not exist"),
                "{db:?}: {a}"
            );
        }
    }

    #[test]
    fn syntax_permission_timeout() {
        let a = advice(
            Db::Mysql,
            Some("42000"),
            Some(1064),
            "You have an error in your SQL syntax",
        )
        .unwrap();
        assert!(a.contains("missing comma"), "{a}");
        // MySQL's SQLSTATE 42000 is also "access denied": the number decides
        let a = advice(
            Db::Mysql,
            Some("42000"),
            Some(1142),
            "SELECT command denied to user 'r'@'h' for table 'salaries'",
        )
        .unwrap();
        assert!(a.contains("grant SELECT"), "{a}");
        let a = advice(
            Db::Postgres,
            Some("57014"),
            None,
            "canceling statement due to statement timeout",
        )
        .unwrap();
        assert!(a.contains("time limit"), "{a}");
        let a = advice(
            Db::Mysql,
            None,
            Some(1969),
            "Query execution was interrupted (max_statement_time exceeded)",
        )
        .unwrap();
        assert!(a.contains("time limit"), "{a}");
        assert!(advice(Db::Postgres, Some("XX000"), None, "internal").is_none());
    }

    #[test]
    fn a_value_in_the_message_is_never_taken_for_a_name() {
        let a = advice(
            Db::Postgres,
            Some("22P02"),
            None,
            "invalid input syntax for type integer: \"taro@example.com\"",
        )
        .unwrap();
        assert!(!a.contains("taro"), "{a}");
    }
}
