//! `summary.json`'s `platform`: the floor the run stood on (the hiccup meter), the
//! host's CPU, and the host's stalls, as the health verdict and the views read them.

use serde::{Deserialize, Serialize};

use crate::host::HostCores;
use crate::stats::platform::{HostPoint, PlatformMeasured, ProcessCores, Stall};
use crate::stats::StageSummary;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PlatformSummary {
    /// How often the meter wakes, ns.
    pub period_ns: u64,
    pub cpus: usize,
    /// How late the meter woke, over the measured window (stage `host.hiccup`).
    pub hiccup: StageSummary,
    /// The machine's CPU over the measured window, in cores; `None` where
    /// `/proc/stat` was not readable or the run was rebuilt.
    #[serde(default)]
    pub cores: Option<HostCores>,
    /// The meter's wake-ups at least 10 ms late, with their times (the first 200).
    #[serde(default)]
    pub stalls: Vec<Stall>,
    #[serde(default)]
    pub stalls_total: u64,
    #[serde(default)]
    pub timeline: Vec<HostPoint>,
    /// The target's processes on this host (found listening on its loopback
    /// addresses), their CPU over the measured window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<ProcessCores>,
}

impl PlatformSummary {
    pub fn of(m: &PlatformMeasured) -> PlatformSummary {
        PlatformSummary {
            period_ns: m.period_ns,
            cpus: m.cpus,
            hiccup: StageSummary::of(&m.hiccup),
            cores: m.cores,
            stalls: m.stalls.clone(),
            stalls_total: m.stalls_total,
            timeline: m.timeline.clone(),
            target: m.target.clone(),
        }
    }

    /// The host's side of the health evidence.
    pub(super) fn evidence(&self) -> HostEvidence {
        HostEvidence {
            hiccup_p99_ns: self.hiccup.p99_ns,
            hiccup_max_ns: self.hiccup.max_ns,
            stalls: self.stalls_total,
            cores: self.cores,
            cpus: self.cpus,
        }
    }

    /// One line for the text and HTML views.
    pub fn line(&self) -> String {
        let f = crate::units::fmt_ns;
        let mut s = format!(
            "platform floor (a thread sleeping to {} deadlines): p50 {}, p99 {}, p99.9 {}, max {}",
            f(self.period_ns),
            f(self.hiccup.p50_ns),
            f(self.hiccup.p99_ns),
            f(self.hiccup.p999_ns),
            f(self.hiccup.max_ns)
        );
        if self.stalls_total > 0 {
            s.push_str(&format!("; {} host stalls of 10 ms or more", self.stalls_total));
        }
        if let Some(c) = &self.cores {
            s.push_str(&format!(
                "; host CPU {:.2} of {} cores busy (eventbench {:.2}, others {:.2}), steal {:.2}",
                c.busy, self.cpus, c.ours, c.others, c.steal
            ));
        }
        if !self.target.is_empty() {
            let each: Vec<String> = self
                .target
                .iter()
                .map(|p| format!("{} {:.2}", p.name, p.cores))
                .collect();
            s.push_str(&format!("; the target's processes here, in cores: {}", each.join(", ")));
        }
        s
    }
}

/// What the machine did while the schedule slipped, for [`super::verdict::health`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HostEvidence {
    pub(super) hiccup_p99_ns: u64,
    pub(super) hiccup_max_ns: u64,
    pub(super) stalls: u64,
    pub(super) cores: Option<HostCores>,
    pub(super) cpus: usize,
}

/// The meter's p99 at or above this: the host paused every thread of the process,
/// not only the generator's.
pub(super) const HICCUP_HELD_NS: u64 = 5_000_000;
/// Other processes and steal taking this many cores, with this little left idle: the
/// CPU was taken from the generator.
pub(super) const OTHERS_CORES: f64 = 0.5;
pub(super) const IDLE_CORES: f64 = 0.25;

impl HostEvidence {
    /// Why the host, not the generator, is to blame for a slipped schedule; `None` when
    /// the evidence does not point at it.
    pub(super) fn blames(&self) -> Option<String> {
        let f = crate::units::fmt_ns;
        let paused = self.hiccup_p99_ns >= HICCUP_HELD_NS;
        let taken = self
            .cores
            .filter(|c| c.others + c.steal >= OTHERS_CORES && self.cpus as f64 - c.busy - c.steal <= IDLE_CORES);
        if !paused && taken.is_none() {
            return None;
        }
        let mut why = Vec::new();
        if paused || self.stalls > 0 {
            why.push(format!(
                "the hiccup meter (a thread that only sleeps) woke late too: p99 {}, max {}, {} stalls of 10 ms or more",
                f(self.hiccup_p99_ns),
                f(self.hiccup_max_ns),
                self.stalls
            ));
        }
        if let Some(c) = self.cores {
            why.push(format!(
                "the machine's {} cores: {:.2} busy with other processes, {:.2} stolen by the hypervisor, {:.2} eventbench, {:.2} idle",
                self.cpus,
                c.others,
                c.steal,
                c.ours,
                (self.cpus as f64 - c.busy - c.steal).max(0.0)
            ));
        }
        Some(why.join("; "))
    }
}
