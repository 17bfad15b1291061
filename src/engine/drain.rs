//! The end of a run: stop taking new operations, let what is in flight finish up to
//! the `drain` deadline, count what never started (dropped) and what had to be given
//! up (abandoned), and wait for replies still owed to produced events (unanswered).

use std::sync::atomic::Ordering;

use super::collector::Collector;
use super::launch::Workloads;
use super::sleep_until;
use crate::clock::Clock;
use crate::host::Stop;
use crate::plan::{main_stage, Plan};
use crate::scenario::WorkloadKind;
use crate::stats::ledger::{Ledger, ACKED, REPLIED_ERR, REPLIED_OK};
use crate::stats::{Hists, Registry, Stage};

/// An operation that never started (dropped): censored in its stage, and in `lag` too,
/// at the time it had waited; a schedule that slipped this far is late, whether or not
/// the run got to start the operation.
fn never_started(h: &mut Hists, stage: Stage, waited: u64) {
    h.censor(stage, waited);
    h.record(Stage::Lag, waited);
    if waited > crate::stats::LATE_AFTER_NS {
        h.counters.late += 1;
    }
}

/// Per workload: what did not end in an outcome of its own.
pub(super) struct Leftovers {
    pub dropped: Vec<u64>,
    pub abandoned: Vec<u64>,
}

impl Workloads {
    /// No more claims, and what was released but not yet taken by a worker never
    /// starts either: both count as dropped when intended before `until`, and each is
    /// censored at the time it had waited by now.
    fn stop_open(&self, w: usize, until: u64, now: u64, dropped: &mut [u64], kind: WorkloadKind) {
        let (stage, _) = main_stage(kind);
        let censor = |intended: u64| {
            self.reg
                .with(w, intended, |h| never_started(h, stage, now.saturating_sub(intended)))
        };
        if let Some(s) = &self.schedules[w] {
            dropped[w] += s.stop_and_drop(until, |c| censor(c.intended));
        }
        if let Some(rx) = &self.released[w] {
            rx.close();
            while let Ok(c) = rx.try_recv() {
                if c.intended < until {
                    dropped[w] += 1;
                    censor(c.intended);
                }
            }
        }
    }

    /// Gives up on workload `w`'s workers: each operation still in hand is censored
    /// at the time it had waited; returns how many there were.
    async fn give_up(&mut self, w: usize, now: u64, kind: WorkloadKind) -> u64 {
        self.workers[w].abort_all();
        while self.workers[w].join_next().await.is_some() {}
        let (stage, _) = main_stage(kind);
        let mut n = 0;
        let hands = self.pools[w].as_ref().map(|p| p.hands()).unwrap_or_default();
        for hand in &hands {
            if let Some(intended) = hand.intended() {
                self.reg
                    .with(w, intended, |h| h.censor(stage, now.saturating_sub(intended)));
                n += 1;
            }
        }
        n
    }

    /// Ends the workloads: at once when the run was cut short (`stop_at` is then the
    /// moment it was), else when their schedules run out; either way in-flight work
    /// gets until `deadline`. A stop asked during the drain ends the schedules now.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn drain(
        &mut self,
        plan: &Plan,
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
            let kind = plan.workloads[w].kind;
            if cut_short {
                self.stop_open(w, stop_at, clock.now(), &mut dropped, kind);
            }
            // An open workload's dispatcher starts its workers: once it is done, they
            // are all there to wait for.
            if let (Some(pool), Some(mut dispatcher)) = (self.pools[w].clone(), self.dispatchers[w].take()) {
                loop {
                    let asked = interrupted.is_none();
                    tokio::select! {
                        _ = &mut dispatcher => break,
                        _ = sleep_until(clock, deadline) => {
                            // Ends the schedule and closes the channel: it returns at once.
                            self.stop_open(w, stop_at, clock.now(), &mut dropped, kind);
                            let _ = (&mut dispatcher).await;
                            break;
                        }
                        why = stop.requested(), if asked => {
                            *interrupted = Some(why);
                            self.stop_open(w, clock.now(), clock.now(), &mut dropped, kind);
                        }
                    }
                }
                if let Some(stats) = &self.dispatch[w] {
                    let (stage, _) = main_stage(kind);
                    if let Some(intended) = stats.unsent.swap(0, Ordering::AcqRel).checked_sub(1) {
                        let now = clock.now();
                        self.reg
                            .with(w, intended, |h| never_started(h, stage, now.saturating_sub(intended)));
                        dropped[w] += 1;
                    }
                }
                self.workers[w] = pool.take_workers();
            }
            loop {
                let asked = interrupted.is_none();
                tokio::select! {
                    r = self.workers[w].join_next() => if r.is_none() { break },
                    _ = sleep_until(clock, deadline) => {
                        let now = clock.now();
                        self.stop_open(w, stop_at, now, &mut dropped, kind);
                        *gave_up = self.give_up(w, now, kind).await;
                        break;
                    }
                    why = stop.requested(), if asked => {
                        *interrupted = Some(why);
                        self.stop_open(w, clock.now(), clock.now(), &mut dropped, kind);
                    }
                }
            }
        }
        for d in self.dispatchers.iter().flatten() {
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
    sources: &super::TickSources<'_>,
    on_interval: &mut dyn FnMut(&super::Tick),
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
        let exact: Option<Vec<u64>> = match (ledger.book(w), &workloads.schedules[w]) {
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
