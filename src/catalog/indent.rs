//! Indentation mistakes in a YAML settings block, said as "which setting this line
//! belongs under and how to indent it" instead of the parser's "mapping values are not
//! allowed here" or "`file` is not a setting".
//!
//! Written by hand: YAML parsers report where they gave up, not which line was
//! indented wrong. This reads only the shape of the lines (`key:` and its indentation),
//! skipping block scalars (`|`, `>`), multi-line flow collections and comments.

use std::path::Path;

use super::diag::{Diagnostic, LineIndex};

/// Which settings hold which: `("output", &["file", "encoding", "gzip"])`. A parent
/// written `a.*` matches any key under `a` (e.g. `databases.*` for `databases: {main: …}`).
pub type Sections = &'static [(&'static str, &'static [&'static str])];

/// The front matter's nested settings.
pub const FRONT_MATTER: Sections = &[
    ("output", &["file", "encoding", "gzip"]),
    ("variants", &["name", "params"]),
];

/// `sqlcourier.yaml`'s nested settings.
pub const REPO_CONFIG: Sections = &[
    ("defaults", &["timezone", "encoding", "timeout"]),
    ("masking", &["key_env", "sniff_rows"]),
    ("databases.*", &["driver", "url_env"]),
    (
        "destinations.*",
        &[
            "type",
            "path",
            "retention_days",
            "folder_id",
            "readers",
            "key_env",
            "key_file",
            "chunk_size_mib",
            "convert_to_sheets",
        ],
    ),
    ("readers", &["users", "groups", "domains"]),
];

/// The parents a key can belong under, e.g. `file` → `["output"]`.
pub fn parents_of(sections: Sections, key: &str) -> Vec<&'static str> {
    sections
        .iter()
        .filter(|(_, children)| children.contains(&key))
        .map(|(p, _)| *p)
        .collect()
}

fn parent_name(p: &str) -> String {
    match p.strip_suffix(".*") {
        Some(list) => format!("an entry of `{list}:`"),
        None => format!("`{p}:`"),
    }
}

#[derive(Debug)]
struct KeyLine {
    line: usize,
    /// The key's column, 0-based (after a list dash).
    indent: usize,
    /// The list dash's column when the line starts a list entry.
    dash: Option<usize>,
    key: String,
    /// `key:` with nothing after it: the lines below belong to it.
    opens: bool,
}

fn key_lines(text: &str) -> Vec<KeyLine> {
    let idx = LineIndex::new(text);
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    let mut depth = 0i32;
    for n in 1..=idx.line_count() {
        let line = idx.line_text(n);
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(b) = block {
            if indent > b {
                continue;
            }
            block = None;
        }
        if depth > 0 {
            depth += bracket_balance(trimmed);
            continue;
        }
        let (dash, body, key_col) = match trimmed.strip_prefix("- ") {
            Some(rest) => {
                let r = rest.trim_start_matches(' ');
                (Some(indent), r, indent + 2 + (rest.len() - r.len()))
            }
            None => (None, trimmed, indent),
        };
        let key_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(body.len());
        let after = &body[key_len..];
        if key_len == 0 || !(after.starts_with(": ") || after == ":" || after.starts_with(":\t")) {
            depth += bracket_balance(body);
            continue;
        }
        let value = after[1..].trim();
        let value = value.split(" #").next().unwrap_or("").trim();
        if value.starts_with(['|', '>']) {
            block = Some(key_col.min(indent));
        }
        depth += bracket_balance(value);
        out.push(KeyLine {
            line: n,
            indent: key_col,
            dash,
            key: body[..key_len].to_string(),
            opens: value.is_empty(),
        });
    }
    out
}

/// Unclosed `{`/`[` minus `}`/`]` outside quotes.
fn bracket_balance(s: &str) -> i32 {
    let mut d = 0;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => break,
            (None, '{' | '[') => d += 1,
            (None, '}' | ']') => d -= 1,
            _ => {}
        }
    }
    d
}

/// The first indentation mistake, located; `text` starts at 1-based `first_line`.
pub fn check(path: &Path, text: &str, first_line: usize, sections: Sections) -> Option<Diagnostic> {
    let lines = key_lines(text);
    for (i, k) in lines.iter().enumerate() {
        let at = first_line + k.line - 1;
        let prev = i.checked_sub(1).map(|p| &lines[p]);
        if let Some(p) = prev {
            // 1. deeper than a line that already has a value
            if k.indent > p.indent && !p.opens && k.dash.is_none_or(|d| d > p.indent) {
                return Some(
                    Diagnostic::new(
                        path,
                        at,
                        k.indent + 1,
                        format!(
                            "`{}` is indented further than `{}` on the line above, which already has a value",
                            k.key, p.key
                        ),
                    )
                    .help(format!(
                        "start `{}` in the same column as `{}` ({} space(s) from the left)",
                        k.key, p.key, p.indent
                    )),
                );
            }
            // 2. a section left empty because its settings are not indented
            if p.opens && k.indent <= p.indent && k.dash.is_none_or(|d| d <= p.indent) {
                let under = parents_of(sections, &k.key);
                if under
                    .iter()
                    .any(|u| *u == p.key || (u.ends_with(".*") && p.indent > 0))
                {
                    return Some(
                        Diagnostic::new(
                            path,
                            at,
                            k.indent + 1,
                            format!(
                                "`{}` belongs under `{}:` on the line above, but is not indented",
                                k.key, p.key
                            ),
                        )
                        .help(format!(
                            "indent `{}` (and the settings after it that belong to `{}`) by two spaces more than `{}`, i.e. {} spaces",
                            k.key,
                            p.key,
                            p.key,
                            p.indent + 2
                        )),
                    );
                }
            }
        }
        // 3. shallower than its previous sibling, matching no open parent
        if let Some(p) = prev
            && k.indent < p.indent
            && k.dash.is_none()
            && !lines[..i]
                .iter()
                .any(|o| o.indent == k.indent || o.dash == Some(k.indent))
        {
            let under = parents_of(sections, &k.key);
            let help = match under.first() {
                Some(u) => format!(
                    "`{}` belongs under {}: start it in the same column as the other settings there",
                    k.key,
                    parent_name(u)
                ),
                None => format!(
                    "start `{}` in the column of the setting it belongs with (the top-level settings start in the first column)",
                    k.key
                ),
            };
            return Some(
                Diagnostic::new(
                    path,
                    at,
                    k.indent + 1,
                    format!(
                        "`{}` is indented by {} space(s), which lines it up with no setting above",
                        k.key, k.indent
                    ),
                )
                .help(help),
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Option<(usize, usize, String)> {
        check(Path::new("q.sql"), text, 2, FRONT_MATTER).map(|d| {
            (
                d.line,
                d.col,
                format!("{} / {}", d.message, d.help.unwrap()),
            )
        })
    }

    #[test]
    fn one_space_too_far() {
        let d = run("output:\n  file: a.csv\n   encoding: cp932\n").unwrap();
        assert_eq!((d.0, d.1), (4, 4), "{d:?}");
        assert!(d.2.contains("same column as `file`"), "{d:?}");
        let d = run("title: t\n database: main\n").unwrap();
        assert_eq!((d.0, d.1), (3, 2), "{d:?}");
    }

    #[test]
    fn one_space_short() {
        let d = run("title: t\noutput:\n  file: a.csv\n encoding: cp932\n").unwrap();
        assert_eq!((d.0, d.1), (5, 2), "{d:?}");
        assert!(d.2.contains("belongs under `output:`"), "{d:?}");
    }

    #[test]
    fn not_indented_at_all() {
        let d = run("title: t\noutput:\nfile: a.csv\nencoding: cp932\n").unwrap();
        assert_eq!((d.0, d.1), (4, 1), "{d:?}");
        assert!(d.2.contains("belongs under `output:`"), "{d:?}");
        assert!(d.2.contains("2 spaces"), "{d:?}");
    }

    #[test]
    fn good_shapes_pass() {
        for ok in [
            "title: t\noutput:\n  file: a.csv\n  encoding: cp932\nmask:\n email: hash\n",
            "variants:\n  - name: tokyo\n    params: {prefecture: 東京都}\n  - name: osaka\n    params:\n      prefecture: 大阪府\ntitle: t\n",
            "variants:\n- name: tokyo\n  params: {a: 1}\n- {name: osaka}\n",
            "description: >\n  line one\n    indented more: fine\n  done\ntitle: t\n",
            "params: {\n  a: 1,\n    b: 2\n}\ntitle: t\n",
            "description:\ntitle: t\n",
            "# comment\n  # indented comment\ntitle: t # x\n",
        ] {
            assert_eq!(run(ok), None, "{ok:?}");
        }
    }
}
