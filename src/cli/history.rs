//! `eventbench history add|show`: a branch's run history and its trend.

use std::path::PathBuf;

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
        } => {
            let h = History::open(&dir).map_err(history_error)?;
            let scenario = scenario
                .or_else(|| h.entries.last().map(|e| e.scenario.clone()))
                .ok_or_else(|| {
                    CliError::Input(format!(
                        "{}: no runs in this history",
                        dir.join(crate::history::FILE).display()
                    ))
                })?;
            let entries: Vec<_> = h.entries.iter().filter(|e| e.scenario == scenario).collect();
            let keys = if stats.is_empty() {
                default_keys(&entries)
            } else {
                stats
            };
            for k in &keys {
                k.parse::<crate::report::values::Key>()
                    .map_err(|e| CliError::Input(format!("--stat {e}")))?;
            }
            let trends: Vec<Trend> = keys.iter().map(|k| Trend::of(&entries, k)).collect();
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
            Ok(Outcome::Ok)
        }
    }
}
