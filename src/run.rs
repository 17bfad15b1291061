//! One run, end to end: connect the target, run the engine with progress as its
//! callback and SIGINT/SIGTERM as its stop, audit a pipeline run, build the summary and
//! write the run directory. The CLI, capacity's steps and the tests all run plans
//! through here, so a run directory always holds the same files.

use crate::audit;
use crate::backend::{self, BackendError};
use crate::engine::{self, EngineError};
use crate::host::{self, Stop};
use crate::plan::Plan;
use crate::report::progress::{Progress, Style};
use crate::report::{RunDir, RunDirError, Summary};

/// How a run is shown and recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Live progress on stderr: `None` for none.
    pub progress: Option<Style>,
    /// Only summary.json and latency.hlog (capacity's many steps need no views).
    pub record_only: bool,
}

/// Why a run could not be carried out (exit 1: the scenario was valid).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Dir(#[from] RunDirError),
}

/// Runs `plan` into `dir` on a fresh runtime, stopping early on SIGINT/SIGTERM.
pub fn run_to_dir(plan: &Plan, dir: &RunDir, opts: RunOptions) -> Result<Summary, RunError> {
    host::raise_fd_limit();
    let rt = host::runtime(plan.threads).map_err(RunError::Runtime)?;
    let summary = rt.block_on(async { run_in(plan, dir, opts, Stop::on_signals()).await });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    summary
}

/// Runs `plan` into `dir` on the current runtime, ending early when `stop` is asked.
pub async fn run_in(plan: &Plan, dir: &RunDir, opts: RunOptions, stop: Stop) -> Result<Summary, RunError> {
    let run_tag = crate::model::tag::new_run_tag();
    let target = backend::connect(plan, run_tag).await?;
    let hlog = dir.interval_log()?;
    let mut progress = Progress::new(opts.progress, plan);
    let measured = engine::run(plan, &target, run_tag, hlog, stop, &mut |now, timeline| {
        progress.interval(now, timeline, plan)
    })
    .await;
    progress.finish();
    let measured = measured?;
    let audit = if plan.is_pipeline() && plan.audit.enabled {
        let snap = measured.ledger.snapshot();
        let written = dir.write_ledger(&snap);
        let years = audit::run::year_buckets(plan, measured.started_wall_ns, measured.elapsed_ns);
        let mut report = audit::run::after_run(plan, &target.store, &snap, run_tag, &years).await;
        if let Err(e) = written {
            report.notes.push(e.to_string());
        }
        Some(report)
    } else {
        None
    };
    let summary = Summary::build(plan, &measured, audit);
    if opts.record_only {
        dir.write_summary(&summary)?;
    } else {
        dir.write_all(&summary)?;
    }
    Ok(summary)
}
