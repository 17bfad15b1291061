//! The end of a run: stop taking new operations, let what is in flight finish up to
//! the `drain` deadline, count what never started (dropped) and what had to be given
//! up (abandoned), and wait for replies still owed to produced events (unanswered).

use std::sync::atomic::Ordering;

use super::collector::Collector;
use super::launch::Workloads;
use super::sleep_until;
use crate::clock::Clock;
use crate::host::Stop;
use crate::plan::Plan;
use crate::scenario::WorkloadKind;
use crate::stats::timeline::IntervalPoint;
use crate::stats::{ErrorClass, Hists, Registry, Stage};

/// Per workload: what did not end in an outcome of its own.
pub(super) struct Leftovers {
    pub dropped: Vec<u64>,
    pub abandoned: Vec<u64>,
}

impl Workloads {
    /// No more claims, and what was released but not yet taken by a worker never
    /// starts either: both count as dropped when intended before `until`.
    fn stop_open(&self, w: usize, until: u64, dropped: &mut [u64]) {
        if let Some(s) = &self.schedules[w] {
            dropped[w] += s.stop_and_count_dropped(until);
        }
        if let Some(rx) = &self.released[w] {
            rx.close();
            while let Ok(c) = rx.try_recv() {
                dropped[w] += (c.intended < until) as u64;
            }
        }
    }

    /// Ends the workloads: at once when the run was cut short (`stop_at` is then the
    /// moment it was), else when their schedules run out; either way in-flight work
    /// gets until `deadline`. A stop asked during the drain ends the schedules now.
    pub(super) async fn drain(
        &mut self,
        clock: &Clock,
        cut_short: bool,
        stop_at: u64,
        deadline: u64,
        stop: &mut Stop,
        interrupted: &mut Option<String>,
    ) -> Leftovers {
        self.closed_stop.store(true, Ordering::Relaxed);
        let n = self.workers.len();
        let mut dropped = vec![0u64; n];
        let mut abandoned = vec![0u64; n];
        for (w, gave_up) in abandoned.iter_mut().enumerate() {
            if cut_short {
                self.stop_open(w, stop_at, &mut dropped);
            }
            loop {
                let asked = interrupted.is_none();
                tokio::select! {
                    r = self.workers[w].join_next() => if r.is_none() { break },
                    _ = sleep_until(clock, deadline) => {
                        self.stop_open(w, stop_at, &mut dropped);
                        *gave_up = self.workers[w].len() as u64;
                        self.workers[w].abort_all();
                        break;
                    }
                    why = stop.requested(), if asked => {
                        *interrupted = Some(why);
                        self.stop_open(w, clock.now(), &mut dropped);
                    }
                }
            }
        }
        for d in &self.dispatchers {
            d.abort();
        }
        Leftovers { dropped, abandoned }
    }
}

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
    on_interval: &mut dyn FnMut(u64, &[Vec<IntervalPoint>]),
) -> std::io::Result<Vec<u64>> {
    let mut next_tick = collector.last_ns() + plan.interval_ns;
    loop {
        let now = clock.now();
        if now >= next_tick {
            collector.tick(now)?;
            on_interval(now, &collector.timeline);
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
            + h.counters.errors[ErrorClass::Rejected as usize];
        (h.stages[Stage::Produce as usize].len(), answered)
    };
    let (mut sent, mut answered) = count(&c.all[w]);
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
