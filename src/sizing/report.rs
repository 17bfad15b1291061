//! plan.json, plan.md and plan.html: the measured sizes with their intervals, the
//! fitted curve and its band, the target rate and the size it needs.

use std::fmt::Write;

use super::usl::Coef;
use super::Plan;
use crate::report::markup::esc;
use crate::report::svg::{self, Axis, Chart, Series};
use crate::report::{RunDir, RunDirError};

fn coef(name: &str, c: &Coef, digits: usize) -> String {
    match (c.lo, c.hi) {
        (Some(l), Some(h)) => format!("{name} = {:.digits$} [{l:.digits$}, {h:.digits$}]", c.value),
        _ => format!("{name} = {:.digits$}", c.value),
    }
}

/// The plan's answer in a few lines, as the text output and both reports show it.
pub fn lines(p: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    match &p.fit {
        Some(f) => {
            out.push(format!(
                "USL fit over {}: {}, {}, {}{}",
                p.key,
                coef("lambda", &f.lambda, 1),
                coef("sigma", &f.sigma, 4),
                coef("kappa", &f.kappa, 5),
                match (f.peak_n, f.peak_x) {
                    (Some(n), Some(x)) => format!("; throughput peaks at {x:.0}/s near N = {n:.1}"),
                    _ => "; no peak (no coherency cost seen)".into(),
                }
            ));
        }
        None => out.push("no fit".into()),
    }
    out.extend(p.fit_notes.iter().cloned());
    if let Some(h) = &p.held_out {
        let band = match (h.predicted.lo, h.predicted.hi) {
            (Some(l), Some(hi)) => format!(
                " (interval {l:.0} - {hi:.0}: {})",
                if h.covered == Some(true) {
                    "covered"
                } else {
                    "NOT covered"
                }
            ),
            _ => " (no interval: too few sizes left)".into(),
        };
        out.push(format!(
            "held out N = {}: measured {:.0}/s, predicted {:.0}/s from the other sizes, error {:+.1}%{band}",
            h.n,
            h.measured,
            h.predicted.x,
            h.error * 100.0
        ));
    } else {
        out.push("held-out check: not possible (too few sizes with a capacity)".into());
    }
    if let Some(n) = &p.needed {
        out.push(format!("for {:.0}/s: {}", n.target_rate, n.says));
    }
    if let Some(h) = &p.host_note {
        out.push(h.clone());
    }
    out
}

pub fn markdown(p: &Plan) -> String {
    let mut o = format!(
        "## eventbench sizing: {} over {}\n\nSLOs: {}\n\n",
        p.workload,
        p.key,
        p.slos.join(", ")
    );
    for l in lines(p) {
        let _ = writeln!(o, "- {l}");
    }
    let _ = writeln!(
        o,
        "\n| {} | capacity/s | 95% interval | sustainable/s | fails at/s | limiting | host |\n|---|---|---|---|---|---|---|",
        p.key
    );
    let v = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.0}"));
    for s in &p.sizes {
        let _ = writeln!(
            o,
            "| {} | {} | {} - {} | {} | {} | {} | {} |",
            s.value,
            v(s.capacity),
            v(s.lo),
            v(s.hi),
            v(s.sustainable_rate),
            v(s.failing_rate),
            s.limiting_hop.clone().unwrap_or_else(|| s.limiting.clone()),
            s.host_bound.as_deref().unwrap_or("")
        );
    }
    o
}

pub fn html(p: &Plan) -> String {
    let measured: Vec<(f64, f64)> = p.sizes.iter().filter_map(|s| Some((s.n, s.capacity?))).collect();
    let ends = |f: fn(&super::Size) -> Option<f64>| -> Vec<(f64, f64)> {
        p.sizes.iter().filter_map(|s| Some((s.n, f(s)?))).collect()
    };
    let mut series = vec![
        Series {
            name: "fit".into(),
            color: "#1f77b4",
            points: p.curve.iter().map(|c| (c.n, c.x)).collect(),
        },
        Series {
            name: "95% prediction, low".into(),
            color: "#9ecae1",
            points: p.curve.iter().filter_map(|c| Some((c.n, c.lo?))).collect(),
        },
        Series {
            name: "95% prediction, high".into(),
            color: "#9ecae1",
            points: p.curve.iter().filter_map(|c| Some((c.n, c.hi?))).collect(),
        },
        Series {
            name: "measured".into(),
            color: "#d62728",
            points: measured,
        },
        Series {
            name: "measured, interval low".into(),
            color: "#f4a582",
            points: ends(|s| s.lo),
        },
        Series {
            name: "measured, interval high".into(),
            color: "#f4a582",
            points: ends(|s| s.hi),
        },
    ];
    if let (Some(n), Some(last)) = (&p.needed, p.curve.last()) {
        series.push(Series {
            name: format!("target {:.0}/s", n.target_rate),
            color: "#2ca02c",
            points: vec![(1.0, n.target_rate), (last.n, n.target_rate)],
        });
    }
    let chart = svg::render(&Chart {
        id: "usl",
        title: "capacity by size: measured, and the fitted law with its 95% prediction band",
        x_label: &p.key,
        y_label: "capacity, operations/s",
        x_axis: Axis::Linear,
        y_axis: Axis::Linear,
        y_fmt: &|v| format!("{v:.0}"),
        series,
        bands: Vec::new(),
    });
    let mut o = crate::report::markup::tool_page(&format!("sizing: {}", p.workload));
    let _ = write!(
        o,
        "<h1>Sizing {} over {}</h1><p>SLOs: {}</p><ul>",
        esc(&p.workload),
        esc(&p.key),
        esc(&p.slos.join(", "))
    );
    for l in lines(p) {
        let _ = write!(o, "<li>{}</li>", esc(&l));
    }
    o.push_str("</ul>");
    o.push_str(&chart);
    o.push_str("<table><tr><th>size</th><th>capacity/s</th><th>95% interval</th><th>sustainable/s</th><th>fails at/s</th><th>limiting</th><th>host</th><th>steps</th></tr>");
    let v = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.0}"));
    for s in &p.sizes {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{} - {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.value),
            v(s.capacity),
            v(s.lo),
            v(s.hi),
            v(s.sustainable_rate),
            v(s.failing_rate),
            esc(s.limiting_hop.as_deref().unwrap_or(&s.limiting)),
            esc(s.host_bound.as_deref().unwrap_or("")),
            esc(&s.dir)
        );
    }
    let _ = write!(
        o,
        "</table><p>host: {} ({} CPUs)</p></body></html>",
        esc(&p.host.hostname),
        p.host.cpus
    );
    o
}

/// Writes plan.json, plan.md and plan.html into `dir`.
pub fn write(dir: &RunDir, p: &Plan) -> Result<(), RunDirError> {
    dir.write_json("plan.json", p)?;
    dir.write_bytes("plan.md", markdown(p).as_bytes())?;
    dir.write_bytes("plan.html", html(p).as_bytes())
}
