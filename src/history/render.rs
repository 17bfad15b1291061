//! A history's trend per statistic, with its change points: as text, and as an HTML
//! page of SVG charts built like report.html (no script library, no network).

use std::fmt::Write;

use serde::Serialize;

use super::edivisive::{change_points, ChangePoint, Options};
use super::Entry;
use crate::report::html::{SCRIPT, STYLE};
use crate::report::markup::esc;
use crate::report::svg::{self, Axis, Band, Chart, Series};

/// One statistic over the runs of a history.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub key: String,
    /// (run index in the history, value, label).
    pub points: Vec<(usize, f64, String)>,
    pub change_points: Vec<ChangePoint>,
}

impl Trend {
    /// `key` over `entries` (runs without it are left out), with its change points,
    /// found on log values for latencies so a step is judged as a ratio.
    pub fn of(entries: &[&Entry], key: &str) -> Trend {
        let points: Vec<(usize, f64, String)> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.values.values.get(key).map(|v| (i, *v, e.label.clone())))
            .collect();
        let ratio = !key.contains(".errors.");
        let series: Vec<f64> = points
            .iter()
            .map(|p| if ratio { p.1.max(1e-9).ln() } else { p.1 })
            .collect();
        let mut cps = change_points(&series, Options::default(), 0x0ca7);
        for c in &mut cps {
            // Back to the series' units, and to history indices.
            if ratio {
                c.before = c.before.exp();
                c.after = c.after.exp();
            }
            c.index = points[c.index].0;
        }
        Trend {
            key: key.to_string(),
            points,
            change_points: cps,
        }
    }

    fn show(&self, v: f64) -> String {
        if self.key.contains(".errors.") {
            format!("{:.2}%", v * 100.0)
        } else {
            crate::units::fmt_ns(v.max(0.0) as u64)
        }
    }
}

/// The keys shown when none are asked: each workload's headline stage at p50 and p99.
pub fn default_keys(entries: &[&Entry]) -> Vec<String> {
    let Some(last) = entries.last() else { return Vec::new() };
    last.values
        .headline
        .iter()
        .flat_map(|(w, s)| ["p50", "p99"].map(|q| format!("{w}.{s}.{q}")))
        .collect()
}

/// A plain-text view: per statistic, its runs, last value and change points.
pub fn text(scenario: &str, trends: &[Trend]) -> String {
    let mut o = format!("history of {scenario}\n");
    for t in trends {
        let last = t.points.last().map_or("-".into(), |p| t.show(p.1));
        let _ = writeln!(o, "\n{}: {} runs, last {last}", t.key, t.points.len());
        if t.change_points.is_empty() {
            o.push_str("  no change point\n");
        }
        for c in &t.change_points {
            let label = t
                .points
                .iter()
                .find(|p| p.0 == c.index)
                .map_or(String::new(), |p| p.2.clone());
            let _ = writeln!(
                o,
                "  change at run {} ({label}): {} -> {} ({:+.1}%), p = {:.3}",
                c.index,
                t.show(c.before),
                t.show(c.after),
                (c.after / c.before - 1.0) * 100.0,
                c.p_value
            );
        }
    }
    o
}

/// The trend page: one chart per statistic, each segment's mean drawn through it and
/// each change point marked.
pub fn html(scenario: &str, runs: usize, trends: &[Trend]) -> String {
    let mut o = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>eventbench history: {}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>history of {}</h1><p>{runs} runs; change points by E-divisive means with a permutation test (p &lt; 0.01)</p>",
        esc(scenario),
        esc(scenario)
    );
    for (i, t) in trends.iter().enumerate() {
        let ms = |ns: f64| ns / 1e6;
        let is_share = t.key.contains(".errors.");
        let y = |v: f64| if is_share { v * 100.0 } else { ms(v) };
        let mut segments = Vec::new();
        let mut from = t.points.first().map_or(0, |p| p.0);
        let mut bounds: Vec<usize> = t.change_points.iter().map(|c| c.index).collect();
        bounds.push(t.points.last().map_or(0, |p| p.0 + 1));
        for to in bounds {
            let seg: Vec<f64> = t
                .points
                .iter()
                .filter(|p| p.0 >= from && p.0 < to)
                .map(|p| p.1)
                .collect();
            if !seg.is_empty() {
                let m = seg.iter().sum::<f64>() / seg.len() as f64;
                segments.push((from as f64, y(m)));
                segments.push(((to as f64 - 1.0).max(from as f64), y(m)));
            }
            from = to;
        }
        let bands = t
            .change_points
            .iter()
            .map(|c| Band {
                from: c.index as f64 - 0.5,
                to: c.index as f64 + 0.5,
                label: format!("{:+.0}%", (c.after / c.before - 1.0) * 100.0),
                color: "#f4c7c3",
            })
            .collect();
        let y_fmt = move |v: f64| {
            if is_share {
                format!("{v:.2}%")
            } else {
                format!("{v:.2} ms")
            }
        };
        o.push_str(&format!("<h2>{}</h2>", esc(&t.key)));
        o.push_str(&svg::render(&Chart {
            id: &format!("trend-{i}"),
            title: &format!("{} per run (change points shaded)", t.key),
            x_label: "run",
            y_label: if is_share { "share" } else { "latency" },
            x_axis: Axis::Linear,
            y_axis: Axis::Linear,
            y_fmt: &y_fmt,
            series: vec![
                Series {
                    name: "run".into(),
                    color: "#1f77b4",
                    points: t.points.iter().map(|p| (p.0 as f64, y(p.1))).collect(),
                },
                Series {
                    name: "segment mean".into(),
                    color: "#d62728",
                    points: segments,
                },
            ],
            bands,
        }));
        for c in &t.change_points {
            let label = t.points.iter().find(|p| p.0 == c.index).map_or("", |p| p.2.as_str());
            let _ = write!(
                o,
                "<p>change at run {} ({}): {} &rarr; {} ({:+.1}%), p = {:.3}</p>",
                c.index,
                esc(label),
                esc(&t.show(c.before)),
                esc(&t.show(c.after)),
                (c.after / c.before - 1.0) * 100.0,
                c.p_value
            );
        }
    }
    o.push_str("</body></html>");
    o
}
