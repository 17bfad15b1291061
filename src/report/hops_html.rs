//! The hop section of report.html: the table, the limiting hop, each hop's p99 per
//! interval (from the interval log) and its queue over the run (from the summary).

use std::fmt::Write;

use super::hops::HopTable;
use super::svg::{self, Axis, Chart, Series};
use crate::report::markup::esc;
use crate::stats::hlog::LoggedInterval;
use crate::stats::hops::Hop;
use crate::units::fmt_ns as ns;

const COLORS: [&str; 6] = ["#7f7f7f", "#1f77b4", "#d62728", "#9467bd", "#2ca02c", "#ff7f0e"];

/// The section, or nothing for a run without a hop table.
pub fn section(t: Option<&HopTable>, intervals: &[LoggedInterval]) -> String {
    let Some(t) = t else { return String::new() };
    let mut o = head(t, "hops", "Hops", "limiting hop");
    table(&mut o, t);
    if !t.evidence_lines().is_empty() {
        o.push_str("<h3>The target's own view</h3><ul class=\"evidence\">");
        for line in t.evidence_lines() {
            let _ = write!(o, "<li>{}</li>", esc(&line));
        }
        o.push_str("</ul>");
    }
    for u in &t.unobserved {
        let _ = write!(o, "<p>not observed: {}</p>", esc(u));
    }
    o.push_str(&svg::render(&Chart {
        id: "hop-p99",
        title: "each hop's p99 per interval",
        x_label: "run time (s)",
        y_label: "p99",
        x_axis: Axis::Linear,
        y_axis: Axis::Log,
        y_fmt: &|v| ns(v as u64),
        series: p99_series(t, intervals),
        bands: Vec::new(),
    }));
    o.push_str(&svg::render(&Chart {
        id: "hop-queues",
        title: "events in each hop at each interval's close",
        x_label: "run time (s)",
        y_label: "events",
        x_axis: Axis::Linear,
        y_axis: Axis::Linear,
        y_fmt: &|v| format!("{v:.0}"),
        series: queue_series(t),
        bands: Vec::new(),
    }));
    o.push_str("</section>");
    o
}

/// The readers' section: their table, the slowest hop when they were saturated, what
/// was not observed (no charts: their queues are not sampled).
pub fn readers(t: Option<&HopTable>) -> String {
    let Some(t) = t else { return String::new() };
    let mut o = head(t, "reader-hops", "Readers' hops", "slowest hop");
    table(&mut o, t);
    for u in &t.unobserved {
        let _ = write!(o, "<p>not observed: {}</p>", esc(u));
    }
    o.push_str("</section>");
    o
}

/// A section's opening: its heading with what the hops split, and its verdict.
fn head(t: &HopTable, id: &str, title: &str, verdict: &str) -> String {
    let mut o = format!(
        "<section id=\"{id}\"><h2>{title} <small>{} · {} mean {:.2} ms, the hops' means add up to {:.2} ms (clocks within {} ms: {})</small></h2>",
        esc(&t.workloads.join(", ")),
        esc(&t.e2e_stage),
        t.e2e_mean_ms,
        t.sum_mean_ms,
        t.clock_bound_ms,
        esc(&t.clocks)
    );
    if let Some(l) = &t.limiting {
        let _ = write!(
            o,
            "<p class=\"verdict bad\">{verdict}: <b>{}</b> — {}<br>what to scale: {}</p>",
            esc(&l.hop),
            esc(&l.evidence),
            esc(&l.scale)
        );
    }
    o
}

fn table(o: &mut String, t: &HopTable) {
    o.push_str("<table><tr><th>hop</th><th>p50</th><th>p99</th><th>share of e2e mean</th><th>share of e2e p99</th><th>queue first → last quarter</th><th>max</th><th>growth /s</th><th>measured by</th></tr>");
    for r in &t.rows {
        let (p50, p99) = r
            .time
            .as_ref()
            .map_or(("–".into(), "–".into()), |s| (ns(s.p50_ns), ns(s.p99_ns)));
        let (trend, max, growth) = r.queue.map_or(("not observed".into(), "–".into(), "–".into()), |q| {
            (
                format!("{:.0} → {:.0}", q.start, q.end),
                q.max.to_string(),
                format!("{:+.0}", q.growth_per_s),
            )
        });
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{p50}</td><td>{p99}</td><td>{:.1}%</td><td>{:.1}%</td><td>{trend}</td><td>{max}</td><td>{growth}</td><td>{}</td></tr>",
            r.hop.name(),
            100.0 * r.share_mean,
            100.0 * r.share_p99,
            esc(&r.measured_by)
        );
    }
    o.push_str("</table>");
}

fn p99_series(t: &HopTable, intervals: &[LoggedInterval]) -> Vec<Series> {
    Hop::ALL
        .iter()
        .zip(COLORS)
        .map(|(hop, color)| {
            let tags: Vec<String> = t
                .workloads
                .iter()
                .map(|w| format!("{w}.{}", hop.stage().name()))
                .collect();
            Series {
                name: hop.name().into(),
                color,
                points: intervals
                    .iter()
                    .filter(|i| tags.contains(&i.tag) && !i.histogram.is_empty())
                    .map(|i| (i.start_s + i.length_s / 2.0, i.histogram.value_at_quantile(0.99) as f64))
                    .collect(),
            }
        })
        .collect()
}

fn queue_series(t: &HopTable) -> Vec<Series> {
    Hop::ALL
        .iter()
        .zip(COLORS)
        .map(|(hop, color)| Series {
            name: hop.name().into(),
            color,
            points: t
                .timeline
                .iter()
                .filter_map(|p| Some((p.t_s + p.length_s, p.depth(*hop)? as f64)))
                .collect(),
        })
        .collect()
}
