//! Building a run's summary from what the engine measured: per workload its stages,
//! counts and health verdict, the thresholds judged, the hop table. Apart from the
//! summary's types (report/summary.rs) so that the verdicts it calls never import the
//! summary back.

use std::collections::BTreeMap;

use super::platform::PlatformSummary;
use super::summary::*;
use super::verdict::{answered, completed, health, Evidence, Health, LAG_BOUND_NS};
use crate::audit::AuditReport;
use crate::engine::Measured;
use crate::host::Host;
use crate::model::GoTime;
use crate::plan::main_stage;
use crate::plan::{Load, Plan};
use crate::stats::timeline::{disruptions, schedule_stalls};
use crate::stats::{ErrorClass, Stage, StageSummary};
use crate::thresholds::{Bound, Metric, Observed, Threshold, Verdict};

impl Summary {
    pub fn build(plan: &Plan, m: &Measured, audit: Option<AuditReport>) -> Summary {
        let measured_ns = m.elapsed_ns.min(plan.duration_ns).saturating_sub(plan.warmup_ns).max(1);
        let measured_s = measured_ns as f64 / 1e9;
        let mut workloads = BTreeMap::new();
        let platform = m.platform.as_ref().map(PlatformSummary::of);
        for (w, wp) in plan.workloads.iter().enumerate() {
            let h = &m.totals[w];
            let stages: BTreeMap<String, StageSummary> = Stage::ALL
                .iter()
                .filter(|s| !h.stages[**s as usize].is_empty())
                .map(|s| (s.name().to_string(), StageSummary::of(&h.stages[*s as usize])))
                .collect();
            let errors = ErrorClass::ALL
                .iter()
                .map(|c| (c.name().to_string(), h.counters.errors[*c as usize]))
                .filter(|(_, n)| *n > 0)
                .collect();
            let (main, service) = main_stage(wp.kind);
            let c = &h.counters;
            // Every operation intended in the window ends in one outcome.
            let ops = c.ok + c.error_total() + c.censored;
            let achieved_rate = c.ok as f64 / measured_s;
            let (target_rate, model) = match &wp.load {
                Load::Open { profile, .. } => {
                    let end = plan.duration_ns.min(m.elapsed_ns.max(plan.warmup_ns));
                    (
                        (profile.count_at(end) - profile.count_at(plan.warmup_ns))
                            / measured_s
                            / plan.shard.count as f64,
                        LoadModel::Open,
                    )
                }
                Load::Closed { .. } => (0.0, LoadModel::Closed),
            };
            // What the schedule actually offered (a Poisson schedule's realised count).
            let offered_rate = match model {
                LoadModel::Open => ops as f64 / measured_s,
                LoadModel::Closed => 0.0,
            };
            let stages: BTreeMap<String, StageSummary> = stages
                .into_iter()
                .map(|(name, st)| {
                    let censored = if name == main.name() {
                        c.censored
                    } else if name == Stage::Lag.name() {
                        // Dropped operations' lag is the time they had waited.
                        m.dropped[w]
                    } else if name == Stage::E2e.name() || name == Stage::E2ePersisted.name() {
                        c.unanswered
                    } else {
                        0
                    };
                    (name, st.censored(censored))
                })
                .collect();
            let evidence = Evidence {
                ops,
                ok: c.ok,
                errors: c.error_total(),
                censored: c.censored,
                empty: c.empty,
                waiting_for_turns: offered_rate * stages.get(Stage::QueryTurn.name()).map_or(0.0, |s| s.mean_ns / 1e9),
                unanswered: c.unanswered,
                lag_p99_ns: stages.get(Stage::Lag.name()).map_or(0, |s| s.p99_ns),
                service_p99_ns: stages.get(service.name()).map_or(0, |s| s.p99_ns),
                waited_for_worker: m.waited_for_worker.get(w).copied().unwrap_or(0),
                completed: completed(&m.timeline[w], plan),
                answered: [Stage::E2e, Stage::E2ePersisted]
                    .iter()
                    .any(|s| stages.contains_key(s.name()))
                    .then(|| answered(&m.timeline[w], plan))
                    .flatten(),
                offered_rate,
                generator_busy: m.elapsed_ns > 0
                    && m.generator_cpu_s() / (m.elapsed_ns as f64 / 1e9) >= 0.8 * plan.threads.max(1) as f64,
                late_share: {
                    let lag = &h.stages[Stage::Lag as usize];
                    if lag.is_empty() {
                        0.0
                    } else {
                        1.0 - lag.count_between(0, LAG_BOUND_NS) as f64 / lag.len() as f64
                    }
                },
                stalls: schedule_stalls(&m.timeline[w], LAG_BOUND_NS),
                measured_intervals: m.timeline[w]
                    .iter()
                    .filter(|p| !p.warmup && p.target_rate > 0.0)
                    .count(),
                host: platform.as_ref().map(|p| p.evidence()),
            };
            let (health, health_reason) = health(wp, &evidence);
            workloads.insert(
                wp.name.clone(),
                WorkloadSummary {
                    kind: wp.kind,
                    model,
                    target_rate,
                    achieved_rate,
                    ops,
                    ok: h.counters.ok,
                    late: h.counters.late,
                    dropped: m.dropped[w],
                    abandoned: m.abandoned[w],
                    unanswered: m.unanswered[w],
                    workers: m.workers_started.get(w).copied().unwrap_or(0),
                    censored: c.censored,
                    offered_rate,
                    rejected_replies: c.rejected_replies,
                    errors,
                    rows: h.counters.rows,
                    late_rows: h.counters.late_rows,
                    bytes: h.counters.bytes,
                    empty: h.counters.empty,
                    disruptions: disruptions(&m.timeline[w]),
                    stalls: evidence.stalls.clone(),
                    health,
                    health_reason,
                    stages,
                    timeline: m.timeline[w].clone(),
                },
            );
        }
        let elapsed_s = m.elapsed_ns as f64 / 1e9;
        let (scenario, secrets) = ScenarioInfo::with_secrets(plan);
        let mut summary = Summary {
            schema_version: SCHEMA_VERSION,
            eventbench_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario,
            started_at: GoTime::from_unix_nanos(m.started_wall_ns).to_string(),
            run_tag: format!("{:012x}", m.run_tag),
            elapsed_s,
            measured_s,
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
            platform,
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
