//! The reference query service (go-eventstore-query semantics): read the meta version
//! V, write V+1 (closing a hydration epoch), then return the events with
//! `q.aggregate_version < version <= V`, in batches.

use std::sync::atomic::Ordering;

use super::persistence::META_PARTITION;
use super::{next_record, ReplyTopics, ServiceConfig, Worker};
use crate::backend::{AnyStore, BackendError, Ctx, EventLog, EventStore, Topics};
use crate::model::{Event, EventStoreQuery, KafkaResponse, Strictness};

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
    out: &mut Vec<Event>,
) -> Result<i64, QueryError> {
    if q.aggregate_id == 0 {
        return Err(QueryError::NoAggregate);
    }
    let v = store
        .read_meta(ctx, META_PARTITION, q.aggregate_id)
        .await?
        .ok_or(QueryError::NoMeta(q.aggregate_id))?;
    store.write_meta(ctx, META_PARTITION, q.aggregate_id, v + 1).await?;
    if q.aggregate_version == 0 {
        return Err(QueryError::NoVersion(q.aggregate_id));
    }
    store
        .select_events(ctx, year_bucket, q.aggregate_id, q.aggregate_version, v, out)
        .await?;
    Ok(v)
}

/// Runs one query-service worker until the log closes or `stop` fires.
pub async fn run_worker(w: Worker) -> Result<(), BackendError> {
    let Worker {
        log,
        store,
        cfg,
        counters,
        mut stop,
        seed,
    } = w;
    let mut consumer = log.subscribe(Topics::Exact(cfg.topics.query.clone()), &cfg.topics.query_group)?;
    let mut ctx = Ctx::new(cfg.clock, seed);
    let mut replies = ReplyTopics::new(&cfg.topics.query_response);
    let (mut events, mut batch, mut out) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        let Some(record) = next_record(&mut consumer, &mut stop).await else {
            return Ok(());
        };
        counters.consumed.fetch_add(1, Ordering::Relaxed);
        let Ok(q) = EventStoreQuery::decode(&record.payload, Strictness::Lenient) else {
            counters.malformed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        events.clear();
        let year = cfg.year_bucket.unwrap_or_else(|| current_year(&cfg));
        let result = query(&store, &mut ctx, &q, year, &mut events).await;
        let topic = replies.get(&log, q.aggregate_id);
        if let Err(e) = result {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            out.clear();
            KafkaResponse::encode_parts(
                &mut out,
                q.aggregate_id,
                &uuid::Uuid::nil(),
                Some(&record.payload),
                &e.to_string(),
                None,
            );
            log.produce(topic, &out, None).await?;
            counters.replied.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        events.sort_by_key(|e| e.timestamp.unix_nanos());
        // No events, no reply: the original sends one message per batch and no batch.
        for chunk in events.chunks(cfg.batch_size) {
            batch.clear();
            batch.push(b'[');
            for (i, e) in chunk.iter().enumerate() {
                if i > 0 {
                    batch.push(b',');
                }
                e.encode_into(&mut batch);
            }
            batch.push(b']');
            out.clear();
            KafkaResponse::encode_parts(&mut out, q.aggregate_id, &uuid::Uuid::nil(), None, "", Some(&batch));
            log.produce(topic, &out, None).await?;
            counters.replied.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn current_year(cfg: &ServiceConfig) -> i16 {
    crate::model::GoTime::from_unix_nanos(cfg.clock.wall_at(cfg.clock.now())).utc_year() as i16
}
