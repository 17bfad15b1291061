//! A comparison as plain text and as Markdown (for a CI job summary or a pull-request
//! comment). JSON is the `Comparison` itself.

use super::{Comparison, Gate, Row, Unit};
use crate::units::fmt_ns;

fn pct(v: f64) -> String {
    format!("{:+.1}%", v * 100.0)
}

/// The change as a reader takes it: percent for ratios, percentage points for shares.
fn change_text(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Share => format!("{:+.2}pp", v * 100.0),
        _ => pct(v),
    }
}

fn value(unit: Unit, v: Option<f64>) -> String {
    match (unit, v) {
        (_, None) => "-".into(),
        (Unit::Ns, Some(v)) => fmt_ns(v.max(0.0) as u64),
        (Unit::OpsPerS, Some(v)) => format!("{v:.1}/s"),
        (Unit::Share, Some(v)) => format!("{:.2}%", v * 100.0),
    }
}

/// An interval's ends; past +1000% an end says only that (two pairs of runs, judged
/// over dozens of rows, give ends of +10^20%, which say nothing more).
fn ci_text(r: &Row) -> String {
    r.ci.map_or("-".into(), |(lo, hi)| {
        let hi = if r.unit != Unit::Share && hi > 10.0 {
            ">+1000%".to_string()
        } else {
            change_text(r.unit, hi)
        };
        format!("[{}, {hi}]", change_text(r.unit, lo))
    })
}

/// A row's values as every table shows them: baseline, candidate, change, interval.
fn cells(r: &Row) -> [String; 4] {
    [
        value(r.unit, r.baseline),
        value(r.unit, r.candidate),
        r.change.map_or("-".into(), |v| change_text(r.unit, v)),
        ci_text(r),
    ]
}

fn gate_text(r: &Row) -> String {
    let limit = r
        .limit
        .map(|l| format!(" (limit {})", change_text(r.unit, l)))
        .unwrap_or_default();
    let mut note = r.note.as_ref().map(|n| format!("; {n}")).unwrap_or_default();
    if !r.gated {
        note.push_str(" (not gated)");
    }
    match r.gate {
        Gate::Pass => format!("{}{limit}{note}", r.verdict),
        Gate::Regression => format!("{}: REGRESSION{limit}{note}", r.verdict),
        Gate::Inconclusive => format!("{}: could be a regression{limit}{note}", r.verdict),
    }
}

fn header(c: &Comparison) -> String {
    format!(
        "baseline  {}\ncandidate {}\nnoise: {}\ngate: {}; smallest change that counts {:.1}% (x1.5 at p99, x2 at p99.9)\n",
        c.baselines.join(" "),
        c.candidates.join(" "),
        c.noise_source,
        c.family,
        c.noise * 100.0
    )
}

fn summary_line(c: &Comparison) -> String {
    format!(
        "verdict: {} ({} regressions, {} inconclusive)",
        c.verdict, c.regressions, c.inconclusive
    )
}

/// A plain-text table.
pub fn text(c: &Comparison) -> String {
    let mut o = header(c);
    o.push('\n');
    o.push_str(&format!(
        "{:<12} {:<16} {:<5} {:>10} {:>10} {:>8} {:>20}  verdict\n",
        "workload", "stage", "stat", "baseline", "candidate", "change", "interval"
    ));
    for r in &c.rows {
        let [base, cand, change, ci] = cells(r);
        o.push_str(&format!(
            "{:<12} {:<16} {:<5} {base:>10} {cand:>10} {change:>8} {ci:>20}  {}\n",
            r.workload,
            r.stage,
            r.stat,
            gate_text(r)
        ));
    }
    for n in &c.notes {
        o.push_str(&format!("note: {n}\n"));
    }
    o.push_str(&summary_line(c));
    o.push('\n');
    o
}

/// A Markdown table.
pub fn markdown(c: &Comparison) -> String {
    let mut o = format!(
        "## eventbench compare: {}\n\n{}\n\nbaseline `{}` · candidate `{}` · noise: {} · {}\n\n| workload | stage | stat | baseline | candidate | change | interval | verdict |\n|---|---|---|---|---|---|---|---|\n",
        c.verdict,
        summary_line(c),
        c.baselines.join("`, `"),
        c.candidates.join("`, `"),
        c.noise_source,
        c.family
    );
    for r in &c.rows {
        let v = match r.gate {
            Gate::Regression => format!("**{}**", gate_text(r)),
            _ => gate_text(r),
        };
        let [base, cand, change, ci] = cells(r);
        o.push_str(&format!(
            "| {} | {} | {} | {base} | {cand} | {change} | {ci} | {v} |\n",
            r.workload, r.stage, r.stat
        ));
    }
    for n in &c.notes {
        o.push_str(&format!("\n- {n}"));
    }
    o.push('\n');
    o
}
