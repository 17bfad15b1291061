//! The readers' hop table (`reader_hops` in summary.json): a query through the log
//! and the embedded query service, split as the producers' pipeline is: the schedule,
//! the aggregate's turn, the query topic's queue, the service's handling, its reads,
//! sending its batches, and the last batch's way back. Times only: the query path's
//! queues are not sampled, so a saturated reader names its slowest hop, and says so.

use super::hops::{HopRow, HopTable, LimitingHop};
use super::verdict::Health;
use crate::engine::Measured;
use crate::plan::Plan;
use crate::scenario::{LogKind, WorkloadKind};
use crate::stats::hops::Hop;
use crate::stats::{Hists, Stage, StageSummary};

/// The table of a run whose readers query through the log with the query service
/// answering; `None` otherwise.
pub fn build(plan: &Plan, m: &Measured, health: Health) -> Option<HopTable> {
    if !plan.queries_via_log() || !plan.services_answer() {
        return None;
    }
    let readers: Vec<usize> = (0..plan.workloads.len())
        .filter(|w| plan.workloads[*w].kind == WorkloadKind::Query)
        .collect();
    let mut h = Hists::new();
    for w in &readers {
        h.add(&m.workloads.get(*w)?.totals);
    }
    let of = |s: Stage| {
        let hist = &h.stages[s as usize];
        (!hist.is_empty()).then(|| StageSummary::of(hist))
    };
    let e2e = of(Stage::Query)?;
    let embedded = plan.services_embedded();
    let rows: Vec<HopRow> = Hop::READERS
        .iter()
        .map(|hop| HopRow::of(*hop, measured_by(*hop, plan), of(hop.stage()), &e2e, None))
        .collect();
    let mut unobserved: Vec<String> = rows
        .iter()
        .filter(|r| r.time.is_none())
        .map(|r| format!("{}: {}", r.hop.name(), why_unobserved(r.hop, embedded)))
        .collect();
    unobserved.push(
        "the query's own send (its turn taken -> the log took it): not timed apart; it is what the hops' sum leaves of the query's time".into(),
    );
    unobserved.push("the readers' queues: not sampled, so a saturated reader names its slowest hop".into());
    let mut t = HopTable {
        workloads: readers.iter().map(|w| plan.workloads[*w].name.clone()).collect(),
        e2e_stage: Stage::Query.name().into(),
        sum_mean_ms: super::hops::sum_mean_ms(&rows),
        e2e_mean_ms: e2e.mean_ns / 1e6,
        e2e_censored: h.counters.empty,
        clock_bound_ms: super::hops::clocks(plan).0,
        clocks: super::hops::clocks(plan).1,
        unobserved,
        limiting: None,
        handlers: None,
        reply_send_mean_ns: 0.0,
        client: None,
        nodes: Vec::new(),
        outside: None,
        processes: Vec::new(),
        cpus: 0,
        timeline: Vec::new(),
        rows,
    };
    t.limiting = limiting(&t, health);
    Some(t)
}

/// A saturated reader: its slowest target hop by share of the query's p99, said to be
/// the slowest rather than shown to be the one that filled.
fn limiting(t: &HopTable, health: Health) -> Option<LimitingHop> {
    match health {
        Health::HostLimited | Health::GeneratorLimited => {
            return Some(LimitingHop {
                hop: if health == Health::HostLimited {
                    "host"
                } else {
                    "generator"
                }
                .into(),
                evidence: format!("the readers were {health}"),
                scale: "see the run's health verdict".into(),
            })
        }
        Health::Healthy => return None,
        Health::TargetSaturated => {}
    }
    // The schedule and the aggregate's turn are waits in front of the target: a slow
    // hop behind them lengthens them, so the slowest is sought among the target's.
    let target_rows = HopTable {
        rows: t
            .rows
            .iter()
            .filter(|r| !matches!(r.hop, Hop::Generator | Hop::Turn))
            .cloned()
            .collect(),
        ..t.clone()
    };
    let mut slowest = super::limiting::slowest(&target_rows)?;
    if slowest.hop == Hop::Queue.name() {
        // Queries waiting in front of the query service wait for its handlers: where a
        // handler's time went decides between its own work and its reads.
        let mean = |h: Hop| t.row(h).and_then(|r| r.time.as_ref()).map_or(0.0, |s| s.mean_ns);
        let (store, own) = (mean(Hop::Store), mean(Hop::Service) + mean(Hop::ReplySend));
        let fmt = |ns: f64| crate::units::fmt_ns(ns as u64);
        slowest = LimitingHop {
            hop: if store >= own { Hop::Store } else { Hop::Service }.name().into(),
            evidence: format!(
                "{}: the queries waited in front of the query service, whose handlers spent {} per query on the store and {} on their own work (reads begun late, batches sent)",
                slowest.evidence.trim_start_matches("no hop's queue grew; "),
                fmt(store),
                fmt(own)
            ),
            scale: String::new(),
        };
    }
    let scale = match slowest.hop.as_str() {
        "store" => {
            "the store's reads: store nodes, or a schema whose queries read fewer rows (schema = \"per-aggregate\")"
        }
        "service" | "reply.send" => {
            "query service instances (the query topic's partitions bound how many consume at once)"
        }
        "queue" => "the query topic's delivery to the service: more partitions and service instances",
        "turn" => "queries of one aggregate wait for each other: a v2.1.1 reader with `overlap`, or more aggregates",
        "reply" => "the reply path: the reply topics, or eventbench's listener (generator threads)",
        _ => "the readers' target",
    };
    Some(LimitingHop {
        hop: slowest.hop,
        evidence: format!(
            "the readers were target-saturated; their queues are not sampled, so the slowest hop is named: {}",
            slowest.evidence.trim_start_matches("no hop's queue grew; ")
        ),
        scale: scale.into(),
    })
}

fn measured_by(hop: Hop, plan: &Plan) -> &'static str {
    match hop {
        Hop::Generator => "eventbench: schedule lag",
        Hop::Turn => "eventbench: the aggregate's previous query still answering (query.turn)",
        Hop::Queue if plan.target.log == LogKind::Kafka => {
            "the query record's timestamp (the broker's append where eventbench created the topic) -> the query service took it"
        }
        Hop::Queue => "the log's append -> the query service took it",
        Hop::Service => "the embedded query service: taken -> its reads begun",
        Hop::Store => "the embedded query service: its reads (and the epoch's compare-and-set)",
        Hop::ReplySend => "the embedded query service: reads done -> its last batch acknowledged",
        Hop::Reply => "the last batch's timestamp (its sender's) -> eventbench read it",
        Hop::Producer => "not a readers' hop",
    }
}

fn why_unobserved(hop: Hop, embedded: bool) -> &'static str {
    match hop {
        Hop::Queue | Hop::Service | Hop::Store | Hop::ReplySend if !embedded => {
            "the query service is external: its inside is not observed"
        }
        Hop::Turn => "no query waited for its aggregate's turn (v2.1.1 queries with overlap take none)",
        _ => "no query crossed it (v2.0.1 queries carry no correlation id to attribute it by)",
    }
}
