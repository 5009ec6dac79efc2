//! Encoding rows: CSV bytes (RFC 4180 quoting, UTF-8 / UTF-8 with BOM / CP932, gzip)
//! or an Excel workbook with typed cells ([`xlsx`]).
//!
//! The contract (README.md "CSV format"): one header row; CRLF line ends; a field is
//! quoted when it holds `,` `"` CR or LF, and `"` is doubled inside quotes; NULL is an
//! empty unquoted field; an empty string is `""`.

pub mod cp932;
mod csv;
pub mod gzip;
pub mod xlsx;

pub use self::csv::CsvEncoder;
pub use self::xlsx::{XlsxEncoder, XlsxMeta};

use self::gzip::OutputWriter;
use crate::source::ColumnKind;

use serde::Deserialize;

/// The text encoding of an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
pub enum Encoding {
    /// UTF-8 without a byte order mark (Google Sheets, scripts).
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-8 with a byte order mark, so Excel opens Japanese text correctly.
    #[default]
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    /// Windows-31J (CP932), for older Japanese Excel set-ups.
    #[serde(rename = "cp932")]
    Cp932,
}

impl Encoding {
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf8Bom => "utf-8-bom",
            Encoding::Cp932 => "cp932",
        }
    }
}

/// The kind of output file (`output: { format: … }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// A CSV text file (README.md "CSV format").
    #[default]
    Csv,
    /// An Excel workbook with typed cells (README.md "Excel workbooks (xlsx)").
    Xlsx,
}

impl OutputFormat {
    /// The file extension a name of this format ends with.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Csv => ".csv",
            OutputFormat::Xlsx => ".xlsx",
        }
    }
}

/// The encoder of one output file.
pub enum Encoder {
    Csv(CsvEncoder<OutputWriter>),
    Xlsx(Box<XlsxEncoder>),
}

impl Encoder {
    /// The header row; `kinds` are the columns' kinds (xlsx chooses cell types by them).
    pub fn header(&mut self, columns: &[String], kinds: &[ColumnKind]) -> Result<(), EncodeError> {
        match self {
            Encoder::Csv(e) => e.header(columns),
            Encoder::Xlsx(e) => e.header(columns, kinds),
        }
    }

    /// New kinds for the rows that follow (a SQLite value's own type).
    pub fn set_kinds(&mut self, kinds: &[ColumnKind]) {
        if let Encoder::Xlsx(e) = self {
            e.set_kinds(kinds);
        }
    }

    /// One field; `None` is SQL NULL. `apostrophe` is the CSV formula guard (a workbook
    /// never holds formulas, so it needs none).
    #[inline]
    pub fn field(&mut self, value: Option<&[u8]>, apostrophe: bool) -> Result<(), EncodeError> {
        match self {
            Encoder::Csv(e) => e.field(value, apostrophe),
            Encoder::Xlsx(e) => e.field(value),
        }
    }

    #[inline]
    pub fn end_record(&mut self) -> Result<(), EncodeError> {
        match self {
            Encoder::Csv(e) => e.end_record(),
            Encoder::Xlsx(e) => e.end_record(),
        }
    }

    /// Bytes written so far: CSV before compression; for a workbook, the size of the
    /// sheet's temporary file (its XML before the workbook is zipped at the end).
    pub fn written(&self) -> u64 {
        match self {
            Encoder::Csv(e) => e.get_ref().written(),
            Encoder::Xlsx(e) => e.written(),
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Csv(e) => e.flush(),
            Encoder::Xlsx(_) => Ok(()),
        }
    }

    /// Finishes the file (flush, compressor, workbook) and syncs it to disk; returns
    /// the bytes written (CSV: before compression).
    pub fn finish(self) -> Result<u64, EncodeError> {
        match self {
            Encoder::Csv(e) => {
                let w = e.into_inner();
                let n = w.written();
                w.finish()?;
                Ok(n)
            }
            Encoder::Xlsx(e) => e.finish(),
        }
    }
}

/// A value that the chosen encoding cannot represent. Names the place, never the value.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "row {row}, column `{column}` has a character that CP932 (Shift_JIS) cannot represent (U+{codepoint:04X})"
    )]
    Unmappable {
        row: u64,
        column: String,
        codepoint: u32,
    },
    #[error(
        "row {row}, column `{column}` is not valid UTF-8 text, so it cannot be written as CP932"
    )]
    NotText { row: u64, column: String },
    #[error(
        "row {row}, column `{column}` is not valid UTF-8 text, so it cannot be written into an xlsx workbook"
    )]
    XlsxNotText { row: u64, column: String },
    #[error(
        "the result has {rows} rows, but an Excel sheet holds at most {max} rows below its header (1,048,576 with it); nothing was delivered. What to do: narrow the query (a WHERE filter, a shorter period, or one file per variant) so each file has at most {max} rows, or deliver CSV instead (remove `format: xlsx` from `output:`), which has no row limit",
        max = xlsx::MAX_DATA_ROWS
    )]
    TooManyRows { rows: u64 },
    #[error(
        "the result has {columns} columns, but an Excel sheet holds at most {max}; select fewer columns or deliver CSV instead (remove `format: xlsx` from `output:`)",
        max = xlsx::MAX_COLUMNS
    )]
    TooManyColumns { columns: usize },
    #[error(
        "row {row}, column `{column}` holds {chars} characters, but an Excel cell holds at most {max}; nothing was delivered. What to do: shorten it in the query (e.g. LEFT({column}, 1000)), leave the column out, or deliver CSV instead (remove `format: xlsx` from `output:`)",
        max = xlsx::MAX_CELL_CHARS
    )]
    CellTooLong {
        row: u64,
        column: String,
        chars: usize,
    },
    #[error(
        "the header (column name) of column {column} holds {chars} characters, but an Excel cell holds at most {max}; nothing was delivered. What to do: give column {column} a shorter name in the query (`… AS short_name`), or deliver CSV instead (remove `format: xlsx` from `output:`)",
        max = xlsx::MAX_CELL_CHARS
    )]
    HeaderTooLong { column: usize, chars: usize },
    #[error("writing the xlsx workbook failed: {0}")]
    Xlsx(String),
    #[error("writing the output file failed: {0}")]
    Io(#[from] std::io::Error),
}
