//! The run's own families, encoded from the latest [`Snapshot`] on each scrape: one
//! function per family group, in the order a scrape lists them.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::{Buckets, Live, Snapshot, WorkloadNow, QUANTILES};

/// Encodes a [`Live`] on each scrape.
#[derive(Debug)]
pub(super) struct Exporter(pub(super) Arc<Live>);

pub(super) type Fmt = Result<(), std::fmt::Error>;
pub(super) type Labels = Vec<(&'static str, String)>;

pub(super) fn gauge<L: EncodeLabelSet>(
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

fn counter<L: EncodeLabelSet>(enc: &mut DescriptorEncoder, name: &str, help: &str, rows: &[(L, u64)]) -> Fmt {
    if rows.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        m.encode_family(labels)?.encode_counter::<NoLabelSet, _, u64>(v, None)?;
    }
    Ok(())
}

impl Collector for Exporter {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        let s = self.0.lock();
        let enc = &mut enc;
        run_state(enc, &s)?;
        latency(enc, &s)?;
        operations(enc, &s)?;
        interval_latency(enc, &s)?;
        rates(enc, &s)?;
        if let Some(h) = &s.host {
            host(enc, h)?;
        }
        health(enc, &s)?;
        services(enc, &s)
    }
}

fn run_state(enc: &mut DescriptorEncoder, s: &Snapshot) -> Fmt {
    gauge(
        enc,
        "run_elapsed",
        "Run time so far (the schedule's clock).",
        Some(&Unit::Seconds),
        &[(Labels::new(), s.elapsed_s)],
    )?;
    gauge(
        enc,
        "run_finished",
        "1 once the run has ended and its summary is final.",
        None,
        &[(Labels::new(), if s.finished { 1.0 } else { 0.0 })],
    )
}

/// The measured window's cumulative histogram per workload and stage.
fn latency(enc: &mut DescriptorEncoder, s: &Snapshot) -> Fmt {
    let rows: Vec<(Labels, &Buckets)> = s
        .workloads
        .iter()
        .flat_map(|w| {
            w.stages
                .iter()
                .map(move |(st, b)| (vec![("workload", w.name.clone()), ("stage", st.to_string())], b))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(
        "latency",
        "Latency per workload and stage over the measured window (after warmup, by intended start), as summary.json counts it.",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    for (labels, b) in &rows {
        m.encode_family(labels)?
            .encode_histogram::<NoLabelSet>(b.sum_s, b.count, &b.pairs(), None)?;
    }
    Ok(())
}

fn operations(enc: &mut DescriptorEncoder, s: &Snapshot) -> Fmt {
    let rows: Vec<(Labels, u64)> = s
        .workloads
        .iter()
        .flat_map(|w| {
            w.outcomes
                .iter()
                .map(move |(o, n)| (vec![("workload", w.name.clone()), ("outcome", o.to_string())], *n))
        })
        .collect();
    counter(
        enc,
        "operations",
        "Operations intended in the measured window, by outcome: ok, an error class, or censored (given up on; counted at the drain).",
        &rows,
    )
}

/// The last interval's quantiles, exact from its HdrHistogram.
fn interval_latency(enc: &mut DescriptorEncoder, s: &Snapshot) -> Fmt {
    let rows: Vec<(Labels, f64)> = s
        .workloads
        .iter()
        .flat_map(|w| {
            w.last.iter().flat_map(move |(st, qs)| {
                QUANTILES.iter().zip(qs.iter()).map(move |((_, q), v)| {
                    let labels = vec![
                        ("workload", w.name.clone()),
                        ("stage", st.to_string()),
                        ("quantile", q.to_string()),
                    ];
                    (labels, *v)
                })
            })
        })
        .collect();
    gauge(
        enc,
        "interval_latency",
        "The last interval's latency quantiles per stage from its HdrHistogram (warmup included; quantile 1 is the max). Stage 'lag' is the schedule lag.",
        Some(&Unit::Seconds),
        &rows,
    )
}

/// One gauge per workload each: the rates, what is outstanding, warmup.
fn rates(enc: &mut DescriptorEncoder, s: &Snapshot) -> Fmt {
    let per = |f: &dyn Fn(&WorkloadNow) -> f64| -> Vec<(Labels, f64)> {
        s.workloads
            .iter()
            .map(|w| (vec![("workload", w.name.clone())], f(w)))
            .collect()
    };
    type Of<'a> = &'a dyn Fn(&WorkloadNow) -> f64;
    let families: [(&str, &str, Of); 4] = [
        (
            "target_rate",
            "Operations per second the schedule asked for in the last interval (0 for a closed workload).",
            &|w| w.target_rate,
        ),
        (
            "achieved_rate",
            "Operations per second that succeeded in the last interval.",
            &|w| w.achieved_rate,
        ),
        (
            "outstanding",
            "Operations the schedule made due so far that have not ended: in flight or waiting for a worker.",
            &|w| w.outstanding,
        ),
        ("warmup", "1 while the last interval was warmup.", &|w| {
            if w.warmup {
                1.0
            } else {
                0.0
            }
        }),
    ];
    for (name, help, f) in families {
        gauge(enc, name, help, None, &per(f))?;
    }
    Ok(())
}

/// The platform beside the run: the hiccup meter and the machine's CPU.
fn host(enc: &mut DescriptorEncoder, h: &crate::stats::platform::HostPoint) -> Fmt {
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
        enc,
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
        enc,
        "host_cpu_cores",
        "The whole machine's CPU in the last interval, in cores: busy (everything), steal, eventbench, others.",
        None,
        &rows,
    )
}

fn health(enc: &mut DescriptorEncoder, s: &Snapshot) -> Fmt {
    const STATES: [&str; 5] = [
        "running",
        "healthy",
        "generator-limited",
        "target-saturated",
        "host-limited",
    ];
    let rows: Vec<(Labels, f64)> = s
        .workloads
        .iter()
        .flat_map(|w| {
            STATES.into_iter().map(move |h| {
                let labels = vec![("workload", w.name.clone()), ("state", h.to_string())];
                (labels, if w.health == h { 1.0 } else { 0.0 })
            })
        })
        .collect();
    gauge(
        enc,
        "health",
        "1 for the workload's state: running until the run ends, then the verdict's health.",
        None,
        &rows,
    )
}

fn services(enc: &mut DescriptorEncoder, s: &Snapshot) -> Fmt {
    let rows: Vec<(Labels, u64)> = s
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
        enc,
        "service_records",
        "Records the embedded services handled, by outcome.",
        &rows,
    )
}
