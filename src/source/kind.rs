//! What kind of value a result column holds, from the database's own column type.
//!
//! Cells still travel as text (README.md "CSV format"); the kind travels once, with
//! the header ([`super::RowSink::kinds`]), so an encoder that has typed cells (xlsx)
//! can choose the cell type without guessing from the text. A cell whose text does
//! not read as its column's kind is written as text, never reinterpreted.

/// The kind of a result column. Anything sqlcourier does not know is [`ColumnKind::Text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColumnKind {
    /// Strings, ENUM, JSON, UUID, intervals, money, arrays, …: never reinterpreted.
    #[default]
    Text,
    /// Whole numbers (also MySQL `BOOLEAN` = `TINYINT(1)`, `YEAR`, `BIT`).
    Integer,
    /// Exact decimals (DECIMAL / NUMERIC), text as the database prints them.
    Decimal,
    /// Binary floating point (FLOAT, DOUBLE, REAL).
    Float,
    /// `true` / `false` (PostgreSQL `boolean`, SQLite columns declared BOOLEAN).
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM:SS[.fff…]` without a zone.
    DateTime,
    /// A date-time with a UTC offset (PostgreSQL `timestamptz`), already shown in the
    /// query's time zone.
    DateTimeTz,
    /// Time of day or a duration (MySQL TIME can be -838:59:59).
    Time,
    /// Bytes, written as `0x…` hex.
    Binary,
}

/// A MySQL/MariaDB column type name as sqlx reports it (`BIGINT UNSIGNED`, `DECIMAL`…).
pub fn mysql(type_name: &str) -> ColumnKind {
    match type_name.trim_end_matches(" UNSIGNED") {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" | "BIT" => {
            ColumnKind::Integer
        }
        "DECIMAL" => ColumnKind::Decimal,
        "FLOAT" | "DOUBLE" => ColumnKind::Float,
        "DATE" => ColumnKind::Date,
        "DATETIME" | "TIMESTAMP" => ColumnKind::DateTime,
        "TIME" => ColumnKind::Time,
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "GEOMETRY" => {
            ColumnKind::Binary
        }
        _ => ColumnKind::Text,
    }
}

/// A PostgreSQL type name as sqlx reports it (`INT8`, `NUMERIC`, `TIMESTAMPTZ`…).
pub fn postgres(type_name: &str) -> ColumnKind {
    match type_name {
        "INT2" | "INT4" | "INT8" | "OID" => ColumnKind::Integer,
        "NUMERIC" => ColumnKind::Decimal,
        "FLOAT4" | "FLOAT8" => ColumnKind::Float,
        "BOOL" => ColumnKind::Bool,
        "DATE" => ColumnKind::Date,
        "TIMESTAMP" => ColumnKind::DateTime,
        "TIMESTAMPTZ" => ColumnKind::DateTimeTz,
        "TIME" | "TIMETZ" | "INTERVAL" => ColumnKind::Time,
        "BYTEA" => ColumnKind::Binary,
        _ => ColumnKind::Text,
    }
}

/// A SQLite column's declared (or inferred) type as sqlx reports it. SQLite stores
/// any value in any column; a value that does not fit the declared kind stays text.
pub fn sqlite(type_name: &str) -> ColumnKind {
    match type_name {
        "INTEGER" => ColumnKind::Integer,
        "REAL" => ColumnKind::Float,
        "BOOLEAN" => ColumnKind::Bool,
        "DATE" => ColumnKind::Date,
        "DATETIME" => ColumnKind::DateTime,
        "TIME" => ColumnKind::Time,
        "BLOB" => ColumnKind::Binary,
        // NUMERIC affinity stores integers, reals or text: nothing to rely on
        _ => ColumnKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_map_to_kinds() {
        assert_eq!(mysql("BIGINT UNSIGNED"), ColumnKind::Integer);
        assert_eq!(mysql("DECIMAL"), ColumnKind::Decimal);
        assert_eq!(mysql("VARCHAR"), ColumnKind::Text);
        assert_eq!(mysql("JSON"), ColumnKind::Text);
        assert_eq!(postgres("TIMESTAMPTZ"), ColumnKind::DateTimeTz);
        assert_eq!(postgres("BPCHAR"), ColumnKind::Text);
        assert_eq!(postgres("MONEY"), ColumnKind::Text);
        assert_eq!(sqlite("NUMERIC"), ColumnKind::Text);
        assert_eq!(sqlite("INTEGER"), ColumnKind::Integer);
    }
}
