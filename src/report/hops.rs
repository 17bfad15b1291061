//! The hop table of a pipeline run (`hops` in summary.json): per hop, its share of the
//! end-to-end time (from the per-event hop stages) and its queue over the run (from the
//! depths the collector read each interval), and the hop that limited the run
//! ([`super::limiting`]).

use serde::{Deserialize, Serialize};

use crate::engine::Measured;
use crate::plan::Plan;
use crate::stats::hops::{slope, Hop, HopPoint};
use crate::stats::{Hists, Stage, StageSummary};

/// The pipeline's hops, upstream first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HopTable {
    /// The producer workloads whose events the hop times are of.
    pub workloads: Vec<String>,
    pub rows: Vec<HopRow>,
    /// The observed hops' mean times added up, and the e2e.persisted mean they split, ms.
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
    /// The queue depths per interval.
    #[serde(default)]
    pub timeline: Vec<HopPoint>,
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

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct QueueTrend {
    pub start: f64,
    pub end: f64,
    /// Mean depth over the window's second half (steadier than a quarter's few points).
    #[serde(default)]
    pub late: f64,
    pub max: u64,
    pub growth_per_s: f64,
}

impl QueueTrend {
    /// The trend of one hop's depths over the measured intervals; `None` when the hop
    /// is not observed or fewer than two intervals were measured.
    pub fn of(points: &[&HopPoint], hop: Hop) -> Option<QueueTrend> {
        QueueTrend::of_series(points, |p| p.depth(hop))
    }

    /// The trend of any per-interval count.
    pub fn of_series(points: &[&HopPoint], depth: impl Fn(&HopPoint) -> Option<u64>) -> Option<QueueTrend> {
        let ys: Vec<f64> = points
            .iter()
            .map(|p| depth(p).map(|d| d as f64))
            .collect::<Option<_>>()?;
        if ys.len() < 2 {
            return None;
        }
        let xs: Vec<f64> = points.iter().map(|p| p.t_s + p.length_s).collect();
        let q = ys.len().div_ceil(4);
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        Some(QueueTrend {
            start: mean(&ys[..q]),
            end: mean(&ys[ys.len() - q..]),
            late: mean(&ys[ys.len() / 2..]),
            max: ys.iter().fold(0.0f64, |a, b| a.max(*b)) as u64,
            growth_per_s: slope(&xs, &ys),
        })
    }

    /// Grew through the window by more than noise: a rising fit, and the last quarter
    /// above the first by at least `floor` events.
    pub fn grew(&self, floor: f64) -> bool {
        self.growth_per_s > 0.0 && self.end - self.start >= floor
    }
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
            h.add(&m.totals[*w]);
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
                let time = of(hop.stage());
                let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
                HopRow {
                    hop: *hop,
                    measured_by: measured_by(*hop, plan).into(),
                    share_mean: time.as_ref().map_or(0.0, |t| ratio(t.mean_ns, e2e.mean_ns)),
                    share_p50: time.as_ref().map_or(0.0, |t| ratio(t.p50_ns as f64, e2e.p50_ns as f64)),
                    share_p99: time.as_ref().map_or(0.0, |t| ratio(t.p99_ns as f64, e2e.p99_ns as f64)),
                    time,
                    queue: QueueTrend::of(&points, *hop),
                }
            })
            .collect();
        let unobserved = rows
            .iter()
            .filter(|r| r.time.is_none() && r.queue.is_none())
            .map(|r| format!("{}: {}", r.hop.name(), why_unobserved(r.hop, embedded)))
            .collect();
        let kafka = plan.target.log == crate::scenario::LogKind::Kafka;
        Some(HopTable {
            workloads: producers.iter().map(|w| plan.workloads[*w].name.clone()).collect(),
            sum_mean_ms: rows
                .iter()
                .filter_map(|r| r.time.as_ref())
                .map(|t| t.mean_ns)
                .sum::<f64>()
                / 1e6,
            e2e_mean_ms: e2e.mean_ns / 1e6,
            e2e_censored: h.counters.unanswered,
            clock_bound_ms: if kafka { 2.0 } else { 0.0 },
            clocks: if kafka {
                "one host, one clock: eventbench's run clock, and Kafka's record timestamps (ms) at the queue's and the reply's start".into()
            } else {
                "one process, one monotonic clock".into()
            },
            unobserved,
            limiting: None,
            handlers: QueueTrend::of_series(&points, |p| p.handlers),
            reply_send_mean_ns: of(Stage::HopReplySend).map_or(0.0, |s| s.mean_ns),
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
            "\nhops of {} (e2e.persisted mean {:.2} ms; the hops' means add up to {:.2} ms, clocks within {} ms: {}{censored}):",
            self.workloads.join(", "),
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
        for u in &self.unobserved {
            let _ = writeln!(o, "  not observed: {u}");
        }
        if let Some(l) = &self.limiting {
            let _ = writeln!(o, "  limiting hop: {}: {}", l.hop, l.evidence);
            let _ = writeln!(o, "  what to scale: {}", l.scale);
        }
        o
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
    }
}

fn why_unobserved(hop: Hop, embedded: bool) -> &'static str {
    match hop {
        Hop::Queue => "the persistence service is external and its group's lag could not be read",
        Hop::Service | Hop::Store if !embedded => {
            "the persistence service is external: its handlers and store are not observed apart (the queue's depth is its group's lag)"
        }
        Hop::Generator | Hop::Producer => "closed workload: no schedule, no pool",
        _ => "no event crossed it",
    }
}
