//! The engine: sets up the target, starts one schedule and its workers per workload,
//! collects per interval, stops on time or on a signal, and hands the measurements to
//! the report. An interrupted run still returns everything measured.

pub mod collector;
mod listener;
pub mod ops;
pub mod schedule;
mod workers;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::backend::{AnyLog, AnyStore, Ctx, EventLog, KafkaLog, MemoryLog, MemoryStore, ScyllaStore, Topics};
use crate::clock::Clock;
use crate::datagen::{new_run_tag, Generator};
use crate::plan::{Load, Plan};
use crate::scenario::{LogKind, StoreKind, WorkloadKind};
use crate::service::{persistence, ServiceConfig, ServiceCounters, ServiceStats, Worker};
use crate::stats::hlog::IntervalLog;
use crate::stats::{ErrorClass, Hists, Registry, Stage};

use collector::{Collector, IntervalPoint};
use listener::{Source, Strays};
use ops::{Operation, Shared};
use schedule::Schedule;

/// How a run is to be carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run directory (created).
    pub dir: PathBuf,
    /// Progress output: `None` for none.
    pub progress: Option<crate::report::progress::Style>,
    /// Fault injection for tests: the persistence service drops every Nth event.
    pub drop_every: Option<u64>,
}

/// Everything measured, for the report.
pub struct Measured {
    pub clock: Clock,
    pub run_tag: u64,
    pub started_wall_ns: i128,
    /// Run time actually covered, ns.
    pub elapsed_ns: u64,
    pub interrupted: Option<String>,
    pub totals: Vec<Hists>,
    pub timeline: Vec<Vec<IntervalPoint>>,
    /// Per workload: ops intended but never started.
    pub dropped: Vec<u64>,
    /// Per workload: ops in flight when the run had to abandon them.
    pub abandoned: Vec<u64>,
    /// Per workload: produced events whose reply never came (within `drain`).
    pub unanswered: Vec<u64>,
    pub persistence: Option<ServiceStats>,
    pub strays: Strays,
    pub cpu_seconds: f64,
}

/// Why a run could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Backend(#[from] crate::backend::BackendError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs a plan on a fresh multi-threaded runtime.
pub fn run(plan: &Plan, opts: &RunOptions) -> Result<Measured, RunError> {
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .enable_all()
        .on_thread_start(crate::pacer::tighten_timer_slack)
        .build()
        .map_err(io_err(Path::new("tokio runtime")))?;
    let measured = rt.block_on(run_async(plan, opts));
    rt.shutdown_timeout(Duration::from_secs(1));
    measured
}

async fn run_async(plan: &Plan, opts: &RunOptions) -> Result<Measured, RunError> {
    let cpu0 = crate::report::host::cpu_seconds();
    std::fs::create_dir_all(&opts.dir).map_err(io_err(&opts.dir))?;
    let hlog_path = opts.dir.join("latency.hlog");
    let run_tag = new_run_tag();
    let (log, store) = backends(plan, run_tag).await?;

    // eventbench's own consumers join before the clock starts: set-up is not load.
    let produces = plan.workloads.iter().any(|w| w.kind == WorkloadKind::Produce);
    let listens = produces && (plan.services_embedded() || plan.target.e2e);
    let topics = &plan.target.topics;
    let (source, subscription, group) = if plan.services_embedded() {
        (
            Source::Replies,
            Topics::Prefix(format!("{}.", topics.persistence_response)),
            "eventbench.replies",
        )
    } else {
        (Source::Events, Topics::Exact(topics.events.clone()), "eventbench.e2e")
    };
    let mut consumers = Vec::new();
    if listens {
        // Kafka: one member, so no rebalance after it is assigned can skip records
        // (a new owner of a partition with no committed offset starts at `latest`).
        let members = if matches!(log, AnyLog::Kafka(_)) {
            1
        } else {
            plan.threads.max(1)
        };
        for _ in 0..members {
            consumers.push(log.subscribe(subscription.clone(), group)?);
        }
        // Reply topics appear only once the services answer, so only a consumer of
        // the events topic can (and must) be assigned before the load starts.
        if source == Source::Events && !any_ready(&consumers, Duration::from_secs(30)).await {
            return Err(RunError::Backend(crate::backend::BackendError::new(
                ErrorClass::Fatal,
                format!(
                    "eventbench's consumer (group {group}) got no partitions of {} within 30 s",
                    topics.events
                ),
            )));
        }
    }

    let clock = Clock::start_in(50_000_000);
    let log_file = IntervalLog::create(
        &hlog_path,
        &format!("eventbench {} scenario {}", env!("CARGO_PKG_VERSION"), plan.name),
        clock.wall_origin_ns(),
    )
    .map_err(io_err(&hlog_path))?;
    let reg = Registry::new(plan.workloads.len(), plan.warmup_ns);
    let mut collector = Collector::new(plan, reg.clone(), log_file);
    write_plan_comments(&mut collector, plan).map_err(io_err(&hlog_path))?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = JoinSet::new();
    let persistence_counters = Arc::new(ServiceCounters::default());
    if produces && plan.services_embedded() {
        let cfg = Arc::new(ServiceConfig {
            topics: topics.clone(),
            clock,
            batch_size: *plan.target.query.batch_size.get_ref(),
            year_bucket: plan.data.year_bucket,
            drop_every: opts.drop_every,
        });
        for i in 0..*plan.target.persistence.workers.get_ref() {
            background.spawn(persistence::run_worker(Worker {
                log: log.clone(),
                store: store.clone(),
                cfg: cfg.clone(),
                counters: persistence_counters.clone(),
                stop: stop_rx.clone(),
                seed: plan.seed ^ (i as u64) << 40,
            }));
        }
    }
    let mut listeners = JoinSet::new();
    for consumer in consumers {
        listeners.spawn(listener::listen(
            consumer,
            source,
            clock,
            run_tag,
            reg.clone(),
            stop_rx.clone(),
        ));
    }

    // Workloads.
    let closed_stop = Arc::new(AtomicBool::new(false));
    let mut schedules: Vec<Option<Arc<Schedule>>> = Vec::new();
    let mut dispatchers = Vec::new();
    // Claims released but not yet taken by a worker, per open workload.
    let mut released: Vec<Option<async_channel::Receiver<schedule::Claim>>> = Vec::new();
    let mut workers: Vec<JoinSet<()>> = Vec::new();
    for (w, wp) in plan.workloads.iter().enumerate() {
        let shared = Arc::new(Shared {
            kind: wp.kind,
            gen: Generator::new(&plan.data, plan.seed, w, run_tag),
            log: log.clone(),
            store: store.clone(),
            events_topic: log.topic(&plan.target.topics.events),
            run_tag,
            projections: (0..256).map(|_| AtomicI64::new(wp.from_version)).collect(),
            year_bucket: plan.data.year_bucket,
        });
        let mut set = JoinSet::new();
        let seed = |i: usize| plan.seed ^ ((w as u64) << 48) ^ (i as u64);
        match &wp.load {
            Load::Open {
                profile,
                arrival,
                max_in_flight,
            } => {
                let schedule = Arc::new(Schedule::new(profile.clone(), *arrival, plan.seed ^ (w as u64) << 32));
                let (tx, rx) = async_channel::bounded(*max_in_flight);
                for i in 0..*max_in_flight {
                    let op = Operation::new(shared.clone(), Ctx::new(clock, seed(i)));
                    set.spawn(workers::open_loop(op, rx.clone(), reg.clone(), w, wp.kind));
                }
                dispatchers.push(tokio::spawn(workers::dispatch(schedule.clone(), tx, clock)));
                released.push(Some(rx));
                schedules.push(Some(schedule));
            }
            Load::Closed { concurrency } => {
                let next = Arc::new(AtomicU64::new(0));
                for i in 0..*concurrency {
                    let op = Operation::new(shared.clone(), Ctx::new(clock, seed(i)));
                    set.spawn(workers::closed_loop(
                        op,
                        closed_stop.clone(),
                        next.clone(),
                        reg.clone(),
                        w,
                        wp.kind,
                    ));
                }
                schedules.push(None);
            }
        }
        workers.push(set);
    }

    // Run until the schedules end, the duration passes, or a signal comes.
    let mut progress = crate::report::progress::Progress::new(opts.progress, plan);
    let interval = Duration::from_nanos(plan.interval_ns);
    let mut interrupted: Option<String> = None;
    let mut signals = Signals::new();
    let end = plan.duration_ns;
    let mut next_tick = plan.interval_ns;
    loop {
        let target = next_tick.min(end);
        tokio::select! {
            _ = sleep_until(&clock, target) => {}
            sig = signals.recv() => { interrupted = Some(sig); break; }
        }
        if clock.now() >= next_tick {
            collector.tick(next_tick).map_err(io_err(&hlog_path))?;
            progress.interval(&collector, plan);
            next_tick += plan.interval_ns;
        }
        if clock.now() >= end {
            break;
        }
    }
    closed_stop.store(true, Ordering::Relaxed);
    let stop_at = clock.now().min(end);

    // Let in-flight operations finish (bounded by `drain`); then stop the schedules and
    // count what never started.
    let drain_deadline = clock.now() + plan.drain_ns;
    let mut abandoned = vec![0u64; plan.workloads.len()];
    let mut dropped = vec![0u64; plan.workloads.len()];
    // Stopping an open workload: no more claims, and what was released but not yet
    // taken by a worker never starts either. Both count as dropped.
    let stop_open = |w: usize, until: u64, dropped: &mut Vec<u64>| {
        if let Some(s) = &schedules[w] {
            dropped[w] += s.stop_and_count_dropped(until);
        }
        if let Some(rx) = &released[w] {
            rx.close();
            while let Ok(c) = rx.try_recv() {
                dropped[w] += (c.intended < until) as u64;
            }
        }
    };
    for (w, set) in workers.iter_mut().enumerate() {
        if interrupted.is_some() {
            stop_open(w, stop_at, &mut dropped);
        }
        loop {
            tokio::select! {
                r = set.join_next() => if r.is_none() { break },
                _ = sleep_until(&clock, drain_deadline) => {
                    stop_open(w, stop_at, &mut dropped);
                    abandoned[w] = set.len() as u64;
                    set.abort_all();
                    break;
                }
                sig = signals.recv(), if interrupted.is_none() => {
                    interrupted = Some(sig);
                    stop_open(w, clock.now(), &mut dropped);
                }
            }
        }
    }
    for d in dispatchers {
        d.abort();
    }

    // Wait for replies to what was produced, up to the same deadline.
    let mut unanswered = vec![0u64; plan.workloads.len()];
    if listens {
        loop {
            let now = clock.now();
            if now >= next_tick {
                collector.tick(now).map_err(io_err(&hlog_path))?;
                progress.interval(&collector, plan);
                next_tick = now + plan.interval_ns;
            }
            let waiting: Vec<u64> = plan
                .workloads
                .iter()
                .enumerate()
                .map(|(w, wp)| {
                    if wp.kind == WorkloadKind::Produce {
                        outstanding(&collector, &reg, w)
                    } else {
                        0
                    }
                })
                .collect();
            if waiting.iter().all(|n| *n == 0) || now >= drain_deadline || interrupted.is_some() {
                unanswered = waiting;
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval.min(Duration::from_millis(20))) => {}
                sig = signals.recv() => { interrupted = Some(sig); }
            }
        }
    }
    let _ = stop_tx.send(true);
    let mut strays = Strays::default();
    while let Some(r) = listeners.join_next().await {
        if let Ok(s) = r {
            strays.malformed += s.malformed;
            strays.foreign += s.foreign;
        }
    }
    background.abort_all();
    let elapsed = clock.now();
    collector
        .tick(elapsed.max(collector.last_ns() + 1))
        .map_err(io_err(&hlog_path))?;
    progress.finish();
    for (w, n) in unanswered.iter().enumerate() {
        collector.totals[w].counters.errors[ErrorClass::Timeout as usize] += n;
    }
    Ok(Measured {
        clock,
        run_tag,
        started_wall_ns: clock.wall_origin_ns(),
        elapsed_ns: elapsed,
        interrupted,
        totals: std::mem::take(&mut collector.totals),
        timeline: std::mem::take(&mut collector.timeline),
        dropped,
        abandoned,
        unanswered,
        persistence: (produces && plan.services_embedded()).then(|| persistence_counters.snapshot()),
        strays,
        cpu_seconds: crate::report::host::cpu_seconds() - cpu0,
    })
}

/// Waits until at least one of a group's members has partitions.
async fn any_ready(consumers: &[crate::backend::AnyConsumer], within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        for c in consumers {
            if c.ready(Duration::from_millis(200)).await {
                return true;
            }
        }
    }
    false
}

/// Produced and acknowledged, but neither answered nor failed yet (collected or not).
fn outstanding(c: &Collector, reg: &Registry, w: usize) -> u64 {
    let count = |h: &Hists| {
        let answered = h.stages[Stage::E2e as usize].len() + h.counters.errors[ErrorClass::Rejected as usize];
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

async fn backends(plan: &Plan, run_tag: u64) -> Result<(AnyLog, AnyStore), RunError> {
    let log = match plan.target.log {
        LogKind::Memory => AnyLog::Memory(MemoryLog::new(plan.target.memory_log.capacity)),
        LogKind::Kafka => {
            let topics = vec![plan.target.topics.events.clone()];
            AnyLog::Kafka(KafkaLog::connect(&plan.target.kafka, &topics, run_tag).await?)
        }
    };
    let store = match plan.target.store {
        StoreKind::Memory => AnyStore::Memory(Arc::new(MemoryStore::new(&plan.target.memory_store))),
        StoreKind::Scylla => AnyStore::Scylla(Arc::new(ScyllaStore::connect(&plan.target.scylla).await?)),
    };
    Ok((log, store))
}

fn write_plan_comments(c: &mut Collector, plan: &Plan) -> std::io::Result<()> {
    c.comment(&format!(
        "[eventbench: warmup until {:.3} s; operations intended before it are excluded from summary.json]",
        plan.warmup_ns as f64 / 1e9
    ))?;
    for w in &plan.workloads {
        if let Load::Open { profile, .. } = &w.load {
            for s in &profile.segments {
                c.comment(&format!(
                    "[Phase: {} {:.3}-{:.3} s rate {:.1}->{:.1}/s]",
                    w.name,
                    s.start_ns as f64 / 1e9,
                    (s.start_ns + s.duration_ns) as f64 / 1e9,
                    s.from_rate,
                    s.to_rate
                ))?;
            }
        }
    }
    Ok(())
}

async fn sleep_until(clock: &Clock, t: u64) {
    let now = clock.now();
    if t > now {
        tokio::time::sleep(Duration::from_nanos(t - now)).await;
    }
}

/// SIGINT and SIGTERM, as one stream.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        Signals {
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    async fn recv(&mut self) -> String {
        let term = async {
            match &mut self.term {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT".to_string(),
            _ = term => "SIGTERM".to_string(),
        }
    }
}

/// Every task that waits precisely (the memory store's simulated service time) holds a
/// timerfd, and max_in_flight can be large: lift the soft descriptor limit to the hard one.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct; failure leaves limits unchanged.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
