//! Default deny: the functions a query may call and the relations it may read.
//!
//! Every function call in a query file must name a function on the allow-list of its
//! database's dialect (pure reads: string, math, date/time, conditional, aggregate,
//! window, JSON, casts), or one the operator listed with a reason under
//! `allowed_functions:` in `sqlcourier.yaml`. Anything else is refused at `check`.
//! Table functions (`generate_series`, `unnest`, `json_table`, MariaDB's `seq_*`
//! tables…) are never on the built-in lists: the operator lists them when wanted.
//!
//! System catalogs are refused unless listed under `allowed_relations:`: MySQL/MariaDB
//! `mysql.*`, `information_schema.*`, `performance_schema.*`, `sys.*`; PostgreSQL
//! `pg_catalog.*`, `information_schema.*`, `pg_toast.*` and every unqualified `pg_*`
//! name (PostgreSQL looks names up in `pg_catalog` first); SQLite `sqlite_*`,
//! `pragma_*` and `temp.` / `main.sqlite_*`.
//!
//! The lists are README.md's "Allowed functions" table; keep them in step.

use std::collections::BTreeMap;

use crate::catalog::config::Driver;

/// What the operator added for one database in `sqlcourier.yaml` (name → reason).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Extra functions (lower-case; qualified names as written, e.g. `reporting.fy`).
    pub functions: BTreeMap<String, String>,
    /// System relations or table functions read as tables (lower-case, qualified as
    /// written, e.g. `information_schema.columns`).
    pub relations: BTreeMap<String, String>,
}

/// Functions common to every dialect (SQL standard spellings).
const COMMON: &[&str] = &[
    // aggregate
    "avg",
    "count",
    "max",
    "min",
    "sum",
    // window
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // conditional
    "coalesce",
    "nullif",
    // string
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "replace",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "concat",
    "concat_ws",
    // math
    "abs",
    "round",
    "sign",
    "ceil",
    "ceiling",
    "floor",
    "mod",
    "power",
    "pow",
    "sqrt",
    "exp",
    "ln",
    "log",
    "log10",
    "pi",
    "acos",
    "asin",
    "atan",
    "atan2",
    "cos",
    "cot",
    "sin",
    "tan",
    "degrees",
    "radians",
    "greatest",
    "least",
    // date/time
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
];

const MYSQL: &[&str] = &[
    // aggregate
    "bit_and",
    "bit_or",
    "bit_xor",
    "group_concat",
    "json_arrayagg",
    "json_objectagg",
    "std",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "var_pop",
    "var_samp",
    "variance",
    "any_value",
    // window (MariaDB)
    "median",
    "percentile_cont",
    "percentile_disc",
    // conditional
    "if",
    "ifnull",
    "isnull",
    "nvl",
    "nvl2",
    "interval",
    // string
    "ascii",
    "bin",
    "bit_length",
    "char",
    "elt",
    "export_set",
    "field",
    "find_in_set",
    "format",
    "from_base64",
    "hex",
    "insert",
    "instr",
    "lcase",
    "left",
    "locate",
    "lpad",
    "make_set",
    "mid",
    "oct",
    "ord",
    "position",
    "quote",
    "regexp_instr",
    "regexp_like",
    "regexp_replace",
    "regexp_substr",
    "repeat",
    "reverse",
    "right",
    "rpad",
    "soundex",
    "space",
    "strcmp",
    "substring_index",
    "to_base64",
    "ucase",
    "unhex",
    "sformat",
    "natural_sort_key",
    "md5",
    "sha",
    "sha1",
    "sha2",
    "crc32",
    "inet_aton",
    "inet_ntoa",
    "inet6_aton",
    "inet6_ntoa",
    "is_ipv4",
    "is_ipv6",
    // math
    "bit_count",
    "conv",
    "log2",
    "rand",
    "truncate",
    // date/time
    "adddate",
    "addtime",
    "convert_tz",
    "curdate",
    "curtime",
    "date",
    "date_add",
    "date_format",
    "date_sub",
    "datediff",
    "day",
    "dayname",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "extract",
    "from_days",
    "from_unixtime",
    "get_format",
    "hour",
    "last_day",
    "makedate",
    "maketime",
    "microsecond",
    "minute",
    "month",
    "monthname",
    "now",
    "period_add",
    "period_diff",
    "quarter",
    "sec_to_time",
    "second",
    "str_to_date",
    "subdate",
    "subtime",
    "sysdate",
    "time",
    "time_format",
    "time_to_sec",
    "timediff",
    "timestamp",
    "timestampadd",
    "timestampdiff",
    "to_days",
    "to_seconds",
    "unix_timestamp",
    "utc_date",
    "utc_time",
    "utc_timestamp",
    "week",
    "weekday",
    "weekofyear",
    "year",
    "yearweek",
    // JSON (they return values; none writes)
    "json_array",
    "json_array_append",
    "json_array_insert",
    "json_compact",
    "json_contains",
    "json_contains_path",
    "json_depth",
    "json_detailed",
    "json_equals",
    "json_exists",
    "json_extract",
    "json_insert",
    "json_keys",
    "json_length",
    "json_loose",
    "json_merge",
    "json_merge_patch",
    "json_merge_preserve",
    "json_normalize",
    "json_object",
    "json_overlaps",
    "json_pretty",
    "json_query",
    "json_quote",
    "json_remove",
    "json_replace",
    "json_search",
    "json_set",
    "json_type",
    "json_unquote",
    "json_valid",
    "json_value",
    // casts
    "cast",
    "convert",
    "binary",
];

const POSTGRES: &[&str] = &[
    // aggregate
    "array_agg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "string_agg",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_avgx",
    "regr_avgy",
    "regr_count",
    "regr_intercept",
    "regr_r2",
    "regr_slope",
    "regr_sxx",
    "regr_sxy",
    "regr_syy",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "mode",
    "percentile_cont",
    "percentile_disc",
    // conditional
    "num_nulls",
    "num_nonnulls",
    // string
    "ascii",
    "bit_length",
    "btrim",
    "chr",
    "convert",
    "convert_from",
    "convert_to",
    "decode",
    "encode",
    "format",
    "initcap",
    "left",
    "lpad",
    "md5",
    "normalize",
    "overlay",
    "position",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "regexp_count",
    "regexp_instr",
    "regexp_like",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "regexp_split_to_array",
    "regexp_substr",
    "repeat",
    "reverse",
    "right",
    "rpad",
    "split_part",
    "starts_with",
    "string_to_array",
    "strpos",
    "to_hex",
    "translate",
    "unistr",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "to_tsvector",
    "to_tsquery",
    "plainto_tsquery",
    "websearch_to_tsquery",
    "ts_rank",
    // math
    "cbrt",
    "div",
    "factorial",
    "gcd",
    "lcm",
    "min_scale",
    "random",
    "scale",
    "trim_scale",
    "trunc",
    "width_bucket",
    // date/time
    "age",
    "clock_timestamp",
    "date_bin",
    "date_part",
    "date_trunc",
    "extract",
    "isfinite",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "make_date",
    "make_interval",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "now",
    "statement_timestamp",
    "timeofday",
    "transaction_timestamp",
    "to_char",
    "to_date",
    "to_number",
    "to_timestamp",
    "timezone",
    "date",
    // JSON and arrays
    "to_json",
    "to_jsonb",
    "array_to_json",
    "row_to_json",
    "json_build_array",
    "jsonb_build_array",
    "json_build_object",
    "jsonb_build_object",
    "json_object",
    "jsonb_object",
    "json_array_length",
    "jsonb_array_length",
    "json_extract_path",
    "jsonb_extract_path",
    "json_extract_path_text",
    "jsonb_extract_path_text",
    "json_typeof",
    "jsonb_typeof",
    "jsonb_pretty",
    "jsonb_set",
    "jsonb_insert",
    "json_strip_nulls",
    "jsonb_strip_nulls",
    "jsonb_path_exists",
    "jsonb_path_match",
    "jsonb_path_query_array",
    "jsonb_path_query_first",
    "array_append",
    "array_cat",
    "array_dims",
    "array_length",
    "array_lower",
    "array_ndims",
    "array_position",
    "array_positions",
    "array_prepend",
    "array_remove",
    "array_replace",
    "array_to_string",
    "array_upper",
    "cardinality",
    // row and array constructors, casts
    "row",
    "array",
    "cast",
    "gen_random_uuid",
];

const SQLITE: &[&str] = &[
    "char",
    "format",
    "glob",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "like",
    "printf",
    "quote",
    "random",
    "sign",
    "soundex",
    "typeof",
    "unhex",
    "unicode",
    "unlikely",
    "likely",
    "likelihood",
    "log2",
    "trunc",
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
    "group_concat",
    "string_agg",
    "total",
    "json",
    "json_array",
    "json_array_length",
    "json_extract",
    "json_insert",
    "json_object",
    "json_patch",
    "json_remove",
    "json_replace",
    "json_set",
    "json_type",
    "json_valid",
    "json_quote",
    "json_group_array",
    "json_group_object",
    "cast",
];

/// The built-in allow-list of `driver`, without the common part.
pub fn dialect_functions(driver: Driver) -> &'static [&'static str] {
    match driver {
        Driver::Mysql => MYSQL,
        Driver::Postgres => POSTGRES,
        Driver::Sqlite => SQLITE,
    }
}

/// The functions every dialect allows.
pub fn common_functions() -> &'static [&'static str] {
    COMMON
}

/// Whether a call of `name` (its parts, lower-case) is allowed.
pub fn function_allowed(driver: Driver, parts: &[String], policy: &Policy) -> bool {
    let full = parts.join(".");
    if policy.functions.contains_key(&full) {
        return true;
    }
    let bare = match parts {
        [one] => one.as_str(),
        // PostgreSQL's built-ins live in pg_catalog; `pg_catalog.lower` is `lower`
        [schema, one] if driver == Driver::Postgres && schema == "pg_catalog" => one.as_str(),
        _ => return false,
    };
    COMMON.contains(&bare) || dialect_functions(driver).contains(&bare)
}

/// Why `name` (its parts, lower-case) is a system relation; `None` for ordinary tables.
pub fn system_relation(driver: Driver, parts: &[String]) -> Option<&'static str> {
    let first = parts.first().map(String::as_str).unwrap_or("");
    let last = parts.last().map(String::as_str).unwrap_or("");
    match driver {
        Driver::Mysql => {
            if parts.len() >= 2
                && matches!(
                    first,
                    "mysql" | "information_schema" | "performance_schema" | "sys"
                )
            {
                return Some("a system schema of the server");
            }
            if parts.len() == 1 && is_seq_table(last) {
                return Some("a MariaDB sequence table (a table function)");
            }
            None
        }
        Driver::Postgres => {
            if parts.len() >= 2
                && (matches!(first, "pg_catalog" | "information_schema")
                    || first.starts_with("pg_toast")
                    || first.starts_with("pg_temp"))
            {
                return Some("a system catalog of the server");
            }
            if parts.len() == 1 && last.starts_with("pg_") {
                return Some(
                    "a system catalog of the server (PostgreSQL looks up `pg_…` names in pg_catalog first)",
                );
            }
            None
        }
        Driver::Sqlite => {
            if last.starts_with("sqlite_") || last.starts_with("pragma_") || first == "temp" {
                return Some("an internal table of SQLite");
            }
            None
        }
    }
}

/// Whether `name` (its parts, lower-case) is one of MariaDB's sequence tables, which
/// are table functions written as tables.
pub fn is_sequence_table(driver: Driver, parts: &[String]) -> bool {
    driver == Driver::Mysql && matches!(parts, [one] if is_seq_table(one))
}

/// MariaDB's sequence engine: `seq_1_to_10`, `seq_1_to_10_step_2`.
fn is_seq_table(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("seq_") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('_').collect();
    let num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [a, "to", b] => num(a) && num(b),
        [a, "to", b, "step", c] => num(a) && num(b) && num(c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn lists_are_lower_case_and_sorted_out() {
        for l in [COMMON, MYSQL, POSTGRES, SQLITE] {
            for f in l {
                assert_eq!(*f, f.to_lowercase());
            }
        }
        for d in [Driver::Mysql, Driver::Postgres, Driver::Sqlite] {
            for bad in [
                "sleep",
                "pg_sleep",
                "benchmark",
                "load_file",
                "get_lock",
                "txid_current",
                "pg_current_xact_id",
                "pg_stat_reset",
                "pg_create_logical_replication_slot",
                "pg_backup_start",
                "pg_ls_waldir",
                "set_config",
                "current_setting",
                "nextval",
                "generate_series",
                "unnest",
                "json_table",
                "json_each",
                "load_extension",
                "dblink",
                "query_to_xml",
                "lo_export",
                "pg_file_write",
                "pg_log_backend_memory_contexts",
                "version",
                "user",
            ] {
                assert!(
                    !function_allowed(d, &p(bad), &Policy::default()),
                    "{d:?} {bad}"
                );
            }
        }
    }

    #[test]
    fn qualified_names_and_operator_additions() {
        let none = Policy::default();
        assert!(function_allowed(
            Driver::Postgres,
            &p("pg_catalog.lower"),
            &none
        ));
        assert!(!function_allowed(
            Driver::Postgres,
            &p("public.lower"),
            &none
        ));
        assert!(!function_allowed(Driver::Mysql, &p("mysql.lower"), &none));
        let mut pol = Policy::default();
        pol.functions
            .insert("reporting.fiscal_year".into(), "pure".into());
        assert!(function_allowed(
            Driver::Postgres,
            &p("reporting.fiscal_year"),
            &pol
        ));
    }

    #[test]
    fn system_relations() {
        assert!(system_relation(Driver::Mysql, &p("mysql.user")).is_some());
        assert!(system_relation(Driver::Mysql, &p("information_schema.tables")).is_some());
        assert!(system_relation(Driver::Mysql, &p("seq_1_to_100")).is_some());
        assert!(system_relation(Driver::Mysql, &p("members")).is_none());
        assert!(system_relation(Driver::Postgres, &p("pg_file_settings")).is_some());
        assert!(system_relation(Driver::Postgres, &p("pg_catalog.pg_authid")).is_some());
        assert!(system_relation(Driver::Postgres, &p("members")).is_none());
        assert!(system_relation(Driver::Postgres, &p("public.pg_x")).is_none());
        assert!(system_relation(Driver::Sqlite, &p("sqlite_master")).is_some());
    }
}
