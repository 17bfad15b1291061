//! The integrity audit of a pipeline run: from what was sent and answered (the
//! [`ledger`](crate::stats::ledger)) and what the store holds, count the events that were lost,
//! duplicated, answered with an error, or stamped with a version no later query can
//! return (the original services' version race).

pub mod run;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::backend::{AnyStore, BackendError, Ctx, EventStore};
use crate::clock::Clock;
use crate::model::tag::{read_tag, tagged};
use crate::scenario::Audit as Limits;

use crate::stats::ledger::{Snapshot, ACKED, FINISHED, QUERIED, REPLIED_AGAIN, REPLIED_ERR, REPLIED_OK};

/// What the store holds of one of the run's events.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    /// Rows with this event's uuid (one unless it was stored under two versions).
    pub rows: u32,
    pub max_version: i64,
    pub aggregate: i8,
}

/// The run's events found in the store, by (workload, operation index).
pub type StoreView = HashMap<(usize, u64), Stored>;

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
    /// In the store although the log never acknowledged them (a timed-out send that
    /// did arrive).
    pub stored_unacked: u64,
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

/// Reads every event of the run from the store.
pub async fn scan_store(
    store: &AnyStore,
    aggregates: &[i8],
    years: &[i16],
    run_tag: u64,
) -> Result<StoreView, BackendError> {
    let mut ctx = Ctx::new(Clock::start(), 0);
    let mut view = StoreView::new();
    let mut rows = Vec::new();
    for &year in years {
        for &agg in aggregates {
            rows.clear();
            store
                .select_events(&mut ctx, year, agg, -1, i64::MAX, &mut rows)
                .await?;
            for e in &rows {
                add_row(&mut view, run_tag, e.aggregate_id, e.version, &e.uuid);
            }
        }
    }
    if let AnyStore::Memory(m) = store {
        for (a, v, u) in m.trimmed_events() {
            add_row(&mut view, run_tag, a, v, &uuid::Uuid::from_u128(u));
        }
    }
    Ok(view)
}

fn add_row(view: &mut StoreView, run_tag: u64, aggregate: i8, version: i64, uuid: &uuid::Uuid) {
    let Some(tag) = read_tag(uuid).filter(|t| t.run_tag == run_tag) else {
        return;
    };
    let s = view.entry((tag.workload, tag.value)).or_insert(Stored {
        rows: 0,
        max_version: i64::MIN,
        aggregate,
    });
    s.rows += 1;
    s.max_version = s.max_version.max(version);
}

/// Judges the run from its ledger and (when it could be read) the store. `tracked`:
/// the persistence service was embedded and marked what it finished.
pub fn judge(snap: &Snapshot, store: Option<&StoreView>, run_tag: u64, limits: &Limits, tracked: bool) -> AuditReport {
    let mut r = AuditReport {
        readers: snap.projections.iter().any(|p| *p != i64::MIN),
        stored: store.map(|s| s.len() as u64),
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
            let row = store.and_then(|s| s.get(&(w, i)));
            let lost = match store {
                Some(_) => acked && row.is_none(),
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
            let extra_rows = row.map_or(0, |s| s.rows.saturating_sub(1) as u64);
            r.duplicate_rows += extra_rows;
            if f & REPLIED_AGAIN != 0 {
                r.redelivered += 1;
            }
            if extra_rows > 0 || f & REPLIED_AGAIN != 0 {
                r.duplicates += 1;
                note("duplicates", w, i);
            }
            if let Some(s) = row {
                r.stored_unacked += !acked as u64;
                let a = s.aggregate as u8 as usize;
                let (floor, projection) = (snap.floors[a], snap.projections[a]);
                if f & QUERIED == 0 && projection != i64::MIN {
                    if s.max_version <= floor {
                        r.unreachable_epochs += 1;
                    } else if s.max_version <= projection {
                        r.hidden += 1;
                        note("hidden", w, i);
                    } else {
                        r.pending += 1;
                    }
                }
            }
        }
    }
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
        self.stored_unacked += b.stored_unacked;
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

    fn stored(entries: &[(u64, u32, i64)]) -> StoreView {
        entries
            .iter()
            .map(|&(i, rows, v)| {
                (
                    (0, i),
                    Stored {
                        rows,
                        max_version: v,
                        aggregate: 7,
                    },
                )
            })
            .collect()
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
        let view = stored(&[(0, 1, 3), (2, 1, 9), (4, 1, 4), (5, 1, 1), (6, 2, 8)]);
        let r = judge(&snap(flags, 5), Some(&view), 0xabc, &Limits::default(), false);
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
