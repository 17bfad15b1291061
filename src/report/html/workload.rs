//! One workload's section of report.html: its verdict, the timeline charts (latency,
//! rate, lag beside the platform floor, errors) over its plan's bands, the percentile
//! spectrum per stage, its disruptions and stalls, and the stage table.

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::series::{error_series, lag_series, latency_series, rate_series, Point};
use super::{count, ms, PALETTE};
use crate::report::markup::esc;
use crate::report::summary::{Health, Summary, WorkloadSummary};
use crate::report::svg::{self, Axis, Band, Chart, Series};
use crate::stats::hlog::LoggedInterval;

pub(super) fn section(o: &mut String, s: &Summary, name: &str, w: &WorkloadSummary, intervals: &[LoggedInterval]) {
    let id = name.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let (warmup_s, bands) = plan_bands(s, name);
    heading(o, name, w, &id);
    let tl = full_intervals(w);
    let main = crate::plan::main_stage(w.kind).0.name();
    let timeline =
        |o: &mut String, chart: &str, title: &str, y_label: &str, y: (Axis, &dyn Fn(f64) -> String), series| {
            o.push_str(&svg::render(&Chart {
                id: &format!("{chart}-{id}"),
                title,
                x_label: "run time, s",
                y_label,
                x_axis: Axis::Linear,
                y_axis: y.0,
                y_fmt: y.1,
                series,
                bands: bands.clone(),
            }));
        };
    let title = format!("{main} latency per interval (from intended start)");
    timeline(o, "latency", &title, "latency", (Axis::Log, &ms), latency_series(&tl));
    spectrum(o, name, &id, warmup_s, intervals);
    let per_s = |v: f64| format!("{v:.0}");
    let rates = rate_series(&tl, w.model);
    timeline(
        o,
        "rate",
        "target and achieved rate",
        "operations/s",
        (Axis::Linear, &per_s),
        rates,
    );
    let lag = lag_series(&tl, s.platform.as_ref());
    if !lag.is_empty() {
        let title = "schedule lag per interval, beside the platform floor (hiccup meter)";
        timeline(o, "lag", title, "lag", (Axis::Log, &ms), lag);
    }
    let errors = error_series(&tl);
    timeline(
        o,
        "errors",
        "errors per interval, by class",
        "errors",
        (Axis::Linear, &count),
        errors,
    );
    incidents(o, w);
    stage_table(o, w);
    o.push_str("</section>");
}

fn heading(o: &mut String, name: &str, w: &WorkloadSummary, id: &str) {
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
    if let Some(src) = &w.source {
        let _ = write!(o, "<p>load: {}</p>", esc(src));
    }
}

/// The timeline without a last interval cut short (the run's end): too few operations
/// to chart.
fn full_intervals(w: &WorkloadSummary) -> Vec<Point<'_>> {
    let nominal = {
        let mut l: Vec<f64> = w.timeline.iter().map(|p| p.length_s).collect();
        l.sort_by(f64::total_cmp);
        l.get(l.len() / 2).copied().unwrap_or(0.0)
    };
    w.timeline.iter().filter(|p| p.length_s >= 0.5 * nominal).collect()
}

/// Every stage's percentile spectrum after warmup, from the interval log.
fn spectrum(o: &mut String, name: &str, id: &str, warmup_s: f64, intervals: &[LoggedInterval]) {
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
}

/// Disruptions (a stretch with errors) and schedule stalls, each a line.
fn incidents(o: &mut String, w: &WorkloadSummary) {
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

/// The stage table and the error counts.
fn stage_table(o: &mut String, w: &WorkloadSummary) {
    let heads: String = crate::stats::StageSummary::default()
        .columns("")
        .iter()
        .map(|c| format!("<th>{}</th>", c.0))
        .collect();
    let _ = write!(o, "<table><tr><th>stage</th><th>count</th><th>mean</th>{heads}</tr>");
    for (stage, st) in &w.stages {
        // A lower bound (censored operations may lie above it) is shown as "&gt; value".
        let cells: String = st
            .columns("&gt; ")
            .iter()
            .map(|c| format!("<td>{}</td>", c.1))
            .collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{cells}</tr>",
            esc(stage),
            st.count,
            st.show("mean", st.mean_ns as u64, "&gt; "),
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
