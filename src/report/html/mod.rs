//! `report.html`: one self-contained page per run, built from `summary.json` and
//! `latency.hlog` alone (so `eventbench report DIR` rebuilds it). Charts are inline
//! SVG; nothing is fetched.

use std::fmt::Write;

use super::summary::Summary;
use crate::report::markup::esc;
use crate::stats::hlog::LoggedInterval;
use crate::units::fmt_ns as ns;

mod series;
mod workload;

const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f",
];

fn count(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn ms(v: f64) -> String {
    ns((v * 1e6).max(0.0) as u64)
}

/// The page style, shared by every eventbench page (report.html, the history's trend).
pub const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{margin-bottom:0}h2{border-top:1px solid #ddd;padding-top:16px}small{color:#777;font-weight:normal}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}.verdict.ok{color:#1a7f37}.verdict.bad{color:#b3261e}\
pre{background:#f6f6f6;padding:10px;overflow:auto}.chart{display:block;margin:10px 0}\
.chart .title{font-weight:600;font-size:13px}.chart .tick,.chart .legend,.chart .band-label{font-size:11px;fill:#555}\
.chart .axis{font-size:12px;fill:#333}.chart .grid{stroke:#e4e4e4}.chart .band{opacity:.8}.chart .empty{fill:#999}";

/// Counts the charts that drew data, for a glance and for the browser test.
pub const SCRIPT: &str = "document.addEventListener('DOMContentLoaded',function(){\
var c=document.querySelectorAll('svg.chart'),d=0,p=0;c.forEach(function(s){var n=0;\
s.querySelectorAll('polyline.series').forEach(function(l){n+=l.points.length;});if(n>0){d++;}p+=n;});\
document.body.dataset.charts=c.length;document.body.dataset.chartsWithData=d;document.body.dataset.points=p;});";

/// The whole page: the run's heading and checks, the pipeline's hops, the audit and
/// faults, each workload's section, and the scenario as run.
pub fn render(s: &Summary, intervals: &[LoggedInterval]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>eventbench: {}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        esc(&s.scenario.name)
    );
    heading(&mut o, s);
    checks(&mut o, s);
    o.push_str(&super::hops_html::section(s.hops.as_ref(), intervals));
    o.push_str(&super::hops_html::readers(s.reader_hops.as_ref()));
    if let Some(a) = &s.audit {
        let _ = write!(
            o,
            "<h2>Integrity audit</h2><pre>{}</pre>",
            esc(super::text::audit(a).trim())
        );
    }
    if !s.faults.is_empty() {
        let _ = write!(
            o,
            "<h2>Faults</h2><pre>{}</pre>",
            esc(&super::faults::lines(&s.faults).join("\n"))
        );
    }
    for (name, w) in &s.workloads {
        workload::section(&mut o, s, name, w, intervals);
    }
    let _ = write!(
        o,
        "<h2>Scenario</h2><p>overrides: {}</p><pre>{}</pre></body></html>",
        if s.scenario.overrides.is_empty() {
            "none".to_string()
        } else {
            esc(&s.scenario.overrides.join(" "))
        },
        esc(&s.scenario.text)
    );
    o
}

/// The run's title, when and where it ran, its verdict, the platform and provenance.
fn heading(o: &mut String, s: &Summary) {
    let (passed, word) = s.verdict();
    let verdict = (if passed { "ok" } else { "bad" }, esc(&word));
    let _ = write!(
        o,
        "<h1>{}</h1><p>{}</p><p>started {} · {:.1} s ({:.1} s measured after warmup) · eventbench {} · run {} · {} CPUs ({}) · generator {:.2} cores busy</p><p class=\"verdict {}\">checks: <b>{}</b></p>",
        esc(&s.scenario.name),
        esc(&s.scenario.description),
        esc(&s.started_at),
        s.elapsed_s,
        s.measured_s,
        esc(&s.eventbench_version),
        esc(&s.run_tag),
        s.host.cpus,
        esc(&s.host.cpu_model),
        s.generator.cpu_cores,
        verdict.0,
        verdict.1
    );
    if let Some(pl) = &s.platform {
        let _ = write!(o, "<p class=\"platform\">{}</p>", esc(&pl.line()));
    }
    let p = &s.provenance;
    let _ = write!(
        o,
        "<p class=\"provenance\">build {} ({}) · kernel {} · clock {} · log: {} · store: {}</p>",
        esc(&p.git_commit),
        esc(&p.rustc),
        esc(&s.host.kernel),
        esc(&p.clocksource),
        esc(&target(&p.target, "log")),
        esc(&target(&p.target, "store"))
    );
}

/// What the run met as its log or store, in a line.
fn target(recorded: &serde_json::Value, k: &str) -> String {
    let v = &recorded[k];
    if v.is_null() {
        return "not recorded".into();
    }
    match v["kind"].as_str() {
        Some(kind) => kind.to_string(),
        None if k == "store" => format!(
            "CQL {} (cluster {}), keyspace {} replication {}, compaction {}",
            v["release_version"].as_str().unwrap_or("?"),
            v["cluster_name"].as_str().unwrap_or("?"),
            v["keyspace"].as_str().unwrap_or("?"),
            v["replication"],
            v["compaction"]["class"].as_str().unwrap_or("?")
        ),
        None => format!(
            "Kafka {} (metadata.version {}), cluster {} ({} brokers), topics {}, librdkafka {}",
            v["kafka_release"].as_str().unwrap_or("?"),
            v["metadata_version"]["finalized"].as_str().unwrap_or("?"),
            v["cluster_id"].as_str().unwrap_or("?"),
            v["brokers"].as_array().map_or(0, Vec::len),
            v["topics"],
            v["librdkafka"].as_str().unwrap_or("?")
        ),
    }
}

/// Why the run did not finish as planned, and its thresholds.
fn checks(o: &mut String, s: &Summary) {
    if let Some(why) = &s.incomplete {
        let _ = write!(o, "<p class=\"verdict bad\">incomplete: {}</p>", esc(why));
    }
    if let Some(why) = &s.interrupted {
        let _ = write!(o, "<p class=\"verdict bad\">interrupted by {}</p>", esc(why));
    }
    if let Some(why) = &s.aborted {
        let _ = write!(o, "<p class=\"verdict bad\">aborted: {}</p>", esc(why));
    }
    if s.thresholds.is_empty() {
        return;
    }
    o.push_str("<h2>Thresholds</h2><table><tr><th>threshold</th><th>condition</th><th>actual</th><th></th></tr>");
    for v in &s.thresholds {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"verdict {}\">{}</td></tr>",
            esc(&v.threshold),
            esc(&v.condition),
            esc(&v.actual),
            if v.passed { "ok" } else { "bad" },
            if v.passed { "pass" } else { "FAIL" }
        );
    }
    o.push_str("</table>");
}
