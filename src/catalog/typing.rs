//! Mistakes of how people really type, found before any parser sees the text.
//!
//! Requesters often write query files on a Japanese keyboard, where the input method
//! turns `:`, ` `, `(`, `-` … into their full-width twins (`：`, `　`, `（`, `－`). The YAML
//! and SQL parsers then report something unrelated, on the wrong line ("found string,
//! expected struct", "no such column: COUNT（"). This module scans the settings block
//! and the SQL first and names the line and column of the full-width character with the
//! half-width one to type instead. Text inside quoted YAML values, SQL string literals,
//! quoted identifiers and comments is left alone: Japanese text there is legal.
//!
//! Written by hand: no crate knows which positions of a YAML line are structure, and
//! the SQL scan must follow each dialect's literal and comment rules only far enough to
//! skip them (the real check is `guard::statement`).

use std::path::Path;

use super::config::Driver;
use super::diag::{Diagnostic, LineIndex};

/// U+3000, the ideographic (full-width) space.
const WIDE_SPACE: char = '\u{3000}';

/// The half-width character a full-width one stands for: U+FF01–U+FF5E map to
/// U+0021–U+007E, U+3000 to a space, and the long dash/minus look-alikes to `-`.
pub fn half_width(c: char) -> Option<char> {
    match c {
        WIDE_SPACE => Some(' '),
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '\u{2212}' | '\u{30FC}' => Some('-'),
        _ => None,
    }
}

fn shown(c: char) -> String {
    match c {
        ' ' => "space".to_string(),
        c => format!("`{c}`"),
    }
}

fn wide_name(c: char) -> String {
    match c {
        WIDE_SPACE => "a full-width space".to_string(),
        c => format!("a full-width `{c}`"),
    }
}

fn diag(path: &Path, line: usize, col: usize, c: char, where_: &str) -> Diagnostic {
    let half = half_width(c).unwrap_or(' ');
    Diagnostic::new(
        path,
        line,
        col,
        format!("{} {where_}", wide_name(c)),
    )
    .help(format!(
        "type the half-width {} instead (turn Japanese input off with the 半角/全角 key, then type it)",
        shown(half)
    ))
}

/// Full-width characters in the structure of a YAML settings block: a `：` after a
/// setting's name, a `　` as indentation, right after the `:`, or after a value, a `－`
/// as a list dash. `text` starts at 1-based `first_line` of `path`.
pub fn check_yaml(path: &Path, text: &str, first_line: usize) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let idx = LineIndex::new(text);
    let mut block_indent: Option<usize> = None;
    for n in 1..=idx.line_count() {
        let line = idx.line_text(n);
        let file_line = first_line + n - 1;
        let chars: Vec<char> = line.chars().collect();
        // inside a `|` / `>` block scalar everything more indented is text
        let indent = chars
            .iter()
            .take_while(|c| **c == ' ' || **c == WIDE_SPACE)
            .count();
        if let Some(b) = block_indent {
            let spaces = chars.iter().take_while(|c| **c == ' ').count();
            if chars.iter().all(|c| *c == ' ') || spaces > b {
                continue;
            }
            block_indent = None;
        }
        // 1. indentation
        if let Some(i) = chars[..indent].iter().position(|c| *c == WIDE_SPACE) {
            out.push(diag(
                path,
                file_line,
                i + 1,
                WIDE_SPACE,
                "is used to indent this line",
            ));
            continue;
        }
        let mut i = indent;
        // 2. a list dash
        if let Some(&c) = chars.get(i)
            && matches!(c, '－' | 'ー' | '\u{2212}')
            && chars
                .get(i + 1)
                .is_some_and(|n| *n == ' ' || *n == WIDE_SPACE)
        {
            out.push(diag(path, file_line, i + 1, c, "starts this list entry"));
            continue;
        }
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c == ' ') {
            i += 2;
            while chars.get(i) == Some(&' ') {
                i += 1;
            }
        }
        // 3. the key, up to `:` or `：`
        let key_start = i;
        while chars
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        {
            i += 1;
        }
        if i == key_start {
            flow_colon(path, file_line, &chars[i..], i, &mut out);
            continue;
        }
        match chars.get(i) {
            Some('：') => {
                out.push(diag(
                    path,
                    file_line,
                    i + 1,
                    '：',
                    &format!(
                        "follows the setting name `{}`",
                        chars[key_start..i].iter().collect::<String>()
                    ),
                ));
                continue;
            }
            Some(':') => i += 1,
            _ => continue,
        }
        // 4. the value: a full-width space right after the `:` or after the value
        if chars.get(i) == Some(&WIDE_SPACE) {
            out.push(diag(path, file_line, i + 1, WIDE_SPACE, "follows the `:`"));
            continue;
        }
        let value: String = chars[i..].iter().collect();
        let v = value.trim_start_matches(' ');
        if v.starts_with(['|', '>']) {
            block_indent = Some(indent);
            continue;
        }
        if v.starts_with(['"', '\'']) {
            continue;
        }
        // 5. an unquoted file name starting with a placeholder: `file: {period}_x.csv`
        if ["{query}", "{variant}", "{period}"]
            .iter()
            .any(|p| v.starts_with(p))
        {
            let at = i + (value.len() - v.len());
            let name = v.split(" #").next().unwrap_or(v).trim_end();
            out.push(
                Diagnostic::new(
                    path,
                    file_line,
                    at + 1,
                    "this value starts with `{`, which YAML reads as a group of settings, not as a file name",
                )
                .help(format!("put the name in quotes: `\"{name}\"`")),
            );
            continue;
        }
        // the end of the value: a ` #` comment, or the line's end
        let vstart = i + (value.len() - v.len());
        let vchars = &chars[vstart..];
        let end = (0..vchars.len())
            .find(|&k| vchars[k] == '#' && k > 0 && vchars[k - 1] == ' ')
            .unwrap_or(vchars.len());
        let body = &vchars[..end];
        // trailing full-width spaces, also before a full-width-spaced `#`
        let trimmed_len = body
            .iter()
            .rposition(|c| *c != ' ' && *c != WIDE_SPACE)
            .map(|p| p + 1)
            .unwrap_or(0);
        if let Some(k) = body[trimmed_len..].iter().position(|c| *c == WIDE_SPACE) {
            out.push(diag(
                path,
                file_line,
                vstart + trimmed_len + k + 1,
                WIDE_SPACE,
                "follows the value",
            ));
            continue;
        }
        if let Some(k) = body
            .windows(2)
            .position(|w| w[0] == WIDE_SPACE && w[1] == '#')
        {
            out.push(diag(
                path,
                file_line,
                vstart + k + 1,
                WIDE_SPACE,
                "stands before the `#` comment",
            ));
            continue;
        }
        flow_colon(path, file_line, body, vstart, &mut out);
    }
    out
}

/// A full-width `：` right after a key inside a flow map: `{name： tokyo}`. `body`
/// starts at 0-based column `offset`.
fn flow_colon(path: &Path, line: usize, body: &[char], offset: usize, out: &mut Vec<Diagnostic>) {
    let mut depth = 0usize;
    let mut word = 0usize;
    for (k, c) in body.iter().enumerate() {
        match c {
            '{' | '[' => {
                depth += 1;
                word = 0;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                word = 0;
            }
            ',' | ' ' => word = 0,
            '：' if depth > 0 && word > 0 => {
                out.push(diag(
                    path,
                    line,
                    offset + k + 1,
                    '：',
                    "follows a setting name",
                ));
                return;
            }
            '"' | '\'' | '#' => return,
            c if c.is_ascii_alphanumeric() || *c == '_' => word += 1,
            _ => word = 0,
        }
    }
}

/// Full-width characters in SQL code (outside string literals, quoted identifiers and
/// comments): `COUNT（*）`, a `　` between words, `＝`, `，`, `：period_start`, …
/// `sql` starts at 1-based line `line`, column `col` of `path`.
pub fn check_sql(
    path: &Path,
    sql: &str,
    line: usize,
    col: usize,
    driver: Driver,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let idx = LineIndex::new(sql);
    let position = |off: usize| {
        let (l, c) = idx.position(off);
        (line + l - 1, if l == 1 { col + c - 1 } else { c })
    };
    let mysql = driver == Driver::Mysql;
    let pg = driver == Driver::Postgres;
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let rest = &sql[i..];
        // comments
        if rest.starts_with("--") || (mysql && rest.starts_with('#')) {
            i += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        if let Some(body) = rest.strip_prefix("/*") {
            i += body.find("*/").map(|e| e + 4).unwrap_or(rest.len());
            continue;
        }
        // quoted text: strings and identifiers
        if let Some(q) = rest
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '"' | '`'))
        {
            let backslash =
                q != '`' && (mysql || (pg && q == '\'' && escape_string_prefix(sql, i)));
            i += 1;
            while i < b.len() {
                if backslash && b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == q as u8 {
                    if b.get(i + 1) == Some(&(q as u8)) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if pg
            && rest.starts_with('$')
            && let Some(tag_end) = rest[1..].find('$')
        {
            let tag = &rest[..tag_end + 2];
            if tag[1..tag.len() - 1]
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_')
                && !tag[1..].starts_with(|c: char| c.is_ascii_digit())
            {
                let body = &rest[tag.len()..];
                i += tag.len() + body.find(tag).map(|e| e + tag.len()).unwrap_or(body.len());
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if let Some(half) = half_width(c)
            && (c == WIDE_SPACE || ('\u{FF01}'..='\u{FF5E}').contains(&c))
        {
            let (l, cl) = position(i);
            let where_ = match half {
                ' ' => "separates the SQL words here".to_string(),
                '(' | ')' => "is used as a bracket in the SQL".to_string(),
                h if h.is_ascii_alphanumeric() => "is part of a word in the SQL".to_string(),
                _ => "is used in the SQL".to_string(),
            };
            out.push(diag(path, l, cl, c, &where_));
        }
        i += c.len_utf8();
    }
    out
}

/// PostgreSQL `E'…'` strings take backslash escapes; standard strings do not.
fn escape_string_prefix(sql: &str, quote_at: usize) -> bool {
    let before = &sql.as_bytes()[..quote_at];
    matches!(before.last(), Some(b'e' | b'E'))
        && !before
            .get(before.len().wrapping_sub(2))
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Vec<(usize, usize, String)> {
        check_yaml(Path::new("q.sql"), text, 2)
            .into_iter()
            .map(|d| {
                (
                    d.line,
                    d.col,
                    format!("{} / {}", d.message, d.help.unwrap()),
                )
            })
            .collect()
    }

    fn sql(text: &str, driver: Driver) -> Vec<(usize, usize, String)> {
        check_sql(Path::new("q.sql"), text, 10, 1, driver)
            .into_iter()
            .map(|d| {
                (
                    d.line,
                    d.col,
                    format!("{} / {}", d.message, d.help.unwrap()),
                )
            })
            .collect()
    }

    #[test]
    fn full_width_colon_after_a_key() {
        let d = yaml("title：月次\ndatabase: main\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].0, d[0].1), (2, 6));
        assert!(d[0].2.contains("half-width `:`"), "{d:?}");
        let d = yaml("variants:\n  - {name： tokyo}\n");
        assert_eq!((d[0].0, d[0].1), (3, 10), "{d:?}");
        let d = yaml("output:\n  file：a.csv\n");
        assert_eq!((d[0].0, d[0].1), (3, 7), "{d:?}");
    }

    #[test]
    fn full_width_space_after_colon_after_value_and_as_indent() {
        let d = yaml("database:　main\n");
        assert_eq!((d[0].0, d[0].1), (2, 10), "{d:?}");
        assert!(d[0].2.contains("half-width space"), "{d:?}");
        let d = yaml("database: main　\n");
        assert_eq!((d[0].0, d[0].1), (2, 15), "{d:?}");
        let d = yaml("database: main　# the main one\n");
        assert_eq!((d[0].0, d[0].1), (2, 15), "{d:?}");
        let d = yaml("output:\n　file: a.csv\n");
        assert_eq!((d[0].0, d[0].1), (3, 1), "{d:?}");
        assert!(d[0].2.contains("indent"), "{d:?}");
        let d = yaml("output:\n 　file: a.csv\n");
        assert_eq!((d[0].0, d[0].1), (3, 2), "{d:?}");
        let d = yaml("variants:\n  ー name: tokyo\n");
        assert_eq!((d[0].0, d[0].1), (3, 3), "{d:?}");
        assert!(d[0].2.contains("half-width `-`"), "{d:?}");
    }

    #[test]
    fn unquoted_placeholder_file_name() {
        let d = yaml("output:\n  file: {period}_signups.csv # monthly\n");
        assert_eq!((d[0].0, d[0].1), (3, 9), "{d:?}");
        assert!(
            d[0].2
                .contains("put the name in quotes: `\"{period}_signups.csv\"`"),
            "{d:?}"
        );
        assert!(yaml("output:\n  file: \"{period}.csv\"\nparams: {a: 1}\n").is_empty());
    }

    #[test]
    fn japanese_text_in_values_stays_legal() {
        for ok in [
            "title: 月次　新規会員数（都道府県別）：確定版\n",
            "title: \"月次：　\"\n",
            "title: '　先頭'\n",
            "description: >\n  今月の　会員：\n  　全角でも本文\ndatabase: main\n",
            "variants:\n  - {name: tokyo, params: {prefecture: 東京都}}\n",
            "params: {note: \"a：b\"}\n",
            "# コメント：　全角\n",
            "title: x # コメント　：\n",
        ] {
            assert!(yaml(ok).is_empty(), "{ok:?}: {:?}", yaml(ok));
        }
    }

    #[test]
    fn full_width_brackets_spaces_and_signs_in_sql() {
        let d = sql("SELECT COUNT（*） FROM t", Driver::Mysql);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!((d[0].0, d[0].1), (10, 13));
        assert!(d[0].2.contains("half-width `(`"), "{d:?}");
        assert!(d[1].2.contains("half-width `)`"), "{d:?}");
        let d = sql("SELECT id\nFROM　orders", Driver::Postgres);
        assert_eq!((d[0].0, d[0].1), (11, 5), "{d:?}");
        assert!(d[0].2.contains("half-width space"), "{d:?}");
        let d = sql("SELECT a FROM t WHERE x ＝ ：period_start", Driver::Sqlite);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].2.contains("`=`") && d[1].2.contains("`:`"), "{d:?}");
    }

    #[test]
    fn full_width_text_in_sql_literals_and_comments_stays_legal() {
        for (ok, driver) in [
            (
                "SELECT '東京都（本社）　' AS a -- 全角（）\nFROM t",
                Driver::Mysql,
            ),
            ("SELECT \"列　名\" FROM t /* 全角　*/", Driver::Postgres),
            ("SELECT `列（）` FROM t # 全角　", Driver::Mysql),
            ("SELECT 'it''s　（）' FROM t", Driver::Sqlite),
            ("SELECT 'a\\'　' FROM t", Driver::Mysql),
            ("SELECT $$　（）$$, $x$　$x$ FROM t", Driver::Postgres),
            ("SELECT E'\\'　' FROM t", Driver::Postgres),
            ("SELECT 件数 FROM 会員", Driver::Mysql),
        ] {
            assert!(sql(ok, driver).is_empty(), "{ok:?}: {:?}", sql(ok, driver));
        }
        // a backslash ends nothing in a standard PostgreSQL string
        let d = sql("SELECT 'a\\' FROM（t）", Driver::Postgres);
        assert_eq!(d.len(), 2, "{d:?}");
    }
}
