//! Auditing a pipeline run as it ends: which year buckets to read, the store scanned,
//! the findings judged against the run's ledger.

use super::AuditReport;
use crate::backend::AnyStore;
use crate::plan::Plan;
use crate::stats::ledger::Snapshot;

/// The year buckets a run's events can be in, from its start (wall ns) and length.
pub fn year_buckets(plan: &Plan, origin_wall_ns: i128, elapsed_ns: u64) -> Vec<i16> {
    if let Some(y) = plan.data.year_bucket {
        return vec![y];
    }
    let year = |ns: i128| crate::model::GoTime::from_unix_nanos(ns).utc_year() as i16;
    let (a, b) = (year(origin_wall_ns), year(origin_wall_ns + elapsed_ns as i128));
    if a == b {
        vec![a]
    } else {
        vec![a, b]
    }
}

/// Scans the store for the run's events and judges them against the ledger. A store
/// that cannot be read is a note, and `lost` then means "never answered with success".
pub async fn after_run(plan: &Plan, store: &AnyStore, snap: &Snapshot, run_tag: u64, years: &[i16]) -> AuditReport {
    let mut notes = Vec::new();
    let view = match super::scan_store(store, &plan.aggregate_ids(), years, run_tag, snap).await {
        Ok(v) => Some(v),
        Err(e) => {
            notes.push(format!(
                "the store could not be read ({e}): lost means never answered with success"
            ));
            None
        }
    };
    let mut report = super::judge(snap, view.as_ref(), run_tag, &plan.audit, plan.services_embedded());
    report.notes.extend(notes);
    report
}
