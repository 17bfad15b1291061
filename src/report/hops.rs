//! The hop table of a pipeline run (`hops` in summary.json): per hop, its share of the
//! end-to-end time (from the per-event hop stages) and its queue over the run (from the
//! depths the collector read each interval), and the hop that limited the run
//! ([`super::limiting`]).

use serde::{Deserialize, Serialize};

use super::hop_evidence::{ClientSummary, NodeSummary, OutsideView};
use crate::engine::Measured;
use crate::plan::Plan;
pub use crate::stats::hops::QueueTrend;
use crate::stats::hops::{Hop, HopPoint};
use crate::stats::{Hists, Stage, StageSummary};

/// The pipeline's hops, upstream first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HopTable {
    /// The producer workloads whose events the hop times are of.
    pub workloads: Vec<String>,
    pub rows: Vec<HopRow>,
    /// The stage the hops split: `e2e.persisted` for producers, `query` for readers.
    #[serde(default = "e2e_persisted")]
    pub e2e_stage: String,
    /// The observed hops' mean times added up, and the mean of the stage they split, ms.
    pub sum_mean_ms: f64,
    pub e2e_mean_ms: f64,
    /// Events whose reply never came: in e2e at a lower bound, in no later hop, so the
    /// sum above no longer splits e2e.
    #[serde(default)]
    pub e2e_censored: u64,
    /// How far a hop boundary's clock may be off eventbench's, ms, and whose clocks.
    pub clock_bound_ms: f64,
    pub clocks: String,
    /// Hops with no evidence in this run, and why.
    #[serde(default)]
    pub unobserved: Vec<String>,
    /// The hop that limited the run, when one did (a saturated run, a failed step).
    #[serde(default)]
    pub limiting: Option<LimitingHop>,
    /// The persistence service's busy handlers over the window (embedded service).
    #[serde(default)]
    pub handlers: Option<QueueTrend>,
    /// The embedded service's mean time sending a reply (inside the reply hop, but its
    /// handler's time), ns.
    #[serde(default)]
    pub reply_send_mean_ns: f64,
    /// Kafka: the producer client's own statistics, per broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientSummary>,
    /// CQL: each store node's own view (Cassandra's `system_views`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeSummary>,
    /// The target's processes on this host, their CPU over the window (cores), and
    /// the host's CPUs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<crate::stats::platform::ProcessCores>,
    #[serde(default)]
    pub cpus: usize,
    /// An external service: its inside as the outside shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside: Option<OutsideView>,
    /// The queue depths per interval.
    #[serde(default)]
    pub timeline: Vec<HopPoint>,
}

fn e2e_persisted() -> String {
    "e2e.persisted".into()
}

/// The verdict: a hop (or the host), the figures that show it, and what to add.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LimitingHop {
    /// A hop's name, or `host`.
    pub hop: String,
    pub evidence: String,
    /// What to scale, in the user's words.
    pub scale: String,
}

/// One hop: its time per event and its queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HopRow {
    pub hop: Hop,
    /// Where the evidence comes from.
    pub measured_by: String,
    /// The hop's own time per event (None: not observed).
    pub time: Option<StageSummary>,
    /// Its mean time over e2e's mean (these add up), and its p50 and p99 over e2e's.
    pub share_mean: f64,
    pub share_p50: f64,
    pub share_p99: f64,
    /// Its queue over the measured window: mean depth of the first and last quarter,
    /// the deepest, and the least-squares growth (events/s).
    pub queue: Option<QueueTrend>,
}

/// The measured intervals' points (no warmup, none of the drain).
pub fn measured<'a>(plan: &Plan, points: &'a [HopPoint]) -> Vec<&'a HopPoint> {
    let end_s = plan.duration_ns as f64 / 1e9;
    points.iter().filter(|p| !p.warmup && p.t_s + 1e-9 < end_s).collect()
}

impl HopTable {
    /// The table of a pipeline run; `None` for runs without a pipeline.
    pub fn build(plan: &Plan, m: &Measured) -> Option<HopTable> {
        if !plan.is_pipeline() {
            return None;
        }
        let producers: Vec<usize> = (0..plan.workloads.len())
            .filter(|w| plan.workloads[*w].kind == crate::scenario::WorkloadKind::Produce)
            .collect();
        let mut h = Hists::new();
        for w in &producers {
            h.add(&m.workloads[*w].totals);
        }
        let of = |s: Stage| {
            let hist = &h.stages[s as usize];
            (!hist.is_empty()).then(|| StageSummary::of(hist))
        };
        let e2e = of(Stage::E2ePersisted).unwrap_or_default();
        let points = measured(plan, &m.hops);
        let embedded = plan.services_embedded();
        let rows: Vec<HopRow> = Hop::ALL
            .iter()
            .map(|hop| {
                HopRow::of(
                    *hop,
                    measured_by(*hop, plan),
                    of(hop.stage()),
                    &e2e,
                    QueueTrend::of(&points, *hop),
                )
            })
            .collect();
        let nodes = super::hop_evidence::nodes(&points);
        let mut unobserved: Vec<String> = rows
            .iter()
            .filter(|r| r.time.is_none() && r.queue.is_none())
            .map(|r| {
                format!(
                    "{}: {}",
                    r.hop.name(),
                    why_unobserved(r.hop, embedded, !nodes.is_empty())
                )
            })
            .collect();
        if plan.target.store == crate::scenario::StoreKind::Scylla && nodes.is_empty() {
            unobserved.push(format!(
                "the store nodes' own view: {}",
                m.nodes_unreadable
                    .as_deref()
                    .unwrap_or("no reading came within the measured window")
            ));
        }
        let kafka = plan.target.log == crate::scenario::LogKind::Kafka;
        let client = super::hop_evidence::client(&points);
        if kafka && client.is_none() {
            unobserved
                .push("the producer client's statistics: librdkafka emitted none within the measured window".into());
        }
        let outside = (!embedded).then(|| outside_view(&rows, &e2e, &points, &nodes, &h, plan));
        Some(HopTable {
            workloads: producers.iter().map(|w| plan.workloads[*w].name.clone()).collect(),
            e2e_stage: e2e_persisted(),
            sum_mean_ms: sum_mean_ms(&rows),
            e2e_mean_ms: e2e.mean_ns / 1e6,
            e2e_censored: h.counters.unanswered,
            clock_bound_ms: clocks(plan).0,
            clocks: clocks(plan).1,
            unobserved,
            limiting: None,
            handlers: QueueTrend::of_series(&points, |p| p.handlers),
            reply_send_mean_ns: of(Stage::HopReplySend).map_or(0.0, |s| s.mean_ns),
            client,
            nodes,
            outside,
            processes: m.platform.as_ref().map_or(Vec::new(), |p| p.target.clone()),
            cpus: m.platform.as_ref().map_or(0, |p| p.cpus),
            timeline: m.hops.clone(),
            rows,
        })
    }

    /// The table for the text report: one line per hop, then the limit.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let censored = if self.e2e_censored > 0 {
            format!(
                "; {} never answered are in e2e at a lower bound and in no later hop",
                self.e2e_censored
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "\nhops of {} ({} mean {:.2} ms; the hops' means add up to {:.2} ms, clocks within {} ms: {}{censored}):",
            self.workloads.join(", "),
            self.e2e_stage,
            self.e2e_mean_ms,
            self.sum_mean_ms,
            self.clock_bound_ms,
            self.clocks
        );
        let _ = writeln!(
            o,
            "  {:<10} {:>10} {:>10} {:>7} {:>7}   queue (first -> last quarter, max, growth)",
            "hop", "p50", "p99", "mean%", "p99%"
        );
        for r in &self.rows {
            let time = r
                .time
                .as_ref()
                .map_or(format!("{:>10} {:>10} {:>7} {:>7}", "-", "-", "-", "-"), |t| {
                    format!(
                        "{:>10} {:>10} {:>6.1}% {:>6.1}%",
                        crate::units::fmt_ns(t.p50_ns),
                        crate::units::fmt_ns(t.p99_ns),
                        100.0 * r.share_mean,
                        100.0 * r.share_p99
                    )
                });
            let queue = r.queue.map_or("not observed".to_string(), |q| {
                format!(
                    "{:.0} -> {:.0}, max {}, {:+.0}/s",
                    q.start, q.end, q.max, q.growth_per_s
                )
            });
            let _ = writeln!(o, "  {:<10} {time}   {queue}", r.hop.name());
        }
        for line in self.evidence_lines() {
            let _ = writeln!(o, "  {line}");
        }
        for u in &self.unobserved {
            let _ = writeln!(o, "  not observed: {u}");
        }
        if let Some(l) = &self.limiting {
            let _ = writeln!(o, "  limiting hop: {}: {}", l.hop, l.evidence);
            let _ = writeln!(o, "  what to scale: {}", l.scale);
        }
        o
    }

    /// The target's own view, one line each: the producer client, the store nodes, an
    /// external service's inside from outside.
    pub fn evidence_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.client {
            out.push(format!("producer client (librdkafka's statistics): {}", c.describe()));
        }
        for n in &self.nodes {
            out.push(format!("store's own view (system_views), {}", n.describe()));
        }
        if let Some(v) = &self.outside {
            out.push(v.describe());
        }
        if !self.processes.is_empty() {
            let each: Vec<String> = self
                .processes
                .iter()
                .map(|p| format!("{} {:.2}", p.name, p.cores))
                .collect();
            out.push(format!(
                "the target's processes on this host, in cores of its {}: {}",
                self.cpus,
                each.join(", ")
            ));
        }
        out
    }

    pub fn row(&self, hop: Hop) -> Option<&HopRow> {
        self.rows.iter().find(|r| r.hop == hop)
    }
}

fn measured_by(hop: Hop, plan: &Plan) -> &'static str {
    match hop {
        Hop::Generator => "eventbench: schedule lag; released operations waiting for a worker",
        Hop::Producer => "eventbench: produce send -> acknowledged; produces in flight",
        Hop::Queue if !plan.services_embedded() => {
            "the service's consumer group lag (committed offsets against the high watermarks)"
        }
        Hop::Queue if plan.target.log == crate::scenario::LogKind::Kafka => {
            "the record's timestamp (the broker's append where eventbench created the topic) -> the service took it"
        }
        Hop::Queue => "the log's append -> the service took it",
        Hop::Service => "the embedded service: taken -> store work begun",
        Hop::Store => "the embedded service: its store work (meta read, insert)",
        Hop::Reply => "the reply's timestamp (its sender's) -> eventbench read it",
        Hop::Turn | Hop::ReplySend => "readers only",
    }
}

impl HopRow {
    /// A hop's row: its time and its shares of `e2e`'s mean, p50 and p99.
    pub fn of(
        hop: Hop,
        measured_by: &str,
        time: Option<StageSummary>,
        e2e: &StageSummary,
        queue: Option<QueueTrend>,
    ) -> HopRow {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        HopRow {
            hop,
            measured_by: measured_by.into(),
            share_mean: time.as_ref().map_or(0.0, |t| ratio(t.mean_ns, e2e.mean_ns)),
            share_p50: time.as_ref().map_or(0.0, |t| ratio(t.p50_ns as f64, e2e.p50_ns as f64)),
            share_p99: time.as_ref().map_or(0.0, |t| ratio(t.p99_ns as f64, e2e.p99_ns as f64)),
            time,
            queue,
        }
    }
}

/// The observed hops' mean times added up, ms.
pub fn sum_mean_ms(rows: &[HopRow]) -> f64 {
    rows.iter()
        .filter_map(|r| r.time.as_ref())
        .map(|t| t.mean_ns)
        .sum::<f64>()
        / 1e6
}

/// How far a hop boundary's clock may be off eventbench's (ms), and whose clocks.
pub fn clocks(plan: &Plan) -> (f64, String) {
    if plan.target.log == crate::scenario::LogKind::Kafka {
        (
            2.0,
            "one host, one clock: eventbench's run clock, and Kafka's record timestamps (ms) at the queue's and the reply's start".into(),
        )
    } else {
        (0.0, "one process, one monotonic clock".into())
    }
}

/// An external service's inside from outside (see [`OutsideView`]).
fn outside_view(
    rows: &[HopRow],
    e2e: &StageSummary,
    points: &[&HopPoint],
    nodes: &[NodeSummary],
    h: &Hists,
    plan: &Plan,
) -> OutsideView {
    let timed: f64 = rows
        .iter()
        .filter(|r| matches!(r.hop, Hop::Generator | Hop::Producer | Hop::Reply))
        .filter_map(|r| r.time.as_ref())
        .map(|t| t.mean_ns)
        .sum();
    let inside_mean_ms = ((e2e.mean_ns - timed) / 1e6).max(0.0);
    let measured_s = (plan.duration_ns.saturating_sub(plan.warmup_ns)) as f64 / 1e9;
    let per_s = |n: u64| n as f64 / measured_s.max(1e-9);
    let (rate, answered) = (
        per_s(h.counters.ok),
        per_s(e2e.count.saturating_sub(h.counters.unanswered)),
    );
    let lag = QueueTrend::of_series(points, |p| p.lag);
    // Served: what came less what piled up in front of the service.
    let served = lag.map_or(answered, |q| (rate - q.growth_per_s.max(0.0)).max(0.0));
    let steady = lag
        .filter(|q| !q.grew((0.01 * rate * measured_s).max(20.0)))
        .filter(|_| rate > 0.0);
    let queue_wait_ms = steady.map(|q| 1000.0 * q.late / rate);
    let in_nodes: f64 = nodes.iter().map(|n| n.in_node).sum();
    OutsideView {
        inside_mean_ms,
        queue_wait_ms,
        handling_ms: queue_wait_ms.map(|w| (inside_mean_ms - w).max(0.0)),
        store_per_event_ms: (!nodes.is_empty() && served > 0.0).then(|| 1000.0 * in_nodes / served),
    }
}

fn why_unobserved(hop: Hop, embedded: bool, nodes: bool) -> &'static str {
    match hop {
        Hop::Queue => "the persistence service is external and its group's lag could not be read",
        Hop::Service | Hop::Store if !embedded && nodes => {
            "the persistence service is external: its handlers and store are not timed apart (its group's lag is the queue; the store nodes' own view is below)"
        }
        Hop::Service | Hop::Store if !embedded => {
            "the persistence service is external: its handlers and store are not observed apart (the queue's depth is its group's lag)"
        }
        Hop::Generator | Hop::Producer => "closed workload: no schedule, no pool",
        _ => "no event crossed it",
    }
}
