//! The Google Sheets option: the CSV is converted on upload, so it must fit a
//! spreadsheet — at most 10,000,000 cells — which is checked before anything is sent.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

use crate::sink::Delivery;

/// Google Sheets' limit for one spreadsheet.
pub const MAX_CELLS: u64 = 10_000_000;

/// Refuses a file that Sheets could not hold, with the numbers and what to do.
pub fn check(staged: &Path, d: &Delivery) -> Result<()> {
    if d.file_name.ends_with(".gz") {
        anyhow::bail!(
            "{}: `convert_to_sheets` needs a plain CSV file; set `gzip: false` in the query file or turn off `convert_to_sheets` for this destination",
            d.file_name
        );
    }
    let columns = if d.file_name.ends_with(".xlsx") {
        d.columns // a workbook has no header line to read
    } else {
        header_columns(staged).with_context(|| {
            format!("{}: cannot read the header of the staged file", d.file_name)
        })?
    };
    let rows = d.rows + 1; // the header row is a row in the sheet too
    let cells = rows.saturating_mul(columns);
    if cells > MAX_CELLS {
        anyhow::bail!(
            "{}: {rows} rows × {columns} columns = {cells} cells, more than the {MAX_CELLS} cells a Google Sheets spreadsheet holds; narrow the query (fewer rows or columns, or split it into variants) or set `convert_to_sheets: false` to deliver a CSV file",
            d.file_name
        );
    }
    Ok(())
}

/// The number of columns in the first line of a CSV file (an empty file: 0).
pub fn header_columns(p: &Path) -> Result<u64> {
    let f = std::fs::File::open(p)?;
    let mut first = Vec::new();
    // the header line is short; a 1 MiB cap keeps a pathological file from filling memory
    f.take(1 << 20).read_to_end(&mut first)?;
    let first = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&first);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(first);
    let mut rec = csv::ByteRecord::new();
    Ok(if rdr.read_byte_record(&mut rec)? {
        rec.len() as u64
    } else {
        0
    })
}

/// A spreadsheet's name: the file name without `.csv` or `.xlsx`.
pub fn sheet_name(file_name: &str) -> String {
    file_name
        .strip_suffix(".csv")
        .or_else(|| file_name.strip_suffix(".xlsx"))
        .unwrap_or(file_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(rows: u64) -> Delivery {
        Delivery {
            file_name: "a.csv".into(),
            query_path: "q.sql".into(),
            variant: None,
            period: None,
            query_sha256: String::new(),
            commit: None,
            run_url: None,
            rows,
            columns: 3,
            bytes: 0,
        }
    }

    #[test]
    fn cell_limit_counts_header_and_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, "\u{feff}a,b,\"c,d\"\r\n1,2,3\r\n").unwrap();
        assert_eq!(header_columns(&p).unwrap(), 3);
        assert!(check(&p, &d(3_333_332)).is_ok()); // 3,333,333 × 3 = 9,999,999
        let e = check(&p, &d(3_333_333)).unwrap_err().to_string();
        assert!(
            e.contains("3333334 rows × 3 columns = 10000002 cells"),
            "{e}"
        );
        assert_eq!(sheet_name("x_2026-10.csv"), "x_2026-10");
        // a workbook's columns come from the delivery, not from a CSV header
        let x = dir.path().join("a.xlsx");
        std::fs::write(&x, b"PK\x03\x04 not a csv").unwrap();
        let mut wb = d(3_333_333);
        wb.file_name = "a.xlsx".into();
        let e = check(&x, &wb).unwrap_err().to_string();
        assert!(e.contains("3333334 rows × 3 columns"), "{e}");
        wb.rows = 10;
        assert!(check(&x, &wb).is_ok());
        assert_eq!(sheet_name("x_2026-10.xlsx"), "x_2026-10");
    }
}
