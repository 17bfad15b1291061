//! `[data]` and `[[workload]]`: how events look and each stream of operations.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::units::{Dur, Size};

/// How synthetic events look.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Data {
    pub aggregates: Spanned<Aggregates>,
    /// Action name -> weight.
    pub actions: Spanned<BTreeMap<String, u32>>,
    pub payload: Spanned<Payload>,
    /// Fraction of each payload that is zeros (0 = random bytes, 1 = all zeros).
    pub compressibility: Spanned<f64>,
    /// Size of the pool of user UUIDs events are attributed to.
    pub users: Spanned<u64>,
    /// A fixed `year_bucket`; when left out, the UTC year of the event's timestamp.
    pub year_bucket: Option<i16>,
}

impl Default for Data {
    fn default() -> Self {
        let mut actions = BTreeMap::new();
        actions.insert("register_user".to_string(), 1);
        Data {
            aggregates: Spanned::new(0..0, Aggregates::Uniform { min: 1, max: 127 }),
            actions: Spanned::new(0..0, actions),
            payload: Spanned::new(0..0, Payload::Fixed { size: Size(256) }),
            compressibility: Spanned::new(0..0, 0.5),
            users: Spanned::new(0..0, 1000),
            year_bucket: None,
        }
    }
}

/// Which aggregate (1..=127) an operation touches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "dist", rename_all = "lowercase")]
pub enum Aggregates {
    Uniform {
        min: i64,
        max: i64,
    },
    /// Zipf over 1..=`max` (rank 1 is aggregate 1).
    Zipf {
        exponent: f64,
        #[serde(default = "max_agg")]
        max: i64,
    },
    /// `fraction` of operations go to `ids`, the rest uniformly to the others.
    Hotspot {
        ids: Vec<i64>,
        fraction: f64,
    },
    /// Round robin from `min` to `max`.
    Sequential {
        min: i64,
        max: i64,
    },
}

fn max_agg() -> i64 {
    127
}

/// Size of `data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "dist", rename_all = "lowercase")]
pub enum Payload {
    Fixed {
        size: Size,
    },
    Uniform {
        min: Size,
        max: Size,
    },
    /// Log-normal by median and 99th percentile.
    Lognormal {
        median: Size,
        p99: Size,
    },
    /// Discrete sizes with weights.
    Histogram {
        sizes: Vec<Size>,
        weights: Vec<u32>,
    },
}

/// One stream of operations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Open model: operations per second (constant over the run unless `phase` is set).
    pub rate: Option<Spanned<f64>>,
    /// Closed model: this many workers, each starting its next operation when the last ends.
    pub concurrency: Option<Spanned<usize>>,
    #[serde(default)]
    pub arrival: Arrival,
    /// Open model: at most this many operations in flight; the rest wait and count as late.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: Spanned<usize>,
    /// Open model: the dispatcher wakes at most once per this long and releases what
    /// has come due together (each operation still timed from its own intended
    /// start, so up to this much later). 0, the default: every operation on its own
    /// wake-up. A wake-up costs about 30 us of CPU on a virtual machine like this
    /// project's, so at 10k/s precise pacing alone takes a third of a core; a window of
    /// 1 ms makes the generator's CPU follow the rate on a host it shares with the
    /// target, at the price of the window in schedule lag.
    #[serde(default)]
    pub release_window: Option<Spanned<crate::units::Dur>>,
    /// Open model: the rate profile over time, in order.
    #[serde(default)]
    pub phase: Vec<Spanned<Phase>>,
    /// Open model: rate multipliers for a while, once or on a schedule, over the
    /// rate or the phases (`[[workload.NAME.burst]]`).
    #[serde(default)]
    pub burst: Vec<Spanned<Burst>>,
    /// `query` only: where the query goes.
    #[serde(default)]
    pub via: Via,
    /// `query` only: the reader's starting projection version (the original query service refuses 0).
    #[serde(default = "default_from_version")]
    pub from_version: i64,
    /// `query` only: start every aggregate's projection at `from_version`, not up to
    /// date, so the first query of each reads the history before the run (a
    /// `[prefill]`'s, or what earlier runs left) and the readers count what they read.
    #[serde(default)]
    pub read_history: bool,
    /// `replay` only: the capture file (`eventbench capture`) whose events are sent
    /// again at their captured spacing.
    #[serde(default)]
    pub capture: Option<Spanned<String>>,
    /// `replay` only: the captured spacing divided by this (2.0 replays twice as fast).
    /// `rate` instead sets the replay's mean rate.
    #[serde(default)]
    pub speed: Option<Spanned<f64>>,
    /// `replay` only: start the capture again when it ends, until `duration`.
    #[serde(default, rename = "loop")]
    pub looped: bool,
}

fn default_in_flight() -> Spanned<usize> {
    Spanned::new(0..0, 1024)
}
fn default_from_version() -> i64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Synthetic Events to the log (through the persistence service when it runs).
    Produce,
    /// Events written straight to the store, as the persistence service writes them.
    Persist,
    /// EventStoreQuery readers.
    Query,
    /// A capture's events sent again to the log at their captured spacing (a
    /// `produce` whose schedule and events come from the capture).
    Replay,
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            WorkloadKind::Produce => "produce",
            WorkloadKind::Persist => "persist",
            WorkloadKind::Query => "query",
            WorkloadKind::Replay => "replay",
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced intended start times.
    #[default]
    Constant,
    /// Exponential gaps (a Poisson process) with the same mean rate.
    Poisson,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The harness runs the query service's store operations itself.
    #[default]
    Store,
    /// EventStoreQuery messages to the query topic; results come back on
    /// `<query_response>.<aggregate_id>` from the (embedded or external) query service.
    Log,
}

/// A stretch of an open-model rate profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "lowercase")]
pub enum Phase {
    Steady {
        duration: Dur,
        rate: f64,
    },
    /// Rate moves linearly from `from` to `to`.
    Ramp {
        duration: Dur,
        from: f64,
        to: f64,
    },
    /// `steps` plateaus of `step_duration`, from `from`, each `step` higher.
    Step {
        from: f64,
        step: f64,
        steps: u32,
        step_duration: Dur,
    },
    /// A periodic rate: `mean + amplitude * sin(2 pi t / period)`, for `duration`.
    Sine {
        duration: Dur,
        mean: f64,
        amplitude: f64,
        period: Dur,
    },
    /// A rate given at points in time (a daily curve, played at any speed), linear
    /// between them; the first point at 0s, the phase ends at the last.
    Curve {
        points: Vec<CurvePoint>,
    },
}

/// The highest rate one workload may ask for: ten times what one core of this
/// harness sustains. Past it a schedule only fills memory with claims it cannot run.
pub const MAX_RATE: f64 = 5_000_000.0;

/// Linear pieces per period of a sine phase (the plan makes them).
pub const SINE_PIECES: u64 = 64;

/// One point of a `curve` phase.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvePoint {
    pub at: Dur,
    pub rate: f64,
}

/// The rate times `factor` from `at` for `duration`, and again every `every` when set.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    pub at: Dur,
    pub duration: Dur,
    pub factor: f64,
    #[serde(default)]
    pub every: Option<Dur>,
}
