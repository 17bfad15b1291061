//! The reference query service (go-eventstore-query semantics): read the meta version
//! V, write V+1 (closing a hydration epoch), then return the events with
//! `q.aggregate_version < version <= V`, in batches.

use std::sync::atomic::Ordering;

use super::persistence::META_PARTITION;
use super::{next_handled, ReplyTopics, ServiceConfig, Worker};
use crate::backend::{AnyStore, BackendError, Ctx, EventLog, EventStore};
use crate::model::{Event, EventStoreQuery, EventStoreQuery211, KafkaResponse, Strictness};
use crate::scenario::VersionConsistency;
use crate::stats::ErrorClass;

/// Why a query got no events.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("AggregateID not specified")]
    NoAggregate,
    #[error("Error Fetching AggregateVersion from EventMeta: no Aggregates found with ID: {0}")]
    NoMeta(i8),
    #[error("AggregateVersion not specified for AggregateID: {0}")]
    NoVersion(i8),
    #[error(transparent)]
    Store(#[from] BackendError),
}

/// The service's store work for one query; returns the meta version V it read.
/// Like the original, the meta version is bumped before `aggregate_version` is
/// checked, so even a refused query closes an epoch.
pub async fn query(
    store: &AnyStore,
    ctx: &mut Ctx,
    q: &EventStoreQuery,
    year_bucket: i16,
    consistency: VersionConsistency,
    out: &mut Vec<Event>,
) -> Result<i64, QueryError> {
    if q.aggregate_id == 0 {
        return Err(QueryError::NoAggregate);
    }
    let v = match consistency {
        VersionConsistency::ReadThenWrite => {
            let v = store
                .read_meta(ctx, META_PARTITION, q.aggregate_id)
                .await?
                .ok_or(QueryError::NoMeta(q.aggregate_id))?;
            store.write_meta(ctx, META_PARTITION, q.aggregate_id, v + 1).await?;
            v
        }
        VersionConsistency::Lwt => advance(store, ctx, q.aggregate_id).await?,
    };
    if q.aggregate_version == 0 {
        return Err(QueryError::NoVersion(q.aggregate_id));
    }
    store
        .select_events(ctx, year_bucket, q.aggregate_id, q.aggregate_version, v, out)
        .await?;
    Ok(v)
}

/// Closes the current epoch with a compare-and-set, so concurrent queries of one
/// aggregate never close the same epoch twice (the original service loses such increments).
async fn advance(store: &AnyStore, ctx: &mut Ctx, aggregate: i8) -> Result<i64, QueryError> {
    for _ in 0..64 {
        let v = store
            .read_meta_serial(ctx, META_PARTITION, aggregate)
            .await?
            .ok_or(QueryError::NoMeta(aggregate))?;
        if store.cas_meta(ctx, META_PARTITION, aggregate, Some(v), v + 1).await? {
            return Ok(v);
        }
    }
    Err(QueryError::Store(BackendError::new(
        ErrorClass::Overload,
        format!("aggregate {aggregate}: the meta version kept changing under 64 attempts to advance it"),
    )))
}

/// Runs one query-service handler until its pump ends or `stop` fires.
pub async fn run_worker(w: Worker) -> Result<(), BackendError> {
    let mut w = w;
    let (log, store, cfg, counters) = (w.log.clone(), w.store.clone(), w.cfg.clone(), w.counters.clone());
    let seed = w.seed;
    let mut ctx = Ctx::new(cfg.clock, seed);
    let mut replies = ReplyTopics::new(&cfg.topics.query_response);
    let (mut events, mut batch, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut pacer = crate::pacer::Pacer::new();
    loop {
        let Some(record) = next_handled(&mut w).await else {
            return Ok(());
        };
        let taken = cfg.clock.now();
        counters.consumed.fetch_add(1, Ordering::Relaxed);
        // Both forms: a v2.0.1 query has a nil correlation id and year 0.
        let Ok(q211) = EventStoreQuery211::decode(&record.payload, Strictness::Lenient) else {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            record.done();
            continue;
        };
        let correlation = q211.correlation_id;
        let q = EventStoreQuery {
            aggregate_id: q211.aggregate_id,
            aggregate_version: q211.aggregate_version,
        };
        events.clear();
        if cfg.query_latency_ns > 0 {
            pacer
                .sleep_until(&cfg.clock, cfg.clock.now() + cfg.query_latency_ns)
                .await;
        }
        // The query's year bucket, as the original v1.x service selects; a v2.0.1
        // query has none (the original would read bucket 0 and find nothing): the
        // scenario's, or the current year, so v2.0.1 readers still get answers here.
        let year = match q211.year_bucket {
            0 => cfg.year_bucket.unwrap_or_else(|| current_year(&cfg)),
            y => y,
        };
        let store_from = cfg.clock.now();
        let result = query(&store, &mut ctx, &q, year, cfg.consistency, &mut events).await;
        let store_to = cfg.clock.now();
        let topic = replies.get(&log, q.aggregate_id);
        if cfg.silent {
            // Fault injection: the work is done (the epoch closed), the answer never sent.
            record.done();
            continue;
        }
        if let Err(e) = result {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            out.clear();
            KafkaResponse::encode_parts(
                &mut out,
                q.aggregate_id,
                &correlation,
                Some(&record.payload),
                &e.to_string(),
                None,
            );
            counters.sent(log.produce(topic, &out, None).await);
            record.done();
            continue;
        }
        events.sort_by_key(|e| e.timestamp.unix_nanos());
        let messages = replies_of(&events, cfg.batch_size, q.aggregate_id, &correlation, &mut batch);
        send_replies(&log, topic, &messages, &cfg, &mut pacer, &counters).await;
        // A v2.0.1 query's correlation id is nil: its hops are told to nobody.
        if let (Some(f), false) = (&cfg.on_hops, correlation.is_nil()) {
            let times = super::HopTimes {
                logged: record.log_time.and_then(|t| t.run_ns(&cfg.clock)),
                taken,
                store_from,
                store_to,
                replied: cfg.clock.now(),
            };
            (f.0)(&correlation, times);
        }
        record.done();
    }
}

/// The answer as the original sends it: one message per batch of `batch_size` events,
/// none for no events. `batch` is the caller's scratch buffer.
fn replies_of(
    events: &[Event],
    batch_size: usize,
    aggregate_id: i8,
    correlation: &uuid::Uuid,
    batch: &mut Vec<u8>,
) -> Vec<Vec<u8>> {
    let mut messages = Vec::with_capacity(events.len().div_ceil(batch_size));
    for chunk in events.chunks(batch_size) {
        batch.clear();
        batch.push(b'[');
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                batch.push(b',');
            }
            e.encode_into(batch);
        }
        batch.push(b']');
        let mut out = Vec::with_capacity(batch.len() * 4 / 3 + 128);
        KafkaResponse::encode_parts(&mut out, aggregate_id, correlation, None, "", Some(batch));
        messages.push(out);
    }
    messages
}

/// Sends the replies: all at once, as the original's async producer does (it does not
/// wait for one batch's ack before the next), or with the injected gap between them.
async fn send_replies<L: EventLog>(
    log: &L,
    topic: &L::Topic,
    messages: &[Vec<u8>],
    cfg: &ServiceConfig,
    pacer: &mut crate::pacer::Pacer,
    counters: &super::ServiceCounters,
) {
    if cfg.batch_gap_ns > 0 {
        for (i, m) in messages.iter().enumerate() {
            if i > 0 {
                pacer.sleep_until(&cfg.clock, cfg.clock.now() + cfg.batch_gap_ns).await;
            }
            counters.sent(log.produce(topic, m, None).await);
        }
    } else {
        let sent = futures_util::future::join_all(messages.iter().map(|m| log.produce(topic, m, None))).await;
        for r in sent {
            counters.sent(r);
        }
    }
}

fn current_year(cfg: &ServiceConfig) -> i16 {
    crate::model::GoTime::from_unix_nanos(cfg.clock.wall_at(cfg.clock.now())).utc_year() as i16
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::backend::{LogConsumer, Topics};
    use crate::clock::Clock;
    use crate::service::{ServiceCounters, ServiceKind};

    /// As the original v1.x service: the query's own year bucket is read, and its
    /// correlation id comes back in the reply; a bucket with nothing in it gets silence.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_from_the_querys_year_bucket_and_echoes_its_correlation_id() {
        let text = "name = \"t\"\nduration = \"1s\"\n[workload.r]\nkind = \"query\"\nvia = \"log\"\nrate = 1\n";
        let plan = crate::plan::Plan::from_scenario(&crate::scenario::parse("t.toml", text, &[]).expect("scenario"));
        let target = crate::backend::connect(&plan, 1).await.expect("memory backends");
        let clock = Clock::start();
        let mut ctx = Ctx::new(clock, 1);
        let event = Event {
            action: "a".into(),
            aggregate_id: 3,
            version: 2,
            year_bucket: 2020,
            uuid: uuid::Uuid::from_u128(42),
            ..Event::default()
        };
        target
            .store
            .write_meta(&mut ctx, META_PARTITION, 3, 2)
            .await
            .expect("meta");
        target.store.insert_event(&mut ctx, &event).await.expect("insert");
        let topics = &plan.target.topics;
        let mut replies = target
            .log
            .subscribe(Topics::Exact(format!("{}.3", topics.query_response)), "test")
            .expect("subscribe");
        let consumer = crate::service::subscribe(ServiceKind::Query, &target.log, topics).expect("service");
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let base = Worker {
            records: async_channel::bounded(1).1,
            log: target.log.clone(),
            store: target.store.clone(),
            cfg: Arc::new(ServiceConfig::of(&plan, clock)),
            counters: Arc::new(ServiceCounters::default()),
            stop,
            paused: tokio::sync::watch::channel(false).1,
            seed: 1,
        };
        let mut set = tokio::task::JoinSet::new();
        crate::service::start(ServiceKind::Query, consumer, base, 1, &mut set);
        let query_topic = target.log.topic(&topics.query);
        for (year, id) in [(2021i16, 1u128), (2020, 2)] {
            let mut buf = Vec::new();
            EventStoreQuery211 {
                aggregate_id: 3,
                aggregate_version: 1,
                correlation_id: uuid::Uuid::from_u128(id),
                year_bucket: year,
            }
            .encode_into(&mut buf);
            target.log.produce(&query_topic, &buf, None).await.expect("produce");
        }
        let first = tokio::time::timeout(Duration::from_secs(5), replies.recv())
            .await
            .expect("a reply")
            .expect("record");
        let r = KafkaResponse::decode(&first.payload, Strictness::Strict).expect("reply");
        assert_eq!(r.correlation_id, uuid::Uuid::from_u128(2), "the 2020 query's reply");
        let events = Event::decode_batch(r.result.as_deref().expect("result")).expect("events");
        assert_eq!(events.iter().map(|e| e.uuid).collect::<Vec<_>>(), [event.uuid]);
        // The 2021 query found nothing there: no reply at all.
        assert!(tokio::time::timeout(Duration::from_millis(300), replies.recv())
            .await
            .is_err());
        set.abort_all();
    }
}
