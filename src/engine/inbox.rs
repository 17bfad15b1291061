//! Where query result batches wait for the reader that asked. A v2.1.1 reply carries its
//! query's correlation id, so each batch goes to the one query waiting for that id, and
//! queries of one aggregate may overlap (`target.query.overlap`). A v2.0.1 reply is known
//! only by its aggregate: those readers take turns, one outstanding query per aggregate,
//! and read the aggregate's shared channel.
//!
//! A batch that arrives after its query stopped waiting is a *late* batch: its rows are
//! still the target's answer, so they are counted (rows, bytes, late rows) against the
//! query they answer, never dropped silently.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use uuid::Uuid;

/// One result batch, as the listener saw it.
#[derive(Debug, Clone)]
pub struct Batch {
    /// When it was consumed (run-time ns).
    pub at: u64,
    pub events: u32,
    pub bytes: u64,
    pub max_version: i64,
    /// The service's error text, when it answered with one.
    pub error: Option<String>,
    /// The query it answers, where the reply says (v2.1.1 queries' correlation id).
    pub correlation: Option<Uuid>,
    /// When its sender gave it to the log (run-time ns), where the log says: the
    /// reply hop is from then to `at`.
    pub logged: Option<u64>,
}

/// Queries closed recently, remembered per aggregate so a late batch can be credited to
/// the operation it answers (its workload and intended start, for the right interval).
const CLOSED_KEPT: usize = 64;

#[derive(Default)]
struct Waiting {
    /// Correlated queries waiting for their batches, and where to hand them.
    open: Vec<(Uuid, async_channel::Sender<Batch>)>,
    /// Recently closed correlated queries: (id, workload, intended start, when its
    /// last batch came, if one did).
    closed: VecDeque<(Uuid, usize, u64, Option<u64>)>,
}

pub struct Inbox {
    /// Held by the reader whose uncorrelated (v2.0.1) query, or serialised v2.1.1
    /// query, is outstanding.
    pub turn: tokio::sync::Mutex<()>,
    /// Uncorrelated batches (v2.0.1 replies).
    pub tx: async_channel::Sender<Batch>,
    pub rx: async_channel::Receiver<Batch>,
    /// One lock per aggregate, taken by the listener once per batch and by a reader
    /// twice per query: never a lock shared by all readers.
    waiting: Mutex<Waiting>,
}

/// Where a batch went.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    /// To the query waiting for it (or the aggregate's channel).
    Waiting,
    /// Its query had stopped waiting: (workload, intended start) of that query.
    Late(usize, u64),
    /// A correlation id no query of this process asked with.
    Unknown,
}

/// Inboxes of all 256 aggregate ids, and what the readers learn of the service's pace.
pub struct Inboxes {
    slots: Vec<Inbox>,
    /// The largest gap seen between two batches of one result, decaying: how long a
    /// reader waits after a full batch before it takes the result as complete.
    gap_ns: AtomicU64,
}

impl Default for Inboxes {
    fn default() -> Self {
        Inboxes {
            slots: (0..256)
                .map(|_| {
                    let (tx, rx) = async_channel::bounded(1024);
                    Inbox {
                        turn: tokio::sync::Mutex::new(()),
                        tx,
                        rx,
                        waiting: Mutex::default(),
                    }
                })
                .collect(),
            gap_ns: AtomicU64::new(0),
        }
    }
}

impl Inbox {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A correlated query is about to be sent: its batches go to `tx`.
    pub fn open(&self, id: Uuid, tx: &async_channel::Sender<Batch>) {
        self.waiting().open.push((id, tx.clone()));
    }

    /// The query stopped waiting; later batches are late, credited to (workload,
    /// intended). `last_at`: when its last batch came, so a late one tells how long the
    /// service's gaps between batches really are.
    pub fn close(&self, id: Uuid, workload: usize, intended: u64, last_at: Option<u64>) {
        let mut w = self.waiting();
        if let Some(i) = w.open.iter().position(|(q, _)| *q == id) {
            w.open.swap_remove(i);
        }
        if w.closed.len() == CLOSED_KEPT {
            w.closed.pop_front();
        }
        w.closed.push_back((id, workload, intended, last_at));
    }
}

impl Inboxes {
    pub fn get(&self, aggregate: i8) -> &Inbox {
        &self.slots[aggregate as u8 as usize]
    }

    /// Hands a batch to the query waiting for it: by correlation id when it has one,
    /// else to the aggregate's channel (dropped when nobody drains it).
    pub fn deliver(&self, aggregate: i8, batch: Batch) -> Delivered {
        let inbox = self.get(aggregate);
        let Some(id) = batch.correlation else {
            let _ = inbox.tx.try_send(batch);
            return Delivered::Waiting;
        };
        let at = batch.at;
        let mut w = inbox.waiting();
        if let Some((_, tx)) = w.open.iter().find(|(q, _)| *q == id) {
            // The reader's own channel is drained until it closes; a full one is a reader
            // gone, and its batches are then late.
            if tx.try_send(batch).is_ok() {
                return Delivered::Waiting;
            }
        }
        match w.closed.iter_mut().rev().find(|c| c.0 == id) {
            Some((_, workload, intended, last_at)) => {
                // A result closed between two of its batches: the gap the reader should
                // have waited out, learnt so the next results are not cut short.
                if let Some(prev) = last_at.replace(at) {
                    self.saw_gap(at.saturating_sub(prev));
                }
                Delivered::Late(*workload, *intended)
            }
            None => Delivered::Unknown,
        }
    }

    /// A reader saw `gap` ns between two batches of one result.
    pub fn saw_gap(&self, gap: u64) {
        let _ = self.gap_ns.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            // Jumps up to a new largest gap at once, decays by 1/16 per observation.
            Some(gap.max(old - old / 16))
        });
    }

    /// How long to wait after a full batch before taking the result as complete: the
    /// scenario's `settle`, or three times the service's recent largest inter-batch gap
    /// when that is longer, and never past `cap` (the reply timeout).
    pub fn settle(&self, settle: u64, cap: u64) -> u64 {
        settle.max(3 * self.gap_ns.load(Ordering::Relaxed)).min(cap.max(settle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(id: Option<Uuid>) -> Batch {
        Batch {
            logged: None,
            at: 0,
            events: 1,
            bytes: 1,
            max_version: 1,
            error: None,
            correlation: id,
        }
    }

    #[test]
    fn batches_go_to_their_query_and_late_ones_are_credited() {
        let inboxes = Inboxes::default();
        let (tx, rx) = async_channel::bounded(4);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        inboxes.get(3).open(a, &tx);
        assert_eq!(inboxes.deliver(3, batch(Some(a))), Delivered::Waiting);
        assert_eq!(rx.try_recv().map(|b| b.correlation).ok(), Some(Some(a)));
        assert_eq!(inboxes.deliver(3, batch(Some(b))), Delivered::Unknown);
        inboxes.get(3).close(a, 2, 77, Some(0));
        let mut late = batch(Some(a));
        late.at = 100;
        assert_eq!(inboxes.deliver(3, late), Delivered::Late(2, 77));
        assert_eq!(inboxes.settle(50, 1_000), 300, "the late batch's gap is learnt");
        assert!(rx.try_recv().is_err(), "a closed query gets nothing more");
        // Uncorrelated batches go to the aggregate's channel.
        assert_eq!(inboxes.deliver(3, batch(None)), Delivered::Waiting);
        assert!(inboxes.get(3).rx.try_recv().is_ok());
    }

    #[test]
    fn settle_follows_the_services_gaps_within_bounds() {
        let inboxes = Inboxes::default();
        assert_eq!(inboxes.settle(50, 1_000), 50);
        inboxes.saw_gap(100);
        assert_eq!(inboxes.settle(50, 1_000), 300);
        inboxes.saw_gap(10_000);
        assert_eq!(inboxes.settle(50, 1_000), 1_000, "never past the reply timeout");
        for _ in 0..200 {
            inboxes.saw_gap(1);
        }
        assert_eq!(inboxes.settle(50, 1_000), 50, "decays back");
    }
}
