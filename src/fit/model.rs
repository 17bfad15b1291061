//! The fits: a topic window's records as a workload. Each fit says how well it fits,
//! and the scenario's header carries it.

use std::collections::BTreeMap;

/// One seed Event as the fit reads it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The record's timestamp, ms since the epoch.
    pub ts_ms: i64,
    pub aggregate_id: i64,
    /// The event's data, decoded: its size and how many of its bytes are zero.
    pub size: u64,
    pub zeros: u64,
    pub action: String,
    pub user: u128,
}

/// The arrival rate over time: the buckets' rates, and the few points of a `curve`
/// phase that follow them.
#[derive(Debug, Clone)]
pub struct RateCurve {
    pub bucket_s: f64,
    /// Per bucket, events per second.
    pub rates: Vec<f64>,
    /// (seconds from the window's start, rate): the simplified curve.
    pub points: Vec<(f64, f64)>,
    /// The largest gap between a bucket's rate and the curve at its middle, as a share
    /// of the mean rate.
    pub max_error: f64,
    /// Variance over mean of per-second counts around the curve: 1 for Poisson
    /// arrivals, near 0 for evenly spaced ones, well over 1 for bursts.
    pub dispersion: f64,
}

/// Per-bucket rates of `ts_ms` (sorted) from the first record on, simplified to at most
/// `max_points` points.
pub fn rate_curve(ts_ms: &[i64], bucket_s: f64, max_points: usize) -> Option<RateCurve> {
    let (first, last) = (*ts_ms.first()?, *ts_ms.last()?);
    let span_s = ((last - first) as f64 / 1000.0).max(bucket_s);
    let n = (span_s / bucket_s).ceil().max(1.0) as usize;
    let mut counts = vec![0u64; n];
    for t in ts_ms {
        let i = (((t - first) as f64 / 1000.0) / bucket_s) as usize;
        counts[i.min(n - 1)] += 1;
    }
    let rates: Vec<f64> = counts.iter().map(|c| *c as f64 / bucket_s).collect();
    // Each bucket's rate at its middle, then the fewest points that follow them.
    let mut mids: Vec<(f64, f64)> = rates
        .iter()
        .enumerate()
        .map(|(i, r)| ((i as f64 + 0.5) * bucket_s, *r))
        .collect();
    // A curve starts at 0 and here ends with the window: the first and last buckets'
    // rates hold to the ends.
    mids.insert(0, (0.0, rates[0]));
    mids.push((n as f64 * bucket_s, rates[n - 1]));
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let points = simplify(&mids, max_points.max(2));
    let max_error = mids
        .iter()
        .map(|(t, r)| (at(&points, *t) - r).abs() / mean.max(1e-9))
        .fold(0.0, f64::max);
    let dispersion = dispersion(ts_ms, first);
    Some(RateCurve {
        bucket_s,
        rates,
        points,
        max_error,
        dispersion,
    })
}

/// The curve's rate at `t` (linear between points, flat past the ends).
pub fn at(points: &[(f64, f64)], t: f64) -> f64 {
    match points.iter().position(|p| p.0 >= t) {
        None => points.last().map_or(0.0, |p| p.1),
        Some(0) => points[0].1,
        Some(i) => {
            let ((t0, r0), (t1, r1)) = (points[i - 1], points[i]);
            r0 + (r1 - r0) * (t - t0) / (t1 - t0).max(1e-12)
        }
    }
}

/// Ramer-Douglas-Peucker down to at most `max` points: the point farthest from the
/// line through its neighbours is kept first.
fn simplify(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let mut keep = vec![0, points.len() - 1];
    while keep.len() < max {
        let mut best: Option<(f64, usize)> = None;
        for w in keep.windows(2) {
            let (a, b) = (points[w[0]], points[w[1]]);
            for (i, p) in points.iter().enumerate().take(w[1]).skip(w[0] + 1) {
                let line = a.1 + (b.1 - a.1) * (p.0 - a.0) / (b.0 - a.0).max(1e-12);
                let d = (p.1 - line).abs();
                if best.is_none_or(|(bd, _)| d > bd) {
                    best = Some((d, i));
                }
            }
        }
        let Some((_, i)) = best else { break };
        let at = keep.partition_point(|k| *k < i);
        keep.insert(at, i);
    }
    keep.iter().map(|i| points[*i]).collect()
}

/// Variance over mean of whole seconds' counts, each against the mean of its two
/// neighbours (a local line, so a ramp or a curve's bend is not counted as spread): for
/// Poisson arrivals that difference has variance 1.5 times the mean.
fn dispersion(ts_ms: &[i64], first: i64) -> f64 {
    let last = ts_ms.last().copied().unwrap_or(first);
    let seconds = ((last - first) / 1000) as usize;
    if seconds < 3 {
        return 1.0;
    }
    let mut counts = vec![0f64; seconds];
    for t in ts_ms {
        if let Some(c) = counts.get_mut(((t - first) / 1000) as usize) {
            *c += 1.0;
        }
    }
    let (mut sq, mut total) = (0.0, 0.0);
    for w in counts.windows(3) {
        sq += (w[1] - (w[0] + w[2]) / 2.0).powi(2);
        total += w[1];
    }
    sq / (1.5 * total.max(1e-9))
}

/// A Zipf fit of how often each aggregate came: the exponent by maximum likelihood over
/// frequency ranks 1..=n, and the largest gap between the observed and fitted
/// cumulative shares (Kolmogorov-Smirnov) as its quality.
#[derive(Debug, Clone, Copy)]
pub struct ZipfFit {
    pub exponent: f64,
    pub ids: usize,
    pub ks: f64,
}

pub fn zipf(counts: &BTreeMap<i64, u64>) -> Option<ZipfFit> {
    let mut by_rank: Vec<u64> = counts.values().copied().filter(|c| *c > 0).collect();
    by_rank.sort_unstable_by(|a, b| b.cmp(a));
    let n = by_rank.len();
    let total: u64 = by_rank.iter().sum();
    if n < 2 || total == 0 {
        return None;
    }
    let sum_log: f64 = by_rank
        .iter()
        .enumerate()
        .map(|(i, c)| *c as f64 * ((i + 1) as f64).ln())
        .sum();
    let harmonic = |s: f64| (1..=n).map(|k| (k as f64).powf(-s)).sum::<f64>();
    let loglik = |s: f64| -s * sum_log - total as f64 * harmonic(s).ln();
    // Golden-section search: the log-likelihood is concave in s.
    let (mut lo, mut hi) = (1e-3, 6.0);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..100 {
        let (a, b) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if loglik(a) < loglik(b) {
            lo = a;
        } else {
            hi = b;
        }
    }
    let s = (lo + hi) / 2.0;
    let h = harmonic(s);
    let (mut seen, mut fitted, mut ks) = (0.0, 0.0, 0.0f64);
    for (i, c) in by_rank.iter().enumerate() {
        seen += *c as f64 / total as f64;
        fitted += ((i + 1) as f64).powf(-s) / h;
        ks = ks.max((seen - fitted).abs());
    }
    Some(ZipfFit {
        exponent: s,
        ids: n,
        ks,
    })
}

/// A lognormal fit of the payload sizes (median and p99 from the log sizes' mean and
/// spread), with the observed median and p99 to judge it by.
#[derive(Debug, Clone, Copy)]
pub struct SizeFit {
    pub median: f64,
    pub p99: f64,
    pub observed_p50: u64,
    pub observed_p99: u64,
}

pub fn sizes(sizes: &[u64]) -> Option<SizeFit> {
    let mut v: Vec<u64> = sizes.iter().copied().filter(|s| *s > 0).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let q = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    let logs: Vec<f64> = v.iter().map(|s| (*s as f64).ln()).collect();
    let mu = logs.iter().sum::<f64>() / logs.len() as f64;
    let var = logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / (logs.len().max(2) - 1) as f64;
    Some(SizeFit {
        median: mu.exp(),
        p99: (mu + 2.326_347_874 * var.sqrt()).exp(),
        observed_p50: q(0.5),
        observed_p99: q(0.99),
    })
}

impl SizeFit {
    /// The lognormal's median and p99 within 5% of the observed ones.
    pub fn lognormal_fits(&self) -> bool {
        let near = |fit: f64, seen: u64| (fit / seen.max(1) as f64 - 1.0).abs() <= 0.05;
        near(self.median, self.observed_p50) && near(self.p99, self.observed_p99)
    }
}

/// Sizes at the 5th, 15th, ..., 95th percentiles, equally weighted: the histogram written
/// when no lognormal fits.
pub fn size_deciles(sizes: &[u64]) -> Vec<u64> {
    let mut v: Vec<u64> = sizes.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return Vec::new();
    }
    (0..10)
        .map(|i| v[(((i as f64 + 0.5) / 10.0) * (v.len() - 1) as f64).round() as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::prelude::*;
    use rand_distr::Zipf;

    #[test]
    fn a_zipf_sample_s_exponent_comes_back_within_a_few_hundredths() {
        let mut rng = StdRng::seed_from_u64(7);
        let z = Zipf::new(100.0, 1.2).expect("zipf");
        let mut counts = BTreeMap::new();
        for _ in 0..50_000 {
            *counts.entry(z.sample(&mut rng) as i64).or_insert(0) += 1;
        }
        let fit = zipf(&counts).expect("a fit");
        assert!((fit.exponent - 1.2).abs() < 0.03, "{fit:?}");
        assert!(fit.ks < 0.02, "{fit:?}");
    }

    #[test]
    fn a_curve_s_buckets_come_back_as_its_few_points() {
        // 0..60 s ramping 100 -> 400/s, then flat: events evenly spaced.
        let mut ts = Vec::new();
        let mut t = 0.0f64;
        while t < 120.0 {
            ts.push((t * 1000.0) as i64);
            let rate = if t < 60.0 { 100.0 + 5.0 * t } else { 400.0 };
            t += 1.0 / rate;
        }
        let c = rate_curve(&ts, 5.0, 10).expect("curve");
        assert!(c.points.len() <= 10);
        assert!(c.max_error < 0.05, "{c:?}");
        assert!(c.dispersion < 0.2, "evenly spaced arrivals: {}", c.dispersion);
        assert!((at(&c.points, 90.0) - 400.0).abs() < 8.0);
        // Poisson arrivals along the same curve: about 1.
        let mut rng = StdRng::seed_from_u64(5);
        let (mut ts, mut t) = (Vec::new(), 0.0f64);
        while t < 120.0 {
            ts.push((t * 1000.0) as i64);
            let rate = if t < 60.0 { 100.0 + 5.0 * t } else { 400.0 };
            t += rand_distr::Exp::new(rate).expect("exp").sample(&mut rng);
        }
        let d = rate_curve(&ts, 5.0, 10).expect("curve").dispersion;
        assert!((0.7..1.3).contains(&d), "Poisson arrivals: {d}");
    }

    #[test]
    fn sizes_fit_a_lognormal_or_say_they_do_not() {
        let mut rng = StdRng::seed_from_u64(3);
        let ln = rand_distr::LogNormal::new((512f64).ln(), 0.6).expect("lognormal");
        let v: Vec<u64> = (0..20_000).map(|_| ln.sample(&mut rng) as u64).collect();
        let f = sizes(&v).expect("fit");
        assert!(f.lognormal_fits(), "{f:?}");
        let two = [vec![100u64; 500], vec![10_000u64; 500]].concat();
        assert!(!sizes(&two).expect("fit").lognormal_fits());
        assert_eq!(size_deciles(&two).len(), 10);
    }
}
