//! `run`, `validate` and `serve`: the commands that take a scenario.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::{load, outcome, CliError, Outcome, ScenarioArgs};
use crate::report::progress::Style;
use crate::report::RunDir;
use crate::run::{run_to_dir, RunOptions};
use crate::service::ServiceKind;

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Run directory (default: reports/<scenario>/<UTC time>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
    /// Run only share i of n (from 0) of every workload's operations: n generators
    /// with --shard 0/n .. n-1/n together run exactly the scenario's load.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// An unhealthy run (generator-limited or target-saturated) exits 0, not 4: for a
    /// deliberate overload. The same as `allow_unhealthy = true` in the scenario.
    #[arg(long)]
    allow_unhealthy: bool,
    /// Start the schedule at this wall time (RFC 3339, or seconds since the Unix epoch),
    /// so shards on several machines share one origin; setup happens before it.
    #[arg(long, value_name = "TIME")]
    start_at: Option<String>,
    /// Serve live Prometheus metrics at http://ADDR/metrics while the run goes (the
    /// same as `[metrics] listen`); port 0 picks a free one and prints it.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Keep the metrics endpoint up this long after the run, so a last scrape sees the
    /// final numbers (e.g. 30s for a 15 s scrape interval).
    #[arg(long, value_name = "DURATION")]
    metrics_linger: Option<humantime::Duration>,
    /// Run the scenario N times, one after another, into OUT/run-1 .. OUT/run-N: one side
    /// of a comparison whose between-run noise `compare` then measures.
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: usize,
    /// Append each run to the history in DIR (history.jsonl), e.g. on the main branch.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
    /// The label of the runs in the history (default: the build's git commit).
    #[arg(long, value_name = "LABEL", requires = "history")]
    label: Option<String>,
}

/// `--start-at`: RFC 3339 or epoch seconds, as ns since the Unix epoch.
fn parse_start_at(s: &str) -> Result<i64, CliError> {
    if let Ok(secs) = s.trim().parse::<f64>() {
        if secs.is_finite() && (0.0..9.2e9).contains(&secs) {
            return Ok((secs * 1e9) as i64);
        }
    }
    crate::model::GoTime::parse_rfc3339(s.trim())
        .map(|t| t.unix_nanos() as i64)
        .map_err(|e| CliError::Input(format!("--start-at {s:?}: expected RFC 3339 or epoch seconds ({e})")))
}

#[derive(clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
}

#[derive(clap::Args)]
pub struct PrefillArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(value_enum)]
    service: ServiceKind,
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Concurrent handlers (default: the scenario's `target.<service>.workers`).
    #[arg(long)]
    workers: Option<usize>,
}

/// Writes the history and prints its record (summary.json's `prefill`) as JSON.
pub fn prefill(a: PrefillArgs) -> Result<Outcome, CliError> {
    let plan = load(&a.scenario)?;
    if plan.prefill.is_none() {
        return Err(CliError::Input(format!(
            "{}: the scenario has no [prefill]",
            a.scenario.scenario.display()
        )));
    }
    crate::host::raise_fd_limit();
    let rt = crate::host::runtime(plan.threads).map_err(|e| CliError::Runtime(e.to_string()))?;
    let (done, stop) = rt.block_on(async {
        let stop = crate::host::Stop::on_signals();
        let target = crate::backend::connect(&plan, 0)
            .await
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        let done = crate::prefill::run(&plan, &target.store, &stop, !a.quiet)
            .await
            .map_err(|e| CliError::Runtime(e.to_string()))?;
        Ok::<_, CliError>((done, stop))
    })?;
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    let j = serde_json::to_string_pretty(&done.record).map_err(|e| CliError::Runtime(e.to_string()))?;
    println!("{j}");
    if stop.reason().is_some() {
        return Ok(Outcome::Interrupted);
    }
    Ok(Outcome::Ok)
}

pub fn run(a: RunArgs) -> Result<Outcome, CliError> {
    let flags = crate::plan::RunFlags {
        allow_unhealthy: a.allow_unhealthy,
        start_at_ns: a.start_at.as_deref().map(parse_start_at).transpose()?,
        metrics_listen: a.metrics_listen,
        metrics_linger_ns: a.metrics_linger.map(|d| d.as_nanos() as u64),
        shard: a
            .shard
            .as_deref()
            .map(crate::plan::Shard::parse)
            .transpose()
            .map_err(CliError::Input)?,
    };
    let plan = load(&a.scenario)?.with_flags(flags);
    let path = a.out.clone().unwrap_or_else(|| {
        RunDir::default_path(
            &plan.name,
            crate::clock::Clock::start().wall_origin_ns(),
            plan.shard,
            "",
        )
    });
    if a.repeat == 0 {
        return Err(CliError::Input("--repeat 0: give at least 1".into()));
    }
    let progress = if a.quiet {
        None
    } else if std::io::stderr().is_terminal() {
        Some(Style::Bar)
    } else {
        Some(Style::Lines)
    };
    let mut worst = Outcome::Ok;
    for i in 1..=a.repeat {
        let path = if a.repeat > 1 {
            path.join(format!("run-{i}"))
        } else {
            path.clone()
        };
        let dir = RunDir::create(&path)?;
        let opts = RunOptions {
            progress,
            record_only: false,
        };
        let summary = run_to_dir(&plan, &dir, opts).inspect_err(|_| {
            // A run that never started (an unreachable or refusing target) leaves no
            // empty run directory behind (remove_dir only takes an empty one).
            let _ = std::fs::remove_dir(dir.path());
        })?;
        if a.repeat > 1 {
            println!("== run {i} of {}", a.repeat);
        }
        print!("{}", crate::report::text::render(&summary));
        println!("report: {}", dir.path().display());
        if let Some(h) = &a.history {
            let entry = crate::history::Entry::of(dir.path(), &summary, a.label.as_deref());
            crate::history::History::append(h, &[entry]).map_err(|e| CliError::Runtime(e.to_string()))?;
            println!("history: appended to {}", h.join(crate::history::FILE).display());
        }
        let o = outcome(&summary);
        worst = worse(worst, o);
        if o == Outcome::Interrupted {
            break;
        }
    }
    Ok(worst)
}

pub fn validate(a: ValidateArgs) -> Result<Outcome, CliError> {
    let plan = load(&a.scenario)?;
    let mut value = serde_json::to_value(&plan).map_err(|e| CliError::Runtime(e.to_string()))?;
    let secrets =
        crate::scenario::secrets::Secrets::of_resolved(&plan.scenario_text, &plan.overrides, &plan.secret_keys, &value);
    secrets.json(&mut value);
    let json = serde_json::to_string_pretty(&value).map_err(|e| CliError::Runtime(e.to_string()))?;
    println!("{json}");
    for f in &plan.faults {
        // A scenario that runs commands says so before it is run.
        for cmd in f.run.iter().chain(&f.then) {
            eprintln!(
                "runs a command: `{}` ({})",
                secrets.message(cmd),
                secrets.message(&f.describe())
            );
        }
    }
    eprintln!("{}: ok", a.scenario.scenario.display());
    Ok(Outcome::Ok)
}

pub fn serve(a: ServeArgs) -> Result<Outcome, CliError> {
    let plan = load(&a.scenario)?;
    let workers = a.workers.unwrap_or_else(|| a.service.workers(&plan)).max(1);
    let rt =
        crate::host::runtime(plan.threads).map_err(|e| CliError::Runtime(format!("cannot start the runtime: {e}")))?;
    let which = a.service;
    let stats = rt
        .block_on(async { crate::service::serve::serve(&plan, which, workers, crate::host::Stop::on_signals()).await });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    let s = stats.map_err(|e| CliError::Runtime(e.to_string()))?;
    println!(
        "{which:?}: {} consumed, {} replied, {} malformed, {} failed",
        s.consumed, s.replied, s.malformed, s.failed
    );
    Ok(Outcome::Ok)
}

/// The outcome that decides the exit code when several runs ended differently: the
/// runs' own precedence (`report::outcome::RunOutcome`), with a regression (compare's
/// own outcome) after every run outcome but passing.
fn worse(a: Outcome, b: Outcome) -> Outcome {
    use crate::report::outcome::RunOutcome as R;
    let rank = |o: Outcome| match o {
        Outcome::Interrupted => R::Interrupted as u8,
        Outcome::Aborted => R::Aborted as u8,
        Outcome::Incomplete => R::Incomplete as u8,
        Outcome::AuditFailed => R::AuditFailed as u8,
        Outcome::ThresholdsFailed => R::ThresholdsFailed as u8,
        Outcome::Unhealthy => R::Unhealthy as u8,
        Outcome::HostLimited => R::HostLimited as u8,
        Outcome::Regression => R::Passed as u8,
        Outcome::Ok => R::Passed as u8 + 1,
    };
    if rank(b) < rank(a) {
        b
    } else {
        a
    }
}
