//! One comparison of two sides: which rows to judge (their keys, units, floors and
//! whether the gate judges them), each row judged on the sides' runs, the rows only one
//! side has, and the notes on the runs themselves.

use std::collections::BTreeSet;

use super::noise::{self, Spread};
use super::{gate, judge, Change, Comparison, Gate, NoiseModel, Options, Row, Side, Unit};
use super::{ERROR_FLOOR, STATS, TAIL_NOISE};
use crate::report::values::{Key, RunValues};

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

/// The two sides as one row judges them: every run of each, and the noise model's.
struct Sides<'a> {
    base: &'a Side,
    cand: &'a Side,
    model: Option<&'a NoiseModel>,
    all: Vec<&'a RunValues>,
    opts: &'a Options,
    /// The sides are pairs (run i with run i), judged on their differences.
    paired: bool,
}

/// `paired`: the sides are pairs (run i with run i), judged on their differences.
pub(super) fn compare_sides(
    base: &Side,
    cand: &Side,
    opts: &Options,
    model: Option<&NoiseModel>,
    paired: bool,
) -> Comparison {
    let s = Sides {
        base,
        cand,
        model,
        all: base.runs.iter().chain(&cand.runs).collect(),
        opts,
        paired,
    };
    let (planned, missing) = s.plan();
    // A row whose every run has one value (no errors anywhere) has no spread, so no
    // chance of a false alarm from noise: it is judged, but it is not one of the
    // family's chances (counted, it raised five pairs' t from 3.50 to 3.96).
    let family_gate = planned.iter().filter(|p| p.gated && s.varies(p)).count().max(1);
    let family_all = planned.iter().filter(|p| s.varies(p)).count().max(1);
    let mut rows = Vec::new();
    let mut any_known = false;
    for p in &planned {
        let row = s.judge_row(p, if p.gated { family_gate } else { family_all });
        any_known |= row.ci.is_some();
        rows.push(row);
    }
    rows.extend(missing.into_iter().map(missing_row));
    let mut notes: Vec<String> = base.notes.iter().chain(&cand.notes).cloned().collect();
    scenario_notes(base, cand, &mut notes);
    if !any_known {
        notes.push(
            "one run per side and no history: how runs of one build differ is unknown, so no row can be told from noise; give N runs per side (run --repeat N) or a history (--history DIR)".into(),
        );
    }
    let mut c = Comparison {
        baselines: base.names.clone(),
        candidates: cand.names.clone(),
        noise: opts.noise,
        confidence: opts.confidence,
        noise_source: noise_source(base, cand, model),
        family: format!(
            "{:.0}% intervals, Bonferroni over the {family_gate} gated rows (family-wise false-alarm rate at most {:.0}%) and over all {family_all} rows for the others",
            opts.confidence * 100.0,
            (1.0 - opts.confidence) * 100.0
        ),
        regressions: 0,
        inconclusive: 0,
        verdict: Change::NoChange,
        rows,
        notes,
        candidates_held: false,
    };
    c.total();
    c
}

impl Sides<'_> {
    fn in_all(side: &Side, k: &str) -> bool {
        side.runs.iter().all(|r| r.values.contains_key(k))
    }

    /// The rows both sides have, planned; the (workload, stage) only one side has, with
    /// whether it is the baseline's.
    #[allow(clippy::type_complexity)]
    fn plan(&self) -> (Vec<Planned>, BTreeSet<(String, String, bool)>) {
        let keys: BTreeSet<Key> = self
            .all
            .iter()
            .flat_map(|r| r.values.keys())
            .filter_map(|k| k.parse().ok())
            .collect();
        let mut planned = Vec::new();
        let mut missing = BTreeSet::new();
        for k in &keys {
            let ks = k.to_string();
            let (b, c) = (Self::in_all(self.base, &ks), Self::in_all(self.cand, &ks));
            if b && c {
                planned.push(self.planned(k));
                continue;
            }
            let workload_gone = |side: &Side| {
                side.runs
                    .iter()
                    .all(|r| !r.values.keys().any(|x| x.starts_with(&format!("{}.", k.workload))))
            };
            let stage = if workload_gone(self.base) || workload_gone(self.cand) {
                "(workload)".to_string()
            } else {
                k.stage.clone()
            };
            missing.insert((k.workload.clone(), stage, b));
        }
        (planned, missing)
    }

    /// A row's unit, floor, limit and whether the gate judges it.
    fn planned(&self, k: &Key) -> Planned {
        let (opts, ks) = (self.opts, k.to_string());
        let (unit, floor) = match (k.stage.as_str(), k.stat.as_str()) {
            ("errors", _) => {
                let bmean = noise::mean(&self.base.runs.iter().map(|r| r.values[&ks]).collect::<Vec<_>>());
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
            || (headline(&self.all, &k.workload).as_deref() == Some(k.stage.as_str())
                && ["p50", "p99"].contains(&k.stat.as_str()));
        let gated = limit.is_some()
            || if opts.gate.is_empty() {
                default_gate
            } else {
                opts.gate.iter().any(|g| matches(g, k))
            };
        Planned {
            key: k.clone(),
            unit,
            floor,
            gated,
            limit,
        }
    }

    /// Whether the row's values differ at all across the runs.
    fn varies(&self, p: &Planned) -> bool {
        let ks = p.key.to_string();
        let mut v = self
            .base
            .runs
            .iter()
            .chain(&self.cand.runs)
            .chain(self.model.map(|m| m.runs.as_slice()).unwrap_or_default())
            .filter_map(|r| r.values.get(&ks));
        let first = v.next().copied();
        v.any(|x| Some(*x) != first)
    }

    /// One row judged: its change, interval, verdict and what it means for the gate.
    fn judge_row(&self, p: &Planned, family: usize) -> Row {
        let ks = p.key.to_string();
        let vals = |runs: &[RunValues]| -> Vec<f64> {
            runs.iter()
                .filter_map(|r| r.values.get(&ks))
                .map(|v| transform(p.unit, *v))
                .collect()
        };
        let (b, c) = (vals(&self.base.runs), vals(&self.cand.runs));
        let m = self.model.map(|m| vals(&m.runs)).unwrap_or_default();
        // A side or history of five or more runs sheds the runs its host held, at the
        // centre of the distribution: a tail is heavy by nature, and one run far out
        // there is what the tail does. (Pairs keep every pair: an outlier's neighbour
        // shares its host.)
        let central = ["p50", "p90"].contains(&p.key.stat.as_str()) && !self.paired;
        let ((b, b_out), (m, m_out)) = if central {
            (noise::without_outliers(&b), noise::without_outliers(&m))
        } else {
            ((b, 0), (m, 0))
        };
        let (spread, ci) = self.interval(&b, &c, &m, family);
        let ci = ci.map(|(lo, hi)| (as_change(p.unit, lo), as_change(p.unit, hi)));
        let change = as_change(p.unit, noise::mean(&c) - noise::mean(&b));
        // Worse is positive: lower throughput is worse.
        let worse = |x: f64| if p.unit == Unit::OpsPerS { -x } else { x };
        let est = worse(change);
        let ci_w = ci.map(|(lo, hi)| if p.unit == Unit::OpsPerS { (-hi, -lo) } else { (lo, hi) });
        let (verdict, mut note) = verdict_of(p, est, ci_w, change, (&b, &c));
        let gate = gate_of(p, verdict, est, ci_w);
        if b_out + m_out > 0 && note.is_none() {
            note = Some(format!(
                "{} baseline run(s) left out as outliers (modified z-score over {})",
                b_out + m_out,
                noise::OUTLIER_Z
            ));
        }
        if self.all.iter().any(|r| r.lower_bounds.contains(&ks)) {
            note = Some("a lower bound (censored operations)".into());
        }
        Row {
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
        }
    }

    /// The between-run spread and the difference's interval, in judged terms: of the
    /// pairs' differences, or pooled over the sides and the model.
    #[allow(clippy::type_complexity)]
    fn interval(&self, b: &[f64], c: &[f64], m: &[f64], family: usize) -> (Option<Spread>, Option<(f64, f64)>) {
        if self.paired {
            return match noise::paired_interval(b, c, self.opts.confidence, family) {
                Some((s, ci)) => (Some(s), Some(ci)),
                None => (None, None),
            };
        }
        let spread = noise::pooled(&[b, c, m]);
        let ci = noise::interval(b, c, spread.as_ref(), self.opts.confidence, family);
        (spread, ci)
    }
}

/// The verdict, and a note when the noise is unknown: with no interval a share is
/// judged on its point change (a failed share that appears is not run-to-run noise), a
/// change far beyond any plausible noise at p50/p90 is called, the rest inconclusive.
fn verdict_of(
    p: &Planned,
    est: f64,
    ci_w: Option<(f64, f64)>,
    change: f64,
    (b, c): (&[f64], &[f64]),
) -> (Change, Option<String>) {
    if ci_w.is_some() || p.unit == Unit::Share {
        return (judge(est, ci_w, p.floor), None);
    }
    let ratio = change + 1.0;
    let apart = (untransform_mean(p.unit, noise::mean(c)) - untransform_mean(p.unit, noise::mean(b))).abs();
    let gross = (ratio >= noise::GROSS_RATIO || ratio <= 1.0 / noise::GROSS_RATIO)
        && (p.unit != Unit::Ns || apart >= noise::GROSS_MIN_NS);
    if gross && ["p50", "p90", "ok/s"].contains(&p.key.stat.as_str()) {
        let note = format!(
            "beyond any plausible between-run noise ({}x), though it is unmeasured",
            noise::GROSS_RATIO
        );
        (judge(est, None, p.floor), Some(note))
    } else {
        let note = "between-run noise unknown: give 2+ runs per side or a history".to_string();
        (Change::Inconclusive, Some(note))
    }
}

/// What a judged row means for the gate.
fn gate_of(p: &Planned, verdict: Change, est: f64, ci_w: Option<(f64, f64)>) -> Gate {
    if !p.gated {
        Gate::Pass
    } else if ci_w.is_none() && p.unit != Unit::Share {
        match verdict {
            Change::Slower => Gate::Regression,
            _ if est > p.limit.unwrap_or(p.floor) => Gate::Inconclusive,
            _ => Gate::Pass,
        }
    } else {
        gate(verdict, est, ci_w, p.floor, p.limit)
    }
}

/// A (workload, stage) only one side has: an inconclusive gated row, never skipped.
fn missing_row((workload, stage, in_base): (String, String, bool)) -> Row {
    Row {
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
    }
}

fn scenario_notes(base: &Side, cand: &Side, notes: &mut Vec<String>) {
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
}

/// Where the between-run noise came from, in words.
fn noise_source(base: &Side, cand: &Side, model: Option<&NoiseModel>) -> String {
    let mut from = Vec::new();
    if base.runs.len() >= 2 || cand.runs.len() >= 2 {
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
}
