//! Before the clock starts: eventbench's own consumers join their groups, readers learn
//! where each aggregate's projection stands, and the embedded services' consumers join
//! theirs. A group's first join waits out the broker's rebalance delay, and none of
//! that is load.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::listener::Source;
use super::EngineError;
use crate::backend::{reply_topics, AnyConsumer, AnyLog, BackendError, Ctx, EventLog, EventStore, Target, Topics};
use crate::clock::Clock;
use crate::plan::{Load, Plan};
use crate::scenario::WorkloadKind;
use crate::service::{persistence, ServiceConfig, ServiceCounters, ServiceKind, Worker};
use crate::stats::hlog::IntervalLog;
use crate::stats::ledger::Ledger;
use crate::stats::ErrorClass;

/// Whether eventbench itself listens for replies (or its own events) on the log.
pub(super) fn listens(plan: &Plan) -> bool {
    let produces = plan.workloads.iter().any(|w| w.kind == WorkloadKind::Produce);
    produces && (plan.services_answer() || plan.target.e2e)
}

/// Which embedded services this run starts.
pub(super) fn embedded(plan: &Plan) -> Vec<ServiceKind> {
    let produces = plan.workloads.iter().any(|w| w.kind == WorkloadKind::Produce);
    let mut out = Vec::new();
    if produces && plan.services_embedded() {
        out.push(ServiceKind::Persistence);
    }
    if plan.queries_via_log() && plan.services_embedded() {
        out.push(ServiceKind::Query);
    }
    out
}

/// eventbench's own consumers, each group joined and assigned.
pub(super) async fn listeners(plan: &Plan, log: &AnyLog) -> Result<Vec<(Source, AnyConsumer)>, EngineError> {
    let topics = &plan.target.topics;
    let aggregates = plan.aggregate_ids();
    let mut subscriptions = Vec::new();
    if listens(plan) && plan.services_answer() {
        let replies = reply_topics(&topics.persistence_response, &aggregates);
        subscriptions.push((Source::Replies, Topics::List(replies), "eventbench.replies"));
    } else if listens(plan) {
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
        // Query results: one member too, so a result's batches are handed over in the
        // order the service sent them (its short last batch marks the end).
        let members = if matches!(log, AnyLog::Kafka(_)) || source == Source::QueryResults {
            1
        } else {
            plan.threads.max(1)
        };
        let mut group_members = Vec::new();
        for _ in 0..members {
            group_members.push(log.subscribe(subscription.clone(), group)?);
        }
        if !any_ready(&group_members, Duration::from_secs(30)).await {
            return Err(EngineError::Backend(BackendError::new(
                ErrorClass::Fatal,
                format!("eventbench's consumer (group {group}) got no partitions of {subscription:?} within 30 s"),
            )));
        }
        consumers.extend(group_members.into_iter().map(|c| (source, c)));
    }
    Ok(consumers)
}

/// Readers start up to date: each aggregate's projection is one below its current
/// meta version (so the epoch being written now is theirs), and never below their
/// `from_version`; with `read_history`, at `from_version` (the history is theirs too). Returns the start projection per aggregate id (index `id as u8`).
pub(super) async fn reader_start(plan: &Plan, target: &Target, ledger: &Ledger) -> Result<Vec<i64>, EngineError> {
    let mut start = vec![i64::MIN; 256];
    let floor = plan
        .workloads
        .iter()
        .filter(|w| w.kind == WorkloadKind::Query)
        .map(|w| w.from_version)
        .min();
    let Some(floor) = floor else {
        return Ok(start);
    };
    let history = plan
        .workloads
        .iter()
        .any(|w| w.kind == WorkloadKind::Query && w.read_history);
    let mut ctx = Ctx::new(Clock::start(), 0);
    for a in plan.aggregate_ids() {
        let meta = target.store.read_meta(&mut ctx, persistence::META_PARTITION, a).await?;
        let p = match meta {
            Some(m) if !history => (m - 1).max(floor),
            _ => floor,
        };
        start[a as u8 as usize] = p;
        ledger.floors[a as u8 as usize].store(p, Ordering::Relaxed);
    }
    Ok(start)
}

/// The embedded services' consumers, joined (a previous run's backlog skipped first
/// when `target.skip_backlog` says so).
pub(super) async fn service_consumers(
    plan: &Plan,
    log: &AnyLog,
) -> Result<Vec<(ServiceKind, AnyConsumer)>, EngineError> {
    let topics = &plan.target.topics;
    let mut out = Vec::new();
    for which in embedded(plan) {
        if let (AnyLog::Kafka(k), true) = (log, plan.target.skip_backlog) {
            let (group, topic) = match which {
                ServiceKind::Persistence => (&topics.persistence_group, &topics.events),
                ServiceKind::Query => (&topics.query_group, &topics.query),
            };
            let skipped = k.skip_backlog(group, topic)?;
            if skipped > 0 {
                eprintln!("note: {group} skipped a backlog of {skipped} records on {topic} (target.skip_backlog)");
            }
        }
        let c = crate::service::subscribe(which, log, topics)?;
        if !c.ready(Duration::from_secs(60)).await {
            return Err(EngineError::Backend(BackendError::new(
                ErrorClass::Fatal,
                format!("the embedded {which:?} service's consumer got no partitions within 60 s"),
            )));
        }
        out.push((which, c));
    }
    Ok(out)
}

/// The embedded services' counters, by [`ServiceKind`].
#[derive(Default)]
pub(super) struct Counters {
    pub persistence: Arc<ServiceCounters>,
    pub query: Arc<ServiceCounters>,
}

impl Counters {
    pub fn of(&self, which: ServiceKind) -> &Arc<ServiceCounters> {
        match which {
            ServiceKind::Persistence => &self.persistence,
            ServiceKind::Query => &self.query,
        }
    }
}

/// The memory store tells the ledger which of this run's events it trimmed away, so
/// the audit counts them stored (one bit each, not a list that grows with the run).
pub(super) fn hear_trims(target: &Target, run_tag: u64, ledger: &Arc<Ledger>) {
    if let crate::backend::AnyStore::Memory(m) = &target.store {
        let ledger = ledger.clone();
        m.on_trimmed(Some(crate::backend::memory_store::OnTrimmed(Box::new(move |u| {
            let uuid = uuid::Uuid::from_u128(u);
            if let Some(t) = crate::model::tag::read_tag(&uuid).filter(|t| t.run_tag == run_tag) {
                if let Some(book) = ledger.book(t.workload) {
                    book.mark(t.value, crate::stats::ledger::TRIMMED);
                }
            }
        }))));
    }
}

/// Starts each embedded service on its joined consumer.
#[allow(clippy::too_many_arguments)]
pub(super) fn start_services(
    plan: &Plan,
    target: &Target,
    clock: Clock,
    consumers: Vec<(ServiceKind, AnyConsumer)>,
    (stop, switches): (&watch::Receiver<bool>, &super::faults::Switches),
    counters: &Counters,
    finished: (u64, &Arc<Ledger>),
    reg: &Arc<crate::stats::Registry>,
    background: &mut JoinSet<Result<(), BackendError>>,
) {
    let mut cfg = ServiceConfig::of(plan, clock);
    // What the persistence service finished, in the ledger: the audit tells its losses
    // from what it had not yet taken.
    let (run_tag, ledger) = (finished.0, finished.1.clone());
    cfg.on_finished = Some(crate::service::OnFinished(Arc::new(move |uuid| {
        if let Some(t) = crate::model::tag::read_tag(uuid).filter(|t| t.run_tag == run_tag) {
            if let Some(book) = ledger.book(t.workload) {
                book.mark(t.value, crate::stats::ledger::FINISHED);
            }
        }
    })));
    let queries = plan
        .workloads
        .iter()
        .map(|w| w.kind == crate::scenario::WorkloadKind::Query)
        .collect();
    cfg.on_hops = Some(hop_recorder(reg, run_tag, queries));
    let cfg = Arc::new(cfg);
    for (which, consumer) in consumers {
        let counters = counters.of(which);
        let seed = plan.seed ^ (which as u64 + 1) << 40;
        let mut base = Worker::on(target, cfg.clone(), counters.clone(), stop.clone(), seed);
        base.paused = match which {
            ServiceKind::Persistence => switches.persistence.subscribe(),
            ServiceKind::Query => switches.query.subscribe(),
        };
        crate::service::start(which, consumer, base, which.workers(plan), background);
    }
}

/// The interval log's header comments: the warmup boundary and each phase.
pub(super) fn write_plan_comments(log: &mut IntervalLog, plan: &Plan) -> std::io::Result<()> {
    log.comment(&format!(
        "[eventbench: warmup until {:.3} s; operations intended before it are tagged <workload>.<stage>.warmup and excluded from summary.json]",
        plan.warmup_ns as f64 / 1e9
    ))?;
    for w in &plan.workloads {
        if let Load::Open { profile, .. } = &w.load {
            // One line per phase (a sine's 64 pieces a period are one phase).
            let segs = &profile.segments;
            for (i, j) in crate::plan::phase_runs(segs, &profile.labels) {
                let (a, b) = (&segs[i], &segs[j]);
                let label = profile
                    .labels
                    .get(a.phase as usize)
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                log.comment(&format!(
                    "[Phase: {} {:.3}-{:.3} s rate {:.1}->{:.1}/s{label}]",
                    w.name,
                    a.start_ns as f64 / 1e9,
                    (b.start_ns + b.duration_ns) as f64 / 1e9,
                    a.from_rate,
                    b.to_rate
                ))?;
            }
        }
    }
    Ok(())
}

/// Waits until at least one of a group's members has partitions.
async fn any_ready(consumers: &[AnyConsumer], within: Duration) -> bool {
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

/// Records the hops the embedded persistence service saw of each of this run's events,
/// under the producing workload and its intended send (both in the correlation id), as
/// the workers record theirs: into the thread's own slots, no shared lock.
fn hop_recorder(reg: &Arc<crate::stats::Registry>, run_tag: u64, queries: Vec<bool>) -> crate::service::OnHops {
    use crate::stats::Stage;
    let reg = reg.clone();
    crate::service::OnHops(Arc::new(move |correlation, t| {
        let Some(tag) = crate::model::tag::read_tag(correlation).filter(|t| t.run_tag == run_tag) else {
            return;
        };
        if tag.workload >= reg.workloads() {
            return;
        }
        // A query's correlation carries its operation index, not its intended start:
        // the service's taking it tells warmup from the measured window instead.
        let when = if queries.get(tag.workload).copied().unwrap_or(false) {
            t.taken
        } else {
            tag.value
        };
        reg.with(tag.workload, when, |h| {
            if let Some(logged) = t.logged {
                h.record(Stage::HopQueue, t.taken.saturating_sub(logged));
            }
            h.record(Stage::HopService, t.store_from.saturating_sub(t.taken));
            h.record(Stage::HopStore, t.store_to.saturating_sub(t.store_from));
            h.record(Stage::HopReplySend, t.replied.saturating_sub(t.store_to));
        });
    }))
}

/// Kafka: a reader of the persistence service's group lag on the request topic, twice
/// per interval beside the run, on a thread of its own; `None` for the memory log.
pub(super) fn lag_sampler(plan: &Plan, target: &Target) -> Option<crate::backend::kafka_lag::LagSampler> {
    let AnyLog::Kafka(k) = &target.log else {
        return None;
    };
    let topics = &plan.target.topics;
    Some(crate::backend::kafka_lag::LagSampler::start(
        k.clone(),
        topics.persistence_group.clone(),
        topics.events.clone(),
        Duration::from_nanos((plan.interval_ns / 2).max(100_000_000)),
    ))
}

/// CQL: a reader of the store nodes' own view, twice per interval, on the run's
/// runtime; `None` for the memory store.
pub(super) fn node_sampler(plan: &Plan, target: &Target) -> Option<crate::backend::cql_views::NodeSampler> {
    let crate::backend::AnyStore::Scylla(store) = &target.store else {
        return None;
    };
    let s = &plan.target.scylla;
    Some(crate::backend::cql_views::NodeSampler::start(
        store.clone(),
        s.keyspace.clone(),
        crate::backend::ScyllaStore::tables(s),
        Duration::from_nanos((plan.interval_ns / 2).max(100_000_000)),
    ))
}

/// The target's processes on this host: whatever listens on the loopback ones of the
/// Kafka bootstrap addresses and the CQL nodes the plan names.
pub(super) fn local_target(plan: &Plan) -> Vec<crate::host::local::LocalProcess> {
    let mut addrs: Vec<(&str, &str)> = Vec::new();
    if plan.target.log == crate::scenario::LogKind::Kafka {
        addrs.extend(plan.target.kafka.bootstrap.split(',').map(|a| ("kafka", a)));
    }
    if plan.target.store == crate::scenario::StoreKind::Scylla {
        addrs.extend(plan.target.scylla.nodes.iter().map(|a| ("cql", a.as_str())));
    }
    crate::host::local::listeners(&addrs)
}
