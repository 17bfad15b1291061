//! `eventbench capacity`: the highest rate a target sustains under SLOs. A coarse
//! geometric ladder of steady steps finds a passing and a failing rate (doubling from
//! `--start` while steps pass, halving while they fail), bisection narrows them to the
//! set precision, and the boundary steps are run again to say how sure the answer is.
//! Each step is a full run with its own warmup, and its numbers count only from where
//! latency and throughput had settled, which may cut at most [`MAX_CUT_SHARE`] of it.
//!
//! One rule decides every rate, passing or failing alike: `--votes K` runs of it, and
//! the majority decides. (A rule that ran a failing step again and took the better of
//! two would push the answer up; a rule that did so for passing steps, down.)
//!
//! One exception, on evidence from outside the target: a step that failed while the
//! host held the process (the hiccup meter, a thread that only sleeps, woke 10 ms or
//! more late inside the judged window, or the run's verdict is `host-limited`) says
//! nothing certain about the target, so it is set aside and run again, at most
//! [`HOST_RERUNS`] times; it stays in the report, marked. A pause of the machine would
//! otherwise decide a rate, and one early in a ladder would put the answer far below
//! the capacity. A step that passed despite such a pause stands: the pause only made
//! it harder.

pub mod report;
pub mod steady;
mod step;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::report::summary::Health;
use crate::report::RunDir;
use crate::thresholds::Threshold;
use step::{load_step, step, unreachable_step};
pub use step::{Cause, Step, StepPhase};

/// The most of a step's measured time the steady-state cut may drop: past it, a step
/// that has not settled is judged from the end of its warmup (and says so), so the
/// numbers never rest on a small, favourable tail of the step.
pub const MAX_CUT_SHARE: f64 = 0.25;

/// The most times one failed step held by the host is set aside and run again; after
/// that its run counts as it is (a host that holds every run is part of what is
/// measured, and the report says so).
pub const HOST_RERUNS: usize = 2;

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
    /// Extra runs of each boundary step after the search, reported, not decided on.
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
    /// How the repeated boundary steps went.
    pub confidence: String,
    /// Why the search ended before converging, if it did.
    pub stopped_early: Option<String>,
    /// What ran out first, where it can be seen.
    pub limiting: String,
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
    let mut steps: Vec<Step> = Vec::new();
    let mut stopped = None;
    let mut first_summary = None;
    // One decided rate: `votes` runs, the majority decides; the step returned is one
    // of the majority's (its numbers stand for the rate in the report).
    let mut run = |rate: f64, phase: StepPhase, steps: &mut Vec<Step>| -> Result<Step, String> {
        let plan = load_step(text, overrides, o, rate)?;
        let votes = if phase == StepPhase::Repeat { 1 } else { o.votes.max(1) };
        let mut ran = Vec::new();
        for v in 1..=votes {
            let mut held = 0;
            let s = loop {
                let (mut s, summary) = step(&plan, o, phase, steps.len())?;
                s.vote = v;
                first_summary.get_or_insert(summary);
                match s.held_by_host() {
                    Some(why) if held < HOST_RERUNS => {
                        held += 1;
                        s.set_aside = Some(why);
                        progress(&s);
                        steps.push(s);
                    }
                    Some(_) => {
                        s.notes.push(format!(
                            "the host held this rate's run {} times in a row: this one counts as it is",
                            held + 1
                        ));
                        break s;
                    }
                    None => break s,
                }
            };
            progress(&s);
            steps.push(s.clone());
            ran.push(s);
            let passed = ran.iter().filter(|s| s.passed).count();
            // Stop once the majority is settled either way.
            if passed * 2 > votes || (ran.len() - passed) * 2 > votes {
                break;
            }
        }
        let passed = ran.iter().filter(|s| s.passed).count() * 2 > votes;
        Ok(ran
            .into_iter()
            .rev()
            .find(|s| s.passed == passed)
            .unwrap_or_else(|| unreachable_step(rate, phase)))
    };
    // The generator is the limit only when it fell behind while the target still
    // met its SLOs; with both behind (one host's cores shared) the target is judged.
    let generator_limited = |s: &Step| {
        s.health == Health::GeneratorLimited && s.causes.iter().all(|c| matches!(c, Cause::Throughput | Cause::Backlog))
    };
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = o.start;
    loop {
        let s = run(rate, StepPhase::Ladder, &mut steps)?;
        if generator_limited(&s) && !s.passed {
            stopped = Some(format!(
                "the generator could not keep {rate:.0}/s (schedule lag): the target was not the limit; run more generators (--shard) or a bigger host"
            ));
            hi = Some(rate);
            break;
        }
        if s.passed {
            lo = Some(rate);
            if rate >= o.max {
                stopped = Some(format!("passed at the maximum rate {:.0}/s", o.max));
                break;
            }
            rate = (rate * 2.0).min(o.max);
        } else {
            hi = Some(rate);
            break;
        }
    }
    // Started above the capacity: halve until a rate passes.
    if stopped.is_none() && lo.is_none() {
        let floor = o.start / 64.0;
        while let Some(h) = hi {
            let r = h / 2.0;
            if r < floor {
                stopped = Some(format!("failed at every rate down to {h:.0}/s"));
                break;
            }
            let s = run(r, StepPhase::Ladder, &mut steps)?;
            if s.passed {
                lo = Some(r);
                break;
            }
            if generator_limited(&s) {
                stopped = Some(format!(
                    "the generator could not keep {r:.0}/s: the target was not the limit"
                ));
                break;
            }
            hi = Some(r);
        }
    }
    if stopped.is_none() {
        while let (Some(l), Some(h)) = (lo, hi) {
            if (h - l) / l <= o.precision {
                break;
            }
            let mid = (l + h) / 2.0;
            let s = run(mid, StepPhase::Bisect, &mut steps)?;
            if generator_limited(&s) && !s.passed {
                stopped = Some(format!(
                    "the generator could not keep {mid:.0}/s: the target was not the limit"
                ));
                break;
            }
            if s.passed {
                lo = Some(mid);
            } else {
                hi = Some(mid);
            }
        }
    }
    let mut confidence = String::from("boundary not repeated");
    if o.repeat > 0 {
        let mut parts = Vec::new();
        for (bound, label) in [(lo, "passing"), (hi, "failing")] {
            if let Some(r) = bound {
                let mut same = 0;
                for _ in 0..o.repeat {
                    let s = run(r, StepPhase::Repeat, &mut steps)?;
                    same += (s.passed == (label == "passing")) as usize;
                }
                parts.push(format!("{label} {r:.0}/s agreed {same}/{} repeats", o.repeat));
            }
        }
        confidence = parts.join("; ");
    }
    let limiting = limiting(&steps, stopped.as_deref());
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
        confidence,
        stopped_early: stopped,
        limiting,
        steps,
        target,
        host: crate::host::Host::detect(),
    })
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
