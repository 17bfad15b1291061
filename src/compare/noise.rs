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

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A change this large (a ratio of 2 or 1/2) at p50 or p90 is called even when the
/// between-run noise is unknown: no A/A pair seen here moved a median by a fifth of it.
pub const GROSS_RATIO: f64 = 2.0;

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
}
