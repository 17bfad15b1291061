//! `eventbench capacity`: the highest rate a target sustains under SLOs. A coarse
//! geometric ladder of steady steps finds a passing and a failing rate (doubling from
//! `--start` while steps pass, halving while they fail), bisection narrows them to the
//! set precision, and the boundary steps are run again to say how sure the answer is.
//! Each step is a full run with its own warmup, and its numbers count only from where
//! latency and throughput had settled, which may cut at most [`MAX_CUT_SHARE`] of it.
//!
//! One rule decides every rate, passing or failing alike: `--votes K` runs of it, and
//! the majority decides. (A rule that ran a failing step again and took the better of
//! two would push the answer up; a rule that did so for passing steps, down.) The
//! boundary repeats follow it too: they count with the rate's other runs, a tie gets
//! one more run, and a boundary whose majority flips reopens the search from there,
//! the passing boundary and the failing one alike.
//!
//! One exception, on evidence from outside the target: a step that failed while the
//! host held the process (the hiccup meter, a thread that only sleeps, woke 10 ms or
//! more late inside the judged window, or the run's verdict is `host-limited`) says
//! nothing certain about the target, so it is set aside and run again, at most
//! [`HOST_RERUNS`] times; it stays in the report, marked. A pause of the machine would
//! otherwise decide a rate, and one early in a ladder would put the answer far below
//! the capacity. A step that passed despite such a pause stands: the pause only made
//! it harder.

pub mod interval;
pub mod report;
mod search;
pub mod steady;
mod step;
mod step_plan;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::report::summary::Health;
use crate::report::RunDir;
use crate::thresholds::Threshold;
use step::step;
pub use step::{Cause, Step, StepPhase};
use step_plan::load_step;

/// The most of a step's measured time the steady-state cut may drop: past it, a step
/// that has not settled is judged from the end of its warmup (and says so), so the
/// numbers never rest on a small, favourable tail of the step.
pub const MAX_CUT_SHARE: f64 = 0.25;

/// The most times one failed step held by the host is set aside and run again; after
/// that its run counts as it is (a host that holds every run is part of what is
/// measured, and the report says so). Once: with the broker on the same 2 cores, a
/// Kafka search near its capacity saw the meter stall in most failing steps (the load
/// itself taking the machine), and twice cost two extra runs of each of them.
pub const HOST_RERUNS: usize = 1;

/// How to search.
#[derive(Debug, Clone)]
pub struct Options {
    /// The workload whose rate is searched.
    pub workload: String,
    pub slos: Vec<Threshold>,
    /// Stop when (failing - passing) / passing is at most this.
    pub precision: f64,
    pub start: f64,
    pub max: f64,
    /// Measured time per step, after its warmup.
    pub step_ns: u64,
    pub warmup_ns: u64,
    /// Runs per decided rate; the majority decides (odd).
    pub votes: usize,
    /// Extra runs of each boundary rate after the search; they count with its other runs
    /// (see [`search`]).
    pub repeat: usize,
    /// Errors per operation a passing step may have.
    pub error_limit: f64,
    pub out: PathBuf,
}

/// The outcome, as capacity.json holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Capacity {
    pub eventbench_version: String,
    pub scenario: String,
    pub workload: String,
    pub slos: Vec<String>,
    pub precision: f64,
    /// The highest passing rate.
    pub sustainable_rate: Option<f64>,
    /// The lowest failing rate.
    pub failing_rate: Option<f64>,
    /// The capacity with its 95% interval, from every counted step (absent in older
    /// capacity.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<interval::CapacityInterval>,
    /// How the repeated boundary steps went.
    pub confidence: String,
    /// Why the search ended before converging, if it did.
    pub stopped_early: Option<String>,
    /// What ran out first, where it can be seen.
    pub limiting: String,
    /// The hop that broke first at the lowest failing rate, with its evidence and what
    /// to scale (pipeline scenarios; absent in older capacity.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiting_hop: Option<crate::report::limiting::LimitingHop>,
    pub steps: Vec<Step>,
    /// The target's settings as run.
    pub target: serde_json::Value,
    pub host: crate::host::Host,
}

/// Searches; `progress` hears about every finished step.
pub fn search(
    text: &str,
    overrides: &[String],
    o: &Options,
    mut progress: impl FnMut(&Step),
) -> Result<Capacity, String> {
    let base = load_step(text, overrides, o, o.start)?;
    if !base.workloads.iter().any(|w| w.name == o.workload) {
        return Err(format!("the scenario has no workload `{}`", o.workload));
    }
    let mut first_summary = None;
    let run_step = |rate: f64, phase: StepPhase, n: usize| -> Result<Step, String> {
        let plan = load_step(text, overrides, o, rate)?;
        let (s, summary) = step(&plan, o, phase, n)?;
        first_summary.get_or_insert(summary);
        Ok(s)
    };
    let search::Outcome {
        interval,
        lo,
        hi,
        confidence,
        stopped,
        steps,
    } = search::Search::new(o, run_step, &mut progress).run()?;
    let failing = first_failing(&steps, hi);
    let limiting_hop = failing.and_then(|f| f.limiting_hop.clone());
    let limiting = match &limiting_hop {
        Some(h) => format!(
            "the {} at {:.0}/s: {}; what to scale: {}",
            h.hop,
            failing.map_or(0.0, |f| f.rate),
            h.evidence,
            h.scale
        ),
        None => limiting(&steps, stopped.as_deref()),
    };
    let target = first_summary
        .as_ref()
        .map(|s| s.scenario.resolved["target"].clone())
        .unwrap_or_default();
    Ok(Capacity {
        eventbench_version: env!("CARGO_PKG_VERSION").into(),
        scenario: base.name.clone(),
        workload: o.workload.clone(),
        slos: o.slos.iter().map(|s| format!("{} {}", s.key, s.condition)).collect(),
        precision: o.precision,
        sustainable_rate: lo,
        failing_rate: hi,
        interval,
        confidence,
        stopped_early: stopped,
        limiting,
        limiting_hop,
        steps,
        target,
        host: crate::host::Host::detect(),
    })
}

/// A failed, counted run of the rate the search found failing (else of the lowest
/// rate that failed at all).
fn first_failing(steps: &[Step], failing_rate: Option<f64>) -> Option<&Step> {
    let failed = || steps.iter().filter(|s| s.set_aside.is_none() && !s.passed);
    failed()
        .find(|s| Some(s.rate) == failing_rate)
        .or_else(|| failed().min_by(|a, b| a.rate.total_cmp(&b.rate)))
}

/// Where the time went at the first failing rate, compared with the lowest passing one.
fn limiting(steps: &[Step], stopped: Option<&str>) -> String {
    if stopped.is_some_and(|s| s.contains("generator")) {
        return "the generator (schedule lag)".into();
    }
    let counted = || steps.iter().filter(|s| s.set_aside.is_none());
    let passing = counted().filter(|s| s.passed).min_by(|a, b| a.rate.total_cmp(&b.rate));
    let failing = counted().filter(|s| !s.passed).min_by(|a, b| a.rate.total_cmp(&b.rate));
    match (passing, failing) {
        (_, Some(f)) if f.health == Health::TargetSaturated => format!(
            "the target: at {:.0}/s operations queued up to max_in_flight ({})",
            f.rate,
            f.reasons.join("; ")
        ),
        (_, Some(f)) => format!("the target at {:.0}/s: {}", f.rate, f.reasons.join("; ")),
        (Some(_), None) => "nothing within the searched range".into(),
        (None, None) => "unknown".into(),
    }
}

/// Writes capacity.json, capacity.md and capacity.html into `dir`.
pub fn write(dir: &RunDir, c: &Capacity) -> Result<(), crate::report::RunDirError> {
    dir.write_json("capacity.json", c)?;
    dir.write_bytes("capacity.md", report::markdown(c).as_bytes())?;
    dir.write_bytes("capacity.html", report::html(c).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capacity_json_from_before_the_interval_still_reads() {
        let mut step = serde_json::to_value(step::blank(1000.0, StepPhase::Ladder)).expect("step");
        for gone in [
            "host_busy_cores",
            "host_cpus",
            "causes",
            "notes",
            "cut_share",
            "vote",
            "host_stalls",
        ] {
            step.as_object_mut().expect("object").remove(gone);
        }
        let old = serde_json::json!({
            "eventbench_version": "0.1.0", "scenario": "s", "workload": "w", "slos": [],
            "precision": 0.05, "sustainable_rate": 950.0, "failing_rate": 1000.0,
            "confidence": "c", "stopped_early": null, "limiting": "l", "steps": [step],
            "target": {}, "host": serde_json::to_value(crate::host::Host::detect()).expect("host"),
        });
        let c: Capacity = serde_json::from_value(old).expect("reads");
        assert!(c.interval.is_none() && c.limiting_hop.is_none());
        assert_eq!((c.steps[0].host_cpus, c.steps[0].host_busy_cores), (0, None));
    }
}
