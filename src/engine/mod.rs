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
mod listener;
mod measured;
pub mod ops;
pub mod schedule;
mod setup;
mod workers;
mod workloads;

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
use crate::stats::{Hists, Registry};

pub use listener::{handle_records, Source, Strays};
pub use measured::{Measured, WorkloadMeasured};

use collector::Collector;

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
    /// Per workload, the measured window so far (what the summary will count) and
    /// every closed interval (the newest last).
    pub workloads: &'a [WorkloadMeasured],
    /// The audit's ledger as it stands.
    pub ledger: &'a Ledger,
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
pub(super) struct TickSources {
    ledger: Arc<Ledger>,
    services: Vec<(ServiceKind, Arc<crate::service::ServiceCounters>)>,
}

impl TickSources {
    /// Hands the interval the collector just closed to the caller.
    pub(super) fn tell(&self, now: u64, collector: &Collector, on_interval: &mut dyn FnMut(&Tick)) {
        let services: Vec<_> = self.services.iter().map(|(k, c)| (*k, c.snapshot())).collect();
        on_interval(&Tick {
            now,
            workloads: &collector.workloads,
            ledger: &self.ledger,
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
/// `on_interval` is called after each closed interval ([`Tick`]); `stop` ends the run
/// early (what is in flight may still finish within `drain`; a second ask ends the
/// drain too).
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
    let ready = Ready::prepare(plan, target, run_tag, &ledger).await?;
    let clock = start_clock(plan).await?;
    let mut underway = Underway::start(plan, target, (clock, run_tag), hlog, ledger, ready)?;
    let interrupted = underway.run_until_end(plan, &mut stop, on_interval).await?;
    let mut m = underway
        .finish(plan, target, interrupted, &mut stop, on_interval)
        .await?;
    m.cpu_seconds = crate::host::cpu_seconds() - cpu0;
    Ok(m)
}

/// What is set up before the clock starts: the listeners' and services' consumers
/// joined, the readers' start projections read.
struct Ready {
    consumers: Vec<(Source, crate::backend::AnyConsumer)>,
    projections: Vec<i64>,
    service_consumers: Vec<(ServiceKind, crate::backend::AnyConsumer)>,
}

impl Ready {
    async fn prepare(plan: &Plan, target: &Target, run_tag: u64, ledger: &Arc<Ledger>) -> Result<Ready, EngineError> {
        let consumers = setup::listeners(plan, &target.log).await?;
        setup::hear_trims(target, run_tag, ledger);
        let projections = setup::reader_start(plan, target, ledger).await?;
        let service_consumers = setup::service_consumers(plan, &target.log).await?;
        Ok(Ready {
            consumers,
            projections,
            service_consumers,
        })
    }
}

/// The run's clock: 50 ms from now, or at `--start-at` (refused when it has passed).
async fn start_clock(plan: &Plan) -> Result<Clock, EngineError> {
    let Some(at) = plan.start_at_ns else {
        return Ok(Clock::start_in(50_000_000));
    };
    let late = Clock::start().wall_origin_ns() - at as i128;
    if late > 0 {
        return Err(EngineError::Late(format!(
            "--start-at was {:.3} s ago when the run was ready to start: give a later time (setup, e.g. joining Kafka groups, takes seconds)",
            late as f64 / 1e9
        )));
    }
    // Wait off the runtime's clock until just before the origin, so nothing reads run
    // time while it is still "before 0".
    let ahead = (-late) as u64;
    if ahead > 50_000_000 {
        tokio::time::sleep(Duration::from_nanos(ahead - 50_000_000)).await;
    }
    Ok(Clock::start_at_wall(at as i128))
}

/// A run under way: what it started and what it must stop and collect at its end.
struct Underway {
    clock: Clock,
    run_tag: u64,
    reg: Arc<Registry>,
    ledger: Arc<Ledger>,
    collector: Collector,
    sources: TickSources,
    workloads: workloads::Workloads,
    listeners: JoinSet<Strays>,
    background: JoinSet<Result<(), BackendError>>,
    stop_tx: watch::Sender<bool>,
    faults_end: watch::Sender<bool>,
    fault_task: Option<tokio::task::JoinHandle<Vec<faults::FaultRecord>>>,
    counters: setup::Counters,
    embedded: Vec<ServiceKind>,
}

impl Underway {
    /// Opens the interval log and starts the services, the faults, the listeners and
    /// the workloads, with the probes the collector reads at each interval's close.
    fn start(
        plan: &Plan,
        target: &Target,
        (clock, run_tag): (Clock, u64),
        hlog: Box<dyn Write + Send>,
        ledger: Arc<Ledger>,
        ready: Ready,
    ) -> Result<Underway, EngineError> {
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
            ready.service_consumers,
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
        let embedded = setup::embedded(plan);
        let sources = TickSources {
            ledger: ledger.clone(),
            services: embedded.iter().map(|k| (*k, counters.of(*k).clone())).collect(),
        };
        let inboxes = Arc::new(inbox::Inboxes::default());
        let listening = listener::Listening {
            clock,
            run_tag,
            reg: reg.clone(),
            ledger: ledger.clone(),
            inboxes: inboxes.clone(),
        };
        let mut listeners = JoinSet::new();
        for (source, consumer) in ready.consumers {
            listeners.spawn(listener::listen(consumer, source, listening.clone(), stop_rx.clone()));
        }
        let workloads = workloads::launch(&workloads::Common {
            plan,
            target,
            clock,
            run_tag,
            reg: reg.clone(),
            ledger: ledger.clone(),
            inboxes,
            projections: &ready.projections,
        });
        let mut underway = Underway {
            clock,
            run_tag,
            reg,
            ledger,
            collector,
            sources,
            workloads,
            listeners,
            background,
            stop_tx,
            faults_end,
            fault_task,
            counters,
            embedded,
        };
        underway.attach_probes(plan, target);
        Ok(underway)
    }

    /// Where the collector reads each open workload's backlog and, on a pipeline, the
    /// hops' queues.
    fn attach_probes(&mut self, plan: &Plan, target: &Target) {
        let probe = |w: &workloads::Running| collector::ProducerProbe {
            workload: w.index,
            pool: w.open.as_ref().map(|o| o.pool.clone()),
            released: w.open.as_ref().map(|o| o.released.clone()),
        };
        for w in self.workloads.each.iter().filter(|w| w.open.is_some()) {
            self.collector.read_backlog(w.index, probe(w));
        }
        if !plan.is_pipeline() {
            return;
        }
        self.collector.probe = Some(collector::HopProbe {
            producers: self
                .workloads
                .each
                .iter()
                .filter(|w| w.kind == crate::scenario::WorkloadKind::Produce)
                .map(probe)
                .collect(),
            persistence: self
                .embedded
                .contains(&ServiceKind::Persistence)
                .then(|| self.counters.persistence.clone()),
            lag: setup::lag_sampler(plan, target),
            client: match &target.log {
                crate::backend::AnyLog::Kafka(k) => Some(k.clone()),
                crate::backend::AnyLog::Memory(_) => None,
            },
            nodes: setup::node_sampler(plan, target),
        });
    }

    /// Closes an interval every `interval` until the schedules end, the duration
    /// passes, a stop is asked (its reason returned) or a threshold breach aborts.
    async fn run_until_end(
        &mut self,
        plan: &Plan,
        stop: &mut Stop,
        on_interval: &mut dyn FnMut(&Tick),
    ) -> Result<Option<String>, EngineError> {
        let (clock, end) = (self.clock, plan.duration_ns);
        let mut next_tick = plan.interval_ns;
        loop {
            tokio::select! {
                _ = sleep_until(&clock, next_tick.min(end)) => {}
                why = stop.requested() => return Ok(Some(why)),
            }
            if clock.now() >= next_tick {
                self.collector.tick(next_tick)?;
                self.sources.tell(next_tick, &self.collector, on_interval);
                next_tick += plan.interval_ns;
            }
            if clock.now() >= end || self.collector.aborted.is_some() {
                return Ok(None);
            }
        }
    }

    /// Drains the workloads, waits for owed replies, stops the services, the faults
    /// and the listeners, closes the last interval and returns what was measured.
    async fn finish(
        mut self,
        plan: &Plan,
        target: &Target,
        mut interrupted: Option<String>,
        stop: &mut Stop,
        on_interval: &mut dyn FnMut(&Tick),
    ) -> Result<Measured, EngineError> {
        let clock = self.clock;
        let stop_at = clock.now().min(plan.duration_ns);
        let deadline = clock.now() + plan.drain_ns;
        // A sustained threshold breach ends the schedules now, like a stop, but lets
        // what is in flight finish.
        let left = self
            .workloads
            .drain(&mut workloads::DrainEnd {
                clock: &clock,
                cut_short: interrupted.is_some() || self.collector.aborted.is_some(),
                stop_at,
                deadline,
                stop,
                interrupted: &mut interrupted,
            })
            .await;
        let mut unanswered = vec![0u64; plan.workloads.len()];
        if setup::listens(plan) {
            let (collector, reg) = (&mut self.collector, &self.reg);
            let tell = (&self.sources, on_interval);
            unanswered =
                drain::await_replies(plan, &clock, collector, reg, deadline, stop, &mut interrupted, tell).await?;
        }
        let _ = self.stop_tx.send(true);
        // Faults still on end with the run: the service resumes, `then` runs.
        self.faults_end.send_replace(true);
        let faults = match self.fault_task.take() {
            Some(t) => t.await.unwrap_or_default(),
            None => Vec::new(),
        };
        let strays = self.stop_listeners().await;
        self.stop_services(plan).await;
        let unanswered = drain::censor_unanswered(plan, &self.workloads, &self.ledger, &unanswered, clock.now());
        let elapsed = clock.now();
        self.collector.tick(elapsed.max(self.collector.last_ns() + 1))?;
        if let crate::backend::AnyStore::Memory(m) = &target.store {
            m.on_trimmed(None);
        }
        let mut each = std::mem::take(&mut self.collector.workloads);
        for (((m, running), left), unanswered) in each.iter_mut().zip(&self.workloads.each).zip(left).zip(unanswered) {
            (m.dropped, m.abandoned, m.unanswered) = (left.dropped, left.abandoned, unanswered);
            if let Some(open) = &running.open {
                m.waited_for_worker = open
                    .dispatch
                    .waited_for_worker
                    .load(std::sync::atomic::Ordering::Relaxed);
                m.workers_started = open.pool.started() as u64;
            }
        }
        let runs = |k| self.embedded.contains(&k);
        Ok(Measured {
            clock,
            run_tag: self.run_tag,
            started_wall_ns: clock.wall_origin_ns(),
            elapsed_ns: elapsed,
            interrupted,
            aborted: self.collector.aborted.take(),
            workloads: each,
            persistence: runs(ServiceKind::Persistence).then(|| self.counters.persistence.snapshot()),
            query_service: runs(ServiceKind::Query).then(|| self.counters.query.snapshot()),
            strays,
            ledger: self.ledger.clone(),
            cpu_seconds: 0.0,
            platform: Some(self.collector.platform.finish()),
            faults,
            hops: std::mem::take(&mut self.collector.hops),
            nodes_unreadable: self
                .collector
                .probe
                .as_ref()
                .and_then(|p| p.nodes.as_ref())
                .and_then(|n| n.unreadable()),
        })
    }

    /// The listeners end (the stop was sent); what they could not use is counted.
    async fn stop_listeners(&mut self) -> Strays {
        let mut strays = Strays::default();
        while let Some(r) = self.listeners.join_next().await {
            if let Ok(s) = r {
                strays.malformed += s.malformed;
                strays.foreign += s.foreign;
            }
        }
        strays
    }

    /// The services stop taking records and finish the ones in hand (answer, commit),
    /// within the drain's time again (at least 1 s); what is left then is aborted and,
    /// not being committed, read again by the service's next run.
    async fn stop_services(&mut self, plan: &Plan) {
        let grace = Duration::from_nanos(plan.drain_ns.max(1_000_000_000));
        let background = &mut self.background;
        let _ = tokio::time::timeout(grace, async { while background.join_next().await.is_some() {} }).await;
        self.background.abort_all();
        while self.background.join_next().await.is_some() {}
    }
}

async fn sleep_until(clock: &Clock, t: u64) {
    let now = clock.now();
    if t > now {
        tokio::time::sleep(Duration::from_nanos(t - now)).await;
    }
}
