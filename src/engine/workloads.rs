//! The running workloads: starting each one (per workload, the shared state its
//! operations use, and either a schedule with its dispatcher and a pool of up to
//! `max_in_flight` open-loop workers started on demand, or `concurrency` closed-loop
//! workers), and ending them (stop taking new operations, let what is in flight finish
//! up to the `drain` deadline, count what never started and what had to be given up).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::task::JoinSet;

use super::inbox::Inboxes;
use super::ops::{Operation, Shared};
use super::schedule::{Claim, Schedule};
use super::sleep_until;
use super::workers::{self, DispatchStats, Pool};
use crate::backend::{Ctx, EventLog, Target};
use crate::clock::Clock;
use crate::datagen::Generator;
use crate::host::Stop;
use crate::plan::{main_stage, Load, Plan};
use crate::scenario::{Via, WorkloadKind};
use crate::stats::ledger::Ledger;
use crate::stats::{Hists, Registry, Stage};

/// What the run shares with every workload it launches.
pub(super) struct Common<'a> {
    pub plan: &'a Plan,
    pub target: &'a Target,
    pub clock: Clock,
    pub run_tag: u64,
    pub reg: Arc<Registry>,
    pub ledger: Arc<Ledger>,
    pub inboxes: Arc<Inboxes>,
    /// Start projection per aggregate id (index `id as u8`).
    pub projections: &'a [i64],
}

/// The running workloads, in the plan's order.
pub(super) struct Workloads {
    pub each: Vec<Running>,
    /// Closed workloads stop taking new operations once this is set.
    pub closed_stop: Arc<AtomicBool>,
    pub reg: Arc<Registry>,
}

/// One running workload.
pub(super) struct Running {
    /// Its place in the plan (its slot in the registry).
    pub index: usize,
    pub kind: WorkloadKind,
    pub workers: JoinSet<()>,
    /// An open workload's schedule and what serves it (none for a closed one).
    pub open: Option<OpenLoop>,
}

/// An open workload's moving parts.
pub(super) struct OpenLoop {
    pub schedule: Arc<Schedule>,
    /// Claims released by the dispatcher but not yet taken by a worker.
    pub released: async_channel::Receiver<Claim>,
    /// Its workers, started on demand by the dispatcher.
    pub pool: Arc<Pool>,
    /// What the dispatcher saw.
    pub dispatch: Arc<DispatchStats>,
    pub dispatcher: Option<tokio::task::JoinHandle<()>>,
}

/// What did not end in an outcome of its own, per workload.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Leftover {
    /// Intended but never started.
    pub dropped: u64,
    /// In flight when the run had to give them up.
    pub abandoned: u64,
}

/// Starts every workload of the plan.
pub(super) fn launch(c: &Common<'_>) -> Workloads {
    let closed_stop = Arc::new(AtomicBool::new(false));
    let each = (0..c.plan.workloads.len())
        .map(|w| launch_one(c, w, &closed_stop))
        .collect();
    Workloads {
        each,
        closed_stop,
        reg: c.reg.clone(),
    }
}

fn launch_one(c: &Common<'_>, w: usize, closed_stop: &Arc<AtomicBool>) -> Running {
    let (plan, wp) = (c.plan, &c.plan.workloads[w]);
    let shared = Arc::new(shared(c, w));
    let mut workers = JoinSet::new();
    let open = match &wp.load {
        Load::Open {
            profile,
            arrival,
            max_in_flight,
            release_window_ns,
        } => {
            let schedule = Arc::new(
                Schedule::sharded(profile.clone(), *arrival, plan.seed ^ (w as u64) << 32, plan.shard)
                    .replaying(wp.replay.clone()),
            );
            let (tx, rx) = async_channel::bounded(*max_in_flight);
            let (worker_rx, reg, clock, kind, base) = (rx.clone(), c.reg.clone(), c.clock, wp.kind, plan.seed);
            let (shared, due) = (shared.clone(), schedule.clone());
            let pool = Pool::new(*max_in_flight, move |i, hand, idle| {
                let seed = base ^ ((w as u64) << 48) ^ (i as u64);
                let op = Operation::new(shared.clone(), Ctx::new(clock, seed));
                Box::pin(workers::open_loop(
                    op,
                    worker_rx.clone(),
                    due.clone(),
                    reg.clone(),
                    (w, kind),
                    hand,
                    idle,
                ))
            });
            let dispatch = Arc::new(DispatchStats::default());
            let dispatcher = tokio::spawn(workers::dispatch(
                schedule.clone(),
                tx,
                c.clock,
                (dispatch.clone(), pool.clone()),
                *release_window_ns,
            ));
            Some(OpenLoop {
                schedule,
                released: rx,
                pool,
                dispatch,
                dispatcher: Some(dispatcher),
            })
        }
        Load::Closed { concurrency } => {
            let next = Arc::new(AtomicU64::new(0));
            for i in 0..plan.shard.part_of(*concurrency).max(1) {
                let seed = plan.seed ^ ((w as u64) << 48) ^ (i as u64);
                let op = Operation::new(shared.clone(), Ctx::new(c.clock, seed));
                workers.spawn(workers::closed_loop(
                    op,
                    closed_stop.clone(),
                    next.clone(),
                    plan.shard,
                    c.reg.clone(),
                    w,
                    wp.kind,
                ));
            }
            None
        }
    };
    Running {
        index: w,
        kind: wp.kind,
        workers,
        open,
    }
}
/// What every operation of workload `w` shares.
fn shared(c: &Common<'_>, w: usize) -> Shared {
    let (plan, wp) = (c.plan, &c.plan.workloads[w]);
    let topics = &plan.target.topics;
    let gen = Generator::new(&plan.data, plan.seed, w, c.run_tag).replaying(wp.replay.clone());
    Shared {
        kind: wp.kind,
        via: wp.via,
        workload: w,
        gen: match wp.via {
            Via::Log => gen.queries_of_shard(&plan.aggregate_ids(), plan.shard.index, plan.shard.count),
            Via::Store => gen,
        },
        log: c.target.log.clone(),
        store: c.target.store.clone(),
        events_topic: c.target.log.topic(&topics.events),
        query_topic: c.target.log.topic(&topics.query),
        run_tag: c.run_tag,
        projections: c
            .projections
            .iter()
            .map(|p| AtomicI64::new((*p).max(wp.from_version)))
            .collect(),
        year_bucket: plan.data.year_bucket,
        consistency: plan.target.consistency,
        ledger: c.ledger.clone(),
        inboxes: c.inboxes.clone(),
        batch_size: plan.target.query.batch_size(),
        query_form: plan.target.query.form,
        reply_timeout: plan.target.query.reply_timeout.0,
        settle: plan.target.query.settle.0,
        overlap: plan.target.query.overlap(),
    }
}

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

/// How a drain ends: when, and what may cut it shorter.
pub(super) struct DrainEnd<'a> {
    pub clock: &'a Clock,
    /// The run was cut short (a stop, or a breach): the schedules end at `stop_at`.
    pub cut_short: bool,
    pub stop_at: u64,
    /// In-flight work gets until here.
    pub deadline: u64,
    pub stop: &'a mut Stop,
    pub interrupted: &'a mut Option<String>,
}

impl Workloads {
    /// Ends the workloads: at once when the run was cut short, else when their
    /// schedules run out; either way in-flight work gets until the deadline. A stop
    /// asked during the drain ends the schedules now.
    pub(super) async fn drain(&mut self, end: &mut DrainEnd<'_>) -> Vec<Leftover> {
        self.closed_stop.store(true, Ordering::Relaxed);
        let mut left = Vec::with_capacity(self.each.len());
        for w in &mut self.each {
            left.push(w.drain(&self.reg, end).await);
        }
        for d in self.each.iter().filter_map(|w| w.open.as_ref()?.dispatcher.as_ref()) {
            d.abort();
        }
        left
    }

    /// Open workloads' schedules (none for a closed one), in the plan's order.
    pub(super) fn schedule(&self, w: usize) -> Option<&Arc<Schedule>> {
        self.each.get(w)?.open.as_ref().map(|o| &o.schedule)
    }
}

impl Running {
    /// No more claims, and what was released but not yet taken by a worker never
    /// starts either: both count as dropped when intended before `until`, and each is
    /// censored at the time it had waited by `now`. Returns how many were dropped.
    fn stop_open(&self, reg: &Registry, until: u64, now: u64) -> u64 {
        let Some(open) = &self.open else { return 0 };
        let (stage, _) = main_stage(self.kind);
        let censor = |intended: u64| {
            reg.with(self.index, intended, |h| {
                never_started(h, stage, now.saturating_sub(intended))
            })
        };
        let mut dropped = open.schedule.stop_and_drop(until, |c| censor(c.intended));
        open.released.close();
        while let Ok(c) = open.released.try_recv() {
            if c.intended < until {
                dropped += 1;
                censor(c.intended);
            }
        }
        dropped
    }

    /// Gives up on the workers: each operation still in hand is censored at the time
    /// it had waited; returns how many there were.
    async fn give_up(&mut self, reg: &Registry, now: u64) -> u64 {
        self.workers.abort_all();
        while self.workers.join_next().await.is_some() {}
        let (stage, _) = main_stage(self.kind);
        let hands = self.open.as_ref().map(|o| o.pool.hands()).unwrap_or_default();
        let mut n = 0;
        for intended in hands.iter().filter_map(|h| h.intended()) {
            reg.with(self.index, intended, |h| h.censor(stage, now.saturating_sub(intended)));
            n += 1;
        }
        n
    }

    async fn drain(&mut self, reg: &Registry, end: &mut DrainEnd<'_>) -> Leftover {
        let clock = end.clock;
        let mut left = Leftover::default();
        if end.cut_short {
            left.dropped += self.stop_open(reg, end.stop_at, clock.now());
        }
        left.dropped += self.await_dispatcher(reg, end).await;
        loop {
            let asked = end.interrupted.is_none();
            tokio::select! {
                r = self.workers.join_next() => if r.is_none() { break },
                _ = sleep_until(clock, end.deadline) => {
                    let now = clock.now();
                    left.dropped += self.stop_open(reg, end.stop_at, now);
                    left.abandoned = self.give_up(reg, now).await;
                    break;
                }
                why = end.stop.requested(), if asked => {
                    *end.interrupted = Some(why);
                    left.dropped += self.stop_open(reg, clock.now(), clock.now());
                }
            }
        }
        left
    }

    /// An open workload's dispatcher starts its workers: once it is done, they are all
    /// there to wait for. Returns how many operations it dropped meanwhile.
    async fn await_dispatcher(&mut self, reg: &Registry, end: &mut DrainEnd<'_>) -> u64 {
        let clock = end.clock;
        let Some(mut dispatcher) = self.open.as_mut().and_then(|o| o.dispatcher.take()) else {
            return 0;
        };
        let mut dropped = 0;
        loop {
            let asked = end.interrupted.is_none();
            tokio::select! {
                _ = &mut dispatcher => break,
                _ = sleep_until(clock, end.deadline) => {
                    // Ends the schedule and closes the channel: it returns at once.
                    dropped += self.stop_open(reg, end.stop_at, clock.now());
                    let _ = (&mut dispatcher).await;
                    break;
                }
                why = end.stop.requested(), if asked => {
                    *end.interrupted = Some(why);
                    dropped += self.stop_open(reg, clock.now(), clock.now());
                }
            }
        }
        let Some(open) = &self.open else { return dropped };
        let (stage, _) = main_stage(self.kind);
        if let Some(intended) = open.dispatch.unsent.swap(0, Ordering::AcqRel).checked_sub(1) {
            let now = clock.now();
            reg.with(self.index, intended, |h| {
                never_started(h, stage, now.saturating_sub(intended))
            });
            dropped += 1;
        }
        self.workers = open.pool.take_workers();
        dropped
    }
}
