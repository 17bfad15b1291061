//! `eventbench compare BASE... -- CAND...`: per workload, stage and statistic, the
//! change, its interval and a verdict a CI gate can act on.
//!
//! Each run is one sample of every statistic (`report::values`), and a change is judged
//! against how much runs of one build differ (`noise`): the spread of the sides' own runs
//! (a side of two or more) and of a noise model (the last runs of a baseline history),
//! in a t-interval held over the rows it judges (Bonferroni: the gated rows as one family,
//! every row as another). A row is `slower`/`faster` only when that interval excludes 0
//! and the change is beyond the floor (the smallest change that matters); `no change`
//! when the whole interval lies within the floor; otherwise `inconclusive`. With one run
//! per side and no history the noise is unknown: a row is `inconclusive` ("give N runs
//! per side or a history"), never a regression, unless the change is far beyond any
//! plausible noise ([`noise::GROSS_RATIO`] at p50/p90, and [`noise::GROSS_MIN_NS`] apart).
//!
//! The gate judges the rows the user names (`--gate`, and every `--limit`), or by
//! default each workload's headline stage (e2e.persisted, else e2e, else its main
//! stage) at p50 and p99 and its error share. A `--limit` fails only when the whole
//! interval lies beyond it.

pub mod export;
pub mod noise;
mod paired;
mod render;
mod run;
mod sides;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::report::values::RunValues;
pub use crate::report::values::STATS;
pub use render::{markdown, text};
pub use run::Run;

/// The noise floor's multiple per percentile: a tail percentile rests on few samples
/// and moves more between runs, so it needs a bigger change to count.
const TAIL_NOISE: [f64; 4] = [1.0, 1.0, 1.5, 2.0];
/// The smallest change of the failed share that counts: 0.1 percentage point.
const ERROR_FLOOR: f64 = 0.001;

/// Settings of a comparison.
#[derive(Debug, Clone)]
pub struct Options {
    /// A change smaller than this fraction is not material (x1.5 at p99, x2 at p99.9).
    pub noise: f64,
    /// Two-sided confidence of the intervals, family-wise over the gate.
    pub confidence: f64,
    /// Per `stage.stat` or `workload.stage.stat`: the change a gate allows.
    pub limits: BTreeMap<String, f64>,
    /// The rows the gate judges (`stage.stat` or `workload.stage.stat`); empty: the
    /// default gate.
    pub gate: Vec<String>,
    /// Judge each candidate run alone as well: a row is `slower`/`faster` (and a gate
    /// fails) only when every candidate run, on its own, says so. A single run can be
    /// an outlier far outside a Gaussian spread (seen here: an A/A run's p99 5 sd off);
    /// a regression is in every run.
    pub each_candidate: bool,
    /// Baseline run i and candidate run i were made one after the other (A B B A ...):
    /// judge each row on the pairs' differences, so the host's drift between pairs
    /// cancels (`paired`). The sides must be of equal length.
    pub paired: bool,
}

/// One side of a comparison: one or more runs, each as its values.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub names: Vec<String>,
    pub runs: Vec<RunValues>,
    pub scenarios: BTreeSet<String>,
    /// What a reader must know about the runs (an unhealthy run).
    pub notes: Vec<String>,
}

impl Side {
    /// Runs read from their directories.
    pub fn of_runs(side: &str, runs: &[Run]) -> Side {
        let mut s = Side::default();
        for r in runs {
            s.names.push(r.path.display().to_string());
            s.runs.push(RunValues::of(&r.summary));
            s.scenarios.insert(r.summary.scenario.name.clone());
            for (w, ws) in &r.summary.workloads {
                if ws.health != crate::report::summary::Health::Healthy {
                    s.notes.push(format!(
                        "{side} {} {w}: {} ({}): its latencies are those of an unhealthy run",
                        r.path.display(),
                        ws.health,
                        ws.health_reason
                    ));
                }
            }
        }
        s
    }
}

/// Runs of the baseline's build kept elsewhere (a history): their spread is the noise.
#[derive(Debug, Clone, Default)]
pub struct NoiseModel {
    /// Where it came from, for the report.
    pub source: String,
    pub runs: Vec<RunValues>,
}

/// What a row, or a whole comparison, concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Worse beyond the floor and beyond the between-run noise (higher latency or
    /// error share, lower throughput).
    Slower,
    Faster,
    /// Confidently within the floor.
    NoChange,
    /// The interval straddles the floor, the noise is unknown, or one side has no data.
    Inconclusive,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Change::Slower => "slower",
            Change::Faster => "faster",
            Change::NoChange => "no change",
            Change::Inconclusive => "inconclusive",
        })
    }
}

/// What a row means for a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    Pass,
    /// Slower (beyond its limit, with confidence, where it has one).
    Regression,
    /// Could be a regression: the interval reaches past the floor or limit, or the
    /// noise is unknown.
    Inconclusive,
}

/// What a row measures, and so which way is worse and how a change is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// A latency percentile; change is candidate / baseline - 1, higher is worse.
    Ns,
    /// Successful operations per second; change is a ratio, lower is worse.
    OpsPerS,
    /// Errors and censored operations per outcome; change is the difference in
    /// share, higher is worse.
    Share,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub workload: String,
    pub stage: String,
    pub stat: String,
    pub unit: Unit,
    /// The side's runs' geometric mean (an arithmetic one for shares); None: not in this side.
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    pub change: Option<f64>,
    /// Confidence interval of the change, from the between-run noise.
    pub ci: Option<(f64, f64)>,
    /// Between-run standard deviation of one run's value (log for ratios), and the
    /// degrees of freedom it rests on.
    #[serde(default)]
    pub noise_sd: Option<f64>,
    #[serde(default)]
    pub noise_dof: usize,
    /// The floor this row was judged against, in the change's terms (worse is +).
    pub floor: f64,
    pub limit: Option<f64>,
    /// Part of the gate (else shown, and judged, but it fails nothing).
    #[serde(default)]
    pub gated: bool,
    pub verdict: Change,
    pub gate: Gate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub baselines: Vec<String>,
    pub candidates: Vec<String>,
    pub noise: f64,
    pub confidence: f64,
    /// Where the between-run noise came from.
    #[serde(default)]
    pub noise_source: String,
    /// How the false-alarm rate over the rows is held.
    #[serde(default)]
    pub family: String,
    pub rows: Vec<Row>,
    /// What a reader must know about the runs themselves (health, scenarios).
    pub notes: Vec<String>,
    /// `slower` if a row is, else `faster` if a row is, else `inconclusive` if a row
    /// is, else `no change`.
    pub verdict: Change,
    pub regressions: usize,
    pub inconclusive: usize,
    /// Every candidate run was held by the host (or a run of a side too small to shed
    /// it): nothing was the build's to judge, so a
    /// gate must not pass on it (compare exits 9, as a held run does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub candidates_held: bool,
}

impl Comparison {
    /// The totals from the rows: regressions and possible ones among the gated rows,
    /// and the verdict (`slower` if a row is, else `faster`, else `inconclusive`, else
    /// `no change`).
    fn total(&mut self) {
        self.regressions = self.rows.iter().filter(|r| r.gate == Gate::Regression).count();
        self.inconclusive = self.rows.iter().filter(|r| r.gate == Gate::Inconclusive).count();
        let any = |v: Change| self.rows.iter().any(|r| r.verdict == v);
        self.verdict = [Change::Slower, Change::Faster, Change::Inconclusive]
            .into_iter()
            .find(|v| any(*v))
            .unwrap_or(Change::NoChange);
    }
}

/// Where a change lies against the floor, in "worse is positive" terms.
fn judge(est: f64, ci: Option<(f64, f64)>, floor: f64) -> Change {
    match ci {
        Some((lo, _)) if lo > 0.0 && est > floor => Change::Slower,
        Some((_, hi)) if hi < 0.0 && est < -floor => Change::Faster,
        Some((lo, hi)) if lo >= -floor && hi <= floor => Change::NoChange,
        Some(_) => Change::Inconclusive,
        None if est > floor => Change::Slower,
        None if est < -floor => Change::Faster,
        None => Change::NoChange,
    }
}

/// What a row means for the gate, in "worse is positive" terms.
fn gate(verdict: Change, est: f64, ci: Option<(f64, f64)>, floor: f64, limit: Option<f64>) -> Gate {
    match (limit, ci) {
        (Some(l), Some((lo, _))) if lo > l => Gate::Regression,
        (Some(l), Some((_, hi))) if hi > l => Gate::Inconclusive,
        (Some(l), None) if est > l => Gate::Regression,
        (Some(_), _) => Gate::Pass,
        (None, _) if verdict == Change::Slower => Gate::Regression,
        (None, Some((_, hi))) if verdict == Change::Inconclusive && hi > floor => Gate::Inconclusive,
        (None, _) => Gate::Pass,
    }
}

/// Compares a baseline side with a candidate side, with the noise of `model` where
/// there is one: the runs the host held set aside, the sides judged, what was held
/// said, and (`--each-candidate`) a row called only when every candidate run agrees.
pub fn compare(base: &Side, cand: &Side, opts: &Options, model: Option<&NoiseModel>) -> Comparison {
    if opts.paired && base.runs.len() == cand.runs.len() {
        return paired::compare(base, cand, opts);
    }
    let held = HeldRuns::split(base, cand);
    let base = held.base_kept.as_ref().unwrap_or(base);
    let mut joint = sides::compare_sides(base, held.cand_kept.as_ref().unwrap_or(cand), opts, model, false);
    let small_held = held_by_host(base, cand);
    if !small_held.is_empty() {
        joint.notes.push(format!(
            "nothing judged: the host held {} (over {}x the other side and over {}); run again on a quieter host, or with more runs a side",
            small_held.join("; "),
            noise::HELD_FACTOR,
            crate::units::fmt_ns(noise::HELD_FLOOR_NS as u64)
        ));
    }
    held.say(&mut joint);
    if (!held.cand.is_empty() && held.cand_kept.is_none()) || !small_held.is_empty() {
        // Every candidate run was held, or a run of a side too small to shed it: nothing
        // is the build's to judge.
        joint.nothing_judged();
    }
    let cand = held.cand_kept.as_ref().unwrap_or(cand);
    if !opts.each_candidate || cand.runs.len() < 2 {
        return joint;
    }
    each_candidate(joint, base, cand, opts, model)
}

/// The runs whose harness lag says the host held them (over the held bound of the
/// baseline's median): left out of the baseline while five or more remain, and out of
/// the candidates (with none left, nothing is called).
struct HeldRuns {
    base_kept: Option<Side>,
    base: Vec<noise::Held>,
    cand_kept: Option<Side>,
    cand: Vec<noise::Held>,
}

impl HeldRuns {
    fn split(base: &Side, cand: &Side) -> HeldRuns {
        let mut h = HeldRuns {
            base_kept: None,
            base: Vec::new(),
            cand_kept: None,
            cand: Vec::new(),
        };
        let Some((median, bound)) = noise::held_bound(base) else {
            return h;
        };
        let (b, held) = noise::split_held(base, median, bound);
        if !held.is_empty() && b.runs.len() >= noise::OUTLIER_MIN_RUNS {
            h.base_kept = Some(b);
            h.base = held;
        }
        let (c, held) = noise::split_held(cand, median, bound);
        if !held.is_empty() {
            h.cand_kept = (!c.runs.is_empty()).then_some(c);
            h.cand = held;
        }
        h
    }

    /// A note per side with runs left out, naming them and their lag.
    fn say(&self, c: &mut Comparison) {
        for (side, held) in [("baseline", &self.base), ("candidate", &self.cand)] {
            let Some(first) = held.first() else { continue };
            c.notes.push(format!(
                "{side} run(s) {} left out: the harness's own schedule lag p99 ({}) was over {}x the baseline's median ({}) and over {}: the host held the run, so its latencies are not the build's",
                held.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", "),
                held.iter().map(|h| crate::units::fmt_ns(h.lag_ns as u64)).collect::<Vec<_>>().join(", "),
                noise::HELD_FACTOR,
                crate::units::fmt_ns(first.baseline_ns as u64),
                crate::units::fmt_ns(noise::HELD_FLOOR_NS as u64),
            ));
        }
    }
}

/// Runs the host held by its own platform evidence against the other side's, where
/// nothing else can shed them: a baseline of one run (nothing to weigh it against), or
/// a candidate side whose every run was held. A held run decides nothing, baseline and
/// candidate alike.
fn held_by_host(base: &Side, cand: &Side) -> Vec<String> {
    let mut held: Vec<String> = Vec::new();
    if base.runs.len() == 1 {
        held.extend(noise::held_by_host(base, cand, "baseline").into_iter().map(|h| h.1));
    }
    let cand_by_host = noise::held_by_host(cand, base, "candidate");
    if !cand.runs.is_empty() && cand_by_host.len() == cand.runs.len() {
        held.extend(cand_by_host.into_iter().map(|h| h.1));
    }
    held
}

impl Comparison {
    /// No row called slower or faster, none a regression: the host held what would
    /// have decided.
    fn nothing_judged(&mut self) {
        for row in &mut self.rows {
            if matches!(row.verdict, Change::Slower | Change::Faster) {
                row.verdict = Change::Inconclusive;
            }
            if row.gate == Gate::Regression {
                row.gate = Gate::Inconclusive;
            }
        }
        self.regressions = 0;
        self.inconclusive = self.rows.iter().filter(|r| r.gate == Gate::Inconclusive).count();
        if matches!(self.verdict, Change::Slower | Change::Faster) {
            self.verdict = Change::Inconclusive;
        }
        self.candidates_held = true;
    }
}

/// Each candidate run judged alone too: a row stays called only when every run alone
/// agrees, and a regression only when every run alone is one.
fn each_candidate(
    mut joint: Comparison,
    base: &Side,
    cand: &Side,
    opts: &Options,
    model: Option<&NoiseModel>,
) -> Comparison {
    let alone: Vec<Comparison> = cand
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let one = Side {
                names: vec![cand.names.get(i).cloned().unwrap_or_default()],
                runs: vec![r.clone()],
                ..Side::default()
            };
            sides::compare_sides(base, &one, opts, model, false)
        })
        .collect();
    for row in &mut joint.rows {
        let each: Vec<&Row> = alone
            .iter()
            .filter_map(|c| {
                c.rows
                    .iter()
                    .find(|r| r.workload == row.workload && r.stage == row.stage && r.stat == row.stat)
            })
            .collect();
        let all = |v: Change| each.len() == alone.len() && each.iter().all(|r| r.verdict == v);
        if matches!(row.verdict, Change::Slower | Change::Faster) && !all(row.verdict) {
            row.verdict = Change::Inconclusive;
            let verdicts: Vec<String> = each.iter().map(|r| r.verdict.to_string()).collect();
            row.note = Some(format!(
                "not every candidate run alone agrees ({})",
                verdicts.join(", ")
            ));
        }
        if row.gate == Gate::Regression && !each.iter().all(|r| r.gate == Gate::Regression) {
            row.gate = Gate::Inconclusive;
        }
    }
    joint.total();
    joint.family.push_str(&format!(
        "; each of the {} candidate runs judged alone too, a row called only when all agree",
        cand.runs.len()
    ));
    joint
}

#[cfg(test)]
mod tests;
