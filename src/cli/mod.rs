//! The command line: one `Args` struct per subcommand, and one place ([`exit_code`])
//! that turns every outcome into a documented exit code, ripgrep-style. Handlers live
//! beside this file by concern: [`runs`] (run, validate, serve), [`tools`] (audit,
//! compare, merge, report, capacity) and [`gen`].
//!
//! Exit codes, one per way a command can end, so a pipeline can tell them apart:
//! 0 success; 1 runtime failure; 2 invalid input or usage; 3 a threshold failed; 4 the
//! run was unhealthy (generator-limited or target-saturated; `allow_unhealthy` opts
//! out); 9 the run was host-limited (the machine held the generator: nothing was
//! learned about the target; `allow_unhealthy` opts out too); 5 the integrity audit failed (events lost, duplicated, hidden); 6 compare
//! found a regression (or, with `--fail-on-inconclusive`, could not rule one out); 7 a
//! sustained threshold breach aborted the run; 8 the report is incomplete (a run or
//! shard died and was rebuilt from what it flushed); 130 interrupted by SIGINT/SIGTERM
//! (the report of what was measured is written). When several apply, the first in the
//! order 130, 7, 8, 5, 3, 4, 9 wins (9 only when every unhealthy workload was host-limited).

mod fit;
mod gate;
mod gen;
mod history;
mod runs;
mod tools;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub const EXIT_OK: i32 = 0;
pub const EXIT_RUNTIME: i32 = 1;
pub const EXIT_INPUT: i32 = 2;
pub const EXIT_THRESHOLDS: i32 = 3;
pub const EXIT_UNHEALTHY: i32 = 4;
pub const EXIT_AUDIT: i32 = 5;
pub const EXIT_REGRESSION: i32 = 6;
pub const EXIT_ABORTED: i32 = 7;
pub const EXIT_INCOMPLETE: i32 = 8;
pub const EXIT_HOST_LIMITED: i32 = 9;
/// `gate` could not judge: the base does not build or cannot read the scenario, or a
/// side made fewer than two runs.
pub const EXIT_GATE: i32 = 10;
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Parser)]
#[command(
    name = "eventbench",
    version,
    about = "Benchmark and load generator for event stores on Kafka and ScyllaDB/Cassandra"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its report directory.
    Run(runs::RunArgs),
    /// Run one reference service (against the scenario's target) until Ctrl-C.
    Serve(runs::ServeArgs),
    /// Audit a pipeline run again: re-read the store and judge it with the run's ledger.
    Audit(tools::AuditArgs),
    /// Compare two runs (run directories or summary.json files) stage by stage.
    Compare(tools::CompareArgs),
    /// The CI gate: the base build and this one in alternating pairs, compared paired,
    /// with Markdown, JSON, JUnit, Bencher and github-action-benchmark outputs.
    Gate(gate::GateArgs),
    /// A scenario fitted from a real topic's window of seed Events (read-only: joins no
    /// group, commits nothing): the rate curve, aggregates, payloads, actions, users.
    Fit(fit::FitArgs),
    /// A topic window's seed Events with their timestamps, into a file a `replay`
    /// workload sends again (read-only, like fit).
    Capture(fit::CaptureArgs),
    /// A branch's run history: append runs, show their trend and change points.
    History(history::HistoryArgs),
    /// Find the highest rate a workload sustains under SLOs (steady steps: a ladder, then bisection).
    Capacity(tools::CapacityArgs),
    /// Combine runs of one scenario (e.g. --shard parts) into one run directory.
    Merge(tools::MergeArgs),
    /// Rebuild a run directory's report.html from its summary.json and latency.hlog.
    Report(tools::ReportArgs),
    /// Check a scenario and print the resolved plan.
    Validate(runs::ValidateArgs),
    /// Write a scenario's `[prefill]` history into its store (what `run` does first;
    /// once before sharded runs), resuming where an earlier one stopped.
    Prefill(runs::PrefillArgs),
    /// Print synthetic event-store models as JSON Lines (the exact Go wire format).
    Gen(gen::GenArgs),
}

/// The scenario file and its `--set` overrides, as every scenario command takes them.
#[derive(clap::Args, Debug, Clone)]
pub struct ScenarioArgs {
    pub scenario: PathBuf,
    /// Override a scenario value by dotted path, e.g. workload.producers.rate=2000.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// How a command that did its work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A threshold failed.
    ThresholdsFailed,
    /// Every check passed, but a workload was generator-limited or target-saturated.
    Unhealthy,
    /// The integrity audit failed: events lost, duplicated or hidden.
    AuditFailed,
    /// compare found a regression.
    Regression,
    /// A sustained threshold breach ended the run early.
    Aborted,
    /// The report was rebuilt from what a run (or a merged shard) flushed before it died.
    Incomplete,
    /// Every unhealthy workload was held by the host (hiccup meter, other processes,
    /// steal): the run says nothing about the target; run it again on a quieter machine.
    HostLimited,
    /// A signal ended the run; its report is written.
    Interrupted,
}

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// What the user gave is wrong: a scenario, a flag, a path.
    #[error("{0}")]
    Input(String),
    /// The machine or the target failed.
    #[error("{0}")]
    Runtime(String),
    /// `gate` could not compare the builds (never a pass).
    #[error("{0}")]
    Gate(String),
}

impl From<crate::scenario::ScenarioError> for CliError {
    fn from(e: crate::scenario::ScenarioError) -> CliError {
        CliError::Input(e.to_string())
    }
}

impl From<crate::report::RunDirError> for CliError {
    fn from(e: crate::report::RunDirError) -> CliError {
        if e.is_input() {
            CliError::Input(e.to_string())
        } else {
            CliError::Runtime(e.to_string())
        }
    }
}

impl From<crate::run::RunError> for CliError {
    fn from(e: crate::run::RunError) -> CliError {
        CliError::Runtime(e.to_string())
    }
}

/// The one mapping from outcomes to exit codes.
pub fn exit_code(r: &Result<Outcome, CliError>) -> i32 {
    match r {
        Ok(Outcome::Ok) => EXIT_OK,
        Ok(Outcome::ThresholdsFailed) => EXIT_THRESHOLDS,
        Ok(Outcome::Unhealthy) => EXIT_UNHEALTHY,
        Ok(Outcome::AuditFailed) => EXIT_AUDIT,
        Ok(Outcome::Regression) => EXIT_REGRESSION,
        Ok(Outcome::Aborted) => EXIT_ABORTED,
        Ok(Outcome::Incomplete) => EXIT_INCOMPLETE,
        Ok(Outcome::HostLimited) => EXIT_HOST_LIMITED,
        Ok(Outcome::Interrupted) => EXIT_INTERRUPTED,
        Err(CliError::Input(_)) => EXIT_INPUT,
        Err(CliError::Runtime(_)) => EXIT_RUNTIME,
        Err(CliError::Gate(_)) => EXIT_GATE,
    }
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Run(a) => runs::run(a),
        Command::Validate(a) => runs::validate(a),
        Command::Prefill(a) => runs::prefill(a),
        Command::Serve(a) => runs::serve(a),
        Command::Audit(a) => tools::audit(a),
        Command::Capacity(a) => tools::capacity(a),
        Command::Merge(a) => tools::merge(a),
        Command::Compare(a) => tools::compare(a),
        Command::Gate(a) => gate::gate(a),
        Command::Fit(a) => fit::fit(a),
        Command::Capture(a) => fit::capture(a),
        Command::Report(a) => tools::report(a),
        Command::History(a) => history::history(a),
        Command::Gen(a) => gen::gen(a),
    };
    if let Err(e) = &result {
        eprintln!("error: {e}");
    }
    exit_code(&result)
}

/// Loads a scenario into a plan.
fn load(a: &ScenarioArgs) -> Result<crate::plan::Plan, CliError> {
    let loaded = load_scenario(a)?;
    Ok(crate::plan::Plan::from_loaded(&loaded))
}

/// Loads a scenario, printing what it should change (a literal secret) on stderr.
fn load_scenario(a: &ScenarioArgs) -> Result<crate::scenario::Loaded, CliError> {
    let loaded = crate::scenario::load(&a.scenario, &a.set)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    Ok(loaded)
}

/// A run's outcome from its summary (decided once, in `report::outcome`).
fn outcome(s: &crate::report::Summary) -> Outcome {
    outcome_of(s.outcome())
}

/// A run's outcome as the CLI's: one mapping, so each exit code means one outcome.
fn outcome_of(o: crate::report::outcome::RunOutcome) -> Outcome {
    use crate::report::outcome::RunOutcome;
    match o {
        RunOutcome::Interrupted => Outcome::Interrupted,
        RunOutcome::Aborted => Outcome::Aborted,
        RunOutcome::Incomplete => Outcome::Incomplete,
        RunOutcome::AuditFailed => Outcome::AuditFailed,
        RunOutcome::ThresholdsFailed => Outcome::ThresholdsFailed,
        RunOutcome::Unhealthy => Outcome::Unhealthy,
        RunOutcome::HostLimited => Outcome::HostLimited,
        RunOutcome::Passed => Outcome::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_documented_code() {
        assert_eq!(exit_code(&Ok(Outcome::Ok)), 0);
        assert_eq!(exit_code(&Err(CliError::Runtime("x".into()))), 1);
        assert_eq!(exit_code(&Err(CliError::Input("x".into()))), 2);
        assert_eq!(exit_code(&Err(CliError::Gate("x".into()))), 10);
        assert_eq!(exit_code(&Ok(Outcome::ThresholdsFailed)), 3);
        assert_eq!(exit_code(&Ok(Outcome::Unhealthy)), 4);
        assert_eq!(exit_code(&Ok(Outcome::AuditFailed)), 5);
        assert_eq!(exit_code(&Ok(Outcome::Regression)), 6);
        assert_eq!(exit_code(&Ok(Outcome::Aborted)), 7);
        assert_eq!(exit_code(&Ok(Outcome::Incomplete)), 8);
        assert_eq!(exit_code(&Ok(Outcome::HostLimited)), 9);
        assert_eq!(exit_code(&Ok(Outcome::Interrupted)), 130);
        let missing = crate::report::RunDir::open(std::path::Path::new("/nonexistent/run")).expect_err("missing");
        assert!(matches!(CliError::from(missing), CliError::Input(_)));
    }
}
