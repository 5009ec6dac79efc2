//! `sqlcourier demo`: the whole pipeline on a fresh machine, no server, no config.

use std::path::{Path, PathBuf};

use chrono::Utc;
use clap::Args;

use crate::catalog::Catalog;
use crate::catalog::config::RepoConfig;
use crate::catalog::query::QueryFile;
use crate::demo;
use crate::exit;
use crate::pipeline::{RunContext, Shutdown};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Number of fake members (at least 1: orders belong to members).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub members: u32,
    /// Number of fake orders.
    #[arg(long, default_value_t = 40_000)]
    pub orders: u32,
}

pub async fn run(args: &DemoArgs, shutdown: Shutdown) -> i32 {
    match demo_inner(args, shutdown).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            exit::PROBLEMS
        }
    }
}

async fn demo_inner(args: &DemoArgs, shutdown: Shutdown) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.out)?;
    let db = demo::database_path(&args.out);
    eprintln!(
        "creating the demo database {} ({} members, {} orders)…",
        db.display(),
        args.members,
        args.orders
    );
    demo::create_database(&db, args.members, args.orders, demo::now_in_tokyo()).await?;

    let cfg_path = Path::new("sqlcourier.demo.yaml");
    let config = RepoConfig::parse(cfg_path, &demo::config_text(&args.out))
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    // the demo checks its queries against the shipped catalogue, as `check` does
    let (schema_path, schema_text) = demo::SCHEMA;
    let schema = crate::schema::SchemaFile::parse(Path::new(schema_path), schema_text)
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    let catalog = Catalog {
        config,
        config_path: cfg_path.to_path_buf(),
        root: PathBuf::from("."),
        schemas: std::collections::BTreeMap::from([(
            "main".to_string(),
            crate::schema::check::Catalogue {
                file: schema,
                shown: schema_path.to_string(),
            },
        )]),
    };
    let mut specs = Vec::new();
    for (path, text) in demo::EXAMPLES {
        let text = text.replace("\r\n", "\n");
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        };
        let file =
            QueryFile::parse(Path::new(path), text, sha).map_err(|d| anyhow::anyhow!("{d}"))?;
        let spec = catalog.check_file(file).map_err(|d| {
            anyhow::anyhow!(
                "{}",
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
        specs.push(spec);
    }
    let ctx = RunContext {
        as_of: Utc::now(),
        period: None,
        work_dir: args.out.join(".work"),
        sniff_rows: catalog.config.masking.sniff_rows,
        key_env: catalog.config.masking.key_env.clone(),
        key_override: Some(demo::DEMO_KEY.to_vec()),
        commit: None,
        run_url: None,
        url_override: Some(format!("sqlite://{}", db.display())),
    };
    let reports = super::run::run_specs(&catalog, &specs, &ctx, &shutdown).await;
    super::run::print_reports(&reports, super::ReportFormat::Text);
    let _ = std::fs::remove_dir(args.out.join(".work"));
    if reports.iter().all(|r| r.ok()) {
        eprintln!(
            "\ndone: {} files under {}/ — open them in Excel or Google Sheets. The queries are in queries/; `sqlcourier check queries/` explains each.",
            reports.len(),
            args.out.display()
        );
    }
    Ok(super::run::finish_code(&reports, &shutdown))
}
