//! The local folder sink: the file appears in the folder under its final name in one
//! atomic rename, so a reader never sees half a file and a failed run leaves none.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Delivered, Delivery, Sink};

pub struct LocalSink {
    dir: PathBuf,
}

impl LocalSink {
    pub fn new(dir: PathBuf) -> Self {
        LocalSink { dir }
    }
}

impl Sink for LocalSink {
    fn describe(&self) -> String {
        format!("local folder {}", self.dir.display())
    }

    async fn healthcheck(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| {
            format!(
                "cannot create the output folder {}; check the path and permissions",
                self.dir.display()
            )
        })?;
        let probe = self
            .dir
            .join(format!(".sqlcourier-probe-{}", std::process::id()));
        std::fs::write(&probe, b"").with_context(|| {
            format!(
                "cannot write into the output folder {}; check its permissions",
                self.dir.display()
            )
        })?;
        let _ = std::fs::remove_file(probe);
        Ok(())
    }

    async fn prune(
        &self,
        _now: chrono::DateTime<chrono::Utc>,
        _dry_run: bool,
    ) -> Result<super::PruneOutcome> {
        Ok(super::PruneOutcome::NotApplicable(
            "a local folder; prune handles Drive destinations only".into(),
        ))
    }

    async fn deliver(&self, staged: &Path, d: &Delivery) -> Result<Delivered> {
        if d.file_name.contains(['/', '\\']) || d.file_name.starts_with('.') {
            anyhow::bail!("refusing a file name that is not a plain name");
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let target = self.dir.join(&d.file_name);
        let partial = self
            .dir
            .join(format!(".{}.partial-{}", d.file_name, std::process::id()));
        // same file system: a rename; otherwise a copy next to the target first
        if std::fs::rename(staged, &partial).is_err() {
            std::fs::copy(staged, &partial)
                .with_context(|| format!("cannot write into {}", self.dir.display()))?;
            std::fs::File::open(&partial)?.sync_all()?;
        }
        if let Err(e) = std::fs::rename(&partial, &target) {
            let _ = std::fs::remove_file(&partial);
            return Err(e)
                .with_context(|| format!("cannot put the file into {}", self.dir.display()));
        }
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(Delivered {
            location: target.display().to_string(),
            notes: Vec::new(),
        })
    }
}
