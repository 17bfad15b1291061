//! What a scenario file may say. Every table refuses unknown keys, so a typo is an
//! error that names its line, never a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::units::Dur;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What validation parsed, kept so nothing is parsed twice: filled by
    /// `scenario::parse`/`load`, empty on a scenario deserialized by hand.
    #[serde(skip)]
    pub checked: Checked,
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice: same seed and scenario, same events.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Total run time; may be left out when every workload has phases.
    pub duration: Option<Spanned<Dur>>,
    /// Leading time whose intervals are logged but left out of the summary.
    #[serde(default = "default_warmup")]
    pub warmup: Spanned<Dur>,
    /// Length of one histogram interval in the interval log.
    #[serde(default = "default_interval")]
    pub interval: Spanned<Dur>,
    /// How long to wait for outstanding replies after the last operation was issued.
    #[serde(default = "default_drain")]
    pub drain: Dur,
    /// Tokio worker threads; 0 means one per core.
    #[serde(default)]
    pub threads: usize,
    /// More settings whose values are secrets, beside the ones eventbench knows
    /// (passwords, tokens, keys in PEM, ...): a key (`"sasl.oauthbearer.extensions"`) or
    /// the end of a dotted path. Their values are redacted wherever the scenario is recorded.
    #[serde(default)]
    pub secret_keys: Vec<String>,
    #[serde(default)]
    pub target: Target,
    #[serde(default)]
    pub data: Data,
    pub workload: Spanned<BTreeMap<String, Spanned<Workload>>>,
    #[serde(default)]
    pub audit: Audit,
    /// Live Prometheus metrics while the run goes (`run --metrics-listen` overrides).
    #[serde(default)]
    pub metrics: Metrics,
    /// Conditions for a CI verdict, e.g. `"producers.e2e.persisted.p99" = "< 50ms"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Spanned<crate::thresholds::Spec>>,
    /// A run that is `generator-limited` or `target-saturated` still passes (exit 0
    /// instead of 4): for deliberate overloads and fault runs, whose point is the
    /// numbers at and past the limit.
    #[serde(default)]
    pub allow_unhealthy: bool,
    /// Faults caused on a schedule (`[[fault]]`): a service paused, the memory store
    /// held, a command run (and another at `until`).
    #[serde(default)]
    pub fault: Vec<Spanned<ScheduledFault>>,
    /// History written before the measured run (`[prefill]`).
    #[serde(default)]
    pub prefill: Option<Spanned<super::Prefill>>,
}

/// The values validation parsed from their text: the thresholds, the metrics
/// address, and each replay workload's capture (read once, by workload name).
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub thresholds: Vec<crate::thresholds::Threshold>,
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub captures: std::collections::BTreeMap<String, std::sync::Arc<crate::model::capture::Capture>>,
}

/// One fault of a run: from `at` (run time) until `until`, one action.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    pub at: Dur,
    #[serde(default)]
    pub until: Option<Dur>,
    /// An embedded service stops taking records (its backlog grows) until `until`.
    #[serde(default)]
    pub pause: Option<PausedService>,
    /// `"store"`: the memory store holds every request that would complete before
    /// `until` to `until` (a store node that stopped answering).
    #[serde(default)]
    pub stall: Option<StalledPart>,
    /// A shell command run at `at` (`sh -c`), its output kept with the run.
    #[serde(default)]
    pub run: Option<String>,
    /// A shell command run at `until`.
    #[serde(default)]
    pub then: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PausedService {
    Persistence,
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StalledPart {
    Store,
}

impl ScheduledFault {
    /// What it does, as the report names it.
    pub fn describe(&self) -> String {
        let what = match (&self.pause, &self.stall, &self.run) {
            (Some(PausedService::Persistence), _, _) => "persistence paused".to_string(),
            (Some(PausedService::Query), _, _) => "query service paused".to_string(),
            (_, Some(StalledPart::Store), _) => "store stalled".to_string(),
            (_, _, Some(cmd)) => format!("`{cmd}`"),
            _ => "nothing".to_string(),
        };
        // Seconds as a reader writes them: "1.5s", "10s".
        let s = |d: Dur| {
            let t = format!("{:.3}", d.0.as_secs_f64());
            format!("{}s", t.trim_end_matches('0').trim_end_matches('.'))
        };
        match (self.until, &self.then) {
            (Some(u), Some(t)) => format!("{what} at {}, `{t}` at {}", s(self.at), s(u)),
            (Some(u), None) => format!("{what} {}-{}", s(self.at), s(u)),
            (None, _) => format!("{what} at {}", s(self.at)),
        }
    }
}

/// Where a run serves its live metrics (Prometheus/OpenMetrics text at `/metrics`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// `host:port` to listen on, e.g. "127.0.0.1:9464"; none serves nothing.
    pub listen: Option<Spanned<String>>,
    /// How long the endpoint stays up after the run, so a last scrape sees the final
    /// numbers (a scrape interval or two).
    pub linger: Dur,
}

/// The integrity audit after a pipeline run, and how much of each finding is allowed
/// before the run fails.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    pub enabled: bool,
    pub max_lost: u64,
    pub max_duplicates: u64,
    pub max_errors: u64,
    pub max_hidden: u64,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            enabled: true,
            max_lost: 0,
            max_duplicates: 0,
            max_errors: 0,
            max_hidden: 0,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_seed() -> u64 {
    1
}
fn default_warmup() -> Spanned<Dur> {
    Spanned::new(0..0, Dur::default())
}
fn default_interval() -> Spanned<Dur> {
    Spanned::new(0..0, Dur::from_secs(1))
}
fn default_drain() -> Dur {
    Dur::from_secs(5)
}

mod cql;
mod services;
mod target;
mod values;
mod workload;

pub use cql::*;
pub use services::*;
pub use target::*;
pub use workload::*;
