//! Change points in a series of runs: E-divisive means (Matteson & James, 2014), as
//! MongoDB's performance CI and Apache Otava (formerly Hunter) use it: binary segmentation
//! on the energy statistic, each candidate split kept only when a permutation test finds
//! it significant. Written here (~100 lines) because the one Rust port, `edivisive` 0.1.0,
//! is a single 2021 release with some 40K lines of dependencies.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A significant change between runs `index - 1` and `index`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChangePoint {
    /// The first run after the change.
    pub index: usize,
    /// The permutation test's p-value.
    pub p_value: f64,
    /// Mean of the segment before and after it.
    pub before: f64,
    pub after: f64,
}

/// Settings of the search.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A split is kept when its p-value is below this.
    pub alpha: f64,
    pub permutations: usize,
    /// The fewest runs on either side of a split.
    pub min_size: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            alpha: 0.01,
            permutations: 499,
            min_size: 4,
        }
    }
}

/// The best split of `x` and its statistic: (index, q).
fn best_split(x: &[f64], min: usize) -> Option<(usize, f64)> {
    let n = x.len();
    if n < 2 * min {
        return None;
    }
    let d = |i: usize, j: usize| (x[i] - x[j]).abs();
    let total: f64 = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| d(i, j))
        .sum();
    // within_left[t]: pairs inside x[..t]; within_right[t]: pairs inside x[t..].
    let mut left = vec![0.0; n + 1];
    for t in 1..n {
        left[t + 1] = left[t] + (0..t).map(|i| d(i, t)).sum::<f64>();
    }
    let mut right = vec![0.0; n + 1];
    for t in (0..n.saturating_sub(1)).rev() {
        right[t] = right[t + 1] + (t + 1..n).map(|j| d(t, j)).sum::<f64>();
    }
    let pairs = |k: usize| (k * k.saturating_sub(1)) as f64 / 2.0;
    (min..=n - min)
        .map(|t| {
            let (m, k) = (t as f64, (n - t) as f64);
            let between = total - left[t] - right[t];
            let e = 2.0 * between / (m * k) - left[t] / pairs(t).max(1.0) - right[t] / pairs(n - t).max(1.0);
            (t, m * k / (m + k) * e)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

/// The change points of `series`, in order.
pub fn change_points(series: &[f64], opts: Options, seed: u64) -> Vec<ChangePoint> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut todo = vec![(0, series.len())];
    while let Some((from, to)) = todo.pop() {
        let seg = &series[from..to];
        let Some((t, q)) = best_split(seg, opts.min_size) else {
            continue;
        };
        let mut shuffled = seg.to_vec();
        let mut at_least = 0;
        for _ in 0..opts.permutations {
            shuffled.shuffle(&mut rng);
            if best_split(&shuffled, opts.min_size).is_some_and(|(_, qp)| qp >= q) {
                at_least += 1;
            }
        }
        let p = (at_least + 1) as f64 / (opts.permutations + 1) as f64;
        if p < opts.alpha {
            out.push(ChangePoint {
                index: from + t,
                p_value: p,
                before: mean(&seg[..t]),
                after: mean(&seg[t..]),
            });
            todo.push((from, from + t));
            todo.push((from + t, to));
        }
    }
    out.sort_by_key(|c| c.index);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// 60 runs with 5% noise, stepping +15% at run 30 (or not at all).
    fn series(rng: &mut SmallRng, step: bool) -> Vec<f64> {
        (0..60)
            .map(|i| {
                let level = if step && i >= 30 { 1.15 } else { 1.0 };
                // A normal by Box-Muller, 5% of the level.
                let (u, v): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
                let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                level * (1.0 + 0.05 * z)
            })
            .collect()
    }

    #[test]
    fn a_known_step_is_found_where_it_is_and_noise_alone_is_not_a_change() {
        let mut rng = SmallRng::seed_from_u64(2026);
        let mut found = 0;
        for s in 0..20 {
            let cps = change_points(&series(&mut rng, true), Options::default(), s);
            if cps.iter().any(|c| (29..=31).contains(&c.index)) {
                found += 1;
            }
        }
        assert!(found >= 18, "the step at 30 found in {found} of 20 series");
        let mut false_alarms = 0;
        for s in 0..20 {
            false_alarms += change_points(&series(&mut rng, false), Options::default(), 100 + s).len();
        }
        assert!(false_alarms <= 1, "{false_alarms} change points in 20 step-free series");
    }
}
