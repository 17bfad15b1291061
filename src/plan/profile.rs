//! An open-model rate profile: piecewise-linear rate over time, and its inverse, so
//! the intended start of operation `i` is a closed-form function of `i`.

use serde::Serialize;

use crate::scenario::Phase;

/// A stretch of linearly changing rate.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct Segment {
    pub start_ns: u64,
    pub duration_ns: u64,
    pub from_rate: f64,
    pub to_rate: f64,
    /// Operations intended before this segment.
    #[serde(skip)]
    pub count_before: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.from_rate + self.to_rate) / 2.0 * self.duration_ns as f64 / 1e9
    }
}

/// Rate over run time.
#[derive(Debug, Clone, Serialize)]
pub struct RateProfile {
    pub segments: Vec<Segment>,
}

impl RateProfile {
    /// A constant rate for `duration_ns`.
    pub fn constant(rate: f64, duration_ns: u64) -> RateProfile {
        RateProfile::from_parts(vec![(duration_ns, rate, rate)])
    }

    /// The profile of a phase list, truncated at `limit_ns` when given.
    pub fn from_phases(phases: &[Phase], limit_ns: Option<u64>) -> RateProfile {
        let mut parts = Vec::new();
        for p in phases {
            match *p {
                Phase::Steady { duration, rate } => parts.push((duration.as_nanos(), rate, rate)),
                Phase::Ramp { duration, from, to } => parts.push((duration.as_nanos(), from, to)),
                Phase::Step {
                    from,
                    step,
                    steps,
                    step_duration,
                } => {
                    for k in 0..steps {
                        let r = from + step * k as f64;
                        parts.push((step_duration.as_nanos(), r, r));
                    }
                }
            }
        }
        let mut profile = RateProfile::from_parts(parts);
        if let Some(limit) = limit_ns {
            profile.truncate(limit);
        }
        profile
    }

    fn from_parts(parts: Vec<(u64, f64, f64)>) -> RateProfile {
        let mut segments = Vec::with_capacity(parts.len());
        let (mut t, mut n) = (0u64, 0f64);
        for (d, a, b) in parts {
            let s = Segment {
                start_ns: t,
                duration_ns: d,
                from_rate: a,
                to_rate: b,
                count_before: n,
            };
            n += s.count();
            t += d;
            segments.push(s);
        }
        RateProfile { segments }
    }

    fn truncate(&mut self, limit: u64) {
        self.segments.retain(|s| s.start_ns < limit);
        if let Some(last) = self.segments.last_mut() {
            let end = last.start_ns + last.duration_ns;
            if end > limit {
                let keep = limit - last.start_ns;
                last.to_rate = last.rate_at(keep);
                last.duration_ns = keep;
            }
        }
    }

    /// End of the profile.
    pub fn end_ns(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.start_ns + s.duration_ns)
    }

    /// Operations intended in `[0, t)`.
    pub fn count_at(&self, t: u64) -> f64 {
        let i = self.segments.partition_point(|s| s.start_ns <= t);
        let Some(s) = i.checked_sub(1).map(|i| &self.segments[i]) else {
            return 0.0;
        };
        let dt = ((t - s.start_ns).min(s.duration_ns)) as f64 / 1e9;
        let k = (s.to_rate - s.from_rate) / (s.duration_ns as f64 / 1e9);
        s.count_before + s.from_rate * dt + k * dt * dt / 2.0
    }

    /// Total operations the profile intends.
    pub fn total(&self) -> f64 {
        self.count_at(self.end_ns())
    }

    /// The rate at run time `t`.
    pub fn rate_at(&self, t: u64) -> f64 {
        let i = self.segments.partition_point(|s| s.start_ns <= t);
        match i.checked_sub(1).map(|i| &self.segments[i]) {
            Some(s) if t < s.start_ns + s.duration_ns => s.rate_at(t - s.start_ns),
            _ => 0.0,
        }
    }

    /// The run time at which the `n`-th operation (counting from 0, possibly
    /// fractional) is intended; `None` past the end.
    pub fn time_at(&self, n: f64) -> Option<u64> {
        let i = self.segments.partition_point(|s| s.count_before <= n);
        let s = &self.segments[i.checked_sub(1)?];
        let m = n - s.count_before;
        let secs = s.duration_ns as f64 / 1e9;
        if m <= 0.0 {
            // The segment's first operation (a ramp from 0 has no rate to divide by).
            return (s.duration_ns > 0).then_some(s.start_ns);
        }
        let k = (s.to_rate - s.from_rate) / secs;
        // Solve from*t + k*t^2/2 = m in the form that stays stable when k is 0 or small.
        let disc = s.from_rate * s.from_rate + 2.0 * k * m;
        if disc < 0.0 {
            return None;
        }
        let denom = s.from_rate + disc.sqrt();
        if denom <= 0.0 {
            return None;
        }
        let t = 2.0 * m / denom;
        if t >= secs {
            return None;
        }
        Some(s.start_ns + (t * 1e9) as u64)
    }
}

impl Segment {
    fn rate_at(&self, dt_ns: u64) -> f64 {
        let f = dt_ns as f64 / self.duration_ns as f64;
        self.from_rate + (self.to_rate - self.from_rate) * f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let p = RateProfile::constant(1000.0, 2_000_000_000);
        assert_eq!(p.time_at(0.0), Some(0));
        assert_eq!(p.time_at(1.0), Some(1_000_000));
        assert_eq!(p.time_at(1999.0), Some(1_999_000_000));
        assert_eq!(p.time_at(2000.0), None);
        assert!((p.total() - 2000.0).abs() < 1e-9);
    }

    #[test]
    fn ramp_inverse_matches_count() {
        let p = RateProfile::from_parts(vec![(10_000_000_000, 100.0, 1100.0)]);
        assert!((p.total() - 6000.0).abs() < 1e-6);
        for n in [1.0, 100.0, 3000.0, 5999.0] {
            let t = p.time_at(n).expect("inside");
            assert!((p.count_at(t) - n).abs() < 1e-3, "n={n} t={t}");
        }
    }

    #[test]
    fn ramps_from_zero_and_zero_rate_stretches_keep_going() {
        // A ramp 0 -> 1000/s over 4 s, then 1000/s for 4 s: 2,000 + 4,000 operations.
        let p = RateProfile::from_parts(vec![(4_000_000_000, 0.0, 1000.0), (4_000_000_000, 1000.0, 1000.0)]);
        assert_eq!(p.time_at(0.0), Some(0));
        let t1 = p.time_at(1.0).expect("second op");
        assert!(t1 > 0 && t1 < 4_000_000_000, "{t1}");
        assert!(p.time_at(5999.0).is_some() && p.time_at(6000.0).is_none());
        // 2 s of nothing, then 100/s: the first operation is at 2 s.
        let q = RateProfile::from_parts(vec![(2_000_000_000, 0.0, 0.0), (1_000_000_000, 100.0, 100.0)]);
        assert_eq!(q.time_at(0.0), Some(2_000_000_000));
        assert_eq!(q.time_at(99.0), Some(2_990_000_000));
        assert_eq!(q.time_at(100.0), None);
    }

    #[test]
    fn step_ladder_and_truncation() {
        let phases = [Phase::Step {
            from: 100.0,
            step: 100.0,
            steps: 3,
            step_duration: crate::scenario::Dur::from_secs(1),
        }];
        let p = RateProfile::from_phases(&phases, None);
        assert!((p.total() - 600.0).abs() < 1e-9);
        assert_eq!(p.time_at(100.0), Some(1_000_000_000));
        let cut = RateProfile::from_phases(&phases, Some(1_500_000_000));
        assert!((cut.total() - 200.0).abs() < 1e-9);
        assert_eq!(cut.rate_at(1_200_000_000), 200.0);
    }
}
