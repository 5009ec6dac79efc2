//! Sinks: where finished files go. One folder per sink; each implements [`Sink`].
//!
//! A sink's [`Sink::healthcheck`] runs before any query touches a database, and a file
//! counts as delivered only when [`Sink::deliver`] returned: the run report is built
//! from what the sink confirmed. To add a sink, copy `local/`, implement the trait, and
//! add a variant to [`AnySink`] and to `DestinationConfig`.

pub mod drive;
pub mod local;

use std::path::Path;

use anyhow::Result;

use crate::catalog::config::DestinationConfig;

/// What is being delivered: the file's name and its provenance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    /// File name in the destination, e.g. `signups_tokyo_2026-10.csv`.
    pub file_name: String,
    /// The query file, relative to the repository root.
    pub query_path: String,
    pub variant: Option<String>,
    pub period: Option<String>,
    /// SHA-256 of the query file.
    pub query_sha256: String,
    pub commit: Option<String>,
    pub run_url: Option<String>,
    pub rows: u64,
    /// Columns of the result (the Google Sheets cell limit).
    pub columns: u64,
    pub bytes: u64,
}

/// Where a delivered file now is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivered {
    /// A path or a link a person can open.
    pub location: String,
}

#[allow(async_fn_in_trait)]
pub trait Sink {
    /// A short description for logs, e.g. `local folder out/opex`.
    fn describe(&self) -> String;

    /// Checks, before any query runs, that delivery can work. Default: nothing to check.
    async fn healthcheck(&self) -> Result<()> {
        Ok(())
    }

    /// Delivers the finished file at `staged`. Returns only once the file is in place.
    async fn deliver(&self, staged: &Path, delivery: &Delivery) -> Result<Delivered>;
}

/// Every sink sqlcourier has.
pub enum AnySink {
    Local(local::LocalSink),
    Drive(Box<drive::DriveSink>),
}

impl AnySink {
    /// The sink for a configured destination; relative paths are from `root`.
    pub fn from_config(name: &str, cfg: &DestinationConfig, root: &Path) -> AnySink {
        match cfg {
            DestinationConfig::Local { path, .. } => {
                AnySink::Local(local::LocalSink::new(root.join(path)))
            }
            DestinationConfig::Drive(d) => {
                AnySink::Drive(Box::new(drive::DriveSink::new(name, d.clone(), root)))
            }
        }
    }
}

impl Sink for AnySink {
    fn describe(&self) -> String {
        match self {
            AnySink::Local(s) => s.describe(),
            AnySink::Drive(s) => s.describe(),
        }
    }
    async fn healthcheck(&self) -> Result<()> {
        match self {
            AnySink::Local(s) => s.healthcheck().await,
            AnySink::Drive(s) => s.healthcheck().await,
        }
    }
    async fn deliver(&self, staged: &Path, delivery: &Delivery) -> Result<Delivered> {
        match self {
            AnySink::Local(s) => s.deliver(staged, delivery).await,
            AnySink::Drive(s) => s.deliver(staged, delivery).await,
        }
    }
}
