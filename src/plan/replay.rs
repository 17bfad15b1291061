//! A replay's schedule: each captured record's intended start is its timestamp's
//! offset from the capture's first, divided by the speed, plus a period per pass when
//! it loops. Exact, from a table, and claimed by index like any constant schedule; the
//! report's rate line is the same times counted per bucket.

use std::sync::Arc;

use serde::Serialize;

use super::RateProfile;
use crate::model::capture::Capture;

/// Most buckets of the report's rate line (a replay of hours keeps its summary small).
const MAX_BUCKETS: u64 = 10_000;

/// A capture, as a workload sends it.
pub struct Replay {
    pub capture: Arc<Capture>,
    /// The capture file, as the scenario names it.
    pub path: String,
    pub speed: f64,
    pub looped: bool,
    /// Each record's intended start in the first pass, ns from the run's start.
    times_ns: Vec<u64>,
    /// One pass at this speed (the next pass starts this much later).
    period_ns: u64,
    /// No operation at or after this: the run's duration, or one pass.
    end_ns: u64,
}

impl Replay {
    /// `rate`, when given, sets the speed that makes the capture's mean rate it.
    pub fn new(
        capture: Arc<Capture>,
        path: &str,
        speed: Option<f64>,
        rate: Option<f64>,
        looped: bool,
        limit_ns: Option<u64>,
    ) -> Replay {
        let period_ms = capture.period_ms();
        let mean_rate = capture.mean_rate();
        let speed = match (speed, rate) {
            (_, Some(r)) if mean_rate > 0.0 => r / mean_rate,
            (Some(s), _) => s,
            _ => 1.0,
        };
        let first = capture.ts_ms().first().copied().unwrap_or(0);
        let times_ns: Vec<u64> = capture
            .ts_ms()
            .iter()
            .map(|t| ((t - first) as f64 * 1e6 / speed) as u64)
            .collect();
        // A pass of a capture that spans no time (validation refuses it a loop) ends
        // just after its records.
        let period_ns = ((period_ms * 1e6 / speed) as u64).max(times_ns.last().map_or(0, |t| t + 1));
        let end_ns = match (limit_ns, looped) {
            (Some(l), true) => l,
            (Some(l), false) => l.min(period_ns),
            (None, _) => period_ns,
        };
        Replay {
            capture,
            path: path.to_string(),
            speed,
            looped,
            times_ns,
            period_ns,
            end_ns,
        }
    }

    /// The intended start of operation `index`; `None` past the end.
    #[inline]
    pub fn time_at(&self, index: u64) -> Option<u64> {
        let n = self.times_ns.len() as u64;
        let (pass, i) = (index / n.max(1), index % n.max(1));
        if n == 0 || (pass > 0 && !self.looped) {
            return None;
        }
        let t = pass
            .checked_mul(self.period_ns)?
            .checked_add(self.times_ns[i as usize])?;
        (t < self.end_ns).then_some(t)
    }

    /// The captured event an operation sends (its uuids and times made fresh).
    pub fn event_of(&self, index: u64) -> usize {
        (index % self.times_ns.len().max(1) as u64) as usize
    }

    pub fn end_ns(&self) -> u64 {
        self.end_ns
    }

    /// The schedule counted per bucket, as constant-rate segments: what the report
    /// draws and the summary's target counts (exact at bucket edges).
    pub fn profile(&self) -> RateProfile {
        let bucket = (self.end_ns / MAX_BUCKETS).max(1_000_000_000);
        let n = self.end_ns.div_ceil(bucket).max(1) as usize;
        let mut counts = vec![0u64; n];
        let mut index = 0;
        while let Some(t) = self.time_at(index) {
            counts[((t / bucket) as usize).min(n - 1)] += 1;
            index += 1;
        }
        let parts = counts
            .iter()
            .enumerate()
            .map(|(b, c)| {
                let d = bucket.min(self.end_ns - b as u64 * bucket);
                let rate = *c as f64 / (d as f64 / 1e9);
                (d, rate, rate, 0)
            })
            .collect();
        RateProfile::from_parts(parts, vec![self.label()])
    }

    fn label(&self) -> String {
        format!(
            "replay x{}{}",
            short(self.speed),
            if self.looped { ", looped" } else { "" }
        )
    }

    /// What the report says the workload sent: the file, its window and how.
    pub fn source(&self) -> String {
        let h = &self.capture.header;
        let at = |ms: i64| crate::model::GoTime::from_unix_nanos(ms as i128 * 1_000_000).to_string();
        format!(
            "replay of {} ({} events of topic {} at {}, {} to {}) at speed x{}{}",
            self.path,
            self.capture.len(),
            h.topic,
            h.bootstrap,
            at(h.first_ms),
            at(h.last_ms),
            short(self.speed),
            if self.looped { ", looped" } else { "" }
        )
    }
}

/// A speed as few digits as say it.
fn short(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source())
    }
}

impl Serialize for Replay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(ts: &[i64]) -> Arc<Capture> {
        Arc::new(Capture::from_times(ts))
    }

    #[test]
    fn times_follow_the_capture_scaled_and_looped() {
        let c = capture(&[1000, 1000, 1010, 1030]);
        // Period: 30 ms span and one mean gap (10 ms).
        let once = Replay::new(c.clone(), "c", None, None, false, None);
        let t: Vec<_> = (0..5).map(|i| once.time_at(i)).collect();
        assert_eq!(t, [Some(0), Some(0), Some(10_000_000), Some(30_000_000), None]);
        let fast = Replay::new(c.clone(), "c", Some(2.0), None, true, Some(100_000_000));
        assert_eq!(fast.time_at(3), Some(15_000_000));
        assert_eq!(
            fast.time_at(4),
            Some(20_000_000),
            "second pass at one period (40 ms / 2)"
        );
        assert_eq!(fast.time_at(4 * 5), None, "the fifth pass starts at 100 ms: the end");
        // 4 events a 40 ms pass is 100/s; a rate of 200/s is speed 2.
        let by_rate = Replay::new(c, "c", None, Some(200.0), false, None);
        assert!((by_rate.speed - 2.0).abs() < 1e-9);
        assert_eq!(by_rate.end_ns(), 20_000_000);
    }

    #[test]
    fn the_report_profile_counts_every_operation() {
        let ts: Vec<i64> = (0..3000).map(|i| i * 7 / 3).collect();
        let r = Replay::new(capture(&ts), "c", Some(0.5), None, true, Some(40_000_000_000));
        let ops = (0..).take_while(|i| r.time_at(*i).is_some()).count() as f64;
        let p = r.profile();
        assert!((p.total() - ops).abs() < 1e-6, "{} vs {ops}", p.total());
        assert_eq!(p.end_ns(), 40_000_000_000);
    }
}
