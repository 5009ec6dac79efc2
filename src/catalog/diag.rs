//! Diagnostics: a problem found in a query file or in `sqlcourier.yaml`, located at
//! `path:line:col`, said in plain words, with what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Whether a problem stops the query (error) or only asks for a second look (warning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column (in characters) in the line.
    pub col: usize,
    /// What is wrong, in words a requester understands.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    pub severity: Severity,
}

impl Diagnostic {
    pub fn new(path: &Path, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: line.max(1),
            col: col.max(1),
            message: message.into(),
            help: None,
            severity: Severity::Error,
        }
    }

    /// Makes this a warning: shown, but the query still runs.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// A GitHub Actions workflow command, so the problem shows on the line of the PR diff.
    pub fn to_github(&self) -> String {
        github_error(Some(self), &self.text())
    }

    /// The message and what to do, on one line.
    pub fn text(&self) -> String {
        let mut msg = self.message.clone();
        if let Some(h) = &self.help {
            msg.push_str(" — what to do: ");
            msg.push_str(h);
        }
        msg
    }
}

/// One `::error` workflow command, at the diagnostic's file/line/column when given;
/// the one place where annotation text is escaped.
pub fn github_error(at: Option<&Diagnostic>, msg: &str) -> String {
    match at {
        Some(d) => format!(
            "::{} file={},line={},col={},title=sqlcourier check::{}",
            if d.is_warning() { "warning" } else { "error" },
            escape_property(&d.path.display().to_string()),
            d.line,
            d.col,
            escape_data(msg)
        ),
        None => format!("::error title=sqlcourier check::{}", escape_data(msg)),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}{}",
            self.path.display(),
            self.line,
            self.col,
            if self.is_warning() { "warning: " } else { "" },
            self.message
        )?;
        if let Some(h) = &self.help {
            write!(f, "\n  what to do: {h}")?;
        }
        Ok(())
    }
}

/// A set of diagnostics that stops a command; displayed one per paragraph.
#[derive(Debug, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

// https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Maps byte offsets of a text to 1-based (line, column) positions.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { text, starts }
    }

    /// 1-based line and character column of byte offset `off`.
    pub fn position(&self, off: usize) -> (usize, usize) {
        let off = off.min(self.text.len());
        let line = match self.starts.binary_search(&off) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        let col = self
            .text
            .get(start..off)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, col + 1)
    }

    /// Byte offset of the start of 1-based `line`.
    pub fn line_start(&self, line: usize) -> usize {
        self.starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    pub fn line_text(&self, line: usize) -> &'a str {
        let start = self.line_start(line);
        let end = self.starts.get(line).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// Finds where a key of a YAML mapping is written, following a path of keys by
/// indentation, e.g. `["output", "encoding"]`. Lines are 1-based; `first_line` is the
/// line on which the YAML starts. Returns the key's (line, col), or the closest parent's.
pub fn locate_key(
    index: &LineIndex<'_>,
    first_line: usize,
    last_line: usize,
    keys: &[&str],
) -> (usize, usize) {
    let mut found = (first_line, 1);
    let mut from = first_line;
    let mut parent_indent: Option<usize> = None;
    'keys: for key in keys {
        let start = from;
        for line in start..=last_line.min(index.line_count()) {
            let text = index.line_text(line);
            let trimmed = text.trim_start();
            let indent = text.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(p) = parent_indent
                && line > start
                && indent <= p
                && !trimmed.starts_with("- ")
            {
                break;
            }
            let body = trimmed.trim_start_matches("- ");
            let key_text = body
                .strip_prefix('"')
                .and_then(|b| b.strip_prefix(*key))
                .and_then(|b| b.strip_prefix('"'))
                .or_else(|| body.strip_prefix(*key));
            if let Some(rest) = key_text
                && rest.trim_start().starts_with(':')
            {
                let col = text[..text.len() - body.len()].chars().count() + 1;
                found = (line, col);
                from = line + 1;
                parent_indent = Some(indent);
                continue 'keys;
            }
        }
        break;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_not_bytes() {
        let idx = LineIndex::new("ab\n日本x\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(3), (2, 1));
        assert_eq!(idx.position(3 + 6), (2, 3));
    }

    #[test]
    fn locate_nested_key() {
        let text = "title: x\noutput:\n  file: a.csv\n  encoding: cp932\nmask:\n  encoding: hash\n";
        let idx = LineIndex::new(text);
        assert_eq!(locate_key(&idx, 1, 7, &["output", "encoding"]), (4, 3));
        assert_eq!(locate_key(&idx, 1, 7, &["mask", "encoding"]), (6, 3));
        assert_eq!(locate_key(&idx, 1, 7, &["title"]), (1, 1));
        // a missing child points at its parent
        assert_eq!(locate_key(&idx, 1, 7, &["output", "gzip"]), (2, 1));
    }

    #[test]
    fn github_annotation_escapes() {
        let d = Diagnostic::new(Path::new("queries/a,b.sql"), 3, 4, "bad\nthing 100%");
        assert_eq!(
            d.to_github(),
            "::error file=queries/a%2Cb.sql,line=3,col=4,title=sqlcourier check::bad%0Athing 100%25"
        );
    }
}
