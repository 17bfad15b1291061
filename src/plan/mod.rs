//! A scenario resolved into what the engine runs: absolute times in nanoseconds, one
//! rate profile per open workload, and nothing left to default.

mod profile;
mod replay;
mod shard;

use serde::Serialize;

pub use profile::{phase_runs, RateProfile, Segment};
pub use replay::Replay;
pub use shard::Shard;

use crate::scenario::{Arrival, Audit, Data, Loaded, Scenario, ServicesMode, Target, Via, WorkloadKind};
use crate::stats::Stage;

/// How a workload's operations are started.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Load {
    /// Intended start times from a schedule; latency counts from them.
    Open {
        profile: RateProfile,
        arrival: Arrival,
        max_in_flight: usize,
        /// At most one dispatcher wake-up per this many ns (0: one per operation).
        #[serde(skip_serializing_if = "is_zero")]
        release_window_ns: u64,
    },
    /// Fixed workers back to back; latencies are service times.
    Closed { concurrency: usize },
}

/// One workload, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadPlan {
    pub name: String,
    /// Position in the plan; also part of every synthetic UUID it makes.
    pub index: usize,
    pub kind: WorkloadKind,
    pub load: Load,
    pub from_version: i64,
    /// Readers start at `from_version`, not up to date.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_history: bool,
    pub via: Via,
    /// A replay: its schedule and events come from a capture (the kind is then
    /// `produce`: that is the operation it runs).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "replay_source")]
    pub replay: Option<std::sync::Arc<Replay>>,
}

fn replay_source<S: serde::Serializer>(r: &Option<std::sync::Arc<Replay>>, s: S) -> Result<S::Ok, S::Error> {
    r.as_deref().serialize(s)
}

impl WorkloadPlan {
    /// Workload `name` of `s`, at `index`, in a run of `limit_ns` when given.
    fn of(s: &Scenario, index: usize, name: &str, w: &crate::scenario::Workload, limit: Option<u64>) -> WorkloadPlan {
        let bursts = w.bursts();
        let window = w.release_window().map_or(0, |d| d.0.as_nanos() as u64);
        let replay = s.checked.captures.get(name).map(|c| {
            let path = w.capture().unwrap_or_default();
            std::sync::Arc::new(Replay::new(c.clone(), path, w.speed(), w.rate(), w.looped, limit))
        });
        let open = |profile: RateProfile, arrival| Load::Open {
            profile: profile.with_bursts(&bursts),
            arrival,
            max_in_flight: w.max_in_flight(),
            release_window_ns: window,
        };
        let load = match (&replay, w.rate(), w.concurrency()) {
            (Some(r), _, _) => open(r.profile(), Arrival::Constant),
            (None, _, Some(concurrency)) => Load::Closed { concurrency },
            (None, Some(r), None) => open(RateProfile::constant(r, limit.unwrap_or(0)), w.arrival),
            (None, None, None) => open(RateProfile::from_phases(&w.phases(), limit), w.arrival),
        };
        WorkloadPlan {
            name: name.to_string(),
            index,
            // A replay runs as what it is: produce, with its capture's times and events.
            kind: match w.kind {
                WorkloadKind::Replay => WorkloadKind::Produce,
                k => k,
            },
            load,
            from_version: w.from_version,
            read_history: w.read_history,
            via: w.via,
            replay,
        }
    }

    /// Mean intended rate over the run (0 for closed workloads).
    pub fn target_rate(&self, duration_ns: u64) -> f64 {
        match &self.load {
            Load::Open { profile, .. } => profile.total() / (duration_ns as f64 / 1e9),
            Load::Closed { .. } => 0.0,
        }
    }
}

/// Everything a run needs.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration_ns: u64,
    pub warmup_ns: u64,
    pub interval_ns: u64,
    pub drain_ns: u64,
    pub threads: usize,
    pub target: Target,
    #[serde(skip)]
    pub data: Data,
    pub audit: Audit,
    /// This generator's share of the load (`--shard i/n`).
    pub shard: Shard,
    /// An unhealthy run still passes its checks.
    pub allow_unhealthy: bool,
    /// Faults caused on a schedule, in the scenario's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::scenario::ScheduledFault>,
    /// History to write before the run (`[prefill]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<crate::scenario::PrefillPlan>,
    /// Checked at the end (and per interval where asked); validated with the scenario.
    #[serde(skip)]
    pub thresholds: Vec<crate::thresholds::Threshold>,
    pub workloads: Vec<WorkloadPlan>,
    /// The scenario file as written, and the overrides applied to it.
    #[serde(skip)]
    pub scenario_text: String,
    pub overrides: Vec<String>,
    /// The scenario's own `secret_keys`: more settings whose values are redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_keys: Vec<String>,
    /// `--start-at`: the wall time (ns since the Unix epoch) the schedule starts at, so
    /// shards on several machines share one origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_ns: Option<i64>,
    /// Where live metrics are served (`[metrics] listen`, `--metrics-listen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How long the metrics endpoint outlives the run.
    #[serde(default)]
    pub metrics_linger_ns: u64,
}

/// What `run`'s flags say about the plan, parsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFlags {
    pub allow_unhealthy: bool,
    pub start_at_ns: Option<i64>,
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub metrics_linger_ns: Option<u64>,
    pub shard: Option<Shard>,
}

impl Plan {
    /// Resolves a checked scenario.
    pub fn from_loaded(l: &Loaded) -> Plan {
        let mut plan = Plan::from_scenario(&l.scenario);
        plan.scenario_text = l.text.clone();
        plan.overrides = l.overrides.clone();
        plan
    }

    /// The run's own flags over the scenario's values: a flag given wins, one not
    /// given leaves the scenario's (`--allow-unhealthy` only ever allows).
    pub fn with_flags(mut self, f: RunFlags) -> Plan {
        self.allow_unhealthy |= f.allow_unhealthy;
        self.start_at_ns = f.start_at_ns;
        self.metrics_listen = f.metrics_listen.or(self.metrics_listen);
        self.metrics_linger_ns = f.metrics_linger_ns.unwrap_or(self.metrics_linger_ns);
        self.shard = f.shard.unwrap_or(self.shard);
        self
    }

    pub fn from_scenario(s: &Scenario) -> Plan {
        let limit = s.duration().map(|d| d.as_nanos());
        let workloads: Vec<WorkloadPlan> = s
            .workloads()
            .enumerate()
            .map(|(index, (name, w))| WorkloadPlan::of(s, index, name, w, limit))
            .collect();
        let duration_ns = limit.unwrap_or_else(|| {
            workloads
                .iter()
                .map(|w| match &w.load {
                    Load::Open { profile, .. } => profile.end_ns(),
                    Load::Closed { .. } => 0,
                })
                .max()
                .unwrap_or(0)
        });
        let threads = if s.threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            s.threads
        };
        Plan {
            name: s.name().to_string(),
            description: s.description.clone(),
            seed: s.seed,
            duration_ns,
            warmup_ns: s.warmup().as_nanos().min(duration_ns),
            interval_ns: s.interval().as_nanos(),
            drain_ns: s.drain.as_nanos(),
            threads,
            target: s.target.clone(),
            data: s.data.clone(),
            audit: s.audit.clone(),
            shard: Shard::WHOLE,
            allow_unhealthy: s.allow_unhealthy,
            faults: s.faults().cloned().collect(),
            prefill: s.prefill().map(|p| p.plan()),
            thresholds: s.checked.thresholds.clone(),
            workloads,
            scenario_text: String::new(),
            overrides: Vec::new(),
            secret_keys: s.secret_keys.clone(),
            start_at_ns: None,
            metrics_listen: s.checked.metrics_listen,
            metrics_linger_ns: s.metrics.linger.as_nanos(),
        }
    }

    /// Whether the reference services run in this process.
    pub fn services_embedded(&self) -> bool {
        self.target.services == ServicesMode::Embedded
    }

    /// Whether some service (here or elsewhere) answers what eventbench sends.
    pub fn services_answer(&self) -> bool {
        self.target.services != ServicesMode::None
    }

    /// Whether events go through the persistence service, so an audit can follow them.
    pub fn is_pipeline(&self) -> bool {
        self.services_answer() && self.workloads.iter().any(|w| w.kind == WorkloadKind::Produce)
    }

    /// Whether some reader queries through the log.
    pub fn queries_via_log(&self) -> bool {
        self.workloads.iter().any(|w| w.via == Via::Log)
    }

    /// Every aggregate id the data can name (reply topics exist per aggregate).
    pub fn aggregate_ids(&self) -> Vec<i8> {
        use crate::scenario::Aggregates;
        let (lo, hi) = match self.data.aggregates() {
            Aggregates::Uniform { min, max } | Aggregates::Sequential { min, max } => (*min, *max),
            Aggregates::Zipf { max, .. } => (1, *max),
            Aggregates::Hotspot { .. } => (1, 127),
        };
        // `[data]`'s aggregates when a workload draws from it; a replay sends its
        // capture's, whatever `[data]` says.
        let mut ids: Vec<i8> = if self.workloads.iter().any(|w| w.replay.is_none()) {
            (lo.max(1)..=hi.min(127)).map(|i| i as i8).collect()
        } else {
            Vec::new()
        };
        for r in self.workloads.iter().filter_map(|w| w.replay.as_ref()) {
            ids.extend(r.capture.aggregate_ids());
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The stage that is "the operation" of a workload kind.
pub fn main_stage(kind: WorkloadKind) -> (Stage, Stage) {
    match kind {
        WorkloadKind::Produce | WorkloadKind::Replay => (Stage::Produce, Stage::ProduceService),
        WorkloadKind::Persist => (Stage::Persist, Stage::PersistService),
        WorkloadKind::Query => (Stage::Query, Stage::QueryService),
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}
