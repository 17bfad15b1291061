//! `eventbench compare BASE... -- CAND...`: per workload, stage and statistic, the
//! change, its confidence interval and a verdict a CI gate can act on.
//!
//! Each side is one or more runs of a build. The interval comes from a two-level
//! bootstrap (runs, then blocks of intervals; see `bootstrap`), so with several runs a
//! side's between-run spread is in it. What one run per side cannot show, how much runs
//! of one build differ, is covered by the noise floor: a change must be both
//! significant (its interval excludes 0) and bigger than the floor to count, and a row
//! is `no change` only when the whole interval lies within the floor. Anything else is
//! `inconclusive`, never a silent pass.
//!
//! A `--limit` is a gate on the change with its interval: the row fails when the whole
//! interval lies beyond the limit, and is inconclusive when the interval straddles it.

mod bootstrap;
mod render;
mod run;

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

pub use bootstrap::STATS;
use bootstrap::{interval, latency_stats, outcome_stats, point, replicates};
pub use render::{markdown, text};
pub use run::Run;

/// The noise floor's multiple per percentile: a tail percentile rests on few samples
/// and moves more between runs, so it needs a bigger change to count.
const TAIL_NOISE: [f64; 4] = [1.0, 1.0, 1.5, 2.0];
const REPLICATES: usize = 1000;
/// The smallest change of the failed share that counts: 0.1 percentage point.
const ERROR_FLOOR: f64 = 0.001;

/// Settings of a comparison.
#[derive(Debug, Clone)]
pub struct Options {
    /// A change smaller than this fraction is not material (x1.5 at p99, x2 at p99.9).
    pub noise: f64,
    /// Two-sided confidence of the bootstrap intervals.
    pub confidence: f64,
    /// Per `stage.stat` or `workload.stage.stat`: the change a gate allows.
    pub limits: BTreeMap<String, f64>,
}

/// What a row, or a whole comparison, concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Worse beyond the floor, with confidence (higher latency or error share, lower
    /// throughput).
    Slower,
    Faster,
    /// Confidently within the floor.
    NoChange,
    /// The interval straddles the floor, or one side has no data for the row.
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
    /// Could be a regression: the interval reaches past the floor or limit.
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
    /// Pooled over the side's runs' measured intervals (None: not in this side).
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    pub change: Option<f64>,
    /// Bootstrap confidence interval of the change.
    pub ci: Option<(f64, f64)>,
    /// The floor this row was judged against, in the change's terms (worse is +).
    pub floor: f64,
    pub limit: Option<f64>,
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
    pub rows: Vec<Row>,
    /// What a reader must know about the runs themselves (health, missing logs).
    pub notes: Vec<String>,
    /// `slower` if a row is, else `faster` if a row is, else `inconclusive` if a row
    /// is, else `no change`.
    pub verdict: Change,
    pub regressions: usize,
    pub inconclusive: usize,
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

/// One side's data for a row kind, in the orientation the change is stated.
struct Sides<'a> {
    base: &'a [f64],
    cand: &'a [f64],
}

struct Judged {
    change: f64,
    ci: Option<(f64, f64)>,
}

/// The change and its interval: ratio (latency, throughput) or difference (share).
fn change_of(unit: Unit, b: f64, c: f64, reps: Option<Sides>, confidence: f64) -> Judged {
    let f = move |c: f64, b: f64| match unit {
        Unit::Share => Some(c - b),
        _ => (b > 0.0).then(|| c / b - 1.0),
    };
    Judged {
        change: f(c, b).unwrap_or(0.0),
        ci: reps.and_then(|s| interval(s.base, s.cand, confidence, f)),
    }
}

struct RowBuilder<'a> {
    opts: &'a Options,
    rows: Vec<Row>,
}

impl RowBuilder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        workload: &str,
        stage: &str,
        stat: &str,
        unit: Unit,
        b: f64,
        c: f64,
        reps: Option<Sides>,
        floor: f64,
    ) {
        let j = change_of(unit, b, c, reps, self.opts.confidence);
        // Worse is positive: lower throughput is worse.
        let sign = if unit == Unit::OpsPerS { -1.0 } else { 1.0 };
        let (est, ci) = (
            sign * j.change,
            j.ci.map(|(lo, hi)| if sign < 0.0 { (-hi, -lo) } else { (lo, hi) }),
        );
        let limit = self
            .opts
            .limits
            .get(&format!("{workload}.{stage}.{stat}"))
            .or_else(|| self.opts.limits.get(&format!("{stage}.{stat}")))
            .copied();
        let verdict = judge(est, ci, floor);
        self.rows.push(Row {
            workload: workload.into(),
            stage: stage.into(),
            stat: stat.into(),
            unit,
            baseline: Some(b),
            candidate: Some(c),
            change: Some(j.change),
            ci: j.ci,
            floor,
            limit,
            verdict,
            gate: gate(verdict, est, ci, floor, limit),
            note: None,
        });
    }

    fn missing(&mut self, workload: &str, stage: &str, in_base: bool) {
        self.rows.push(Row {
            workload: workload.into(),
            stage: stage.into(),
            stat: "-".into(),
            unit: Unit::Ns,
            baseline: None,
            candidate: None,
            change: None,
            ci: None,
            floor: 0.0,
            limit: None,
            verdict: Change::Inconclusive,
            gate: Gate::Inconclusive,
            note: Some(
                if in_base {
                    "only in the baseline"
                } else {
                    "only in the candidate"
                }
                .into(),
            ),
        });
    }
}

/// The stages compare judges: the target's latencies (`lag` is the harness's own,
/// judged by health; `failed` is not a latency of service).
fn judged_stage(stage: &str) -> bool {
    !["serialize", "deserialize", "failed", "lag"].contains(&stage)
}

/// Compares one or more baseline runs with one or more candidate runs.
pub fn compare(base: &[Run], cand: &[Run], opts: &Options) -> Comparison {
    let mut b = RowBuilder { opts, rows: Vec::new() };
    let mut notes = Vec::new();
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let logged = |runs: &[Run]| runs.iter().all(|r| r.intervals.is_some());
    let bootstrap = logged(base) && logged(cand);
    let workloads: BTreeSet<&String> = base
        .iter()
        .chain(cand)
        .flat_map(|r| r.summary.workloads.keys())
        .collect();
    for name in workloads {
        let has = |runs: &[Run]| runs.iter().all(|r| r.summary.workloads.contains_key(name));
        if !has(base) || !has(cand) {
            b.missing(name, "(workload)", has(base));
            continue;
        }
        // Throughput and the failed share, from the timelines.
        let (bo, co): (Vec<_>, Vec<_>) = (
            base.iter().map(|r| r.outcomes(name)).collect(),
            cand.iter().map(|r| r.outcomes(name)).collect(),
        );
        let (bp, cp) = (point(&bo, outcome_stats), point(&co, outcome_stats));
        let (br, cr) = (
            replicates(&bo, REPLICATES, &mut rng, outcome_stats),
            replicates(&co, REPLICATES, &mut rng, outcome_stats),
        );
        let usable = |o: &[Vec<bootstrap::Outcomes>]| o.iter().all(|r| r.len() >= 3);
        let ok_reps = usable(&bo) && usable(&co);
        // An open workload's ok/s is its schedule's (which differs by chance between
        // seeds); what the target changes there is the share of offered operations that
        // failed or were censored. A closed workload's throughput is the target's.
        let closed = base
            .iter()
            .chain(cand)
            .all(|r| r.summary.workloads[name].model == crate::report::summary::LoadModel::Closed);
        let rows = [
            (0, "throughput", "ok/s", Unit::OpsPerS, opts.noise),
            (1, "errors", "share", Unit::Share, ERROR_FLOOR.max(opts.noise * bp[1])),
        ];
        for (k, stage, stat, unit, floor) in rows.into_iter().filter(|r| closed || r.0 == 1) {
            let (x, y) = (column(&br, k), column(&cr, k));
            let reps = ok_reps.then_some(Sides { base: &x, cand: &y });
            b.push(name, stage, stat, unit, bp[k], cp[k], reps, floor);
        }
        let stages: BTreeSet<&String> = base
            .iter()
            .chain(cand)
            .flat_map(|r| r.summary.workloads[name].stages.keys())
            .filter(|s| judged_stage(s))
            .collect();
        for stage in stages {
            let has = |runs: &[Run]| {
                runs.iter()
                    .all(|r| r.summary.workloads[name].stages.contains_key(stage))
            };
            if !has(base) || !has(cand) {
                b.missing(name, stage, has(base));
                continue;
            }
            let tag = format!("{name}.{stage}");
            let (bi, ci): (Vec<_>, Vec<_>) = (
                base.iter().map(|r| r.sparse(&tag)).collect(),
                cand.iter().map(|r| r.sparse(&tag)).collect(),
            );
            let enough = |s: &[Vec<Vec<(u64, u64)>>]| s.iter().all(|r| r.len() >= 3);
            let mut buf = Vec::new();
            let with_reps = bootstrap && enough(&bi) && enough(&ci);
            let (bv, cv) = if bootstrap && !bi.iter().all(Vec::is_empty) && !ci.iter().all(Vec::is_empty) {
                (
                    point(&bi, |p| latency_stats(p, &mut buf)),
                    point(&ci, |p| latency_stats(p, &mut buf)),
                )
            } else {
                (summary_stats(base, name, stage), summary_stats(cand, name, stage))
            };
            let (brs, crs) = if with_reps {
                (
                    replicates(&bi, REPLICATES, &mut rng, |p| latency_stats(p, &mut buf)),
                    replicates(&ci, REPLICATES, &mut rng, |p| latency_stats(p, &mut buf)),
                )
            } else {
                (Vec::new(), Vec::new())
            };
            let first_row = b.rows.len();
            for (k, (stat, _)) in STATS.iter().enumerate() {
                let (x, y) = (column(&brs, k), column(&crs, k));
                let reps = with_reps.then_some(Sides { base: &x, cand: &y });
                b.push(
                    name,
                    stage,
                    stat,
                    Unit::Ns,
                    bv[k],
                    cv[k],
                    reps,
                    opts.noise * TAIL_NOISE[k],
                );
            }
            // A percentile that is only a lower bound in either side says so.
            for row in &mut b.rows[first_row..] {
                let bound = |runs: &[Run]| {
                    runs.iter()
                        .any(|r| r.summary.workloads[name].stages[stage].lower_bounds.contains(&row.stat))
                };
                if bound(base) || bound(cand) {
                    row.note = Some("a lower bound (censored operations)".into());
                }
            }
            if !with_reps {
                notes.push(format!(
                    "{name}.{stage}: fewer than 3 measured intervals in a run, or no interval log: judged on the point change alone"
                ));
            }
        }
    }
    for (side, runs) in [("baseline", base), ("candidate", cand)] {
        for r in runs {
            for (w, s) in &r.summary.workloads {
                if s.health != crate::report::summary::Health::Healthy {
                    notes.push(format!(
                        "{side} {} {w}: {} ({}): its latencies are those of an overloaded run",
                        r.path.display(),
                        s.health,
                        s.health_reason
                    ));
                }
            }
        }
        let names: BTreeSet<&str> = runs.iter().map(|r| r.summary.scenario.name.as_str()).collect();
        if names.len() > 1 {
            notes.push(format!("the {side} runs are of different scenarios: {names:?}"));
        }
    }
    if base.len() == 1 || cand.len() == 1 {
        notes.push(
            "one run on a side: its interval cannot see how runs of one build differ; the noise floor stands in for that (give several runs per side to measure it)"
                .into(),
        );
    }
    let rows = b.rows;
    let any = |v: Change| rows.iter().any(|r| r.verdict == v);
    let verdict = [Change::Slower, Change::Faster, Change::Inconclusive]
        .into_iter()
        .find(|v| any(*v))
        .unwrap_or(Change::NoChange);
    Comparison {
        baselines: base.iter().map(|r| r.path.display().to_string()).collect(),
        candidates: cand.iter().map(|r| r.path.display().to_string()).collect(),
        noise: opts.noise,
        confidence: opts.confidence,
        regressions: rows.iter().filter(|r| r.gate == Gate::Regression).count(),
        inconclusive: rows.iter().filter(|r| r.gate == Gate::Inconclusive).count(),
        verdict,
        rows,
        notes,
    }
}

/// Statistic `k` of every replicate.
fn column<const K: usize>(r: &[[f64; K]], k: usize) -> Vec<f64> {
    r.iter().map(|x| x[k]).collect()
}

/// A stage's percentiles from summary.json, the median over the side's runs (for runs
/// without an interval log).
fn summary_stats(runs: &[Run], workload: &str, stage: &str) -> [f64; 4] {
    let mut per: Vec<[f64; 4]> = runs
        .iter()
        .map(|r| {
            let s = &r.summary.workloads[workload].stages[stage];
            [s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns].map(|v| v as f64)
        })
        .collect();
    let mut out = [0.0; 4];
    for (k, o) in out.iter_mut().enumerate() {
        per.sort_by(|a, b| a[k].total_cmp(&b[k]));
        *o = per[per.len() / 2][k];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_counts_when_significant_and_beyond_the_floor() {
        // +11%, interval +9..+13.5%: the case that used to be "no change".
        assert_eq!(judge(0.11, Some((0.09, 0.135)), 0.05), Change::Slower);
        assert_eq!(judge(-0.11, Some((-0.135, -0.09)), 0.05), Change::Faster);
        // Significant but smaller than the floor, and confidently so.
        assert_eq!(judge(0.02, Some((0.01, 0.03)), 0.05), Change::NoChange);
        // Could be either: straddles the floor.
        assert_eq!(judge(0.03, Some((-0.04, 0.12)), 0.05), Change::Inconclusive);
        assert_eq!(judge(0.08, Some((-0.01, 0.17)), 0.05), Change::Inconclusive);
        // No interval: the point change against the floor.
        assert_eq!(judge(0.08, None, 0.05), Change::Slower);
        assert_eq!(judge(0.01, None, 0.05), Change::NoChange);
    }

    #[test]
    fn a_limit_fails_with_confidence_and_is_inconclusive_when_straddled() {
        let v = Change::Slower;
        assert_eq!(gate(v, 0.3, Some((0.25, 0.35)), 0.05, Some(0.2)), Gate::Regression);
        assert_eq!(gate(v, 0.22, Some((0.15, 0.3)), 0.05, Some(0.2)), Gate::Inconclusive);
        assert_eq!(gate(v, 0.1, Some((0.05, 0.15)), 0.05, Some(0.2)), Gate::Pass);
        // Without a limit the verdict decides; an inconclusive row that could be worse
        // than the floor is inconclusive for the gate, one that could only be better passes.
        assert_eq!(
            gate(Change::Slower, 0.1, Some((0.05, 0.15)), 0.05, None),
            Gate::Regression
        );
        assert_eq!(
            gate(Change::Inconclusive, 0.03, Some((-0.04, 0.12)), 0.05, None),
            Gate::Inconclusive
        );
        assert_eq!(
            gate(Change::Inconclusive, -0.08, Some((-0.15, 0.01)), 0.05, None),
            Gate::Pass
        );
    }

    #[test]
    fn throughput_is_worse_when_lower_and_errors_by_difference() {
        let opts = Options {
            noise: 0.05,
            confidence: 0.95,
            limits: BTreeMap::new(),
        };
        let mut b = RowBuilder {
            opts: &opts,
            rows: Vec::new(),
        };
        let (lo, hi) = ([1000.0; 40], [800.0; 40]);
        b.push(
            "w",
            "throughput",
            "ok/s",
            Unit::OpsPerS,
            1000.0,
            800.0,
            Some(Sides { base: &lo, cand: &hi }),
            0.05,
        );
        assert_eq!(b.rows[0].verdict, Change::Slower);
        assert_eq!(b.rows[0].gate, Gate::Regression);
        let (x, y) = ([0.0; 40], [0.02; 40]);
        b.push(
            "w",
            "errors",
            "share",
            Unit::Share,
            0.0,
            0.02,
            Some(Sides { base: &x, cand: &y }),
            ERROR_FLOOR,
        );
        assert_eq!(b.rows[1].verdict, Change::Slower);
        assert!((b.rows[1].change.unwrap_or(0.0) - 0.02).abs() < 1e-12);
    }
}
