//! Reference implementations of the original persistence and query services, over any
//! log and store. They are the target, not the harness: they count what they see
//! (including malformed input) so the report can show it.

pub mod persistence;
pub mod query;
pub mod serve;

use std::sync::atomic::AtomicU64;

use serde::Serialize;

use crate::backend::{AnyConsumer, AnyLog, AnyTopic, EventLog, LogConsumer, Record};
use crate::clock::Clock;
use crate::scenario::Topics;

/// The next record, or `None` once the log closed or `stop` fired.
pub async fn next_record(consumer: &mut AnyConsumer, stop: &mut tokio::sync::watch::Receiver<bool>) -> Option<Record> {
    tokio::select! {
        r = consumer.recv() => r,
        _ = stop.changed() => None,
    }
}

/// Reply topics `<prefix>.<aggregate_id>`, each resolved once.
pub struct ReplyTopics {
    prefix: String,
    resolved: Vec<Option<AnyTopic>>,
}

impl ReplyTopics {
    pub fn new(prefix: &str) -> ReplyTopics {
        ReplyTopics {
            prefix: prefix.to_string(),
            resolved: vec![None; 256],
        }
    }

    pub fn get(&mut self, log: &AnyLog, aggregate: i8) -> &AnyTopic {
        let prefix = &self.prefix;
        self.resolved[aggregate as u8 as usize].get_or_insert_with(|| log.topic(&format!("{prefix}.{aggregate}")))
    }
}

/// Told of each event the persistence service is done with: answered (with or without
/// an error) or dropped on purpose. An embedding harness marks them, so its audit can
/// tell what the target lost from what it had not yet taken when the run ended.
#[derive(Clone)]
pub struct OnFinished(pub std::sync::Arc<dyn Fn(&uuid::Uuid) + Send + Sync>);

impl std::fmt::Debug for OnFinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnFinished")
    }
}

/// An event's (or a query's) times through the persistence (or query) service, run ns:
/// when its log took it (where the log says), when a handler took it, its store work's
/// start and end, and when the log acknowledged its reply, or a query's last batch (the
/// handler is free again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopTimes {
    pub logged: Option<u64>,
    pub taken: u64,
    pub store_from: u64,
    pub store_to: u64,
    pub replied: u64,
}

/// Told each event's [`HopTimes`] with its correlation id: an embedding harness records
/// the hops it cannot see from outside (the original services tell nobody).
#[derive(Clone)]
pub struct OnHops(pub std::sync::Arc<HopListener>);

/// What [`OnHops`] calls: an event's correlation id and its times.
pub type HopListener = dyn Fn(&uuid::Uuid, HopTimes) + Send + Sync;

impl std::fmt::Debug for OnHops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnHops")
    }
}

/// What the services need to know.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub topics: Topics,
    pub clock: Clock,
    pub batch_size: usize,
    pub year_bucket: Option<i16>,
    /// Fault injection: silently drop every Nth consumed event (audits must see it).
    pub drop_every: Option<u64>,
    /// Fault injection: wait this long (ns) before each persist.
    pub extra_latency_ns: u64,
    /// Fault injection, query service: wait this long (ns) before each query, between
    /// a result's batches, and whether to send no reply at all.
    pub query_latency_ns: u64,
    pub batch_gap_ns: u64,
    pub silent: bool,
    pub consistency: crate::scenario::VersionConsistency,
    pub on_finished: Option<OnFinished>,
    pub on_hops: Option<OnHops>,
}

/// Which reference service (also the `eventbench serve` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceKind {
    Persistence,
    Query,
}

impl ServiceKind {
    /// Its name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Persistence => "persistence",
            ServiceKind::Query => "query",
        }
    }

    /// Its concurrent handlers as the scenario sets them.
    pub fn workers(self, plan: &crate::plan::Plan) -> usize {
        match self {
            ServiceKind::Persistence => plan.target.persistence.workers(),
            ServiceKind::Query => plan.target.query.workers(),
        }
    }
}

/// Joins the service's consumer group on its input topic. A service is one group
/// member feeding many handlers, as the original service runs one consumer and a goroutine per
/// message (many members would only rebalance each other on a few partitions).
pub fn subscribe(
    which: ServiceKind,
    log: &AnyLog,
    topics: &Topics,
) -> Result<AnyConsumer, crate::backend::BackendError> {
    use crate::backend::Topics as Subscription;
    match which {
        ServiceKind::Persistence => {
            log.subscribe(Subscription::Exact(topics.events.clone()), &topics.persistence_group)
        }
        ServiceKind::Query => log.subscribe(Subscription::Exact(topics.query.clone()), &topics.query_group),
    }
}

/// Starts a service: a pump from its consumer and `handlers` handlers.
pub fn start(
    which: ServiceKind,
    consumer: AnyConsumer,
    base: Worker,
    handlers: usize,
    set: &mut tokio::task::JoinSet<Result<(), crate::backend::BackendError>>,
) {
    let rx = match consumer {
        // The in-process log's group queue already serves many takers.
        AnyConsumer::Memory(m) => m.into_queue(),
        mut consumer @ AnyConsumer::Kafka(_) => {
            let (tx, rx) = async_channel::bounded(handlers.max(1) * 2);
            let mut stop = base.stop.clone();
            set.spawn(async move {
                while let Some(r) = next_record(&mut consumer, &mut stop).await {
                    if tx.send(r).await.is_err() {
                        break;
                    }
                }
                Ok(())
            });
            rx
        }
    };
    for i in 0..handlers {
        let w = Worker {
            records: rx.clone(),
            seed: base.seed ^ i as u64,
            ..base.clone()
        };
        match which {
            ServiceKind::Persistence => set.spawn(persistence::run_worker(w)),
            ServiceKind::Query => set.spawn(query::run_worker(w)),
        };
    }
}

/// The next record for a handler, or `None` once the pump ended or `stop` fired. A
/// stop is checked first: records still queued for the handlers are handed back (not
/// taken, so not committed) rather than started after the stop.
pub async fn next_handled(w: &mut Worker) -> Option<Record> {
    if *w.stop.borrow() {
        return None;
    }
    // Paused (a scheduled fault): take nothing until resumed; the records wait in the
    // log, as they would for a service that stopped. A closed pause channel is no pause.
    while *w.paused.borrow() {
        tokio::select! {
            biased;
            _ = w.stop.changed() => return None,
            r = w.paused.changed() => if r.is_err() { break },
        }
    }
    tokio::select! {
        biased;
        _ = w.stop.changed() => None,
        r = w.records.recv() => r.ok(),
    }
}

impl ServiceConfig {
    /// The services' settings as a plan gives them.
    pub fn of(plan: &crate::plan::Plan, clock: Clock) -> ServiceConfig {
        ServiceConfig {
            topics: plan.target.topics.clone(),
            clock,
            batch_size: plan.target.query.batch_size(),
            year_bucket: plan.data.year_bucket,
            drop_every: plan.target.persistence.drop_every(),
            extra_latency_ns: plan
                .target
                .persistence
                .extra_latency
                .map_or(0, |d| d.0.as_nanos() as u64),
            query_latency_ns: plan.target.query.extra_latency.map_or(0, |d| d.0.as_nanos() as u64),
            batch_gap_ns: plan.target.query.batch_gap.map_or(0, |d| d.0.as_nanos() as u64),
            silent: plan.target.query.silent,
            consistency: plan.target.consistency,
            on_finished: None,
            on_hops: None,
        }
    }
}

/// What one service handler runs against. Persistence and query handlers take the same.
#[derive(Clone)]
pub struct Worker {
    /// Records from the service's consumer.
    pub records: async_channel::Receiver<Record>,
    pub log: AnyLog,
    pub store: crate::backend::AnyStore,
    pub cfg: std::sync::Arc<ServiceConfig>,
    pub counters: std::sync::Arc<ServiceCounters>,
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// True while a scheduled fault pauses the service.
    pub paused: tokio::sync::watch::Receiver<bool>,
    /// Seeds the worker's own random source (simulated service time).
    pub seed: u64,
}

impl Worker {
    /// The handlers' template on `target`; [`start`] gives each its record source.
    pub fn on(
        target: &crate::backend::Target,
        cfg: std::sync::Arc<ServiceConfig>,
        counters: std::sync::Arc<ServiceCounters>,
        stop: tokio::sync::watch::Receiver<bool>,
        seed: u64,
    ) -> Worker {
        Worker {
            records: async_channel::bounded(1).1,
            log: target.log.clone(),
            store: target.store.clone(),
            cfg,
            counters,
            stop,
            paused: tokio::sync::watch::channel(false).1,
            seed,
        }
    }
}

/// Counters of one service, shown in the report.
#[derive(Debug, Default)]
pub struct ServiceCounters {
    pub consumed: AtomicU64,
    pub malformed: AtomicU64,
    pub failed: AtomicU64,
    pub replied: AtomicU64,
    pub dropped: AtomicU64,
    /// Replies the log refused (e.g. a broker down): the original services log these and goes on.
    pub unsent: AtomicU64,
    /// Events whose store work began, and ended (either way): with `consumed` and the
    /// replies read back, the depth of each hop inside the service.
    pub storing: AtomicU64,
    pub stored: AtomicU64,
}

impl ServiceCounters {
    /// Counts a reply's fate; a refused reply is counted, not fatal.
    pub fn sent(&self, r: Result<(), crate::backend::BackendError>) {
        use std::sync::atomic::Ordering::Relaxed;
        match r {
            Ok(()) => self.replied.fetch_add(1, Relaxed),
            Err(_) => self.unsent.fetch_add(1, Relaxed),
        };
    }
}

/// A snapshot of [`ServiceCounters`] for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServiceStats {
    pub consumed: u64,
    pub malformed: u64,
    pub failed: u64,
    pub replied: u64,
    pub dropped: u64,
    #[serde(default)]
    pub unsent: u64,
    #[serde(default)]
    pub storing: u64,
    #[serde(default)]
    pub stored: u64,
}

impl ServiceCounters {
    pub fn snapshot(&self) -> ServiceStats {
        use std::sync::atomic::Ordering::Relaxed;
        ServiceStats {
            consumed: self.consumed.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            failed: self.failed.load(Relaxed),
            replied: self.replied.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            unsent: self.unsent.load(Relaxed),
            storing: self.storing.load(Relaxed),
            stored: self.stored.load(Relaxed),
        }
    }
}
