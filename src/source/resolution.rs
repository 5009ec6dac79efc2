//! Before a query runs: the server would resolve each name the check approved to the
//! object the check assumed (issue #11). The check approves `lower(x)` as the built-in
//! and `orders` as `public.orders`; the server resolves names itself, so this asks it,
//! inside the query's own read-only transaction, and refuses on any doubt.
//!
//! PostgreSQL (search path pinned to `pg_catalog, public`, `source::postgres`):
//! overload resolution considers every function and operator by that name on the path,
//! so `public.lower(integer)` wins over `pg_catalog.lower(text)` for `lower(1)`, an
//! operator in `public` can be chosen for `'a' = 'b'`, and `'x'::mood` runs the input
//! function of a type in `public`. Refused when a schema on the path other than
//! `pg_catalog` holds: a function with the name of one the statement calls unqualified;
//! any operator; a type with the name of one the statement casts to; and, anywhere, a
//! user-created implicit cast. Objects that belong to an extension (installed by an
//! administrator: `citext`, `pg_trgm`, …) are trusted. Every unqualified relation must
//! resolve to `public` (a temporary table or a relation elsewhere on the path would be
//! read instead).
//!
//! MySQL / MariaDB: a built-in function always wins over a stored function of the same
//! name unless the call is qualified (`db.f()`, refused by the check) or written with a
//! space before `(` (the rendered statement never has one, and `IGNORE_SPACE` is off,
//! `source::mysql::SQL_MODE`). A name on sqlcourier's list that this server does not
//! have built in (a MySQL 8 function on MariaDB, say) would call a stored function of
//! the current database: refused when one by that name exists.

use anyhow::Result;
use sqlx::{MySqlConnection, PgConnection};

use super::explain_db_error;
use crate::guard::names::Unresolved;

/// Objects on the PostgreSQL search path (other than `pg_catalog`) that could be
/// chosen for a name the statement uses, as (kind, schema-qualified name).
const PG_SHADOWS: &str = r#"
WITH path AS (
  SELECT n.oid, n.nspname
    FROM pg_catalog.pg_namespace n
   WHERE n.nspname = ANY (pg_catalog.current_schemas(true)) AND n.nspname <> 'pg_catalog'
), found AS (
  SELECT 'function' AS kind, path.nspname || '.' || p.proname AS name,
         'pg_catalog.pg_proc'::pg_catalog.regclass AS cls, p.oid AS obj
    FROM pg_catalog.pg_proc p JOIN path ON path.oid = p.pronamespace
   WHERE p.proname::text = ANY ($1::text[])
  UNION ALL
  SELECT 'operator', path.nspname || '.' || o.oprname,
         'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid
    FROM pg_catalog.pg_operator o JOIN path ON path.oid = o.oprnamespace
  UNION ALL
  SELECT 'type', path.nspname || '.' || t.typname,
         'pg_catalog.pg_type'::pg_catalog.regclass, t.oid
    FROM pg_catalog.pg_type t JOIN path ON path.oid = t.typnamespace
   WHERE t.typname::text = ANY ($2::text[])
  UNION ALL
  SELECT 'implicit cast', pg_catalog.format_type(c.castsource, NULL) || ' AS '
         || pg_catalog.format_type(c.casttarget, NULL),
         'pg_catalog.pg_cast'::pg_catalog.regclass, c.oid
    FROM pg_catalog.pg_cast c
   WHERE c.oid >= 16384 AND c.castcontext = 'i'
)
SELECT DISTINCT kind, name FROM found
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = found.cls AND d.objid = found.obj AND d.deptype = 'e')
 ORDER BY kind, name
 LIMIT 10
"#;

/// The schema an unqualified relation resolves to now (NULL: none by that name, or a CTE).
const PG_RELATION_SCHEMA: &str = "SELECT n.nspname::text FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident($1))";

/// Refuses the PostgreSQL statement when a name it uses could resolve to an object the
/// check did not approve (see the module comment).
pub async fn postgres(conn: &mut PgConnection, names: &Unresolved) -> Result<()> {
    let functions: Vec<&str> = names.functions.iter().map(String::as_str).collect();
    let types: Vec<&str> = names.types.iter().map(String::as_str).collect();
    let found: Vec<(String, String)> = sqlx::query_as(PG_SHADOWS)
        .bind(&functions)
        .bind(&types)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| explain_db_error(&e, "could not check how the query's names resolve"))?;
    if let Some((kind, name)) = found.first() {
        let all: Vec<String> = found.iter().map(|(k, n)| format!("{k} {n}")).collect();
        anyhow::bail!(
            "the {kind} `{name}` is on the search path next to PostgreSQL's built-ins, so the server could run it instead of what the check approved; nothing was run ({}). What to do: ask an engineer to drop or rename it, or move it to a schema that is not `public`",
            all.join(", ")
        );
    }
    for rel in &names.relations {
        // a system catalog (`pg_*`) is in pg_catalog, first on the path, by design
        let expected = if rel.starts_with("pg_") {
            "pg_catalog"
        } else {
            "public"
        };
        let schema: Option<String> = sqlx::query_scalar(PG_RELATION_SCHEMA)
            .bind(rel)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| explain_db_error(&e, "could not check where the query's tables are"))?;
        if let Some(schema) = schema
            && schema != expected
        {
            anyhow::bail!(
                "`{rel}` resolves to a relation in schema `{schema}` at run time, not to `{expected}.{rel}` as the check assumed; nothing was run. What to do: write the schema in the query (`{expected}.{rel}`), or ask an engineer to drop or rename the other relation"
            );
        }
    }
    Ok(())
}

/// Refuses the MySQL / MariaDB statement when the current database has a stored
/// function by the name of one the statement calls (see the module comment).
pub async fn mysql(conn: &mut MySqlConnection, names: &Unresolved) -> Result<()> {
    if names.functions.is_empty() {
        return Ok(());
    }
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(ROUTINE_NAME AS CHAR) FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'FUNCTION'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| explain_db_error(&e, "could not check how the query's names resolve"))?;
    if let Some(f) = stored
        .iter()
        .find(|f| names.functions.iter().any(|n| n.eq_ignore_ascii_case(f)))
    {
        anyhow::bail!(
            "the current database has a stored function `{f}` with the name of a function the query calls, so the server could run it instead of the built-in the check approved; nothing was run. What to do: ask an engineer to drop or rename the stored function"
        );
    }
    Ok(())
}
