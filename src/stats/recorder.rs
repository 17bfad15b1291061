//! Per-thread recorders merged once per interval (cql-stress style). Recording takes
//! only the current thread's own lock, which the collector touches once per interval
//! for a pointer swap, so there is no global lock per operation and no contention.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hdrhistogram::Histogram;

use super::stage::{ErrorClass, Stage};

/// Counts that go beside the histograms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Operations that completed without error.
    pub ok: u64,
    /// Operations that started more than [`LATE_AFTER_NS`] after their intended start.
    pub late: u64,
    pub errors: [u64; ErrorClass::COUNT],
    /// Rows returned by queries (late ones included).
    pub rows: u64,
    /// Rows of result batches that arrived after their query stopped waiting (a gap
    /// between batches longer than the settle time): counted in `rows` too.
    pub late_rows: u64,
    /// Payload bytes sent or read.
    pub bytes: u64,
    /// Queries through the log that got no answer within `reply_timeout`: the original query
    /// service answers a query with no events with silence. Also counted in `censored`.
    pub empty: u64,
    /// Operations with no outcome of their own (never started, still in flight at the
    /// drain deadline, or unanswered): each is recorded in its stage at a lower bound
    /// of its latency (the time it had waited when the run gave up on it).
    pub censored: u64,
    /// Produced events whose reply came back with an error (the produce itself was ok).
    pub rejected_replies: u64,
    /// Produced events whose reply never came: recorded in their e2e stage at a lower
    /// bound, and counted here (they are not operations of their own).
    pub unanswered: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.ok += o.ok;
        self.late += o.late;
        for (a, b) in self.errors.iter_mut().zip(o.errors.iter()) {
            *a += b;
        }
        self.rows += o.rows;
        self.late_rows += o.late_rows;
        self.bytes += o.bytes;
        self.empty += o.empty;
        self.censored += o.censored;
        self.rejected_replies += o.rejected_replies;
        self.unanswered += o.unanswered;
    }

    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// An operation is late when it starts this long after its intended start.
pub const LATE_AFTER_NS: u64 = 1_000_000;

/// One workload's histograms and counters.
#[derive(Debug, Clone)]
pub struct Hists {
    pub stages: Vec<Histogram<u64>>,
    pub counters: Counters,
}

impl Hists {
    pub fn new() -> Hists {
        Hists {
            stages: (0..Stage::COUNT)
                .map(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid")))
                .collect(),
            counters: Counters::default(),
        }
    }

    /// Records one value; the histogram grows to fit it (`saturating_record` would
    /// clamp to the current range instead).
    #[inline]
    pub fn record(&mut self, stage: Stage, ns: u64) {
        // Auto-resizing histograms only refuse values beyond u64 range.
        let _ = self.stages[stage as usize].record(ns);
    }

    /// An operation the run gave up on after `waited_ns` since its intended start: its
    /// latency is at least that, so it goes into `stage` at that lower bound.
    #[inline]
    pub fn censor(&mut self, stage: Stage, waited_ns: u64) {
        self.record(stage, waited_ns);
        self.counters.censored += 1;
    }

    #[inline]
    pub fn error(&mut self, class: ErrorClass) {
        self.counters.errors[class as usize] += 1;
    }

    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Hists) {
        for (a, b) in self.stages.iter_mut().zip(o.stages.iter()) {
            if !b.is_empty() {
                // Auto-resizing histograms of the same precision always add.
                let _ = a.add(b);
            }
        }
        self.counters.add(&o.counters);
    }

    pub fn reset(&mut self) {
        for h in &mut self.stages {
            h.reset();
        }
        self.counters = Counters::default();
    }
}

impl Default for Hists {
    fn default() -> Self {
        Hists::new()
    }
}

type Slots = Vec<Hists>;

struct ThreadSlots {
    registry_id: u64,
    slots: Arc<Mutex<Slots>>,
}

thread_local! {
    static CURRENT: RefCell<Option<ThreadSlots>> = const { RefCell::new(None) };
}

static NEXT_REGISTRY: AtomicU64 = AtomicU64::new(1);

/// All recorders of one run. Each thread has two slots per workload: operations
/// intended after the warmup, and those intended during it, so the summary can leave
/// warmup out by each operation's intended start rather than by when it completed.
pub struct Registry {
    id: u64,
    workloads: usize,
    warmup_ns: u64,
    threads: Mutex<Vec<Arc<Mutex<Slots>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while recording leaves plain counters behind: still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    pub fn new(workloads: usize, warmup_ns: u64) -> Arc<Registry> {
        Arc::new(Registry {
            id: NEXT_REGISTRY.fetch_add(1, Ordering::Relaxed),
            workloads,
            warmup_ns,
            threads: Mutex::new(Vec::new()),
        })
    }

    fn new_slots(&self) -> Slots {
        (0..2 * self.workloads).map(|_| Hists::new()).collect()
    }

    /// Operations intended before this are warmup.
    pub fn warmup_ns(&self) -> u64 {
        self.warmup_ns
    }

    /// Number of workloads recorded.
    pub fn workloads(&self) -> usize {
        self.workloads
    }

    /// Records, into the current thread's slots, an operation of `workload` intended
    /// at `intended` (run-time ns). The first call on a thread registers it (once);
    /// later calls take only that thread's own lock.
    #[inline]
    pub fn with<R>(&self, workload: usize, intended: u64, f: impl FnOnce(&mut Hists) -> R) -> R {
        let slot = if intended < self.warmup_ns {
            workload + self.workloads
        } else {
            workload
        };
        CURRENT.with(|cur| {
            let mut cur = cur.borrow_mut();
            if cur.as_ref().is_none_or(|t| t.registry_id != self.id) {
                let slots = Arc::new(Mutex::new(self.new_slots()));
                lock(&self.threads).push(slots.clone());
                *cur = Some(ThreadSlots {
                    registry_id: self.id,
                    slots,
                });
            }
            let Some(t) = cur.as_ref() else {
                unreachable!("set above")
            };
            let mut guard = lock(&t.slots);
            f(&mut guard[slot])
        })
    }

    /// Shows each thread's uncollected slots to `f` without taking them (for the
    /// drain loop; never on the hot path).
    pub fn visit(&self, mut f: impl FnMut(&[Hists])) {
        let threads: Vec<_> = lock(&self.threads).clone();
        for t in threads {
            f(&lock(&t));
        }
    }

    /// Takes everything recorded since the last call and adds it into `into`: the
    /// first `workloads` entries get operations intended after warmup, the next
    /// `workloads` those intended during it. `spares` keeps reset slot sets for reuse.
    pub fn collect(&self, into: &mut [Hists], spares: &mut Vec<Slots>) {
        let threads: Vec<_> = lock(&self.threads).clone();
        for t in threads {
            let mut fresh = spares.pop().unwrap_or_else(|| self.new_slots());
            std::mem::swap(&mut *lock(&t), &mut fresh);
            for (acc, h) in into.iter_mut().zip(fresh.iter_mut()) {
                acc.add(h);
                h.reset();
            }
            spares.push(fresh);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_many_threads_are_all_collected() {
        let reg = Registry::new(2, 100);
        std::thread::scope(|s| {
            for t in 0..4 {
                let reg = &reg;
                s.spawn(move || {
                    for i in 0..1000u64 {
                        reg.with(t % 2, 1000, |h| {
                            h.record(Stage::Produce, (i + 1) * 1_000_000);
                            h.counters.ok += 1;
                        });
                    }
                });
            }
        });
        reg.with(0, 5, |h| h.record(Stage::Produce, 1));
        let mut acc: Vec<Hists> = (0..4).map(|_| Hists::new()).collect();
        let mut spares = Vec::new();
        reg.collect(&mut acc, &mut spares);
        // The one operation intended during warmup went to the warmup slot.
        assert_eq!(acc[2].stages[Stage::Produce as usize].len(), 1);
        assert_eq!(acc[0].stages[Stage::Produce as usize].len(), 2000);
        assert_eq!(acc[1].counters.ok, 2000);
        // Values far above the initial range are kept, not clamped.
        let max = acc[0].stages[Stage::Produce as usize].max();
        assert!((max as f64 - 1e9).abs() / 1e9 < 1e-3, "max {max}");
        // A second collect finds nothing new.
        let mut again: Vec<Hists> = (0..4).map(|_| Hists::new()).collect();
        reg.collect(&mut again, &mut spares);
        assert_eq!(again[0].stages[Stage::Produce as usize].len(), 0);
    }
}
