//! GitHub shows at most 10 error and 10 warning annotations per step. When there are
//! more, every file with problems first gets one (its first problem, saying how many
//! more it has), then the rest fill what is left; the job summary lists them all.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::catalog::diag::{Diagnostic, github_error};

/// GitHub's limit per step and per severity.
pub const PER_STEP: usize = 10;

/// The workflow commands to print: at most [`PER_STEP`] errors and as many warnings.
pub fn select(diags: &[Diagnostic]) -> Vec<String> {
    let mut out = Vec::new();
    for warning in [false, true] {
        let of_kind: Vec<&Diagnostic> =
            diags.iter().filter(|d| d.is_warning() == warning).collect();
        if of_kind.len() <= PER_STEP {
            out.extend(of_kind.iter().map(|d| d.to_github()));
            continue;
        }
        let mut by_file: BTreeMap<&PathBuf, Vec<&Diagnostic>> = BTreeMap::new();
        for d in &of_kind {
            by_file.entry(&d.path).or_default().push(d);
        }
        // more files than annotations: the last one says where the rest are
        let overflow = by_file.len() > PER_STEP;
        let mut budget = if overflow { PER_STEP - 1 } else { PER_STEP };
        let mut chosen: Vec<(&Diagnostic, usize)> = Vec::new();
        // one per file first
        for list in by_file.values() {
            if budget == 0 {
                break;
            }
            chosen.push((list[0], 0));
            budget -= 1;
        }
        // then more of each file, in order, while the budget lasts
        let mut depth = 1;
        while budget > 0 {
            let mut any = false;
            for list in by_file.values() {
                if budget > 0 && list.len() > depth {
                    chosen.push((list[depth], depth));
                    budget -= 1;
                    any = true;
                }
            }
            if !any {
                break;
            }
            depth += 1;
        }
        for (d, i) in chosen {
            let list = &by_file[&d.path];
            let mut text = d.text();
            let in_file = list.len();
            if i == 0 && in_file > 1 {
                let _ = write!(
                    text,
                    " (this file has {in_file} problems; GitHub shows only some here: all of them are in the job summary)"
                );
            }
            out.push(github_error(Some(d), &text));
        }
        if overflow {
            let files_left = by_file.len() - (PER_STEP - 1);
            out.push(github_error(
                None,
                &format!("{files_left} more file(s) have problems that GitHub cannot show as annotations: see the job summary"),
            ));
        }
    }
    out
}

/// Markdown for `$GITHUB_STEP_SUMMARY`: every problem, by file.
pub fn summary(diags: &[Diagnostic]) -> String {
    let mut s = String::new();
    if diags.is_empty() {
        return s;
    }
    let mut by_file: BTreeMap<&PathBuf, Vec<&Diagnostic>> = BTreeMap::new();
    for d in diags {
        by_file.entry(&d.path).or_default().push(d);
    }
    let _ = writeln!(
        s,
        "## sqlcourier check: {} problem(s) in {} file(s)\n",
        diags.len(),
        by_file.len()
    );
    for (path, list) in by_file {
        let _ = writeln!(s, "### `{}`\n", path.display());
        for d in list {
            let kind = if d.is_warning() { "warning" } else { "error" };
            let _ = writeln!(
                s,
                "- line {}, column {} ({kind}): {}",
                d.line,
                d.col,
                md_escape(&d.text())
            );
        }
        let _ = writeln!(s);
    }
    s
}

fn md_escape(s: &str) -> String {
    s.replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_file_gets_an_annotation_within_the_limit() {
        let mut diags = Vec::new();
        for i in 0..30 {
            diags.push(Diagnostic::new(Path::new("queries/a.sql"), i + 1, 1, "a"));
        }
        for f in ["b", "c", "d"] {
            diags.push(Diagnostic::new(
                Path::new(&format!("queries/{f}.sql")),
                1,
                1,
                "x",
            ));
        }
        diags.push(Diagnostic::new(Path::new("queries/w.sql"), 1, 1, "w").warning());
        let out = select(&diags);
        let errors: Vec<&String> = out.iter().filter(|l| l.starts_with("::error")).collect();
        assert_eq!(errors.len(), PER_STEP, "{out:#?}");
        for f in ["a", "b", "c", "d"] {
            assert!(
                errors
                    .iter()
                    .any(|l| l.contains(&format!("file=queries/{f}.sql"))),
                "{f}: {out:#?}"
            );
        }
        assert!(
            errors[0].contains("this file has 30 problems"),
            "{}",
            errors[0]
        );
        assert_eq!(out.iter().filter(|l| l.starts_with("::warning")).count(), 1);
        let md = summary(&diags);
        assert_eq!(md.matches("- line ").count(), 34, "{md}");
    }

    #[test]
    fn more_files_than_the_limit_says_where_the_rest_are() {
        let diags: Vec<Diagnostic> = (0..12)
            .map(|i| Diagnostic::new(Path::new(&format!("queries/q{i:02}.sql")), 1, 1, "x"))
            .collect();
        let out = select(&diags);
        assert_eq!(out.len(), PER_STEP, "{out:#?}");
        assert!(out.last().unwrap().contains("3 more file(s)"), "{out:#?}");
    }
}
