//! Scheduled faults as the report tells them: what each did, its commands' output
//! with the scenario's secrets redacted, and for a paused persistence service the
//! backlog it left and how it drained (OMB's backlog drain, from the run's own
//! timeline: produced minus answered, interval by interval).

use crate::engine::faults::{Backlog, FaultRecord};
use crate::engine::Measured;
use crate::plan::Plan;
use crate::scenario::{PausedService, WorkloadKind};
use crate::stats::timeline::IntervalPoint;

/// Latency back within this factor of its level before the fault counts as recovered.
pub const RECOVERED_FACTOR: f64 = 2.0;

/// The faults of `m`, redacted, with their backlogs.
pub fn records(plan: &Plan, m: &Measured, secrets: &crate::scenario::secrets::Secrets) -> Vec<FaultRecord> {
    let producers: Vec<&[IntervalPoint]> = plan
        .workloads
        .iter()
        .zip(&m.workloads)
        .filter(|(w, _)| w.kind == WorkloadKind::Produce)
        .map(|(_, m)| m.timeline.as_slice())
        .collect();
    m.faults
        .iter()
        .zip(&plan.faults)
        .map(|(r, f)| {
            let mut r = r.clone();
            r.description = secrets.message(&r.description);
            for c in &mut r.commands {
                c.command = secrets.message(&c.command);
                c.output = secrets.message(&c.output);
            }
            if f.pause == Some(PausedService::Persistence) {
                if let (Some(at), Some(until)) = (r.started_s, r.ended_s) {
                    r.backlog = backlog(&producers, at, until, m.elapsed_ns as f64 / 1e9);
                }
            }
            r
        })
        .collect()
}

/// One line per fault (and per command), as the text report and report.html show them.
pub fn lines(faults: &[FaultRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for f in faults {
        let when = match (f.started_s, f.ended_s) {
            (Some(a), Some(b)) if b > a => format!("{a:.1}s-{b:.1}s"),
            (Some(a), _) => format!("at {a:.1}s"),
            (None, _) => "never (the run ended first)".to_string(),
        };
        let mut line = format!("fault {}: {when}", f.description);
        if let Some(b) = &f.backlog {
            line.push_str(&format!(" | backlog at resume {}", b.at_resume));
            match (b.drain_s, b.drain_rate) {
                (Some(d), Some(r)) => line.push_str(&format!(", drained in {d:.2}s at {r:.0}/s")),
                (Some(d), None) => line.push_str(&format!(", drained in {d:.2}s")),
                _ => line.push_str(", not drained within the run"),
            }
            match b.recovered_s {
                Some(r) => line.push_str(&format!(", e2e p99 back within {RECOVERED_FACTOR}x after {r:.1}s")),
                None => line.push_str(&format!(", e2e p99 not back within {RECOVERED_FACTOR}x")),
            }
        }
        out.push(line);
        for c in &f.commands {
            let exit = c.exit.map_or("no exit code".to_string(), |e| format!("exit {e}"));
            out.push(format!(
                "  `{}` at {:.1}s: {exit} in {:.1}s",
                c.command, c.at_s, c.took_s
            ));
            for l in c.output.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev() {
                out.push(format!("    {l}"));
            }
        }
    }
    out
}

/// Cumulative (time, produced, answered) at each interval's end, over all producers.
fn cumulative(producers: &[&[IntervalPoint]]) -> Vec<(f64, f64, f64)> {
    let Some(first) = producers.first() else {
        return Vec::new();
    };
    let (mut p, mut d) = (0.0, 0.0);
    first
        .iter()
        .enumerate()
        .map(|(i, pt)| {
            for t in producers {
                if let Some(x) = t.get(i) {
                    p += x.ok as f64;
                    d += x.e2e_done as f64;
                }
            }
            (pt.t_s + pt.length_s, p, d)
        })
        .collect()
}

/// A cumulative series at time `t`, linear between interval ends.
fn at_time(c: &[(f64, f64, f64)], t: f64) -> (f64, f64) {
    let i = c.partition_point(|x| x.0 < t);
    match (i.checked_sub(1).map(|j| c[j]), c.get(i)) {
        (Some(a), Some(b)) if b.0 > a.0 => {
            let f = (t - a.0) / (b.0 - a.0);
            (a.1 + f * (b.1 - a.1), a.2 + f * (b.2 - a.2))
        }
        (_, Some(b)) => (b.1, b.2),
        (Some(a), None) => (a.1, a.2),
        (None, None) => (0.0, 0.0),
    }
}

/// The backlog a pause from `at` to `until` (run-time s) left, and its drain.
pub fn backlog(producers: &[&[IntervalPoint]], at: f64, until: f64, end: f64) -> Option<Backlog> {
    let c = cumulative(producers);
    if c.is_empty() {
        return None;
    }
    let first = producers[0];
    // Before the pause: the backlog every pipeline carries (in flight), and latency.
    let before: Vec<usize> = first
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.warmup && p.t_s + p.length_s <= at + 1e-9)
        .map(|(i, _)| i)
        .collect();
    let level = if before.is_empty() {
        0.0
    } else {
        before.iter().map(|i| c[*i].1 - c[*i].2).sum::<f64>() / before.len() as f64
    };
    let mut p99s: Vec<u64> = before
        .iter()
        .map(|i| {
            producers
                .iter()
                .filter_map(|t| t.get(*i))
                .map(|p| p.e2e_p99_ns)
                .max()
                .unwrap_or(0)
        })
        .filter(|v| *v > 0)
        .collect();
    p99s.sort_unstable();
    let p99_before = p99s.get(p99s.len() / 2).copied();
    let (p_r, d_r) = at_time(&c, until);
    let at_resume = (p_r - d_r).max(0.0);
    // Drained: back to the level before, within 1% of what there was to drain.
    let goal = level + ((at_resume - level) * 0.01).max(2.0);
    let mut drain_end = None;
    let mut prev = (until, at_resume);
    for x in c.iter().filter(|x| x.0 > until) {
        let b = x.1 - x.2;
        if b <= goal {
            // Where the line between the last two ends crossed the goal.
            let f = if prev.1 > b {
                ((prev.1 - goal) / (prev.1 - b)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            drain_end = Some(prev.0 + f * (x.0 - prev.0));
            break;
        }
        prev = (x.0, b);
    }
    let drain_s = drain_end.filter(|e| *e <= end + 1e-9).map(|e| e - until);
    let drain_rate = drain_s
        .filter(|s| *s > 0.0)
        .map(|s| (at_time(&c, until + s).1 - d_r) / s);
    let recovered_s = p99_before.and_then(|lvl| {
        first.iter().enumerate().find_map(|(i, p)| {
            let worst = producers
                .iter()
                .filter_map(|t| t.get(i))
                .map(|p| p.e2e_p99_ns)
                .max()
                .unwrap_or(0);
            (p.t_s >= until - 1e-9 && worst > 0 && worst as f64 <= RECOVERED_FACTOR * lvl as f64)
                .then_some(p.t_s + p.length_s - until)
        })
    });
    Some(Backlog {
        at_resume: at_resume.round() as u64,
        drain_s,
        drain_rate,
        recovered_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, ok: u64, done: u64, p99_ms: u64) -> IntervalPoint {
        IntervalPoint {
            t_s: t,
            length_s: 0.1,
            ok,
            e2e_done: done,
            e2e_p99_ns: p99_ms * 1_000_000,
            ..IntervalPoint::default()
        }
    }

    /// 500/s arriving, answered at once until a pause at 1 s; resumed at 3 s, answered
    /// at 1,000/s until the 1,000 waiting are gone: 2 s of drain.
    #[test]
    fn a_known_backlog_drains_in_its_time() {
        let mut t = Vec::new();
        let mut waiting = 0.0f64;
        for i in 0..80 {
            let s = i as f64 * 0.1;
            let arrived = 50.0;
            let done = if (1.0..3.0).contains(&s) {
                0.0
            } else if waiting > 0.0 {
                (100.0f64).min(waiting + arrived)
            } else {
                arrived
            };
            waiting += arrived - done;
            let p99 = if waiting > 0.0 { 500 } else { 20 };
            t.push(point(s, arrived as u64, done as u64, p99));
        }
        let b = backlog(&[&t], 1.0, 3.0, 8.0).expect("backlog");
        assert_eq!(b.at_resume, 1000);
        let d = b.drain_s.expect("drained");
        assert!((d - 2.0).abs() < 0.1, "{d}");
        assert!(b.drain_rate.is_some_and(|r| (r - 1000.0).abs() < 60.0), "{b:?}");
        assert!(b.recovered_s.is_some_and(|r| (r - 2.0).abs() < 0.15), "{b:?}");
    }
}
