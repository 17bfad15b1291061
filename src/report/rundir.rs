//! A run directory, `reports/<scenario>/<UTC time>[-shard i of n]/`: the one place
//! that names, opens, reads and writes one. Files are written whole to a temporary
//! name and renamed, so a reader never sees half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Summary;
use crate::plan::Shard;
use crate::stats::hlog::LoggedInterval;
use crate::stats::ledger::Snapshot;

/// Why a run directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A file the user pointed at is missing or unreadable: their input.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A file is there but is not what eventbench wrote: their input.
    #[error("{path}: {why}")]
    Invalid { path: PathBuf, why: String },
    /// A file could not be written: the machine's fault.
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl RunDirError {
    /// Whether the error is about what the user gave (exit 2) rather than the machine (exit 1).
    pub fn is_input(&self) -> bool {
        !matches!(self, RunDirError::Write { .. })
    }
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The default place for a new run of `scenario`: `reports/<scenario>/<stamp>Z<suffix>`,
    /// with `-shard<i>of<n>` for a shard.
    pub fn default_path(scenario: &str, wall_ns: i128, shard: Shard, suffix: &str) -> PathBuf {
        let now = crate::model::GoTime::from_unix_nanos(wall_ns).to_string();
        let stamp: String = now
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == 'T')
            .take(15)
            .collect();
        let shard = if shard.count > 1 {
            format!("-shard{}of{}", shard.index, shard.count)
        } else {
            String::new()
        };
        PathBuf::from("reports")
            .join(scenario)
            .join(format!("{stamp}Z{shard}{suffix}"))
    }

    /// Creates the directory (and its parents).
    pub fn create(path: &Path) -> Result<RunDir, RunDirError> {
        std::fs::create_dir_all(path).map_err(|source| RunDirError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// An existing run directory, as the user named it.
    pub fn open(path: &Path) -> Result<RunDir, RunDirError> {
        if !path.is_dir() {
            return Err(RunDirError::Invalid {
                path: path.to_path_buf(),
                why: "not a run directory".into(),
            });
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The interval log's file, for the engine to write as the run goes.
    pub fn interval_log(&self) -> Result<Box<dyn Write + Send>, RunDirError> {
        let path = self.file("latency.hlog");
        let f = std::fs::File::create(&path).map_err(|source| RunDirError::Write { path, source })?;
        Ok(Box::new(f))
    }

    pub fn read_summary(&self) -> Result<Summary, RunDirError> {
        read_summary_file(&self.file("summary.json"))
    }

    pub fn read_intervals(&self) -> Result<Vec<LoggedInterval>, RunDirError> {
        let path = self.file("latency.hlog");
        crate::stats::hlog::read(&path).map_err(|source| RunDirError::Read { path, source })
    }

    /// Where a running pipeline keeps its ledger's books (memory-mapped files, so the
    /// run's resident memory does not grow with its length); replaced by `ledger.bin`
    /// when the run ends.
    pub fn ledger_dir(&self) -> PathBuf {
        self.file("ledger.d")
    }

    /// The ledger: `ledger.bin`, or for a run that was killed, its `ledger.d`.
    pub fn read_ledger(&self) -> Result<Snapshot, RunDirError> {
        let path = self.file("ledger.bin");
        let dir = self.ledger_dir();
        if !path.exists() && dir.is_dir() {
            return Snapshot::read_dir(&dir).map_err(|source| RunDirError::Read { path: dir, source });
        }
        std::fs::File::open(&path)
            .and_then(|f| Snapshot::read(&mut std::io::BufReader::new(f)))
            .map_err(|source| RunDirError::Read { path, source })
    }

    pub fn write_summary(&self, s: &Summary) -> Result<(), RunDirError> {
        self.write_json("summary.json", s)
    }

    /// `ledger.bin`: what `eventbench audit` re-reads.
    pub fn write_ledger(&self, snap: &Snapshot) -> Result<(), RunDirError> {
        let mut bytes = Vec::new();
        snap.write(&mut bytes).map_err(|source| RunDirError::Write {
            path: self.file("ledger.bin"),
            source,
        })?;
        self.write_bytes("ledger.bin", &bytes)
    }

    /// The running ledger's projections (its books are written through their mappings).
    pub fn write_ledger_projections(&self, bytes: &[u8]) -> Result<(), RunDirError> {
        let name = crate::stats::ledger::PROJECTIONS_FILE;
        let (path, tmp) = (
            self.ledger_dir().join(name),
            self.ledger_dir().join(format!(".{name}.tmp")),
        );
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|source| RunDirError::Write { path, source })
    }

    /// Once `ledger.bin` holds the ledger, its working directory goes.
    pub fn remove_ledger_dir(&self) {
        let _ = std::fs::remove_dir_all(self.ledger_dir());
    }

    /// summary.json and every view built from it: audit.json, summary.md,
    /// report.html, bmf.json and benchmark-action.json (for trend tools), and junit.xml
    /// where there is something to judge.
    pub fn write_all(&self, s: &Summary) -> Result<(), RunDirError> {
        self.write_summary(s)?;
        self.write_views(s)
    }

    /// Everything besides summary.json and latency.hlog.
    pub fn write_views(&self, s: &Summary) -> Result<(), RunDirError> {
        if let Some(a) = &s.audit {
            self.write_json("audit.json", a)?;
        }
        self.write_bytes("summary.md", super::ci::markdown(s).as_bytes())?;
        self.write_report_html(s)?;
        self.write_json("bmf.json", &super::trend_json::bmf(s))?;
        self.write_json("benchmark-action.json", &super::trend_json::benchmark_action(s))?;
        if !s.thresholds.is_empty() || s.audit.is_some() || !s.unhealthy().is_empty() || s.incomplete.is_some() {
            self.write_bytes("junit.xml", super::ci::junit(s).as_bytes())?;
        }
        Ok(())
    }

    /// report.html from the summary and the interval log on disk.
    pub fn write_report_html(&self, s: &Summary) -> Result<PathBuf, RunDirError> {
        let intervals = self.read_intervals()?;
        self.write_bytes("report.html", super::html::render(s, &intervals).as_bytes())?;
        Ok(self.file("report.html"))
    }

    pub fn write_json(&self, name: &str, v: &impl serde::Serialize) -> Result<(), RunDirError> {
        let json = serde_json::to_vec_pretty(v).map_err(|e| RunDirError::Write {
            path: self.file(name),
            source: std::io::Error::other(e),
        })?;
        self.write_bytes(name, &json)
    }

    /// Writes `name` whole: to `.name.tmp`, then renamed over the old one.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), RunDirError> {
        let path = self.file(name);
        let tmp = self.file(&format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|source| RunDirError::Write { path, source })
    }
}

/// A summary.json, named directly (compare and merge take files as well as directories).
pub fn read_summary_file(path: &Path) -> Result<Summary, RunDirError> {
    let text = std::fs::read(path).map_err(|source| RunDirError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|e| RunDirError::Invalid {
        path: path.to_path_buf(),
        why: format!("not an eventbench summary: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_scenario_time_and_shard() {
        let p = RunDir::default_path("q", 0, Shard { index: 1, count: 2 }, "");
        assert_eq!(p, PathBuf::from("reports/q/19700101T000000Z-shard1of2"));
        let dir = tempfile::tempdir().expect("tmp");
        let missing = RunDir::open(&dir.path().join("nope")).expect_err("missing");
        assert!(missing.is_input());
        let d = RunDir::create(&dir.path().join("a/b")).expect("create");
        d.write_bytes("x.txt", b"one").expect("write");
        d.write_bytes("x.txt", b"two").expect("rewrite");
        assert_eq!(std::fs::read(d.path().join("x.txt")).expect("read"), b"two");
        assert!(!d.path().join(".x.txt.tmp").exists());
        assert!(d.read_summary().expect_err("no summary").is_input());
    }
}
