//! A run as compare reads it: its summary, and its measured intervals per stage.

use std::path::{Path, PathBuf};

use super::bootstrap::Outcomes;
use crate::report::rundir::read_summary_file;
use crate::report::{RunDir, RunDirError, Summary};
use crate::stats::hlog::LoggedInterval;

pub struct Run {
    pub path: PathBuf,
    pub summary: Summary,
    pub intervals: Option<Vec<LoggedInterval>>,
}

impl Run {
    /// A run directory, or a summary.json (without its interval log, no bootstrap).
    pub fn open(path: &Path) -> Result<Run, RunDirError> {
        let (summary, dir) = if path.is_dir() {
            let dir = RunDir::open(path)?;
            (dir.read_summary()?, Some(dir))
        } else {
            let dir = path.parent().and_then(|p| RunDir::open(p).ok());
            (read_summary_file(path)?, dir)
        };
        let intervals = dir
            .filter(|d| d.path().join("latency.hlog").exists())
            .map(|d| d.read_intervals())
            .transpose()?;
        Ok(Run {
            path: path.to_path_buf(),
            summary,
            intervals,
        })
    }

    /// Each measured interval of `tag` (warmup by the log's own rule: its tags, or for
    /// older logs interval start), as sorted (value, count) pairs. Censored operations
    /// are in them at their lower bounds, as in summary.json.
    pub fn sparse(&self, tag: &str) -> Vec<Vec<(u64, u64)>> {
        let warmup = self.summary.plan_record().warmup_ns as f64 / 1e9;
        let tagged = self.intervals.as_deref().is_some_and(crate::stats::hlog::tags_warmup);
        self.intervals
            .iter()
            .flatten()
            .filter(|i| i.tag == tag && crate::stats::hlog::is_measured(i, tagged, warmup) && !i.histogram.is_empty())
            .map(|i| {
                i.histogram
                    .iter_recorded()
                    .map(|v| {
                        (
                            i.histogram.highest_equivalent(v.value_iterated_to()),
                            v.count_at_value(),
                        )
                    })
                    .collect()
            })
            .collect()
    }

    /// `workload`'s measured intervals' outcomes, from its timeline.
    pub fn outcomes(&self, workload: &str) -> Vec<Outcomes> {
        self.summary
            .workloads
            .get(workload)
            .map(|w| {
                w.timeline
                    .iter()
                    .filter(|p| !p.warmup && p.length_s > 0.0)
                    .map(|p| Outcomes {
                        ok: p.ok,
                        failed: p.errors + p.censored,
                        length_s: p.length_s,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
