//! One operation of each workload kind. A worker owns its `Operation`, whose buffers
//! are reused, so the hot path (generate, serialize, send, record) does not allocate
//! beyond what the backend itself needs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::backend::{AnyLog, AnyStore, AnyTopic, BackendError, Ctx, EventLog, Headers};
use crate::datagen::Generator;
use crate::model::Event;
use crate::scenario::WorkloadKind;
use crate::service::{persistence, query};
use crate::stats::{ErrorClass, Hists, Stage};

/// What every operation of a workload shares.
pub struct Shared {
    pub kind: WorkloadKind,
    pub gen: Generator,
    pub log: AnyLog,
    pub store: AnyStore,
    pub events_topic: AnyTopic,
    pub run_tag: u64,
    /// Query readers: each aggregate's projection version.
    pub projections: Vec<AtomicI64>,
    pub year_bucket: Option<i16>,
}

/// The stage that is "the operation" of a workload kind.
pub fn main_stage(kind: WorkloadKind) -> (Stage, Stage) {
    match kind {
        WorkloadKind::Produce => (Stage::Produce, Stage::ProduceService),
        WorkloadKind::Persist => (Stage::Persist, Stage::PersistService),
        WorkloadKind::Query => (Stage::Query, Stage::QueryService),
    }
}

/// A worker's reusable operation state.
pub struct Operation {
    shared: Arc<Shared>,
    event: Event,
    buf: Vec<u8>,
    rows: Vec<Event>,
    pub ctx: Ctx,
}

/// What an operation reports besides its timing.
pub struct Done {
    pub serialize_ns: u64,
    pub rows: u64,
    pub bytes: u64,
}

impl Operation {
    pub fn new(shared: Arc<Shared>, ctx: Ctx) -> Operation {
        Operation {
            shared,
            event: Event::default(),
            buf: Vec::with_capacity(4096),
            rows: Vec::new(),
            ctx,
        }
    }

    /// Runs operation `index`, intended at `intended` (run-time ns).
    pub async fn run(&mut self, index: u64, intended: u64) -> Result<Done, BackendError> {
        let sh = &*self.shared;
        match sh.kind {
            WorkloadKind::Produce => {
                sh.gen
                    .fill_event(index, intended, self.ctx.clock.wall_at(intended), &mut self.event);
                let s0 = self.ctx.clock.now();
                self.buf.clear();
                self.event.encode_into(&mut self.buf);
                let serialize_ns = self.ctx.clock.now() - s0;
                let headers = Headers {
                    intended_ns: intended,
                    run_tag: sh.run_tag,
                };
                sh.log.produce(&sh.events_topic, &self.buf, Some(headers)).await?;
                Ok(Done {
                    serialize_ns,
                    rows: 0,
                    bytes: self.buf.len() as u64,
                })
            }
            WorkloadKind::Persist => {
                sh.gen
                    .fill_event(index, intended, self.ctx.clock.wall_at(intended), &mut self.event);
                persistence::persist(&sh.store, &mut self.ctx, &mut self.event).await?;
                Ok(Done {
                    serialize_ns: 0,
                    rows: 0,
                    bytes: self.event.data.as_ref().map_or(0, |d| d.len() as u64),
                })
            }
            WorkloadKind::Query => {
                let q = sh
                    .gen
                    .query(index, |a| sh.projections[a as u8 as usize].load(Ordering::Relaxed));
                let year = sh.year_bucket.unwrap_or_else(|| {
                    crate::model::GoTime::from_unix_nanos(self.ctx.clock.wall_at(intended)).utc_year() as i16
                });
                self.rows.clear();
                let v = query::query(&sh.store, &mut self.ctx, &q, year, &mut self.rows)
                    .await
                    .map_err(|e| match e {
                        query::QueryError::Store(b) => b,
                        other => BackendError::new(ErrorClass::Rejected, other.to_string()),
                    })?;
                sh.projections[q.aggregate_id as u8 as usize].fetch_max(v, Ordering::Relaxed);
                let bytes = self
                    .rows
                    .iter()
                    .map(|e| e.data.as_ref().map_or(0, |d| d.len() as u64))
                    .sum();
                Ok(Done {
                    serialize_ns: 0,
                    rows: self.rows.len() as u64,
                    bytes,
                })
            }
        }
    }
}

/// Records one finished operation into the thread's histograms.
#[inline]
pub fn record(
    h: &mut Hists,
    kind: WorkloadKind,
    intended: u64,
    started: u64,
    finished: u64,
    result: &Result<Done, BackendError>,
) {
    let (stage, service) = main_stage(kind);
    let lag = started.saturating_sub(intended);
    h.record(Stage::Lag, lag);
    if lag > crate::stats::LATE_AFTER_NS {
        h.counters.late += 1;
    }
    match result {
        Ok(done) => {
            h.record(stage, finished - intended.min(finished));
            h.record(service, finished - started.min(finished));
            if kind == WorkloadKind::Produce {
                h.record(Stage::Serialize, done.serialize_ns);
            }
            h.counters.ok += 1;
            h.counters.rows += done.rows;
            h.counters.bytes += done.bytes;
        }
        Err(e) => {
            h.record(Stage::Failed, finished - intended.min(finished));
            h.error(e.class);
        }
    }
}
