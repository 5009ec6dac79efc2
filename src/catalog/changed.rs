//! Changed files that will never run: a pull request that adds `queries/x.SQL`, or a
//! query in `query/` instead of `queries/`, must not pass with "checked 0 query
//! file(s): all good". `check --changed` lists each with the reason and what to do.

use std::path::{Component, Path};

use super::diag::Diagnostic;

/// Why a changed file is never run, or `None` when it is a query file (or a file that
/// plainly is not meant as one, like `README.md`).
pub fn never_runs(path: &Path) -> Option<Diagnostic> {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let name = parts.last()?;
    let top = parts.first()?;
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned());
    let looks_sql = ext
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
        || name.to_ascii_lowercase().contains(".sql");
    let in_queries = top == "queries" && parts.len() > 1;
    let dir_like_queries = !in_queries && parts.len() > 1 && near_queries(top);
    if in_queries {
        return match ext.as_deref() {
            Some("sql") => None,
            Some(e) if e.eq_ignore_ascii_case("sql") => Some(
                Diagnostic::new(path, 1, 1, format!("this file ends in `.{e}`, so it is never run: query files must end in `.sql` (lower case)"))
                    .help(format!("rename it to `{}`", Path::new(name).with_extension("sql").display())),
            ),
            _ if looks_sql => Some(
                Diagnostic::new(path, 1, 1, "this file's name does not end in `.sql`, so it is never run")
                    .help("rename it so that the name ends in `.sql`, e.g. `signups.sql`"),
            ),
            _ if name.eq_ignore_ascii_case("README.md") || name.starts_with('.') => None,
            _ => Some(
                Diagnostic::new(path, 1, 1, "this file is in queries/ but is not a query file (`.sql`), so it is never run")
                    .help("if it is a query, rename it to end in `.sql`; otherwise move it out of queries/")
                    .warning(),
            ),
        };
    }
    if looks_sql && dir_like_queries {
        return Some(
            Diagnostic::new(path, 1, 1, format!("this query file is in `{top}/`, so it is never run: query files live in `queries/`"))
                .help(format!("move it to `queries/{}`", parts[1..].join("/"))),
        );
    }
    if looks_sql {
        return Some(
            Diagnostic::new(
                path,
                1,
                1,
                "this SQL file is outside queries/, so sqlcourier never runs it",
            )
            .help("if it is a query to run, move it into `queries/` (any folder below it)")
            .warning(),
        );
    }
    None
}

/// `query`, `Queries`, `queires`, `querys`, …: a folder meant to be `queries/`.
fn near_queries(dir: &str) -> bool {
    let d = dir.to_lowercase();
    dir != "queries"
        && (d.starts_with("quer") || d.starts_with("qu") && edit_distance(&d, "queries") <= 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(p: &str) -> Option<(bool, String)> {
        never_runs(Path::new(p)).map(|d| {
            (
                d.is_warning(),
                format!("{} / {}", d.message, d.help.unwrap()),
            )
        })
    }

    #[test]
    fn files_that_never_run() {
        let (w, m) = why("queries/monthly/signups.SQL").unwrap();
        assert!(!w && m.contains("rename it to `signups.sql`"), "{m}");
        let (w, m) = why("queries/a.Sql").unwrap();
        assert!(!w && m.contains("`.Sql`"), "{m}");
        let (w, m) = why("query/signups.sql").unwrap();
        assert!(!w && m.contains("move it to `queries/signups.sql`"), "{m}");
        let (w, m) = why("Queries/monthly/a.sql").unwrap();
        assert!(!w && m.contains("`queries/monthly/a.sql`"), "{m}");
        assert!(why("queires/a.sql").is_some());
        let (_, m) = why("queries/a.sql.txt").unwrap();
        assert!(m.contains("does not end in `.sql`"), "{m}");
        let (w, _) = why("queries/notes.txt").unwrap();
        assert!(w);
        let (w, m) = why("signups.sql").unwrap();
        assert!(w && m.contains("move it into `queries/`"), "{m}");
    }

    #[test]
    fn files_that_run_or_are_not_queries() {
        for p in [
            "queries/a.sql",
            "queries/monthly/b.sql",
            "README.md",
            "src/main.rs",
            "queries/README.md",
            ".github/workflows/pr-check.yml",
        ] {
            assert!(why(p).is_none(), "{p}: {:?}", why(p));
        }
    }
}
