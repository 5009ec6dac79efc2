//! One query run through the stages: period and parameters (guard) → database
//! (source) → masking and guards (transform) → CSV (encode) → delivery (sink).
//!
//! Each output file is written to a staging file first and handed to the sink only
//! when complete; a failure or a cancellation removes the staging file, so nothing
//! partial is ever delivered.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::catalog::QuerySpec;
use crate::catalog::query::OnEmpty;
use crate::catalog::query::Variant;
use crate::encode::gzip::OutputWriter;
use crate::encode::{CsvEncoder, Encoder, OutputFormat, XlsxEncoder, XlsxMeta};
use crate::failure::{FailureKind, failure, kind_of, mark};
use crate::guard::params;
use crate::guard::period::{self, Period, PeriodKind};
use crate::report::{FileReport, Status};
use crate::sink::{AnySink, Delivery, Sink};
use crate::source::{Connection, Export};
use crate::transform::{TransformPlan, Transformer};

/// What a run needs besides the query.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The logical time periods are computed from (the workflow run's creation time).
    pub as_of: DateTime<Utc>,
    /// A period label that overrides the computed one (`--period 2026-10`).
    pub period: Option<String>,
    /// Where staging files are written.
    pub work_dir: PathBuf,
    /// Rows of each unmasked column checked for personal values.
    pub sniff_rows: u64,
    /// The masking key's environment variable name.
    pub key_env: String,
    /// A masking key given directly (the demo); otherwise read from `key_env`.
    pub key_override: Option<Vec<u8>>,
    pub commit: Option<String>,
    pub run_url: Option<String>,
    /// Overrides the database URL (the demo); otherwise read from `url_env`.
    pub url_override: Option<String>,
}

/// Becomes true when the run must stop (SIGINT/SIGTERM).
#[derive(Clone)]
pub struct Shutdown(pub watch::Receiver<bool>);

impl Shutdown {
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Shutdown(rx)
    }
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }
    async fn wait(&mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The period a query covers in this run, if any.
pub fn period_for(spec: &QuerySpec, ctx: &RunContext) -> Result<Option<Period>> {
    let kind = spec.file.front.period;
    if kind == PeriodKind::None {
        return Ok(None);
    }
    match &ctx.period {
        Some(label) => period::parse_label(kind, label, spec.timezone)
            .and_then(|p| period::refuse_unfinished(&p, ctx.as_of).map(|()| p))
            .map(Some)
            .map_err(|e| failure(FailureKind::Configuration, format!("--period: {e}"))),
        None => Ok(period::resolve(kind, spec.timezone, ctx.as_of)),
    }
}

static STAGED: AtomicU64 = AtomicU64::new(0);

/// A staging file that is removed unless it was handed over.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs every variant of one query and delivers each file. Never panics on data; every
/// failure becomes a failed entry in the report.
pub async fn run_query(
    spec: &QuerySpec,
    query_path: &str,
    sink: &AnySink,
    ctx: &RunContext,
    shutdown: &Shutdown,
) -> Vec<FileReport> {
    let period = match period_for(spec, ctx) {
        Ok(p) => p,
        Err(e) => return vec![failed(spec, query_path, None, None, e)],
    };
    let label = period.as_ref().map(|p| p.label.clone());
    // everything that can fail before the database is touched
    let prepared = prepare(spec, sink, ctx).await;
    let (url, key) = match prepared {
        Ok(x) => x,
        Err(e) => {
            return spec
                .variants()
                .into_iter()
                .map(|v| {
                    let e = failure(kind_of(&e), format!("{e:#}"));
                    failed(spec, query_path, v, label.clone(), e)
                })
                .collect();
        }
    };

    let mut reports = Vec::new();
    let mut conn: Option<Connection> = None;
    for variant in spec.variants() {
        if shutdown.requested() {
            reports.push(failed(
                spec,
                query_path,
                variant,
                label.clone(),
                failure(FailureKind::Transient, "cancelled before it started"),
            ));
            continue;
        }
        let started = Instant::now();
        let c = match conn.take() {
            Some(c) => c,
            None => match Connection::open(spec.database.driver, &url).await {
                Ok(mut c) => {
                    // a user that can write is refused before any query (source::privileges)
                    if let Err(e) = crate::source::privileges::ensure_read_only(
                        &mut c,
                        &spec.database_name,
                        spec.database.allow_privileged_user.as_deref(),
                    )
                    .await
                    {
                        c.close().await;
                        let e = mark(e, FailureKind::Configuration);
                        reports.push(failed(spec, query_path, variant, label.clone(), e));
                        continue;
                    }
                    c
                }
                Err(e) => {
                    reports.push(failed(spec, query_path, variant, label.clone(), e));
                    continue;
                }
            },
        };
        let mut c = c;
        let result = run_variant(
            spec,
            query_path,
            variant,
            period.as_ref(),
            &mut c,
            sink,
            ctx,
            key.as_deref(),
            shutdown.clone(),
        )
        .await;
        match result {
            Ok(mut r) => {
                r.seconds = started.elapsed().as_secs_f64();
                tracing::info!(query = query_path, file = %r.file, rows = r.rows, bytes = r.bytes, seconds = r.seconds, "delivered");
                reports.push(r);
                conn = Some(c);
            }
            Err(e) => {
                tracing::error!(query = query_path, variant = variant.map(|v| v.name.as_str()), error = %crate::redact::scrub(&format!("{e:#}")), "failed");
                let mut r = failed(spec, query_path, variant, label.clone(), e);
                r.seconds = started.elapsed().as_secs_f64();
                reports.push(r);
                // the connection may be broken or busy: start afresh for the next variant
                c.close().await;
            }
        }
    }
    if let Some(c) = conn {
        c.close().await;
    }
    reports
}

async fn prepare(
    spec: &QuerySpec,
    sink: &AnySink,
    ctx: &RunContext,
) -> Result<(String, Option<Vec<u8>>)> {
    let key = if spec.uses_hash() && ctx.key_override.is_some() {
        ctx.key_override.clone()
    } else if spec.uses_hash() {
        let v = std::env::var(&ctx.key_env).map_err(|_| {
            failure(
                FailureKind::Configuration,
                format!(
                    "this query masks with `hash`, but the environment variable {} (the masking key) is not set; ask the operator to add it as a secret",
                    ctx.key_env
                ),
            )
        })?;
        crate::redact::register(&v);
        if v.len() < crate::transform::mask::MIN_KEY_BYTES {
            return Err(failure(
                FailureKind::Configuration,
                format!(
                    "the masking key in {} is too short (at least {} bytes); ask the operator to set a longer one",
                    ctx.key_env,
                    crate::transform::mask::MIN_KEY_BYTES
                ),
            ));
        }
        Some(v.into_bytes())
    } else {
        None
    };
    let url = match &ctx.url_override {
        Some(u) => u.clone(),
        None => std::env::var(&spec.database.url_env).map_err(|_| {
            failure(
                FailureKind::Configuration,
                format!(
                    "the database `{}` is not configured on this machine: the environment variable {} is not set; ask the operator to add it (a GitHub secret)",
                    spec.database_name,
                    spec.database.url_env
                ),
            )
        })?,
    };
    crate::redact::register(&url);
    sink.healthcheck()
        .await
        .map_err(|e| mark(e, FailureKind::Configuration))
        .with_context(|| {
            format!(
                "the destination `{}` is not ready ({})",
                spec.file.front.destination,
                sink.describe()
            )
        })?;
    Ok((url, key))
}

#[allow(clippy::too_many_arguments)]
async fn run_variant(
    spec: &QuerySpec,
    query_path: &str,
    variant: Option<&Variant>,
    period: Option<&Period>,
    conn: &mut Connection,
    sink: &AnySink,
    ctx: &RunContext,
    key: Option<&[u8]>,
    mut shutdown: Shutdown,
) -> Result<FileReport> {
    let f = &spec.file.front;
    let vname = variant.map(|v| v.name.as_str());
    let label = period.map(|p| p.label.as_str());
    let file_name = spec.file_name(vname, label);
    let values = params::values(&f.params, variant.map(|v| &v.params), period);

    std::fs::create_dir_all(&ctx.work_dir)
        .with_context(|| format!("cannot create the work folder {}", ctx.work_dir.display()))?;
    let staged = Staged(ctx.work_dir.join(format!(
        ".sqlcourier-{}-{}.partial",
        std::process::id(),
        STAGED.fetch_add(1, Ordering::Relaxed)
    )));
    let file = std::fs::File::create(&staged.0).with_context(|| {
        format!(
            "cannot create a file in the work folder {}",
            ctx.work_dir.display()
        )
    })?;
    let encoder = match f.output.format {
        OutputFormat::Csv => Encoder::Csv(CsvEncoder::new(
            OutputWriter::new(file, f.output.gzip),
            spec.encoding,
        )),
        OutputFormat::Xlsx => Encoder::Xlsx(Box::new(XlsxEncoder::new(
            file,
            &ctx.work_dir,
            XlsxMeta {
                title: f.title.clone(),
                period: label.map(str::to_string),
                query: query_path.to_string(),
                file_name: file_name.clone(),
                created_unix: ctx.as_of.timestamp(),
            },
        )?)),
    };
    let plan = TransformPlan {
        mask: f.mask.clone(),
        pii_allowed: f.pii_allowed.clone(),
        formula_guard: f.allow_formulas.is_none(),
        sniff_rows: ctx.sniff_rows,
        key: key.map(<[u8]>::to_vec),
        expected: spec
            .known
            .as_ref()
            .map(crate::schema::check::Expected::from),
        lineage: Some(spec.statement.lineage.clone()),
    };
    let mut tf = Transformer::new(plan, encoder, file_name.clone());
    let operator_functions = spec.database.policy().functions.into_keys().collect();
    let job = Export {
        statement: &spec.statement,
        params: &values,
        timeout: spec.timeout,
        timezone: spec.timezone.name(),
        max_cell_bytes: spec
            .database
            .max_cell_bytes
            .unwrap_or(crate::source::DEFAULT_MAX_CELL_BYTES),
        operator_functions: &operator_functions,
    };
    let canceller = conn.canceller();
    let exported = {
        let export = conn.export(&job, &mut tf);
        tokio::pin!(export);
        tokio::select! {
            r = &mut export => r,
            _ = shutdown.wait() => {
                if let Some(c) = &canceller {
                    // stop the statement on the server too, then let the export end
                    if let Err(e) = c.cancel().await {
                        tracing::warn!(error = %crate::redact::scrub(&e.to_string()), "could not cancel the query on the server");
                    }
                }
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut export).await;
                Err(failure(FailureKind::Transient, "cancelled (SIGINT/SIGTERM); the query was stopped on the server and nothing was delivered"))
            }
        }
    };
    if let Err(e) = exported {
        return Err(explain_timeout(e, spec));
    }
    let rows = tf.rows();
    let mut notes = Vec::new();
    if rows == 0 {
        match f.on_empty {
            OnEmpty::Fail => {
                return Err(failure(
                    FailureKind::Query,
                    "the result is empty and the query says `on_empty: fail`, so nothing was delivered; check the period and the WHERE conditions, and if an empty result is expected, change `on_empty:` to `deliver` or `skip` in a new pull request",
                ));
            }
            OnEmpty::Skip => {
                return Ok(FileReport {
                    query: query_path.to_string(),
                    title: f.title.clone(),
                    variant: vname.map(str::to_string),
                    period: label.map(str::to_string),
                    file: file_name,
                    status: Status::Skipped,
                    rows: 0,
                    bytes: 0,
                    seconds: 0.0,
                    location: None,
                    error: None,
                    failure: None,
                    notes: vec![
                        "the result is empty: nothing was delivered (`on_empty: skip`)".into(),
                    ],
                });
            }
            OnEmpty::Deliver => notes.push(
                "the result is empty (0 rows): an empty file was delivered (`on_empty: deliver`, the default; `skip` delivers nothing, `fail` fails the query)".to_string(),
            ),
        }
    }
    let unfit = tf.unfit;
    let columns = tf.column_count();
    let enc = tf.into_encoder();
    if let crate::encode::Encoder::Csv(c) = &enc
        && c.cp932_substituted > 0
    {
        tracing::info!(file = %file_name, characters = c.cp932_substituted, "CP932: characters written as their Windows look-alikes (README: CP932 look-alikes)");
    }
    let written = enc
        .finish()
        .context("could not finish writing the output file")?;
    let bytes = std::fs::metadata(&staged.0)
        .map(|m| m.len())
        .unwrap_or(written);
    if unfit > 0 {
        tracing::warn!(file = %file_name, cells = unfit, "a year/month mask found values that are not dates; they were written empty");
    }
    let delivery = Delivery {
        file_name: file_name.clone(),
        query_path: query_path.to_string(),
        variant: vname.map(str::to_string),
        period: label.map(str::to_string),
        query_sha256: spec.file.sha256.clone(),
        commit: ctx.commit.clone(),
        run_url: ctx.run_url.clone(),
        rows,
        columns,
        bytes,
    };
    let delivered = sink
        .deliver(&staged.0, &delivery)
        .await
        .with_context(|| format!("delivery to `{}` failed", f.destination))?;
    Ok(FileReport {
        query: query_path.to_string(),
        title: f.title.clone(),
        variant: delivery.variant,
        period: delivery.period,
        file: file_name,
        status: Status::Delivered,
        rows,
        bytes,
        seconds: 0.0,
        location: Some(delivered.location),
        error: None,
        failure: None,
        notes: notes.into_iter().chain(delivered.notes).collect(),
    })
}

/// Server-side time limits surface as database errors; say which limit in plain words.
fn explain_timeout(e: anyhow::Error, spec: &QuerySpec) -> anyhow::Error {
    let text = format!("{e:#}");
    let lower = text.to_lowercase();
    if lower.contains("statement timeout")
        || lower.contains("max_statement_time")
        || lower.contains("maximum statement execution time")
        || lower.contains("max_execution_time")
        || lower.contains("query execution was interrupted, maximum")
        // by code too: the server's words may be cut (`redact::echo`), the code stays
        || lower.contains("(mysql error 1969)")
        || lower.contains("(mysql error 3024)")
    {
        failure(
            FailureKind::Transient,
            format!(
                "the query ran longer than its time limit ({}) and the database stopped it; a busy database can cause this once, but if a re-run stops too, make the query faster (a narrower WHERE, an index) or raise `timeout:` in the query file in a new pull request",
                human_duration(spec.timeout)
            ),
        )
    } else {
        e
    }
}

pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

fn failed(
    spec: &QuerySpec,
    query_path: &str,
    variant: Option<&Variant>,
    period: Option<String>,
    e: anyhow::Error,
) -> FileReport {
    let vname = variant.map(|v| v.name.as_str());
    FileReport {
        query: query_path.to_string(),
        title: spec.file.front.title.clone(),
        variant: vname.map(str::to_string),
        file: spec.file_name(vname, period.as_deref()),
        period,
        status: Status::Failed,
        rows: 0,
        bytes: 0,
        seconds: 0.0,
        location: None,
        error: Some(crate::redact::scrub(&format!("{e:#}"))),
        failure: Some(kind_of(&e)),
        notes: Vec::new(),
    }
}

/// A path shown relative to `base` when it is inside it.
pub fn display_path(p: &Path, base: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}
