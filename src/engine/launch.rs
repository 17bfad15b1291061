//! Starting the load: per workload, the shared state its operations use, and either a
//! schedule with its dispatcher and a pool of up to `max_in_flight` open-loop workers
//! (started on demand), or `concurrency` closed-loop workers.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::Arc;

use tokio::task::JoinSet;

use super::inbox::Inboxes;
use super::ops::{Operation, Shared};
use super::schedule::{Claim, Schedule};
use super::workers::{self, DispatchStats, Pool};
use crate::backend::{Ctx, EventLog, Target};
use crate::clock::Clock;
use crate::datagen::Generator;
use crate::plan::{Load, Plan};
use crate::scenario::Via;
use crate::stats::ledger::Ledger;
use crate::stats::Registry;

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

/// The running workloads, index by index as in the plan.
pub(super) struct Workloads {
    /// Open workloads: their schedule.
    pub schedules: Vec<Option<Arc<Schedule>>>,
    /// Open workloads: claims released by the dispatcher but not yet taken by a worker.
    pub released: Vec<Option<async_channel::Receiver<Claim>>>,
    pub workers: Vec<JoinSet<()>>,
    pub dispatchers: Vec<Option<tokio::task::JoinHandle<()>>>,
    /// Closed workloads stop taking new operations once this is set.
    pub closed_stop: Arc<AtomicBool>,
    /// Open workloads: their workers, started on demand by the dispatcher.
    pub pools: Vec<Option<Arc<Pool>>>,
    /// Open workloads: what the dispatcher saw.
    pub dispatch: Vec<Option<Arc<DispatchStats>>>,
    pub reg: Arc<Registry>,
}

/// Starts every workload of the plan.
pub(super) fn launch(c: &Common<'_>) -> Workloads {
    let plan = c.plan;
    let mut out = Workloads {
        schedules: Vec::new(),
        released: Vec::new(),
        workers: Vec::new(),
        dispatchers: Vec::new(),
        closed_stop: Arc::new(AtomicBool::new(false)),
        pools: Vec::new(),
        dispatch: Vec::new(),
        reg: c.reg.clone(),
    };
    for (w, wp) in plan.workloads.iter().enumerate() {
        let shared = Arc::new(shared(c, w));
        let mut set = JoinSet::new();
        let seed = |i: usize| plan.seed ^ ((w as u64) << 48) ^ (i as u64);
        match &wp.load {
            Load::Open {
                profile,
                arrival,
                max_in_flight,
                release_window_ns,
            } => {
                let schedule = Arc::new(Schedule::sharded(
                    profile.clone(),
                    *arrival,
                    plan.seed ^ (w as u64) << 32,
                    plan.shard,
                ));
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
                let stats = Arc::new(DispatchStats::default());
                out.dispatchers.push(Some(tokio::spawn(workers::dispatch(
                    schedule.clone(),
                    tx,
                    c.clock,
                    (stats.clone(), pool.clone()),
                    *release_window_ns,
                ))));
                out.pools.push(Some(pool));
                out.dispatch.push(Some(stats));
                out.released.push(Some(rx));
                out.schedules.push(Some(schedule));
            }
            Load::Closed { concurrency } => {
                let next = Arc::new(AtomicU64::new(0));
                for i in 0..plan.shard.part_of(*concurrency).max(1) {
                    let op = Operation::new(shared.clone(), Ctx::new(c.clock, seed(i)));
                    set.spawn(workers::closed_loop(
                        op,
                        out.closed_stop.clone(),
                        next.clone(),
                        plan.shard,
                        c.reg.clone(),
                        w,
                        wp.kind,
                    ));
                }
                out.released.push(None);
                out.schedules.push(None);
                out.pools.push(None);
                out.dispatchers.push(None);
                out.dispatch.push(None);
            }
        }
        out.workers.push(set);
    }
    out
}

/// What every operation of workload `w` shares.
fn shared(c: &Common<'_>, w: usize) -> Shared {
    let (plan, wp) = (c.plan, &c.plan.workloads[w]);
    let topics = &plan.target.topics;
    let gen = Generator::new(&plan.data, plan.seed, w, c.run_tag);
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
        batch_size: *plan.target.query.batch_size.get_ref(),
        query_form: plan.target.query.form,
        reply_timeout: plan.target.query.reply_timeout.0,
        settle: plan.target.query.settle.0,
        overlap: *plan.target.query.overlap.get_ref(),
    }
}
