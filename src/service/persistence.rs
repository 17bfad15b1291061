//! The reference persistence service (go-eventpersistence v1.6.0 semantics): consume
//! Events, stamp each with the aggregate's meta version, insert it, and reply.

use std::sync::atomic::Ordering;

use super::{next_record, ReplyTopics, Worker};
use crate::backend::{AnyStore, BackendError, Ctx, EventLog, EventStore, Topics};
use crate::model::{Event, KafkaResponse, Strictness};

/// `CASSANDRA_EVENT_META_PARTITION_KEY`.
pub const META_PARTITION: i8 = 0;

/// The service's store work for one event: read (or create at 0) the meta version,
/// stamp the event with it, insert. Also what a `persist` workload runs directly.
pub async fn persist(store: &AnyStore, ctx: &mut Ctx, event: &mut Event) -> Result<(), BackendError> {
    let version = match store.read_meta(ctx, META_PARTITION, event.aggregate_id).await? {
        Some(v) => v,
        None => {
            store.write_meta(ctx, META_PARTITION, event.aggregate_id, 0).await?;
            0
        }
    };
    event.version = version;
    store.insert_event(ctx, event).await
}

/// Runs one service worker until the log closes or `stop` fires.
pub async fn run_worker(w: Worker) -> Result<(), BackendError> {
    let Worker {
        log,
        store,
        cfg,
        counters,
        mut stop,
        seed,
    } = w;
    let mut consumer = log.subscribe(Topics::Exact(cfg.topics.events.clone()), &cfg.topics.persistence_group)?;
    let mut ctx = Ctx::new(cfg.clock, seed);
    let mut replies = ReplyTopics::new(&cfg.topics.persistence_response);
    let mut out = Vec::with_capacity(1024);
    loop {
        let Some(record) = next_record(&mut consumer, &mut stop).await else {
            return Ok(());
        };
        let consumed = counters.consumed.fetch_add(1, Ordering::Relaxed) + 1;
        let mut event = match Event::decode(&record.payload, Strictness::Strict) {
            Ok(e) => e,
            Err(_) => {
                // The seed logs and commits such a message and never answers it.
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        if let Some(skip) = cfg.drop_every {
            if consumed.is_multiple_of(skip) {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        let error = match persist(&store, &mut ctx, &mut event).await {
            Ok(()) => String::new(),
            Err(e) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                format!("Error Inserting Event into Cassandra: {e}")
            }
        };
        let topic = replies.get(&log, event.aggregate_id);
        out.clear();
        KafkaResponse::encode_parts(
            &mut out,
            event.aggregate_id,
            &event.correlation_id,
            Some(&record.payload),
            &error,
            None,
        );
        log.produce(topic, &out, None).await?;
        counters.replied.fetch_add(1, Ordering::Relaxed);
    }
}
