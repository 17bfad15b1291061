//! Bursts: stretches of whole seconds well above the rate around them, fitted as
//! `[[burst]]` multipliers over the curve. Each second is held against the median of
//! the seconds within [`HALF_WINDOW`] of it (a burst shorter than that does not move
//! the median; a ramp's median is its own middle, so a ramp is no burst), and a burst's
//! excess is thinned out of the timestamps the curve is fitted to, so the curve and the
//! bursts do not count it twice.

/// Seconds either side of a second that its baseline is the median of.
const HALF_WINDOW: usize = 15;
/// A second is in a burst at this many Poisson standard deviations above its baseline
/// and at least [`MIN_FACTOR`] times it.
const SIGMAS: f64 = 5.0;
const MIN_FACTOR: f64 = 1.5;
/// Shortest burst, in seconds (one loud second is noise or a hiccup).
const MIN_SECONDS: usize = 2;
/// Most bursts written.
const MAX_BURSTS: usize = 20;

/// One burst: from `at_s` (seconds from the window's first record) for `duration_s`,
/// the rate times `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    pub at_s: f64,
    pub duration_s: f64,
    pub factor: f64,
}

/// The bursts in `ts_ms` (sorted), and the timestamps with each burst's excess thinned
/// out (every record kept with probability 1 / factor, evenly).
pub fn bursts(ts_ms: &[i64]) -> (Vec<Burst>, Vec<i64>) {
    let Some(&first) = ts_ms.first() else {
        return (Vec::new(), Vec::new());
    };
    // Whole seconds only: the last one is cut short by the window's end.
    let seconds = ((ts_ms[ts_ms.len() - 1] - first) / 1000) as usize;
    let mut counts = vec![0f64; seconds];
    for t in ts_ms {
        if let Some(c) = counts.get_mut(((t - first) / 1000) as usize) {
            *c += 1.0;
        }
    }
    let base: Vec<f64> = (0..seconds)
        .map(|s| median(&counts[s.saturating_sub(HALF_WINDOW)..(s + HALF_WINDOW + 1).min(seconds)]))
        .collect();
    let loud = |s: usize| {
        let b = base[s];
        b > 0.0 && counts[s] >= b + (SIGMAS * b.sqrt()).max((MIN_FACTOR - 1.0) * b)
    };
    let mut found = Vec::new();
    let mut s = 0;
    while s < seconds && found.len() < MAX_BURSTS {
        let start = s;
        while s < seconds && loud(s) {
            s += 1;
        }
        if s - start >= MIN_SECONDS {
            let (c, b): (f64, f64) = (start..s)
                .map(|i| (counts[i], base[i]))
                .fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
            found.push(Burst {
                at_s: start as f64,
                duration_s: (s - start) as f64,
                factor: c / b,
            });
        }
        s = s.max(start + 1);
    }
    (found.clone(), thin(ts_ms, first, &found))
}

/// `ts_ms` with each burst's records kept one in `factor`, evenly.
fn thin(ts_ms: &[i64], first: i64, bursts: &[Burst]) -> Vec<i64> {
    let mut credit = vec![0f64; bursts.len()];
    ts_ms
        .iter()
        .copied()
        .filter(|t| {
            let at = (t - first) as f64 / 1000.0;
            match bursts.iter().position(|b| at >= b.at_s && at < b.at_s + b.duration_s) {
                None => true,
                Some(i) => {
                    credit[i] += 1.0 / bursts[i].factor;
                    let keep = credit[i] >= 1.0;
                    if keep {
                        credit[i] -= 1.0;
                    }
                    keep
                }
            }
        })
        .collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rate` per second, evenly, for `seconds`, from `from_s`.
    fn even(from_s: f64, seconds: f64, rate: f64) -> Vec<i64> {
        let n = (seconds * rate) as i64;
        (0..n).map(|i| ((from_s + i as f64 / rate) * 1000.0) as i64).collect()
    }

    #[test]
    fn a_burst_is_found_and_thinned_and_a_ramp_is_none() {
        let mut ts = even(0.0, 20.0, 100.0);
        ts.extend(even(20.0, 5.0, 300.0));
        ts.extend(even(25.0, 35.0, 100.0));
        let (found, thinned) = bursts(&ts);
        assert_eq!(found.len(), 1, "{found:?}");
        let b = found[0];
        assert_eq!((b.at_s, b.duration_s), (20.0, 5.0));
        assert!((b.factor - 3.0).abs() < 0.01, "{b:?}");
        assert_eq!(thinned.len(), 6000, "the burst's excess (1,000) thinned out");
        // A ramp from 50/s to 1000/s over 60 s: its own middle is each second's median.
        let ramp: Vec<i64> = (0..30_000i64)
            .map(|i| {
                (((2.0 * i as f64 / (950.0 / 60.0) + (50.0f64 / (950.0 / 60.0)).powi(2)).sqrt()
                    - 50.0 / (950.0 / 60.0))
                    * 1000.0) as i64
            })
            .collect();
        assert!(bursts(&ramp).0.is_empty());
    }
}
