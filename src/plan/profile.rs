//! An open-model rate profile: piecewise-linear rate over time, and its inverse, so
//! the intended start of operation `i` is a closed-form function of `i`. Every shape
//! (steady, ramp, steps, a sine, a curve of points, bursts over any of them) is made
//! of linear segments, so the schedule, its shards and Poisson arrivals need nothing
//! new for it: a sine is [`SINE_PIECES`] segments a period (the count it intends is
//! within 0.12% of the amplitude of the exact integral).

use serde::Serialize;

use crate::scenario::{Burst, Phase, SINE_PIECES};

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
    /// Which of the profile's `labels` this segment belongs to (a phase or a burst).
    #[serde(default)]
    pub phase: u32,
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
    /// What each phase was, as the report names its band ("sine 1000 +- 500/s").
    pub labels: Vec<String>,
}

/// A stretch before it becomes a segment: duration, rates, label index.
type Part = (u64, f64, f64, u32);

impl RateProfile {
    /// A constant rate for `duration_ns`.
    pub fn constant(rate: f64, duration_ns: u64) -> RateProfile {
        RateProfile::from_parts(vec![(duration_ns, rate, rate, 0)], vec![format!("{rate:.0}/s")])
    }

    /// The profile of a phase list, truncated at `limit_ns` when given.
    pub fn from_phases(phases: &[Phase], limit_ns: Option<u64>) -> RateProfile {
        let mut parts: Vec<Part> = Vec::new();
        let mut labels = Vec::new();
        for p in phases {
            let l = labels.len() as u32;
            match p {
                Phase::Steady { duration, rate } => {
                    parts.push((duration.as_nanos(), *rate, *rate, l));
                    labels.push(format!("{rate:.0}/s"));
                }
                Phase::Ramp { duration, from, to } => {
                    parts.push((duration.as_nanos(), *from, *to, l));
                    labels.push(format!("{from:.0}->{to:.0}/s"));
                }
                Phase::Step {
                    from,
                    step,
                    steps,
                    step_duration,
                } => {
                    for k in 0..*steps {
                        let r = from + step * k as f64;
                        parts.push((step_duration.as_nanos(), r, r, labels.len() as u32));
                        labels.push(format!("{r:.0}/s"));
                    }
                }
                Phase::Sine {
                    duration,
                    mean,
                    amplitude,
                    period,
                } => {
                    let (d, per) = (duration.as_nanos(), period.as_nanos().max(1));
                    let piece = (per / SINE_PIECES).max(1);
                    let rate = |t: u64| mean + amplitude * (std::f64::consts::TAU * t as f64 / per as f64).sin();
                    let mut t = 0;
                    while t < d {
                        let end = (t + piece).min(d);
                        parts.push((end - t, rate(t), rate(end), l));
                        t = end;
                    }
                    labels.push(format!("sine {mean:.0} +- {amplitude:.0}/s, period {period}"));
                }
                Phase::Curve { points } => {
                    for w in points.windows(2) {
                        let d = w[1].at.as_nanos().saturating_sub(w[0].at.as_nanos());
                        parts.push((d, w[0].rate, w[1].rate, l));
                    }
                    labels.push(format!("curve of {} points", points.len()));
                }
            }
        }
        let mut profile = RateProfile::from_parts(parts, labels);
        if let Some(limit) = limit_ns {
            profile.truncate(limit);
        }
        profile
    }

    pub(super) fn from_parts(parts: Vec<Part>, labels: Vec<String>) -> RateProfile {
        let mut segments = Vec::with_capacity(parts.len());
        let (mut t, mut n) = (0u64, 0f64);
        for (d, a, b, phase) in parts {
            let s = Segment {
                start_ns: t,
                duration_ns: d,
                from_rate: a,
                to_rate: b,
                count_before: n,
                phase,
            };
            n += s.count();
            t += d;
            segments.push(s);
        }
        RateProfile { segments, labels }
    }

    /// The profile with each burst's rate multiplied in, each burst a band of its own.
    /// A burst past the profile's end is cut there: it adds no time.
    pub fn with_bursts(self, bursts: &[Burst]) -> RateProfile {
        let end = self.end_ns();
        let mut windows: Vec<(u64, u64, f64)> = Vec::new();
        for b in bursts {
            let (mut at, d) = (b.at.as_nanos(), b.duration.as_nanos());
            while at < end && d > 0 {
                windows.push((at, (at + d).min(end), b.factor));
                match b.every.map(|e| e.as_nanos()) {
                    Some(e) if e > 0 && windows.len() < MAX_BURSTS => at += e,
                    _ => break,
                }
            }
        }
        if windows.is_empty() {
            return self;
        }
        let mut labels = self.labels.clone();
        let first = labels.len() as u32;
        labels.extend(windows.iter().map(|w| format!("burst x{}", w.2)));
        let mut parts: Vec<Part> = Vec::new();
        for s in &self.segments {
            // Cut the segment at every burst edge inside it.
            let (s0, s1) = (s.start_ns, s.start_ns + s.duration_ns);
            let mut cuts: Vec<u64> = windows
                .iter()
                .flat_map(|w| [w.0, w.1])
                .filter(|c| *c > s0 && *c < s1)
                .collect();
            cuts.push(s0);
            cuts.push(s1);
            cuts.sort_unstable();
            cuts.dedup();
            for c in cuts.windows(2) {
                let (a, b) = (c[0], c[1]);
                let (ra, rb) = (s.rate_at(a - s0), s.rate_at_end_or(b - s0));
                let inside = |w: &&(u64, u64, f64)| w.0 <= a && b <= w.1;
                let factor: f64 = windows.iter().filter(inside).map(|w| w.2).product();
                let label = windows
                    .iter()
                    .position(|w| inside(&w))
                    .map_or(s.phase, |i| first + i as u32);
                parts.push((b - a, ra * factor, rb * factor, label));
            }
        }
        RateProfile::from_parts(parts, labels)
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

/// The profile's phases as runs of segments, `(first, last)` indices: the segments of
/// one phase (a sine's 64 pieces a period) together, or each segment alone where there
/// are no labels (a summary from before them). The report's bands and the interval
/// log's header both tell phases this way.
pub fn phase_runs(segments: &[Segment], labels: &[String]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        match runs.last_mut() {
            Some(r) if !labels.is_empty() && segments[r.1].phase == s.phase => r.1 = i,
            _ => runs.push((i, i)),
        }
    }
    runs
}

/// Burst windows, at most: past this a schedule of bursts is a typo.
pub const MAX_BURSTS: usize = 10_000;

impl Segment {
    fn rate_at(&self, dt_ns: u64) -> f64 {
        if self.duration_ns == 0 {
            return self.from_rate;
        }
        let f = dt_ns as f64 / self.duration_ns as f64;
        self.from_rate + (self.to_rate - self.from_rate) * f
    }

    /// The rate at `dt_ns`, the segment's end rate at its end.
    fn rate_at_end_or(&self, dt_ns: u64) -> f64 {
        if dt_ns >= self.duration_ns {
            self.to_rate
        } else {
            self.rate_at(dt_ns)
        }
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
        let p = RateProfile::from_parts(vec![(10_000_000_000, 100.0, 1100.0, 0)], vec![]);
        assert!((p.total() - 6000.0).abs() < 1e-6);
        for n in [1.0, 100.0, 3000.0, 5999.0] {
            let t = p.time_at(n).expect("inside");
            assert!((p.count_at(t) - n).abs() < 1e-3, "n={n} t={t}");
        }
    }

    #[test]
    fn ramps_from_zero_and_zero_rate_stretches_keep_going() {
        // A ramp 0 -> 1000/s over 4 s, then 1000/s for 4 s: 2,000 + 4,000 operations.
        let p = RateProfile::from_parts(
            vec![(4_000_000_000, 0.0, 1000.0, 0), (4_000_000_000, 1000.0, 1000.0, 0)],
            vec![],
        );
        assert_eq!(p.time_at(0.0), Some(0));
        let t1 = p.time_at(1.0).expect("second op");
        assert!(t1 > 0 && t1 < 4_000_000_000, "{t1}");
        assert!(p.time_at(5999.0).is_some() && p.time_at(6000.0).is_none());
        // 2 s of nothing, then 100/s: the first operation is at 2 s.
        let q = RateProfile::from_parts(
            vec![(2_000_000_000, 0.0, 0.0, 0), (1_000_000_000, 100.0, 100.0, 0)],
            vec![],
        );
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

    fn dur(s: &str) -> crate::scenario::Dur {
        s.parse().expect("duration")
    }

    #[test]
    fn a_sine_intends_its_integral_and_is_one_band() {
        // 1000 +- 500/s, period 10 s, for 25 s: 25,000 + the half period's 500 * 10 / pi.
        let p = RateProfile::from_phases(
            &[Phase::Sine {
                duration: dur("25s"),
                mean: 1000.0,
                amplitude: 500.0,
                period: dur("10s"),
            }],
            None,
        );
        let exact = 25_000.0 + 500.0 * 10.0 / std::f64::consts::PI;
        assert!(
            (p.total() - exact).abs() < 0.0012 * 500.0 * 25.0,
            "{} vs {exact}",
            p.total()
        );
        assert_eq!(p.segments.len(), 160);
        assert!(p.segments.iter().all(|s| s.phase == 0));
        assert!(
            (p.rate_at(2_500_000_000) - 1500.0).abs() < 1.0,
            "peak at a quarter period"
        );
        assert!(
            (p.rate_at(7_500_000_000) - 500.0).abs() < 1.0,
            "trough at three quarters"
        );
        for n in [0.0, 1234.0, 20_000.0, p.total() - 1.0] {
            let t = p.time_at(n).expect("inside");
            assert!((p.count_at(t) - n).abs() < 1e-3, "n={n}");
        }
        assert_eq!(p.labels, ["sine 1000 +- 500/s, period 10s"]);
    }

    #[test]
    fn a_curve_is_linear_between_its_points() {
        let pt = |at: &str, rate: f64| crate::scenario::CurvePoint { at: dur(at), rate };
        let p = RateProfile::from_phases(
            &[Phase::Curve {
                points: vec![pt("0s", 100.0), pt("10s", 1100.0), pt("20s", 1100.0), pt("25s", 0.0)],
            }],
            None,
        );
        assert_eq!(p.end_ns(), 25_000_000_000);
        assert!((p.total() - (6_000.0 + 11_000.0 + 2_750.0)).abs() < 1e-6);
        assert!((p.rate_at(5_000_000_000) - 600.0).abs() < 1e-9);
    }

    #[test]
    fn bursts_multiply_the_rate_on_their_schedule() {
        let burst = Burst {
            at: dur("2s"),
            duration: dur("1s"),
            factor: 3.0,
            every: Some(dur("4s")),
        };
        let p = RateProfile::constant(1000.0, 10_000_000_000).with_bursts(&[burst]);
        // Bursts at 2-3 s and 6-7 s (10-11 s is past the end): 10,000 + 2 x 2,000.
        assert!((p.total() - 14_000.0).abs() < 1e-6, "{}", p.total());
        assert_eq!(p.rate_at(2_500_000_000), 3000.0);
        assert_eq!(p.rate_at(3_500_000_000), 1000.0);
        assert_eq!(p.rate_at(6_000_000_000), 3000.0);
        assert_eq!(p.end_ns(), 10_000_000_000, "a burst adds no time");
        let burst_label = |t: u64| {
            let s = p
                .segments
                .iter()
                .find(|s| s.start_ns <= t && t < s.start_ns + s.duration_ns)
                .expect("segment");
            p.labels[s.phase as usize].clone()
        };
        assert_eq!(burst_label(2_500_000_000), "burst x3");
        assert_eq!(burst_label(4_000_000_000), "1000/s");
        // Over a ramp the burst keeps the ramp's shape: 100 -> 1100/s over 10 s, x2 at 4-6 s.
        let once = Burst {
            every: None,
            factor: 2.0,
            at: dur("4s"),
            duration: dur("2s"),
        };
        let r = RateProfile::from_phases(
            &[Phase::Ramp {
                duration: dur("10s"),
                from: 100.0,
                to: 1100.0,
            }],
            None,
        )
        .with_bursts(&[once]);
        assert!((r.rate_at(5_000_000_000) - 1200.0).abs() < 1e-9);
        assert!((r.total() - (6_000.0 + 1_200.0)).abs() < 1e-6, "{}", r.total());
        for n in [10.0, 700.0, 3_000.0, 7_000.0] {
            let t = r.time_at(n).expect("inside");
            assert!((r.count_at(t) - n).abs() < 1e-3, "n={n}");
        }
    }
}
