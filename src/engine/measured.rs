//! What a run measured: the whole run's facts and one [`WorkloadMeasured`] per workload.

use std::sync::Arc;

use super::{faults, Strays};
use crate::clock::Clock;
use crate::service::ServiceStats;
use crate::stats::ledger::Ledger;
use crate::stats::timeline::IntervalPoint;
use crate::stats::Hists;

/// Everything measured, for the report and the audit.
pub struct Measured {
    pub clock: Clock,
    pub run_tag: u64,
    pub started_wall_ns: i128,
    /// Run time actually covered, ns.
    pub elapsed_ns: u64,
    /// The stop's reason, when a stop ended the run early.
    pub interrupted: Option<String>,
    /// The threshold breach that ended the run early, if one did.
    pub aborted: Option<String>,
    /// Each workload of the plan, in its order.
    pub workloads: Vec<WorkloadMeasured>,
    pub persistence: Option<ServiceStats>,
    pub query_service: Option<ServiceStats>,
    pub strays: Strays,
    /// What happened to each produced event (pipeline runs), for the audit.
    pub ledger: Arc<Ledger>,
    /// The whole process's CPU seconds over the run, the hiccup meter's thread included.
    pub cpu_seconds: f64,
    /// The hiccup meter and the host's CPU beside the run.
    pub platform: Option<crate::stats::platform::PlatformMeasured>,
    /// What each scheduled fault did.
    pub faults: Vec<faults::FaultRecord>,
    /// The pipeline's queue depths per interval (pipeline runs only).
    pub hops: Vec<crate::stats::hops::HopPoint>,
    /// Why the store nodes' own view could not be read, when it could not.
    pub nodes_unreadable: Option<String>,
}

impl Measured {
    /// The generator's CPU seconds: the process's without the hiccup meter's thread,
    /// which measures the platform and costs the same at any rate.
    pub fn generator_cpu_s(&self) -> f64 {
        let meter = self.platform.as_ref().map_or(0.0, |p| p.meter_cpu_s);
        (self.cpu_seconds - meter).max(0.0)
    }
}

/// One workload as the engine measured it.
#[derive(Debug, Clone, Default)]
pub struct WorkloadMeasured {
    /// The measured window (after warmup): every stage and counter.
    pub totals: Hists,
    /// One point per closed interval, warmup included.
    pub timeline: Vec<IntervalPoint>,
    /// Operations intended but never started.
    pub dropped: u64,
    /// Operations in flight when the run had to abandon them.
    pub abandoned: u64,
    /// Produced events whose reply never came (within `drain`).
    pub unanswered: u64,
    /// Open workloads: releases that found all `max_in_flight` workers busy (the target
    /// held every slot: evidence for the health verdict).
    pub waited_for_worker: u64,
    /// Open workloads: how many workers its pool started (at most `max_in_flight`).
    pub workers_started: u64,
}
