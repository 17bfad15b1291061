//! The integrity audit of a pipeline run: from what was sent and answered (the
//! [`ledger`](crate::stats::ledger)) and what the store holds, count the events that were lost,
//! duplicated, answered with an error, or stamped with a version no later query can
//! return (the original services' version race).

pub mod run;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backend::{AnyStore, BackendError, Ctx, EventStore};
use crate::clock::Clock;
use crate::model::tag::{read_tag, tagged};
use crate::scenario::Audit as Limits;

use crate::stats::ledger::{
    Snapshot, ACKED, FINISHED, QUERIED, QUERIED_AGAIN, REPLIED_AGAIN, REPLIED_ERR, REPLIED_OK, TRIMMED,
};

/// What the store holds of one of the run's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// More than one row has this event's uuid (stored under two versions).
    pub twice: bool,
    /// Where its highest version lies against the readers' projection of its aggregate.
    pub class: Reach,
}

/// Where a stored event's version lies for the readers: at or below the floor they
/// started from, at or below their projection (so no later query returns it), or above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    Unreachable = 0,
    Behind = 1,
    Ahead = 2,
    /// No reader projected its aggregate: nothing to judge.
    Unjudged = 3,
}

const SEEN: u8 = 1;
const TWICE: u8 = 2;

/// The run's events found in the store: one byte per operation of the ledger (seen,
/// seen twice, reach), not a map entry per event, so a long run's audit holds 1 byte
/// per event besides the ledger's own; rows of operations the ledger does not know
/// are not judged and not kept.
#[derive(Debug, Clone, Default)]
pub struct StoreView {
    found: Vec<Vec<u8>>,
    distinct: u64,
    /// Rows beyond the first of the same event.
    pub extra_rows: u64,
    projections: Vec<i64>,
    floors: Vec<i64>,
}

impl StoreView {
    /// An empty view for the operations of `snap`'s books.
    pub fn for_ledger(snap: &Snapshot) -> StoreView {
        StoreView {
            found: snap
                .flags
                .iter()
                .map(|f| f.as_ref().map_or_else(Vec::new, |f| vec![0; f.len()]))
                .collect(),
            projections: snap.projections.clone(),
            floors: snap.floors.clone(),
            ..StoreView::default()
        }
    }

    /// One row of the store: operation `index` of `workload`, at `version` of `aggregate`.
    pub fn add(&mut self, workload: usize, index: u64, aggregate: i8, version: i64) {
        let a = aggregate as u8 as usize;
        let projection = self.projections.get(a).copied().unwrap_or(i64::MIN);
        let reach = if projection == i64::MIN {
            Reach::Unjudged
        } else if version <= self.floors.get(a).copied().unwrap_or(i64::MIN) {
            Reach::Unreachable
        } else if version <= projection {
            Reach::Behind
        } else {
            Reach::Ahead
        };
        let Some(cell) = self.found.get_mut(workload).and_then(|f| f.get_mut(index as usize)) else {
            return;
        };
        if *cell & SEEN == 0 {
            self.distinct += 1;
            *cell = SEEN | (reach as u8) << 2;
        } else {
            self.extra_rows += 1;
            // The highest version decides, and reach only grows with the version.
            let was = (*cell >> 2) & 3;
            *cell = SEEN | TWICE | was.max(reach as u8) << 2;
        }
    }

    pub fn get(&self, workload: usize, index: u64) -> Option<Stored> {
        let cell = *self.found.get(workload)?.get(index as usize)?;
        (cell & SEEN != 0).then_some(Stored {
            twice: cell & TWICE != 0,
            class: match (cell >> 2) & 3 {
                0 => Reach::Unreachable,
                1 => Reach::Behind,
                2 => Reach::Ahead,
                _ => Reach::Unjudged,
            },
        })
    }

    /// Distinct events of the run found.
    pub fn len(&self) -> u64 {
        self.distinct
    }

    pub fn is_empty(&self) -> bool {
        self.distinct == 0
    }
}

/// Versions read per query of a partition: a page of rows, not the partition at once.
pub const PAGE_VERSIONS: i64 = 4096;

/// Examples kept per finding.
const EXAMPLES: usize = 10;

/// The audit's findings, as `summary.json` and `audit.json` hold them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AuditReport {
    /// Events the log acknowledged.
    pub acked: u64,
    /// Of the run's events, how many the store holds (None: the store was not read).
    pub stored: Option<u64>,
    /// Acknowledged but not in the store (or, when the store could not be read, never
    /// answered with success), although the persistence service had taken it. (With
    /// an external service eventbench cannot see what it took: every such event.)
    pub lost: u64,
    /// Acknowledged, not stored, not answered, and never taken by the embedded
    /// persistence service: still waiting in the log when the run ended (the service
    /// commits only what it answered, so its group reads them next). Not a loss; a
    /// target that falls behind shows it, as its producers' verdict does.
    #[serde(default)]
    pub backlog: u64,
    /// Events with more than one store row or more than one answer.
    pub duplicates: u64,
    /// Extra store rows (one event stored under two versions).
    pub duplicate_rows: u64,
    /// Events answered more than once (redelivered by the log).
    pub redelivered: u64,
    /// Events the persistence service answered with an error.
    pub errors: u64,
    /// Acknowledged events that got no answer at all.
    pub unanswered: u64,
    /// Stored at or below a reader's projection yet never returned to it: no later
    /// query that follows the protocol can return them (the version race).
    pub hidden: u64,
    /// Stored in an epoch the readers had passed before they started (for a fresh
    /// store: the original services' epochs 0 and 1, which no valid query selects).
    pub unreachable_epochs: u64,
    /// Stored above the readers' projection: the next query returns them.
    pub pending: u64,
    /// Returned to readers more than once: overlapping queries of one aggregate racing
    /// on one epoch (both read the same range), or a query sent with a stale projection.
    #[serde(default)]
    pub requeried: u64,
    /// In the store although the log never acknowledged them (a timed-out send that
    /// did arrive).
    pub stored_unacked: u64,
    /// Stored, then dropped by the memory store to stay within `keep_per_aggregate`
    /// (counted in `stored`; a scan cannot see them, so they are not judged hidden).
    #[serde(default)]
    pub trimmed: u64,
    /// Whether readers queried while the run lasted (else `hidden` cannot be judged).
    pub readers: bool,
    pub notes: Vec<String>,
    /// A few event uuids per finding, to look up.
    pub examples: BTreeMap<String, Vec<String>>,
    /// Findings over the scenario's limits; empty when the audit passed.
    pub failed: Vec<String>,
}

impl AuditReport {
    pub fn passed(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Reads every event of the run from the store, each (year, aggregate) partition in
/// pages of [`PAGE_VERSIONS`] versions (a window that finds nothing doubles, so a
/// partition's end is reached in a few dozen queries whatever its size).
pub async fn scan_store(
    store: &AnyStore,
    aggregates: &[i8],
    years: &[i16],
    run_tag: u64,
    snap: &Snapshot,
) -> Result<StoreView, BackendError> {
    let mut ctx = Ctx::new(Clock::start(), 0);
    let mut view = StoreView::for_ledger(snap);
    let mut rows = Vec::new();
    for &year in years {
        for &agg in aggregates {
            let (mut after, mut window) = (-1i64, PAGE_VERSIONS);
            loop {
                let upto = after.saturating_add(window);
                rows.clear();
                store.select_events(&mut ctx, year, agg, after, upto, &mut rows).await?;
                for e in &rows {
                    if let Some(tag) = read_tag(&e.uuid).filter(|t| t.run_tag == run_tag) {
                        view.add(tag.workload, tag.value, e.aggregate_id, e.version);
                    }
                }
                if upto == i64::MAX {
                    break;
                }
                window = if rows.is_empty() {
                    window.saturating_mul(2)
                } else {
                    PAGE_VERSIONS
                };
                after = upto;
            }
        }
    }
    Ok(view)
}

/// Judges the run from its ledger and (when it could be read) the store. `tracked`:
/// the persistence service was embedded and marked what it finished.
pub fn judge(snap: &Snapshot, store: Option<&StoreView>, run_tag: u64, limits: &Limits, tracked: bool) -> AuditReport {
    let mut r = AuditReport {
        readers: snap.projections.iter().any(|p| *p != i64::MIN),
        stored: store.map(|s| s.len()),
        duplicate_rows: store.map_or(0, |s| s.extra_rows),
        ..AuditReport::default()
    };
    let mut examples: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |kind: &str, w: usize, i: u64| {
        let list = examples.entry(kind.to_string()).or_default();
        if list.len() < EXAMPLES {
            list.push(tagged(run_tag, w, i).to_string());
        }
    };
    for (w, flags) in snap.flags.iter().enumerate() {
        let Some(flags) = flags else { continue };
        for (i, &f) in flags.iter().enumerate() {
            let i = i as u64;
            let acked = f & ACKED != 0;
            let answered = f & (REPLIED_OK | REPLIED_ERR) != 0;
            r.acked += acked as u64;
            if f & REPLIED_ERR != 0 {
                r.errors += 1;
                note("errors", w, i);
            }
            if acked && !answered {
                r.unanswered += 1;
            }
            let row = store.and_then(|s| s.get(w, i));
            let trimmed = f & TRIMMED != 0 && row.is_none();
            r.trimmed += trimmed as u64;
            let lost = match store {
                Some(_) => acked && row.is_none() && !trimmed,
                None => acked && f & REPLIED_OK == 0,
            };
            let waiting = tracked && !answered && f & FINISHED == 0;
            if lost && waiting {
                r.backlog += 1;
                note("backlog", w, i);
            } else if lost {
                r.lost += 1;
                note("lost", w, i);
            }
            let twice = row.is_some_and(|s| s.twice);
            if f & REPLIED_AGAIN != 0 {
                r.redelivered += 1;
            }
            if twice || f & REPLIED_AGAIN != 0 {
                r.duplicates += 1;
                note("duplicates", w, i);
            }
            if f & QUERIED_AGAIN != 0 {
                r.requeried += 1;
                note("requeried", w, i);
            }
            if let Some(s) = row {
                r.stored_unacked += !acked as u64;
                if f & QUERIED == 0 {
                    match s.class {
                        Reach::Unreachable => r.unreachable_epochs += 1,
                        Reach::Behind => {
                            r.hidden += 1;
                            note("hidden", w, i);
                        }
                        Reach::Ahead => r.pending += 1,
                        Reach::Unjudged => {}
                    }
                }
            }
        }
    }
    r.stored = r.stored.map(|n| n + r.trimmed);
    r.examples = examples;
    for (what, n, max) in [
        ("lost", r.lost, limits.max_lost),
        ("duplicates", r.duplicates, limits.max_duplicates),
        ("errors", r.errors, limits.max_errors),
        ("hidden", r.hidden, limits.max_hidden),
    ] {
        if n > max {
            r.failed.push(format!("{what}: {n} > {max} allowed"));
        }
    }
    r
}

/// Audits of parts of one load (shards) add up to the audit of the whole.
impl std::ops::AddAssign<&AuditReport> for AuditReport {
    fn add_assign(&mut self, b: &AuditReport) {
        self.acked += b.acked;
        self.stored = self.stored.zip(b.stored).map(|(x, y)| x + y);
        self.lost += b.lost;
        self.duplicates += b.duplicates;
        self.duplicate_rows += b.duplicate_rows;
        self.redelivered += b.redelivered;
        self.errors += b.errors;
        self.unanswered += b.unanswered;
        self.hidden += b.hidden;
        self.unreachable_epochs += b.unreachable_epochs;
        self.pending += b.pending;
        self.requeried += b.requeried;
        self.stored_unacked += b.stored_unacked;
        self.trimmed += b.trimmed;
        self.failed.extend(b.failed.iter().cloned());
        self.notes.extend(b.notes.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(flags: Vec<u8>, projection: i64) -> Snapshot {
        let mut projections = vec![i64::MIN; 256];
        let mut floors = vec![i64::MIN; 256];
        projections[7] = projection;
        floors[7] = 1;
        Snapshot {
            flags: vec![Some(flags)],
            projections,
            floors,
        }
    }

    fn stored(snap: &Snapshot, entries: &[(u64, u32, i64)]) -> StoreView {
        let mut view = StoreView::for_ledger(snap);
        for &(i, rows, v) in entries {
            for r in 0..rows {
                view.add(0, i, 7, v - r as i64);
            }
        }
        view
    }

    #[test]
    fn each_finding_is_counted_once_and_limits_fail_the_audit() {
        let ok = ACKED | REPLIED_OK;
        let flags = vec![
            ok | QUERIED,        // 0: fine
            ACKED,               // 1: lost, unanswered
            ok | REPLIED_AGAIN,  // 2: redelivered (and still pending: v 9 > 5)
            ACKED | REPLIED_ERR, // 3: error, not stored
            ok,                  // 4: hidden (v 4 <= projection 5)
            ok,                  // 5: unreachable epoch (v 1 <= floor 1)
            0,                   // 6: stored though never acked
        ];
        let sn = snap(flags, 5);
        let view = stored(&sn, &[(0, 1, 3), (2, 1, 9), (4, 1, 4), (5, 1, 1), (6, 2, 8)]);
        let r = judge(&sn, Some(&view), 0xabc, &Limits::default(), false);
        assert_eq!(
            (r.acked, r.lost, r.errors, r.unanswered, r.hidden, r.unreachable_epochs),
            (6, 2, 1, 1, 1, 1)
        );
        assert_eq!((r.duplicates, r.redelivered, r.duplicate_rows), (2, 1, 1));
        assert_eq!((r.pending, r.stored_unacked, r.stored), (2, 1, Some(5)));
        assert_eq!(r.failed.len(), 4, "{:?}", r.failed);
        assert_eq!(
            read_tag(&r.examples["lost"][0].parse().expect("uuid")).map(|t| t.value),
            Some(1)
        );
        let lenient = Limits {
            max_lost: 2,
            max_duplicates: 2,
            max_errors: 1,
            max_hidden: 1,
            ..Limits::default()
        };
        assert!(judge(&snap(vec![ACKED], 5), None, 1, &lenient, false).passed());
    }
}
