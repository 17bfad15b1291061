//! `report.html`: one self-contained page per run, built from `summary.json` and
//! `latency.hlog` alone (so `eventbench report DIR` rebuilds it). Charts are inline
//! SVG; nothing is fetched.

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::summary::{Health, LoadModel, Summary, WorkloadSummary};
use super::svg::{self, Axis, Band, Chart, Series};
use crate::report::markup::esc;
use crate::stats::hlog::LoggedInterval;
use crate::stats::timeline::IntervalPoint;
use crate::units::fmt_ns as ns;

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

/// Warmup end and each workload's phases, from the resolved plan in the summary.
fn plan_bands(s: &Summary, workload: &str) -> (f64, Vec<Band>) {
    let plan = s.plan_record();
    let warmup_s = plan.warmup_ns as f64 / 1e9;
    let mut bands = Vec::new();
    if warmup_s > 0.0 {
        bands.push(Band {
            from: 0.0,
            to: warmup_s,
            label: "warmup".into(),
            color: "#e8e8e8",
        });
    }
    let duration_s = plan.duration_ns as f64 / 1e9;
    if s.elapsed_s > duration_s + 0.05 && duration_s > 0.0 {
        bands.push(Band {
            from: duration_s,
            to: s.elapsed_s,
            label: "drain".into(),
            color: "#f3e8f3",
        });
    }
    let profile = plan
        .workloads
        .iter()
        .find(|w| w.name == workload)
        .map(|w| w.load.profile.clone())
        .unwrap_or_default();
    // One band per phase (a sine's 64 pieces a period are one), or per segment in a
    // summary that has no phase labels.
    let segs = &profile.segments;
    let spans: Vec<(f64, f64, String)> = crate::plan::phase_runs(segs, &profile.labels)
        .into_iter()
        .map(|(i, j)| {
            let (a, b) = (&segs[i], &segs[j]);
            let label = match profile.labels.get(a.phase as usize) {
                Some(l) => l.clone(),
                None if (a.from_rate - b.to_rate).abs() < 1e-9 => format!("{:.0}/s", a.from_rate),
                None => format!("{:.0}->{:.0}/s", a.from_rate, b.to_rate),
            };
            (
                a.start_ns as f64 / 1e9,
                (b.start_ns + b.duration_ns) as f64 / 1e9,
                label,
            )
        })
        .collect();
    if spans.len() > 1 {
        for (i, (from, to, label)) in spans.into_iter().enumerate() {
            let color = match i % 2 {
                _ if label.starts_with("burst ") => "#fbe3df",
                0 => "#eef4fb",
                _ => "#f7f1e8",
            };
            bands.push(Band {
                from: from.max(warmup_s.min(from)),
                to,
                label,
                color,
            });
        }
    }
    for f in &s.faults {
        if let Some(from) = f.started_s {
            bands.push(Band {
                from,
                to: f.ended_s.filter(|e| *e > from).unwrap_or(from + 0.05),
                label: format!("fault: {}", f.description),
                color: "#f9d6d0",
            });
        }
    }
    (warmup_s, bands)
}

fn spectrum_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for v in h.iter_quantiles(4) {
        let q = v.quantile_iterated_to();
        let value = v.value_iterated_to() as f64 / 1e6;
        if q >= 1.0 - 1e-12 {
            // The maximum: half a decade past the last finite percentile.
            let last = pts.last().map_or(1.0, |p| p.0);
            pts.push((last * 3.0, value));
            break;
        }
        pts.push((1.0 / (1.0 - q), value));
    }
    pts
}

fn workload_section(o: &mut String, s: &Summary, name: &str, w: &WorkloadSummary, intervals: &[LoggedInterval]) {
    let id = name.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let (warmup_s, bands) = plan_bands(s, name);
    let health_class = match w.health {
        Health::Healthy => "ok",
        _ => "bad",
    };
    let _ = write!(
        o,
        r#"<section class="workload" id="w-{id}"><h2>{} <small>{} · {} model</small></h2>
<p class="verdict {health_class}">generator health: <b>{}</b> — {}</p>
<p>target {:.1}/s, achieved {:.1}/s · {} · {} late, {} unanswered</p>"#,
        esc(name),
        w.kind,
        w.model,
        w.health,
        esc(&w.health_reason),
        w.target_rate,
        w.achieved_rate,
        esc(&w.outcomes()),
        w.late,
        w.unanswered,
    );
    // A last interval cut short (the run's end) has too few operations to chart.
    let nominal = {
        let mut l: Vec<f64> = w.timeline.iter().map(|p| p.length_s).collect();
        l.sort_by(f64::total_cmp);
        l.get(l.len() / 2).copied().unwrap_or(0.0)
    };
    let tl: Vec<_> = w.timeline.iter().filter(|p| p.length_s >= 0.5 * nominal).collect();
    let tl = &tl[..];
    let latency = latency_series(tl);
    let main = crate::plan::main_stage(w.kind).0.name();
    o.push_str(&svg::render(&Chart {
        id: &format!("latency-{id}"),
        title: &format!("{main} latency per interval (from intended start)"),
        x_label: "run time, s",
        y_label: "latency",
        x_axis: Axis::Linear,
        y_axis: Axis::Log,
        y_fmt: &ms,
        series: latency,
        bands: bands.clone(),
    }));
    // The measured tags hold exactly summary.json's operations (older logs: by time).
    let from = if crate::stats::hlog::tags_warmup(intervals) {
        0.0
    } else {
        warmup_s
    };
    let spectra = crate::stats::hlog::stages_after(intervals, name, from);
    let series: Vec<Series> = spectra
        .iter()
        .filter(|(stage, _)| !["serialize", "deserialize"].contains(&stage.as_str()))
        .enumerate()
        .map(|(i, (stage, h))| Series {
            name: stage.clone(),
            color: PALETTE[i % PALETTE.len()],
            points: spectrum_points(h),
        })
        .collect();
    o.push_str(&svg::render(&Chart {
        id: &format!("spectrum-{id}"),
        title: "percentile spectrum after warmup, per stage",
        x_label: "percentile",
        y_label: "latency",
        x_axis: Axis::Percentile,
        y_axis: Axis::Log,
        y_fmt: &ms,
        series,
        bands: Vec::new(),
    }));
    let rates = rate_series(tl, w.model);
    o.push_str(&svg::render(&Chart {
        id: &format!("rate-{id}"),
        title: "target and achieved rate",
        x_label: "run time, s",
        y_label: "operations/s",
        x_axis: Axis::Linear,
        y_axis: Axis::Linear,
        y_fmt: &|v| format!("{v:.0}"),
        series: rates,
        bands: bands.clone(),
    }));
    let lag = lag_series(tl, s.platform.as_ref());
    if !lag.is_empty() {
        o.push_str(&svg::render(&Chart {
            id: &format!("lag-{id}"),
            title: "schedule lag per interval, beside the platform floor (hiccup meter)",
            x_label: "run time, s",
            y_label: "lag",
            x_axis: Axis::Linear,
            y_axis: Axis::Log,
            y_fmt: &ms,
            series: lag,
            bands: bands.clone(),
        }));
    }
    let errors = error_series(tl);
    o.push_str(&svg::render(&Chart {
        id: &format!("errors-{id}"),
        title: "errors per interval, by class",
        x_label: "run time, s",
        y_label: "errors",
        x_axis: Axis::Linear,
        y_axis: Axis::Linear,
        y_fmt: &count,
        series: errors,
        bands: bands.clone(),
    }));
    for d in &w.disruptions {
        let _ = write!(
            o,
            "<p class=\"verdict bad\">disrupted {:.1}–{:.1} s: {}</p>",
            d.from_s,
            d.to_s,
            d.outcome()
        );
    }
    for st in &w.stalls {
        let _ = write!(
            o,
            "<p class=\"verdict\">schedule stall {:.1}–{:.1} s: lag up to {}, {} operations late</p>",
            st.from_s,
            st.to_s,
            ms(st.lag_max_ns as f64 / 1e6),
            st.late
        );
    }
    stage_table(o, w);
    o.push_str("</section>");
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

/// The whole page.
pub fn render(s: &Summary, intervals: &[LoggedInterval]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>eventbench: {}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        esc(&s.scenario.name)
    );
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
    let target = |k: &str| -> String {
        let v = &p.target[k];
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
    };
    let _ = write!(
        o,
        "<p class=\"provenance\">build {} ({}) · kernel {} · clock {} · log: {} · store: {}</p>",
        esc(&p.git_commit),
        esc(&p.rustc),
        esc(&s.host.kernel),
        esc(&p.clocksource),
        esc(&target("log")),
        esc(&target("store"))
    );
    if let Some(why) = &s.incomplete {
        let _ = write!(o, "<p class=\"verdict bad\">incomplete: {}</p>", esc(why));
    }
    if let Some(why) = &s.interrupted {
        let _ = write!(o, "<p class=\"verdict bad\">interrupted by {}</p>", esc(why));
    }
    if let Some(why) = &s.aborted {
        let _ = write!(o, "<p class=\"verdict bad\">aborted: {}</p>", esc(why));
    }
    if !s.thresholds.is_empty() {
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
        workload_section(&mut o, s, name, w, intervals);
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

type Point<'a> = &'a IntervalPoint;

fn mid(p: &IntervalPoint) -> f64 {
    p.t_s + p.length_s / 2.0
}

/// p50, p99 and max of the main stage per interval, and e2e p99 where there is one.
fn latency_series(tl: &[Point<'_>]) -> Vec<Series> {
    let mut latency = vec![
        Series {
            name: "p50".into(),
            color: PALETTE[0],
            points: tl.iter().map(|p| (mid(p), p.p50_ns as f64 / 1e6)).collect(),
        },
        Series {
            name: "p99".into(),
            color: PALETTE[1],
            points: tl.iter().map(|p| (mid(p), p.p99_ns as f64 / 1e6)).collect(),
        },
        Series {
            name: "max".into(),
            color: PALETTE[7],
            points: tl.iter().map(|p| (mid(p), p.max_ns as f64 / 1e6)).collect(),
        },
    ];
    if tl.iter().any(|p| p.e2e_p99_ns > 0) {
        latency.push(Series {
            name: "e2e p99".into(),
            color: PALETTE[2],
            points: tl.iter().map(|p| (mid(p), p.e2e_p99_ns as f64 / 1e6)).collect(),
        });
    }
    latency
}

/// Schedule lag p99 and max per interval, and the hiccup meter's p99 and max beside
/// them: a lag that the floor shares is the host's.
fn lag_series(tl: &[Point<'_>], platform: Option<&crate::report::platform::PlatformSummary>) -> Vec<Series> {
    if tl.iter().all(|p| p.lag_max_ns == 0) {
        return Vec::new();
    }
    // Zero does not fit a log axis: a floor of 1 us.
    let v = |ns: u64| (ns.max(1_000)) as f64 / 1e6;
    let mut out = vec![
        Series {
            name: "lag p99".into(),
            color: PALETTE[0],
            points: tl.iter().map(|p| (mid(p), v(p.lag_p99_ns))).collect(),
        },
        Series {
            name: "lag max".into(),
            color: PALETTE[1],
            points: tl.iter().map(|p| (mid(p), v(p.lag_max_ns))).collect(),
        },
    ];
    if let Some(pl) = platform.filter(|p| !p.timeline.is_empty()) {
        let at = |p: &crate::stats::platform::HostPoint| p.t_s + p.length_s / 2.0;
        out.push(Series {
            name: "hiccup p99".into(),
            color: PALETTE[2],
            points: pl.timeline.iter().map(|p| (at(p), v(p.hiccup_p99_ns))).collect(),
        });
        out.push(Series {
            name: "hiccup max".into(),
            color: PALETTE[7],
            points: pl.timeline.iter().map(|p| (at(p), v(p.hiccup_max_ns))).collect(),
        });
    }
    out
}

/// Achieved rate per interval, and the target for an open model.
fn rate_series(tl: &[Point<'_>], model: LoadModel) -> Vec<Series> {
    let mut rates = vec![Series {
        name: "achieved".into(),
        color: PALETTE[0],
        points: tl.iter().map(|p| (mid(p), p.achieved_rate)).collect(),
    }];
    if model == LoadModel::Open {
        rates.insert(
            0,
            Series {
                name: "target".into(),
                color: PALETTE[7],
                points: tl.iter().map(|p| (mid(p), p.target_rate)).collect(),
            },
        );
    }
    rates
}

/// Errors per interval, one series per class that occurred.
fn error_series(tl: &[Point<'_>]) -> Vec<Series> {
    let classes: std::collections::BTreeSet<&String> = tl.iter().flat_map(|p| p.errors_by_class.keys()).collect();
    let mut errors: Vec<Series> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            name: (*c).clone(),
            color: PALETTE[(i + 1) % PALETTE.len()],
            points: tl
                .iter()
                .map(|p| (mid(p), *p.errors_by_class.get(*c).unwrap_or(&0) as f64))
                .collect(),
        })
        .collect();
    if errors.is_empty() {
        errors.push(Series {
            name: "errors (none)".into(),
            color: PALETTE[2],
            points: tl.iter().map(|p| (mid(p), p.errors as f64)).collect(),
        });
    }
    errors
}

/// The stage table and the error counts.
fn stage_table(o: &mut String, w: &WorkloadSummary) {
    let _ = write!(
        o,
        "<table><tr><th>stage</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th></tr>"
    );
    for (stage, st) in &w.stages {
        // A lower bound (censored operations may lie above it) is shown as "&gt; value".
        let v = |name: &str, value: u64| st.show(name, value, "&gt; ");
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(stage),
            st.count,
            v("mean", st.mean_ns as u64),
            v("p50", st.p50_ns),
            v("p90", st.p90_ns),
            v("p99", st.p99_ns),
            v("p999", st.p999_ns),
            v("p9999", st.p9999_ns),
            v("max", st.max_ns)
        );
    }
    if w.censored + w.unanswered > 0 {
        let _ = write!(
            o,
            "<tr><td colspan=\"9\">&gt; marks a lower bound: {} censored (given up on) and {} produced events never answered are counted at the time they had waited</td></tr>",
            w.censored, w.unanswered
        );
    }
    if !w.errors.is_empty() {
        let list: Vec<String> = w.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(o, "</table><p>errors: {}</p>", esc(&list.join(", ")));
    } else {
        o.push_str("</table>");
    }
}
