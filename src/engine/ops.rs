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
use crate::stats::ledger::{Ledger, ACKED};
use crate::stats::{ErrorClass, Hists, Stage};

use super::inbox::{Batch, Inboxes};

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
    /// Readers through the log, v2.1.1 form: queries of one aggregate may be
    /// outstanding together (batches attributed by correlation id).
    pub overlap: bool,
}

/// A worker's reusable operation state.
pub struct Operation {
    shared: Arc<Shared>,
    event: Event,
    buf: Vec<u8>,
    rows: Vec<Event>,
    /// Readers through the log with correlation ids: this worker's own result channel.
    replies: Option<(async_channel::Sender<Batch>, async_channel::Receiver<Batch>)>,
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
    /// Readers through the log: when the aggregate's turn was taken and the target's
    /// part began (the wait before it is the harness's own, `query.turn`).
    pub began: Option<u64>,
    /// Rows (also in `rows`) of batches that came after the result was taken as complete.
    pub late_rows: u64,
    /// Readers through the log: the last batch's reply hop (its log time -> it reached
    /// the reader), where the log gave its time.
    pub reply_ns: Option<u64>,
}

impl Done {
    /// A batch that came after its query stopped waiting: still the target's answer.
    fn late(&mut self, b: &Batch) {
        self.rows += b.events as u64;
        self.late_rows += b.events as u64;
        self.bytes += b.bytes;
    }
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
            replies: None,
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
            (WorkloadKind::Produce | WorkloadKind::Replay, _) => {
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
                // Counted before the trim: a buffer past KEEP_BUFFER is replaced by an
                // empty one, and its length with it.
                let bytes = self.buf.len() as u64;
                self.trim_buffers();
                Ok(Done {
                    serialize_ns,
                    bytes,
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

    /// Sends an EventStoreQuery and waits for its result batches. A v2.0.1 query
    /// carries no correlation id, so each aggregate has at most one query outstanding
    /// (the inbox's turn); v2.1.1 queries take turns too unless `overlap`, and get
    /// exactly their own batches either way. The projection is read once the turn is
    /// taken, so a query that waited is sent with what the previous one returned. A
    /// result ends at a batch shorter than `batch_size`, or after a full one at silence
    /// for `settle` (or three times the service's recent inter-batch gaps, if longer).
    async fn query_via_log(&mut self, index: u64, intended: u64) -> Result<Done, BackendError> {
        let sh = self.shared.clone();
        // The aggregate now; its projection once the turn is taken (the query is
        // generated once, its version filled in then).
        let mut q = sh.gen.query(index, |_| 0);
        let inbox = sh.inboxes.get(q.aggregate_id);
        let correlated = sh.query_form == QueryForm::V211;
        let _turn = if correlated && sh.overlap {
            None
        } else {
            Some(inbox.turn.lock().await)
        };
        let began = self.ctx.clock.now();
        q.aggregate_version = sh.projections[q.aggregate_id as u8 as usize].load(Ordering::Relaxed);
        let mut done = Done {
            began: _turn.is_some().then_some(began),
            ..Done::default()
        };
        self.buf.clear();
        let (ours, rx) = if correlated {
            let id = tagged(sh.run_tag, sh.workload, index);
            EventStoreQuery211 {
                correlation_id: id,
                year_bucket: self.year_of(intended),
                ..EventStoreQuery211::from(q.clone())
            }
            .encode_into(&mut self.buf);
            let (tx, rx) = self.replies.get_or_insert_with(|| async_channel::bounded(1024));
            inbox.open(id, tx);
            (Some(id), rx.clone())
        } else {
            // Batches of an earlier query that had stopped waiting: late rows, not ours
            // to time, but the target's answer all the same.
            while let Ok(b) = inbox.rx.try_recv() {
                done.late(&b);
            }
            q.encode_into(&mut self.buf);
            (None, inbox.rx.clone())
        };
        let sent = self.ctx.clock.now();
        let outcome = match sh.log.produce(&sh.query_topic, &self.buf, None).await {
            Ok(()) => self.await_result(&sh, &rx, ours, sent, &mut done).await,
            Err(e) => Err(e),
        };
        if let Some(id) = ours {
            inbox.close(id, sh.workload, intended, done.answered.map(|(at, _)| at));
            // Delivered between the last wait and the close: late rows of this query.
            while let Ok(b) = rx.try_recv() {
                done.late(&b);
            }
        }
        let max_version = outcome?;
        done.empty = done.answered.is_none();
        if max_version != i64::MIN {
            self.projected(q.aggregate_id, max_version);
        }
        Ok(done)
    }

    /// Reads a query's batches from `rx` until its result is complete; returns the
    /// highest version returned (`i64::MIN` for none).
    async fn await_result(
        &self,
        sh: &Shared,
        rx: &async_channel::Receiver<Batch>,
        ours: Option<uuid::Uuid>,
        sent: u64,
        done: &mut Done,
    ) -> Result<i64, BackendError> {
        let mut max_version = i64::MIN;
        let mut wait = sh.reply_timeout;
        let mut last_at = None;
        let (settle, cap) = (sh.settle.as_nanos() as u64, sh.reply_timeout.as_nanos() as u64);
        while let Ok(Ok(batch)) = tokio::time::timeout(wait, rx.recv()).await {
            if ours.is_some() && batch.correlation != ours {
                done.late(&batch);
                continue;
            }
            if let Some(e) = batch.error {
                return Err(BackendError::new(ErrorClass::Rejected, e));
            }
            if let Some(prev) = last_at {
                sh.inboxes.saw_gap(batch.at.saturating_sub(prev));
            }
            last_at = Some(batch.at);
            done.rows += batch.events as u64;
            done.bytes += batch.bytes;
            done.answered = Some((batch.at, sent));
            done.reply_ns = batch.logged.map(|l| batch.at.saturating_sub(l));
            max_version = max_version.max(batch.max_version);
            if (batch.events as usize) < sh.batch_size {
                break;
            }
            wait = Duration::from_nanos(sh.inboxes.settle(settle, cap));
        }
        Ok(max_version)
    }
}

/// Marks an event a query returned, if it is one of this run's (and, when it had been
/// returned before, that too); returns its flags from before.
pub fn mark_queried(ledger: &Ledger, run_tag: u64, e: &Event) -> Option<u8> {
    let tag = read_tag(&e.uuid)?;
    if tag.run_tag != run_tag {
        // A prefilled history's event: counted in its own book, not one of the run's.
        if let Some(h) = ledger.history.get().filter(|h| h.tag == tag.run_tag) {
            h.mark(tag.value);
        }
        return None;
    }
    Some(ledger.book(tag.workload)?.queried(tag.value))
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
            if let Some(began) = done.began {
                h.record(Stage::QueryTurn, began.saturating_sub(started));
            }
            h.counters.rows += done.rows;
            h.counters.late_rows += done.late_rows;
            h.counters.bytes += done.bytes;
        }
        Ok(done) => {
            let finished = done.answered.map_or(finished, |(at, _)| at);
            // The target's part starts when the operation had its turn, if it waited for one.
            let began = done.began.map_or(started, |b| b.max(started));
            h.record(stage, finished - intended.min(finished));
            h.record(service, finished - began.min(finished));
            if let Some(b) = done.began {
                h.record(Stage::QueryTurn, b.saturating_sub(started));
            }
            if let Some((at, sent)) = done.answered {
                h.record(Stage::QueryRoundtrip, at.saturating_sub(sent));
            }
            if let Some(r) = done.reply_ns {
                h.record(Stage::HopReply, r);
            }
            if kind == WorkloadKind::Produce {
                h.record(Stage::Serialize, done.serialize_ns);
            }
            h.counters.ok += 1;
            h.counters.rows += done.rows;
            h.counters.late_rows += done.late_rows;
            h.counters.bytes += done.bytes;
        }
        Err(e) => {
            h.record(Stage::Failed, finished - intended.min(finished));
            h.error(e.class);
        }
    }
}
