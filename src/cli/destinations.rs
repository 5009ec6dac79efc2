//! `sqlcourier check --destinations` and `sqlcourier prune`: what touches only the
//! destinations, never a database.

use std::path::Path;

use clap::Args;

use crate::catalog::Catalog;
use crate::catalog::config::DestinationConfig;
use crate::exit;
use crate::sink::{AnySink, PruneOutcome, Sink};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// List the files that would be trashed; trash nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this destination (repeatable; default: every destination with retention_days).
    #[arg(long = "destination", value_name = "NAME")]
    pub only: Vec<String>,
}

fn selected<'a>(
    catalog: &'a Catalog,
    only: &[String],
) -> Result<Vec<(&'a String, &'a DestinationConfig)>, String> {
    for n in only {
        if !catalog.config.destinations.contains_key(n) {
            return Err(format!(
                "there is no destination called `{n}` in sqlcourier.yaml"
            ));
        }
    }
    Ok(catalog
        .config
        .destinations
        .iter()
        .filter(|(n, _)| only.is_empty() || only.contains(n))
        .collect())
}

/// Runs every selected destination's healthcheck; prints one line per destination.
pub fn check(catalog: &Catalog, only: &[String]) -> i32 {
    let dests = match selected(catalog, only) {
        Ok(d) => d,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::USAGE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return exit::USAGE;
        }
    };
    let mut bad = 0;
    for (name, cfg) in &dests {
        let sink = AnySink::from_config(name, cfg, &catalog.root);
        match rt.block_on(sink.healthcheck()) {
            Ok(()) => println!("ok      {name}: {}", sink.describe()),
            Err(e) => {
                bad += 1;
                println!("FAILED  {name}: {}", sink.describe());
                eprintln!(
                    "destination `{name}`: {}\n",
                    crate::redact::scrub(&format!("{e:#}"))
                );
            }
        }
    }
    eprintln!(
        "checked {} destination(s): {}",
        dests.len(),
        if bad == 0 {
            "all ready".to_string()
        } else {
            format!("{bad} not ready")
        }
    );
    if bad == 0 { exit::OK } else { exit::PROBLEMS }
}

/// `sqlcourier prune`.
pub async fn prune(cli_config: Option<&Path>, args: &PruneArgs) -> i32 {
    let catalog = match super::load_catalog(cli_config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::USAGE;
        }
    };
    let dests = match selected(&catalog, &args.only) {
        Ok(d) => d,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::USAGE;
        }
    };
    let now = chrono::Utc::now();
    let (mut files, mut failed) = (0, 0);
    for (name, cfg) in dests {
        let sink = crate::sink::AnySink::from_config(name, cfg, &catalog.root);
        match sink.prune(now, args.dry_run).await {
            Ok(PruneOutcome::Done(expired)) => {
                for e in &expired {
                    println!(
                        "{} {name}: {} (id {}, last delivered {})",
                        if args.dry_run {
                            "would trash"
                        } else {
                            "trashed"
                        },
                        e.name,
                        e.id,
                        e.modified
                    );
                }
                files += expired.len();
            }
            Ok(PruneOutcome::NotApplicable(why)) => eprintln!("destination `{name}`: {why}"),
            Err(e) => {
                failed += 1;
                eprintln!(
                    "destination `{name}`: {}",
                    crate::redact::scrub(&format!("{e:#}"))
                );
            }
        }
    }
    eprintln!(
        "prune: {files} file(s) {}{}",
        if args.dry_run {
            "past retention (dry run, nothing trashed)"
        } else {
            "trashed"
        },
        if failed > 0 {
            format!(", {failed} destination(s) failed")
        } else {
            String::new()
        }
    );
    if failed == 0 {
        exit::OK
    } else {
        exit::PROBLEMS
    }
}
