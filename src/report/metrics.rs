//! Live metrics for Prometheus: what a run has measured so far, served at `/metrics`
//! while it runs (`run --metrics-listen`), so operators watch it beside the brokers and
//! the database in the same Grafana (deploy/grafana/).
//!
//! The numbers are the run's own, updated once per interval from the collector's
//! histograms, never per operation: the hot path is untouched. Two views of latency:
//!
//! - `eventbench_latency_seconds`, a classic histogram per workload and stage over the
//!   measured window (after warmup, by intended start: the numbers summary.json gives),
//!   with buckets 1-2-5 from 1 us to 50 s and 60 s. Cumulative, so PromQL's `rate()` and
//!   `histogram_quantile()` work over any range and across shards (sum by `le`); the
//!   price is the bucket error: a quantile from it is only known to lie in its bucket
//!   (at worst 2.5x wide), which is why the exact figures stay in the report.
//! - `eventbench_interval_latency_seconds{quantile}`, gauges of the last interval's
//!   p50/p90/p99/p99.9/max from the full-resolution HdrHistogram (warmup included):
//!   what a live chart wants, exact, but not aggregatable across shards.
//!
//! Exposed with `prometheus-client` (the Prometheus project's Rust client) in the
//! OpenMetrics text format, from a [`Collector`] that encodes the latest snapshot on
//! each scrape; served by `tiny_http` on a thread of its own.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::engine::WorkloadMeasured;
use crate::plan::Plan;
use crate::report::Summary;
use crate::service::{ServiceKind, ServiceStats};
use crate::stats::{ErrorClass, Hists, Stage};

/// Upper bounds of the latency histogram's buckets, seconds: 1-2-5 per decade from 1 us
/// to 50 s, then 60 s (and +Inf).
pub const BUCKETS_S: [f64; 25] = [
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 2.0,
    5.0, 10.0, 20.0, 50.0, 60.0,
];

/// The quantiles of the last interval exported as gauges (1 = max).
const QUANTILES: [(f64, &str); 5] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (0.999, "0.999"), (1.0, "1")];

/// A histogram in Prometheus's shape: per-bucket counts (not cumulative; the last is
/// +Inf), count and sum.
#[derive(Debug, Clone, Default)]
struct Buckets {
    counts: Vec<u64>,
    count: u64,
    sum_s: f64,
}

impl Buckets {
    fn of(h: &hdrhistogram::Histogram<u64>) -> Buckets {
        let mut counts = vec![0u64; BUCKETS_S.len() + 1];
        let mut sum_s = 0.0;
        for v in h.iter_recorded() {
            // The bucket's highest equivalent value: a value is never put below its bucket.
            let s = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e9;
            let i = BUCKETS_S.partition_point(|b| *b < s);
            counts[i] += v.count_at_value();
            sum_s += v.value_iterated_to() as f64 / 1e9 * v.count_at_value() as f64;
        }
        Buckets {
            counts,
            count: h.len(),
            sum_s,
        }
    }

    fn pairs(&self) -> Vec<(f64, u64)> {
        BUCKETS_S
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.counts.iter().copied())
            .collect()
    }
}

/// One workload as it stands.
#[derive(Debug, Clone, Default)]
struct WorkloadNow {
    name: String,
    /// Measured window, cumulative: by stage name.
    stages: BTreeMap<&'static str, Buckets>,
    /// Measured window, cumulative: ok, each error class, censored.
    outcomes: BTreeMap<&'static str, u64>,
    /// The last interval: stage -> quantile gauges (seconds).
    last: BTreeMap<&'static str, [f64; QUANTILES.len()]>,
    target_rate: f64,
    achieved_rate: f64,
    /// Operations the schedule made due so far (warmup included) less those that ended.
    outstanding: f64,
    due: f64,
    done: u64,
    warmup: bool,
    health: &'static str,
}

#[derive(Debug, Default)]
struct Snapshot {
    elapsed_s: f64,
    finished: bool,
    workloads: Vec<WorkloadNow>,
    services: Vec<(ServiceKind, ServiceStats)>,
    /// The platform's last interval: the hiccup meter and the host's CPU.
    host: Option<crate::stats::platform::HostPoint>,
    /// The pipeline's hops at the last interval's close.
    hops: Option<crate::stats::hops::HopPoint>,
}

/// The live state of one run, shared by the run (which updates it once per interval)
/// and the HTTP thread (which encodes it per scrape).
#[derive(Debug)]
pub struct Live {
    now: Mutex<Snapshot>,
}

impl Live {
    pub fn new(plan: &Plan) -> Arc<Live> {
        let workloads = plan
            .workloads
            .iter()
            .map(|w| WorkloadNow {
                name: w.name.clone(),
                warmup: plan.warmup_ns > 0,
                health: "running",
                ..WorkloadNow::default()
            })
            .collect();
        Arc::new(Live {
            now: Mutex::new(Snapshot {
                workloads,
                ..Snapshot::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After an interval closed: `workloads` hold the measured window so far and every
    /// closed interval, `last` the interval just closed (warmup included).
    pub fn interval(
        &self,
        now_ns: u64,
        workloads: &[WorkloadMeasured],
        last: &[Hists],
        services: &[(ServiceKind, ServiceStats)],
    ) {
        let mut s = self.lock();
        s.elapsed_s = now_ns as f64 / 1e9;
        s.services = services.to_vec();
        for (w, now) in s.workloads.iter_mut().enumerate() {
            if let Some(m) = workloads.get(w) {
                now.totals(&m.totals);
            }
            if let Some(h) = last.get(w) {
                now.last = Stage::ALL
                    .iter()
                    .filter(|st| !h.stages[**st as usize].is_empty())
                    .map(|st| {
                        let hist = &h.stages[*st as usize];
                        (
                            st.name(),
                            QUANTILES.map(|(q, _)| hist.value_at_quantile(q) as f64 / 1e9),
                        )
                    })
                    .collect();
            }
            if let Some(p) = workloads.get(w).and_then(|m| m.timeline.last()) {
                now.target_rate = p.target_rate;
                now.achieved_rate = p.achieved_rate;
                now.warmup = p.warmup;
                now.due += p.target_rate * p.length_s;
                now.done += p.ok + p.errors + p.censored;
                now.outstanding = (now.due - now.done as f64).max(0.0);
            }
        }
    }

    /// The platform's interval just closed (the hiccup meter, the host's CPU).
    pub fn host(&self, p: &crate::stats::platform::HostPoint) {
        self.lock().host = Some(p.clone());
    }

    /// The pipeline's hops at the interval's close (their queues, the group's lag).
    pub fn hops(&self, p: &crate::stats::hops::HopPoint) {
        self.lock().hops = Some(p.clone());
    }

    /// The run's end: the final totals (censored operations included) and each
    /// workload's health as the summary judged it.
    pub fn finish(&self, workloads: &[WorkloadMeasured], summary: &Summary) {
        let mut s = self.lock();
        s.finished = true;
        for (w, now) in s.workloads.iter_mut().enumerate() {
            if let Some(m) = workloads.get(w) {
                now.totals(&m.totals);
            }
            now.outstanding = 0.0;
            if let Some(ws) = summary.workloads.get(&now.name) {
                now.health = match ws.health {
                    crate::report::Health::Healthy => "healthy",
                    crate::report::Health::GeneratorLimited => "generator-limited",
                    crate::report::Health::TargetSaturated => "target-saturated",
                    crate::report::Health::HostLimited => "host-limited",
                };
            }
        }
        if let Some(p) = &summary.services.persistence {
            upsert(&mut s.services, ServiceKind::Persistence, p);
        }
        if let Some(q) = &summary.services.query {
            upsert(&mut s.services, ServiceKind::Query, q);
        }
    }
}

fn upsert(services: &mut Vec<(ServiceKind, ServiceStats)>, kind: ServiceKind, stats: &ServiceStats) {
    match services.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, s)) => *s = stats.clone(),
        None => services.push((kind, stats.clone())),
    }
}

impl WorkloadNow {
    fn totals(&mut self, t: &Hists) {
        self.stages = Stage::ALL
            .iter()
            .filter(|st| !t.stages[**st as usize].is_empty())
            .map(|st| (st.name(), Buckets::of(&t.stages[*st as usize])))
            .collect();
        let c = &t.counters;
        self.outcomes = [("ok", c.ok), ("censored", c.censored)]
            .into_iter()
            .chain(ErrorClass::ALL.iter().map(|e| (e.name(), c.errors[*e as usize])))
            .collect();
    }
}

/// Encodes a [`Live`] on each scrape.
#[derive(Debug)]
struct Exporter(Arc<Live>);

type Fmt = Result<(), std::fmt::Error>;

fn gauge<L: prometheus_client::encoding::EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: &[(L, f64)],
) -> Fmt {
    if rows.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in rows {
        m.encode_family(labels)?.encode_gauge(v)?;
    }
    Ok(())
}

fn counter<L: prometheus_client::encoding::EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(L, u64)],
) -> Fmt {
    if rows.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        m.encode_family(labels)?.encode_counter::<NoLabelSet, _, u64>(v, None)?;
    }
    Ok(())
}

type Labels = Vec<(&'static str, String)>;

impl Collector for Exporter {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        let s = self.0.lock();
        let wl = |w: &WorkloadNow| -> Labels { vec![("workload", w.name.clone())] };
        gauge(
            &mut enc,
            "run_elapsed",
            "Run time so far (the schedule's clock).",
            Some(&Unit::Seconds),
            &[(Labels::new(), s.elapsed_s)],
        )?;
        gauge(
            &mut enc,
            "run_finished",
            "1 once the run has ended and its summary is final.",
            None,
            &[(Labels::new(), if s.finished { 1.0 } else { 0.0 })],
        )?;
        let hist_rows: Vec<(Labels, &Buckets)> = s
            .workloads
            .iter()
            .flat_map(|w| {
                w.stages
                    .iter()
                    .map(move |(st, b)| (vec![("workload", w.name.clone()), ("stage", st.to_string())], b))
            })
            .collect();
        if !hist_rows.is_empty() {
            let mut m = enc.encode_descriptor(
                "latency",
                "Latency per workload and stage over the measured window (after warmup, by intended start), as summary.json counts it.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (labels, b) in &hist_rows {
                m.encode_family(labels)?
                    .encode_histogram::<NoLabelSet>(b.sum_s, b.count, &b.pairs(), None)?;
            }
        }
        let outcomes: Vec<(Labels, u64)> = s
            .workloads
            .iter()
            .flat_map(|w| {
                w.outcomes
                    .iter()
                    .map(move |(o, n)| (vec![("workload", w.name.clone()), ("outcome", o.to_string())], *n))
            })
            .collect();
        counter(
            &mut enc,
            "operations",
            "Operations intended in the measured window, by outcome: ok, an error class, or censored (given up on; counted at the drain).",
            &outcomes,
        )?;
        let last: Vec<(Labels, f64)> = s
            .workloads
            .iter()
            .flat_map(|w| {
                w.last.iter().flat_map(move |(st, qs)| {
                    QUANTILES.iter().zip(qs.iter()).map(move |((_, q), v)| {
                        (
                            vec![
                                ("workload", w.name.clone()),
                                ("stage", st.to_string()),
                                ("quantile", q.to_string()),
                            ],
                            *v,
                        )
                    })
                })
            })
            .collect();
        gauge(
            &mut enc,
            "interval_latency",
            "The last interval's latency quantiles per stage from its HdrHistogram (warmup included; quantile 1 is the max). Stage 'lag' is the schedule lag.",
            Some(&Unit::Seconds),
            &last,
        )?;
        let per = |f: &dyn Fn(&WorkloadNow) -> f64| -> Vec<(Labels, f64)> {
            s.workloads.iter().map(|w| (wl(w), f(w))).collect()
        };
        gauge(
            &mut enc,
            "target_rate",
            "Operations per second the schedule asked for in the last interval (0 for a closed workload).",
            None,
            &per(&|w| w.target_rate),
        )?;
        gauge(
            &mut enc,
            "achieved_rate",
            "Operations per second that succeeded in the last interval.",
            None,
            &per(&|w| w.achieved_rate),
        )?;
        gauge(
            &mut enc,
            "outstanding",
            "Operations the schedule made due so far that have not ended: in flight or waiting for a worker.",
            None,
            &per(&|w| w.outstanding),
        )?;
        gauge(
            &mut enc,
            "warmup",
            "1 while the last interval was warmup.",
            None,
            &per(&|w| if w.warmup { 1.0 } else { 0.0 }),
        )?;
        if let Some(h) = &s.host {
            let q = |v: u64| v as f64 / 1e9;
            let rows: Vec<(Labels, f64)> = [
                ("0.5", h.hiccup_p50_ns),
                ("0.99", h.hiccup_p99_ns),
                ("1", h.hiccup_max_ns),
            ]
            .into_iter()
            .map(|(k, v)| (vec![("quantile", k.to_string())], q(v)))
            .collect();
            gauge(
                &mut enc,
                "host_hiccup",
                "The last interval's platform floor: how late a thread that only sleeps to 1 ms deadlines woke (stage host.hiccup; quantile 1 is the max).",
                Some(&Unit::Seconds),
                &rows,
            )?;
            let c = &h.cores;
            let rows: Vec<(Labels, f64)> = [
                ("busy", c.busy),
                ("steal", c.steal),
                ("eventbench", c.ours),
                ("others", c.others),
            ]
            .into_iter()
            .map(|(k, v)| (vec![("use", k.to_string())], v))
            .collect();
            gauge(
                &mut enc,
                "host_cpu_cores",
                "The whole machine's CPU in the last interval, in cores: busy (everything), steal, eventbench, others.",
                None,
                &rows,
            )?;
        }
        let health: Vec<(Labels, f64)> = s
            .workloads
            .iter()
            .flat_map(|w| {
                [
                    "running",
                    "healthy",
                    "generator-limited",
                    "target-saturated",
                    "host-limited",
                ]
                .into_iter()
                .map(move |h| {
                    (
                        vec![("workload", w.name.clone()), ("state", h.to_string())],
                        if w.health == h { 1.0 } else { 0.0 },
                    )
                })
            })
            .collect();
        gauge(
            &mut enc,
            "health",
            "1 for the workload's state: running until the run ends, then the verdict's health.",
            None,
            &health,
        )?;
        let services: Vec<(Labels, u64)> = s
            .services
            .iter()
            .flat_map(|(k, st)| {
                let name = k.name();
                [
                    ("consumed", st.consumed),
                    ("replied", st.replied),
                    ("failed", st.failed),
                    ("malformed", st.malformed),
                    ("dropped", st.dropped),
                    ("unsent", st.unsent),
                ]
                .into_iter()
                .map(move |(o, n)| (vec![("service", name.to_string()), ("outcome", o.to_string())], n))
            })
            .collect();
        counter(
            &mut enc,
            "service_records",
            "Records the embedded services handled, by outcome.",
            &services,
        )?;
        Ok(())
    }
}

/// The registry a run exposes: the run's labels on every sample.
pub fn registry(live: &Arc<Live>, plan: &Plan, run_tag: u64) -> Registry {
    let labels: Vec<(Cow<'static, str>, Cow<'static, str>)> = vec![
        ("run".into(), format!("{run_tag:012x}").into()),
        ("scenario".into(), plan.name.clone().into()),
        (
            "shard".into(),
            format!("{}/{}", plan.shard.index, plan.shard.count).into(),
        ),
    ];
    let mut r = Registry::with_prefix_and_labels("eventbench", labels.into_iter());
    r.register_collector(Box::new(Exporter(live.clone())));
    r.register_collector(Box::new(HopExporter(live.clone())));
    let info: Vec<(Cow<'static, str>, Cow<'static, str>)> = vec![
        ("version".into(), env!("CARGO_PKG_VERSION").into()),
        ("git_commit".into(), env!("EVENTBENCH_GIT_COMMIT").into()),
    ];
    r.sub_registry_with_labels(info.into_iter())
        .register_collector(Box::new(Info));
    r
}

/// The pipeline's hop queues, apart from [`Exporter`] (one concern each).
#[derive(Debug)]
struct HopExporter(Arc<Live>);

impl Collector for HopExporter {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        let s = self.0.lock();
        let Some(p) = &s.hops else { return Ok(()) };
        let queues: Vec<(Labels, f64)> = crate::stats::hops::Hop::ALL
            .iter()
            .filter_map(|h| Some((vec![("hop", h.name().to_string())], p.depth(*h)? as f64)))
            .collect();
        gauge(
            &mut enc,
            "hop_queue_events",
            "Events in each hop of the pipeline at the last interval's close (docs/hops.md).",
            None,
            &queues,
        )?;
        let lag: Vec<(Labels, f64)> = p
            .lag_partitions
            .iter()
            .enumerate()
            .map(|(i, l)| (vec![("partition", i.to_string())], *l as f64))
            .collect();
        gauge(
            &mut enc,
            "persistence_group_lag_events",
            "The persistence service's consumer group lag on the request topic, per partition.",
            None,
            &lag,
        )?;
        let brokers = p.client.as_ref().map_or(&[][..], |c| &c.brokers[..]);
        let rtt: Vec<(Labels, f64)> = brokers
            .iter()
            .map(|b| (vec![("broker", b.id.to_string())], b.rtt_p99_us as f64 / 1e6))
            .collect();
        gauge(
            &mut enc,
            "producer_broker_rtt_p99_seconds",
            "The producer client's produce round trip to each broker, p99 of librdkafka's last statistics window.",
            None,
            &rtt,
        )?;
        let inside: Vec<(Labels, f64)> = p
            .nodes
            .iter()
            .map(|n| (vec![("node", n.node.clone())], n.active.saturating_sub(1) as f64))
            .collect();
        gauge(
            &mut enc,
            "store_node_requests_inside",
            "Requests inside each store node's request pools at the last reading (system_views.thread_pools' active tasks, the reading's own aside).",
            None,
            &inside,
        )?;
        let pending: Vec<(Labels, f64)> = p
            .nodes
            .iter()
            .map(|n| (vec![("node", n.node.clone())], n.pending() as f64))
            .collect();
        gauge(
            &mut enc,
            "store_node_pending_tasks",
            "Tasks pending in each store node's request pools (Native-Transport-Requests, MutationStage, ReadStage) at the last reading.",
            None,
            &pending,
        )
    }
}

#[derive(Debug)]
struct Info;

impl Collector for Info {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        gauge(
            &mut enc,
            "build",
            "Always 1; the labels say which eventbench this is.",
            None,
            &[(Labels::new(), 1.0)],
        )
    }
}

/// The OpenMetrics text of a registry.
pub fn render(r: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; an encoder error would be ours, and shows as a short page.
    let _ = prometheus_client::encoding::text::encode(&mut out, r);
    out
}

/// The HTTP endpoint: `/metrics` on a thread of its own until dropped.
pub struct Endpoint {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Binds `addr` (port 0 picks one) and serves `registry`.
    pub fn serve(addr: SocketAddr, registry: Registry) -> Result<Endpoint, String> {
        let server = tiny_http::Server::http(addr).map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
        let bound = server.server_addr().to_ip().unwrap_or(addr);
        let server = Arc::new(server);
        let s = server.clone();
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                let content_type = tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                );
                for req in s.incoming_requests() {
                    let path = req.url().split('?').next().unwrap_or("");
                    let resp = if path == "/metrics" {
                        let mut r = tiny_http::Response::from_string(render(&registry));
                        if let Ok(h) = content_type.clone() {
                            r.add_header(h);
                        }
                        r
                    } else {
                        tiny_http::Response::from_string("eventbench: metrics are at /metrics\n").with_status_code(404)
                    };
                    let _ = req.respond(resp);
                }
            })
            .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        Ok(Endpoint {
            server,
            thread: Some(thread),
            addr: bound,
        })
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
