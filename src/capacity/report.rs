//! The capacity report: the throughput-latency curve with the knee marked, achieved vs
//! offered, and each step's verdict and why.

use std::fmt::Write;

use super::Capacity;
use crate::report::markup::esc;
use crate::report::svg::{self, Axis, Band, Chart, Series};

fn headline(c: &Capacity) -> String {
    let rates = match (c.sustainable_rate, c.failing_rate) {
        (Some(l), Some(h)) => format!("sustainable: {l:.0}/s (fails at {h:.0}/s)"),
        (Some(l), None) => format!("sustainable: at least {l:.0}/s"),
        (None, Some(h)) => format!("no sustainable rate found (fails at {h:.0}/s)"),
        (None, None) => "no result".into(),
    };
    match &c.interval {
        Some(i) => format!("{rates} · capacity {}", i.text()),
        None => rates,
    }
}

/// Where the step settled and how much of it the cut dropped.
fn settled(s: &super::Step) -> String {
    match s.steady_from_s {
        Some(t) => format!("{t:.0} s (cut {:.0}%)", s.cut_share * 100.0),
        None => format!("not within {:.0}% (cut 0%)", super::MAX_CUT_SHARE * 100.0),
    }
}

/// The phase, and the vote where a rate ran more than once.
fn phase(s: &super::Step) -> String {
    if s.vote > 1 {
        format!("{} (vote {})", s.phase, s.vote)
    } else {
        s.phase.to_string()
    }
}

/// Markdown.
pub fn markdown(c: &Capacity) -> String {
    let mut o = format!(
        "## eventbench capacity: {} / {}\n\n**{}** · SLOs: {} · precision {:.0}%\n\nconfidence: {} · limiting: {}\n",
        c.scenario,
        c.workload,
        headline(c),
        c.slos.join(", "),
        c.precision * 100.0,
        c.confidence,
        c.limiting
    );
    if let Some(s) = &c.stopped_early {
        let _ = writeln!(o, "\nstopped early: {s}");
    }
    let _ = writeln!(
        o,
        "\n| # | phase | offered/s | achieved/s | p50 ms | p99 ms | p99.9 ms | settled at | verdict |\n|---|---|---|---|---|---|---|---|---|"
    );
    for (i, s) in c.steps.iter().enumerate() {
        let _ = writeln!(
            o,
            "| {i} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} |",
            phase(s),
            s.rate,
            s.achieved_rate,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            settled(s),
            s.verdict()
        );
    }
    o
}

/// A self-contained HTML page.
pub fn html(c: &Capacity) -> String {
    let mut o = crate::report::markup::tool_page(&format!("capacity: {}", c.scenario));
    let _ = write!(
        o,
        "<h1>Capacity of {} / {}</h1><p><b>{}</b></p><p>SLOs: {} · precision {:.0}% · confidence: {} · limiting: {}</p>",
        esc(&c.scenario),
        esc(&c.workload),
        esc(&headline(c)),
        esc(&c.slos.join(", ")),
        c.precision * 100.0,
        esc(&c.confidence),
        esc(&c.limiting)
    );
    if let Some(s) = &c.stopped_early {
        let _ = write!(o, "<p class=\"fail\">stopped early: {}</p>", esc(s));
    }
    charts(&mut o, c);
    step_table(&mut o, c);
    let _ = write!(
        o,
        "<h2>Target</h2><pre>{}</pre><p>eventbench {} on {} ({} CPUs)</p></body></html>",
        esc(&serde_json::to_string_pretty(&c.target).unwrap_or_default()),
        esc(&c.eventbench_version),
        esc(&c.host.cpu_model),
        c.host.cpus
    );
    o
}

fn ms(v: f64) -> String {
    crate::units::fmt_ns((v * 1e6).max(0.0) as u64)
}

/// Latency and achieved rate against the offered rate, over the interval and the knee.
fn charts(o: &mut String, c: &Capacity) {
    // The curve shows what decided: a run the host held and that ran again is only in
    // the table.
    let mut steps: Vec<_> = c.steps.iter().filter(|s| s.set_aside.is_none()).cloned().collect();
    steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let mut knee: Vec<Band> = match c.interval.as_ref().map(|i| (i.lo, i.hi)) {
        Some((Some(l), Some(h))) => vec![Band {
            from: l,
            to: h,
            label: "95% interval".into(),
            color: "#e3ecfa",
        }],
        _ => Vec::new(),
    };
    if let (Some(l), Some(h)) = (c.sustainable_rate, c.failing_rate) {
        knee.push(Band {
            from: l,
            to: h,
            label: "knee".into(),
            color: "#fde2e1",
        });
    }
    let series = |name: &str, color: &'static str, f: fn(&super::Step) -> f64| Series {
        name: name.into(),
        color,
        points: steps.iter().map(|s| (s.rate, f(s))).collect(),
    };
    o.push_str(&svg::render(&Chart {
        id: "curve",
        title: "latency vs offered rate (after each step settled)",
        x_label: "offered rate, operations/s",
        y_label: "latency",
        x_axis: Axis::Linear,
        y_axis: Axis::Log,
        y_fmt: &ms,
        series: vec![
            series("p50", "#1f77b4", |s| s.p50_ms),
            series("p99", "#d62728", |s| s.p99_ms),
            series("p99.9", "#7f7f7f", |s| s.p999_ms),
        ],
        bands: knee.clone(),
    }));
    o.push_str(&svg::render(&Chart {
        id: "achieved",
        title: "achieved vs offered rate",
        x_label: "offered rate, operations/s",
        y_label: "achieved, operations/s",
        x_axis: Axis::Linear,
        y_axis: Axis::Linear,
        y_fmt: &|v| format!("{v:.0}"),
        series: vec![
            series("offered", "#bbbbbb", |s| s.rate),
            series("achieved", "#1f77b4", |s| s.achieved_rate),
        ],
        bands: knee,
    }));
}

/// Every step, the ones set aside too, with its verdict.
fn step_table(o: &mut String, c: &Capacity) {
    o.push_str("<table><tr><th>#</th><th>phase</th><th>offered/s</th><th>achieved/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>settled at</th><th>generator cores</th><th>verdict</th></tr>");
    for (i, s) in c.steps.iter().enumerate() {
        let _ = write!(
            o,
            "<tr><td>{i}</td><td>{}</td><td>{:.0}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td class=\"{}\">{}</td></tr>",
            phase(s),
            s.rate,
            s.achieved_rate,
            ms(s.p50_ms),
            ms(s.p99_ms),
            ms(s.p999_ms),
            settled(s),
            s.generator_cores,
            match (s.passed, &s.set_aside) {
                (_, Some(_)) => "aside",
                (true, None) => "pass",
                (false, None) => "fail",
            },
            esc(&s.verdict())
        );
    }
    o.push_str("</table>");
}
