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
    /// End-to-end p99 where the workload has that stage.
    pub e2e_p99_ns: u64,
    /// End-to-end answers that arrived in the interval (replies, or records read back):
    /// what the pipeline behind a producer got through.
    #[serde(default)]
    pub e2e_done: u64,
    /// Errors by class (only classes that occurred).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub errors_by_class: std::collections::BTreeMap<String, u64>,
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
/// no finished operation.
pub fn disruptions(timeline: &[IntervalPoint]) -> Vec<Disruption> {
    let mut out: Vec<Disruption> = Vec::new();
    let mut open: Option<Disruption> = None;
    for p in timeline {
        // Nothing finished although something was due: e.g. sends hanging on a dead broker.
        let troubled = p.errors > 0 || (p.target_rate > 0.0 && p.achieved_rate == 0.0);
        match (&mut open, troubled) {
            (None, true) => {
                open = Some(Disruption {
                    from_s: p.t_s,
                    to_s: p.t_s + p.length_s,
                    recovered: false,
                    errors: p.errors,
                })
            }
            (Some(d), true) => {
                d.to_s = p.t_s + p.length_s;
                d.errors += p.errors;
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
