//! Worker loops. Open model: a dispatcher claims from the shared schedule and releases
//! each operation at its intended start; idle workers take it, run it, and record from
//! the intended start. Only the dispatcher waits, so the thread sleeps at most once per
//! idle gap, not once per operation. Closed model: workers run back to back.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::ops::{record, Operation};
use super::schedule::{Claim, Schedule};
use crate::clock::Clock;
use crate::pacer::Pacer;
use crate::scenario::WorkloadKind;
use crate::stats::Registry;

/// What a dispatcher saw, for the health verdict.
#[derive(Debug, Default)]
pub struct DispatchStats {
    /// Releases that found an earlier claim still waiting for a worker (or the queue
    /// full): every worker was busy, evidence for the health verdict.
    pub waited_for_worker: AtomicU64,
    /// The intended start (+1; 0 for none) of a claim the dispatcher held when the
    /// channel closed under it: the drain counts it as dropped, so it too has an outcome.
    pub unsent: AtomicU64,
}

/// An open workload's workers, started on demand (k6's pre-allocated / maximum VUs):
/// the dispatcher starts one whenever a release finds none idle, up to `max_in_flight`.
/// Starting all `max_in_flight` at the origin would hold the runtime for their first
/// polls (100,000 workers: over a second), and that burst would then queue at the target
/// and read as its latency; on demand, the pool is as large as the target's concurrency
/// asks and the first interval looks like the tenth.
pub struct Pool {
    /// Workers that finished an operation and wait for the next: one token each, taken
    /// by the release that will reach it.
    idle: Arc<Idle>,
    max: usize,
    inner: std::sync::Mutex<PoolInner>,
    start: Box<StartWorker>,
}

type WorkerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
/// Makes worker `i`'s loop, given its hand and the pool's idle count.
type StartWorker = dyn Fn(usize, Arc<InHand>, Arc<Idle>) -> WorkerFuture + Send + Sync;

#[derive(Default)]
struct PoolInner {
    set: tokio::task::JoinSet<()>,
    hands: Vec<Arc<InHand>>,
}

/// The pool's count of idle workers, on a cache line of its own (it is touched once
/// per operation by a worker and once by the dispatcher).
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct Idle(AtomicUsize);

impl Idle {
    /// A worker is idle again.
    fn back(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl Pool {
    /// A pool of at most `max` workers; `start(i, hand)` makes worker `i`'s loop.
    pub fn new(
        max: usize,
        start: impl Fn(usize, Arc<InHand>, Arc<Idle>) -> WorkerFuture + Send + Sync + 'static,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            idle: Arc::default(),
            max,
            inner: std::sync::Mutex::new(PoolInner::default()),
            start: Box::new(start),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes an idle worker's token, if there is one.
    fn take_idle(&self) -> bool {
        self.idle
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Starts one more worker; false when the pool is at `max_in_flight`.
    fn grow(&self) -> bool {
        let mut inner = self.lock();
        let i = inner.hands.len();
        if i >= self.max {
            return false;
        }
        let hand = Arc::new(InHand::default());
        inner.hands.push(hand.clone());
        inner.set.spawn((self.start)(i, hand, self.idle.clone()));
        true
    }

    /// Workers started so far.
    pub fn started(&self) -> usize {
        self.lock().hands.len()
    }

    /// What each worker holds, for censoring at the deadline.
    pub fn hands(&self) -> Vec<Arc<InHand>> {
        self.lock().hands.clone()
    }

    /// The workers, once the dispatcher is done starting them.
    pub fn take_workers(&self) -> tokio::task::JoinSet<()> {
        std::mem::take(&mut self.lock().set)
    }
}

/// Releases claims at their intended start times, until the schedule ends or stops.
/// Each release goes to an idle worker, or to one started for it; when all
/// `max_in_flight` are busy the channel fills and releases wait: those operations
/// start late and their latency still counts from the intended start. With a release
/// `window` (ns, 0 for none) it wakes at most once per window: a claim due sooner than
/// a window after the last wake-up waits for that moment and goes out with the others
/// due by then, so at rates above one per window each wake-up releases several.
pub async fn dispatch(
    schedule: Arc<Schedule>,
    tx: async_channel::Sender<Claim>,
    clock: Clock,
    (stats, pool): (Arc<DispatchStats>, Arc<Pool>),
    window: u64,
) {
    let mut pacer = Pacer::new();
    let mut full = false;
    let mut woke = 0u64;
    while let Some(claim) = schedule.claim() {
        if window == 0 {
            pacer.sleep_until(&clock, claim.intended).await;
        } else if claim.intended > clock.now() {
            pacer.sleep_until(&clock, claim.intended.max(woke + window)).await;
            woke = clock.now();
        }
        if !pool.take_idle() && (full || !pool.grow()) {
            full = true;
            if !tx.is_empty() {
                stats.waited_for_worker.fetch_add(1, Ordering::Relaxed);
            }
        }
        match tx.try_send(claim) {
            Ok(()) => {}
            Err(async_channel::TrySendError::Full(claim)) => {
                if let Err(e) = tx.send(claim).await {
                    stats.unsent.store(e.0.intended + 1, Ordering::Release);
                    return;
                }
            }
            Err(async_channel::TrySendError::Closed(claim)) => {
                stats.unsent.store(claim.intended + 1, Ordering::Release);
                return;
            }
        }
    }
}

/// The intended start (+1; 0 when idle) of the operation a worker holds, so that when
/// the run gives up on its workers at the drain deadline, each operation still in hand
/// is censored at the time it had waited. One cache line per worker: no sharing.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct InHand(AtomicU64);

impl InHand {
    /// The intended start of the operation held, if any.
    pub fn intended(&self) -> Option<u64> {
        self.0.load(Ordering::Acquire).checked_sub(1)
    }
}

/// Runs released operations until the dispatcher is done and the channel is empty. A
/// worker is started for a release, so its first wait needs no token. After each
/// operation it takes the next one that is already due straight from the schedule
/// when nothing released waits in the channel (released ones are older); otherwise it
/// hands the pool a token (it is idle again) and waits for a release.
pub async fn open_loop(
    mut op: Operation,
    rx: async_channel::Receiver<Claim>,
    schedule: Arc<Schedule>,
    reg: Arc<Registry>,
    ids: (usize, WorkloadKind),
    hand: Arc<InHand>,
    idle: Arc<Idle>,
) {
    let (workload, kind) = ids;
    let clock = op.ctx.clock;
    let mut first = true;
    // The previous operation's end, read for its record: "now" for the due check
    // without another clock read per operation.
    let mut last_end = 0;
    loop {
        let due = (!first && rx.is_empty())
            .then(|| schedule.claim_due(last_end))
            .flatten();
        let claim = match due {
            Some(c) => c,
            None => {
                if !first {
                    idle.back();
                }
                first = false;
                let Ok(c) = rx.recv().await else { break };
                c
            }
        };
        hand.0.store(claim.intended + 1, Ordering::Release);
        let started = clock.now();
        let result = op.run(claim.index, claim.intended).await;
        let finished = clock.now();
        last_end = finished;
        // Cleared before recording, with no await in between: a worker aborted at the
        // deadline holds an operation exactly when it has not recorded it.
        hand.0.store(0, Ordering::Release);
        reg.with(workload, claim.intended, |h| {
            record(h, kind, claim.intended, started, finished, &result)
        });
        // Behind schedule, operations come straight from it and a target that answers
        // at once (the memory log) never makes this task wait: yield once its
        // cooperative budget is spent, so the listener and the collector keep their
        // turns instead of waiting for the log's queue to fill.
        tokio::task::consume_budget().await;
    }
}

/// Runs operations back to back until `stop`; `next` numbers them across workers.
pub async fn closed_loop(
    mut op: Operation,
    stop: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
    shard: crate::plan::Shard,
    reg: Arc<Registry>,
    workload: usize,
    kind: WorkloadKind,
) {
    let clock = op.ctx.clock;
    while !stop.load(Ordering::Relaxed) {
        let index = shard.global(next.fetch_add(1, Ordering::Relaxed));
        let started = clock.now();
        let result = op.run(index, started).await;
        let finished = clock.now();
        reg.with(workload, started, |h| {
            record(h, kind, started, started, finished, &result)
        });
        // A target that answers instantly must not starve the collector and signals:
        // yield once the task's cooperative budget is spent (tokio's 128 units), not
        // after every operation, which costs a trip through the scheduler each.
        tokio::task::consume_budget().await;
    }
}
