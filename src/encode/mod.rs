//! Encoding rows as CSV bytes: RFC 4180 quoting, UTF-8 / UTF-8 with BOM / CP932, gzip.
//!
//! The contract (README.md "CSV format"): one header row; CRLF line ends; a field is
//! quoted when it holds `,` `"` CR or LF, and `"` is doubled inside quotes; NULL is an
//! empty unquoted field; an empty string is `""`.

pub mod cp932;
mod csv;
pub mod gzip;

pub use self::csv::CsvEncoder;

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
    #[error("writing the output file failed: {0}")]
    Io(#[from] std::io::Error),
}
