//! Between-run noise: how much one statistic of one scenario moves from run to run of
//! the same build on the same kind of machine, and the test a change must pass to be
//! more than that.
//!
//! Runs of one build differ by more than the intervals of one run do (host state,
//! neighbours, page cache, which core a thread lands on): on this project's 2-vCPU VM
//! the in-process pipeline's e2e p50 moved -18%..+17% between A/A runs while each run's
//! own interval said +-3%. So a change is judged against the spread of *runs*: each
//! run gives one value per statistic, the spread comes from the sides' own runs (a side
//! of two or more) and from a history of the baseline (the noise model), and a change
//! counts only beyond a t-interval of that spread. With neither there is no noise to
//! judge against, and only a change far beyond anything plausible (2x at p50/p90) is
//! called.

use crate::report::values::RunValues;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A change this large (a ratio of 2 or 1/2) at p50 or p90 is called even when the
/// between-run noise is unknown: no A/A pair seen here moved a median by a fifth of it.
pub const GROSS_RATIO: f64 = 2.0;

/// ... and only when it is also this many ns: a stage of microseconds (the memory
/// log's produce, 1.5 us) doubles from one run of a build to the next on this VM, whose
/// thread wake-ups alone overshoot by tens of microseconds (an A/A pair in CI: 1.46 us
/// to 3.48 us, called `slower`).
pub const GROSS_MIN_NS: f64 = 100_000.0;

/// What a row's judgement rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// Standard deviation of one run's value (in log space for ratios).
    pub sd: f64,
    /// Degrees of freedom behind it.
    pub dof: usize,
}

/// The pooled spread of the sides with two or more runs and of the noise model's runs.
pub fn pooled(groups: &[&[f64]]) -> Option<Spread> {
    let (mut ss, mut dof) = (0.0, 0usize);
    for g in groups.iter().filter(|g| g.len() >= 2) {
        let m = mean(g);
        ss += g.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
        dof += g.len() - 1;
    }
    (dof > 0).then(|| Spread {
        sd: (ss / dof as f64).sqrt(),
        dof,
    })
}

/// A candidate run is held by its host when its own schedule-lag p99 is over this
/// many times the baseline runs' median ...
pub const HELD_FACTOR: f64 = 3.0;
/// ... and over this (ns): below a millisecond a lag is the platform's floor here.
pub const HELD_FLOOR_NS: f64 = 1e6;

/// A candidate run left out as held.
#[derive(Debug, Clone)]
pub struct Held {
    pub name: String,
    pub lag_ns: f64,
    pub baseline_ns: f64,
}

/// The lag above which a run of either side was held by its host: over
/// [`HELD_FACTOR`] times the baseline runs' median schedule-lag p99 and over
/// [`HELD_FLOOR_NS`]; with the median. `None` when the baseline runs carry no lag
/// (older summaries and histories).
///
/// The harness's own lag does not follow the target's speed (workers start on demand,
/// the schedule is open), so a run whose lag jumped says the machine was not the same
/// machine during it (the A/A runs that showed it: docs/PERFORMANCE.md, "held").
pub fn held_bound(base: &super::Side) -> Option<(f64, f64)> {
    let lags: Vec<f64> = base.runs.iter().flat_map(|r| r.lag_p99.values().copied()).collect();
    if lags.is_empty() {
        return None;
    }
    let m = median(&lags);
    Some((m, (HELD_FACTOR * m).max(HELD_FLOOR_NS)))
}

/// A side without the runs over the held bound, and those runs.
pub fn split_held(side: &super::Side, median_ns: f64, bound_ns: f64) -> (super::Side, Vec<Held>) {
    let mut kept = super::Side {
        runs: Vec::new(),
        names: Vec::new(),
        ..side.clone()
    };
    let mut held = Vec::new();
    for (i, r) in side.runs.iter().enumerate() {
        let name = side.names.get(i).cloned().unwrap_or_else(|| format!("#{}", i + 1));
        match r.lag_p99.values().copied().reduce(f64::max) {
            Some(lag) if lag > bound_ns => held.push(Held {
                name,
                lag_ns: lag,
                baseline_ns: median_ns,
            }),
            _ => {
                kept.runs.push(r.clone());
                kept.names.push(name);
            }
        }
    }
    (kept, held)
}

/// A run of a small side was held by its host when its hiccup meter's p99, or its own
/// schedule lag p99, is over [`HELD_FACTOR`] times the other side's median and over
/// [`HELD_FLOOR_NS`]: the platform beside the target, not the target, was different.
/// One run a side can shed nothing, so such a run decides nothing, baseline or
/// candidate alike. Returns each held run's index, and its name with the evidence.
pub fn held_by_host(side: &super::Side, other: &super::Side, label: &str) -> Vec<(usize, String)> {
    let med = |f: &dyn Fn(&RunValues) -> Option<f64>| {
        let v: Vec<f64> = other.runs.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| median(&v))
    };
    let lag = |r: &RunValues| r.lag_p99.values().copied().reduce(f64::max);
    let hiccup = |r: &RunValues| r.hiccup_p99;
    let (other_lag, other_hiccup) = (med(&lag), med(&hiccup));
    let over = |v: Option<f64>, m: Option<f64>| match (v, m) {
        (Some(v), Some(m)) => v > (HELD_FACTOR * m).max(HELD_FLOOR_NS),
        _ => false,
    };
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| crate::units::fmt_ns(v as u64));
    side.runs
        .iter()
        .enumerate()
        .filter(|(_, r)| over(hiccup(r), other_hiccup) || over(lag(r), other_lag))
        .map(|(i, r)| {
            let name = side.names.get(i).cloned().unwrap_or_else(|| format!("#{}", i + 1));
            let why = format!(
                "{label} run {name}: hiccup p99 {} against the other side's {}, schedule lag p99 {} against {}{}",
                ms(hiccup(r)),
                ms(other_hiccup),
                ms(lag(r)),
                ms(other_lag),
                r.others_cores
                    .map_or(String::new(), |c| format!(", other processes and steal {c:.2} cores"))
            );
            (i, why)
        })
        .collect()
}

/// Below this many runs a side's outliers cannot be told from its spread.
pub const OUTLIER_MIN_RUNS: usize = 5;
/// Iglewicz and Hoaglin's cut-off for the modified z-score, 0.6745 (x - median) / MAD.
pub const OUTLIER_Z: f64 = 3.5;

/// The runs of a side (five or more) without its outliers, and how many were left out.
///
/// One run the host held is not the build's noise, and the sample standard deviation
/// has no defence against it (one such run hid a 10% slower store for ten rounds:
/// docs/PERFORMANCE.md); the median and the median absolute deviation do, and a run
/// beyond 3.5 of their modified z-scores (Iglewicz and Hoaglin's rule) is left out of
/// the mean and the spread. Never more than a fifth of the runs: past that, the spread
/// is the noise.
pub fn without_outliers(v: &[f64]) -> (Vec<f64>, usize) {
    if v.len() < OUTLIER_MIN_RUNS {
        return (v.to_vec(), 0);
    }
    let med = median(v);
    let mad = median(&v.iter().map(|x| (x - med).abs()).collect::<Vec<_>>());
    if mad <= 0.0 {
        return (v.to_vec(), 0);
    }
    let z = |x: f64| 0.6745 * (x - med).abs() / mad;
    let mut far: Vec<(f64, usize)> = v
        .iter()
        .enumerate()
        .map(|(i, x)| (z(*x), i))
        .filter(|(z, _)| *z > OUTLIER_Z)
        .collect();
    far.sort_by(|a, b| b.0.total_cmp(&a.0));
    far.truncate(v.len() / 5);
    let out: Vec<f64> = v
        .iter()
        .enumerate()
        .filter(|(i, _)| !far.iter().any(|(_, j)| j == i))
        .map(|(_, x)| *x)
        .collect();
    (out, far.len())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.iter().sum::<f64>() / v.len() as f64
}

/// The two-sided interval of `mean(cand) - mean(base)` at `confidence`, Bonferroni-held
/// over `family` rows: `None` when the spread is unknown.
pub fn interval(
    base: &[f64],
    cand: &[f64],
    spread: Option<&Spread>,
    confidence: f64,
    family: usize,
) -> Option<(f64, f64)> {
    let s = spread?;
    if base.is_empty() || cand.is_empty() {
        return None;
    }
    let d = mean(cand) - mean(base);
    let se = s.sd * (1.0 / base.len() as f64 + 1.0 / cand.len() as f64).sqrt();
    let alpha = (1.0 - confidence) / family.max(1) as f64;
    let t = StudentsT::new(0.0, 1.0, s.dof as f64)
        .map(|t| t.inverse_cdf(1.0 - alpha / 2.0))
        .unwrap_or(f64::INFINITY);
    Some((d - t * se, d + t * se))
}

/// The spread of the pairs' differences and the two-sided interval of their mean at
/// `confidence`, Bonferroni-held over `family` rows. `None` below two pairs.
pub fn paired_interval(base: &[f64], cand: &[f64], confidence: f64, family: usize) -> Option<(Spread, (f64, f64))> {
    if base.len() != cand.len() || base.len() < 2 {
        return None;
    }
    let d: Vec<f64> = cand.iter().zip(base).map(|(c, b)| c - b).collect();
    let m = mean(&d);
    let n = d.len();
    let sd = (d.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64).sqrt();
    let alpha = (1.0 - confidence) / family.max(1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|t| t.inverse_cdf(1.0 - alpha / 2.0))
        .unwrap_or(f64::INFINITY);
    let se = sd / (n as f64).sqrt();
    Some((Spread { sd, dof: n - 1 }, (m - t * se, m + t * se)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_spread_and_a_t_interval() {
        let a = [0.0, 0.02, -0.02];
        let b = [0.10, 0.12, 0.08];
        let s = pooled(&[&a, &b]).expect("spread");
        assert_eq!(s.dof, 4);
        assert!((s.sd - 0.02).abs() < 1e-12, "{s:?}");
        let (lo, hi) = interval(&a, &b, Some(&s), 0.95, 1).expect("interval");
        // d = 0.10, se = 0.02 * sqrt(2/3), t(4, 0.975) = 2.776.
        assert!((lo - (0.10 - 2.776 * 0.01633)).abs() < 1e-3 && hi > 0.12, "{lo} {hi}");
        // Held over a family of 10 rows the interval is wider.
        let (lo10, _) = interval(&a, &b, Some(&s), 0.95, 10).expect("interval");
        assert!(lo10 < lo);
        assert_eq!(pooled(&[&[1.0], &[2.0]]), None, "one run per side: no spread");
        assert_eq!(interval(&a, &b, None, 0.95, 1), None);
    }

    #[test]
    fn one_held_run_is_left_out_of_a_history_and_a_spread_is_not() {
        // Ten runs 2-4% apart and one the host held, +24%.
        let runs = [0.0, 0.02, -0.03, 0.01, 0.03, -0.02, 0.015, -0.01, 0.005, 0.24];
        let (kept, dropped) = without_outliers(&runs);
        assert_eq!((kept.len(), dropped), (9, 1));
        assert!(!kept.contains(&0.24));
        let sd = pooled(&[&kept]).expect("spread").sd;
        assert!(sd < 0.025, "{sd}");
        // A spread that is the noise keeps every run.
        let wide = [0.0, 0.1, -0.1, 0.05, -0.05, 0.08, -0.08, 0.02];
        assert_eq!(without_outliers(&wide).1, 0);
        // Too few runs to tell.
        assert_eq!(without_outliers(&[0.0, 0.01, 0.5]).1, 0);
        // Never more than a fifth.
        let many = [0.0, 0.0, 0.01, 0.0, 0.01, 1.0, 2.0, 3.0, 0.0, 0.01];
        assert_eq!(without_outliers(&many).1, 2);
    }
}
