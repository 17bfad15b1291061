//! The resampling behind compare's intervals.
//!
//! A run is a sequence of intervals whose latencies are autocorrelated (a slow stretch
//! spans several), and runs of one build differ from each other by more than their
//! intervals do (a neighbour's build, a GC, page cache). So one replicate of a side
//! resamples at both levels: runs with replacement, then within each picked run a
//! moving-block bootstrap of its intervals (blocks of about n^1/3 neighbours, so a
//! slow stretch is one piece of evidence, not many). With one run per side only the
//! second level exists, which is why compare keeps a noise floor for what it cannot see.

use rand::rngs::SmallRng;
use rand::Rng;

/// The percentiles compared, by name.
pub const STATS: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)];

/// Quantile of a sorted list of (value, count), HdrHistogram's rank rule.
pub fn quantile(sorted: &[(u64, u64)], total: u64, q: f64) -> u64 {
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

/// All STATS of the picked sparse interval histograms, merged. `buf` is reused
/// between replicates.
pub fn latency_stats(picked: &[&Vec<(u64, u64)>], buf: &mut Vec<(u64, u64)>) -> [f64; 4] {
    buf.clear();
    for i in picked {
        buf.extend_from_slice(i);
    }
    buf.sort_unstable_by_key(|p| p.0);
    let total = buf.iter().map(|p| p.1).sum();
    STATS.map(|(_, q)| quantile(buf, total, q) as f64)
}

/// One interval's outcome counts, for the throughput and error rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcomes {
    pub ok: u64,
    /// Errors and censored operations.
    pub failed: u64,
    pub length_s: f64,
}

/// [ok per second, failed share of outcomes] of the picked intervals.
pub fn outcome_stats(picked: &[&Outcomes]) -> [f64; 2] {
    let (ok, failed, len) = picked.iter().fold((0u64, 0u64, 0.0), |(o, f, l), i| {
        (o + i.ok, f + i.failed, l + i.length_s)
    });
    let rate = if len > 0.0 { ok as f64 / len } else { 0.0 };
    let share = if ok + failed > 0 {
        failed as f64 / (ok + failed) as f64
    } else {
        0.0
    };
    [rate, share]
}

/// `stat` of every interval of every run: the point estimate, from the same data the
/// replicates resample.
pub fn point<T, const K: usize>(runs: &[Vec<T>], mut stat: impl FnMut(&[&T]) -> [f64; K]) -> [f64; K] {
    let all: Vec<&T> = runs.iter().flatten().collect();
    stat(&all)
}

/// `reps` replicates of `stat` under the two-level bootstrap described above.
pub fn replicates<T, const K: usize>(
    runs: &[Vec<T>],
    reps: usize,
    rng: &mut SmallRng,
    mut stat: impl FnMut(&[&T]) -> [f64; K],
) -> Vec<[f64; K]> {
    let mut picked: Vec<&T> = Vec::new();
    (0..reps)
        .map(|_| {
            picked.clear();
            for _ in 0..runs.len() {
                let run = &runs[rng.random_range(0..runs.len())];
                let n = run.len();
                if n == 0 {
                    continue;
                }
                let block = ((n as f64).cbrt().round() as usize).clamp(1, n);
                let mut taken = 0;
                while taken < n {
                    let start = rng.random_range(0..=n - block);
                    for item in run.iter().skip(start).take(block.min(n - taken)) {
                        picked.push(item);
                    }
                    taken += block;
                }
            }
            stat(&picked)
        })
        .collect()
}

/// The `confidence` two-sided interval of `f(candidate, baseline)` over paired
/// replicates of the two sides (independent draws, paired by index). Replicates where
/// `f` is undefined (None) are left out.
pub fn interval(
    base: &[f64],
    cand: &[f64],
    confidence: f64,
    f: impl Fn(f64, f64) -> Option<f64>,
) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = base.iter().zip(cand).filter_map(|(b, c)| f(*c, *b)).collect();
    if v.len() < 20 {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    let at = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    Some((at(tail), at(1.0 - tail)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn quantiles_of_merged_sparse_histograms() {
        let a = vec![(10, 50), (20, 50)];
        let b = vec![(30, 100)];
        let mut buf = Vec::new();
        assert_eq!(latency_stats(&[&a, &b], &mut buf), [20.0, 30.0, 30.0, 30.0]);
        assert_eq!(quantile(&[(5, 1), (7, 3)], 4, 0.25), 5);
        assert_eq!(quantile(&[(5, 1), (7, 3)], 4, 0.26), 7);
    }

    /// One run of `intervals` intervals of `per` exponential samples (mean `scale`),
    /// bucketed to 1% so the sparse lists stay short, as a histogram's would.
    fn exp_run(rng: &mut SmallRng, intervals: usize, per: usize, scale: f64) -> Vec<Vec<(u64, u64)>> {
        (0..intervals)
            .map(|_| {
                let mut m = std::collections::BTreeMap::new();
                for _ in 0..per {
                    let u: f64 = rng.random_range(f64::EPSILON..1.0);
                    let x = -u.ln() * scale;
                    let bucket = (x.max(1.0).ln() * 100.0).round();
                    *m.entry((bucket / 100.0).exp().round() as u64).or_insert(0) += 1;
                }
                m.into_iter().collect()
            })
            .collect()
    }

    fn p50_interval(base: &[Vec<Vec<(u64, u64)>>], cand: &[Vec<Vec<(u64, u64)>>], rng: &mut SmallRng) -> (f64, f64) {
        let mut buf = Vec::new();
        let b = replicates(base, 400, rng, |p| latency_stats(p, &mut buf));
        let c = replicates(cand, 400, rng, |p| latency_stats(p, &mut buf));
        let (b0, c0): (Vec<f64>, Vec<f64>) = (b.iter().map(|r| r[0]).collect(), c.iter().map(|r| r[0]).collect());
        interval(&b0, &c0, 0.95, |c, b| (b > 0.0).then(|| c / b - 1.0)).expect("interval")
    }

    /// Against a known distribution: the exponential's median is scale x ln 2. Two
    /// samples of one distribution give intervals that cover 0 about 95% of the time
    /// (not 60%, which an interval that ignored the spread would); a known 20% shift is
    /// covered and 0 is not.
    #[test]
    fn the_bootstrap_interval_covers_the_true_change_at_its_confidence() {
        let mut rng = SmallRng::seed_from_u64(7);
        let (mut covered, trials) = (0, 60);
        for _ in 0..trials {
            let a = vec![exp_run(&mut rng, 12, 400, 1e6)];
            let b = vec![exp_run(&mut rng, 12, 400, 1e6)];
            let (lo, hi) = p50_interval(&a, &b, &mut rng);
            if lo <= 0.0 && 0.0 <= hi {
                covered += 1;
            }
        }
        assert!((52..=60).contains(&covered), "0 covered in {covered} of {trials}");

        let mut hits = 0;
        for _ in 0..20 {
            let a = vec![exp_run(&mut rng, 12, 400, 1e6)];
            let b = vec![exp_run(&mut rng, 12, 400, 1.2e6)];
            let (lo, hi) = p50_interval(&a, &b, &mut rng);
            if lo > 0.0 && lo <= 0.2 && 0.2 <= hi {
                hits += 1;
            }
        }
        assert!(hits >= 17, "+20% covered (and 0 excluded) in {hits} of 20");

        // The point estimate of the pooled sample is the distribution's median.
        let runs = vec![exp_run(&mut rng, 20, 2000, 1e6)];
        let mut buf = Vec::new();
        let p = point(&runs, |p| latency_stats(p, &mut buf));
        let median = 1e6 * std::f64::consts::LN_2;
        assert!((p[0] / median - 1.0).abs() < 0.03, "{} vs {median}", p[0]);
    }

    /// Runs that differ from each other widen a multi-run side's interval: the
    /// between-run spread is in it.
    #[test]
    fn the_between_run_spread_widens_the_interval() {
        let mut rng = SmallRng::seed_from_u64(11);
        let same: Vec<_> = (0..4).map(|_| exp_run(&mut rng, 10, 300, 1e6)).collect();
        let spread: Vec<_> = [0.85, 1.15, 0.9, 1.1]
            .iter()
            .map(|s| exp_run(&mut rng, 10, 300, 1e6 * s))
            .collect();
        let base: Vec<_> = (0..4).map(|_| exp_run(&mut rng, 10, 300, 1e6)).collect();
        let (a_lo, a_hi) = p50_interval(&base, &same, &mut rng);
        let (b_lo, b_hi) = p50_interval(&base, &spread, &mut rng);
        assert!(b_hi - b_lo > 1.5 * (a_hi - a_lo), "{a_lo}..{a_hi} vs {b_lo}..{b_hi}");
    }

    #[test]
    fn outcome_stats_are_rate_and_failed_share() {
        let a = Outcomes {
            ok: 90,
            failed: 10,
            length_s: 1.0,
        };
        let b = Outcomes {
            ok: 100,
            failed: 0,
            length_s: 1.0,
        };
        let s = outcome_stats(&[&a, &b]);
        assert_eq!(s[0], 95.0);
        assert!((s[1] - 0.05).abs() < 1e-12);
    }
}
