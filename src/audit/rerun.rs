//! `eventbench audit <run dir>`: judge a finished pipeline run again from its
//! `ledger.bin` and the store as it is now (e.g. after services caught up).

use std::path::Path;

use super::ledger::Snapshot;
use super::AuditReport;
use crate::backend::{AnyStore, ScyllaStore};
use crate::plan::Plan;
use crate::report::Summary;
use crate::scenario::StoreKind;

/// Re-audits the run in `dir`, rewriting `audit.json` and the summary's `audit`.
pub fn rerun(dir: &Path) -> Result<AuditReport, String> {
    let summary_path = dir.join("summary.json");
    let text = std::fs::read(&summary_path).map_err(|e| format!("cannot read {}: {e}", summary_path.display()))?;
    let mut summary: Summary = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not an eventbench summary: {e}", summary_path.display()))?;
    let scenario = crate::scenario::parse(
        &format!("{} (as run)", summary_path.display()),
        &summary.scenario.text,
        &summary.scenario.overrides,
    )
    .map_err(|e| e.to_string())?;
    let plan = Plan::from_scenario(&scenario);
    let ledger_path = dir.join("ledger.bin");
    let snap = std::fs::File::open(&ledger_path)
        .and_then(|f| Snapshot::read(&mut std::io::BufReader::new(f)))
        .map_err(|e| {
            format!(
                "cannot read {}: {e} (only pipeline runs have a ledger)",
                ledger_path.display()
            )
        })?;
    let run_tag = u64::from_str_radix(&summary.run_tag, 16).map_err(|e| format!("run_tag: {e}"))?;
    if plan.target.store == StoreKind::Memory {
        return summary
            .audit
            .clone()
            .ok_or_else(|| "the run used the memory store and wrote no audit".to_string())
            .map(|mut a| {
                a.notes
                    .push("the memory store lived in the run's process: this is the audit it wrote".into());
                a
            });
    }
    let started = crate::model::GoTime::parse_rfc3339(&summary.started_at).map_err(|e| format!("started_at: {e}"))?;
    let years = {
        let y0 = started.utc_year() as i16;
        let y1 = crate::model::GoTime::from_unix_nanos(started.unix_nanos() + (summary.elapsed_s * 1e9) as i128)
            .utc_year() as i16;
        match plan.data.year_bucket {
            Some(y) => vec![y],
            None if y0 == y1 => vec![y0],
            None => vec![y0, y1],
        }
    };
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(async {
            let store = AnyStore::Scylla(std::sync::Arc::new(
                ScyllaStore::connect(&plan.target.scylla)
                    .await
                    .map_err(|e| e.to_string())?,
            ));
            let view = super::scan_store(&store, &plan.aggregate_ids(), &years, run_tag)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(super::judge(&snap, Some(&view), run_tag, &plan.audit))
        })?;
    summary.audit = Some(report.clone());
    crate::report::write_summary(dir, &summary).map_err(|e| e.to_string())?;
    let json = serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("audit.json"), json).map_err(|e| e.to_string())?;
    Ok(report)
}
