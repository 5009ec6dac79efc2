//! `sqlcourier schema pull`: writes `schema/<database>.yaml` from the database.

use std::fmt::Write as _;

use clap::{Args, Subcommand};

use crate::catalog::Catalog;
use crate::exit;
use crate::schema::{self, PullReport, SchemaFile};
use crate::source::Connection;

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub command: SchemaCommand,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Read the tables, views and columns the database user can see and write
    /// `schema/<database>.yaml`, keeping the data owner's `personal:`/`not_personal:`
    /// marks. Prints what changed (Markdown, for the pull request) on stdout.
    #[command(
        after_help = "Examples:\n  SQLCOURIER_DB_MAIN='mysql://reader:…@db:3306/app' sqlcourier schema pull main\n  sqlcourier schema pull            # every database in sqlcourier.yaml"
    )]
    Pull(PullArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Database names from sqlcourier.yaml (default: all of them).
    pub databases: Vec<String>,
}

pub async fn run(cli_config: Option<&std::path::Path>, args: &SchemaArgs) -> i32 {
    let catalog = match super::load_catalog(cli_config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::USAGE;
        }
    };
    match &args.command {
        SchemaCommand::Pull(p) => pull(&catalog, p).await,
    }
}

async fn pull(catalog: &Catalog, args: &PullArgs) -> i32 {
    let names: Vec<String> = if args.databases.is_empty() {
        catalog.config.databases.keys().cloned().collect()
    } else {
        args.databases.clone()
    };
    for n in &names {
        if !catalog.config.databases.contains_key(n) {
            eprintln!(
                "there is no database called `{n}` in {}; use one of: {}",
                catalog.config_path.display(),
                catalog
                    .config
                    .databases
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return exit::USAGE;
        }
    }
    let timeout = catalog
        .config
        .defaults
        .timeout
        .as_deref()
        .and_then(|t| crate::guard::timeout::parse(t).ok())
        .unwrap_or(crate::guard::timeout::DEFAULT);
    let mut failed = 0;
    let mut out = String::new();
    for name in &names {
        let db = &catalog.config.databases[name];
        let path = schema::path_for(&catalog.root, name);
        let shown = super::relative(&path);
        let old = if path.exists() {
            match SchemaFile::load(&shown) {
                Ok(f) => Some(f),
                Err(d) => {
                    // never overwrite marks we could not read
                    eprintln!("{d}\n  (nothing was written for `{name}`)");
                    failed += 1;
                    continue;
                }
            }
        } else {
            None
        };
        let Ok(url) = std::env::var(&db.url_env) else {
            eprintln!(
                "the database `{name}` is not configured on this machine: the environment variable {} is not set; ask the operator to add it (a GitHub secret)",
                db.url_env
            );
            failed += 1;
            continue;
        };
        crate::redact::register(&url);
        let started = std::time::Instant::now();
        let result = async {
            let mut conn = Connection::open(db.driver, &url).await?;
            let r = schema::pull::pull(&mut conn, name, db.driver, timeout).await;
            conn.close().await;
            r
        }
        .await;
        let mut file = match result {
            Ok(f) => f,
            Err(e) => {
                eprintln!(
                    "schema pull `{name}` failed: {}",
                    crate::redact::scrub(&format!("{e:#}"))
                );
                failed += 1;
                continue;
            }
        };
        let report = schema::merge_marks(&mut file, old.as_ref());
        let text = file.render();
        let changed = std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str());
        if changed {
            if let Some(dir) = path.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                eprintln!("cannot create {}: {e}", dir.display());
                failed += 1;
                continue;
            }
            // write next to it, then rename: an interrupted pull never leaves half a file
            let tmp = path.with_extension("yaml.partial");
            if let Err(e) = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &path)) {
                let _ = std::fs::remove_file(&tmp);
                eprintln!("cannot write {}: {e}", shown.display());
                failed += 1;
                continue;
            }
        }
        let columns: usize = file.tables.iter().map(|t| t.columns.len()).sum();
        tracing::info!(
            database = %name,
            file = %shown.display(),
            tables = file.tables.len(),
            columns,
            changed,
            seconds = started.elapsed().as_secs_f64(),
            "schema pulled"
        );
        describe(
            &mut out,
            name,
            &shown.display().to_string(),
            &report,
            changed,
        );
    }
    print!("{out}");
    if failed > 0 { exit::PROBLEMS } else { exit::OK }
}

/// What changed, in Markdown, for the pull request the schema workflow opens.
fn describe(out: &mut String, name: &str, file: &str, r: &PullReport, changed: bool) {
    let _ = writeln!(out, "### `{file}` (database `{name}`)\n");
    if !changed {
        let _ = writeln!(out, "No change.\n");
        return;
    }
    let list = |out: &mut String, title: &str, items: &[String]| {
        if !items.is_empty() {
            let _ = writeln!(out, "{title}\n");
            for i in items {
                let _ = writeln!(out, "- `{i}`");
            }
            let _ = writeln!(out);
        }
    };
    if !r.new_personal_looking.is_empty() {
        let _ = writeln!(
            out,
            "**New columns whose names look personal — data owners, mark each `personal: …` or `not_personal: <reason>`:**\n"
        );
        for (c, word) in &r.new_personal_looking {
            let _ = writeln!(out, "- `{c}` (\"{word}\")");
        }
        let _ = writeln!(out);
    }
    list(
        out,
        "**Marked columns that are gone — check that the data did not move to another column:**",
        &r.gone_marked,
    );
    list(out, "New tables and views:", &r.new_tables);
    list(out, "New columns:", &r.new_columns);
    list(out, "Tables and views that are gone:", &r.gone_tables);
    if r.is_empty() {
        let _ = writeln!(out, "Types or comments changed.\n");
    }
}
