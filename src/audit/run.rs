//! Running the audit at the end of a pipeline run: which year buckets to read, the
//! ledger written beside the report, the store scanned, the findings judged.

use std::path::Path;

use super::ledger::Ledger;
use super::AuditReport;
use crate::backend::AnyStore;
use crate::plan::Plan;

/// The year buckets the run's events can be in.
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

/// Runs the integrity audit and writes `ledger.bin` (what `eventbench audit` re-reads).
pub async fn after_run(
    plan: &Plan,
    store: &AnyStore,
    ledger: &Ledger,
    run_tag: u64,
    aggregates: &[i8],
    years: &[i16],
    dir: &Path,
) -> AuditReport {
    let snap = ledger.snapshot();
    let mut notes = Vec::new();
    let path = dir.join("ledger.bin");
    let written = std::fs::File::create(&path)
        .map(std::io::BufWriter::new)
        .and_then(|mut f| {
            snap.write(&mut f)?;
            std::io::Write::flush(&mut f)
        });
    if let Err(e) = written {
        notes.push(format!("cannot write {}: {e}", path.display()));
    }
    let view = match crate::audit::scan_store(store, aggregates, years, run_tag).await {
        Ok(v) => Some(v),
        Err(e) => {
            notes.push(format!(
                "the store could not be read ({e}): lost means never answered with success"
            ));
            None
        }
    };
    let mut report = crate::audit::judge(&snap, view.as_ref(), run_tag, &plan.audit);
    report.notes.extend(notes);
    report
}
