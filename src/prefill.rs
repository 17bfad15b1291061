//! `[prefill]`: the history a run starts from, written straight to the store before
//! the measured run, so a run can ask how queries behave with a year of events in it.
//!
//! The history is a pure function of the scenario (seed, `[data]`, `[prefill]`): event
//! `i` has its timestamp at `i / events` of the span (oldest first), its year bucket
//! from that timestamp, and the version of the hydration epoch it falls in, as if a
//! reader had queried each aggregate `epochs` times at even intervals (the seed's query
//! service closes one epoch per query). Every uuid carries the history's own tag, so
//! the run's audit never mistakes history for the run's events, and readers that read
//! it are counted apart ([`crate::stats::ledger::HistoryBook`]).
//!
//! Resumable: the store itself keeps how far a history got, in `events_meta` rows of a
//! partition no service reads ([`MARKER_PARTITION`]): its fingerprint, the day it ends
//! and how many events are written (after each chunk of [`CHUNK`]). A run of the same
//! scenario against the same store skips what is there; writes are upserts of
//! deterministic rows, so a chunk written twice after a crash is the same rows.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::backend::{AnyStore, BackendError, Ctx, EventStore};
use crate::clock::Clock;
use crate::datagen::Generator;
use crate::host::Stop;
use crate::model::{Event, GoTime};
use crate::plan::Plan;
use crate::rng::splitmix;
use crate::scenario::{PrefillPlan, SchemaKind};
use crate::service::persistence::META_PARTITION;
use crate::stats::ledger::{QUERIED, QUERIED_AGAIN};

/// The `events_meta` partition that holds the prefill's progress (the services read
/// partition 0 only).
pub const MARKER_PARTITION: i8 = 127;
/// The workload number in the history's uuids (the run's workloads are numbered from 0).
pub const WORKLOAD: usize = 0xfff;
/// Events written between two progress marks.
pub const CHUNK: u64 = 50_000;
/// The first epoch of the history: readers start at `from_version` 1 (the original
/// service refuses 0) and read versions above it.
pub const FIRST_EPOCH: i64 = 2;
const DAY_NS: i128 = 86_400 * 1_000_000_000;
/// Store writes tried this often before the prefill gives up.
const ATTEMPTS: u32 = 5;

/// What summary.json records of a prefill.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PrefillRecord {
    /// Of the history's definition (seed, `[data]`, `[prefill]`, schema): a different
    /// one is a different history.
    pub fingerprint: String,
    pub events: u64,
    /// Payload bytes of all its events.
    pub bytes: u64,
    /// Written by this run.
    pub written: u64,
    /// Found in the store from an earlier run, so not written again.
    pub skipped: u64,
    pub seconds: f64,
    /// Of the events this run wrote.
    pub events_per_s: f64,
    pub epochs: u64,
    /// Oldest and newest event timestamp.
    pub from: String,
    pub to: String,
    pub year_buckets: Vec<i16>,
    /// Each aggregate's meta version after the history (its open epoch).
    pub meta_version: i64,
    /// What the run's readers were given of it (`read_history` readers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<HistoryRead>,
}

/// The history's events in the readers' year bucket, and how many queries returned.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HistoryRead {
    pub year_bucket: i16,
    /// History events in that bucket: what a reader from the start can be given.
    pub readable: u64,
    /// Distinct history events queries returned.
    pub read: u64,
    /// Of those, returned more than once.
    pub read_again: u64,
    /// Per aggregate id: `[readable, read]`.
    pub by_aggregate: BTreeMap<i8, [u64; 2]>,
}

/// A prefill that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("prefill: {0}")]
pub struct PrefillError(#[from] pub BackendError);

/// One scenario's history: how to make event `i`.
pub struct History {
    gen: Generator,
    events: u64,
    bytes: u64,
    span_ns: i128,
    epochs: u64,
    fingerprint: u64,
    tag: u64,
    schema: SchemaKind,
    fixed_year: Option<i16>,
}

impl History {
    pub fn new(plan: &Plan, p: &PrefillPlan) -> History {
        let probe = Generator::new(&plan.data, plan.seed, WORKLOAD, 0);
        // How many events, and their payload bytes: one pass over the sizes.
        let (mut events, mut bytes) = (0u64, 0u64);
        match (p.events, p.bytes) {
            (Some(n), _) => {
                events = n;
                bytes = (0..n).map(|i| probe.aggregate_and_size(i).1 as u64).sum();
            }
            (None, Some(target)) => {
                while bytes < target {
                    bytes += probe.aggregate_and_size(events).1 as u64;
                    events += 1;
                }
            }
            (None, None) => {}
        }
        let schema = plan.target.scylla.schema;
        // The definition, folded with a sample of what it makes: an edit of `[data]`
        // changes the events, so the fingerprint.
        let mut h = splitmix(plan.seed ^ 0x7072_6566_696c_6c00);
        for x in [
            events,
            bytes,
            p.span_ns,
            p.epochs,
            schema as u64,
            plan.data.year_bucket.map_or(u64::MAX, |y| y as u64),
        ] {
            h = splitmix(h ^ x);
        }
        let mut e = Event::default();
        for i in (0..events).step_by((events / 64).max(1) as usize).take(64) {
            probe.fill_event(i, i, 0, &mut e);
            h = splitmix(h ^ e.aggregate_id as u64 ^ (e.action.len() as u64) << 8);
            for c in e.action.bytes().chain(e.data.iter().flatten().copied().take(32)) {
                h = splitmix(h ^ c as u64);
            }
            h = splitmix(h ^ e.data.as_ref().map_or(0, |d| d.len() as u64));
        }
        let tag = splitmix(h) & 0xffff_ffff_ffff;
        History {
            gen: Generator::new(&plan.data, plan.seed, WORKLOAD, tag),
            events,
            bytes,
            span_ns: p.span_ns as i128,
            epochs: p.epochs,
            fingerprint: h,
            tag,
            schema,
            fixed_year: plan.data.year_bucket,
        }
    }

    /// The tag in every uuid of the history.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    fn wall_ns(&self, end_ns: i128, i: u64) -> i128 {
        end_ns - self.span_ns + (i as i128 * self.span_ns) / self.events.max(1) as i128
    }

    fn epoch(&self, i: u64) -> i64 {
        FIRST_EPOCH + ((i as u128 * self.epochs as u128) / self.events.max(1) as u128) as i64
    }

    fn year(&self, end_ns: i128, i: u64) -> i16 {
        self.fixed_year
            .unwrap_or_else(|| GoTime::from_unix_nanos(self.wall_ns(end_ns, i)).utc_year() as i16)
    }

    /// The open epoch once the history is written: its events are all below it.
    pub fn meta_version(&self) -> i64 {
        FIRST_EPOCH + self.epochs as i64
    }

    /// Event `i` of the history ending at `end_ns`, into `e`.
    pub fn event(&self, end_ns: i128, i: u64, e: &mut Event) {
        self.gen.fill_event(i, i, self.wall_ns(end_ns, i), e);
        e.version = self.epoch(i);
    }

    /// The marker rows (fingerprint, end day, events written) of this schema's history.
    fn marker(&self) -> i8 {
        match self.schema {
            SchemaKind::PerYear => 1,
            SchemaKind::PerAggregate => 11,
        }
    }

    /// What summary.json records of this history ending at `end_ns`, of which this run
    /// wrote `written` in `seconds` and found `skipped` in the store.
    fn record(&self, end_ns: i128, written: u64, skipped: u64, seconds: f64) -> PrefillRecord {
        let last = self.events.saturating_sub(1);
        let stamp = |i: u64| GoTime::from_unix_nanos(self.wall_ns(end_ns, i)).to_string();
        let (a, b) = (self.year(end_ns, 0), self.year(end_ns, last));
        PrefillRecord {
            fingerprint: format!("{:016x}", self.fingerprint),
            events: self.events,
            bytes: self.bytes,
            written,
            skipped,
            seconds,
            events_per_s: if seconds > 0.0 { written as f64 / seconds } else { 0.0 },
            epochs: self.epochs,
            from: stamp(0),
            to: stamp(last),
            year_buckets: (a.min(b)..=a.max(b)).collect(),
            meta_version: self.meta_version(),
            read: None,
        }
    }

    /// What the readers were given of the history, from the ledger's history book
    /// (`flags` by history index), for readers of `year_bucket`.
    pub fn reads(&self, end_ns: i128, flags: &[u8], year_bucket: i16) -> HistoryRead {
        let mut r = HistoryRead {
            year_bucket,
            ..HistoryRead::default()
        };
        for i in 0..self.events {
            let f = flags.get(i as usize).copied().unwrap_or(0);
            let (agg, _) = self.gen.aggregate_and_size(i);
            let entry = r.by_aggregate.entry(agg).or_default();
            if self.year(end_ns, i) == year_bucket {
                r.readable += 1;
                entry[0] += 1;
            }
            if f & QUERIED != 0 {
                r.read += 1;
                entry[1] += 1;
            }
            r.read_again += (f & QUERIED_AGAIN != 0) as u64;
        }
        r.by_aggregate.retain(|_, v| v[0] + v[1] > 0);
        r
    }
}

/// A history in the store, ready for the run.
pub struct Prefilled {
    pub history: Arc<History>,
    pub end_ns: i128,
    pub record: PrefillRecord,
}

/// Writes what of the plan's history the store does not hold yet, with `concurrency`
/// writes in flight, showing progress on stderr when `progress`; stops between chunks
/// when `stop` is asked (the next run resumes).
pub async fn run(plan: &Plan, store: &AnyStore, stop: &Stop, progress: bool) -> Result<Prefilled, PrefillError> {
    let Some(p) = &plan.prefill else {
        return Err(PrefillError(BackendError::new(
            crate::stats::ErrorClass::Fatal,
            "the scenario has no [prefill]",
        )));
    };
    let history = Arc::new(History::new(plan, p));
    let mut ctx = Ctx::new(Clock::start(), plan.seed);
    let m = history.marker();
    let fingerprint = history.fingerprint as i64;
    let same = store.read_meta(&mut ctx, MARKER_PARTITION, m).await? == Some(fingerprint);
    let (end_ns, mut done) = if same {
        let end_ms = store.read_meta(&mut ctx, MARKER_PARTITION, m + 1).await?.unwrap_or(0);
        let done = store.read_meta(&mut ctx, MARKER_PARTITION, m + 2).await?.unwrap_or(0);
        (end_ms as i128 * 1_000_000, (done.max(0) as u64).min(history.events))
    } else {
        // A new history ends at the start of today (UTC): the same rows all day long.
        let now = Clock::start().wall_origin_ns();
        let end = now - now.rem_euclid(DAY_NS);
        // Progress first, fingerprint last: a marker half written is no match.
        store.write_meta(&mut ctx, MARKER_PARTITION, m + 2, 0).await?;
        store
            .write_meta(&mut ctx, MARKER_PARTITION, m + 1, (end / 1_000_000) as i64)
            .await?;
        store.write_meta(&mut ctx, MARKER_PARTITION, m, fingerprint).await?;
        (end, 0)
    };
    let skipped = done;
    if progress {
        if done >= history.events {
            eprintln!(
                "prefill: the store holds this history ({} events, fingerprint {:016x}): skipped",
                history.events, history.fingerprint
            );
        } else if done > 0 {
            eprintln!("prefill: resuming at {done} of {} events", history.events);
        }
    }
    let started = std::time::Instant::now();
    let mut shown = started;
    while done < history.events && stop.reason().is_none() {
        let end = (done + CHUNK).min(history.events);
        let wrote = async {
            write_chunk(&history, store, end_ns, done..end, p.concurrency, plan.seed).await?;
            let mut attempt = 0;
            while let Err(e) = store.write_meta(&mut ctx, MARKER_PARTITION, m + 2, end as i64).await {
                if !again(&mut attempt).await {
                    return Err(e);
                }
            }
            Ok(())
        };
        wrote.await.map_err(|e| stopped(done, history.events, e))?;
        done = end;
        if progress && (shown.elapsed().as_secs_f64() >= 2.0 || done == history.events) {
            shown = std::time::Instant::now();
            let rate = (done - skipped) as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "prefill: {done} of {} events ({:.0}%), {rate:.0} events/s",
                history.events,
                100.0 * done as f64 / history.events.max(1) as f64
            );
        }
    }
    // Every aggregate's open epoch above the history (never lowered: a store with
    // more epochs keeps them).
    for a in plan.aggregate_ids() {
        let v = store.read_meta(&mut ctx, META_PARTITION, a).await?;
        if v.is_none_or(|v| v < history.meta_version()) {
            store
                .write_meta(&mut ctx, META_PARTITION, a, history.meta_version())
                .await?;
        }
    }
    let record = history.record(end_ns, done - skipped, skipped, started.elapsed().as_secs_f64());
    Ok(Prefilled {
        history,
        end_ns,
        record,
    })
}

/// After a failed store write: waits before the next try and says whether there is one
/// ([`ATTEMPTS`] in all). Every prefill write is an upsert of a deterministic row, so a
/// write repeated is the same row, and a node's pause can outlast one request's timeout.
async fn again(attempt: &mut u32) -> bool {
    *attempt += 1;
    if *attempt >= ATTEMPTS {
        return false;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50 << *attempt)).await;
    true
}

/// A write that failed for good, with how far the history got: the chunks before it
/// are marked in the store, so the user can resume rather than start again.
fn stopped(done: u64, events: u64, e: BackendError) -> PrefillError {
    let message = format!(
        "stopped at {done} of {events} events (the same scenario against the same store resumes there): {}",
        e.message
    );
    PrefillError(BackendError::new(e.class, message))
}

/// Writes events `range` of the history, `concurrency` at a time.
async fn write_chunk(
    history: &Arc<History>,
    store: &AnyStore,
    end_ns: i128,
    range: std::ops::Range<u64>,
    concurrency: usize,
    seed: u64,
) -> Result<(), BackendError> {
    let next = Arc::new(AtomicU64::new(range.start));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency.min((range.end - range.start) as usize).max(1) {
        let (history, store, next) = (history.clone(), store.clone(), next.clone());
        let end = range.end;
        tasks.spawn(async move {
            let mut ctx = Ctx::new(Clock::start(), seed ^ w as u64);
            let mut e = Event::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok(());
                }
                history.event(end_ns, i, &mut e);
                let mut attempt = 0;
                while let Err(err) = store.insert_event(&mut ctx, &e).await {
                    if !again(&mut attempt).await {
                        return Err(err);
                    }
                }
            }
        });
    }
    let mut first = None;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                next.store(range.end, Ordering::Relaxed);
                first.get_or_insert(e);
            }
            Err(e) => {
                first.get_or_insert(BackendError::new(crate::stats::ErrorClass::Fatal, e.to_string()));
            }
        }
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(prefill: &str) -> Plan {
        let text = format!(
            "name='h'\nduration='1s'\n[data]\naggregates={{dist='uniform',min=1,max=4}}\n[prefill]\n{prefill}\n[workload.r]\nkind='query'\nrate=1\n"
        );
        let s = crate::scenario::parse("t.toml", &text, &[]).expect("scenario");
        Plan::from_scenario(&s)
    }

    #[tokio::test]
    async fn a_write_is_tried_five_times_and_a_prefill_that_stops_says_where_it_resumes() {
        let mut attempt = 0;
        let mut tries = 1;
        while again(&mut attempt).await {
            tries += 1;
        }
        assert_eq!(tries, ATTEMPTS);
        let cause = BackendError::new(crate::stats::ErrorClass::Timeout, "client timeout of 3000ms");
        let text = stopped(7_150_000, 10_000_000, cause).to_string();
        assert!(
            text.starts_with("prefill: stopped at 7150000 of 10000000 events")
                && text.contains("resumes there")
                && text.ends_with("client timeout of 3000ms"),
            "{text}"
        );
    }

    #[test]
    fn a_history_is_deterministic_oldest_first_and_its_epochs_rise() {
        let p = plan("events = 1000\nepochs = 10\nspan = '10d'");
        let h = History::new(&p, p.prefill.as_ref().expect("prefill"));
        let again = History::new(&p, p.prefill.as_ref().expect("prefill"));
        assert_eq!((h.fingerprint, h.tag), (again.fingerprint, again.tag));
        let end = 1_764_000_000 * 1_000_000_000i128;
        let (mut a, mut b) = (Event::default(), Event::default());
        h.event(end, 0, &mut a);
        h.event(end, 999, &mut b);
        assert_eq!((a.version, b.version), (FIRST_EPOCH, FIRST_EPOCH + 9));
        assert_eq!(h.meta_version(), FIRST_EPOCH + 10);
        assert!(a.timestamp.unix_nanos() < b.timestamp.unix_nanos());
        assert!(end - a.timestamp.unix_nanos() <= 10 * DAY_NS && b.timestamp.unix_nanos() < end);
        assert_eq!(
            crate::model::tag::read_tag(&b.uuid).map(|t| (t.run_tag, t.value)),
            Some((h.tag, 999))
        );
        // Another definition, another history.
        let q = plan("events = 1000\nepochs = 11\nspan = '10d'");
        assert_ne!(
            History::new(&q, q.prefill.as_ref().expect("prefill")).fingerprint,
            h.fingerprint
        );
        // By size: enough events to hold it.
        let s = plan("size = '100KiB'");
        let by_size = History::new(&s, s.prefill.as_ref().expect("prefill"));
        assert!(
            by_size.bytes >= 100 << 10 && by_size.events > 0,
            "{} {}",
            by_size.bytes,
            by_size.events
        );
    }
}
