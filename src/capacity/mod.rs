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

pub mod report;
pub mod steady;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::report::summary::Health;
use crate::report::{RunDir, Summary};
use crate::run::{run_to_dir, RunOptions};
use crate::stats::{Stage, StageSummary};
use crate::thresholds::{Observed, Threshold};

/// The most of a step's measured time the steady-state cut may drop: past it, a step
/// that has not settled is judged from the end of its warmup (and says so), so the
/// numbers never rest on a small, favourable tail of the step.
pub const MAX_CUT_SHARE: f64 = 0.25;

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

/// Where in the search a step ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepPhase {
    /// Doubling from `--start` until a step fails (or halving until one passes).
    Ladder,
    /// Halving the gap between the passing and the failing rate.
    Bisect,
    /// Extra runs of the boundary steps, for confidence.
    Repeat,
}

impl std::fmt::Display for StepPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            StepPhase::Ladder => "ladder",
            StepPhase::Bisect => "bisect",
            StepPhase::Repeat => "repeat",
        })
    }
}

/// What a failed step missed; the search decides on these, the reasons' text explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// An SLO on a stage's latency (or another threshold) was missed.
    Slo,
    /// An SLO names a measurement the step does not have.
    Missing,
    /// Achieved below 99% of the offered rate.
    Throughput,
    Errors,
    /// Operations left unanswered, abandoned or dropped.
    Backlog,
    /// Latency still rising at the end of the step.
    Rising,
}

/// One step of the search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub rate: f64,
    pub phase: StepPhase,
    pub passed: bool,
    /// Why it failed (empty when it passed), for people.
    pub reasons: Vec<String>,
    /// The same, one cause per reason, for the search.
    #[serde(default)]
    pub causes: Vec<Cause>,
    /// What else is worth knowing about the step.
    #[serde(default)]
    pub notes: Vec<String>,
    pub achieved_rate: f64,
    pub error_rate: f64,
    /// The main stage's percentiles after the steady-state cut, ms.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Each SLO's stage value after the cut, as text.
    pub slo_values: Vec<String>,
    /// Run time from which the step had settled (None: it never did within
    /// [`MAX_CUT_SHARE`], and was judged from the end of its warmup).
    pub steady_from_s: Option<f64>,
    /// The share of the measured step the steady-state cut dropped.
    #[serde(default)]
    pub cut_share: f64,
    /// Which of the rate's `--votes` runs this was (from 1).
    #[serde(default)]
    pub vote: usize,
    pub health: Health,
    pub generator_cores: f64,
    pub dir: String,
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

fn load_step(text: &str, overrides: &[String], o: &Options, rate: f64) -> Result<Plan, String> {
    let mut sets = overrides.to_vec();
    sets.push(format!("workload.{}.rate={rate}", o.workload));
    sets.push(format!("workload.{}.phase=[]", o.workload));
    sets.push(format!("duration=\"{}ns\"", o.warmup_ns + o.step_ns));
    sets.push(format!("warmup=\"{}ns\"", o.warmup_ns));
    let scenario = crate::scenario::parse("capacity step", text, &sets).map_err(|e| e.to_string())?;
    Ok(Plan::from_scenario(&scenario))
}

/// Runs one step and judges it.
fn step(plan: &Plan, o: &Options, phase: StepPhase, n: usize) -> Result<(Step, Summary), String> {
    let rate = plan
        .workloads
        .iter()
        .find(|w| w.name == o.workload)
        .map_or(0.0, |w| w.target_rate(plan.duration_ns));
    let dir = o.out.join("steps").join(format!("{n:02}-{phase}-{rate:.0}"));
    let run_dir = RunDir::create(&dir).map_err(|e| e.to_string())?;
    let opts = RunOptions {
        progress: None,
        record_only: true,
    };
    let summary = run_to_dir(plan, &run_dir, opts).map_err(|e| e.to_string())?;
    let w = summary
        .workloads
        .get(&o.workload)
        .ok_or_else(|| format!("no workload {}", o.workload))?;
    let warmup_s = plan.warmup_ns as f64 / 1e9;
    // Whole intervals only: the last one, cut short by the run's end, holds a few
    // stragglers and says nothing about the step.
    let nominal = plan.interval_ns as f64 / 1e9;
    let measured_points: Vec<_> = w
        .timeline
        .iter()
        .filter(|p| !p.warmup && p.length_s >= 0.5 * nominal && p.t_s + 1e-9 < plan.duration_ns as f64 / 1e9)
        .cloned()
        .collect();
    let steady_from = steady::cut(&measured_points, MAX_CUT_SHARE);
    let from_s = steady_from.unwrap_or(warmup_s).max(warmup_s);
    let cut_share = (from_s - warmup_s) / (o.step_ns as f64 / 1e9);
    let intervals = run_dir.read_intervals().map_err(|e| e.to_string())?;
    let hists = crate::stats::hlog::stages_after(&intervals, &o.workload, from_s);
    let stage = |s: Stage| hists.get(s.name()).map(StageSummary::of);
    let errors: u64 = w.errors.values().sum();
    let error_rate = if w.ops == 0 { 0.0 } else { errors as f64 / w.ops as f64 };
    let mut reasons = Vec::new();
    let mut causes = Vec::new();
    let mut fail = |cause: Cause, why: String| {
        causes.push(cause);
        reasons.push(why);
    };
    let mut slo_values = Vec::new();
    for slo in &o.slos {
        let observed = Observed {
            stage: &stage,
            ops: w.ops,
            errors,
            late: w.late,
            achieved_rate: w.achieved_rate,
            target_rate: w.target_rate,
        };
        match slo.judge(&observed) {
            Some((v, ok)) => {
                slo_values.push(format!("{} = {}", slo.key, slo.show(v)));
                if !ok {
                    fail(
                        Cause::Slo,
                        format!("{} {} (was {})", slo.key, slo.condition, slo.show(v)),
                    );
                }
            }
            None => fail(Cause::Missing, format!("{}: no such measurement", slo.key)),
        }
    }
    if w.achieved_rate < 0.99 * w.target_rate {
        fail(
            Cause::Throughput,
            format!("achieved {:.1}/s < 99% of {:.1}/s", w.achieved_rate, w.target_rate),
        );
    }
    if error_rate > o.error_limit {
        fail(
            Cause::Errors,
            format!("errors {:.3}% > {:.3}%", error_rate * 100.0, o.error_limit * 100.0),
        );
    }
    let backlog = w.unanswered + w.abandoned + w.dropped;
    if backlog > 0 {
        fail(
            Cause::Backlog,
            format!(
                "backlog: {} unanswered, {} abandoned, {} dropped",
                w.unanswered, w.abandoned, w.dropped
            ),
        );
    }
    if let Some(why) = steady::rising(&measured_points) {
        fail(Cause::Rising, why);
    }
    let mut notes = Vec::new();
    if steady_from.is_none() {
        // Judged from the warmup's end then; a backlog shows as rising latency or as
        // missed SLOs, so not settling alone does not fail a step.
        notes.push(format!(
            "not settled within {:.0}% of the step: judged from the end of the warmup",
            MAX_CUT_SHARE * 100.0
        ));
    }
    let main = crate::plan::main_stage(
        plan.workloads
            .iter()
            .find(|w| w.name == o.workload)
            .map_or(crate::scenario::WorkloadKind::Produce, |w| w.kind),
    )
    .0;
    let m = stage(main).unwrap_or_default();
    Ok((
        Step {
            rate,
            phase,
            passed: reasons.is_empty(),
            reasons,
            causes,
            notes,
            achieved_rate: w.achieved_rate,
            error_rate,
            p50_ms: m.p50_ns as f64 / 1e6,
            p99_ms: m.p99_ns as f64 / 1e6,
            p999_ms: m.p999_ns as f64 / 1e6,
            slo_values,
            steady_from_s: steady_from,
            cut_share,
            vote: 0,
            health: w.health,
            generator_cores: summary.generator.cpu_cores,
            dir: dir.display().to_string(),
        },
        summary,
    ))
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
            let (mut s, summary) = step(&plan, o, phase, steps.len())?;
            s.vote = v;
            first_summary.get_or_insert(summary);
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

/// Never built: a decided rate always has a step on the majority's side.
fn unreachable_step(rate: f64, phase: StepPhase) -> Step {
    Step {
        rate,
        phase,
        passed: false,
        reasons: vec!["no run".into()],
        causes: Vec::new(),
        notes: Vec::new(),
        achieved_rate: 0.0,
        error_rate: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        p999_ms: 0.0,
        slo_values: Vec::new(),
        steady_from_s: None,
        cut_share: 0.0,
        vote: 0,
        health: Health::Healthy,
        generator_cores: 0.0,
        dir: String::new(),
    }
}

/// Where the time went at the first failing rate, compared with the lowest passing one.
fn limiting(steps: &[Step], stopped: Option<&str>) -> String {
    if stopped.is_some_and(|s| s.contains("generator")) {
        return "the generator (schedule lag)".into();
    }
    let passing = steps
        .iter()
        .filter(|s| s.passed)
        .min_by(|a, b| a.rate.total_cmp(&b.rate));
    let failing = steps
        .iter()
        .filter(|s| !s.passed)
        .min_by(|a, b| a.rate.total_cmp(&b.rate));
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
