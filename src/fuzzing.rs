//! Properties checked by the fuzz targets in `fuzz/` and, on the saved corpus, by the
//! regular test suite. Each function panics when the property does not hold.

use std::path::Path;

use crate::catalog::Catalog;
use crate::catalog::config::RepoConfig;
use crate::catalog::query::QueryFile;
use crate::encode::{CsvEncoder, Encoding};

const CONFIG: &str = "databases:\n  main: {driver: mysql, url_env: X}\n  pg: {driver: postgres, url_env: Y}\n  lite: {driver: sqlite, url_env: Z}\ndestinations:\n  out: {type: local, path: out}\n";

/// Any bytes as a query file: parsing and checking never panic, and every problem is
/// located inside the file.
pub fn query_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("queries/fuzz.sql");
    // lines as sqlcourier counts them: CR, CRLF and LF end a line (and NEL/LS/PS do
    // inside the YAML settings block, where libyaml breaks lines at them too)
    let normalized = crate::catalog::config::normalize_newlines(text);
    let lines = normalized
        .split(['\n', '\u{85}', '\u{2028}', '\u{2029}'])
        .count()
        .max(1);
    let file = match QueryFile::parse(path, text.to_string(), String::new()) {
        Ok(f) => f,
        Err(d) => {
            assert!(d.line <= lines, "diagnostic outside the file: {d}");
            return;
        }
    };
    let config = RepoConfig::parse(Path::new("sqlcourier.yaml"), CONFIG).expect("fixed config");
    let catalog = Catalog {
        config,
        config_path: "sqlcourier.yaml".into(),
        root: ".".into(),
        schemas: Default::default(),
    };
    for db in ["main", "pg", "lite"] {
        let mut f = file.clone();
        f.front.database = db.into();
        if let Err(diags) = catalog.check_file(f) {
            for d in diags {
                assert!(
                    d.line >= 1 && d.line <= lines,
                    "diagnostic outside the file: {d}"
                );
                assert!(!d.message.is_empty());
            }
        }
    }
}

/// Any bytes as rows of fields: the CSV written parses back to the same fields (NULL
/// and empty string kept apart); CP932 either fails cleanly or round-trips.
pub fn csv_round_trip(data: &[u8]) {
    // fields are separated by 0x1F, rows by 0x1E, NULL is a lone 0x1D
    let text = String::from_utf8_lossy(data);
    let rows: Vec<Vec<Option<&str>>> = text
        .split('\u{1e}')
        .map(|r| {
            r.split('\u{1f}')
                .map(|f| if f == "\u{1d}" { None } else { Some(f) })
                .collect()
        })
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(1);
    let header: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
    for enc in [Encoding::Utf8, Encoding::Utf8Bom, Encoding::Cp932] {
        let mut w = CsvEncoder::new(Vec::new(), enc);
        w.header(&header).expect("header");
        let mut failed = false;
        for r in &rows {
            for i in 0..width {
                let v = r.get(i).copied().flatten();
                if w.field(v.map(str::as_bytes), false).is_err() {
                    failed = true;
                    break;
                }
            }
            if failed {
                break;
            }
            w.end_record().expect("end");
        }
        if failed {
            assert_eq!(enc, Encoding::Cp932, "only CP932 may refuse a value");
            continue;
        }
        let bytes = w.into_inner();
        let decoded = match enc {
            Encoding::Cp932 => {
                let (t, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
                assert!(!bad, "CP932 output does not decode");
                t.into_owned()
            }
            _ => String::from_utf8(bytes).expect("UTF-8 output"),
        };
        let parsed = parse(decoded.strip_prefix('\u{feff}').unwrap_or(&decoded));
        assert_eq!(parsed.len(), rows.len() + 1, "row count");
        for (r, p) in rows.iter().zip(&parsed[1..]) {
            assert_eq!(p.len(), width, "field count");
            for (i, got) in p.iter().enumerate() {
                let want = r.get(i).copied().flatten().map(|w| {
                    if enc == Encoding::Cp932 {
                        // CP932 has no own code for ¥ and ‾: they are written as 0x5C
                        // and 0x7E, which Japanese Windows shows as ¥ and ‾
                        w.replace('¥', "\\").replace('‾', "~")
                    } else {
                        w.to_string()
                    }
                });
                assert_eq!(got.as_deref(), want.as_deref(), "field {i}");
            }
        }
    }
}

/// A strict RFC 4180 reader that keeps NULL (unquoted empty) apart from `""`.
fn parse(text: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_q) = (false, false);
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        if in_q {
            if c == '"' {
                if it.peek() == Some(&'"') {
                    field.push('"');
                    it.next();
                } else {
                    in_q = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty(), "quote inside an unquoted field");
                in_q = true;
                quoted = true;
            }
            ',' | '\r' => {
                if c == '\r' {
                    assert_eq!(it.next(), Some('\n'), "bare CR outside quotes");
                }
                let f = std::mem::take(&mut field);
                row.push(if f.is_empty() && !quoted {
                    None
                } else {
                    Some(f)
                });
                quoted = false;
                if c == '\r' {
                    rows.push(std::mem::take(&mut row));
                }
            }
            '\n' => panic!("bare LF outside quotes"),
            _ => field.push(c),
        }
    }
    assert!(
        row.is_empty() && field.is_empty() && !in_q,
        "unterminated record"
    );
    rows
}
