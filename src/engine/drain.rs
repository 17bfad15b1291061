//! The run's last wait: for replies still owed to produced events, and what is still
//! owed then (unanswered), censored at its lower bound.

use super::collector::Collector;
use super::workloads::Workloads;
use crate::clock::Clock;
use crate::host::Stop;
use crate::plan::Plan;
use crate::scenario::WorkloadKind;
use crate::stats::ledger::{Ledger, ACKED, REPLIED_ERR, REPLIED_OK};
use crate::stats::{Hists, Registry, Stage};

/// Waits, up to `deadline`, for the replies owed to produced events; returns the
/// number still owed per workload. Intervals keep closing meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) async fn await_replies(
    plan: &Plan,
    clock: &Clock,
    collector: &mut Collector,
    reg: &Registry,
    deadline: u64,
    stop: &mut Stop,
    interrupted: &mut Option<String>,
    (sources, on_interval): (&super::TickSources, &mut dyn FnMut(&super::Tick)),
) -> std::io::Result<Vec<u64>> {
    let mut next_tick = collector.last_ns() + plan.interval_ns;
    loop {
        let now = clock.now();
        if now >= next_tick {
            collector.tick(now)?;
            sources.tell(now, collector, on_interval);
            next_tick = now + plan.interval_ns;
        }
        let waiting: Vec<u64> = plan
            .workloads
            .iter()
            .enumerate()
            .map(|(w, wp)| {
                if wp.kind == WorkloadKind::Produce {
                    outstanding(collector, reg, w)
                } else {
                    0
                }
            })
            .collect();
        if waiting.iter().all(|n| *n == 0) || now >= deadline || interrupted.is_some() {
            return Ok(waiting);
        }
        let pause = std::time::Duration::from_nanos(plan.interval_ns).min(std::time::Duration::from_millis(20));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            why = stop.requested() => { *interrupted = Some(why); }
        }
    }
}

/// Produced and acknowledged, but neither answered nor failed yet (collected or not).
fn outstanding(c: &Collector, reg: &Registry, w: usize) -> u64 {
    let count = |h: &Hists| {
        let answered = h.stages[Stage::E2e as usize].len()
            + h.stages[Stage::E2ePersisted as usize].len()
            + h.counters.rejected_replies;
        (h.stages[Stage::Produce as usize].len(), answered)
    };
    let (mut sent, mut answered) = count(c.all(w));
    let n = reg.workloads();
    reg.visit(|slots| {
        for slot in [w, w + n] {
            let (s, a) = count(&slots[slot]);
            sent += s;
            answered += a;
        }
    });
    sent.saturating_sub(answered)
}

/// Produced events whose reply never came are not operations of their own (the produce
/// had its outcome), but their end-to-end latency is at least `now - intended`: each is
/// recorded in its e2e stage at that lower bound and counted as unanswered. Pipeline
/// runs know which events from the ledger and their intended starts from the schedule;
/// elsewhere, every one of them was intended before the schedule's end, which bounds it.
/// Returns the unanswered counts as finally known: a reply that came after the count
/// (before the listeners stopped) is in the ledger, and its event is not censored too.
pub(super) fn censor_unanswered(
    plan: &Plan,
    workloads: &Workloads,
    ledger: &Ledger,
    unanswered: &[u64],
    now: u64,
) -> Vec<u64> {
    let mut out = unanswered.to_vec();
    let stage = if plan.services_answer() {
        Stage::E2ePersisted
    } else {
        Stage::E2e
    };
    for (w, &n) in unanswered.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let exact: Option<Vec<u64>> = match (ledger.book(w), workloads.schedule(w)) {
            (Some(book), Some(schedule)) => Some({
                let owed: Vec<u64> = book
                    .flags()
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| **f & ACKED != 0 && **f & (REPLIED_OK | REPLIED_ERR) == 0)
                    .map(|(i, _)| i as u64)
                    .collect();
                schedule.intended_of(&owed).into_iter().flatten().collect()
            }),
            _ => None,
        };
        let end = plan.duration_ns.min(now);
        // The ledger's list is exact; without one, `n` at the schedule's end bounds it.
        let mut left = exact.as_ref().map_or(n, |e| e.len() as u64);
        out[w] = left;
        for intended in exact.into_iter().flatten().chain(std::iter::repeat(end)) {
            if left == 0 {
                break;
            }
            workloads.reg.with(w, intended, |h| {
                h.record(stage, now.saturating_sub(intended));
                h.counters.unanswered += 1;
            });
            left -= 1;
        }
    }
    out
}
