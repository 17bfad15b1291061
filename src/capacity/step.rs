//! One step of a capacity search: a full run at one rate, judged after its steady-state
//! cut, and the record of it that capacity.json keeps.

use serde::{Deserialize, Serialize};

use super::{steady, Options, MAX_CUT_SHARE};
use crate::plan::Plan;
use crate::report::limiting::LimitingHop;
use crate::report::summary::{Health, WorkloadSummary};
use crate::report::{RunDir, Summary};
use crate::run::{run_to_dir, RunOptions};
use crate::stats::{Stage, StageSummary};
use crate::thresholds::Observed;

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
    /// A backlog (operations in flight, or the pipeline's queues) grew through the
    /// judged window.
    Growing,
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
    /// The hiccup meter's wake-ups 10 ms or more late inside the judged window.
    #[serde(default)]
    pub host_stalls: u64,
    /// Why this run was set aside and run again (the host held it); it decided nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_aside: Option<String>,
    pub health: Health,
    pub generator_cores: f64,
    /// The host's cores busy during the run (every process, and the hypervisor's
    /// steal), of `host_cpus`: where a sizing run's host, not the target, was the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_busy_cores: Option<f64>,
    #[serde(default)]
    pub host_cpus: usize,
    pub dir: String,
    /// A failed step's limiting hop, from its run's hop table (pipeline runs): the
    /// saturated hop, or else the slowest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiting_hop: Option<LimitingHop>,
}

impl Step {
    /// Why the host, not the target, may have failed this step; `None` when it passed
    /// or nothing outside the target was seen.
    pub fn held_by_host(&self) -> Option<String> {
        if self.passed {
            return None;
        }
        if self.health == Health::HostLimited {
            return Some("the run was host-limited (the machine held the generator)".into());
        }
        (self.host_stalls > 0).then(|| {
            format!(
                "the hiccup meter woke 10 ms or more late {} time(s) inside the judged window (the machine held the process)",
                self.host_stalls
            )
        })
    }

    /// The step's verdict in a few words, as every view shows it.
    pub fn verdict(&self) -> String {
        let v = if self.passed {
            "pass".to_string()
        } else {
            let hop = self
                .limiting_hop
                .as_ref()
                .map_or(String::new(), |h| format!(" [limiting hop: {}]", h.hop));
            format!("FAIL: {}{hop}", self.reasons.join("; "))
        };
        match &self.set_aside {
            Some(why) => format!("set aside, run again ({why}); was {v}"),
            None => v,
        }
    }
}

/// Runs one step and judges it.
pub(super) fn step(plan: &Plan, o: &Options, phase: StepPhase, n: usize) -> Result<(Step, Summary), String> {
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
    let settled = Settled::of(plan, o, w, &run_dir)?;
    let verdict = judge(plan, o, w, &summary, &settled);
    let mut notes = Vec::new();
    if settled.steady_from.is_none() {
        // Judged from the warmup's end then; a backlog shows as rising latency or as
        // missed SLOs, so not settling alone does not fail a step.
        notes.push(format!(
            "not settled within {:.0}% of the step: judged from the end of the warmup",
            MAX_CUT_SHARE * 100.0
        ));
    }
    let main = crate::plan::main_stage(w.kind).0;
    let m = settled.stage(main).unwrap_or_default();
    let passed = verdict.reasons.is_empty();
    let platform = summary.platform.as_ref();
    let step = Step {
        rate,
        phase,
        passed,
        reasons: verdict.reasons,
        causes: verdict.causes,
        notes,
        achieved_rate: w.achieved_rate,
        error_rate: verdict.error_rate,
        p50_ms: m.p50_ns as f64 / 1e6,
        p99_ms: m.p99_ns as f64 / 1e6,
        p999_ms: m.p999_ns as f64 / 1e6,
        slo_values: verdict.slo_values,
        steady_from_s: settled.steady_from,
        cut_share: settled.cut_share,
        vote: 0,
        host_stalls: host_stalls(&summary, settled.from_s, plan.duration_ns),
        set_aside: None,
        health: w.health,
        generator_cores: summary.generator.cpu_cores,
        host_busy_cores: platform.and_then(|p| p.cores.as_ref()).map(|c| c.busy + c.steal),
        host_cpus: platform.map_or(0, |p| p.cpus),
        dir: dir.display().to_string(),
        limiting_hop: if passed { None } else { limiting_hop(&summary, w.kind) },
    };
    Ok((step, summary))
}

/// The part of a step it is judged on: its whole measured intervals, and its
/// histograms from where it settled (the steady-state cut) on.
struct Settled {
    points: Vec<crate::stats::timeline::IntervalPoint>,
    steady_from: Option<f64>,
    from_s: f64,
    cut_share: f64,
    hists: std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
}

impl Settled {
    fn of(plan: &Plan, o: &Options, w: &WorkloadSummary, run_dir: &RunDir) -> Result<Settled, String> {
        let warmup_s = plan.warmup_ns as f64 / 1e9;
        // Whole intervals only: the last one, cut short by the run's end, holds a few
        // stragglers and says nothing about the step.
        let nominal = plan.interval_ns as f64 / 1e9;
        let end_s = plan.duration_ns as f64 / 1e9;
        let points: Vec<_> = w
            .timeline
            .iter()
            .filter(|p| !p.warmup && p.length_s >= 0.5 * nominal && p.t_s + 1e-9 < end_s)
            .cloned()
            .collect();
        let steady_from = steady::cut(&points, MAX_CUT_SHARE);
        let from_s = steady_from.unwrap_or(warmup_s).max(warmup_s);
        let intervals = run_dir.read_intervals().map_err(|e| e.to_string())?;
        Ok(Settled {
            steady_from,
            from_s,
            cut_share: (from_s - warmup_s) / (o.step_ns as f64 / 1e9),
            hists: crate::stats::hlog::stages_after(&intervals, &o.workload, from_s),
            points,
        })
    }

    fn stage(&self, s: Stage) -> Option<StageSummary> {
        self.hists.get(s.name()).map(StageSummary::of)
    }
}

/// Why a step failed (nothing: it passed), each with its cause, and each SLO's value.
struct Verdict {
    reasons: Vec<String>,
    causes: Vec<Cause>,
    slo_values: Vec<String>,
    error_rate: f64,
}

impl Verdict {
    fn fail(&mut self, cause: Cause, why: String) {
        self.causes.push(cause);
        self.reasons.push(why);
    }
}

/// The step against the SLOs, its throughput, errors and backlog, and whether its
/// latency or queues were still growing.
fn judge(plan: &Plan, o: &Options, w: &WorkloadSummary, summary: &Summary, settled: &Settled) -> Verdict {
    let errors: u64 = w.errors.values().sum();
    let error_rate = if w.ops == 0 { 0.0 } else { errors as f64 / w.ops as f64 };
    let mut v = Verdict {
        reasons: Vec::new(),
        causes: Vec::new(),
        slo_values: Vec::new(),
        error_rate,
    };
    let stage = |s: Stage| settled.stage(s);
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
            Some((value, ok)) => {
                v.slo_values.push(format!("{} = {}", slo.key, slo.show(value)));
                if !ok {
                    let why = format!("{} {} (was {})", slo.key, slo.condition, slo.show(value));
                    v.fail(Cause::Slo, why);
                }
            }
            None => v.fail(Cause::Missing, format!("{}: no such measurement", slo.key)),
        }
    }
    if w.achieved_rate < 0.99 * w.target_rate {
        let why = format!("achieved {:.1}/s < 99% of {:.1}/s", w.achieved_rate, w.target_rate);
        v.fail(Cause::Throughput, why);
    }
    if error_rate > o.error_limit {
        let why = format!("errors {:.3}% > {:.3}%", error_rate * 100.0, o.error_limit * 100.0);
        v.fail(Cause::Errors, why);
    }
    if w.unanswered + w.abandoned + w.dropped > 0 {
        let why = format!(
            "backlog: {} unanswered, {} abandoned, {} dropped",
            w.unanswered, w.abandoned, w.dropped
        );
        v.fail(Cause::Backlog, why);
    }
    if let Some(why) = steady::rising(&settled.points) {
        v.fail(Cause::Rising, why);
    }
    let hops = summary.hops.as_ref();
    for why in backlog_trends(&w.timeline, hops, settled.from_s, plan.duration_ns, w.target_rate) {
        v.fail(Cause::Growing, why);
    }
    v
}

/// The hiccup meter's late wake-ups inside the window the step is judged on.
fn host_stalls(summary: &Summary, from_s: f64, duration_ns: u64) -> u64 {
    let end_s = duration_ns as f64 / 1e9;
    summary.platform.as_ref().map_or(0, |p| {
        p.stalls
            .iter()
            .filter(|st| st.at_s >= from_s && st.at_s < end_s)
            .count() as u64
    })
}

/// A failed step's limiting hop from the searched workload's own table (the readers'
/// for a reader): the saturated hop, or else the slowest.
fn limiting_hop(summary: &Summary, kind: crate::scenario::WorkloadKind) -> Option<LimitingHop> {
    let t = match kind {
        crate::scenario::WorkloadKind::Query => summary.reader_hops.as_ref(),
        _ => summary.hops.as_ref(),
    }?;
    t.limiting.clone().or_else(|| crate::report::limiting::slowest(t))
}

/// The judged window's backlog trends: the workload's operations in flight, and for a
/// pipeline the queues behind the producer (the log's queue, the service, the store,
/// the replies), each sampled where an interval closed from `from_s` to the schedule's
/// end.
fn backlog_trends(
    timeline: &[crate::stats::timeline::IntervalPoint],
    hops: Option<&crate::report::hops::HopTable>,
    from_s: f64,
    duration_ns: u64,
    offered: f64,
) -> Vec<String> {
    let end_s = duration_ns as f64 / 1e9 + 1e-6;
    let inside = |t0: f64, len: f64| t0 + len >= from_s - 1e-6 && t0 + len <= end_s;
    let in_flight: Vec<(f64, f64)> = timeline
        .iter()
        .filter(|p| inside(p.t_s, p.length_s))
        .filter_map(|p| Some((p.t_s + p.length_s, p.in_flight? as f64)))
        .collect();
    let queues: Vec<(f64, f64)> = hops
        .map(|h| h.timeline.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|p| inside(p.t_s, p.length_s))
        .filter_map(|p| {
            let depth = [
                p.queue?,
                p.service.unwrap_or(0),
                p.store.unwrap_or(0),
                p.reply.unwrap_or(0),
            ];
            Some((p.t_s + p.length_s, depth.iter().sum::<u64>() as f64))
        })
        .collect();
    [
        steady::growing(&in_flight, offered, "operations in flight"),
        steady::growing(&queues, offered, "events queued behind the producer"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A step with nothing in it but its rate and phase, for the search's tests.
#[cfg(test)]
pub(super) fn blank(rate: f64, phase: StepPhase) -> Step {
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
        host_stalls: 0,
        set_aside: None,
        health: Health::Healthy,
        generator_cores: 0.0,
        host_busy_cores: None,
        host_cpus: 0,
        limiting_hop: None,
        dir: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(passed: bool, health: Health, host_stalls: u64) -> Step {
        Step {
            passed,
            health,
            host_stalls,
            ..blank(1000.0, StepPhase::Ladder)
        }
    }

    #[test]
    fn only_a_failure_with_the_host_s_evidence_is_held_by_it() {
        // The meter stalled, or the verdict names the host: the failure is not the target's.
        let stalled = step(false, Health::Healthy, 2).held_by_host().expect("held");
        assert!(stalled.contains("2 time(s)"), "{stalled}");
        assert!(step(false, Health::HostLimited, 0).held_by_host().is_some());
        // A failure without it is the target's; a pass despite a pause stands.
        assert_eq!(step(false, Health::TargetSaturated, 0).held_by_host(), None);
        assert_eq!(step(true, Health::HostLimited, 3).held_by_host(), None);
        let mut aside = step(false, Health::Healthy, 1);
        aside.set_aside = aside.held_by_host();
        assert!(
            aside.verdict().starts_with("set aside, run again (the hiccup meter"),
            "{}",
            aside.verdict()
        );
    }
}
