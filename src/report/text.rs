//! The text summary printed at the end of a run.

use std::fmt::Write;

use super::summary::{Summary, WorkloadSummary};

/// Renders the summary as a table per workload.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "eventbench {} | scenario {} | {:.1}s measured after warmup",
        s.eventbench_version, s.scenario.name, s.measured_s
    );
    if !s.scenario.description.is_empty() {
        let _ = writeln!(o, "{}", s.scenario.description);
    }
    if let Some(sig) = &s.interrupted {
        let _ = writeln!(o, "INTERRUPTED by {sig}: the numbers cover the run up to then");
    }
    if let Some(why) = &s.incomplete {
        let _ = writeln!(o, "INCOMPLETE: {why}");
    }
    for (name, w) in &s.workloads {
        workload(&mut o, name, w);
    }
    pipeline(&mut o, s);
    if let Some(why) = &s.aborted {
        let _ = writeln!(o, "\nABORTED: {why}");
    }
    thresholds(&mut o, s);
    let _ = writeln!(
        o,
        "generator: {:.2} CPU s, {:.2} cores busy on average ({} threads; the hiccup meter's {:.2} CPU s apart)",
        s.generator.cpu_seconds, s.generator.cpu_cores, s.generator.threads, s.generator.meter_cpu_seconds
    );
    if let Some(p) = &s.platform {
        let _ = writeln!(o, "{}", p.line());
    }
    if let Some(p) = &s.prefill {
        let _ = writeln!(o, "{}", prefill(p));
    }
    o
}

/// A workload: its rate and outcomes, what went wrong and when, its health, its stages.
fn workload(o: &mut String, name: &str, w: &WorkloadSummary) {
    let _ = writeln!(o);
    let rate = if w.model == super::summary::LoadModel::Open {
        format!("target {:.1}/s, achieved {:.1}/s", w.target_rate, w.achieved_rate)
    } else {
        format!("closed model, {:.1}/s (latency = service time)", w.achieved_rate)
    };
    let _ = writeln!(o, "{name} ({}): {rate} | {} | {} late", w.kind, w.outcomes(), w.late);
    if let Some(src) = &w.source {
        let _ = writeln!(o, "  load: {src}");
    }
    let errors: Vec<String> = w.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if !errors.is_empty() || w.unanswered > 0 || w.abandoned > 0 {
        let errors = if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        };
        let _ = writeln!(
            o,
            "  errors: {errors} | unanswered {} | abandoned {}",
            w.unanswered, w.abandoned
        );
    }
    if w.empty > 0 {
        let _ = writeln!(o, "  empty results (no answer within reply_timeout): {}", w.empty);
    }
    if w.late_rows > 0 {
        let _ = writeln!(
            o,
            "  late rows: {} of {} rows came after their query stopped waiting (counted)",
            w.late_rows, w.rows
        );
    }
    for d in &w.disruptions {
        let _ = writeln!(o, "  disrupted {:.1}s-{:.1}s: {}", d.from_s, d.to_s, d.outcome());
    }
    for st in &w.stalls {
        let _ = writeln!(
            o,
            "  schedule stall {:.1}s-{:.1}s: lag up to {}, {} operations late",
            st.from_s,
            st.to_s,
            crate::units::fmt_ns(st.lag_max_ns),
            st.late
        );
    }
    let _ = writeln!(o, "  health: {} ({})", w.health, w.health_reason);
    stages(o, w);
}

/// The stage table; ">" marks a lower bound (censored operations may lie above it).
fn stages(o: &mut String, w: &WorkloadSummary) {
    let heads = crate::stats::StageSummary::default()
        .columns("")
        .map(|c| format!("{:>9}", c.0));
    let _ = writeln!(o, "  {:<16} {:>10} {}", "stage", "count", heads.join(" "));
    for (stage, st) in &w.stages {
        let cells = st.columns(">").map(|c| format!("{:>9}", c.1));
        let _ = writeln!(o, "  {:<16} {:>10} {}", stage, st.count, cells.join(" "));
    }
    if w.stages.values().any(|st| !st.lower_bounds.is_empty()) {
        let unanswered = if w.unanswered > 0 {
            format!(", and {} produced events never answered (in e2e)", w.unanswered)
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "  > lower bound: {} censored (given up on) at the time they had waited{unanswered}",
            w.censored
        );
    }
}

/// The services, the hops, the audit, the faults and the replies.
fn pipeline(o: &mut String, s: &Summary) {
    if let Some(p) = &s.services.persistence {
        let _ = writeln!(
            o,
            "\npersistence service: {} consumed, {} replied, {} malformed, {} failed, {} replies refused, {} dropped (fault injection)",
            p.consumed, p.replied, p.malformed, p.failed, p.unsent, p.dropped
        );
    }
    if let Some(q) = &s.services.query {
        let _ = writeln!(
            o,
            "query service: {} consumed, {} replies, {} malformed, {} failed, {} replies refused",
            q.consumed, q.replied, q.malformed, q.failed, q.unsent
        );
    }
    if let Some(h) = &s.hops {
        o.push_str(&h.text());
    }
    if let Some(h) = &s.reader_hops {
        o.push_str(&h.text().replacen("\nhops of", "\nreaders' hops of", 1));
    }
    if let Some(a) = &s.audit {
        o.push_str(&audit(a));
    }
    for l in super::faults::lines(&s.faults) {
        let _ = writeln!(o, "{l}");
    }
    if s.services.malformed_replies + s.services.foreign_replies > 0 {
        let _ = writeln!(
            o,
            "replies: {} malformed, {} foreign",
            s.services.malformed_replies, s.services.foreign_replies
        );
    }
}

fn thresholds(o: &mut String, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nthresholds:");
    let width = s.thresholds.iter().map(|v| v.threshold.len()).max().unwrap_or(0);
    for v in &s.thresholds {
        let _ = writeln!(
            o,
            "  {}  {:<width$}  {:<18}  actual {}{}",
            if v.passed { "pass" } else { "FAIL" },
            v.threshold,
            v.condition,
            v.actual,
            v.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
        );
    }
}

/// The history before the run, and what the readers read of it.
pub fn prefill(p: &crate::prefill::PrefillRecord) -> String {
    let mut line = format!(
        "prefill: {} events, {} of data, {} to {} in year bucket(s) {:?}, {} epochs per aggregate; ",
        p.events,
        crate::units::fmt_bytes(p.bytes),
        p.from,
        p.to,
        p.year_buckets,
        p.epochs
    );
    if p.written == 0 {
        line.push_str("already in the store (skipped)");
    } else {
        line.push_str(&format!(
            "{} written in {:.1} s ({:.0} events/s){}",
            p.written,
            p.seconds,
            p.events_per_s,
            if p.skipped > 0 {
                format!(", {} there from before", p.skipped)
            } else {
                String::new()
            }
        ));
    }
    if let Some(r) = &p.read {
        line.push_str(&format!(
            "\n  readers read {} of the {} history events in year bucket {} ({} more than once)",
            r.read, r.readable, r.year_bucket, r.read_again
        ));
    }
    line
}

/// The audit's findings, one line each, and the verdict.
pub fn audit(a: &crate::audit::AuditReport) -> String {
    let mut o = String::new();
    let stored = a.stored.map_or("not read".to_string(), |n| n.to_string());
    let _ = writeln!(
        o,
        "\naudit: {} acked, {stored} stored | lost {} | duplicates {} (rows {}, redelivered {}) | errors {} | hidden {} | unanswered {}",
        a.acked, a.lost, a.duplicates, a.duplicate_rows, a.redelivered, a.errors, a.hidden, a.unanswered
    );
    if a.readers {
        let _ = writeln!(
            o,
            "  readers: {} pending (reachable by the next query), {} in epochs before the readers started, {} returned more than once",
            a.pending, a.unreachable_epochs, a.requeried
        );
    }
    if a.trimmed > 0 {
        let _ = writeln!(
            o,
            "  trimmed: {} stored events the memory store dropped to stay within keep_per_aggregate (counted stored)",
            a.trimmed
        );
    }
    if a.backlog > 0 {
        let _ = writeln!(
            o,
            "  backlog {}: acknowledged events the persistence service had not taken when the run ended (not committed; not lost)",
            a.backlog
        );
    }
    if a.stored_unacked > 0 {
        let _ = writeln!(
            o,
            "  {} stored although their send was not acknowledged",
            a.stored_unacked
        );
    }
    for n in &a.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    for (kind, list) in &a.examples {
        let _ = writeln!(
            o,
            "  e.g. {kind}: {}",
            list.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(
        o,
        "  audit {}",
        if a.passed() {
            "PASSED".to_string()
        } else {
            format!("FAILED: {}", a.failed.join("; "))
        }
    );
    o
}
