//! Building a run's summary from what the engine measured: per workload its stages,
//! counts and health verdict, the thresholds judged, the hop table. Apart from the
//! summary's types (report/summary.rs) so that the verdicts it calls never import the
//! summary back.

use std::collections::BTreeMap;

use super::platform::{HostEvidence, PlatformSummary};
use super::summary::*;
use super::verdict::{answered, completed, health, Evidence, Health, LAG_BOUND_NS};
use crate::audit::AuditReport;
use crate::engine::{Measured, WorkloadMeasured};
use crate::host::Host;
use crate::model::GoTime;
use crate::plan::main_stage;
use crate::plan::{Load, Plan, WorkloadPlan};
use crate::stats::timeline::{disruptions, schedule_stalls};
use crate::stats::{ErrorClass, Stage, StageSummary};
use crate::thresholds::{Bound, Metric, Observed, Threshold, Verdict};

impl Summary {
    pub fn build(plan: &Plan, m: &Measured, audit: Option<AuditReport>) -> Summary {
        let measured_ns = m.elapsed_ns.min(plan.duration_ns).saturating_sub(plan.warmup_ns).max(1);
        let window = Window {
            plan,
            m,
            measured_s: measured_ns as f64 / 1e9,
            platform: m.platform.as_ref().map(PlatformSummary::of),
        };
        let workloads = plan
            .workloads
            .iter()
            .zip(&m.workloads)
            .map(|(wp, wm)| (wp.name.clone(), window.workload(wp, wm)))
            .collect();
        let elapsed_s = m.elapsed_ns as f64 / 1e9;
        let (scenario, secrets) = ScenarioInfo::with_secrets(plan);
        let mut summary = Summary {
            schema_version: SCHEMA_VERSION,
            eventbench_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario,
            started_at: GoTime::from_unix_nanos(m.started_wall_ns).to_string(),
            run_tag: format!("{:012x}", m.run_tag),
            elapsed_s,
            measured_s: window.measured_s,
            interrupted: m.interrupted.clone(),
            aborted: m.aborted.clone(),
            host: Host::detect(),
            generator: GeneratorUse {
                threads: plan.threads,
                cpu_seconds: m.generator_cpu_s(),
                cpu_cores: if elapsed_s > 0.0 {
                    m.generator_cpu_s() / elapsed_s
                } else {
                    0.0
                },
                meter_cpu_seconds: m.platform.as_ref().map_or(0.0, |p| p.meter_cpu_s),
            },
            workloads,
            services: Services {
                persistence: m.persistence.clone(),
                query: m.query_service.clone(),
                malformed_replies: m.strays.malformed,
                foreign_replies: m.strays.foreign,
            },
            audit,
            thresholds: Vec::new(),
            shard: (plan.shard.count > 1).then(|| format!("{}/{}", plan.shard.index, plan.shard.count)),
            merged_from: Vec::new(),
            incomplete: None,
            provenance: Provenance::detect(),
            platform: window.platform,
            faults: super::faults::records(plan, m, &secrets),
            prefill: None,
            hops: None,
            reader_hops: None,
        };
        summary.hops = hop_table(plan, m, &summary);
        summary.reader_hops = reader_table(plan, m, &summary);
        summary.thresholds = evaluate(&plan.thresholds, &summary);
        summary
    }
}

/// What every workload's summary is judged within: the run and its measured window.
struct Window<'a> {
    plan: &'a Plan,
    m: &'a Measured,
    measured_s: f64,
    platform: Option<PlatformSummary>,
}

/// A workload's rates: what the plan asked, what the schedule offered, what was done.
struct Rates {
    model: LoadModel,
    target: f64,
    offered: f64,
    achieved: f64,
}

impl Window<'_> {
    /// One workload's summary: its stages, counts, rates and health.
    fn workload(&self, wp: &WorkloadPlan, wm: &WorkloadMeasured) -> WorkloadSummary {
        let c = &wm.totals.counters;
        let rates = self.rates(wp, wm);
        let stages = stages(wp, wm);
        let evidence = Evidence::of(
            self.plan,
            wp,
            wm,
            &stages,
            (rates.offered, self.generator_busy()),
            self.platform.as_ref().map(|p| p.evidence()),
        );
        let (health, health_reason) = health(wp, &evidence);
        WorkloadSummary {
            kind: wp.kind,
            source: wp.replay.as_ref().map(|r| r.source()),
            model: rates.model,
            target_rate: rates.target,
            achieved_rate: rates.achieved,
            ops: evidence.ops,
            ok: c.ok,
            late: c.late,
            dropped: wm.dropped,
            abandoned: wm.abandoned,
            unanswered: wm.unanswered,
            workers: wm.workers_started,
            censored: c.censored,
            offered_rate: rates.offered,
            rejected_replies: c.rejected_replies,
            errors: ErrorClass::ALL
                .iter()
                .map(|e| (e.name().to_string(), c.errors[*e as usize]))
                .filter(|(_, n)| *n > 0)
                .collect(),
            rows: c.rows,
            late_rows: c.late_rows,
            bytes: c.bytes,
            empty: c.empty,
            disruptions: disruptions(&wm.timeline),
            stalls: evidence.stalls.clone(),
            health,
            health_reason,
            stages,
            timeline: wm.timeline.clone(),
        }
    }

    fn rates(&self, wp: &WorkloadPlan, wm: &WorkloadMeasured) -> Rates {
        let (plan, m, measured_s) = (self.plan, self.m, self.measured_s);
        let c = &wm.totals.counters;
        // Every operation intended in the window ends in one outcome.
        let ops = c.ok + c.error_total() + c.censored;
        let achieved = c.ok as f64 / measured_s;
        match &wp.load {
            Load::Open { profile, .. } => {
                let end = plan.duration_ns.min(m.elapsed_ns.max(plan.warmup_ns));
                let asked = profile.count_at(end) - profile.count_at(plan.warmup_ns);
                Rates {
                    model: LoadModel::Open,
                    target: asked / measured_s / plan.shard.count as f64,
                    // What the schedule actually offered (a Poisson schedule's realised count).
                    offered: ops as f64 / measured_s,
                    achieved,
                }
            }
            Load::Closed { .. } => Rates {
                model: LoadModel::Closed,
                target: 0.0,
                offered: 0.0,
                achieved,
            },
        }
    }

    /// The process used 80% or more of its threads' CPU over the run.
    fn generator_busy(&self) -> bool {
        let m = self.m;
        m.elapsed_ns > 0 && m.generator_cpu_s() / (m.elapsed_ns as f64 / 1e9) >= 0.8 * self.plan.threads.max(1) as f64
    }
}

/// A workload's stages with what was censored in each: its main stage's censored
/// operations, the dropped ones' lag (the time they had waited), the unanswered events'
/// end-to-end times.
fn stages(wp: &WorkloadPlan, wm: &WorkloadMeasured) -> BTreeMap<String, StageSummary> {
    let (h, c) = (&wm.totals, &wm.totals.counters);
    let (main, _) = main_stage(wp.kind);
    Stage::ALL
        .iter()
        .filter(|s| !h.stages[**s as usize].is_empty())
        .map(|s| {
            let censored = match *s {
                s if s == main => c.censored,
                Stage::Lag => wm.dropped,
                Stage::E2e | Stage::E2ePersisted => c.unanswered,
                _ => 0,
            };
            let st = StageSummary::of(&h.stages[*s as usize]).censored(censored);
            (s.name().to_string(), st)
        })
        .collect()
}

impl Evidence {
    /// What a workload's health is judged on. `offered` is its offered rate; `busy`
    /// whether the generator's threads were busy over the run.
    fn of(
        plan: &Plan,
        wp: &WorkloadPlan,
        wm: &WorkloadMeasured,
        stages: &BTreeMap<String, StageSummary>,
        (offered, busy): (f64, bool),
        host: Option<HostEvidence>,
    ) -> Evidence {
        let (h, c) = (&wm.totals, &wm.totals.counters);
        let (_, service) = main_stage(wp.kind);
        let p99 = |s: Stage| stages.get(s.name()).map_or(0, |s| s.p99_ns);
        let lag = &h.stages[Stage::Lag as usize];
        Evidence {
            ops: c.ok + c.error_total() + c.censored,
            ok: c.ok,
            errors: c.error_total(),
            censored: c.censored,
            empty: c.empty,
            waiting_for_turns: offered * stages.get(Stage::QueryTurn.name()).map_or(0.0, |s| s.mean_ns / 1e9),
            unanswered: c.unanswered,
            lag_p99_ns: p99(Stage::Lag),
            service_p99_ns: p99(service),
            waited_for_worker: wm.waited_for_worker,
            completed: completed(&wm.timeline, plan),
            answered: [Stage::E2e, Stage::E2ePersisted]
                .iter()
                .any(|s| stages.contains_key(s.name()))
                .then(|| answered(&wm.timeline, plan))
                .flatten(),
            offered_rate: offered,
            generator_busy: busy,
            late_share: if lag.is_empty() {
                0.0
            } else {
                1.0 - lag.count_between(0, LAG_BOUND_NS) as f64 / lag.len() as f64
            },
            stalls: schedule_stalls(&wm.timeline, LAG_BOUND_NS),
            measured_intervals: wm.timeline.iter().filter(|p| !p.warmup && p.target_rate > 0.0).count(),
            host,
        }
    }
}

/// The pipeline's hop table with its limiting hop, judged on the producers' evidence.
fn hop_table(plan: &Plan, m: &Measured, s: &Summary) -> Option<super::hops::HopTable> {
    let mut table = super::hops::HopTable::build(plan, m)?;
    let producers: Vec<&WorkloadSummary> = table.workloads.iter().filter_map(|n| s.workloads.get(n)).collect();
    let health = producers
        .iter()
        .map(|w| w.health)
        .max_by_key(|h| rank(*h))
        .unwrap_or(Health::Healthy);
    let context = super::limiting::Context {
        plan,
        health,
        offered_rate: producers.iter().map(|w| w.offered_rate).sum(),
        measured_s: s.measured_s,
        generator_cores: s.generator.cpu_cores,
        ops: producers.iter().map(|w| w.ops).sum(),
        overloaded: producers
            .iter()
            .map(|w| {
                w.errors
                    .get(crate::stats::ErrorClass::Overload.name())
                    .copied()
                    .unwrap_or(0)
            })
            .sum(),
    };
    table.limiting = super::limiting::limiting(&table, &context);
    Some(table)
}

/// The readers' hop table, judged on the readers' worst health.
fn reader_table(plan: &Plan, m: &Measured, s: &Summary) -> Option<super::hops::HopTable> {
    let health = s
        .workloads
        .values()
        .filter(|w| w.kind == crate::scenario::WorkloadKind::Query)
        .map(|w| w.health)
        .max_by_key(|h| rank(*h))
        .unwrap_or(Health::Healthy);
    super::reader_hops::build(plan, m, health)
}

fn rank(h: Health) -> u8 {
    match h {
        Health::Healthy => 0,
        Health::TargetSaturated => 1,
        Health::GeneratorLimited => 2,
        Health::HostLimited => 3,
    }
}

/// Judges every threshold against a finished run's summary.
pub fn evaluate(thresholds: &[Threshold], s: &Summary) -> Vec<Verdict> {
    thresholds
        .iter()
        .map(|t| {
            let judged = match (&t.metric, t.workload().and_then(|w| s.workloads.get(w))) {
                (Metric::Audit { field }, _) => s.audit.as_ref().map(|a| {
                    let v = match field.as_str() {
                        "lost" => a.lost,
                        "duplicates" => a.duplicates,
                        "errors" => a.errors,
                        "hidden" => a.hidden,
                        "unanswered" => a.unanswered,
                        "pending" => a.pending,
                        "backlog" => a.backlog,
                        "requeried" => a.requeried,
                        _ => a.redelivered,
                    } as f64;
                    let bound = match t.bound {
                        Bound::Value(b) | Bound::OfTarget(b) => b,
                    };
                    (v, t.op.holds(v, bound))
                }),
                (_, Some(w)) => {
                    let stage = |st: Stage| w.stages.get(st.name()).cloned();
                    t.judge(&Observed {
                        stage: &stage,
                        ops: w.ops,
                        errors: w.errors.values().sum(),
                        late: w.late,
                        achieved_rate: w.achieved_rate,
                        // Against what was offered: a Poisson run's realised schedule.
                        target_rate: if w.offered_rate > 0.0 {
                            w.offered_rate
                        } else {
                            w.target_rate
                        },
                    })
                }
                _ => None,
            };
            match judged {
                Some((v, ok)) => Verdict {
                    threshold: t.key.clone(),
                    condition: t.condition.clone(),
                    actual: t.show(v),
                    passed: ok,
                    note: None,
                },
                None => Verdict {
                    threshold: t.key.clone(),
                    condition: t.condition.clone(),
                    actual: "n/a".into(),
                    passed: false,
                    note: Some("the run has no such measurement".into()),
                },
            }
        })
        .collect()
}
