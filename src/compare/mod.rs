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

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use crate::report::values::STATS;
use crate::report::values::{Key, RunValues};
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

/// A row to judge: its key, unit and floor.
struct Planned {
    key: Key,
    unit: Unit,
    floor: f64,
    gated: bool,
    limit: Option<f64>,
}

/// The value as judged: log for ratios, as it is for shares.
fn transform(unit: Unit, v: f64) -> f64 {
    match unit {
        Unit::Share => v,
        _ => v.max(1e-9).ln(),
    }
}

fn untransform_mean(unit: Unit, m: f64) -> f64 {
    match unit {
        Unit::Share => m,
        _ => m.exp(),
    }
}

/// A difference in judged terms as a change: a ratio - 1, or a share difference.
fn as_change(unit: Unit, d: f64) -> f64 {
    match unit {
        Unit::Share => d,
        _ => d.exp() - 1.0,
    }
}

/// Each workload's headline stage, as the runs report it.
fn headline(runs: &[&RunValues], workload: &str) -> Option<String> {
    runs.iter().find_map(|r| r.headline.get(workload).cloned())
}

fn matches(opt: &str, k: &Key) -> bool {
    opt == format!("{}.{}", k.stage, k.stat) || opt == k.to_string()
}

/// Compares a baseline side with a candidate side, with the noise of `model` where
/// there is one.
pub fn compare(base: &Side, cand: &Side, opts: &Options, model: Option<&NoiseModel>) -> Comparison {
    if opts.paired && base.runs.len() == cand.runs.len() {
        return paired::compare(base, cand, opts);
    }
    // Runs the host held are not the build's: left out of the baseline while five or
    // more remain, and out of the candidates (with none left, nothing is called).
    let (mut base_held, mut cand_held) = (Vec::new(), Vec::new());
    let (mut base_kept, mut kept) = (None, None);
    if let Some((median, bound)) = noise::held_bound(base) {
        let (b, h) = noise::split_held(base, median, bound);
        if !h.is_empty() && b.runs.len() >= noise::OUTLIER_MIN_RUNS {
            base_kept = Some(b);
            base_held = h;
        }
        let (c, h) = noise::split_held(cand, median, bound);
        if !h.is_empty() {
            if !c.runs.is_empty() {
                kept = Some(c);
            }
            cand_held = h;
        }
    }
    let base = base_kept.as_ref().unwrap_or(base);
    let mut joint = match &kept {
        Some(k) => compare_sides(base, k, opts, model, false),
        None => compare_sides(base, cand, opts, model, false),
    };
    // A run the host held (by its own platform evidence against the other side's)
    // decides nothing, baseline and candidate alike.
    // A baseline of one run (nothing to shed it by, nothing to weigh it against), or a
    // candidate side whose every run was held.
    let mut small_held: Vec<String> = Vec::new();
    if base.runs.len() == 1 {
        small_held.extend(noise::held_by_host(base, cand, "baseline").into_iter().map(|h| h.1));
    }
    let cand_by_host = noise::held_by_host(cand, base, "candidate");
    if !cand.runs.is_empty() && cand_by_host.len() == cand.runs.len() {
        small_held.extend(cand_by_host.into_iter().map(|h| h.1));
    }
    if !small_held.is_empty() {
        joint.notes.push(format!(
            "nothing judged: the host held {} (over {}x the other side and over {}); run again on a quieter host, or with more runs a side",
            small_held.join("; "),
            noise::HELD_FACTOR,
            crate::units::fmt_ns(noise::HELD_FLOOR_NS as u64)
        ));
    }
    let all_held = (!cand_held.is_empty() && kept.is_none()) || !small_held.is_empty();
    for (side, held) in [("baseline", &base_held), ("candidate", &cand_held)] {
        if held.is_empty() {
            continue;
        }
        joint.notes.push(format!(
            "{side} run(s) {} left out: the harness's own schedule lag p99 ({}) was over {}x the baseline's median ({}) and over {}: the host held the run, so its latencies are not the build's",
            held.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", "),
            held.iter().map(|h| crate::units::fmt_ns(h.lag_ns as u64)).collect::<Vec<_>>().join(", "),
            noise::HELD_FACTOR,
            crate::units::fmt_ns(held[0].baseline_ns as u64),
            crate::units::fmt_ns(noise::HELD_FLOOR_NS as u64),
        ));
    }
    if all_held {
        // Every candidate run was held, or a run of a side too small to shed it: nothing
        // is the build's to judge.
        for row in &mut joint.rows {
            if matches!(row.verdict, Change::Slower | Change::Faster) {
                row.verdict = Change::Inconclusive;
            }
            if row.gate == Gate::Regression {
                row.gate = Gate::Inconclusive;
            }
        }
        joint.regressions = 0;
        joint.inconclusive = joint.rows.iter().filter(|r| r.gate == Gate::Inconclusive).count();
        if matches!(joint.verdict, Change::Slower | Change::Faster) {
            joint.verdict = Change::Inconclusive;
        }
        joint.candidates_held = true;
    }
    let cand = kept.as_ref().unwrap_or(cand);
    if !opts.each_candidate || cand.runs.len() < 2 {
        return joint;
    }
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
            compare_sides(base, &one, opts, model, false)
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
            row.note = Some(format!(
                "not every candidate run alone agrees ({})",
                each.iter()
                    .map(|r| r.verdict.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if row.gate == Gate::Regression && !each.iter().all(|r| r.gate == Gate::Regression) {
            row.gate = Gate::Inconclusive;
        }
    }
    joint.regressions = joint.rows.iter().filter(|r| r.gate == Gate::Regression).count();
    joint.inconclusive = joint.rows.iter().filter(|r| r.gate == Gate::Inconclusive).count();
    let any = |v: Change| joint.rows.iter().any(|r| r.verdict == v);
    joint.verdict = [Change::Slower, Change::Faster, Change::Inconclusive]
        .into_iter()
        .find(|v| any(*v))
        .unwrap_or(Change::NoChange);
    joint.family.push_str(&format!(
        "; each of the {} candidate runs judged alone too, a row called only when all agree",
        cand.runs.len()
    ));
    joint
}

/// `paired`: the sides are pairs (run i with run i), judged on their differences.
fn compare_sides(base: &Side, cand: &Side, opts: &Options, model: Option<&NoiseModel>, paired: bool) -> Comparison {
    let mut rows = Vec::new();
    let mut notes: Vec<String> = base.notes.iter().chain(&cand.notes).cloned().collect();
    let all: Vec<&RunValues> = base.runs.iter().chain(&cand.runs).collect();
    let in_all = |side: &Side, k: &str| side.runs.iter().all(|r| r.values.contains_key(k));
    let keys: BTreeSet<Key> = all
        .iter()
        .flat_map(|r| r.values.keys())
        .filter_map(|k| k.parse().ok())
        .collect();
    // Rows missing on a side: one per (workload, stage).
    let mut planned = Vec::new();
    let mut missing: BTreeSet<(String, String, bool)> = BTreeSet::new();
    for k in &keys {
        let ks = k.to_string();
        let (b, c) = (in_all(base, &ks), in_all(cand, &ks));
        if !(b && c) {
            let workload_gone = |side: &Side| {
                side.runs
                    .iter()
                    .all(|r| !r.values.keys().any(|x| x.starts_with(&format!("{}.", k.workload))))
            };
            let stage = if workload_gone(base) || workload_gone(cand) {
                "(workload)".to_string()
            } else {
                k.stage.clone()
            };
            missing.insert((k.workload.clone(), stage, b));
            continue;
        }
        let (unit, floor) = match (k.stage.as_str(), k.stat.as_str()) {
            ("errors", _) => {
                let bmean = noise::mean(&base.runs.iter().map(|r| r.values[&ks]).collect::<Vec<_>>());
                (Unit::Share, ERROR_FLOOR.max(opts.noise * bmean))
            }
            ("throughput", _) => (Unit::OpsPerS, opts.noise),
            (_, stat) => (
                Unit::Ns,
                opts.noise * TAIL_NOISE[STATS.iter().position(|s| *s == stat).unwrap_or(3)],
            ),
        };
        let limit = opts
            .limits
            .get(&ks)
            .or_else(|| opts.limits.get(&format!("{}.{}", k.stage, k.stat)))
            .copied();
        let default_gate = k.stage == "errors"
            || (headline(&all, &k.workload).as_deref() == Some(k.stage.as_str())
                && ["p50", "p99"].contains(&k.stat.as_str()));
        let gated = limit.is_some()
            || if opts.gate.is_empty() {
                default_gate
            } else {
                opts.gate.iter().any(|g| matches(g, k))
            };
        planned.push(Planned {
            key: k.clone(),
            unit,
            floor,
            gated,
            limit,
        });
    }
    // A row whose every run has one value (no errors anywhere) has no spread, so no
    // chance of a false alarm from noise: it is judged, but it is not one of the
    // family's chances (counted, it raised five pairs' t from 3.50 to 3.96).
    let varies = |p: &Planned| {
        let ks = p.key.to_string();
        let mut v = base
            .runs
            .iter()
            .chain(&cand.runs)
            .chain(model.map(|m| m.runs.as_slice()).unwrap_or_default())
            .filter_map(|r| r.values.get(&ks));
        let first = v.next().copied();
        v.any(|x| Some(*x) != first)
    };
    let family_gate = planned.iter().filter(|p| p.gated && varies(p)).count().max(1);
    let family_all = planned.iter().filter(|p| varies(p)).count().max(1);
    let mut any_known = false;
    for p in &planned {
        let ks = p.key.to_string();
        let vals = |runs: &[RunValues]| -> Vec<f64> {
            runs.iter()
                .filter_map(|r| r.values.get(&ks))
                .map(|v| transform(p.unit, *v))
                .collect()
        };
        let (b, c) = (vals(&base.runs), vals(&cand.runs));
        let m = model.map(|m| vals(&m.runs)).unwrap_or_default();
        // A side or history of five or more runs sheds the runs its host held, at the
        // centre of the distribution: a tail (p99, p99.9) is heavy by nature, and one run
        // far out there is what the tail does (left out, a p99.9 spread of 3.7% called an
        // A/A candidate's +139% slower, one other core busy).
        // (Pairs keep every pair: an outlier's neighbour shares its host.)
        let central = ["p50", "p90"].contains(&p.key.stat.as_str()) && !paired;
        let ((b, b_out), (m, m_out)) = if central {
            (noise::without_outliers(&b), noise::without_outliers(&m))
        } else {
            ((b, 0), (m, 0))
        };
        let family = if p.gated { family_gate } else { family_all };
        let (spread, ci) = if paired {
            match paired::interval(&b, &c, opts.confidence, family) {
                Some((s, ci)) => (Some(s), Some(ci)),
                None => (None, None),
            }
        } else {
            let spread = noise::pooled(&[&b, &c, &m]);
            let ci = noise::interval(&b, &c, spread.as_ref(), opts.confidence, family);
            (spread, ci)
        };
        let ci = ci.map(|(lo, hi)| (as_change(p.unit, lo), as_change(p.unit, hi)));
        any_known |= ci.is_some();
        let d = noise::mean(&c) - noise::mean(&b);
        let change = as_change(p.unit, d);
        // Worse is positive: lower throughput is worse.
        let worse = |x: f64| if p.unit == Unit::OpsPerS { -x } else { x };
        let (est, ci_w) = (
            worse(change),
            ci.map(|(lo, hi)| if p.unit == Unit::OpsPerS { (-hi, -lo) } else { (lo, hi) }),
        );
        let mut note = None;
        let verdict = match ci_w {
            Some(_) => judge(est, ci_w, p.floor),
            // No spread, and shares: a failed share that appears is not run-to-run noise
            // (healthy runs have none); judged on the point change against its floor.
            None if p.unit == Unit::Share => judge(est, None, p.floor),
            None => {
                let ratio = change + 1.0;
                let apart =
                    (untransform_mean(p.unit, noise::mean(&c)) - untransform_mean(p.unit, noise::mean(&b))).abs();
                let gross = (ratio >= noise::GROSS_RATIO || ratio <= 1.0 / noise::GROSS_RATIO)
                    && (p.unit != Unit::Ns || apart >= noise::GROSS_MIN_NS);
                if gross && ["p50", "p90", "ok/s"].contains(&p.key.stat.as_str()) {
                    note = Some(format!(
                        "beyond any plausible between-run noise ({}x), though it is unmeasured",
                        noise::GROSS_RATIO
                    ));
                    judge(est, None, p.floor)
                } else {
                    note = Some("between-run noise unknown: give 2+ runs per side or a history".into());
                    Change::Inconclusive
                }
            }
        };
        let gate = if !p.gated {
            Gate::Pass
        } else if ci_w.is_none() && p.unit != Unit::Share {
            match verdict {
                Change::Slower => Gate::Regression,
                _ if est > p.limit.unwrap_or(p.floor) => Gate::Inconclusive,
                _ => Gate::Pass,
            }
        } else {
            gate(verdict, est, ci_w, p.floor, p.limit)
        };
        if b_out + m_out > 0 && note.is_none() {
            note = Some(format!(
                "{} baseline run(s) left out as outliers (modified z-score over {})",
                b_out + m_out,
                noise::OUTLIER_Z
            ));
        }
        let bound = all.iter().any(|r| r.lower_bounds.contains(&ks));
        if bound {
            note = Some("a lower bound (censored operations)".into());
        }
        rows.push(Row {
            workload: p.key.workload.clone(),
            stage: p.key.stage.clone(),
            stat: p.key.stat.clone(),
            unit: p.unit,
            baseline: Some(untransform_mean(p.unit, noise::mean(&b))),
            candidate: Some(untransform_mean(p.unit, noise::mean(&c))),
            change: Some(change),
            ci,
            noise_sd: spread.as_ref().map(|s| s.sd),
            noise_dof: spread.as_ref().map_or(0, |s| s.dof),
            floor: p.floor,
            limit: p.limit,
            gated: p.gated,
            verdict,
            gate,
            note,
        });
    }
    for (workload, stage, in_base) in missing {
        rows.push(Row {
            workload,
            stage,
            stat: "-".into(),
            unit: Unit::Ns,
            baseline: None,
            candidate: None,
            change: None,
            ci: None,
            noise_sd: None,
            noise_dof: 0,
            floor: 0.0,
            limit: None,
            gated: true,
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
    for (side, s) in [("baseline", base), ("candidate", cand)] {
        if s.scenarios.len() > 1 {
            notes.push(format!("the {side} runs are of different scenarios: {:?}", s.scenarios));
        }
    }
    if base.scenarios != cand.scenarios && base.scenarios.len() == 1 && cand.scenarios.len() == 1 {
        notes.push(format!(
            "baseline and candidate are of different scenarios: {:?} and {:?}",
            base.scenarios, cand.scenarios
        ));
    }
    let noise_source = {
        let sides = [base, cand]
            .iter()
            .map(|s| s.runs.len())
            .filter(|n| *n >= 2)
            .collect::<Vec<_>>();
        let mut from = Vec::new();
        if !sides.is_empty() {
            from.push(format!(
                "the sides' own runs ({} and {})",
                base.runs.len(),
                cand.runs.len()
            ));
        }
        if let Some(m) = model.filter(|m| m.runs.len() >= 2) {
            from.push(format!("{} runs of {}", m.runs.len(), m.source));
        }
        if from.is_empty() {
            "unknown: one run per side and no history, so only a change beyond 2x at p50/p90 is called".to_string()
        } else {
            format!("between-run spread of {}", from.join(" and "))
        }
    };
    if !any_known {
        notes.push(
            "one run per side and no history: how runs of one build differ is unknown, so no row can be told from noise; give N runs per side (run --repeat N) or a history (--history DIR)".into(),
        );
    }
    let any = |v: Change| rows.iter().any(|r| r.verdict == v);
    let verdict = [Change::Slower, Change::Faster, Change::Inconclusive]
        .into_iter()
        .find(|v| any(*v))
        .unwrap_or(Change::NoChange);
    Comparison {
        baselines: base.names.clone(),
        candidates: cand.names.clone(),
        noise: opts.noise,
        confidence: opts.confidence,
        noise_source,
        family: format!(
            "{:.0}% intervals, Bonferroni over the {family_gate} gated rows (family-wise false-alarm rate at most {:.0}%) and over all {family_all} rows for the others",
            opts.confidence * 100.0,
            (1.0 - opts.confidence) * 100.0
        ),
        regressions: rows.iter().filter(|r| r.gate == Gate::Regression).count(),
        inconclusive: rows.iter().filter(|r| r.gate == Gate::Inconclusive).count(),
        verdict,
        rows,
        notes,
        candidates_held: false,
    }
}

#[cfg(test)]
mod tests {
    pub(super) fn empty_comparison() -> Comparison {
        Comparison {
            baselines: Vec::new(),
            candidates: Vec::new(),
            noise: 0.05,
            confidence: 0.95,
            noise_source: String::new(),
            family: String::new(),
            rows: Vec::new(),
            notes: Vec::new(),
            verdict: Change::NoChange,
            regressions: 0,
            inconclusive: 0,
            candidates_held: false,
        }
    }

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

    fn values(pairs: &[(&str, f64)]) -> RunValues {
        RunValues {
            values: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            headline: [("w".to_string(), "persist".to_string())].into(),
            ..RunValues::default()
        }
    }

    pub(super) fn side(runs: Vec<RunValues>) -> Side {
        Side {
            names: (0..runs.len()).map(|i| format!("r{i}")).collect(),
            runs,
            ..Side::default()
        }
    }

    pub(super) fn opts() -> Options {
        Options {
            noise: 0.05,
            confidence: 0.95,
            limits: BTreeMap::new(),
            gate: Vec::new(),
            each_candidate: false,
            paired: false,
        }
    }

    #[test]
    fn one_run_per_side_is_inconclusive_unless_the_change_is_gross() {
        let a = side(vec![values(&[("w.persist.p50", 1e6), ("w.persist.p99", 3e6)])]);
        let b = side(vec![values(&[("w.persist.p50", 1.3e6), ("w.persist.p99", 6e6)])]);
        let c = compare(&a, &b, &opts(), None);
        assert!(c.rows.iter().all(|r| r.verdict == Change::Inconclusive), "{:?}", c.rows);
        assert_eq!(c.regressions, 0);
        let slow = side(vec![values(&[("w.persist.p50", 3e6), ("w.persist.p99", 9e6)])]);
        let c = compare(&a, &slow, &opts(), None);
        let p50 = c.rows.iter().find(|r| r.stat == "p50").expect("p50");
        assert_eq!((p50.verdict, p50.gate), (Change::Slower, Gate::Regression));
        let p99 = c.rows.iter().find(|r| r.stat == "p99").expect("p99");
        assert_eq!(
            p99.verdict,
            Change::Inconclusive,
            "tails are never called without noise"
        );
        // Microseconds that double are the host, not the build (an A/A pair in CI).
        let us = |v: f64| side(vec![values(&[("w.produce.p50", v)])]);
        let c = compare(&us(1_462.0), &us(3_475.0), &opts(), None);
        assert_eq!(c.rows[0].verdict, Change::Inconclusive, "{:?}", c.rows);
    }

    #[test]
    fn a_one_run_baseline_the_host_held_judges_nothing() {
        // The A/A pair on a busy host: the baseline's run was the held one
        // (hiccup p99 1.42 ms against 0.34 ms, lag p99 2.25 ms against 1.30 ms), and its
        // p90s were 55-89% slower than the candidate's.
        let run = |p50: f64, p90: f64, hiccup: f64, lag: f64| RunValues {
            hiccup_p99: Some(hiccup),
            others_cores: Some(1.73),
            lag_p99: [("w".to_string(), lag)].into(),
            ..values(&[("w.persist.p50", p50), ("w.persist.p90", p90)])
        };
        let held = side(vec![run(2e6, 9e6, 1.42e6, 2.25e6)]);
        let fine = side(vec![run(1e6, 1e6, 0.34e6, 1.30e6)]);
        for (base, cand, who) in [(&held, &fine, "baseline run r0"), (&fine, &held, "candidate run r0")] {
            let c = compare(base, cand, &opts(), None);
            assert!(
                c.rows
                    .iter()
                    .all(|r| !matches!(r.verdict, Change::Slower | Change::Faster)),
                "{:?}",
                c.rows
            );
            assert!(c.candidates_held, "a gate must not pass on it");
            let notes = c.notes.join("\n");
            assert!(notes.contains("nothing judged") && notes.contains(who), "{notes}");
            assert!(notes.contains("hiccup p99 1.42ms"), "{notes}");
        }
        // The same two runs with the same host evidence: judged.
        let quiet = side(vec![run(2e6, 9e6, 0.34e6, 1.30e6)]);
        let c = compare(&quiet, &fine, &opts(), None);
        assert!(!c.candidates_held);
    }

    #[test]
    fn runs_the_host_held_are_left_out_of_either_side() {
        let run = |p50: f64, lag: f64| RunValues {
            lag_p99: [("w".to_string(), lag)].into(),
            ..values(&[("w.persist.p50", p50)])
        };
        // Eight baseline runs 1% apart, one of them held (lag 9 ms, p50 +25%).
        let mut base: Vec<RunValues> = (0..7).map(|i| run(1e6 * (1.0 + 0.01 * (i % 3) as f64), 3e5)).collect();
        base.push(run(1.25e6, 9e6));
        let base = side(base);
        // Two candidate runs of a 10% slower build, and a third the host held.
        let cand = side(vec![run(1.11e6, 3e5), run(1.10e6, 4e5), run(1.6e6, 5e6)]);
        let c = compare(&base, &cand, &opts(), None);
        let notes = c.notes.join("\n");
        assert!(notes.contains("baseline run(s) r7 left out"), "{notes}");
        assert!(notes.contains("candidate run(s) r2 left out"), "{notes}");
        assert!(!notes.contains("nothing judged"), "{notes}");
        let p50 = c.rows.iter().find(|r| r.stat == "p50").expect("p50");
        assert_eq!(p50.verdict, Change::Slower, "{p50:?}");
        assert!(p50.change.is_some_and(|x| (0.08..0.12).contains(&x)), "{p50:?}");
        // Every candidate run held: nothing called, whatever the numbers.
        let held = side(vec![run(2e6, 5e6), run(2.1e6, 6e6)]);
        let c = compare(&base, &held, &opts(), None);
        assert_eq!(c.regressions, 0);
        assert!(c.rows.iter().all(|r| r.verdict != Change::Slower), "{:?}", c.rows);
        assert!(c.candidates_held, "a gate must not pass a build nobody measured");
        assert!(!compare(&base, &cand, &opts(), None).candidates_held);
        // Lag under a millisecond is the platform's floor: never held.
        let floor = side(vec![run(1.0e6, 9e5)]);
        assert!(!compare(&base, &floor, &opts(), None)
            .notes
            .join(" ")
            .contains("candidate run(s)"));
    }

    #[test]
    fn a_history_is_the_noise_model_and_the_gate_is_the_headline() {
        let run = |p50: f64, p90: f64| values(&[("w.persist.p50", p50), ("w.persist.p90", p90)]);
        let model = NoiseModel {
            source: "history".into(),
            runs: [1.0, 1.02, 0.98, 1.01, 0.99, 1.0]
                .iter()
                .map(|x| run(1e6 * x, 2e6 * x))
                .collect(),
        };
        let base = side(vec![run(1e6, 2e6)]);
        let same = side(vec![run(1.01e6, 2.02e6)]);
        let c = compare(&base, &same, &opts(), Some(&model));
        assert!(c
            .rows
            .iter()
            .all(|r| r.verdict != Change::Slower && r.verdict != Change::Faster));
        let slower = side(vec![run(1.15e6, 2.3e6)]);
        let c = compare(&base, &slower, &opts(), Some(&model));
        let p50 = c.rows.iter().find(|r| r.stat == "p50").expect("p50");
        assert_eq!(
            (p50.verdict, p50.gate, p50.gated),
            (Change::Slower, Gate::Regression, true)
        );
        // p90 is not in the default gate: slower, but it fails nothing.
        let p90 = c.rows.iter().find(|r| r.stat == "p90").expect("p90");
        assert_eq!((p90.verdict, p90.gate, p90.gated), (Change::Slower, Gate::Pass, false));
        assert_eq!(c.regressions, 1);
        // One candidate run an outlier, the other not: with --each-candidate, nothing called.
        let mixed = side(vec![run(1.15e6, 2.3e6), run(1.0e6, 2.0e6)]);
        let each = Options {
            each_candidate: true,
            ..opts()
        };
        let c = compare(&base, &mixed, &each, Some(&model));
        assert!(c.rows.iter().all(|r| r.verdict != Change::Slower), "{:?}", c.rows);
        assert_eq!(c.regressions, 0);
        let both = side(vec![run(1.15e6, 2.3e6), run(1.14e6, 2.28e6)]);
        let c = compare(&base, &both, &each, Some(&model));
        assert_eq!(c.regressions, 1, "{:?}", c.rows);
    }
}
