//! Capacity as an interval: the rate at which a run passes half the time, from every
//! counted step's pass or fail, with a 95% profile-likelihood interval.
//!
//! The model is a logistic curve in log-rate, P(pass at r) = 1 / (1 + exp((ln r - ln C)
//! / s)): C is the capacity, s how gradually a target goes from passing to failing (its
//! run-to-run noise). Profile likelihood rather than a bootstrap: a search's record is
//! usually perfectly separated (every run below some rate passed, every run above
//! failed), where the fitted s goes to 0 and a bootstrap of the same few steps only
//! returns the bracket again; the profile still says how many runs pin each side (a
//! boundary passed twice is weaker evidence than one passed three times) and widens
//! when runs near the boundary disagree. The grid search needs no optimiser and cannot
//! fail to converge.

use serde::{Deserialize, Serialize};

/// Half the 95% point of chi-square with one degree of freedom: the likelihood-ratio
/// drop that bounds the interval.
const CHI2_95_HALF: f64 = 1.920_729;

/// The grid in log-rate: 0.1% steps between half the lowest and twice the highest rate.
const LOG_STEP: f64 = 0.001;

/// The spreads s tried, from a step function (1e-4 in log-rate) to a curve that takes a
/// factor of e to go from 27% to 73% passing.
const SPREADS: usize = 40;

/// The capacity and its interval, as capacity.json holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityInterval {
    /// The rate a run passes half the time (in a flat stretch of the likelihood, the
    /// geometric middle of the rates the record cannot tell apart).
    pub rate: f64,
    /// The interval's ends; `None` where the record does not bound it (no step failed,
    /// or none passed).
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// 0.95.
    pub level: f64,
    /// The larger distance from `rate` to an end, as a share of `rate` (None: unbounded).
    pub half_width: Option<f64>,
    /// Counted runs it rests on.
    pub runs: usize,
    pub method: String,
}

impl CapacityInterval {
    /// "1250/s, 95% interval [1195, 1275] (±4.4%)".
    pub fn text(&self) -> String {
        let end = |v: Option<f64>, none: &str| v.map_or(none.to_string(), |v| format!("{v:.0}"));
        let hw = self
            .half_width
            .map_or(String::from("unbounded"), |h| format!("±{:.1}%", h * 100.0));
        format!(
            "{:.0}/s, {:.0}% interval [{}, {}] ({hw})",
            self.rate,
            self.level * 100.0,
            end(self.lo, "?"),
            end(self.hi, "no failing step")
        )
    }
}

fn log_sigmoid(x: f64) -> f64 {
    // ln(1 / (1 + e^-x)), stable both ways.
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// The log-likelihood of the record at capacity `ln_c` and spread `s`.
fn log_lik(runs: &[(f64, bool)], ln_c: f64, s: f64) -> f64 {
    runs.iter()
        .map(|&(ln_r, passed)| {
            let z = (ln_c - ln_r) / s;
            if passed {
                log_sigmoid(z)
            } else {
                log_sigmoid(-z)
            }
        })
        .sum()
}

/// The interval from a search's steps: every counted one (set-aside runs decided nothing).
pub fn of_steps(steps: &[super::Step]) -> Option<CapacityInterval> {
    let runs: Vec<(f64, bool)> = steps
        .iter()
        .filter(|s| s.set_aside.is_none())
        .map(|s| (s.rate, s.passed))
        .collect();
    estimate(&runs)
}

/// The interval from counted runs (rate, passed); `None` without any run.
pub fn estimate(runs: &[(f64, bool)]) -> Option<CapacityInterval> {
    let runs: Vec<(f64, bool)> = runs
        .iter()
        .filter(|(r, _)| *r > 0.0 && r.is_finite())
        .map(|&(r, p)| (r.ln(), p))
        .collect();
    let lo_r = runs.iter().map(|r| r.0).min_by(f64::total_cmp)?;
    let hi_r = runs.iter().map(|r| r.0).max_by(f64::total_cmp)?;
    let (from, to) = (lo_r - 2f64.ln(), hi_r + 2f64.ln());
    let cells = ((to - from) / LOG_STEP).ceil() as usize + 1;
    let spreads: Vec<f64> = (0..SPREADS)
        .map(|i| (1e-4f64.ln() + (i as f64) * (-(1e-4f64.ln())) / (SPREADS - 1) as f64).exp())
        .collect();
    let profile: Vec<(f64, f64)> = (0..cells)
        .map(|i| {
            let ln_c = from + i as f64 * LOG_STEP;
            let best = spreads
                .iter()
                .map(|&s| log_lik(&runs, ln_c, s))
                .fold(f64::NEG_INFINITY, f64::max);
            (ln_c, best)
        })
        .collect();
    let top = profile.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let near_top: Vec<f64> = profile.iter().filter(|p| p.1 >= top - 1e-9).map(|p| p.0).collect();
    let inside: Vec<f64> = profile
        .iter()
        .filter(|p| p.1 >= top - CHI2_95_HALF)
        .map(|p| p.0)
        .collect();
    let mid = (near_top.first()? + near_top.last()?) / 2.0;
    let rate = mid.exp();
    // An end at the grid's edge is no end: the record does not bound that side.
    let lo = inside.first().filter(|&&v| v > from + LOG_STEP).map(|v| v.exp());
    let hi = inside.last().filter(|&&v| v < to - LOG_STEP).map(|v| v.exp());
    let half_width = match (lo, hi) {
        (Some(l), Some(h)) => Some(((rate - l).max(h - rate)) / rate),
        _ => None,
    };
    Some(CapacityInterval {
        rate,
        lo,
        hi,
        level: 0.95,
        half_width,
        runs: runs.len(),
        method: "profile likelihood of a logistic pass/fail curve in log-rate, every counted step".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_separated_record_bounds_capacity_between_its_third_runs_from_the_boundary() {
        // Passes below 2,000, fails above; each boundary run twice.
        let runs = [
            (300.0, true),
            (600.0, true),
            (1200.0, true),
            (2400.0, false),
            (1800.0, true),
            (2100.0, false),
            (1950.0, true),
            (2025.0, false),
            (1950.0, true),
            (2025.0, false),
        ];
        let c = estimate(&runs).expect("interval");
        assert!(c.rate > 1950.0 && c.rate < 2025.0, "{c:?}");
        let (lo, hi) = (c.lo.expect("lo"), c.hi.expect("hi"));
        // Two passes at 1,950 are not enough to rule out a capacity just below it.
        assert!((1790.0..1950.0).contains(&lo), "{c:?}");
        assert!(hi > 2025.0 && hi <= 2110.0, "{c:?}");
        // A third agreeing run at each boundary narrows it to the bracket.
        let mut more = runs.to_vec();
        more.extend([(1950.0, true), (2025.0, false)]);
        let d = estimate(&more).expect("interval");
        assert!(d.lo.expect("lo") >= 1945.0 && d.hi.expect("hi") <= 2030.0, "{d:?}");
        assert!(d.half_width.expect("bounded") < c.half_width.expect("bounded"));
    }

    #[test]
    fn disagreeing_runs_widen_it_and_a_one_sided_record_leaves_it_open() {
        let clean = [
            (1900.0, true),
            (1900.0, true),
            (1900.0, true),
            (2100.0, false),
            (2100.0, false),
            (2100.0, false),
        ];
        let noisy = [
            (1900.0, true),
            (1900.0, false),
            (1900.0, true),
            (2100.0, false),
            (2100.0, true),
            (2100.0, false),
        ];
        let (c, n) = (estimate(&clean).expect("c"), estimate(&noisy).expect("n"));
        assert!(n.lo.unwrap_or(0.0) < c.lo.expect("lo"), "{c:?} {n:?}");
        assert!(n.hi.unwrap_or(f64::INFINITY) > c.hi.expect("hi"), "{c:?} {n:?}");
        let passing = estimate(&[(1000.0, true), (2000.0, true), (4000.0, true)]).expect("p");
        assert_eq!((passing.hi, passing.half_width), (None, None), "{passing:?}");
        assert!(passing.text().contains("no failing step"), "{}", passing.text());
    }
}
