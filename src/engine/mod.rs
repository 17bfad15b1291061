//! The engine: sets up the target, starts one schedule and its workers per workload,
//! collects per interval, stops on time or on a signal, and hands the measurements to
//! the report. An interrupted run still returns everything measured.

pub mod collector;
mod inbox;
mod listener;
pub mod ops;
pub mod schedule;
pub mod serve;
mod workers;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::audit::ledger::Ledger;
use crate::audit::AuditReport;
use crate::backend::EventStore;
use crate::backend::{AnyLog, AnyStore, Ctx, EventLog, KafkaLog, MemoryLog, MemoryStore, ScyllaStore, Topics};
use crate::clock::Clock;
use crate::datagen::{new_run_tag, Generator};
use crate::plan::{Load, Plan};
use crate::scenario::{LogKind, StoreKind, WorkloadKind};
use crate::service::{persistence, ServiceConfig, ServiceCounters, ServiceStats, Which, Worker};
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
    pub persistence: Option<ServiceStats>,
    pub query_service: Option<ServiceStats>,
    pub strays: Strays,
    /// The integrity audit (pipeline runs).
    pub audit: Option<AuditReport>,
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
    let listens = produces && (plan.services_answer() || plan.target.e2e);
    let topics = &plan.target.topics;
    let aggregates = plan.aggregate_ids();
    let mut subscriptions = Vec::new();
    if listens && plan.services_answer() {
        let replies = reply_topics(&topics.persistence_response, &aggregates);
        subscriptions.push((Source::Replies, Topics::List(replies), "eventbench.replies"));
    } else if listens {
        subscriptions.push((Source::Events, Topics::Exact(topics.events.clone()), "eventbench.e2e"));
    }
    if plan.queries_via_log() {
        let results = reply_topics(&topics.query_response, &aggregates);
        subscriptions.push((Source::QueryResults, Topics::List(results), "eventbench.results"));
    }
    let mut consumers = Vec::new();
    for (source, subscription, group) in subscriptions {
        // Kafka: one member, so no rebalance after it is assigned can skip records
        // (a new owner of a partition with no committed offset starts at `latest`).
        let members = if matches!(log, AnyLog::Kafka(_)) {
            1
        } else {
            plan.threads.max(1)
        };
        let mut group_members = Vec::new();
        for _ in 0..members {
            group_members.push(log.subscribe(subscription.clone(), group)?);
        }
        if !any_ready(&group_members, Duration::from_secs(30)).await {
            return Err(RunError::Backend(crate::backend::BackendError::new(
                ErrorClass::Fatal,
                format!("eventbench's consumer (group {group}) got no partitions of {subscription:?} within 30 s"),
            )));
        }
        consumers.extend(group_members.into_iter().map(|c| (source, c)));
    }
    let ledger = Arc::new(Ledger::new(
        &plan
            .workloads
            .iter()
            .map(|w| w.kind == WorkloadKind::Produce && plan.is_pipeline())
            .collect::<Vec<_>>(),
    ));
    let start_projections = reader_start(plan, &store, &aggregates, &ledger).await?;
    // The embedded services' consumers join before the clock starts too: a group's
    // first join waits out the broker's initial rebalance delay.
    let run_persistence = produces && plan.services_embedded();
    let run_query = plan.queries_via_log() && plan.services_embedded();
    let mut service_consumers = Vec::new();
    for (run, which) in [(run_persistence, Which::Persistence), (run_query, Which::Query)] {
        if run {
            if let (AnyLog::Kafka(k), true) = (&log, plan.target.skip_backlog) {
                let (group, topic) = match which {
                    Which::Persistence => (&topics.persistence_group, &topics.events),
                    Which::Query => (&topics.query_group, &topics.query),
                };
                let skipped = k.skip_backlog(group, topic)?;
                if skipped > 0 {
                    eprintln!("note: {group} skipped a backlog of {skipped} records on {topic} (target.skip_backlog)");
                }
            }
            let c = crate::service::subscribe(which, &log, topics)?;
            if !c.ready(Duration::from_secs(60)).await {
                return Err(RunError::Backend(crate::backend::BackendError::new(
                    ErrorClass::Fatal,
                    format!("the embedded {which:?} service's consumer got no partitions within 60 s"),
                )));
            }
            service_consumers.push((which, c));
        }
    }
    let inboxes = Arc::new(inbox::Inboxes::default());

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
    let query_counters = Arc::new(ServiceCounters::default());
    if !service_consumers.is_empty() {
        let cfg = Arc::new(ServiceConfig::of(plan, clock, opts.drop_every));
        for (which, consumer) in service_consumers {
            let (counters, handlers) = match which {
                Which::Persistence => (&persistence_counters, *plan.target.persistence.workers.get_ref()),
                Which::Query => (&query_counters, *plan.target.query.workers.get_ref()),
            };
            let base = Worker {
                records: async_channel::bounded(1).1,
                log: log.clone(),
                store: store.clone(),
                cfg: cfg.clone(),
                counters: counters.clone(),
                stop: stop_rx.clone(),
                seed: plan.seed ^ (which as u64 + 1) << 40,
            };
            crate::service::start(which, consumer, base, handlers, &mut background);
        }
    }
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
            via: wp.via,
            workload: w,
            gen: match wp.via {
                crate::scenario::Via::Log => Generator::new(&plan.data, plan.seed, w, run_tag).queries_of_shard(
                    &aggregates,
                    plan.shard.index,
                    plan.shard.count,
                ),
                crate::scenario::Via::Store => Generator::new(&plan.data, plan.seed, w, run_tag),
            },
            log: log.clone(),
            store: store.clone(),
            events_topic: log.topic(&topics.events),
            query_topic: log.topic(&topics.query),
            run_tag,
            projections: start_projections
                .iter()
                .map(|p| AtomicI64::new((*p).max(wp.from_version)))
                .collect(),
            year_bucket: plan.data.year_bucket,
            consistency: plan.target.consistency,
            ledger: ledger.clone(),
            inboxes: inboxes.clone(),
            batch_size: *plan.target.query.batch_size.get_ref(),
            reply_timeout: plan.target.query.reply_timeout.0,
            settle: plan.target.query.settle.0,
        });
        let mut set = JoinSet::new();
        let seed = |i: usize| plan.seed ^ ((w as u64) << 48) ^ (i as u64);
        match &wp.load {
            Load::Open {
                profile,
                arrival,
                max_in_flight,
            } => {
                let schedule = Arc::new(Schedule::sharded(
                    profile.clone(),
                    *arrival,
                    plan.seed ^ (w as u64) << 32,
                    plan.shard,
                ));
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
                for i in 0..plan.shard.part_of(*concurrency).max(1) {
                    let op = Operation::new(shared.clone(), Ctx::new(clock, seed(i)));
                    set.spawn(workers::closed_loop(
                        op,
                        closed_stop.clone(),
                        next.clone(),
                        plan.shard,
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
        if clock.now() >= end || collector.aborted.is_some() {
            break;
        }
    }
    closed_stop.store(true, Ordering::Relaxed);
    let stop_at = clock.now().min(end);
    // A sustained threshold breach ends the schedules now, like a signal, but lets
    // what is in flight finish.
    let cut_short = interrupted.is_some() || collector.aborted.is_some();

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
        if cut_short {
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
    while background.join_next().await.is_some() {}
    let elapsed = clock.now();
    let audit = if plan.is_pipeline() && plan.audit.enabled {
        let years = crate::audit::run::year_buckets(plan, clock.wall_origin_ns(), elapsed);
        Some(crate::audit::run::after_run(plan, &store, &ledger, run_tag, &aggregates, &years, &opts.dir).await)
    } else {
        None
    };
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
        aborted: collector.aborted.take(),
        totals: std::mem::take(&mut collector.totals),
        timeline: std::mem::take(&mut collector.timeline),
        dropped,
        abandoned,
        unanswered,
        persistence: run_persistence.then(|| persistence_counters.snapshot()),
        query_service: run_query.then(|| query_counters.snapshot()),
        strays,
        audit,
        cpu_seconds: crate::report::host::cpu_seconds() - cpu0,
    })
}

/// `<prefix>.<aggregate_id>` for each aggregate.
fn reply_topics(prefix: &str, aggregates: &[i8]) -> Vec<String> {
    aggregates.iter().map(|a| format!("{prefix}.{a}")).collect()
}

/// Readers start up to date: each aggregate's projection is one below its current
/// meta version (so the epoch being written now is theirs), and never below their
/// `from_version`. Returns the start projection per aggregate id.
async fn reader_start(plan: &Plan, store: &AnyStore, aggregates: &[i8], ledger: &Ledger) -> Result<Vec<i64>, RunError> {
    let mut start = vec![i64::MIN; 256];
    let readers: Vec<i64> = plan
        .workloads
        .iter()
        .filter(|w| w.kind == WorkloadKind::Query)
        .map(|w| w.from_version)
        .collect();
    let Some(floor) = readers.iter().min().copied() else {
        return Ok(start);
    };
    let mut ctx = Ctx::new(Clock::start(), 0);
    for &a in aggregates {
        let meta = store.read_meta(&mut ctx, persistence::META_PARTITION, a).await?;
        let p = meta.map_or(floor, |m| (m - 1).max(floor));
        start[a as u8 as usize] = p;
        ledger.floors[a as u8 as usize].store(p, Ordering::Relaxed);
    }
    Ok(start)
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
        let answered = h.stages[Stage::E2e as usize].len()
            + h.stages[Stage::E2ePersisted as usize].len()
            + h.counters.errors[ErrorClass::Rejected as usize];
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

pub(crate) async fn backends(plan: &Plan, run_tag: u64) -> Result<(AnyLog, AnyStore), RunError> {
    let log = match plan.target.log {
        LogKind::Memory => AnyLog::Memory(MemoryLog::new(plan.target.memory_log.capacity)),
        LogKind::Kafka => {
            let t = &plan.target.topics;
            let mut topics = vec![t.events.clone()];
            let mut replies = Vec::new();
            if plan.services_answer() {
                replies = reply_topics(&t.persistence_response, &plan.aggregate_ids());
            }
            if plan.queries_via_log() {
                topics.push(t.query.clone());
                replies.extend(reply_topics(&t.query_response, &plan.aggregate_ids()));
            }
            AnyLog::Kafka(KafkaLog::connect(&plan.target.kafka, &topics, &replies, run_tag).await?)
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
pub(crate) struct Signals {
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(crate) fn new() -> Signals {
        Signals {
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    pub(crate) async fn recv(&mut self) -> String {
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
