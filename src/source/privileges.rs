//! The database user must not be able to write. Before any query, sqlcourier asks the
//! server what the connected user may do and refuses a user that can change data or
//! holds server-level powers, naming each privilege and the statement that removes
//! it. An operator can accept such a user for one database with
//! `allow_privileged_user: <reason>` in `sqlcourier.yaml` (a warning on every run).
//!
//! - MySQL / MariaDB: `SHOW GRANTS`. Only `USAGE` (anywhere) and `SELECT` / `SHOW VIEW`
//!   on one database or table pass; every other privilege (`INSERT`, `FILE`, `SUPER`,
//!   `PROCESS`, `REPLICATION …`, `EXECUTE`, dynamic privileges…), any privilege on
//!   `*.*` (even `SELECT`: it reads `mysql.user`), `WITH GRANT OPTION`, `PROXY` and
//!   every role grant is refused.
//! - PostgreSQL: role attributes (`SUPERUSER`, `CREATEROLE`, `CREATEDB`,
//!   `REPLICATION`, `BYPASSRLS`); membership in a predefined `pg_*` role
//!   (`pg_write_server_files`, `pg_read_server_files`, `pg_execute_server_program`,
//!   `pg_signal_backend`, `pg_monitor`, `pg_read_all_data`, `pg_database_owner`…) or in
//!   a role with one of those attributes; `INSERT`/`UPDATE`/`DELETE`/`TRUNCATE`/
//!   `REFERENCES`/`TRIGGER` on any table, ownership of a table, `UPDATE` on a
//!   sequence, `CREATE` on a schema or on the database.
//! - SQLite is opened read-only; nothing to ask.

use anyhow::Result;
use sqlx::{Executor, Row};

use super::{Connection, explain_db_error};

/// One thing the user may do that a read-only user may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What the user holds, e.g. `INSERT on appdb.*`.
    pub what: String,
    /// The statement an operator runs to remove it.
    pub fix: String,
}

/// What the connected user may do beyond reading.
pub async fn findings(conn: &mut Connection) -> Result<Vec<Finding>> {
    match conn {
        Connection::Mysql(s) => mysql(s.conn_mut()).await,
        Connection::Postgres(s) => postgres(s.conn_mut()).await,
        Connection::Sqlite(_) => Ok(Vec::new()),
    }
}

/// Refuses a privileged user unless the operator accepted it (`allow`: the reason);
/// then logs a warning instead.
pub async fn ensure_read_only(
    conn: &mut Connection,
    database: &str,
    allow: Option<&str>,
) -> Result<()> {
    let found = findings(conn).await?;
    if found.is_empty() {
        return Ok(());
    }
    let list = summary(&found);
    if let Some(reason) = allow {
        tracing::warn!(database, reason, privileges = %list, "the database user can do more than read; running anyway because sqlcourier.yaml says allow_privileged_user");
        eprintln!(
            "warning: the user of database `{database}` can do more than read ({list}); running because sqlcourier.yaml says `allow_privileged_user: {reason}`"
        );
        return Ok(());
    }
    let fixes: Vec<&str> = found.iter().take(5).map(|f| f.fix.as_str()).collect();
    anyhow::bail!(
        "the database user of `{database}` can do more than read: {list}. sqlcourier runs queries only as a read-only user, so nothing was run. What to do: use the read-only user of runner-ami/README.md, or remove the privileges ({}), or, if this is really intended, add `allow_privileged_user: <reason>` to the database `{database}` in sqlcourier.yaml",
        fixes.join(" ")
    )
}

fn summary(found: &[Finding]) -> String {
    let mut s: Vec<String> = found.iter().take(5).map(|f| f.what.clone()).collect();
    if found.len() > 5 {
        s.push(format!("and {} more", found.len() - 5));
    }
    s.join(", ")
}

// ---------------------------------------------------------------- MySQL / MariaDB

async fn mysql(conn: &mut sqlx::MySqlConnection) -> Result<Vec<Finding>> {
    let fail = |e: sqlx::Error| explain_db_error(&e, "could not read the user's privileges");
    let user: String = {
        let row = conn
            .fetch_one("SELECT CAST(CURRENT_USER() AS CHAR)")
            .await
            .map_err(fail)?;
        text(&row)
    };
    let account = match user.rsplit_once('@') {
        Some((u, h)) => format!("'{u}'@'{h}'"),
        None => format!("'{user}'"),
    };
    let rows = conn.fetch_all("SHOW GRANTS").await.map_err(fail)?;
    let mut out = Vec::new();
    for row in &rows {
        out.extend(mysql_grant(&text(row), &account));
    }
    Ok(out)
}

fn text(row: &sqlx::mysql::MySqlRow) -> String {
    if let Ok(s) = row.try_get::<String, _>(0) {
        return s;
    }
    row.try_get::<Vec<u8>, _>(0)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The findings of one `SHOW GRANTS` line. The line is never shown: MariaDB writes
/// the password hash into it.
fn mysql_grant(line: &str, account: &str) -> Vec<Finding> {
    let upper = line.to_ascii_uppercase();
    let Some(rest) = upper.strip_prefix("GRANT ") else {
        // `SET DEFAULT ROLE …` (MariaDB): the role grant itself is its own line
        return Vec::new();
    };
    let orig_rest = &line[6..];
    let Some(on) = find_top(rest, " ON ") else {
        // GRANT `role` TO user
        let to = find_top(rest, " TO ").unwrap_or(rest.len());
        let roles = orig_rest[..to].trim();
        return vec![Finding {
            what: format!("the role(s) {roles}"),
            fix: format!("REVOKE {roles} FROM {account};"),
        }];
    };
    let privs = &orig_rest[..on];
    let after = &orig_rest[on + 4..];
    let to = find_top(&after.to_ascii_uppercase(), " TO ").unwrap_or(after.len());
    let target = after[..to].trim().to_string();
    let everywhere = target == "*.*";
    let mut out = Vec::new();
    for p in split_top(privs) {
        let p = p.trim();
        let name = p.split('(').next().unwrap_or(p).trim().to_ascii_uppercase();
        let ok =
            name == "USAGE" || (!everywhere && matches!(name.as_str(), "SELECT" | "SHOW VIEW"));
        if !ok {
            let what = if everywhere && name == "SELECT" {
                "SELECT on *.* (every database, including mysql.user)".to_string()
            } else {
                format!("{name} on {target}")
            };
            out.push(Finding {
                what,
                fix: format!("REVOKE {name} ON {target} FROM {account};"),
            });
        }
    }
    if upper.contains(" WITH GRANT OPTION") {
        out.push(Finding {
            what: format!("GRANT OPTION on {target}"),
            fix: format!("REVOKE GRANT OPTION ON {target} FROM {account};"),
        });
    }
    out
}

/// The byte offset of `needle` outside backticks, quotes and parentheses.
fn find_top(s: &str, needle: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'`' | b'\'' | b'"' => quote = Some(c),
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ if depth == 0 && s[i..].starts_with(needle) => return Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Splits a privilege list at top-level commas (`SELECT (a, b), INSERT`).
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

// ---------------------------------------------------------------- PostgreSQL

/// One query for everything: (what, fix) pairs.
const PG_FINDINGS: &str = r#"
WITH me AS (SELECT oid, rolname FROM pg_roles WHERE rolname = current_user)
SELECT 'the role attribute ' || a.attr, format('ALTER ROLE %I NO%s;', me.rolname, a.attr)
  FROM me, pg_roles r,
  LATERAL (VALUES ('SUPERUSER', r.rolsuper), ('CREATEROLE', r.rolcreaterole),
                  ('CREATEDB', r.rolcreatedb), ('REPLICATION', r.rolreplication),
                  ('BYPASSRLS', r.rolbypassrls)) a(attr, has)
  WHERE r.oid = me.oid AND a.has
UNION ALL
SELECT 'membership in ' || quote_ident(r.rolname), format('REVOKE %I FROM %I;', r.rolname, me.rolname)
  FROM me, pg_roles r
  WHERE r.oid <> me.oid AND pg_has_role(me.oid, r.oid, 'MEMBER')
    AND (r.rolname LIKE 'pg\_%' OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
         OR r.rolreplication OR r.rolbypassrls)
UNION ALL
SELECT * FROM (
  SELECT format('ownership of %I.%I', n.nspname, c.relname),
         format('ALTER TABLE %I.%I OWNER TO <the owning application role>;', n.nspname, c.relname)
    FROM me, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
      AND pg_has_role(me.oid, c.relowner, 'USAGE')
    ORDER BY 1 LIMIT 20) owned
UNION ALL
SELECT * FROM (
  SELECT format('%s on %I.%I', p.priv, n.nspname, c.relname),
         format('REVOKE %s ON ALL TABLES IN SCHEMA %I FROM %I;', p.priv, n.nspname, me.rolname)
    FROM me, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
         unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
      AND NOT pg_has_role(me.oid, c.relowner, 'USAGE')
      AND CASE WHEN c.relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN false
               WHEN p.priv IN ('INSERT', 'UPDATE', 'REFERENCES')
               THEN has_any_column_privilege(c.oid, p.priv)
               ELSE has_table_privilege(c.oid, p.priv) END
    ORDER BY 1 LIMIT 20) tables
UNION ALL
SELECT * FROM (
  SELECT format('UPDATE on the sequence %I.%I', n.nspname, c.relname),
         format('REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA %I FROM %I;', n.nspname, me.rolname)
    FROM me, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'S' AND NOT pg_has_role(me.oid, c.relowner, 'USAGE')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
      AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'UPDATE') ELSE false END
    ORDER BY 1 LIMIT 20) seqs
UNION ALL
SELECT format('CREATE on the schema %I', n.nspname),
       format('REVOKE CREATE ON SCHEMA %I FROM %I; -- and from PUBLIC if granted there', n.nspname, me.rolname)
  FROM me, pg_namespace n
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
    AND has_schema_privilege(n.oid, 'CREATE')
UNION ALL
SELECT format('CREATE on the database %I', current_database()),
       format('REVOKE CREATE ON DATABASE %I FROM %I;', current_database(), me.rolname)
  FROM me WHERE has_database_privilege(current_database(), 'CREATE')
"#;

async fn postgres(conn: &mut sqlx::PgConnection) -> Result<Vec<Finding>> {
    let rows: Vec<(String, String)> = sqlx::query_as(PG_FINDINGS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| explain_db_error(&e, "could not read the user's privileges"))?;
    Ok(rows
        .into_iter()
        .map(|(what, fix)| Finding { what, fix })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(line: &str) -> Vec<String> {
        mysql_grant(line, "'u'@'%'")
            .into_iter()
            .map(|f| f.what)
            .collect()
    }

    #[test]
    fn mysql_read_only_grants_pass() {
        assert!(f("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'").is_empty());
        assert!(f("GRANT SELECT ON `appdb`.* TO `u`@`%`").is_empty());
        assert!(f("GRANT SELECT, SHOW VIEW ON `appdb`.* TO 'u'@'%'").is_empty());
        assert!(f("GRANT SELECT (`a`, `b`) ON `appdb`.`t` TO 'u'@'%'").is_empty());
    }

    #[test]
    fn mysql_write_and_server_privileges_are_named() {
        assert_eq!(
            f("GRANT ALL PRIVILEGES ON `appdb`.* TO `u`@`%`"),
            ["ALL PRIVILEGES on `appdb`.*"]
        );
        assert_eq!(
            f("GRANT SELECT, INSERT, UPDATE (`a`) ON `appdb`.`t` TO `u`@`%`"),
            ["INSERT on `appdb`.`t`", "UPDATE on `appdb`.`t`"]
        );
        assert_eq!(
            f("GRANT PROCESS, FILE, SUPER, REPLICATION CLIENT ON *.* TO `u`@`%`"),
            [
                "PROCESS on *.*",
                "FILE on *.*",
                "SUPER on *.*",
                "REPLICATION CLIENT on *.*"
            ]
        );
        assert_eq!(
            f("GRANT SELECT ON *.* TO `u`@`%`"),
            ["SELECT on *.* (every database, including mysql.user)"]
        );
        assert_eq!(
            f("GRANT SELECT ON `appdb`.* TO `u`@`%` WITH GRANT OPTION"),
            ["GRANT OPTION on `appdb`.*"]
        );
        assert_eq!(
            f("GRANT `admin`@`%` TO `u`@`%`"),
            ["the role(s) `admin`@`%`"]
        );
        assert_eq!(
            f("GRANT BACKUP_ADMIN,BINLOG_ADMIN ON *.* TO `u`@`%`"),
            ["BACKUP_ADMIN on *.*", "BINLOG_ADMIN on *.*"]
        );
        assert_eq!(f("GRANT PROXY ON ''@'%' TO 'u'@'%'"), ["PROXY on ''@'%'"]);
        let hash = mysql_grant(
            "GRANT FILE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*SECRETHASH'",
            "'u'@'%'",
        );
        assert!(!format!("{hash:?}").contains("SECRETHASH"));
    }
}
