//! A run's timeline: one small point per workload and interval (what charts, progress
//! and the steady-state detector need), and the stretches of trouble found in it.

use serde::{Deserialize, Serialize};

/// One interval of one workload, as the report's charts need it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IntervalPoint {
    /// Interval start, seconds of run time.
    pub t_s: f64,
    pub length_s: f64,
    pub warmup: bool,
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub ok: u64,
    pub errors: u64,
    /// Operations given up on (dropped, abandoned, unanswered queries), by intended start.
    #[serde(default)]
    pub censored: u64,
    pub late: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    /// Schedule lag p99 and max of the interval (open model): where the schedule
    /// slipped, and for how long.
    #[serde(default)]
    pub lag_p99_ns: u64,
    #[serde(default)]
    pub lag_max_ns: u64,
    /// End-to-end p99 where the workload has that stage.
    pub e2e_p99_ns: u64,
    /// End-to-end answers that arrived in the interval (replies, or records read back):
    /// what the pipeline behind a producer got through.
    #[serde(default)]
    pub e2e_done: u64,
    /// Replies that arrived in the interval saying the pipeline behind failed the
    /// operation (a persistence error): trouble, though the produce itself was ok.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejected: u64,
    /// Errors by class (only classes that occurred).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub errors_by_class: std::collections::BTreeMap<String, u64>,
    /// Open model: operations released by the schedule and not yet ended at the
    /// interval's close (waiting for a worker, or in a worker's hand). A backlog that
    /// grows interval after interval is a target over capacity, whatever its latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u64>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A stretch of trouble in a workload's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Disruption {
    /// Run time of its first troubled interval, s.
    pub from_s: f64,
    /// Run time at which the first healthy interval after it began (recovered), or
    /// the end of the run (not recovered).
    pub to_s: f64,
    pub recovered: bool,
    pub errors: u64,
}

impl Disruption {
    /// "errors, recovered after N s" or "errors, not recovered by the end".
    pub fn outcome(&self) -> String {
        if self.recovered {
            format!(
                "{} errors, recovered after {:.1} s",
                self.errors,
                self.to_s - self.from_s
            )
        } else {
            format!("{} errors, not recovered by the end", self.errors)
        }
    }
}

/// Finds the disruptions in a timeline: intervals with errors, or with a target but
/// no finished operation. One is recovered at the first interval after it that has no
/// errors and ok operations at the offered rate (within 10% or three standard
/// deviations of a count); an interval that offers nothing (the drain) or finishes
/// only part of what it offers neither recovers it nor counts against it.
pub fn disruptions(timeline: &[IntervalPoint]) -> Vec<Disruption> {
    let mut out: Vec<Disruption> = Vec::new();
    let mut open: Option<Disruption> = None;
    for p in timeline {
        // Nothing finished although something was due: e.g. sends hanging on a dead broker.
        let troubled = p.errors > 0 || p.rejected > 0 || (p.target_rate > 0.0 && p.achieved_rate == 0.0);
        let at_rate = {
            let due = p.target_rate * p.length_s;
            p.target_rate > 0.0 && p.ok as f64 >= due - (0.1 * due).max(3.0 * due.sqrt())
        };
        if open.is_some() && !troubled && !at_rate {
            continue;
        }
        match (&mut open, troubled) {
            (None, true) => {
                open = Some(Disruption {
                    from_s: p.t_s,
                    to_s: p.t_s + p.length_s,
                    recovered: false,
                    errors: p.errors + p.rejected,
                })
            }
            (Some(d), true) => {
                d.to_s = p.t_s + p.length_s;
                d.errors += p.errors + p.rejected;
            }
            (Some(d), false) => {
                d.to_s = p.t_s;
                d.recovered = true;
                out.extend(open.take());
            }
            (None, false) => {}
        }
    }
    out.extend(open);
    out
}

/// A stretch of intervals in which the schedule ran late (lag p99 over a bound): a
/// disruption of the generator, with its time and length.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScheduleStall {
    pub from_s: f64,
    pub to_s: f64,
    /// How many intervals in a row.
    pub intervals: usize,
    /// The largest schedule lag in it, ns.
    pub lag_max_ns: u64,
    /// Operations that started more than 1 ms late in it.
    pub late: u64,
}

/// The measured intervals whose schedule-lag p99 exceeds `bound_ns`, as stretches.
pub fn schedule_stalls(timeline: &[IntervalPoint], bound_ns: u64) -> Vec<ScheduleStall> {
    let mut out: Vec<ScheduleStall> = Vec::new();
    let mut open: Option<ScheduleStall> = None;
    for p in timeline.iter().filter(|p| !p.warmup && p.target_rate > 0.0) {
        if p.lag_p99_ns > bound_ns {
            let s = open.get_or_insert(ScheduleStall {
                from_s: p.t_s,
                to_s: p.t_s,
                intervals: 0,
                lag_max_ns: 0,
                late: 0,
            });
            s.to_s = p.t_s + p.length_s;
            s.intervals += 1;
            s.lag_max_ns = s.lag_max_ns.max(p.lag_max_ns);
            s.late += p.late;
        } else {
            out.extend(open.take());
        }
    }
    out.extend(open);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalls_are_stretches_of_late_measured_intervals() {
        let pt = |t: f64, lag_ms: u64, warmup: bool| IntervalPoint {
            t_s: t,
            length_s: 1.0,
            warmup,
            target_rate: 100.0,
            lag_p99_ns: lag_ms * 1_000_000,
            lag_max_ns: 2 * lag_ms * 1_000_000,
            late: lag_ms,
            ..IntervalPoint::default()
        };
        let tl = [
            pt(0.0, 50, true),
            pt(1.0, 1, false),
            pt(2.0, 30, false),
            pt(3.0, 40, false),
            pt(4.0, 1, false),
            pt(5.0, 20, false),
        ];
        let s = schedule_stalls(&tl, 10_000_000);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(
            (s[0].from_s, s[0].to_s, s[0].intervals, s[0].lag_max_ns),
            (2.0, 4.0, 2, 80_000_000)
        );
        assert_eq!((s[1].from_s, s[1].to_s, s[1].intervals), (5.0, 6.0, 1));
    }

    #[test]
    fn a_disruption_recovers_only_when_ok_operations_resume_at_the_offered_rate() {
        let pt = |t: f64, target: f64, ok: u64, errors: u64| IntervalPoint {
            t_s: t,
            length_s: 1.0,
            target_rate: target,
            achieved_rate: ok as f64,
            ok,
            errors,
            ..IntervalPoint::default()
        };
        // Nothing ok all run, then the drain (nothing offered): never recovered.
        let silent = [pt(0.0, 40.0, 0, 0), pt(1.0, 40.0, 0, 0), pt(2.0, 0.0, 0, 0)];
        let d = disruptions(&silent);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(!d[0].recovered, "{d:?}");
        // Errors, a half-rate interval (still disrupted), then the full rate again.
        let back = [
            pt(0.0, 1000.0, 1000, 0),
            pt(1.0, 1000.0, 10, 90),
            pt(2.0, 1000.0, 500, 0),
            pt(3.0, 1000.0, 990, 0),
        ];
        let d = disruptions(&back);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].recovered, "{d:?}");
        assert_eq!((d[0].from_s, d[0].to_s, d[0].errors), (1.0, 3.0, 90));
        // Produces all ok while the store behind is down: the error replies are the
        // disruption (the store-restart scenario).
        let mut store_down = back.clone();
        store_down[1] = IntervalPoint {
            rejected: 700,
            ..pt(1.0, 1000.0, 1000, 0)
        };
        store_down[2].rejected = 50;
        let d = disruptions(&store_down);
        assert_eq!(
            (d.len(), d[0].from_s, d[0].to_s, d[0].errors),
            (1, 1.0, 3.0, 750),
            "{d:?}"
        );
        assert!(d[0].recovered);
    }
}
