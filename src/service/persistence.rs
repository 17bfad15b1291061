//! The reference persistence service (go-eventpersistence v1.6.0 semantics): consume
//! Events, stamp each with the aggregate's meta version, insert it, and reply.

use std::sync::atomic::Ordering;

use super::{next_handled, ReplyTopics, Worker};
use crate::backend::{AnyStore, BackendError, Ctx, EventLog, EventStore};
use crate::model::{Event, KafkaResponse, Strictness};
use crate::scenario::VersionConsistency;
use crate::stats::ErrorClass;

/// `CASSANDRA_EVENT_META_PARTITION_KEY`.
pub const META_PARTITION: i8 = 0;

/// An `lwt` persist gives up after this many epochs closed under it. Each re-stamp is
/// correct, only slower, so the bound is generous: 16 once starved an event on two hot
/// aggregates queried 250 times a second each.
const MAX_RESTAMPS: usize = 256;

/// The service's store work for one event: read (or create at 0) the meta version,
/// stamp the event with it, insert. Also what a `persist` workload runs directly.
pub async fn persist(
    store: &AnyStore,
    ctx: &mut Ctx,
    event: &mut Event,
    consistency: VersionConsistency,
) -> Result<(), BackendError> {
    if consistency == VersionConsistency::Lwt {
        return persist_lwt(store, ctx, event).await;
    }
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

/// Like [`persist`], but an event lands only in an epoch still open after its row is
/// written: if a serial read then shows the same meta version, any query that closes
/// the epoch advances it later and so selects after the write. Otherwise the row is
/// moved to the current epoch and checked again.
async fn persist_lwt(store: &AnyStore, ctx: &mut Ctx, event: &mut Event) -> Result<(), BackendError> {
    let agg = event.aggregate_id;
    let mut version = match store.read_meta_serial(ctx, META_PARTITION, agg).await? {
        Some(v) => v,
        None if store.cas_meta(ctx, META_PARTITION, agg, None, 0).await? => 0,
        None => store.read_meta_serial(ctx, META_PARTITION, agg).await?.unwrap_or(0),
    };
    for _ in 0..MAX_RESTAMPS {
        event.version = version;
        store.insert_event(ctx, event).await?;
        let now = store
            .read_meta_serial(ctx, META_PARTITION, agg)
            .await?
            .unwrap_or(version);
        if now == version {
            return Ok(());
        }
        store.delete_event(ctx, event).await?;
        version = now;
    }
    Err(BackendError::new(
        ErrorClass::Overload,
        format!("aggregate {agg}: {MAX_RESTAMPS} epochs closed while its event was being stored"),
    ))
}

/// Runs one service handler until its pump ends or `stop` fires.
pub async fn run_worker(w: Worker) -> Result<(), BackendError> {
    let mut w = w;
    let (log, store, cfg, counters) = (w.log.clone(), w.store.clone(), w.cfg.clone(), w.counters.clone());
    let seed = w.seed;
    let mut ctx = Ctx::new(cfg.clock, seed);
    let mut replies = ReplyTopics::new(&cfg.topics.persistence_response);
    let mut out = Vec::with_capacity(1024);
    let mut pacer = crate::pacer::Pacer::new();
    loop {
        let Some(record) = next_handled(&mut w).await else {
            return Ok(());
        };
        let taken = cfg.clock.now();
        let consumed = counters.consumed.fetch_add(1, Ordering::Relaxed) + 1;
        let mut event = match Event::decode(&record.payload, Strictness::Strict) {
            Ok(e) => e,
            Err(_) => {
                // The original service logs and commits such a message and never answers it.
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                record.done();
                continue;
            }
        };
        if let Some(skip) = cfg.drop_every {
            if consumed.is_multiple_of(skip) {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                record.done();
                if let Some(f) = &cfg.on_finished {
                    (f.0)(&event.uuid);
                }
                continue;
            }
        }
        if cfg.extra_latency_ns > 0 {
            pacer
                .sleep_until(&cfg.clock, cfg.clock.now() + cfg.extra_latency_ns)
                .await;
        }
        let store_from = cfg.clock.now();
        counters.storing.fetch_add(1, Ordering::Relaxed);
        let stored = persist(&store, &mut ctx, &mut event, cfg.consistency).await;
        counters.stored.fetch_add(1, Ordering::Relaxed);
        let store_to = cfg.clock.now();
        let error = match stored {
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
        counters.sent(log.produce(topic, &out, None).await);
        if let Some(f) = &cfg.on_hops {
            let times = super::HopTimes {
                logged: record.log_time.and_then(|t| t.run_ns(&cfg.clock)),
                taken,
                store_from,
                store_to,
                replied: cfg.clock.now(),
            };
            (f.0)(&event.correlation_id, times);
        }
        // Answered: only now may the log commit past it.
        record.done();
        if let Some(f) = &cfg.on_finished {
            (f.0)(&event.uuid);
        }
    }
}
