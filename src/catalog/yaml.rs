//! YAML parsing with plain-words errors located in the containing file.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::diag::Diagnostic;

/// Parses `text` (which starts at 1-based `first_line` of `path`) into `T`.
pub fn parse<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    first_line: usize,
    what: &str,
) -> Result<T, Diagnostic> {
    // libyaml also breaks lines at NEL, LS and PS; count them as we do
    let owned;
    let text = if text.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        owned = text.replace(['\u{85}', '\u{2028}', '\u{2029}'], "\n");
        owned.as_str()
    } else {
        text
    };
    let lines = text.lines().count().max(1);
    yaml_serde::from_str::<T>(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line().clamp(1, lines), l.column()))
            .unwrap_or((1, 1));
        let raw = strip_location(&e.to_string());
        let (message, help) = explain(&raw, what);
        let mut d = Diagnostic::new(path, first_line + line - 1, col, message);
        if let Some(h) = help {
            d = d.help(h);
        }
        d
    })
}

fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Turns serde's wording into words a requester understands.
fn explain(raw: &str, what: &str) -> (String, Option<String>) {
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
        return (
            format!("a value has the wrong kind{at}: found {rest}"),
            Some(format!(
                "see the {what} reference in README.md for what this setting takes"
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
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (6, 1), "{e}");
        assert!(e.message.contains("`titel` is not a setting"), "{e}");
        assert!(e.help.unwrap().contains("title"));
    }

    #[test]
    fn missing_and_wrong_type() {
        let e = parse::<T>(Path::new("q.sql"), "n: 3\n", 1, "front matter").unwrap_err();
        assert!(e.message.contains("`title` is missing"), "{e}");
        let e =
            parse::<T>(Path::new("q.sql"), "title: a\nn: many\n", 1, "front matter").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("wrong kind"), "{e}");
    }

    #[test]
    fn malformed_yaml() {
        let e = parse::<T>(
            Path::new("q.sql"),
            "title: 'unclosed\nn: 1\n",
            10,
            "front matter",
        )
        .unwrap_err();
        assert!(e.line >= 10, "{e}");
        assert!(e.message.contains("not valid YAML"), "{e}");
    }
}
