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
    /// What else happened, in plain words, for the run report (e.g. an earlier file of
    /// a renamed query file that is still in the destination).
    pub notes: Vec<String>,
}

/// A delivered file `prune` trashed (or, with `--dry-run`, would trash).
#[derive(Debug, Clone)]
pub struct Pruned {
    pub id: String,
    pub name: String,
    /// When it was last delivered (RFC 3339).
    pub modified: String,
}

/// What `prune` did for one destination.
#[derive(Debug)]
pub enum PruneOutcome {
    /// This destination has nothing to prune; the words say why.
    NotApplicable(String),
    Done(Vec<Pruned>),
}

#[allow(async_fn_in_trait)]
pub trait Sink {
    /// A short description for logs, e.g. `local folder out/opex`.
    fn describe(&self) -> String;

    /// Checks, before any query runs, that delivery can work. Default: nothing to check.
    /// A run builds each destination once and calls this for every query; a sink that
    /// talks to a service remembers a recent success instead of asking again.
    async fn healthcheck(&self) -> Result<()> {
        Ok(())
    }

    /// Delivers the finished file at `staged`. Returns only once the file is in place.
    async fn deliver(&self, staged: &Path, delivery: &Delivery) -> Result<Delivered>;

    /// Removes (or lists, with `dry_run`) delivered files past the destination's
    /// retention. Default: nothing to prune.
    async fn prune(
        &self,
        _now: chrono::DateTime<chrono::Utc>,
        _dry_run: bool,
    ) -> Result<PruneOutcome> {
        Ok(PruneOutcome::NotApplicable(format!(
            "{}: no retention is kept here, nothing to prune",
            self.describe()
        )))
    }
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
    async fn prune(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        dry_run: bool,
    ) -> Result<PruneOutcome> {
        match self {
            AnySink::Local(s) => s.prune(now, dry_run).await,
            AnySink::Drive(s) => s.prune(now, dry_run).await,
        }
    }
}

/// Every destination a run uses, each built once (one Drive session, one healthcheck
/// per destination per run, not per query).
pub struct Sinks<'a> {
    root: &'a Path,
    config: &'a std::collections::BTreeMap<String, DestinationConfig>,
    built: std::sync::Mutex<std::collections::BTreeMap<String, std::sync::Arc<AnySink>>>,
}

impl<'a> Sinks<'a> {
    pub fn new(
        config: &'a std::collections::BTreeMap<String, DestinationConfig>,
        root: &'a Path,
    ) -> Self {
        Sinks {
            root,
            config,
            built: Default::default(),
        }
    }

    /// The sink for destination `name` (which the catalog checked exists), built on
    /// first use.
    pub fn get(&self, name: &str) -> Option<std::sync::Arc<AnySink>> {
        let cfg = self.config.get(name)?;
        let mut built = self.built.lock().ok()?;
        Some(
            built
                .entry(name.to_string())
                .or_insert_with(|| std::sync::Arc::new(AnySink::from_config(name, cfg, self.root)))
                .clone(),
        )
    }

    /// How many destinations were built (for tests and logs).
    pub fn built(&self) -> usize {
        self.built.lock().map(|b| b.len()).unwrap_or(0)
    }
}
