//! `sqlcourier check`: validates query files without touching a database.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::catalog::{Catalog, QuerySpec, query_files};
use crate::exit;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Query files or folders (default: queries/ next to sqlcourier.yaml).
    pub paths: Vec<PathBuf>,
    /// How to print problems.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also print a reviewer summary of each query (what it reads, which columns are
    /// masked or allowed, which files it produces).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub explain: Option<Explain>,
    /// Check only the destinations in sqlcourier.yaml, as a run does before its query:
    /// a Drive folder must exist, be writable, and be shared with its `readers` only.
    /// Touches no database. Give destination names to check only those.
    #[arg(long, conflicts_with_all = ["paths", "explain"])]
    pub destinations: bool,
    /// With --destinations: the destination names to check (default: all).
    #[arg(long = "destination", value_name = "NAME", requires = "destinations")]
    pub only: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `path:line:col: message` and what to do.
    Text,
    /// GitHub Actions annotations (`::error file=…,line=…,col=…::…`).
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Explain {
    Text,
    Markdown,
}

pub fn run(cli_config: Option<&std::path::Path>, args: &CheckArgs) -> i32 {
    let catalog = match super::load_catalog(cli_config) {
        Ok(c) => c,
        Err(msg) => {
            report_config_error(&msg, args.format);
            return exit::USAGE;
        }
    };
    if args.destinations {
        return super::destinations::check(&catalog, &args.only);
    }
    let inputs = if args.paths.is_empty() {
        vec![catalog.root.join("queries")]
    } else {
        args.paths.clone()
    };
    let files = match query_files(&inputs) {
        Ok(f) => f,
        Err(d) => {
            eprintln!("{d}");
            return exit::USAGE;
        }
    };
    let mut problems = 0;
    let mut specs = Vec::new();
    for path in &files {
        let shown = super::relative(path);
        match catalog.check_query(&shown) {
            Ok(spec) => specs.push(spec),
            Err(diags) => {
                problems += diags.len();
                for d in diags {
                    match args.format {
                        Format::Text => eprintln!("{d}\n"),
                        Format::Github => println!("{}", d.to_github()),
                    }
                }
            }
        }
    }
    if let Some(fmt) = args.explain {
        print!("{}", explain(&catalog, &specs, fmt));
    }
    let ok = files.len() - specs.len();
    if problems == 0 {
        eprintln!("checked {} query file(s): all good", files.len());
        exit::OK
    } else {
        eprintln!(
            "checked {} query file(s): {problems} problem(s) in {ok} file(s)",
            files.len()
        );
        exit::PROBLEMS
    }
}

fn report_config_error(msg: &str, format: Format) {
    match format {
        Format::Text => eprintln!("{msg}"),
        Format::Github => {
            // `sqlcourier.yaml:3:5: message` → an annotation on that line
            for block in msg.split("\n\n") {
                let mut parts = block.splitn(4, ':');
                let (Some(file), Some(line), Some(col), Some(rest)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    println!("::error::{}", block.replace('\n', "%0A"));
                    continue;
                };
                println!(
                    "::error file={file},line={line},col={col}::{}",
                    rest.trim().replace('\n', "%0A")
                );
            }
            eprintln!("{msg}");
        }
    }
}

/// The reviewer summary: per query, what it touches and how personal data is handled.
pub fn explain(catalog: &Catalog, specs: &[QuerySpec], fmt: Explain) -> String {
    let mut s = String::new();
    let md = fmt == Explain::Markdown;
    if md {
        let _ = writeln!(s, "## sqlcourier: what these queries do\n");
    }
    for spec in specs {
        let f = &spec.file.front;
        let path = spec.file.path.display();
        if md {
            let _ = writeln!(s, "### {} — `{path}`\n", f.title);
        } else {
            let _ = writeln!(s, "{path}: {}", f.title);
        }
        let dest = catalog
            .config
            .destinations
            .get(&f.destination)
            .map(|d| match d {
                crate::catalog::config::DestinationConfig::Local { path, .. } => {
                    format!("local folder `{}`", path.display())
                }
                crate::catalog::config::DestinationConfig::Drive(d) => {
                    format!("Google Drive folder `{}`", d.folder_id)
                }
            })
            .unwrap_or_default();
        let rows: Vec<(&str, String)> = vec![
            (
                "Database",
                format!(
                    "`{}` ({})",
                    spec.database_name,
                    spec.database.driver.as_str()
                ),
            ),
            ("Destination", format!("`{}` — {dest}", f.destination)),
            ("Schedule", f.schedule.label()),
            (
                "Period",
                match f.period {
                    crate::guard::period::PeriodKind::None => "none".into(),
                    k => format!(
                        "{} ({})",
                        serde_json::to_value(k)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                        spec.timezone
                    ),
                },
            ),
            (
                "Reads",
                spec.statement
                    .tables
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "Columns",
                match &spec.known {
                    Some(k) => known_columns(k),
                    None => spec
                        .statement
                        .lineage
                        .columns
                        .iter()
                        .map(|c| {
                            if let Some(e) = &c.expand {
                                return format!("`{}.*` (checked at run time)", e.table);
                            }
                            let name = format!(
                                "`{}`",
                                c.name.clone().unwrap_or_else(|| "(unnamed)".into())
                            );
                            if c.reach.is_empty() {
                                return name;
                            }
                            // what the column is made of: reviewers see renames
                            let from: Vec<String> =
                                c.reach.iter().map(|o| format!("`{o}`")).collect();
                            format!("{name} ← {}", from.join(" + "))
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            ),
            (
                "Masked",
                if f.mask.is_empty() {
                    "none".into()
                } else {
                    f.mask
                        .iter()
                        .map(|(c, r)| format!("`{c}` → {}", r.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            (
                "Personal, allowed unmasked",
                if f.pii_allowed.is_empty() {
                    "none".into()
                } else {
                    f.pii_allowed
                        .iter()
                        .map(|(c, why)| format!("`{c}` (\"{why}\")"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            (
                "Formula guard",
                match &f.allow_formulas {
                    None => "on".into(),
                    Some(why) => format!("OFF (\"{why}\")"),
                },
            ),
            (
                "Files",
                spec.variants()
                    .iter()
                    .map(|v| {
                        format!(
                            "`{}`",
                            spec.file_name(v.map(|v| v.name.as_str()), Some("{period}"))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
                    + &format!(
                        " ({}{})",
                        spec.encoding.label(),
                        if f.output.gzip { ", gzip" } else { "" }
                    ),
            ),
        ];
        if md {
            let _ = writeln!(s, "| | |\n|---|---|");
            for (k, v) in rows {
                let _ = writeln!(s, "| {k} | {} |", v.replace('|', "\\|"));
            }
            let _ = writeln!(s);
        } else {
            for (k, v) in rows {
                let _ = writeln!(s, "  {k}: {}", v.replace('`', ""));
            }
        }
    }
    s
}

/// The result columns as the schema catalogue resolved them: `*` expanded, each with
/// the catalogue columns it is made of and the owner's mark.
fn known_columns(k: &crate::schema::check::Checked) -> String {
    let mut parts: Vec<String> = k
        .columns
        .iter()
        .map(|c| {
            let name = c.name.clone().unwrap_or_else(|| "(unnamed)".into());
            let mut s = format!("`{name}`");
            let own =
                c.sources.len() == 1 && c.sources[0].rsplit('.').next() == Some(name.as_str());
            if !c.sources.is_empty() && !own {
                s.push_str(&format!(" ← {}", c.sources.join(" + ")));
            }
            if let Some(p) = c.personal {
                s.push_str(&format!(" (personal: {})", p.as_str()));
            }
            if c.from_wildcard {
                s.push_str(" [from *]");
            }
            s
        })
        .collect();
    if !k.complete {
        parts.push("and the columns of `*` over relations the catalogue does not describe (checked at run time)".into());
    }
    parts.join(", ")
}
