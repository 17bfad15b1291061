//! When a step has settled: the first interval from which latency and throughput
//! stay near where the step ends up, rather than a fixed warmup alone.

use crate::stats::timeline::IntervalPoint;

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The run time from which every later interval's p50 is within a factor of 2 (or
/// 1 ms) of the last half's median and its throughput within 10% of it; `None` if the
/// step did not settle within its first `max_share` (of intervals).
pub fn cut(points: &[IntervalPoint], max_share: f64) -> Option<f64> {
    if points.len() < 2 {
        return points.first().map(|p| p.t_s);
    }
    let tail = &points[points.len() / 2..];
    let p50 = median(tail.iter().map(|p| p.p50_ns as f64).collect());
    let rate = median(tail.iter().map(|p| p.achieved_rate).collect());
    let settled = |p: &IntervalPoint| {
        let v = p.p50_ns as f64;
        let lat_ok = p50 == 0.0 || (v - p50).abs() <= 1e6 || (v <= p50 * 2.0 && v >= p50 / 2.0);
        let rate_ok = rate == 0.0 || (p.achieved_rate - rate).abs() <= 0.1 * rate;
        lat_ok && rate_ok
    };
    let mut first = points.len();
    for (i, p) in points.iter().enumerate().rev() {
        if settled(p) {
            first = i;
        } else {
            break;
        }
    }
    (first as f64 <= max_share * points.len() as f64).then(|| points[first].t_s)
}

/// A backlog that keeps growing shows as latency still rising at the step's end:
/// the last third's median p50 more than twice the first third's, and 5 ms more.
pub fn rising(points: &[IntervalPoint]) -> Option<String> {
    if points.len() < 3 {
        return None;
    }
    let third = points.len() / 3;
    let first = median(points[..third].iter().map(|p| p.p50_ns as f64).collect());
    let last = median(points[points.len() - third..].iter().map(|p| p.p50_ns as f64).collect());
    (last > 2.0 * first && last - first > 5e6).then(|| {
        format!(
            "latency still rising: p50 {:.2} ms -> {:.2} ms over the step (a growing backlog)",
            first / 1e6,
            last / 1e6
        )
    })
}

/// The least growth, as a share of the offered rate, that makes a backlog's trend an
/// overload: the same 1% the throughput rule allows (achieved at least 99% of offered).
pub const GROWTH_SHARE: f64 = 0.01;

/// The least growth over the window, in operations, that counts: below it a trend is
/// a handful of operations caught in flight at one close or the next.
const MIN_GROWTH: f64 = 10.0;

/// A backlog that grows through the judged window: the target takes in more than it
/// ends, so it is over capacity even while its percentiles still meet the SLO (latency
/// is the queue's late symptom; a short step ends before the queue crosses the SLO).
/// `samples` are (run time s, depth) at the window's start and each interval's close;
/// the slope is Theil-Sen's (the median of every pair's slope), so one interval caught
/// in a burst does not make a trend once there are five samples or more.
pub fn growing(samples: &[(f64, f64)], offered_rate: f64, what: &str) -> Option<String> {
    let (first, last) = (samples.first()?, samples.last()?);
    let span = last.0 - first.0;
    if samples.len() < 2 || span <= 0.0 || offered_rate <= 0.0 {
        return None;
    }
    let mut slopes = Vec::new();
    for (i, a) in samples.iter().enumerate() {
        for b in &samples[i + 1..] {
            if b.0 > a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    let slope = median(slopes);
    let growth = slope * span;
    (slope >= GROWTH_SHARE * offered_rate && growth >= MIN_GROWTH).then(|| {
        format!(
            "backlog growing: {what} {:.0} -> {:.0} over {span:.1} s ({slope:+.0}/s, {:.1}% of the offered {offered_rate:.0}/s): over capacity, whatever the percentiles",
            first.1,
            last.1,
            100.0 * slope / offered_rate
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(t: f64, p50_ms: f64, rate: f64) -> IntervalPoint {
        IntervalPoint {
            t_s: t,
            length_s: 1.0,
            p50_ns: (p50_ms * 1e6) as u64,
            achieved_rate: rate,
            ..IntervalPoint::default()
        }
    }

    #[test]
    fn finds_where_a_step_settles_and_sees_a_rising_backlog() {
        let warming: Vec<_> = [
            (9.0, 500.0),
            (4.0, 900.0),
            (1.0, 1000.0),
            (1.1, 1000.0),
            (0.9, 1000.0),
            (1.0, 1000.0),
        ]
        .iter()
        .enumerate()
        .map(|(i, (l, r))| pt(i as f64, *l, *r))
        .collect();
        // Settles at the third of six intervals: a cut of a third.
        assert_eq!(cut(&warming, 0.5), Some(2.0));
        assert_eq!(cut(&warming, 0.25), None, "never cuts more than its share");
        assert_eq!(rising(&warming), None);
        let growing: Vec<_> = (0..9).map(|i| pt(i as f64, 1.0 + 6.0 * i as f64, 1000.0)).collect();
        assert!(rising(&growing).is_some());
        let jumpy: Vec<_> = (0..8)
            .map(|i| pt(i as f64, 1.0, if i % 2 == 0 { 500.0 } else { 1500.0 }))
            .collect();
        assert_eq!(cut(&jumpy, 0.5), None, "throughput never settles");
    }

    #[test]
    fn a_backlog_growing_at_one_percent_of_the_rate_fails_and_a_burst_does_not() {
        let at = |d: &[f64]| -> Vec<(f64, f64)> { d.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect() };
        // 1,275/s offered to 1,250/s of capacity: 25/s more every second.
        let over = at(&[300.0, 325.0, 351.0, 374.0, 400.0]);
        let why = growing(&over, 1275.0, "operations in flight").expect("over capacity");
        assert!(why.contains("300 -> 400") && why.contains("+25/s"), "{why}");
        // Two samples (a 1 s step) still see it.
        assert!(growing(&at(&[300.0, 360.0]), 2000.0, "x").is_some());
        // Steady with noise, and one burst at the window's end: no trend.
        assert_eq!(growing(&at(&[300.0, 290.0, 310.0, 295.0, 305.0]), 1275.0, "x"), None);
        assert_eq!(
            growing(&at(&[300.0, 290.0, 310.0, 295.0, 305.0, 900.0]), 1275.0, "x"),
            None
        );
        // Growth below 1% of the rate, or under ten operations: not an overload.
        assert_eq!(growing(&at(&[300.0, 310.0, 320.0]), 2000.0, "x"), None);
        assert_eq!(growing(&at(&[3.0, 6.0, 9.0]), 100.0, "x"), None);
    }
}
