//! A history's trend per statistic, with its change points: as text, and as an HTML
//! page of SVG charts built like report.html (no script library, no network).

use std::fmt::Write;

use serde::Serialize;

use super::changes::{classify, Change, Confirmation, Kind};
use super::edivisive::{change_points, Options};
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
    /// Its change points, each with what it is (drift, or a change on a commit boundary).
    pub changes: Vec<Change>,
}

impl Trend {
    /// `key` over `entries` (runs without it are left out), with its change points,
    /// found on log values for latencies so a step is judged as a ratio, and each told
    /// apart by the commits around it and the `known` confirmations.
    pub fn of(entries: &[&Entry], key: &str, known: &[Confirmation]) -> Trend {
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
        let scenario = entries.first().map_or("", |e| e.scenario.as_str());
        Trend {
            key: key.to_string(),
            points,
            changes: cps.into_iter().map(|c| classify(entries, c, scenario, known)).collect(),
        }
    }

    /// One change point in words: where, how much, what it is and what to do.
    pub fn describe(&self, c: &Change) -> String {
        let at = &c.at;
        let label = self
            .points
            .iter()
            .find(|p| p.0 == at.index)
            .map_or("", |p| p.2.as_str());
        let size = format!(
            "{} -> {} ({:+.1}%), p = {:.3}",
            self.show(at.before),
            self.show(at.after),
            (at.after / at.before - 1.0) * 100.0,
            at.p_value
        );
        let what = match (c.kind, &c.commits) {
            (Kind::Drift, _) => {
                "host drift: the runs around it are of one commit; not a change of the code".to_string()
            }
            (kind, Some((b, a))) => {
                let how = c.confirmation.as_ref().map_or(
                    format!(
                        "confirm it: eventbench history confirm DIR SCENARIO --at {} --base {b} --change {a}",
                        at.index
                    ),
                    |k| format!("paired comparison: {} ({})", k.verdict, k.out),
                );
                format!("{kind} change between commits {b} and {a}; {how}")
            }
            (kind, None) => format!("{kind}: the runs carry no commits"),
        };
        format!("change at run {} ({label}): {size}; {what}", at.index)
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
        if t.changes.is_empty() {
            o.push_str("  no change point\n");
        }
        for c in &t.changes {
            let _ = writeln!(o, "  {}", t.describe(c));
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
        let mut bounds: Vec<usize> = t.changes.iter().map(|c| c.at.index).collect();
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
            .changes
            .iter()
            .map(|c| Band {
                from: c.at.index as f64 - 0.5,
                to: c.at.index as f64 + 0.5,
                label: format!("{:+.0}% {}", (c.at.after / c.at.before - 1.0) * 100.0, c.kind),
                // Drift grey, unconfirmed amber, confirmed red, refuted green.
                color: match c.kind {
                    Kind::Drift => "#dddddd",
                    Kind::Unconfirmed => "#fde5b4",
                    Kind::Confirmed => "#f4c7c3",
                    Kind::Refuted => "#cdebd0",
                },
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
        for c in &t.changes {
            let _ = write!(o, "<p>{}</p>", esc(&t.describe(c)));
        }
    }
    o.push_str("</body></html>");
    o
}
