//! The engine: given a connected target, a stop and a callback, it runs a plan's
//! workloads and returns what it measured. It knows nothing of files, the audit or
//! the terminal: the interval log is a writer it is handed, progress is the caller's
//! callback, and signals are the caller's [`Stop`]. An interrupted run still returns
//! everything measured.
//!
//! The story of a run: set up (consumers join, services start) -> start the clock ->
//! launch the workloads -> close an interval every `interval` until the schedules end,
//! the duration passes or a stop is asked -> drain -> wait for owed replies -> return.

pub mod collector;
mod drain;
pub mod faults;
mod inbox;
mod launch;
mod listener;
pub mod ops;
pub mod schedule;
mod setup;
mod workers;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::backend::{BackendError, Target};
use crate::clock::Clock;
use crate::host::Stop;
use crate::plan::Plan;
use crate::service::{ServiceKind, ServiceStats};
use crate::stats::hlog::IntervalLog;
use crate::stats::ledger::Ledger;
use crate::stats::timeline::IntervalPoint;
use crate::stats::{Hists, Registry};

pub use listener::{handle_records, Source, Strays};

use collector::Collector;

/// Everything measured, for the report and the audit.
pub struct Measured {
    pub clock: Clock,
    pub run_tag: u64,
    pub started_wall_ns: i128,
    /// Run time actually covered, ns.
    pub elapsed_ns: u64,
    /// The stop's reason, when a stop ended the run early.
    pub interrupted: Option<String>,
    /// The threshold breach that ended the run early, if one did.
    pub aborted: Option<String>,
    pub totals: Vec<Hists>,
    pub timeline: Vec<Vec<IntervalPoint>>,
    /// Per workload: ops intended but never started.
    pub dropped: Vec<u64>,
    /// Per workload: ops in flight when the run had to abandon them.
    pub abandoned: Vec<u64>,
    /// Per workload: produced events whose reply never came (within `drain`).
    pub unanswered: Vec<u64>,
    /// Per open workload: releases that found all `max_in_flight` workers busy (the
    /// target held every slot: evidence for the health verdict).
    pub waited_for_worker: Vec<u64>,
    /// Per open workload: how many workers its pool started (at most `max_in_flight`).
    pub workers_started: Vec<u64>,
    pub persistence: Option<ServiceStats>,
    pub query_service: Option<ServiceStats>,
    pub strays: Strays,
    /// What happened to each produced event (pipeline runs), for the audit.
    pub ledger: Arc<Ledger>,
    /// The whole process's CPU seconds over the run, the hiccup meter's thread included.
    pub cpu_seconds: f64,
    /// The hiccup meter and the host's CPU beside the run.
    pub platform: Option<crate::stats::platform::PlatformMeasured>,
    /// What each scheduled fault did.
    pub faults: Vec<faults::FaultRecord>,
    /// The pipeline's queue depths per interval (pipeline runs only).
    pub hops: Vec<crate::stats::hops::HopPoint>,
    /// Why the store nodes' own view could not be read, when it could not.
    pub nodes_unreadable: Option<String>,
}

impl Measured {
    /// The generator's CPU seconds: the process's without the hiccup meter's thread,
    /// which measures the platform and costs the same at any rate.
    pub fn generator_cpu_s(&self) -> f64 {
        let meter = self.platform.as_ref().map_or(0.0, |p| p.meter_cpu_s);
        (self.cpu_seconds - meter).max(0.0)
    }
}

/// Which workloads keep a book in the run's ledger: the producers of a pipeline.
pub fn ledger_books(plan: &Plan) -> Vec<bool> {
    plan.workloads
        .iter()
        .map(|w| w.kind == crate::scenario::WorkloadKind::Produce && plan.is_pipeline())
        .collect()
}

/// What the caller hears after each closed interval: enough to show progress and to
/// keep on disk what a killed run would otherwise take with it.
pub struct Tick<'a> {
    /// Run time the interval closed at.
    pub now: u64,
    /// Per workload, every closed interval so far (the newest last).
    pub timeline: &'a [Vec<IntervalPoint>],
    /// The audit's ledger as it stands.
    pub ledger: &'a Ledger,
    /// Per workload, the measured window so far (what the summary will count).
    pub totals: &'a [Hists],
    /// Per workload, the interval just closed (warmup included).
    pub last: &'a [Hists],
    /// The embedded services' counters so far.
    pub services: &'a [(ServiceKind, ServiceStats)],
    /// The platform's interval just closed (hiccup meter, host CPU).
    pub host: Option<&'a crate::stats::platform::HostPoint>,
    /// The pipeline's hops at the interval's close (pipeline runs).
    pub hops: Option<&'a crate::stats::hops::HopPoint>,
}

/// What a [`Tick`] is made of besides the collector.
pub(super) struct TickSources<'a> {
    ledger: &'a Ledger,
    services: Vec<(ServiceKind, Arc<crate::service::ServiceCounters>)>,
}

impl TickSources<'_> {
    /// Hands the interval the collector just closed to the caller.
    pub(super) fn tell(&self, now: u64, collector: &Collector, on_interval: &mut dyn FnMut(&Tick)) {
        let services: Vec<_> = self.services.iter().map(|(k, c)| (*k, c.snapshot())).collect();
        on_interval(&Tick {
            now,
            timeline: &collector.timeline,
            ledger: self.ledger,
            totals: &collector.totals,
            last: collector.last_interval(),
            services: &services,
            host: collector.platform.timeline.last(),
            hops: collector.hops.last(),
        });
    }
}

/// Why a run could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot write the interval log: {0}")]
    IntervalLog(#[from] std::io::Error),
    #[error("{0}")]
    Backend(#[from] BackendError),
    /// `--start-at` had passed when the run was ready.
    #[error("{0}")]
    Late(String),
}

/// Runs `plan` against `target`. `hlog` receives the interval log as the run goes;
/// `on_interval` is called after each closed interval ([`Tick`]); `stop` ends the run early (what is in flight may still finish
/// within `drain`; a second ask ends the drain too).
pub async fn run(
    plan: &Plan,
    target: &Target,
    run_tag: u64,
    hlog: Box<dyn Write + Send>,
    ledger: Arc<Ledger>,
    mut stop: Stop,
    on_interval: &mut dyn FnMut(&Tick),
) -> Result<Measured, EngineError> {
    let cpu0 = crate::host::cpu_seconds();
    let consumers = setup::listeners(plan, &target.log).await?;
    setup::hear_trims(target, run_tag, &ledger);
    let projections = setup::reader_start(plan, target, &ledger).await?;
    let service_consumers = setup::service_consumers(plan, &target.log).await?;
    let embedded = setup::embedded(plan);
    let inboxes = Arc::new(inbox::Inboxes::default());

    let clock = match plan.start_at_ns {
        None => Clock::start_in(50_000_000),
        Some(at) => {
            let late = Clock::start().wall_origin_ns() - at as i128;
            if late > 0 {
                return Err(EngineError::Late(format!(
                    "--start-at was {:.3} s ago when the run was ready to start: give a later time (setup, e.g. joining Kafka groups, takes seconds)",
                    late as f64 / 1e9
                )));
            }
            // Wait off the runtime's clock until just before the origin, so nothing
            // reads run time while it is still "before 0".
            let ahead = (-late) as u64;
            if ahead > 50_000_000 {
                tokio::time::sleep(Duration::from_nanos(ahead - 50_000_000)).await;
            }
            Clock::start_at_wall(at as i128)
        }
    };
    let mut log = IntervalLog::new(
        hlog,
        &format!("eventbench {} scenario {}", env!("CARGO_PKG_VERSION"), plan.name),
        clock.wall_origin_ns(),
    )?;
    setup::write_plan_comments(&mut log, plan)?;
    let reg = Registry::new(plan.workloads.len(), plan.warmup_ns);
    let mut collector = Collector::new(plan, reg.clone(), log, clock);
    collector.platform.watch(setup::local_target(plan));

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = JoinSet::new();
    let counters = setup::Counters::default();
    let switches = Arc::new(faults::Switches::new());
    setup::start_services(
        plan,
        target,
        clock,
        service_consumers,
        (&stop_rx, &switches),
        &counters,
        (run_tag, &ledger),
        &reg,
        &mut background,
    );
    let (faults_end, faults_end_rx) = watch::channel(false);
    let fault_task = (!plan.faults.is_empty()).then(|| {
        tokio::spawn(faults::run(
            plan.faults.clone(),
            clock,
            switches.clone(),
            target.store.clone(),
            plan.shard.index == 0,
            faults_end_rx,
        ))
    });
    let sources = TickSources {
        ledger: &ledger,
        services: embedded
            .iter()
            .map(|k| {
                (
                    *k,
                    match k {
                        ServiceKind::Persistence => counters.persistence.clone(),
                        ServiceKind::Query => counters.query.clone(),
                    },
                )
            })
            .collect(),
    };
    let listening = listener::Listening {
        clock,
        run_tag,
        reg: reg.clone(),
        ledger: ledger.clone(),
        inboxes: inboxes.clone(),
    };
    let mut listeners = JoinSet::new();
    for (source, consumer) in consumers {
        listeners.spawn(listener::listen(consumer, source, listening.clone(), stop_rx.clone()));
    }
    let mut workloads = launch::launch(&launch::Common {
        plan,
        target,
        clock,
        run_tag,
        reg: reg.clone(),
        ledger: ledger.clone(),
        inboxes,
        projections: &projections,
    });
    collector.backlogs = (0..plan.workloads.len())
        .map(|i| {
            let pool = workloads.pools[i].clone()?;
            Some(collector::ProducerProbe {
                workload: i,
                pool: Some(pool),
                released: workloads.released[i].clone(),
            })
        })
        .collect();
    if plan.is_pipeline() {
        collector.probe = Some(collector::HopProbe {
            producers: plan
                .workloads
                .iter()
                .enumerate()
                .filter(|(_, w)| w.kind == crate::scenario::WorkloadKind::Produce)
                .map(|(i, _)| collector::ProducerProbe {
                    workload: i,
                    pool: workloads.pools[i].clone(),
                    released: workloads.released[i].clone(),
                })
                .collect(),
            persistence: embedded
                .contains(&ServiceKind::Persistence)
                .then(|| counters.persistence.clone()),
            lag: setup::lag_sampler(plan, target),
            client: match &target.log {
                crate::backend::AnyLog::Kafka(k) => Some(k.clone()),
                crate::backend::AnyLog::Memory(_) => None,
            },
            nodes: setup::node_sampler(plan, target),
        });
    }

    // Run until the schedules end, the duration passes, or a stop is asked.
    let mut interrupted: Option<String> = None;
    let end = plan.duration_ns;
    let mut next_tick = plan.interval_ns;
    loop {
        tokio::select! {
            _ = sleep_until(&clock, next_tick.min(end)) => {}
            why = stop.requested() => { interrupted = Some(why); break; }
        }
        if clock.now() >= next_tick {
            collector.tick(next_tick)?;
            sources.tell(next_tick, &collector, on_interval);
            next_tick += plan.interval_ns;
        }
        if clock.now() >= end || collector.aborted.is_some() {
            break;
        }
    }
    let stop_at = clock.now().min(end);
    // A sustained threshold breach ends the schedules now, like a stop, but lets what
    // is in flight finish.
    let cut_short = interrupted.is_some() || collector.aborted.is_some();
    let deadline = clock.now() + plan.drain_ns;
    let left = workloads
        .drain(plan, &clock, cut_short, stop_at, deadline, &mut stop, &mut interrupted)
        .await;
    let mut unanswered = vec![0u64; plan.workloads.len()];
    if setup::listens(plan) {
        unanswered = drain::await_replies(
            plan,
            &clock,
            &mut collector,
            &reg,
            deadline,
            &mut stop,
            &mut interrupted,
            &sources,
            on_interval,
        )
        .await?;
    }
    let _ = stop_tx.send(true);
    // Faults still on end with the run: the service resumes, `then` runs.
    faults_end.send_replace(true);
    let faults = match fault_task {
        Some(t) => t.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut strays = Strays::default();
    while let Some(r) = listeners.join_next().await {
        if let Ok(s) = r {
            strays.malformed += s.malformed;
            strays.foreign += s.foreign;
        }
    }
    // The services stop taking records and finish the ones in hand (answer, commit),
    // within the drain's time again (at least 1 s); what is left then is aborted and,
    // not being committed, read again by the service's next run.
    let grace = Duration::from_nanos(plan.drain_ns.max(1_000_000_000));
    let _ = tokio::time::timeout(grace, async { while background.join_next().await.is_some() {} }).await;
    background.abort_all();
    while background.join_next().await.is_some() {}
    let unanswered = drain::censor_unanswered(plan, &workloads, &ledger, &unanswered, clock.now());
    let elapsed = clock.now();
    collector.tick(elapsed.max(collector.last_ns() + 1))?;
    if let crate::backend::AnyStore::Memory(m) = &target.store {
        m.on_trimmed(None);
    }
    let runs = |k| embedded.contains(&k);
    Ok(Measured {
        clock,
        run_tag,
        started_wall_ns: clock.wall_origin_ns(),
        elapsed_ns: elapsed,
        interrupted,
        aborted: collector.aborted.take(),
        totals: std::mem::take(&mut collector.totals),
        timeline: std::mem::take(&mut collector.timeline),
        dropped: left.dropped,
        abandoned: left.abandoned,
        unanswered,
        waited_for_worker: workloads
            .dispatch
            .iter()
            .map(|d| {
                d.as_ref()
                    .map_or(0, |d| d.waited_for_worker.load(std::sync::atomic::Ordering::Relaxed))
            })
            .collect(),
        workers_started: workloads
            .pools
            .iter()
            .map(|p| p.as_ref().map_or(0, |p| p.started() as u64))
            .collect(),
        persistence: runs(crate::service::ServiceKind::Persistence).then(|| counters.persistence.snapshot()),
        query_service: runs(crate::service::ServiceKind::Query).then(|| counters.query.snapshot()),
        strays,
        ledger,
        cpu_seconds: crate::host::cpu_seconds() - cpu0,
        platform: Some(collector.platform.finish()),
        faults,
        hops: std::mem::take(&mut collector.hops),
        nodes_unreadable: collector
            .probe
            .as_ref()
            .and_then(|p| p.nodes.as_ref())
            .and_then(|n| n.unreadable()),
    })
}

async fn sleep_until(clock: &Clock, t: u64) {
    let now = clock.now();
    if t > now {
        tokio::time::sleep(Duration::from_nanos(t - now)).await;
    }
}
