//! One operation of each workload kind. A worker owns its `Operation`, whose buffers
//! are reused, so the hot path (generate, serialize, send, record) does not allocate
//! beyond what the backend itself needs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{AnyLog, AnyStore, AnyTopic, BackendError, Ctx, EventLog, Headers};
use crate::datagen::Generator;
use crate::model::tag::{read_tag, tagged};
use crate::model::{Event, EventStoreQuery, EventStoreQuery211};
use crate::plan::main_stage;
use crate::scenario::{QueryForm, VersionConsistency, Via, WorkloadKind};
use crate::service::{persistence, query};
use crate::stats::ledger::{Ledger, ACKED, QUERIED};
use crate::stats::{ErrorClass, Hists, Stage};

use super::inbox::Inboxes;

/// What every operation of a workload shares.
pub struct Shared {
    pub kind: WorkloadKind,
    pub via: Via,
    /// This workload's position in the plan.
    pub workload: usize,
    pub gen: Generator,
    pub log: AnyLog,
    pub store: AnyStore,
    pub events_topic: AnyTopic,
    pub query_topic: AnyTopic,
    pub run_tag: u64,
    /// Query readers: each aggregate's projection version.
    pub projections: Vec<AtomicI64>,
    pub year_bucket: Option<i16>,
    pub consistency: VersionConsistency,
    pub ledger: Arc<Ledger>,
    /// Readers through the log: where each aggregate's result batches arrive.
    pub inboxes: Arc<Inboxes>,
    pub batch_size: usize,
    /// Readers through the log: which EventStoreQuery they send.
    pub query_form: QueryForm,
    pub reply_timeout: Duration,
    pub settle: Duration,
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
#[derive(Default)]
pub struct Done {
    pub serialize_ns: u64,
    pub rows: u64,
    pub bytes: u64,
    /// Readers through the log: when the last result batch arrived (the operation's
    /// end, rather than the moment the reader stopped waiting for more), and when the
    /// query was sent.
    pub answered: Option<(u64, u64)>,
    /// Readers through the log: no answer at all.
    pub empty: bool,
}

/// Largest buffer a worker keeps between operations (bytes).
const KEEP_BUFFER: usize = 16 << 10;

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

    /// Gives back a buffer that a rare large payload grew: every worker keeps its own,
    /// and with a heavy-tailed payload each one's largest-ever would otherwise creep
    /// up for as long as the run lasts (the max of more and more samples).
    fn trim_buffers(&mut self) {
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::with_capacity(4096);
        }
        if let Some(d) = self.event.data.as_mut().filter(|d| d.capacity() > KEEP_BUFFER) {
            *d = Vec::new();
        }
    }

    /// Runs operation `index`, intended at `intended` (run-time ns).
    pub async fn run(&mut self, index: u64, intended: u64) -> Result<Done, BackendError> {
        let sh = &*self.shared;
        match (sh.kind, sh.via) {
            (WorkloadKind::Produce, _) => {
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
                if let Some(book) = sh.ledger.book(sh.workload) {
                    book.mark(index, ACKED);
                }
                self.trim_buffers();
                Ok(Done {
                    serialize_ns,
                    bytes: self.buf.len() as u64,
                    ..Done::default()
                })
            }
            (WorkloadKind::Persist, _) => {
                sh.gen
                    .fill_event(index, intended, self.ctx.clock.wall_at(intended), &mut self.event);
                persistence::persist(&sh.store, &mut self.ctx, &mut self.event, sh.consistency).await?;
                Ok(Done {
                    bytes: self.event.data.as_ref().map_or(0, |d| d.len() as u64),
                    ..Done::default()
                })
            }
            (WorkloadKind::Query, Via::Store) => {
                let q = self.next_query(index);
                let year = self.year_of(intended);
                self.rows.clear();
                let v = query::query(&sh.store, &mut self.ctx, &q, year, sh.consistency, &mut self.rows)
                    .await
                    .map_err(|e| match e {
                        query::QueryError::Store(b) => b,
                        other => BackendError::new(ErrorClass::Rejected, other.to_string()),
                    })?;
                let mut bytes = 0;
                for e in &self.rows {
                    bytes += e.data.as_ref().map_or(0, |d| d.len() as u64);
                    mark_queried(&sh.ledger, sh.run_tag, e);
                }
                self.projected(q.aggregate_id, v);
                Ok(Done {
                    rows: self.rows.len() as u64,
                    bytes,
                    ..Done::default()
                })
            }
            (WorkloadKind::Query, Via::Log) => self.query_via_log(index, intended).await,
        }
    }

    /// The year bucket a query intended at `intended` reads: the scenario's, or the
    /// UTC year of the intended time (where the events of then were written).
    fn year_of(&self, intended: u64) -> i16 {
        self.shared.year_bucket.unwrap_or_else(|| {
            crate::model::GoTime::from_unix_nanos(self.ctx.clock.wall_at(intended)).utc_year() as i16
        })
    }

    fn next_query(&self, index: u64) -> EventStoreQuery {
        let sh = &*self.shared;
        sh.gen
            .query(index, |a| sh.projections[a as u8 as usize].load(Ordering::Relaxed))
    }

    fn projected(&self, aggregate: i8, version: i64) {
        let sh = &*self.shared;
        sh.projections[aggregate as u8 as usize].fetch_max(version, Ordering::Relaxed);
        sh.ledger.projected(aggregate, version);
    }

    /// Sends an EventStoreQuery and waits for its result batches. The v2.0.1 query
    /// carries no correlation id, so each aggregate has at most one query outstanding
    /// (the inbox's turn), and the end of a result is a batch shorter than
    /// `batch_size`, or silence for `settle` after a full one.
    async fn query_via_log(&mut self, index: u64, intended: u64) -> Result<Done, BackendError> {
        let sh = self.shared.clone();
        let q = self.next_query(index);
        let inbox = sh.inboxes.get(q.aggregate_id);
        let _turn = inbox.turn.lock().await;
        // Answers to an earlier query that gave up waiting are not this one's.
        while inbox.rx.try_recv().is_ok() {}
        self.buf.clear();
        let ours = match sh.query_form {
            QueryForm::V211 => {
                let id = tagged(sh.run_tag, sh.workload, index);
                EventStoreQuery211 {
                    correlation_id: id,
                    year_bucket: self.year_of(intended),
                    ..EventStoreQuery211::from(q.clone())
                }
                .encode_into(&mut self.buf);
                Some(id)
            }
            QueryForm::V201 => {
                q.encode_into(&mut self.buf);
                None
            }
        };
        let sent = self.ctx.clock.now();
        sh.log.produce(&sh.query_topic, &self.buf, None).await?;
        let mut done = Done::default();
        let mut max_version = i64::MIN;
        let mut wait = sh.reply_timeout;
        while let Ok(Ok(batch)) = tokio::time::timeout(wait, inbox.rx.recv()).await {
            // A late batch of an earlier query on this aggregate is not this one's.
            if ours.is_some() && batch.correlation != ours {
                continue;
            }
            if let Some(e) = batch.error {
                return Err(BackendError::new(ErrorClass::Rejected, e));
            }
            done.rows += batch.events as u64;
            done.bytes += batch.bytes;
            done.answered = Some((batch.at, sent));
            max_version = max_version.max(batch.max_version);
            if (batch.events as usize) < sh.batch_size {
                break;
            }
            wait = sh.settle;
        }
        done.empty = done.answered.is_none();
        if max_version != i64::MIN {
            self.projected(q.aggregate_id, max_version);
        }
        Ok(done)
    }
}

/// Marks an event a query returned, if it is one of this run's.
pub fn mark_queried(ledger: &Ledger, run_tag: u64, e: &Event) -> Option<u8> {
    let tag = read_tag(&e.uuid).filter(|t| t.run_tag == run_tag)?;
    Some(ledger.book(tag.workload)?.mark(tag.value, QUERIED))
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
        Ok(done) if done.empty => {
            // No answer is no outcome: what it waited is a lower bound of its latency.
            h.counters.empty += 1;
            h.censor(stage, finished - intended.min(finished));
        }
        Ok(done) => {
            let finished = done.answered.map_or(finished, |(at, _)| at);
            h.record(stage, finished - intended.min(finished));
            h.record(service, finished - started.min(finished));
            if let Some((at, sent)) = done.answered {
                h.record(Stage::QueryRoundtrip, at.saturating_sub(sent));
            }
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
