//! The `xlsx` output: one worksheet written row by row in `rust_xlsxwriter`'s
//! constant-memory mode (rows go to a temporary file next to the staging file, so
//! memory does not grow with the result), typed cells chosen by the column's
//! [`ColumnKind`] (README.md "Excel workbooks (xlsx)").
//!
//! Every cell arrives as the same text the CSV output would write. A value is written
//! as a number, date or boolean only when its column's database type says so *and* the
//! text reads back exactly in Excel; anything else is a text cell, never reinterpreted.
//! Nothing is ever written as a formula, so the CSV formula guard's apostrophe is not
//! needed: a text cell `=1+1` stays the text `=1+1`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::EncodeError;
use crate::source::ColumnKind;

/// Rows on one Excel sheet, the header row included.
pub const MAX_SHEET_ROWS: u64 = 1_048_576;
/// Data rows that fit below the header.
pub const MAX_DATA_ROWS: u64 = MAX_SHEET_ROWS - 1;
/// Columns on one Excel sheet.
pub const MAX_COLUMNS: usize = 16_384;
/// Characters (UTF-16 units, as Excel counts them) in one cell.
pub const MAX_CELL_CHARS: usize = 32_767;
/// Integers with at most this many digits are numbers; Excel keeps 15 significant digits.
const MAX_DIGITS: usize = 15;
/// Rows (after the header) looked at to fit the column widths.
const WIDTH_ROWS: u64 = 200;
/// Width of the widest column, in Excel's character units.
const MAX_WIDTH: usize = 60;

/// What goes into the workbook besides the rows.
#[derive(Debug, Clone)]
pub struct XlsxMeta {
    /// The query's title (document title).
    pub title: String,
    /// The period label, e.g. `2026-10` (document subject and a custom property).
    pub period: Option<String>,
    /// The query file path (a custom property).
    pub query: String,
    /// The output file name; the sheet is named after it.
    pub file_name: String,
    /// The workbook's creation time: the run's logical time, so a re-run writes the
    /// same document properties.
    pub created_unix: i64,
}

struct Formats {
    header: Format,
    text: Format,
    integer: Format,
    /// `0`, `0.0`, `0.00`, … by the number of decimals written.
    decimal: Vec<Format>,
    date: Format,
    datetime: Format,
    datetime_ms: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            header: Format::new().set_bold(),
            // `@`: if someone edits the cell, Excel keeps it text
            text: Format::new().set_num_format("@"),
            integer: Format::new().set_num_format("0"),
            decimal: (0..=MAX_DIGITS)
                .map(|scale| {
                    let f = if scale == 0 {
                        "0".to_string()
                    } else {
                        format!("0.{}", "0".repeat(scale))
                    };
                    Format::new().set_num_format(f)
                })
                .collect(),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            datetime_ms: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss.000"),
        }
    }
}

/// Writes one worksheet, field by field, like [`super::CsvEncoder`].
pub struct XlsxEncoder {
    workbook: Workbook,
    sheet: Worksheet,
    out: File,
    meta: XlsxMeta,
    formats: Formats,
    columns: Vec<String>,
    kinds: Vec<ColumnKind>,
    widths: Vec<usize>,
    /// Data rows seen, including those past Excel's limit.
    rows: u64,
    col: usize,
    /// The folder holding the sheet's temporary file (this encoder's alone).
    _scratch: tempfile::TempDir,
    /// The sheet's temporary file, opened again to read its size for progress lines.
    sheet_file: Option<File>,
}

impl XlsxEncoder {
    /// Starts a workbook that will be written to `out`; the rows wait in a temporary
    /// file in `temp_dir` (the work folder) until [`XlsxEncoder::finish`].
    pub fn new(out: File, temp_dir: &Path, meta: XlsxMeta) -> Result<XlsxEncoder, EncodeError> {
        let scratch = tempfile::Builder::new()
            .prefix(".sqlcourier-xlsx-")
            .tempdir_in(temp_dir)?;
        let mut workbook = Workbook::new();
        workbook.set_tempdir(scratch.path()).map_err(xlsx)?;
        let mut sheet = workbook
            .new_worksheet_with_constant_memory()
            .map_err(xlsx)?;
        let sheet_file = sheet_temp_file(scratch.path());
        sheet.set_name(sheet_name(&meta.file_name)).map_err(xlsx)?;
        Ok(XlsxEncoder {
            workbook,
            sheet,
            out,
            meta,
            formats: Formats::new(),
            columns: Vec::new(),
            kinds: Vec::new(),
            widths: Vec::new(),
            rows: 0,
            col: 0,
            _scratch: scratch,
            sheet_file,
        })
    }

    /// Bytes of the sheet written to its temporary file so far (0 where the file
    /// cannot be found, see [`sheet_temp_file`]).
    pub fn written(&self) -> u64 {
        self.sheet_file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len())
    }

    /// Writes the bold, frozen header row. `kinds` may be shorter than `columns`
    /// (missing kinds are text).
    pub fn header(&mut self, columns: &[String], kinds: &[ColumnKind]) -> Result<(), EncodeError> {
        if columns.len() > MAX_COLUMNS {
            return Err(EncodeError::TooManyColumns {
                columns: columns.len(),
            });
        }
        self.columns = columns.to_vec();
        self.kinds = (0..columns.len())
            .map(|i| kinds.get(i).copied().unwrap_or_default())
            .collect();
        self.widths = columns.iter().map(|c| display_width(c)).collect();
        for (i, name) in columns.iter().enumerate() {
            if name.len() > MAX_CELL_CHARS && name.encode_utf16().count() > MAX_CELL_CHARS {
                return Err(EncodeError::HeaderTooLong {
                    column: i + 1,
                    chars: name.encode_utf16().count(),
                });
            }
            let col = i as u16;
            if name.is_empty() {
                self.sheet
                    .write_blank(0, col, &self.formats.header)
                    .map_err(xlsx)?;
            } else {
                self.sheet
                    .write_string_with_format(0, col, name, &self.formats.header)
                    .map_err(xlsx)?;
            }
        }
        self.sheet.set_freeze_panes(1, 0).map_err(xlsx)?;
        Ok(())
    }

    /// Kinds for the rows that follow; missing kinds are text.
    pub fn set_kinds(&mut self, kinds: &[ColumnKind]) {
        for (i, k) in self.kinds.iter_mut().enumerate() {
            *k = kinds.get(i).copied().unwrap_or_default();
        }
    }

    /// Writes one field of the current row. `None` is SQL NULL (an empty cell).
    #[inline]
    pub fn field(&mut self, value: Option<&[u8]>) -> Result<(), EncodeError> {
        let c = self.col;
        self.col += 1;
        let row = self.rows + 1;
        if row > MAX_DATA_ROWS {
            return Ok(()); // counted only; refused in finish()
        }
        let Some(v) = value else {
            return Ok(());
        };
        let kind = self.kinds.get(c).copied().unwrap_or_default();
        let (r, col) = (row as u32, c as u16);
        let f = &self.formats;
        let shown = match kind {
            ColumnKind::Integer => integer(v).map(|n| {
                (
                    self.sheet.write_number_with_format(r, col, n, &f.integer),
                    v.len(),
                )
            }),
            ColumnKind::Decimal => decimal(v).map(|(n, scale)| {
                (
                    self.sheet
                        .write_number_with_format(r, col, n, &f.decimal[scale]),
                    v.len(),
                )
            }),
            ColumnKind::Float => float(v).map(|n| (self.sheet.write_number(r, col, n), v.len())),
            ColumnKind::Bool => boolean(v).map(|b| (self.sheet.write_boolean(r, col, b), 5)),
            ColumnKind::Date => date_time(v, Shape::Date).map(|(serial, _)| {
                (
                    self.sheet.write_number_with_format(r, col, serial, &f.date),
                    10,
                )
            }),
            ColumnKind::DateTime | ColumnKind::DateTimeTz => {
                let shape = if kind == ColumnKind::DateTime {
                    Shape::DateTime
                } else {
                    Shape::DateTimeTz
                };
                date_time(v, shape).map(|(serial, ms)| {
                    let (fmt, w) = if ms {
                        (&f.datetime_ms, 23)
                    } else {
                        (&f.datetime, 19)
                    };
                    (self.sheet.write_number_with_format(r, col, serial, fmt), w)
                })
            }
            ColumnKind::Text | ColumnKind::Time | ColumnKind::Binary => None,
        };
        let width = match shown {
            Some((written, width)) => {
                written.map_err(xlsx)?;
                width
            }
            None => self.text(v, row, c)?,
        };
        if row <= WIDTH_ROWS
            && let Some(w) = self.widths.get_mut(c)
        {
            *w = (*w).max(width);
        }
        Ok(())
    }

    /// A text cell; returns its display width.
    fn text(&mut self, v: &[u8], row: u64, c: usize) -> Result<usize, EncodeError> {
        let s = std::str::from_utf8(v).map_err(|_| EncodeError::XlsxNotText {
            row,
            column: self.column_name(c),
        })?;
        self.check_length(s, row, c)?;
        let (r, col) = (row as u32, c as u16);
        if s.is_empty() {
            // a workbook has no empty text cell Excel keeps: an empty cell formatted
            // as text (NULL is an empty cell with no format)
            self.sheet
                .write_blank(r, col, &self.formats.text)
                .map_err(xlsx)?;
            return Ok(0);
        }
        self.sheet
            .write_string_with_format(r, col, s, &self.formats.text)
            .map_err(xlsx)?;
        Ok(if row <= WIDTH_ROWS {
            display_width(s)
        } else {
            0
        })
    }

    fn check_length(&self, s: &str, row: u64, c: usize) -> Result<(), EncodeError> {
        // UTF-16 units >= chars, so a short byte length is always fine
        if s.len() > MAX_CELL_CHARS && s.encode_utf16().count() > MAX_CELL_CHARS {
            return Err(EncodeError::CellTooLong {
                row,
                column: self.column_name(c),
                chars: s.encode_utf16().count(),
            });
        }
        Ok(())
    }

    fn column_name(&self, c: usize) -> String {
        self.columns
            .get(c)
            .cloned()
            .unwrap_or_else(|| format!("#{}", c + 1))
    }

    pub fn end_record(&mut self) -> Result<(), EncodeError> {
        self.col = 0;
        self.rows += 1;
        Ok(())
    }

    /// Data rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Refuses a result over Excel's row limit; otherwise sets the widths and document
    /// properties, writes the workbook and syncs it. Returns the file's size.
    pub fn finish(mut self) -> Result<u64, EncodeError> {
        if self.rows > MAX_DATA_ROWS {
            return Err(EncodeError::TooManyRows { rows: self.rows });
        }
        for (i, w) in self.widths.iter().enumerate() {
            let width = (*w + 2).clamp(6, MAX_WIDTH);
            self.sheet
                .set_column_width(i as u16, width as f64)
                .map_err(xlsx)?;
        }
        let mut props = DocProperties::new()
            .set_title(self.meta.title.as_str())
            .set_author("sqlcourier")
            .set_custom_property("query", self.meta.query.as_str());
        if let Some(p) = &self.meta.period {
            props = props
                .set_subject(format!("period {p}"))
                .set_custom_property("period", p.as_str());
        }
        if let Ok(t) = ExcelDateTime::from_timestamp(self.meta.created_unix) {
            props = props.set_creation_datetime(&t);
        }
        self.workbook.set_properties(&props);
        self.workbook.push_worksheet(self.sheet);
        let mut w = BufWriter::with_capacity(256 * 1024, self.out);
        self.workbook.save_to_writer(&mut w).map_err(xlsx)?;
        w.flush()?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(f.metadata()?.len())
    }
}

/// The worksheet's temporary file in `dir`, opened again so its size can be read.
///
/// rust_xlsxwriter makes it with `tempfile::tempfile_in` — a file without a name, so
/// it is not in the folder's listing — and offers no way to ask for its size. On Linux
/// the process's own descriptors under `/proc/self/fd` still point into `dir`
/// (`dir/#1234 (deleted)`), and opening that link opens the same file. Elsewhere, or if
/// it is not found, progress lines show 0 bytes for workbooks.
fn sheet_temp_file(dir: &Path) -> Option<File> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let dir = dir.canonicalize().ok()?;
    std::fs::read_dir("/proc/self/fd")
        .ok()?
        .flatten()
        .find(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.parent() == Some(dir.as_path())))
        .and_then(|e| File::open(e.path()).ok())
}

fn xlsx(e: XlsxError) -> EncodeError {
    match e {
        XlsxError::IoError(e) => EncodeError::Io(e),
        // rust_xlsxwriter's messages name limits and sheet names, never cell values
        e => EncodeError::Xlsx(e.to_string()),
    }
}

/// The sheet name for a file name: the name without `.xlsx`, without the characters
/// Excel forbids (`[]:*?/\`), no leading or trailing `'`, at most 31 characters, and
/// never the reserved `History`.
pub fn sheet_name(file_name: &str) -> String {
    let stem = file_name.strip_suffix(".xlsx").unwrap_or(file_name);
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('\'');
    // Excel counts UTF-16 units
    let mut name = String::new();
    let mut units = 0;
    for c in cleaned.chars() {
        units += c.len_utf16();
        if units > 31 {
            break;
        }
        name.push(c);
    }
    let name = name.trim_end_matches('\'').to_string();
    if name.trim().is_empty() || name.eq_ignore_ascii_case("history") {
        "Sheet1".to_string()
    } else {
        name
    }
}

/// Width of `s` in Excel's character units: East Asian wide characters count two.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            if u >= 0x1100 && !(0xFF61..=0xFF9F).contains(&u) {
                2
            } else {
                1
            }
        })
        .sum()
}

/// Canonical integer text (`0`, `-12`, no leading zeros) of at most 15 digits.
fn integer(v: &[u8]) -> Option<f64> {
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    if digits.is_empty()
        || digits.len() > MAX_DIGITS
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits[0] == b'0' && (digits.len() > 1 || v.len() > 1))
    {
        return None;
    }
    // exact: at most 15 digits fit a double's 53-bit mantissa
    std::str::from_utf8(v)
        .ok()?
        .parse::<i64>()
        .ok()
        .map(|n| n as f64)
}

/// Canonical decimal text (`-12.50`, `0.001`) whose digits a double shows back exactly
/// (at most 15 of them); returns the value and the number of decimals to show.
fn decimal(v: &[u8]) -> Option<(f64, usize)> {
    let body = v.strip_prefix(b"-").unwrap_or(v);
    let (int, frac) = match memchr::memchr(b'.', body) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &b""[..]),
    };
    if int.is_empty()
        || !int.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(u8::is_ascii_digit)
        || (body.len() > int.len() && frac.is_empty())
        || (int[0] == b'0' && int.len() > 1)
    {
        return None;
    }
    let int_digits = if int == b"0" { 0 } else { int.len() };
    if int_digits + frac.len() > MAX_DIGITS {
        return None;
    }
    let zero = int.iter().chain(frac).all(|&d| d == b'0');
    if zero && v.starts_with(b"-") {
        return None; // Excel has no negative zero to show
    }
    let n = std::str::from_utf8(v).ok()?.parse::<f64>().ok()?;
    Some((n, frac.len()))
}

/// A finite floating-point number (`inf`, `NaN` stay text).
fn float(v: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(v).ok()?;
    // only what databases print: digits, sign, point, exponent
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn boolean(v: &[u8]) -> Option<bool> {
    match v {
        b"true" | b"1" => Some(true),
        b"false" | b"0" => Some(false),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Date,
    DateTime,
    /// A date-time followed by a UTC offset (`+09`, `-05:30`), which is dropped.
    DateTimeTz,
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, &d| n * 10 + (d - b'0') as u32))
}

/// An Excel date serial for `YYYY-MM-DD[ HH:MM:SS[.fff]]`, and whether it has
/// milliseconds to show; `None` (so: text) for anything Excel cannot hold exactly —
/// years before 1900 or after 9999, zero dates, sub-millisecond digits.
fn date_time(v: &[u8], shape: Shape) -> Option<(f64, bool)> {
    if v.len() < 10 || v[4] != b'-' || v[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&v[0..4])?, num(&v[5..7])?, num(&v[8..10])?);
    if !(1900..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in(y, m) {
        return None;
    }
    let days = excel_day(y, m, d);
    if shape == Shape::Date {
        return (v.len() == 10).then_some((days as f64, false));
    }
    let t = v.get(10..)?;
    if t.len() < 9 || !matches!(t[0], b' ' | b'T') || t[3] != b':' || t[6] != b':' {
        return None;
    }
    let (h, mi, s) = (num(&t[1..3])?, num(&t[4..6])?, num(&t[7..9])?);
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut rest = &t[9..];
    let mut ms = 0u32;
    let mut has_ms = false;
    if let Some(f) = rest.strip_prefix(b".") {
        let n = f.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        let digits = &f[..n];
        if digits.iter().skip(3).any(|&d| d != b'0') {
            return None; // finer than a millisecond: Excel cannot show it
        }
        let mut padded = [b'0'; 3];
        for (p, d) in padded.iter_mut().zip(digits) {
            *p = *d;
        }
        ms = num(&padded)?;
        has_ms = ms > 0;
        rest = &f[n..];
    }
    match shape {
        Shape::DateTime if !rest.is_empty() => return None,
        Shape::DateTimeTz => {
            let off = rest;
            if off.len() < 3
                || !matches!(off[0], b'+' | b'-')
                || !off[1..].iter().all(|b| b.is_ascii_digit() || *b == b':')
            {
                return None;
            }
        }
        _ => {}
    }
    let ms_of_day = ((h * 60 + mi) * 60 + s) as u64 * 1000 + ms as u64;
    Some((days as f64 + ms_of_day as f64 / 86_400_000.0, has_ms))
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Excel's day number (1900 date system): 1 is 1900-01-01, and Excel counts a
/// 1900-02-29 that never was, so days from 1900-03-01 on are one more.
fn excel_day(y: u32, m: u32, d: u32) -> i64 {
    // days since 1970-01-01 (H. Hinnant's days_from_civil)
    let (y, m) = (y as i64, m as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let unix_days = era * 146_097 + doe - 719_468;
    // 1899-12-30 is unix day -25569
    let serial = unix_days + 25_569;
    if serial < 61 { serial - 1 } else { serial }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_up_to_15_digits_are_numbers() {
        assert_eq!(integer(b"0"), Some(0.0));
        assert_eq!(integer(b"-42"), Some(-42.0));
        assert_eq!(integer(b"999999999999999"), Some(999_999_999_999_999.0));
        for text in [
            &b"1000000000000000"[..],
            b"9007199254740993",
            b"18446744073709551615",
            b"0123",
            b"-0",
            b"",
            b"-",
            b"1e5",
            b" 1",
            b"+1",
        ] {
            assert_eq!(integer(text), None, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn decimals_exact_in_a_double_keep_their_scale() {
        assert_eq!(decimal(b"12.50"), Some((12.5, 2)));
        assert_eq!(decimal(b"-0.001"), Some((-0.001, 3)));
        assert_eq!(decimal(b"123456789012.345"), Some((123456789012.345, 3)));
        assert_eq!(decimal(b"7"), Some((7.0, 0)));
        for text in [
            &b"12345678901234567890"[..],
            b"1234567890123.456",
            b"0.1234567890123456",
            b"-0.00",
            b"NaN",
            b"Infinity",
            b"1.",
            b".5",
            b"01.5",
            b"1e5",
        ] {
            assert_eq!(decimal(text), None, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn floats_finite_only() {
        assert_eq!(float(b"0.30000000000000004"), Some(0.1 + 0.2));
        assert_eq!(float(b"1e300"), Some(1e300));
        assert_eq!(float(b"inf"), None);
        assert_eq!(float(b"NaN"), None);
        assert_eq!(float(b"-Infinity"), None);
    }

    #[test]
    fn excel_serials_follow_the_1900_system() {
        assert_eq!(excel_day(1900, 1, 1), 1);
        assert_eq!(excel_day(1900, 2, 28), 59);
        assert_eq!(excel_day(1900, 3, 1), 61);
        assert_eq!(excel_day(1970, 1, 1), 25_569);
        assert_eq!(excel_day(2026, 10, 31), 46_326);
        assert_eq!(excel_day(9999, 12, 31), 2_958_465);
    }

    #[test]
    fn dates_excel_cannot_hold_exactly_stay_text() {
        assert_eq!(
            date_time(b"2026-10-31", Shape::Date),
            Some((46_326.0, false))
        );
        let (s, ms) = date_time(b"2026-10-31 12:00:00", Shape::DateTime).unwrap();
        assert_eq!((s, ms), (46_326.5, false));
        let (_, ms) = date_time(b"2026-10-31 23:59:59.999", Shape::DateTime).unwrap();
        assert!(ms);
        assert!(date_time(b"2026-10-31 23:59:59.999000", Shape::DateTime).is_some());
        assert!(date_time(b"2026-10-31 23:59:59+09", Shape::DateTimeTz).is_some());
        assert!(date_time(b"2026-10-31 23:59:59.5-05:30", Shape::DateTimeTz).is_some());
        for (text, shape) in [
            (&b"2026-10-31 23:59:59.999999"[..], Shape::DateTime),
            (b"2026-10-31 23:59:59.9995", Shape::DateTime),
            (b"0000-00-00", Shape::Date),
            (b"0000-00-00 00:00:00", Shape::DateTime),
            (b"1800-01-01", Shape::Date),
            (b"1899-12-31", Shape::Date),
            (b"2026-02-29", Shape::Date),
            (b"2026-10-31 24:00:00", Shape::DateTime),
            (b"10000-01-01", Shape::Date),
            (b"0044-03-15 BC", Shape::Date),
            (b"infinity", Shape::DateTime),
            (b"2026-10-31 12:00:00+09", Shape::DateTime),
            (b"2026-10-31 12:00:00", Shape::DateTimeTz),
            (b"2026-10-31x", Shape::Date),
            (b"1-2", Shape::Date),
        ] {
            assert_eq!(
                date_time(text, shape),
                None,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    fn encoder(dir: &Path) -> XlsxEncoder {
        let meta = XlsxMeta {
            title: "t".into(),
            period: None,
            query: "q.sql".into(),
            file_name: "x.xlsx".into(),
            created_unix: 0,
        };
        XlsxEncoder::new(File::create(dir.join("x.xlsx")).unwrap(), dir, meta).unwrap()
    }

    #[test]
    fn more_columns_than_excel_has_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        let e = encoder(dir.path()).header(&names, &[]).unwrap_err();
        assert!(e.to_string().contains("16385 columns"), "{e}");
        assert!(e.to_string().contains("at most 16384"), "{e}");
        let mut ok = encoder(dir.path());
        ok.header(&names[..MAX_COLUMNS], &[]).unwrap();
        ok.field(Some(b"last")).unwrap();
        ok.end_record().unwrap();
        assert!(ok.finish().unwrap() > 0);
    }

    #[test]
    fn a_header_over_excels_limit_names_the_column_number_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["ok".to_string(), "h".repeat(MAX_CELL_CHARS + 1)];
        let e = encoder(dir.path())
            .header(&names, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("the header (column name) of column 2 holds 32768 characters"),
            "{e}"
        );
        assert!(e.contains("a shorter name"), "{e}");
        assert!(!e.contains("row 0"), "{e}");
    }

    #[test]
    fn written_grows_with_the_rows_before_the_workbook_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = encoder(dir.path());
        e.header(
            &["n".into(), "t".into()],
            &[ColumnKind::Integer, ColumnKind::Text],
        )
        .unwrap();
        let start = e.written();
        let mut seen = Vec::new();
        for i in 0..30_000u32 {
            e.field(Some(i.to_string().as_bytes())).unwrap();
            e.field(Some(b"some text to fill the sheet")).unwrap();
            e.end_record().unwrap();
            if i % 10_000 == 9_999 {
                seen.push(e.written());
            }
        }
        if cfg!(target_os = "linux") {
            assert!(seen[0] > start, "{start} {seen:?}");
            assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
            // about 60 bytes of XML per row
            assert!(seen[2] > 30_000 * 40, "{seen:?}");
        }
        let size = e.finish().unwrap();
        assert!(size > 0);
        // the scratch folder is gone with the encoder
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with(".sqlcourier-xlsx-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn cell_length_counts_utf16_units_like_excel() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = encoder(dir.path());
        e.header(&["a".into()], &[ColumnKind::Text]).unwrap();
        // 16,383 emoji = 32,766 UTF-16 units: fits; one more does not
        let fits = "😀".repeat(16_383);
        e.field(Some(fits.as_bytes())).unwrap();
        e.end_record().unwrap();
        let over = "😀".repeat(16_384);
        let err = e.field(Some(over.as_bytes())).unwrap_err().to_string();
        assert!(
            err.contains("row 2, column `a` holds 32768 characters"),
            "{err}"
        );
        assert!(!err.contains('😀'), "the value must not be in the message");
        let err = e.field(Some(b"\xff\xfe")).unwrap_err().to_string();
        assert!(err.contains("not valid UTF-8"), "{err}");
    }

    #[test]
    fn sheet_names_follow_excel_rules() {
        assert_eq!(sheet_name("sales_2026-10.xlsx"), "sales_2026-10");
        assert_eq!(sheet_name("a[b]:c*d?e.xlsx"), "a_b__c_d_e");
        assert_eq!(
            sheet_name("abcdefghijklmnopqrstuvwxyz0123456789.xlsx"),
            "abcdefghijklmnopqrstuvwxyz01234"
        );
        assert_eq!(sheet_name("'quoted'.xlsx"), "quoted");
        assert_eq!(sheet_name("History.xlsx"), "Sheet1");
        assert_eq!(sheet_name("売上_東京.xlsx"), "売上_東京");
        assert_eq!(sheet_name(".xlsx"), "Sheet1");
        assert_eq!(
            sheet_name(&format!("{}.xlsx", "😀".repeat(20)))
                .chars()
                .count(),
            15
        );
    }
}
