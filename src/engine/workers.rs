//! Worker loops. Open model: claim from the shared schedule, sleep until the intended
//! start, run, record from the intended start. Closed model: run back to back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::ops::{record, Operation};
use super::schedule::Schedule;
use crate::scenario::WorkloadKind;
use crate::stats::Registry;

/// Runs until the schedule is exhausted or stopped.
pub async fn open_loop(
    mut op: Operation,
    schedule: Arc<Schedule>,
    reg: Arc<Registry>,
    workload: usize,
    kind: WorkloadKind,
) {
    let clock = op.ctx.clock;
    while let Some(claim) = schedule.claim() {
        op.ctx.pacer.sleep_until(&clock, claim.intended).await;
        let started = clock.now();
        let result = op.run(claim.index, claim.intended).await;
        let finished = clock.now();
        reg.with(workload, claim.intended, |h| {
            record(h, kind, claim.intended, started, finished, &result)
        });
    }
}

/// Runs operations back to back until `stop`; `next` numbers them across workers.
pub async fn closed_loop(
    mut op: Operation,
    stop: Arc<AtomicBool>,
    next: Arc<std::sync::atomic::AtomicU64>,
    reg: Arc<Registry>,
    workload: usize,
    kind: WorkloadKind,
) {
    let clock = op.ctx.clock;
    while !stop.load(Ordering::Relaxed) {
        let index = next.fetch_add(1, Ordering::Relaxed);
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
