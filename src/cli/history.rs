//! `eventbench history add|show`: a branch's run history and its trend.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};

use super::{CliError, Outcome};
use crate::history::{default_keys, History, Trend};

#[derive(clap::Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: HistoryCommand,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Append runs (run directories, or directories of `run --repeat` runs) to DIR.
    Add {
        dir: PathBuf,
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Their label (default: the git commit each was built from).
        #[arg(long)]
        label: Option<String>,
    },
    /// The trend of chosen statistics over DIR's runs, with change points.
    Show {
        dir: PathBuf,
        /// A statistic, WORKLOAD.STAGE.STAT (repeatable; default: each workload's
        /// headline stage at p50 and p99).
        #[arg(long = "stat", value_name = "KEY")]
        stats: Vec<String>,
        /// The scenario (default: the newest run's).
        #[arg(long)]
        scenario: Option<String>,
        /// Also write the trend page here.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
        /// Exit 6 when a confirmed change point made a statistic worse (for a main
        /// branch's job: host drift and unconfirmed changes never fail it).
        #[arg(long)]
        fail_on_change: bool,
    },
    /// Confirm or refute a change point: the builds on its two sides (binaries or git
    /// refs) compared in pairs on this host (`eventbench gate`), the verdict kept in
    /// DIR/confirmations.jsonl, which `show` reads.
    Confirm {
        dir: PathBuf,
        /// The change point's run (as `show` numbers it).
        #[arg(long)]
        at: usize,
        /// The history's scenario (default: the newest run's).
        #[arg(long = "history-scenario")]
        history_scenario: Option<String>,
        #[command(flatten)]
        gate: Box<super::gate::GateArgs>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ShowFormat {
    Text,
    Json,
}

fn history_error(e: crate::history::HistoryError) -> CliError {
    if e.is_input() {
        CliError::Input(e.to_string())
    } else {
        CliError::Runtime(e.to_string())
    }
}

pub fn history(a: HistoryArgs) -> Result<Outcome, CliError> {
    match a.command {
        HistoryCommand::Add { dir, runs, label } => {
            let mut entries = Vec::new();
            for p in &runs {
                for r in crate::compare::Run::open_all(p)? {
                    entries.push(crate::history::Entry::of(&r.path, &r.summary, label.as_deref()));
                }
            }
            History::append(&dir, &entries).map_err(history_error)?;
            println!(
                "history: {} runs appended to {}",
                entries.len(),
                dir.join(crate::history::FILE).display()
            );
            Ok(Outcome::Ok)
        }
        HistoryCommand::Show {
            dir,
            stats,
            scenario,
            html,
            format,
            fail_on_change,
        } => {
            let h = History::open(&dir).map_err(history_error)?;
            let (scenario, entries) = of_scenario(&h, scenario)?;
            let keys = if stats.is_empty() {
                default_keys(&entries)
            } else {
                stats
            };
            for k in &keys {
                k.parse::<crate::report::values::Key>()
                    .map_err(|e| CliError::Input(format!("--stat {e}")))?;
            }
            let known = crate::history::changes::confirmations(&dir);
            let trends: Vec<Trend> = keys.iter().map(|k| Trend::of(&entries, k, &known)).collect();
            match format {
                ShowFormat::Text => print!("{}", crate::history::text(&scenario, &trends)),
                ShowFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&trends).map_err(|e| CliError::Runtime(e.to_string()))?
                ),
            }
            if let Some(path) = html {
                std::fs::write(&path, crate::history::html(&scenario, entries.len(), &trends))
                    .map_err(|e| CliError::Runtime(format!("{}: {e}", path.display())))?;
                println!("trend page: {}", path.display());
            }
            let confirmed_worse = trends
                .iter()
                .flat_map(|t| &t.changes)
                .any(|c| c.kind == crate::history::changes::Kind::Confirmed && c.worse());
            Ok(if fail_on_change && confirmed_worse {
                Outcome::Regression
            } else {
                Outcome::Ok
            })
        }
        HistoryCommand::Confirm {
            dir,
            at,
            history_scenario,
            gate,
        } => confirm(&dir, at, history_scenario, &gate),
    }
}

/// The history's runs of `scenario` (default: the newest run's), in order.
fn of_scenario(h: &History, scenario: Option<String>) -> Result<(String, Vec<&crate::history::Entry>), CliError> {
    let scenario = scenario
        .or_else(|| h.entries.last().map(|e| e.scenario.clone()))
        .ok_or_else(|| {
            CliError::Input(format!(
                "{}: no runs in this history",
                h.path.join(crate::history::FILE).display()
            ))
        })?;
    let entries = h.entries.iter().filter(|e| e.scenario == scenario).collect();
    Ok((scenario, entries))
}

/// `history confirm`: the gate on the change point's two builds, its verdict recorded.
fn confirm(dir: &Path, at: usize, scenario: Option<String>, gate: &super::gate::GateArgs) -> Result<Outcome, CliError> {
    use crate::history::changes::{boundary, record, Confirmation};
    let h = History::open(dir).map_err(history_error)?;
    let (scenario, entries) = of_scenario(&h, scenario)?;
    let (before, after) = boundary(&entries, at).ok_or_else(|| {
        CliError::Input(format!(
            "run {at} of {scenario:?} is not beside a commit boundary: the runs around it are of one commit (host drift), nothing to confirm"
        ))
    })?;
    let (c, _) = super::gate::judge(gate)?;
    // The gated rows decide, as they decide the gate (the others are shown, not judged).
    let confirmed = c.rows.iter().any(|r| {
        r.gated
            && matches!(
                r.verdict,
                crate::compare::Change::Slower | crate::compare::Change::Faster
            )
    });
    let k = Confirmation {
        scenario: scenario.clone(),
        before: before.clone(),
        after: after.clone(),
        verdict: c.verdict.to_string(),
        confirmed,
        out: gate.out.display().to_string(),
        at: crate::model::GoTime::from_unix_nanos(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i128),
        )
        .to_string(),
    };
    record(dir, &k).map_err(history_error)?;
    println!(
        "{} {before} -> {after} of {scenario}: the paired comparison says {} ({} regressions); recorded in {}",
        if confirmed { "confirmed" } else { "refuted" },
        c.verdict,
        c.regressions,
        dir.join(crate::history::changes::CONFIRMATIONS).display()
    );
    Ok(Outcome::Ok)
}
