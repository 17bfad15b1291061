//! `summary.json`: the versioned record of a run, from which every human view is built.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::platform::PlatformSummary;
pub use super::verdict::Health;
use crate::audit::AuditReport;
use crate::host::Host;
use crate::plan::Plan;
use crate::scenario::WorkloadKind;
use crate::service::ServiceStats;
use crate::stats::timeline::{Disruption, IntervalPoint, ScheduleStall};
use crate::stats::StageSummary;

/// Bumped on any change a reader of summary.json would notice.
/// 2: `e2e.persisted`, `e2e.queryable`, `query.roundtrip`; `audit`, `disruptions`,
/// `empty`, `services.query`.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub eventbench_version: String,
    pub scenario: ScenarioInfo,
    pub started_at: String,
    pub run_tag: String,
    /// Run time covered, seconds (warmup included).
    pub elapsed_s: f64,
    /// Seconds the summary's numbers cover (after warmup).
    pub measured_s: f64,
    /// The signal that ended the run early, if one did.
    pub interrupted: Option<String>,
    /// The sustained threshold breach that ended the run early, if one did.
    #[serde(default)]
    pub aborted: Option<String>,
    pub host: Host,
    pub generator: GeneratorUse,
    pub workloads: BTreeMap<String, WorkloadSummary>,
    pub services: Services,
    /// The integrity audit of a pipeline run.
    #[serde(default)]
    pub audit: Option<AuditReport>,
    /// The scenario's thresholds, judged at the end of the run.
    #[serde(default)]
    pub thresholds: Vec<crate::thresholds::Verdict>,
    /// `i/n` when this run was one shard of a load.
    #[serde(default)]
    pub shard: Option<String>,
    /// The run directories `eventbench merge` combined into this one.
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// Why this summary is partial: the run died without writing it and
    /// `eventbench report` rebuilt it from what the run had flushed (or a merged shard
    /// did). An incomplete run never passes its checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Where the numbers come from: the build, the clock, and what the target said of
    /// itself when the run connected.
    #[serde(default)]
    pub provenance: Provenance,
    /// The floor the run stood on (the hiccup meter) and the host's CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformSummary>,
    /// The scenario's scheduled faults: what each did, when, and what it left behind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::engine::faults::FaultRecord>,
    /// The history written before the run (`[prefill]`), and what readers read of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<crate::prefill::PrefillRecord>,
    /// A pipeline run's hops: each one's time and queue, and the one that limited it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hops: Option<super::hops::HopTable>,
    /// Readers through the log with the query service answering: their hops' times,
    /// and the slowest when they were saturated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_hops: Option<super::hops::HopTable>,
}

/// Where a run's numbers come from, beyond `host`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// The git commit eventbench was built from (`-dirty`: with uncommitted changes).
    pub git_commit: String,
    pub rustc: String,
    /// The kernel's clock source (`tsc`, `kvm-clock`, ...): what every latency is read from.
    pub clocksource: String,
    /// The target as it described itself: Kafka cluster id, brokers, topics'
    /// partitions and replication; the CQL release, cluster, replication, compaction.
    #[serde(default)]
    pub target: serde_json::Value,
}

impl Provenance {
    pub fn detect() -> Provenance {
        Provenance {
            git_commit: env!("EVENTBENCH_GIT_COMMIT").to_string(),
            rustc: env!("EVENTBENCH_RUSTC").to_string(),
            clocksource: std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            target: serde_json::Value::Null,
        }
    }
}

impl ScenarioInfo {
    /// The scenario as `plan` ran it.
    /// The plan this scenario, as recorded, resolves to for `shard` (`i/n`).
    pub fn plan(&self, shard: Option<&str>) -> Result<Plan, String> {
        let scenario = crate::scenario::parse(&format!("{} (as run)", self.name), &self.text, &self.overrides)
            .map_err(|e| e.to_string())?;
        let mut plan = Plan::from_scenario(&scenario);
        if let Some(shard) = shard.and_then(|s| crate::plan::Shard::parse(s).ok()) {
            plan.shard = shard;
        }
        Ok(plan)
    }

    /// Secrets redacted: the text keeps its form with `"***"` for each secret's value.
    pub fn of(plan: &Plan) -> ScenarioInfo {
        ScenarioInfo::with_secrets(plan).0
    }

    /// The record and the secrets it was redacted with (literal, `--set`, and resolved
    /// from the environment or files), for whatever else the run records: a fault
    /// command's output must lose the same values.
    pub fn with_secrets(plan: &Plan) -> (ScenarioInfo, crate::scenario::secrets::Secrets) {
        use crate::scenario::secrets::{override_shown, Secrets};
        let mut resolved = serde_json::to_value(plan).unwrap_or(serde_json::Value::Null);
        let secrets = Secrets::of_resolved(&plan.scenario_text, &plan.overrides, &plan.secret_keys, &resolved);
        secrets.json(&mut resolved);
        let info = ScenarioInfo {
            name: plan.name.clone(),
            description: secrets.message(&plan.description),
            overrides: plan.overrides.iter().map(|o| override_shown(o)).collect(),
            resolved,
            text: secrets.text(&plan.scenario_text),
        };
        (info, secrets)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub overrides: Vec<String>,
    /// The plan as resolved from the file and overrides.
    pub resolved: serde_json::Value,
    /// The file as written.
    pub text: String,
}

/// The parts of the resolved plan (`scenario.resolved`) that views read back, typed.
/// Unknown fields are ignored, so summaries of older and newer versions still read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PlanRecord {
    pub allow_unhealthy: bool,
    pub interval_ns: u64,
    pub warmup_ns: u64,
    pub duration_ns: u64,
    pub workloads: Vec<WorkloadRecord>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WorkloadRecord {
    pub name: String,
    pub load: LoadRecord,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LoadRecord {
    pub profile: ProfileRecord,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProfileRecord {
    pub segments: Vec<crate::plan::Segment>,
    /// Each phase's (and burst's) name; empty in older summaries.
    pub labels: Vec<String>,
}

/// What the load generator's process used (`generator` in summary.json); not to be
/// confused with [`crate::datagen::Generator`], which makes the events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeneratorUse {
    pub threads: usize,
    /// CPU seconds of the eventbench process (embedded services included), without the
    /// hiccup meter's thread.
    pub cpu_seconds: f64,
    /// Average cores busy: cpu_seconds / elapsed.
    pub cpu_cores: f64,
    /// The hiccup meter's own CPU seconds, kept apart: it measures the platform beside
    /// the run (jHiccup's agent), wakes a thousand times a second at any rate, and on a
    /// VM where a wake-up costs ~30 us of CPU it would otherwise read as the generator's
    /// floor. Absent in summaries from before it was kept apart.
    #[serde(default)]
    pub meter_cpu_seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Services {
    pub persistence: Option<ServiceStats>,
    #[serde(default)]
    pub query: Option<ServiceStats>,
    /// Replies that did not decode.
    pub malformed_replies: u64,
    /// Replies that were not this run's.
    pub foreign_replies: u64,
}

/// How a workload's operations were started: its latencies mean different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    /// From a schedule: latency counts from the intended start.
    Open,
    /// Back to back: latency is service time.
    Closed,
}

impl std::fmt::Display for LoadModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            LoadModel::Open => "open",
            LoadModel::Closed => "closed",
        })
    }
}

/// One workload's results, measured after warmup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadSummary {
    pub kind: WorkloadKind,
    /// Where its load came from when not from the scenario's `[data]` and rate: a
    /// replay's capture (file, topic, window, speed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub model: LoadModel,
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub ops: u64,
    pub ok: u64,
    pub late: u64,
    pub dropped: u64,
    pub abandoned: u64,
    pub unanswered: u64,
    /// Open model: workers the pool started on demand (at most `max_in_flight`): the
    /// run's peak concurrency.
    #[serde(default)]
    pub workers: u64,
    /// Operations with no outcome of their own (dropped, abandoned at the drain
    /// deadline, queries that got no answer): in their stage at a lower bound.
    #[serde(default)]
    pub censored: u64,
    /// Operations the schedule offered in the window per second (ok + errors +
    /// censored): the realised schedule, which for Poisson arrivals differs from the
    /// target by chance. Health and `achieved_rate` thresholds compare against it.
    #[serde(default)]
    pub offered_rate: f64,
    /// Produced events whose reply was an error (the produce itself counted as ok).
    #[serde(default)]
    pub rejected_replies: u64,
    pub errors: BTreeMap<String, u64>,
    pub rows: u64,
    pub bytes: u64,
    /// Rows (in `rows`) of result batches that came after their query stopped waiting.
    #[serde(default)]
    pub late_rows: u64,
    /// Queries through the log that got no answer (the original query service's reply to "no events").
    #[serde(default)]
    pub empty: u64,
    /// Stretches of intervals with errors or no successful operation, and how long
    /// each took to recover.
    #[serde(default)]
    pub disruptions: Vec<Disruption>,
    /// Stretches of measured intervals whose schedule lag p99 exceeded 10 ms: stalls of
    /// the generator, told with their time and length (a verdict only when sustained).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stalls: Vec<ScheduleStall>,
    pub health: Health,
    pub health_reason: String,
    pub stages: BTreeMap<String, StageSummary>,
    pub timeline: Vec<IntervalPoint>,
}

impl WorkloadSummary {
    /// Every operation's outcome in one phrase, the same wherever a view tells it:
    /// "N ops: N ok, N failed, N censored (N empty results, N dropped, N abandoned)".
    pub fn outcomes(&self) -> String {
        let failed: u64 = self.errors.values().sum();
        let parts: Vec<String> = [
            (self.empty, "empty results"),
            (self.dropped, "dropped"),
            (self.abandoned, "abandoned"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let parts = if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        };
        format!(
            "{} ops: {} ok, {failed} failed, {} censored{parts}",
            self.ops, self.ok, self.censored
        )
    }
}

impl Summary {
    /// The resolved plan's timing and phases, typed.
    pub fn plan_record(&self) -> PlanRecord {
        let mut r: PlanRecord = serde_json::from_value(self.scenario.resolved.clone()).unwrap_or_default();
        if r.interval_ns == 0 {
            r.interval_ns = 1_000_000_000;
        }
        r
    }

    /// The plan this run ran, rebuilt from the scenario text and overrides it recorded
    /// (the one way every tool gets a run's plan back).
    pub fn plan(&self) -> Result<Plan, String> {
        self.scenario.plan(self.shard.as_deref())
    }

    /// Whether every check passed: thresholds, the audit, and no abort.
    pub fn checks_passed(&self) -> bool {
        self.aborted.is_none()
            && self.incomplete.is_none()
            && self.thresholds.iter().all(|v| v.passed)
            && self.audit.as_ref().is_none_or(|a| a.passed())
    }

    /// The workloads that were not healthy, unless the run allowed it
    /// (`allow_unhealthy`): an unhealthy run never passes silently.
    pub fn unhealthy(&self) -> Vec<(&str, &WorkloadSummary)> {
        if self.plan_record().allow_unhealthy {
            return Vec::new();
        }
        self.workloads
            .iter()
            .filter(|(_, w)| w.health != Health::Healthy)
            .map(|(n, w)| (n.as_str(), w))
            .collect()
    }
}
