//! One run, end to end: connect the target, run the engine with progress as its
//! callback and SIGINT/SIGTERM as its stop, audit a pipeline run, build the summary and
//! write the run directory. The CLI, capacity's steps and the tests all run plans
//! through here, so a run directory always holds the same files.
//!
//! A run that is killed outright (SIGKILL, the OOM killer) writes no summary, so what
//! its summary is built from goes to disk as the run goes: `run.json` before the first
//! operation, the interval log and `timeline.jsonl` every interval, the ledger's books
//! as memory-mapped files in `ledger.d/` (projections every [`LEDGER_EVERY_NS`]),
//! turned into `ledger.bin` at the end. `eventbench report` rebuilds such a run (`report::journal`).

use crate::audit;
use crate::backend::{self, BackendError};
use crate::engine::{self, EngineError};
use crate::host::{self, Stop};
use crate::plan::Plan;
use crate::report::progress::{Progress, Style};
use crate::report::{RunDir, RunDirError, Summary};

/// How often a pipeline run gives its ledger's pages back to the kernel and writes
/// the readers' projections beside it.
pub const LEDGER_EVERY_NS: u64 = 5_000_000_000;

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
    #[error("{0}")]
    Metrics(String),
    #[error("{0}")]
    Prefill(#[from] crate::prefill::PrefillError),
}

/// The prefill's record, with what the run's readers were given of the history (when
/// a reader started from it: `read_history`).
fn history_read(
    plan: &Plan,
    ledger: &crate::stats::ledger::Ledger,
    p: crate::prefill::Prefilled,
) -> crate::prefill::PrefillRecord {
    let mut record = p.record;
    let reads = plan
        .workloads
        .iter()
        .any(|w| w.kind == crate::scenario::WorkloadKind::Query && w.read_history);
    if let (true, Some(book)) = (reads, ledger.history.get()) {
        let year = plan.data.year_bucket.unwrap_or_else(|| {
            crate::model::GoTime::from_unix_nanos(crate::clock::Clock::start().wall_origin_ns()).utc_year() as i16
        });
        record.read = Some(p.history.reads(p.end_ns, &book.flags(), year));
    }
    record
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
    let target_info = target.describe(plan).await;
    say_created(&target_info);
    // History first: written before the clock starts, so no part of it is measured.
    let prefilled = match &plan.prefill {
        Some(_) if plan.shard.count > 1 => {
            eprintln!(
                "note: [prefill] is not written by a shard (shards start together); write it once first with `eventbench prefill SCENARIO`"
            );
            None
        }
        Some(_) => Some(crate::prefill::run(plan, &target.store, &stop, opts.progress.is_some()).await?),
        None => None,
    };
    let started = plan
        .start_at_ns
        .map_or_else(|| crate::clock::Clock::start().wall_origin_ns(), i128::from);
    let start = crate::report::journal::RunStart::of(plan, run_tag, started);
    dir.write_json("run.json", &start)?;
    let live = crate::report::metrics::Live::new(plan);
    let endpoint = serve_metrics(plan, &live, run_tag, opts.progress.is_some())?;
    let hlog = dir.interval_log()?;
    let mut timeline_log = crate::report::journal::TimelineLog::create(dir)?;
    let mut progress = Progress::new(opts.progress, plan);
    let keeps_ledger = plan.is_pipeline() && plan.audit.enabled;
    // The ledger's books are files of the run directory, mapped: the kernel keeps
    // what a long run's audit needs out of its resident memory, and a killed run
    // leaves them for `report`/`audit` to read.
    let ledger = std::sync::Arc::new(crate::stats::ledger::Ledger::in_dir(
        &engine::ledger_books(plan),
        keeps_ledger.then(|| dir.ledger_dir()).as_deref(),
    ));
    if let Some(p) = &prefilled {
        ledger.watch_history(p.history.tag());
    }
    let mut ledger_at = 0;
    let measured = engine::run(plan, &target, run_tag, hlog, ledger.clone(), stop, &mut |t| {
        progress.interval(t.now, t.workloads, plan);
        if endpoint.is_some() {
            live.interval(t.now, t.workloads, t.last, t.services);
            if let Some(h) = t.host {
                live.host(h);
            }
            if let Some(h) = t.hops {
                live.hops(h);
            }
        }
        // Best effort: the run's own numbers do not depend on these files.
        let _ = timeline_log.append(t.workloads);
        if keeps_ledger && (ledger_at == 0 || t.now >= ledger_at + LEDGER_EVERY_NS) {
            ledger_at = t.now;
            t.ledger.release();
            let _ = dir.write_ledger_projections(&crate::stats::ledger::Snapshot::projection_bytes(t.ledger));
        }
    })
    .await;
    progress.finish();
    let measured = measured?;
    let audit = audit_after(plan, dir, &target, &measured, run_tag).await;
    let mut summary = Summary::build(plan, &measured, audit);
    summary.prefill = prefilled.map(|p| history_read(plan, &ledger, p));
    summary.provenance.target = target_info;
    if endpoint.is_some() {
        live.finish(&measured.workloads, &summary);
    }
    if opts.record_only {
        dir.write_summary(&summary)?;
    } else {
        dir.write_all(&summary)?;
    }
    if let Some(e) = endpoint {
        // A last scrape or two sees the final numbers before the endpoint goes.
        if plan.metrics_linger_ns > 0 {
            tokio::time::sleep(std::time::Duration::from_nanos(plan.metrics_linger_ns)).await;
        }
        drop(e);
    }
    Ok(summary)
}

/// Says what this run made where something may have been expected to exist (a real
/// deployment's topics or keyspace): summary.json keeps the list too.
fn say_created(target_info: &serde_json::Value) {
    for side in ["log", "store"] {
        let made: Vec<&str> = target_info[side]["created"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        if !made.is_empty() {
            let what = if side == "log" {
                "Kafka topics"
            } else {
                "CQL schema objects"
            };
            eprintln!(
                "note: eventbench created {what} that did not exist: {}",
                made.join(", ")
            );
        }
    }
}

/// Live metrics: bound before the first operation, so a bad address fails the run at once.
fn serve_metrics(
    plan: &Plan,
    live: &std::sync::Arc<crate::report::metrics::Live>,
    run_tag: u64,
    say: bool,
) -> Result<Option<crate::report::metrics::Endpoint>, RunError> {
    let Some(addr) = plan.metrics_listen else {
        return Ok(None);
    };
    let registry = crate::report::metrics::registry(live, plan, run_tag);
    let e = crate::report::metrics::Endpoint::serve(addr, registry).map_err(RunError::Metrics)?;
    if say {
        eprintln!("metrics: http://{}/metrics", e.addr);
    }
    Ok(Some(e))
}

/// The integrity audit of a pipeline run: the ledger kept in `ledger.bin` (its working
/// files removed once it is), then read against the store.
async fn audit_after(
    plan: &Plan,
    dir: &RunDir,
    target: &backend::Target,
    measured: &engine::Measured,
    run_tag: u64,
) -> Option<audit::AuditReport> {
    if !(plan.is_pipeline() && plan.audit.enabled) {
        return None;
    }
    let snap = measured.ledger.snapshot();
    let written = dir.write_ledger(&snap);
    if written.is_ok() {
        dir.remove_ledger_dir();
    }
    let years = audit::run::year_buckets(plan, measured.started_wall_ns, measured.elapsed_ns);
    let mut report = audit::run::after_run(plan, &target.store, &snap, run_tag, &years).await;
    if let Err(e) = written {
        report.notes.push(e.to_string());
    }
    Some(report)
}
