//! The in-process event store, with the original schema's semantics (upsert by primary
//! key, range select by version) and a way to make it slow on purpose: injected
//! service time and stalls, so the harness's numbers can be checked against a truth
//! computed by hand.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use rand_distr::{Distribution, LogNormal};

use super::{BackendError, Ctx, EventStore};
use crate::model::Event;
use crate::scenario::{Latency, MemoryStore as Settings};

/// Primary-key order within an aggregate: version, action, timestamp (ms), uuid.
type Key = (i64, String, i64, u128);

#[derive(Default)]
struct Aggregate {
    meta: HashMap<i8, i64>,
    events: HashMap<i16, BTreeMap<Key, Event>>,
}

/// Hears the uuid of an event the store trimmed away.
pub struct OnTrimmed(pub Box<dyn Fn(u128) + Send + Sync>);

/// z-score of the 99th percentile of a standard normal.
const Z99: f64 = 2.326_347_874;

/// The in-memory store. Each aggregate has its own lock.
pub struct MemoryStore {
    aggregates: Vec<Mutex<Aggregate>>,
    service: Option<ServiceTime>,
    stall: Option<(u64, u64)>,
    keep: usize,
    /// Events dropped to stay within `keep_per_aggregate` (an audit cannot see them).
    trimmed: std::sync::atomic::AtomicU64,
    /// Told the uuid of each event trimmed away, so a run's audit can tell it from a
    /// lost one (in its ledger: one bit, not a list that grows with the run).
    on_trimmed: arc_swap::ArcSwapOption<OnTrimmed>,
    /// With `concurrency`: when each server becomes free (run-time ns). A request
    /// takes the earliest free one and holds it for exactly its service time, so the
    /// store's capacity is `concurrency / service time` whatever the wake-up delays.
    slots: Option<Mutex<Vec<u64>>>,
    /// A scheduled fault's stall, run-time ns `[from, until)` (0, 0: none): a request
    /// that would complete inside it completes at its end.
    held: (std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64),
}

fn key_of(event: &Event) -> Key {
    (
        event.version,
        event.action.clone(),
        event.timestamp.unix_millis(),
        event.uuid.as_u128(),
    )
}

enum ServiceTime {
    Fixed(u64),
    LogNormal(LogNormal<f64>),
}

impl MemoryStore {
    pub fn new(s: &Settings) -> MemoryStore {
        let factor = s.contention().map_or(1.0, |c| c.factor(s.concurrency.unwrap_or(1)));
        let service = s.service_time().map(|l| match *l {
            Latency::Fixed { value } => ServiceTime::Fixed((value.as_nanos() as f64 * factor) as u64),
            Latency::Lognormal { median, p99 } => {
                let sigma = (p99.as_nanos() as f64 / median.as_nanos() as f64).ln() / Z99;
                ServiceTime::LogNormal(
                    LogNormal::new((median.as_nanos() as f64 * factor).ln(), sigma)
                        .unwrap_or_else(|_| unreachable!("validated")),
                )
            }
        });
        MemoryStore {
            aggregates: (0..256).map(|_| Mutex::new(Aggregate::default())).collect(),
            service,
            stall: s.stall().map(|st| (st.every.as_nanos(), st.duration.as_nanos())),
            keep: s.keep_per_aggregate.max(1),
            trimmed: Default::default(),
            on_trimmed: Default::default(),
            slots: s.concurrency.map(|n| Mutex::new(vec![0; n.max(1)])),
            held: Default::default(),
        }
    }

    fn agg(&self, id: i8) -> std::sync::MutexGuard<'_, Aggregate> {
        self.aggregates[id as u8 as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// When a request started now completes: after its service time, and never
    /// inside a stall window (the last `for` of every `every`).
    fn completion(&self, ctx: &mut Ctx) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let held_until = self.held.1.load(Relaxed);
        if self.service.is_none() && self.stall.is_none() && self.slots.is_none() && held_until == 0 {
            return None;
        }
        let st = match &self.service {
            Some(ServiceTime::Fixed(ns)) => *ns,
            Some(ServiceTime::LogNormal(d)) => d.sample(&mut ctx.rng) as u64,
            None => 0,
        };
        let now = ctx.clock.now();
        let mut done = now + st;
        if let Some(slots) = &self.slots {
            let mut free = slots.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(slot) = free.iter_mut().min() {
                done = (*slot).max(now) + st;
                *slot = done;
            }
        }
        if let Some((every, dur)) = self.stall {
            let phase = done % every;
            if phase >= every - dur {
                done += every - phase;
            }
        }
        if held_until > 0 && done >= self.held.0.load(Relaxed) && done < held_until {
            done = held_until;
        }
        Some(done)
    }

    async fn serve(&self, ctx: &mut Ctx) {
        if let Some(done) = self.completion(ctx) {
            let clock = ctx.clock;
            ctx.pacer.sleep_until(&clock, done).await;
        }
    }

    /// Holds every request that would complete in run time `[from, until)` to `until`
    /// (a scheduled fault: a store that stopped answering, then came back).
    pub fn hold(&self, from_ns: u64, until_ns: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.held.0.store(from_ns, Relaxed);
        self.held.1.store(until_ns, Relaxed);
    }

    /// Events dropped to stay within `keep_per_aggregate`.
    pub fn trimmed(&self) -> u64 {
        self.trimmed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Who hears of each trimmed event from now on (the run's ledger).
    pub fn on_trimmed(&self, f: Option<OnTrimmed>) {
        self.on_trimmed.store(f.map(std::sync::Arc::new));
    }

    /// Events stored in all aggregates (for tests and audits).
    pub fn event_count(&self) -> usize {
        (0..256)
            .map(|i| self.agg(i as u8 as i8).events.values().map(|m| m.len()).sum::<usize>())
            .sum()
    }
}

impl EventStore for MemoryStore {
    async fn read_meta(&self, ctx: &mut Ctx, partition: i8, aggregate: i8) -> Result<Option<i64>, BackendError> {
        let v = self.agg(aggregate).meta.get(&partition).copied();
        self.serve(ctx).await;
        Ok(v)
    }

    async fn write_meta(&self, ctx: &mut Ctx, partition: i8, aggregate: i8, version: i64) -> Result<(), BackendError> {
        self.agg(aggregate).meta.insert(partition, version);
        self.serve(ctx).await;
        Ok(())
    }

    async fn read_meta_serial(&self, ctx: &mut Ctx, partition: i8, aggregate: i8) -> Result<Option<i64>, BackendError> {
        // Every read here is linearizable: the aggregate's lock orders it.
        self.read_meta(ctx, partition, aggregate).await
    }

    async fn cas_meta(
        &self,
        ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
        expect: Option<i64>,
        version: i64,
    ) -> Result<bool, BackendError> {
        let applied = {
            let mut agg = self.agg(aggregate);
            let applied = agg.meta.get(&partition).copied() == expect;
            if applied {
                agg.meta.insert(partition, version);
            }
            applied
        };
        self.serve(ctx).await;
        Ok(applied)
    }

    async fn delete_event(&self, ctx: &mut Ctx, event: &Event) -> Result<(), BackendError> {
        {
            let mut agg = self.agg(event.aggregate_id);
            if let Some(bucket) = agg.events.get_mut(&event.year_bucket) {
                bucket.remove(&key_of(event));
            }
        }
        self.serve(ctx).await;
        Ok(())
    }

    async fn insert_event(&self, ctx: &mut Ctx, event: &Event) -> Result<(), BackendError> {
        {
            let mut agg = self.agg(event.aggregate_id);
            let bucket = agg.events.entry(event.year_bucket).or_default();
            let key = key_of(event);
            let mut stored = event.clone();
            // The store keeps milliseconds, as the Go CQL driver writes them.
            stored.timestamp = crate::model::GoTime::from_unix_nanos(event.timestamp.unix_millis() as i128 * 1_000_000);
            bucket.insert(key, stored);
            let mut gone = Vec::new();
            while bucket.len() > self.keep {
                if let Some((k, _)) = bucket.pop_first() {
                    gone.push(k.3);
                }
            }
            if !gone.is_empty() {
                self.trimmed
                    .fetch_add(gone.len() as u64, std::sync::atomic::Ordering::Relaxed);
                if let Some(f) = &*self.on_trimmed.load() {
                    gone.iter().for_each(|u| (f.0)(*u));
                }
            }
        }
        self.serve(ctx).await;
        Ok(())
    }

    async fn select_events(
        &self,
        ctx: &mut Ctx,
        year_bucket: i16,
        aggregate: i8,
        after: i64,
        upto: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), BackendError> {
        if after < upto {
            let agg = self.agg(aggregate);
            if let Some(bucket) = agg.events.get(&year_bucket) {
                let from = (after + 1, String::new(), i64::MIN, 0u128);
                out.extend(
                    bucket
                        .range(from..)
                        .take_while(|(k, _)| k.0 <= upto)
                        .map(|(_, e)| e.clone()),
                );
            }
        }
        self.serve(ctx).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    #[tokio::test]
    async fn version_range_and_upsert() {
        let store = MemoryStore::new(&Settings::default());
        let mut ctx = Ctx::new(Clock::start(), 1);
        for (i, v) in [1i64, 2, 2, 3].iter().enumerate() {
            let e = Event {
                aggregate_id: 9,
                version: *v,
                year_bucket: 2026,
                uuid: uuid::Uuid::from_u128(i as u128),
                ..Event::default()
            };
            store.insert_event(&mut ctx, &e).await.expect("insert");
        }
        let again = Event {
            aggregate_id: 9,
            version: 3,
            year_bucket: 2026,
            uuid: uuid::Uuid::from_u128(3),
            ..Event::default()
        };
        store.insert_event(&mut ctx, &again).await.expect("upsert");
        let mut out = Vec::new();
        store
            .select_events(&mut ctx, 2026, 9, 1, 2, &mut out)
            .await
            .expect("select");
        assert_eq!(out.len(), 2);
        out.clear();
        store
            .select_events(&mut ctx, 2026, 9, 0, 3, &mut out)
            .await
            .expect("select");
        assert_eq!(out.len(), 4);
        assert_eq!(store.event_count(), 4);
    }

    #[tokio::test]
    async fn stalls_hold_completions_until_the_window_ends() {
        let settings: Settings = toml::from_str("stall = { every = '200ms', for = '100ms' }").expect("toml");
        let store = MemoryStore::new(&settings);
        let mut ctx = Ctx::new(Clock::start(), 1);
        // Wait until inside the stall window [100ms, 200ms).
        let clock = ctx.clock;
        ctx.pacer.sleep_until(&clock, 120_000_000).await;
        store.read_meta(&mut ctx, 0, 1).await.expect("read");
        let t = clock.now();
        assert!((200_000_000..215_000_000).contains(&t), "completed at {t}");
    }
}
