//! Consumes what comes back and times it against the intended send: persistence
//! replies (matched by the correlation id, which carries the intended time), query
//! results (each event's correlation id again), or, with no services, the produced
//! records themselves (their headers carry it). It also keeps the audit's ledger.

use std::sync::Arc;

use super::inbox::{Batch, Delivered, Inboxes};
use super::ops::mark_queried;
use crate::backend::{AnyConsumer, Record};
use crate::clock::Clock;
use crate::model::tag::{read_tag, Tag};
use crate::model::{Event, KafkaResponse, Strictness};
use crate::stats::ledger::{Ledger, QUERIED};
use crate::stats::{Registry, Stage};

/// What the listener reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// KafkaResponses from the persistence service.
    Replies,
    /// KafkaResponses from the query service, with result batches.
    QueryResults,
    /// The Event records produced (no services).
    Events,
}

/// Unattributable input: replies that are not ours, or do not decode.
#[derive(Default, Debug, Clone, Copy)]
pub struct Strays {
    pub malformed: u64,
    pub foreign: u64,
}

/// What a listener needs besides its consumer.
#[derive(Clone)]
pub struct Listening {
    pub clock: Clock,
    pub run_tag: u64,
    pub reg: Arc<Registry>,
    pub ledger: Arc<Ledger>,
    pub inboxes: Arc<Inboxes>,
}

/// Records a listener takes from its queue between two waits.
const DRAIN_AT_ONCE: usize = 64;

/// Runs until the consumer ends or `stop` fires; returns what it could not attribute.
pub async fn listen(
    mut consumer: AnyConsumer,
    source: Source,
    l: Listening,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Strays {
    let mut strays = Strays::default();
    loop {
        let Some(record) = crate::service::next_record(&mut consumer, &mut stop).await else {
            return strays;
        };
        handle(source, &record, &l, &mut strays);
        // What is already queued is taken without a wait each (no wake-up, no watch
        // future per record); a bounded number, so that `stop` is still seen at the
        // wait above.
        for _ in 0..DRAIN_AT_ONCE {
            let Some(record) = consumer.try_recv() else { break };
            handle(source, &record, &l, &mut strays);
        }
        // A queue that is never empty never makes the wait above pending, so nothing
        // else on this thread would run until it is: the producers would fill it, this
        // would empty it, in turns of a whole queue (65,536 records, tens of ms of
        // e2e that were the harness's own), and the collector's tick would wait for
        // the turn. Yield once the task's cooperative budget is spent.
        tokio::task::consume_budget().await;
    }
}

/// One record: an answer timed and credited, or counted as a stray.
fn handle(source: Source, record: &Record, l: &Listening, strays: &mut Strays) {
    let t0 = l.clock.now();
    let outcome = match source {
        Source::QueryResults => results(record, l, t0),
        _ => answer(source, record, l, t0),
    };
    match outcome {
        Ok(()) => {}
        Err(Stray::Malformed) => strays.malformed += 1,
        Err(Stray::Foreign) => strays.foreign += 1,
    }
}

enum Stray {
    Malformed,
    Foreign,
}

/// A persistence reply or a produced record: one operation answered.
fn answer(source: Source, record: &Record, l: &Listening, t0: u64) -> Result<(), Stray> {
    let (intended, workload, error, index) = attribute(source, record, l.run_tag, l.reg.workloads())?;
    let t1 = l.clock.now();
    if let (Some(book), Some(i)) = (l.ledger.book(workload), index) {
        book.reply(i, !error);
    }
    // The reply leg: from when its sender gave it to the log to now.
    let sent = (source == Source::Replies)
        .then(|| record.log_time.and_then(|t| t.run_ns(&l.clock)))
        .flatten();
    l.reg.with(workload, intended, |h| {
        h.record(Stage::Deserialize, t1 - t0);
        if let Some(sent) = sent {
            h.record(Stage::HopReply, t1.saturating_sub(sent));
        }
        if error {
            // The produce was ok and is counted as such; the reply is not an operation
            // of its own, so it is counted beside it, not as a second outcome.
            h.counters.rejected_replies += 1;
        } else if source == Source::Replies {
            h.record(Stage::E2ePersisted, t1.saturating_sub(intended));
        } else {
            h.record(Stage::E2e, t1.saturating_sub(intended));
        }
    });
    Ok(())
}

/// Which of this run's operations a record answers: (intended send ns, workload,
/// whether the answer is an error, operation index when known).
fn attribute(
    source: Source,
    record: &Record,
    run_tag: u64,
    workloads: usize,
) -> Result<(u64, usize, bool, Option<u64>), Stray> {
    let (intended, correlation, error, index) = match source {
        Source::Events => {
            // Another run's record is foreign before it is anything else.
            let h = record.headers.filter(|h| h.run_tag == run_tag).ok_or(Stray::Foreign)?;
            let correlation =
                Event::correlation_of(&record.payload, Strictness::Strict).map_err(|_| Stray::Malformed)?;
            (Some(h.intended_ns), correlation, false, None)
        }
        _ => {
            let r = KafkaResponse::decode(&record.payload, Strictness::Lenient).map_err(|_| Stray::Malformed)?;
            let index = r.input.as_deref().and_then(event_uuid).and_then(|u| read_tag(&u));
            (None, r.correlation_id, !r.error.is_empty(), index.map(|t| t.value))
        }
    };
    let tag = match source {
        Source::Events => read_tag(&correlation),
        _ => read_tag(&correlation).filter(|t| t.run_tag == run_tag),
    };
    let tag = tag.filter(|t| t.workload < workloads).ok_or(Stray::Foreign)?;
    // Replies carry the intended time in the correlation id; records in their headers.
    Ok((intended.unwrap_or(tag.value), tag.workload, error, index))
}

/// The `uuid` of a Go-encoded Event, found without decoding the rest of it.
fn event_uuid(input: &[u8]) -> Option<uuid::Uuid> {
    const FIELD: &[u8] = b"\"uuid\":\"";
    let at = memchr::memmem::find(input, FIELD)? + FIELD.len();
    let text = input.get(at..at + 36)?;
    uuid::Uuid::try_parse_ascii(text)
        .ok()
        .or_else(|| Event::decode(input, Strictness::Lenient).ok().map(|e| e.uuid))
}

/// A query result batch: each of this run's events seen for the first time is
/// queryable now; the batch goes to the reader waiting on its aggregate.
fn results(record: &Record, l: &Listening, t0: u64) -> Result<(), Stray> {
    let r = KafkaResponse::decode(&record.payload, Strictness::Lenient).map_err(|_| Stray::Malformed)?;
    let aggregate = match r.aggregate_id {
        0 => record
            .topic
            .rsplit('.')
            .next()
            .and_then(|s| s.parse::<i8>().ok())
            .ok_or(Stray::Foreign)?,
        a => a,
    };
    let correlation = (!r.correlation_id.is_nil()).then_some(r.correlation_id);
    if !r.error.is_empty() {
        // A late error reply has no rows to credit.
        l.inboxes.deliver(
            aggregate,
            Batch {
                at: t0,
                events: 0,
                bytes: 0,
                max_version: i64::MIN,
                error: Some(r.error),
                correlation,
                logged: None,
            },
        );
        return Ok(());
    }
    let events = match r.result.as_deref() {
        Some(b) => Event::decode_batch(b).map_err(|_| Stray::Malformed)?,
        None => Vec::new(),
    };
    let mut batch = Batch {
        at: t0,
        events: events.len() as u32,
        bytes: 0,
        max_version: i64::MIN,
        error: None,
        correlation,
        logged: record.log_time.and_then(|t| t.run_ns(&l.clock)),
    };
    for e in &events {
        batch.bytes += e.data.as_ref().map_or(0, |d| d.len() as u64);
        batch.max_version = batch.max_version.max(e.version);
        let first = mark_queried(&l.ledger, l.run_tag, e).is_some_and(|before| before & QUERIED == 0);
        let produced =
            read_tag(&e.correlation_id).filter(|t: &Tag| t.run_tag == l.run_tag && t.workload < l.reg.workloads());
        if let (true, Some(t)) = (first, produced) {
            l.reg.with(t.workload, t.value, |h| {
                h.record(Stage::E2eQueryable, t0.saturating_sub(t.value));
            });
        }
    }
    let (events, bytes) = (batch.events as u64, batch.bytes);
    let late = match l.inboxes.deliver(aggregate, batch) {
        Delivered::Waiting => None,
        Delivered::Late(workload, intended) => Some((workload, intended)),
        // One of this run's queries closed too long ago to be remembered: credited to
        // the interval it arrived in.
        Delivered::Unknown => correlation
            .and_then(|c| read_tag(&c))
            .filter(|t| t.run_tag == l.run_tag && t.workload < l.reg.workloads())
            .map(|t| (t.workload, t0)),
    };
    if let Some((workload, intended)) = late {
        l.reg.with(workload, intended, |h| {
            h.counters.rows += events;
            h.counters.late_rows += events;
            h.counters.bytes += bytes;
        });
    }
    Ok(())
}

/// Hands records to the listener's handling as a run would, against a fresh registry
/// of `workloads` producers and their ledger, and returns the strays: the entry of the
/// `replies` fuzz target (`fuzz/`), whose records come from any producer on the reply
/// topics. Not for runs.
#[doc(hidden)]
pub fn handle_records(records: &[(Source, Record)], run_tag: u64, workloads: usize) -> Strays {
    let l = Listening {
        clock: Clock::start(),
        run_tag,
        reg: Registry::new(workloads.max(1), 0),
        ledger: Arc::new(Ledger::new(&vec![true; workloads.max(1)])),
        inboxes: Arc::new(Inboxes::default()),
    };
    let mut strays = Strays::default();
    for (source, record) in records {
        handle(*source, record, &l, &mut strays);
    }
    strays
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Headers;

    /// The records eventbench consumes back for e2e: its own Events count, whether in
    /// the canonical shape (checked without a decode) or not (decoded the general way);
    /// a broken one is counted malformed and the listener goes on; another run's is
    /// foreign before it is looked at.
    #[test]
    fn produced_records_are_timed_or_counted_as_strays() {
        const TAG: u64 = 0xabc;
        let record = |payload: Vec<u8>, run_tag: u64| {
            (
                Source::Events,
                Record {
                    topic: "events".into(),
                    payload: payload.into(),
                    headers: Some(Headers {
                        intended_ns: 5,
                        run_tag,
                    }),
                    ack: None,
                    log_time: None,
                },
            )
        };
        let canonical = Event {
            action: "created".into(),
            correlation_id: crate::model::tag::tagged(TAG, 0, 5),
            data: Some(vec![7; 40]),
            ..Event::default()
        }
        .to_json();
        let spaced = String::from_utf8(canonical.clone())
            .expect("utf-8")
            .replacen(",\"version\":", ", \"version\": ", 1)
            .into_bytes();
        let mut cut = canonical.clone();
        cut.truncate(cut.len() / 2);
        let mut bad_base64 = canonical.clone();
        let at = bad_base64.windows(8).position(|w| w == b"\"data\":\"").expect("data") + 8;
        bad_base64[at] = b'!';
        let strays = handle_records(
            &[
                record(canonical.clone(), TAG),
                record(spaced, TAG),
                record(cut, TAG),
                record(bad_base64, TAG),
                record(canonical, TAG + 1),
            ],
            TAG,
            1,
        );
        assert_eq!((strays.malformed, strays.foreign), (2, 1), "{strays:?}");
    }
}
