//! `eventbench history`: an append-only record of a branch's runs, their trend, and the
//! change points in it.
//!
//! A history is a directory holding `history.jsonl`, one line per run: its values (one per
//! statistic, as `compare` judges them), the main stage's p50/p99 per measured interval,
//! its health and provenance (commit, host, kernel). Lines only ever get appended, so a
//! CI cache or artifact can carry the directory from job to job and a torn last line
//! (a job killed while writing) is dropped, not fatal. The history is the noise model:
//! `compare --history DIR` judges a candidate against the spread of the last runs of
//! the same scenario, and `history show` finds change points over the whole series
//! with E-divisive means (`edivisive`).

pub mod changes;
pub mod edivisive;
mod render;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use render::{default_keys, html, text, Trend};

use crate::report::summary::Health;
use crate::report::values::RunValues;
use crate::report::Summary;

/// The file in a history directory.
pub const FILE: &str = "history.jsonl";
const SCHEMA: u32 = 1;

/// One run in a history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub schema: u32,
    /// What the user called it (a commit, a branch, "calibration"); the build's commit
    /// when not given.
    pub label: String,
    /// The run directory it was read from, as given.
    pub run: String,
    pub scenario: String,
    pub started_at: String,
    pub git_commit: String,
    pub hostname: String,
    pub kernel: String,
    pub cpus: usize,
    /// Every workload healthy and every check passed: only such runs are noise.
    pub healthy: bool,
    pub values: RunValues,
    /// Per workload, the main stage's [p50, p99] ns per measured interval.
    #[serde(default)]
    pub intervals: BTreeMap<String, Vec<[u64; 2]>>,
}

impl Entry {
    pub fn of(run: &Path, s: &Summary, label: Option<&str>) -> Entry {
        Entry {
            schema: SCHEMA,
            label: label.map_or_else(|| s.provenance.git_commit.clone(), str::to_string),
            run: run.display().to_string(),
            scenario: s.scenario.name.clone(),
            started_at: s.started_at.clone(),
            git_commit: s.provenance.git_commit.clone(),
            hostname: s.host.hostname.clone(),
            kernel: s.host.kernel.clone(),
            cpus: s.host.cpus,
            // The run's one outcome; a run allowed to be unhealthy passes, but is no baseline.
            healthy: s.outcome().passed() && s.workloads.values().all(|w| w.health == Health::Healthy),
            values: RunValues::of(s),
            intervals: s
                .workloads
                .iter()
                .map(|(n, w)| {
                    (
                        n.clone(),
                        w.timeline
                            .iter()
                            .filter(|p| !p.warmup)
                            .map(|p| [p.p50_ns, p.p99_ns])
                            .collect(),
                    )
                })
                .collect(),
        }
    }
}

/// Why a history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: not a history entry: {why}")]
    Invalid { path: PathBuf, line: usize, why: String },
}

impl HistoryError {
    /// Bad input (a damaged file) rather than a failing machine.
    pub fn is_input(&self) -> bool {
        matches!(self, HistoryError::Invalid { .. })
    }
}

/// A history directory's entries, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

impl History {
    /// Reads `dir/history.jsonl` (an absent file is an empty history).
    pub fn open(dir: &Path) -> Result<History, HistoryError> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(HistoryError::Io { path, source }),
        };
        let lines: Vec<&str> = text.lines().collect();
        let torn_last = !text.is_empty() && !text.ends_with('\n');
        let mut entries = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(line) {
                Ok(e) => entries.push(e),
                // A job killed while appending leaves a torn last line: drop it.
                Err(_) if torn_last && i + 1 == lines.len() => {}
                Err(e) => {
                    return Err(HistoryError::Invalid {
                        path,
                        line: i + 1,
                        why: e.to_string(),
                    })
                }
            }
        }
        Ok(History {
            path: dir.to_path_buf(),
            entries,
        })
    }

    /// Appends `entries` to `dir/history.jsonl`, creating it.
    pub fn append(dir: &Path, entries: &[Entry]) -> Result<(), HistoryError> {
        let path = dir.join(FILE);
        let io = |source| HistoryError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        append_lines(&path, entries).map_err(io)
    }

    /// The last `k` healthy runs of `scenario`: a noise model, and a baseline.
    pub fn last(&self, scenario: &str, k: usize) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self
            .entries
            .iter()
            .rev()
            .filter(|e| e.scenario == scenario && e.healthy)
            .take(k)
            .collect();
        v.reverse();
        v
    }
}

/// Appends one JSON line per item to `path`, synced: the history and its
/// confirmations are only ever appended to. A torn last line from a killed job would
/// glue onto the next one, so it is ended first.
pub(crate) fn append_lines<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let torn = std::fs::read(path).is_ok_and(|b| !b.is_empty() && !b.ends_with(b"\n"));
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let mut out = String::new();
    if torn {
        out.push('\n');
    }
    for item in items {
        out.push_str(&serde_json::to_string(item).map_err(std::io::Error::other)?);
        out.push('\n');
    }
    f.write_all(out.as_bytes())?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: &str, healthy: bool) -> Entry {
        Entry {
            schema: SCHEMA,
            label: label.into(),
            run: "r".into(),
            scenario: "s".into(),
            started_at: String::new(),
            git_commit: String::new(),
            hostname: String::new(),
            kernel: String::new(),
            cpus: 2,
            healthy,
            values: RunValues::default(),
            intervals: BTreeMap::new(),
        }
    }

    #[test]
    fn appends_reads_back_drops_a_torn_last_line_and_names_a_damaged_one() {
        let dir = tempfile::tempdir().expect("tmp");
        History::append(dir.path(), &[entry("a", true), entry("b", false)]).expect("append");
        let path = dir.path().join(FILE);
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"torn\":1,\"lab");
        std::fs::write(&path, &text).expect("write");
        let h = History::open(dir.path()).expect("torn last line dropped");
        assert_eq!(h.entries.len(), 2);
        History::append(dir.path(), &[entry("c", true)]).expect("append after a torn line");
        let h = History::open(dir.path());
        // The torn line is now an inner line: refused, with its line number.
        let err = h.expect_err("damaged inner line");
        assert!(err.to_string().contains(":3:"), "{err}");
        std::fs::write(&path, text.replace("{\"torn\":1,\"lab", "")).expect("write");
        History::append(dir.path(), &[entry("c", true)]).expect("append");
        let h = History::open(dir.path()).expect("open");
        let last: Vec<&str> = h.last("s", 5).iter().map(|e| e.label.as_str()).collect();
        assert_eq!(last, ["a", "c"], "healthy runs only, oldest first");
    }
}
