//! YAML parsing with plain-words errors located in the containing file.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::diag::{Diagnostic, LineIndex};
use super::indent::{self, Sections};

/// Parses `text` (which starts at 1-based `first_line` of `path`) into `T`.
///
/// Before the YAML parser sees the text, mistakes of how people type are looked for
/// (full-width `：` and `　`, an unquoted `{period}` file name: see `typing`); when the
/// parser fails, an indentation mistake is looked for before its own words are used.
/// `sections` says which settings hold which, so a misplaced one is named with the
/// setting it belongs under.
pub fn parse<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    first_line: usize,
    what: &str,
    sections: Sections,
) -> Result<T, Vec<Diagnostic>> {
    // libyaml also breaks lines at NEL, LS and PS; count them as we do
    let owned;
    let text = if text.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        owned = text.replace(['\u{85}', '\u{2028}', '\u{2029}'], "\n");
        owned.as_str()
    } else {
        text
    };
    let typed = super::typing::check_yaml(path, text, first_line);
    if !typed.is_empty() {
        return Err(typed);
    }
    let lines = text.lines().count().max(1);
    yaml_serde::from_str::<T>(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line().clamp(1, lines), l.column()))
            .unwrap_or((1, 1));
        let raw = strip_location(&e.to_string());
        if let Some(d) = indent::check(path, text, first_line, sections) {
            return vec![d];
        }
        let (mut message, help) = explain(&raw, what, sections);
        let (line, col) = match relocate(text, &raw, line) {
            Some((l, c, key)) => {
                if let Some((_, rest)) = message.split_once(": it should be ") {
                    message = format!("`{key}` should be {rest}");
                }
                (l, c)
            }
            None => (line, col),
        };
        let mut d = Diagnostic::new(path, first_line + line - 1, col, message);
        if let Some(h) = help {
            d = d.help(h);
        }
        vec![d]
    })
}

/// serde reports a wrongly typed value inside an internally tagged enum (a destination
/// with `type:`) at the start of its mapping: find the line that holds the value, and
/// its key. Returns (line, column of the key, key).
fn relocate(text: &str, raw: &str, line: usize) -> Option<(usize, usize, String)> {
    let found = raw
        .split_once("invalid type: ")
        .map(|(_, r)| r)
        .and_then(|r| r.rsplit_once(", expected").map(|(f, _)| f))?;
    let value = match found.split_once(' ') {
        Some(("string" | "integer" | "floating", v)) => v.trim_matches('`').trim_matches('"'),
        _ => return None,
    };
    let idx = LineIndex::new(text);
    (line.max(1)..=idx.line_count()).find_map(|n| {
        let t = idx.line_text(n);
        let (k, v) = t.split_once(": ")?;
        let v = v.split(" #").next()?.trim().trim_matches(['"', '\'']);
        let key = k.trim().trim_start_matches("- ").trim();
        (v == value).then(|| (n, t.len() - t.trim_start().len() + 1, key.to_string()))
    })
}

fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Turns serde's wording into words a requester understands.
fn explain(raw: &str, what: &str, sections: Sections) -> (String, Option<String>) {
    // `a.b: unknown field ...` — serde_yaml prefixes the key path
    let (key_path, msg) = match raw.split_once(": ") {
        Some((p, m)) if !p.contains(' ') && !p.is_empty() => (Some(p), m),
        _ => (None, raw),
    };
    let at = key_path
        .map(|p| format!(" (under `{p}`)"))
        .unwrap_or_default();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .trim();
        let under = indent::parents_of(sections, field);
        if let Some(p) = under.first()
            && !key_path.is_some_and(|k| k == *p || k.starts_with(p.trim_end_matches('*')))
        {
            let parent = match p.strip_suffix(".*") {
                Some(list) => format!("an entry of `{list}:`"),
                None => format!("`{p}:`"),
            };
            return (
                format!("`{field}` is not a setting here{at}; it belongs under {parent}"),
                Some(format!(
                    "move it below {parent} and indent it two spaces more than that line, like the other settings there"
                )),
            );
        }
        return (
            format!("`{field}` is not a setting sqlcourier knows{at}"),
            Some(if expected.is_empty() {
                "remove it, or check its spelling".to_string()
            } else {
                format!("check the spelling; the settings allowed here are: {expected}")
            }),
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (
            format!("the setting `{field}` is missing{at}"),
            Some(format!("add a line `{field}: ...` to the {what}")),
        );
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        if found.starts_with("map") && expected.contains("string") {
            return (
                format!(
                    "this value{at} starts with `{{`, which YAML reads as a group of settings, not as text"
                ),
                Some("put the value in quotes, e.g. `file: \"{period}_signups.csv\"`".into()),
            );
        }
        if found.starts_with("unit") {
            return (
                format!("a setting{at} has no value"),
                Some(format!(
                    "write its value after the `:`, or indent the lines that belong under it by two spaces; see the {what} reference in README.md"
                )),
            );
        }
        return (
            format!(
                "a value has the wrong kind{at}: it should be {}, but is {}",
                plain_kind(expected),
                plain_kind(found)
            ),
            Some(format!(
                "write {} (see the {what} reference in README.md)",
                plain_kind(expected)
            )),
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (v, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ");
        return (
            format!("`{v}` is not an allowed value{at}"),
            Some(format!("use one of: {expected}")),
        );
    }
    if msg.contains("duplicate entry") || msg.contains("duplicate key") {
        return (
            format!("a setting is written twice{at}: {msg}"),
            Some("keep only one of them".into()),
        );
    }
    (
        format!("the {what} is not valid YAML{at}: {msg}"),
        Some(
            "check indentation (spaces, not tabs), a missing `:` after a name, or text with `:` or `#` that needs \"quotes\""
                .into(),
        ),
    )
}

/// serde's names of kinds, in plain words.
fn plain_kind(k: &str) -> String {
    let k = k.trim();
    let first = k.trim_start_matches("a ").trim_start_matches("an ");
    let word = first.split([' ', '`']).next().unwrap_or(first);
    match word {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (digits only, no `%` or units)",
        "i8" | "i16" | "i32" | "i64" | "integer" => "a whole number",
        "f32" | "f64" | "floating" | "float" => "a number",
        "boolean" => "`true` or `false`",
        "string" => "text",
        "struct" | "map" => "a group of settings (indented `name: value` lines)",
        "sequence" => "a list (`- item` lines, or `[a, b]`)",
        "unit" => "empty",
        _ => return k.to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        title: String,
        n: Option<u32>,
    }

    #[test]
    fn unknown_field_is_located_and_explained() {
        let e = parse::<T>(
            Path::new("q.sql"),
            "title: a\ntitel: b\n",
            5,
            "front matter",
            &[],
        )
        .unwrap_err()
        .remove(0);
        assert_eq!((e.line, e.col), (6, 1), "{e}");
        assert!(e.message.contains("`titel` is not a setting"), "{e}");
        assert!(e.help.unwrap().contains("title"));
    }

    #[test]
    fn missing_and_wrong_type() {
        let e = parse::<T>(Path::new("q.sql"), "n: 3\n", 1, "front matter", &[])
            .unwrap_err()
            .remove(0);
        assert!(e.message.contains("`title` is missing"), "{e}");
        let e = parse::<T>(
            Path::new("q.sql"),
            "title: a\nn: many\n",
            1,
            "front matter",
            &[],
        )
        .unwrap_err()
        .remove(0);
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("`n` should be a whole number"), "{e}");
    }

    #[test]
    fn malformed_yaml() {
        let e = parse::<T>(
            Path::new("q.sql"),
            "title: 'unclosed\nn: 1\n",
            10,
            "front matter",
            &[],
        )
        .unwrap_err()
        .remove(0);
        assert!(e.line >= 10, "{e}");
        assert!(e.message.contains("not valid YAML"), "{e}");
    }
}
