//! `eventbench compare BASELINE CANDIDATE`: per workload, stage and percentile, the
//! change and a verdict: faster, slower, or no significant change.
//!
//! Significance comes from the runs' own interval histograms: a moving-block
//! bootstrap over intervals (blocks keep neighbouring intervals together, so the
//! autocorrelation of a run's latency is not mistaken for independent evidence) gives
//! a confidence interval for candidate/baseline. A row changes only when that whole
//! interval lies beyond the noise floor, because the bootstrap cannot see what varies
//! between runs on a noisy machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::report::rundir::read_summary_file;
use crate::report::{RunDir, RunDirError, Summary};
use crate::stats::hlog::LoggedInterval;

/// Percentiles compared, by name.
pub const STATS: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)];
/// The noise floor's multiple per statistic: a tail percentile rests on few samples
/// and moves more between runs, so it needs a bigger change to count.
const TAIL_NOISE: [f64; 4] = [1.0, 1.0, 1.5, 2.0];
const REPLICATES: usize = 300;

/// Settings of a comparison.
#[derive(Debug, Clone)]
pub struct Options {
    /// Changes smaller than this fraction are "no significant change".
    pub noise: f64,
    /// Two-sided confidence of the bootstrap interval.
    pub confidence: f64,
    /// Per `stage.stat` (or `workload.stage.stat`): the slowdown allowed before
    /// `--fail-on-regression` fails. Rows without a limit fail on any "slower".
    pub limits: BTreeMap<String, f64>,
}

/// What a row, or a whole comparison, concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    #[serde(rename = "slower")]
    Slower,
    #[serde(rename = "faster")]
    Faster,
    #[serde(rename = "no significant change")]
    NoChange,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Change::Slower => "slower",
            Change::Faster => "faster",
            Change::NoChange => "no significant change",
        })
    }
}

/// A run as compare reads it: its summary, and its intervals when there is a log.
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

    fn warmup_s(&self) -> f64 {
        self.summary.plan_record().warmup_ns as f64 / 1e9
    }

    /// Each measured interval of `tag` (by the log's warmup rule: its tags, or for
    /// older logs interval start), as (value, count) pairs.
    fn sparse(&self, tag: &str) -> Vec<Vec<(u64, u64)>> {
        let warmup = self.warmup_s();
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub workload: String,
    pub stage: String,
    pub stat: String,
    pub baseline_ns: u64,
    pub candidate_ns: u64,
    /// candidate / baseline - 1.
    pub change: f64,
    /// Bootstrap confidence interval of candidate / baseline - 1, when both runs have
    /// interval logs.
    pub ci: Option<(f64, f64)>,
    pub verdict: Change,
    /// Slower beyond its limit: fails `--fail-on-regression`.
    pub regression: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub noise: f64,
    pub confidence: f64,
    pub rows: Vec<Row>,
    /// Rate and error changes, for context (not judged).
    pub notes: Vec<String>,
    /// `slower` if any row is, else `faster` if any row is, else `no significant change`.
    pub verdict: Change,
    pub regressions: usize,
}

/// Quantile of a sorted list of (value, count).
fn quantile(sorted: &[(u64, u64)], total: u64, q: f64) -> u64 {
    if total == 0 {
        return 0;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (v, c) in sorted {
        seen += c;
        if seen >= rank {
            return *v;
        }
    }
    sorted.last().map_or(0, |p| p.0)
}

/// All STATS of the intervals `pick` selects, merged.
fn stats_of(intervals: &[Vec<(u64, u64)>], pick: impl Iterator<Item = usize>, buf: &mut Vec<(u64, u64)>) -> [u64; 4] {
    buf.clear();
    for i in pick {
        buf.extend_from_slice(&intervals[i]);
    }
    buf.sort_unstable_by_key(|p| p.0);
    let total = buf.iter().map(|p| p.1).sum();
    STATS.map(|(_, q)| quantile(buf, total, q))
}

/// Moving-block bootstrap replicates of STATS over intervals.
fn bootstrap(intervals: &[Vec<(u64, u64)>], rng: &mut SmallRng) -> Vec<[u64; 4]> {
    let n = intervals.len();
    let block = ((n as f64).cbrt().round() as usize).clamp(1, n.max(1));
    let mut buf = Vec::new();
    (0..REPLICATES)
        .map(|_| {
            let mut picks = Vec::with_capacity(n + block);
            while picks.len() < n {
                let start = rng.random_range(0..=n - block);
                picks.extend(start..start + block);
            }
            picks.truncate(n);
            stats_of(intervals, picks.into_iter(), &mut buf)
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1);
    sorted[i]
}

/// Compares two runs.
pub fn compare(base: &Run, cand: &Run, opts: &Options) -> Comparison {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    for (name, bw) in &base.summary.workloads {
        let Some(cw) = cand.summary.workloads.get(name) else {
            notes.push(format!("workload {name} is only in the baseline"));
            continue;
        };
        notes.push(format!(
            "{name}: achieved {:.1}/s -> {:.1}/s, errors {} -> {}",
            bw.achieved_rate,
            cw.achieved_rate,
            bw.errors.values().sum::<u64>(),
            cw.errors.values().sum::<u64>()
        ));
        for (stage, bs) in &bw.stages {
            let Some(cs) = cw.stages.get(stage) else { continue };
            // The target's latencies only: `lag` is the harness's own schedule lag
            // (the health verdict judges it), `failed` is not a latency of service.
            if ["serialize", "deserialize", "failed", "lag"].contains(&stage.as_str()) {
                continue;
            }
            let tag = format!("{name}.{stage}");
            let (bi, ci) = (base.sparse(&tag), cand.sparse(&tag));
            let boot = (bi.len() >= 3 && ci.len() >= 3).then(|| (bootstrap(&bi, &mut rng), bootstrap(&ci, &mut rng)));
            let summary_values = |s: &crate::stats::StageSummary| [s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns];
            let (bv, cv) = (summary_values(bs), summary_values(cs));
            for (k, (stat, _)) in STATS.iter().enumerate() {
                let (b, c) = (bv[k], cv[k]);
                let change = if b == 0 { 0.0 } else { c as f64 / b as f64 - 1.0 };
                let interval = boot.as_ref().map(|(bb, cb)| {
                    let mut ratios: Vec<f64> = bb
                        .iter()
                        .zip(cb)
                        .filter(|(x, _)| x[k] > 0)
                        .map(|(x, y)| y[k] as f64 / x[k] as f64 - 1.0)
                        .collect();
                    ratios.sort_by(f64::total_cmp);
                    let tail = (1.0 - opts.confidence) / 2.0;
                    (percentile(&ratios, tail), percentile(&ratios, 1.0 - tail))
                });
                // A change counts when the whole interval lies beyond the noise floor:
                // we are confident it is bigger than what runs of one build differ by.
                // Without interval logs, the point change alone is judged.
                let floor = opts.noise * TAIL_NOISE[k];
                let (lo, hi) = interval.unwrap_or((change, change));
                let verdict = if lo > floor {
                    Change::Slower
                } else if hi < -floor {
                    Change::Faster
                } else {
                    Change::NoChange
                };
                let limit = opts
                    .limits
                    .get(&format!("{name}.{stage}.{stat}"))
                    .or_else(|| opts.limits.get(&format!("{stage}.{stat}")));
                let regression = verdict == Change::Slower && limit.is_none_or(|l| change > *l);
                rows.push(Row {
                    workload: name.clone(),
                    stage: stage.clone(),
                    stat: stat.to_string(),
                    baseline_ns: b,
                    candidate_ns: c,
                    change,
                    ci: interval,
                    verdict,
                    regression,
                });
            }
        }
    }
    if base.intervals.is_none() || cand.intervals.is_none() {
        notes.push("an interval log is missing: verdicts use the noise floor alone".into());
    }
    let any = |v: Change| rows.iter().any(|r| r.verdict == v);
    let verdict = if any(Change::Slower) {
        Change::Slower
    } else if any(Change::Faster) {
        Change::Faster
    } else {
        Change::NoChange
    };
    Comparison {
        baseline: base.path.display().to_string(),
        candidate: cand.path.display().to_string(),
        noise: opts.noise,
        confidence: opts.confidence,
        regressions: rows.iter().filter(|r| r.regression).count(),
        verdict,
        rows,
        notes,
    }
}

fn pct(v: f64) -> String {
    format!("{:+.1}%", v * 100.0)
}

fn ci_text(r: &Row) -> String {
    r.ci.map_or("-".into(), |(lo, hi)| format!("[{}, {}]", pct(lo), pct(hi)))
}

/// A plain-text table.
pub fn text(c: &Comparison) -> String {
    use crate::units::fmt_ns as ns;
    let mut o = format!(
        "baseline  {}\ncandidate {}\nnoise floor {:.1}% (x1.5 at p99, x2 at p99.9), {:.0}% bootstrap intervals over per-interval histograms\n\n",
        c.baseline,
        c.candidate,
        c.noise * 100.0,
        c.confidence * 100.0
    );
    o.push_str(&format!(
        "{:<12} {:<16} {:<5} {:>10} {:>10} {:>8} {:>20}  verdict\n",
        "workload", "stage", "stat", "baseline", "candidate", "change", "interval"
    ));
    for r in &c.rows {
        o.push_str(&format!(
            "{:<12} {:<16} {:<5} {:>10} {:>10} {:>8} {:>20}  {}{}\n",
            r.workload,
            r.stage,
            r.stat,
            ns(r.baseline_ns),
            ns(r.candidate_ns),
            pct(r.change),
            ci_text(r),
            r.verdict,
            if r.regression { " (REGRESSION)" } else { "" }
        ));
    }
    for n in &c.notes {
        o.push_str(&format!("note: {n}\n"));
    }
    o.push_str(&format!("verdict: {} ({} regressions)\n", c.verdict, c.regressions));
    o
}

/// A Markdown table (for a CI job summary or a pull-request comment).
pub fn markdown(c: &Comparison) -> String {
    use crate::units::fmt_ns as ns;
    let mut o = format!(
        "## eventbench compare: {}\n\nbaseline `{}` · candidate `{}` · noise floor {:.1}%\n\n| workload | stage | stat | baseline | candidate | change | interval | verdict |\n|---|---|---|---|---|---|---|---|\n",
        c.verdict,
        c.baseline,
        c.candidate,
        c.noise * 100.0
    );
    for r in &c.rows {
        let v = match (r.verdict, r.regression) {
            (_, true) => "**slower (regression)**".to_string(),
            (v, _) => v.to_string(),
        };
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {v} |\n",
            r.workload,
            r.stage,
            r.stat,
            ns(r.baseline_ns),
            ns(r.candidate_ns),
            pct(r.change),
            ci_text(r)
        ));
    }
    for n in &c.notes {
        o.push_str(&format!("\n- {n}"));
    }
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_merged_sparse_histograms() {
        let a = vec![(10, 50), (20, 50)];
        let b = vec![(30, 100)];
        let mut buf = Vec::new();
        let s = stats_of(&[a, b], [0, 1].into_iter(), &mut buf);
        assert_eq!(s, [20, 30, 30, 30]);
        assert_eq!(quantile(&[(5, 1), (7, 3)], 4, 0.25), 5);
        assert_eq!(quantile(&[(5, 1), (7, 3)], 4, 0.26), 7);
    }
}
