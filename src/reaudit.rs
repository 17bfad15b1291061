//! `eventbench audit <run dir>`: judge a finished pipeline run again from its
//! `ledger.bin` and the store as it is now (e.g. after services caught up).

use crate::audit::{self, AuditReport};
use crate::backend::{AnyStore, BackendError, ScyllaStore};
use crate::report::{RunDir, RunDirError};
use crate::scenario::StoreKind;

/// Why a re-audit could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ReauditError {
    #[error("{0}")]
    Dir(#[from] RunDirError),
    /// The run cannot be audited again (e.g. its store lived in its process).
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Store(#[from] BackendError),
}

/// Re-audits the run in `dir`, rewriting `audit.json` and the summary's `audit`.
pub fn reaudit(dir: &RunDir) -> Result<AuditReport, ReauditError> {
    let mut summary = crate::report::journal::summary_of(dir)?;
    let plan = summary.plan().map_err(|why| RunDirError::Invalid {
        path: dir.path().join("summary.json"),
        why,
    })?;
    let snap = dir.read_ledger()?;
    let run_tag = u64::from_str_radix(&summary.run_tag, 16).map_err(|e| RunDirError::Invalid {
        path: dir.path().join("summary.json"),
        why: format!("run_tag: {e}"),
    })?;
    if plan.target.store == StoreKind::Memory {
        let report = match summary.audit.clone() {
            Some(mut a) => {
                a.notes
                    .push("the memory store lived in the run's process: this is the audit it wrote".into());
                a
            }
            // The run died with its store: the ledger it flushed is what is left.
            None => {
                let mut a = audit::judge(&snap, None, run_tag, &plan.audit, plan.services_embedded());
                a.notes.push(
                    "the memory store died with the run's process: judged from the flushed ledger alone (lost = acknowledged, never answered with success, and taken by the service)"
                        .into(),
                );
                a
            }
        };
        summary.audit = Some(report.clone());
        dir.write_summary(&summary)?;
        dir.write_json("audit.json", &report)?;
        return Ok(report);
    }
    let started = crate::model::GoTime::parse_rfc3339(&summary.started_at).map_err(|e| RunDirError::Invalid {
        path: dir.path().join("summary.json"),
        why: format!("started_at: {e}"),
    })?;
    let years = audit::run::year_buckets(&plan, started.unix_nanos(), (summary.elapsed_s * 1e9) as u64);
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ReauditError::Runtime)?
        .block_on(async {
            let store = AnyStore::Scylla(std::sync::Arc::new(ScyllaStore::connect(&plan.target.scylla).await?));
            let view = audit::scan_store(&store, &plan.aggregate_ids(), &years, run_tag, &snap).await?;
            Ok::<_, BackendError>(audit::judge(
                &snap,
                Some(&view),
                run_tag,
                &plan.audit,
                plan.services_embedded(),
            ))
        })?;
    summary.audit = Some(report.clone());
    dir.write_summary(&summary)?;
    dir.write_json("audit.json", &report)?;
    Ok(report)
}
