//! Worker loops. Open model: a dispatcher claims from the shared schedule and releases
//! each operation at its intended start; idle workers take it, run it, and record from
//! the intended start. Only the dispatcher waits, so the thread sleeps at most once per
//! idle gap, not once per operation. Closed model: workers run back to back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

/// Releases claims at their intended start times, until the schedule ends or stops.
/// When every worker is busy the channel fills and releases wait: those operations
/// start late and their latency still counts from the intended start.
pub async fn dispatch(
    schedule: Arc<Schedule>,
    tx: async_channel::Sender<Claim>,
    clock: Clock,
    stats: Arc<DispatchStats>,
) {
    let mut pacer = Pacer::new();
    while let Some(claim) = schedule.claim() {
        pacer.sleep_until(&clock, claim.intended).await;
        if !tx.is_empty() {
            stats.waited_for_worker.fetch_add(1, Ordering::Relaxed);
        }
        match tx.try_send(claim) {
            Ok(()) => {}
            Err(async_channel::TrySendError::Full(claim)) => {
                if tx.send(claim).await.is_err() {
                    return;
                }
            }
            Err(async_channel::TrySendError::Closed(_)) => return,
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

/// Runs released operations until the dispatcher is done and the channel is empty.
pub async fn open_loop(
    mut op: Operation,
    rx: async_channel::Receiver<Claim>,
    reg: Arc<Registry>,
    workload: usize,
    kind: WorkloadKind,
    hand: Arc<InHand>,
) {
    let clock = op.ctx.clock;
    while let Ok(claim) = rx.recv().await {
        hand.0.store(claim.intended + 1, Ordering::Release);
        let started = clock.now();
        let result = op.run(claim.index, claim.intended).await;
        let finished = clock.now();
        // Cleared before recording, with no await in between: a worker aborted at the
        // deadline holds an operation exactly when it has not recorded it.
        hand.0.store(0, Ordering::Release);
        reg.with(workload, claim.intended, |h| {
            record(h, kind, claim.intended, started, finished, &result)
        });
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
        // A target that answers instantly must not starve the collector and signals.
        tokio::task::yield_now().await;
    }
}
