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

use prometheus_client::registry::Registry;

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

mod encode;
mod hops;

use encode::Exporter;
use hops::{HopExporter, Info};

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
