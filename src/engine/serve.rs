//! `eventbench serve`: one reference service on its own, so it can be scaled out or
//! profiled apart from the load generator (or stand in for the original services).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{backends, RunError, Signals};
use crate::clock::Clock;
use crate::plan::Plan;
pub use crate::service::Which;
use crate::service::{ServiceConfig, ServiceCounters, ServiceStats, Worker};

/// Runs the service until SIGINT/SIGTERM; prints its counters every `interval`.
pub fn serve(plan: &Plan, which: Which, workers: usize) -> Result<ServiceStats, RunError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    let stats = rt.block_on(async {
        let (log, store) = backends(plan, crate::datagen::new_run_tag()).await?;
        let clock = Clock::start();
        let cfg = Arc::new(ServiceConfig::of(plan, clock, None));
        let counters = Arc::new(ServiceCounters::default());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut set = JoinSet::new();
        let consumer = crate::service::subscribe(which, &log, &plan.target.topics)?;
        let base = Worker {
            records: async_channel::bounded(1).1,
            log: log.clone(),
            store: store.clone(),
            cfg: cfg.clone(),
            counters: counters.clone(),
            stop: stop_rx.clone(),
            seed: plan.seed,
        };
        crate::service::start(which, consumer, base, workers, &mut set);
        eprintln!("serving {which:?} with {workers} workers (Ctrl-C to stop)");
        let mut signals = Signals::new();
        let mut tick = tokio::time::interval(Duration::from_nanos(plan.interval_ns));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let s = counters.snapshot();
                    eprintln!("{:>8.1}s consumed {} replied {} malformed {} failed {}",
                        clock.now() as f64 / 1e9, s.consumed, s.replied, s.malformed, s.failed);
                }
                _ = signals.recv() => break,
                r = set.join_next() => {
                    // A worker only ends early on a log failure.
                    if let Some(Ok(Err(e))) = r {
                        let _ = stop_tx.send(true);
                        return Err(RunError::Backend(e));
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        set.abort_all();
        Ok(counters.snapshot())
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    stats
}
