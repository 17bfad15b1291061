//! The fitted scenario's text: a header that says where it came from and how well each
//! part fits, then `[data]` and one produce workload whose phase is the rate curve.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::bursts::Burst;
use super::model::{rate_curve, size_deciles, sizes, zipf};
use super::{FitError, Sample, Source};

/// The Zipf fit is written when the observed and fitted cumulative shares differ by at
/// most this much; else the header says it does not fit.
const ZIPF_KS: f64 = 0.05;

/// The arrivals are written `poisson` when the per-second counts vary at least half as
/// much as Poisson arrivals would around the curve, else `constant`.
const POISSON_DISPERSION: f64 = 0.5;

/// How the rate curve is bucketed and how many points it keeps.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub bucket_s: f64,
    pub max_points: usize,
}

/// The scenario TOML for `sample` read from `src`, named `name`.
pub fn scenario(src: &Source, sample: &Sample, name: &str, shape: Shape) -> Result<String, FitError> {
    let events = &sample.events;
    let skipped: u64 = sample.skipped.values().sum();
    if events.is_empty() {
        return Err(super::no_events(&src.topic, &sample.skipped));
    }
    let ts: Vec<i64> = events.iter().map(|e| e.ts_ms).collect();
    // The curve is fitted to the records less the bursts' excess: bursts are written
    // as multipliers over it.
    let (bursts, steady) = super::bursts::bursts(&ts);
    let curve = rate_curve(&steady, shape.bucket_s, shape.max_points)
        .ok_or_else(|| FitError::Nothing("no timestamps to fit a rate to".into()))?;
    let mut ids: BTreeMap<i64, u64> = BTreeMap::new();
    let mut actions: BTreeMap<&str, u64> = BTreeMap::new();
    let users: BTreeSet<u128> = events.iter().map(|e| e.user).collect();
    for e in events {
        *ids.entry(e.aggregate_id).or_insert(0) += 1;
        *actions.entry(e.action.as_str()).or_insert(0) += 1;
    }
    let size_list: Vec<u64> = events.iter().map(|e| e.size).collect();
    let (bytes, zeros) = events.iter().fold((0u64, 0u64), |(b, z), e| (b + e.size, z + e.zeros));
    let compressibility = if bytes == 0 { 0.0 } else { zeros as f64 / bytes as f64 };

    let mut o = String::new();
    let span_s = (ts[ts.len() - 1] - ts[0]) as f64 / 1000.0;
    let _ = writeln!(
        o,
        "# Fitted by eventbench fit from topic {:?} at {}",
        src.topic, src.bootstrap
    );
    let _ = writeln!(
        o,
        "# window: {} to {} ({span_s:.1} s), {} seed Events, {skipped} records skipped{}",
        stamp(ts[0]),
        stamp(ts[ts.len() - 1]),
        events.len(),
        skipped_why(sample)
    );
    let arrival = rate_lines(&curve, &mut o);
    burst_line(&bursts, &mut o);
    let aggregates = aggregates_line(&ids, &mut o);
    let payload = payload_line(&size_list, &mut o);
    let _ = writeln!(
        o,
        "# actions: {} kinds; users: {} distinct; compressibility {compressibility:.3} (zero bytes in the data)",
        actions.len(),
        users.len()
    );
    let mut readers = String::new();
    if let Some(q) = &sample.queries {
        super::queries::readers(&mut readers, &mut o, q, events, span_s);
    }
    let _ = writeln!(
        o,
        "# Point [target] at the system to drive; the fit chose none of it.\n"
    );
    let _ = writeln!(o, "name = {name:?}");
    // The report shows the description: where the load came from and how well it fits.
    let quality: Vec<&str> = o
        .lines()
        .filter(|l| {
            ["# rate:", "# aggregates:", "# payload:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| l.trim_start_matches("# "))
        .collect();
    let _ = writeln!(
        o,
        "description = {}",
        toml::Value::String(format!(
            "fitted from topic {} at {}, {} to {}, {} events; {}",
            src.topic,
            src.bootstrap,
            stamp(ts[0]),
            stamp(ts[ts.len() - 1]),
            events.len(),
            quality.join("; ")
        ))
    );
    o.push_str(
        "warmup = \"0s\"\n\n[target]\nlog = \"memory\"\nstore = \"memory\"\nservices = \"embedded\"\n\n[data]\n",
    );
    let _ = writeln!(o, "{aggregates}");
    data(&mut o, &actions, events.len(), &payload, compressibility, users.len());
    producers(&mut o, &curve, arrival, &bursts);
    o.push_str(&readers);
    Ok(o)
}

/// The producing workload: the rate curve as a `curve` phase.
fn producers(o: &mut String, curve: &super::model::RateCurve, arrival: &str, bursts: &[Burst]) {
    o.push_str("\n[workload.producers]\nkind = \"produce\"\n");
    let _ = writeln!(o, "arrival = {arrival:?}\nmax_in_flight = 1024");
    let points: Vec<String> = curve
        .points
        .iter()
        .map(|(t, r)| {
            format!(
                "{{ at = \"{}ms\", rate = {:.2} }}",
                (t * 1000.0).round() as u64,
                r.max(0.01)
            )
        })
        .collect();
    let _ = writeln!(
        o,
        "phase = [{{ kind = \"curve\", points = [\n  {}\n] }}]",
        points.join(",\n  ")
    );
    for b in bursts {
        let _ = writeln!(
            o,
            "\n[[workload.producers.burst]]\nat = \"{}ms\"\nduration = \"{}ms\"\nfactor = {:.2}",
            (b.at_s * 1000.0).round() as u64,
            (b.duration_s * 1000.0).round() as u64,
            b.factor
        );
    }
}

/// The bursts' line of the header.
fn burst_line(bursts: &[Burst], o: &mut String) {
    let each: Vec<String> = bursts
        .iter()
        .map(|b| format!("at {:.0} s for {:.0} s x{:.2}", b.at_s, b.duration_s, b.factor))
        .collect();
    let _ = writeln!(
        o,
        "# bursts: {} (seconds at 5 Poisson sd and 1.5x over the median of the 31 around them){}{}",
        bursts.len(),
        if each.is_empty() { "" } else { ": " },
        each.join(", ")
    );
}

/// The rate curve's and the arrivals' lines of the header; the arrival process to write.
fn rate_lines(curve: &super::model::RateCurve, o: &mut String) -> &'static str {
    let _ = writeln!(
        o,
        "# rate: {} buckets of {} s as {} curve points, largest gap {:.1}% of the mean rate",
        curve.rates.len(),
        curve.bucket_s,
        curve.points.len(),
        curve.max_error * 100.0
    );
    let arrival = if curve.dispersion >= POISSON_DISPERSION {
        "poisson"
    } else {
        "constant"
    };
    let _ = writeln!(
        o,
        "# arrivals: index of dispersion per second {:.2} (1 Poisson, 0 evenly spaced): {arrival}{}",
        curve.dispersion,
        if curve.dispersion > 2.0 {
            "; bursty beyond Poisson in ways the bursts above do not cover"
        } else {
            ""
        }
    );
    arrival
}

/// The rest of `[data]`: actions by weight (per mille), payload, compressibility, users.
fn data(
    o: &mut String,
    actions: &BTreeMap<&str, u64>,
    events: usize,
    payload: &str,
    compressibility: f64,
    users: usize,
) {
    let weights: Vec<String> = actions
        .iter()
        .map(|(a, n)| format!("{a:?} = {}", (*n as f64 * 1000.0 / events as f64).round().max(1.0)))
        .collect();
    let _ = writeln!(o, "actions = {{ {} }}", weights.join(", "));
    let _ = writeln!(o, "{payload}");
    let _ = writeln!(o, "compressibility = {:.3}", compressibility.clamp(0.0, 1.0));
    let _ = writeln!(o, "users = {}", users.max(1));
}

/// `aggregates = ...`, its quality in the header.
fn aggregates_line(ids: &BTreeMap<i64, u64>, o: &mut String) -> String {
    let (min, max) = (
        ids.keys().next().copied().unwrap_or(1),
        ids.keys().last().copied().unwrap_or(1),
    );
    match zipf(ids) {
        Some(z) if z.ks <= ZIPF_KS => {
            let _ = writeln!(
                o,
                "# aggregates: Zipf exponent {:.3} by maximum likelihood over {} ids (largest gap of the cumulative shares {:.3})",
                z.exponent, z.ids, z.ks
            );
            format!(
                "aggregates = {{ dist = \"zipf\", exponent = {:.3}, max = {} }}",
                z.exponent,
                z.ids.min(127)
            )
        }
        z => {
            let why = z.map_or("too few ids".to_string(), |z| {
                format!(
                    "Zipf {:.3} leaves a gap of {:.3} in the cumulative shares",
                    z.exponent, z.ks
                )
            });
            let _ = writeln!(o, "# aggregates: no Zipf fit ({why}): uniform over the ids seen");
            format!(
                "aggregates = {{ dist = \"uniform\", min = {}, max = {} }}",
                min.clamp(1, 127),
                max.clamp(1, 127)
            )
        }
    }
}

/// `payload = ...`, its quality in the header.
fn payload_line(size_list: &[u64], o: &mut String) -> String {
    match sizes(size_list) {
        Some(f) if f.lognormal_fits() => {
            let _ = writeln!(
                o,
                "# payload: lognormal median {:.0} B, p99 {:.0} B (observed p50 {} B, p99 {} B)",
                f.median, f.p99, f.observed_p50, f.observed_p99
            );
            format!(
                "payload = {{ dist = \"lognormal\", median = {}, p99 = {} }}",
                f.median.round().max(1.0),
                f.p99.round().max(1.0)
            )
        }
        f => {
            let deciles = size_deciles(size_list);
            let _ = writeln!(
                o,
                "# payload: no lognormal fit{}: the deciles as a histogram",
                f.map_or(String::new(), |f| format!(
                    " (observed p50 {} B, p99 {} B)",
                    f.observed_p50, f.observed_p99
                ))
            );
            let sizes: Vec<String> = deciles.iter().map(u64::to_string).collect();
            format!(
                "payload = {{ dist = \"histogram\", sizes = [{}], weights = [{}] }}",
                sizes.join(", "),
                vec!["1"; sizes.len()].join(", ")
            )
        }
    }
}

fn skipped_why(sample: &Sample) -> String {
    if sample.skipped.is_empty() {
        return String::new();
    }
    let why: Vec<String> = sample.skipped.iter().map(|(w, n)| format!("{n} {w}")).collect();
    format!(" ({})", why.join(", "))
}

fn stamp(ms: i64) -> String {
    crate::model::GoTime::from_unix_nanos(ms as i128 * 1_000_000).to_string()
}
