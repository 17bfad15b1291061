//! `eventbench serve`: one reference service on its own, so it can be scaled out or
//! profiled apart from the load generator (or stand in for the original services).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{ServiceConfig, ServiceCounters, ServiceKind, ServiceStats, Worker};
use crate::backend::BackendError;
use crate::clock::Clock;
use crate::host::Stop;
use crate::plan::Plan;

/// Runs the service until `stop` is asked (SIGINT/SIGTERM from the CLI); prints its
/// counters every `interval`. Returns its counters, or the log failure that ended it.
pub async fn serve(
    plan: &Plan,
    which: ServiceKind,
    workers: usize,
    mut stop: Stop,
) -> Result<ServiceStats, BackendError> {
    let target = crate::backend::connect(plan, crate::model::tag::new_run_tag()).await?;
    let clock = Clock::start();
    let cfg = Arc::new(ServiceConfig::of(plan, clock));
    let counters = Arc::new(ServiceCounters::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut set = JoinSet::new();
    let consumer = super::subscribe(which, &target.log, &plan.target.topics)?;
    let base = Worker::on(&target, cfg, counters.clone(), stop_rx.clone(), plan.seed);
    super::start(which, consumer, base, workers, &mut set);
    eprintln!("serving {which:?} with {workers} workers (Ctrl-C to stop)");
    let mut tick = tokio::time::interval(Duration::from_nanos(plan.interval_ns));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let s = counters.snapshot();
                eprintln!("{:>8.1}s consumed {} replied {} malformed {} failed {}",
                    clock.now() as f64 / 1e9, s.consumed, s.replied, s.malformed, s.failed);
            }
            _ = stop.requested() => break,
            r = set.join_next() => {
                // A worker only ends early on a log failure.
                if let Some(Ok(Err(e))) = r {
                    let _ = stop_tx.send(true);
                    return Err(e);
                }
            }
        }
    }
    // Graceful: handlers finish (answer and commit) what they hold, for up to 5 s;
    // what they had not taken is not committed and goes to the group's next member.
    let _ = stop_tx.send(true);
    let finish = async { while set.join_next().await.is_some() {} };
    if tokio::time::timeout(std::time::Duration::from_secs(5), finish)
        .await
        .is_err()
    {
        eprintln!("stopping: handlers still busy after 5 s were cut off (their records are not committed)");
    }
    set.abort_all();
    Ok(counters.snapshot())
}
