//! A run's outcome, decided once: the exit code, every report's verdict, the history's
//! baselines and the CLI's worst-of-several all read [`Summary::outcome`].

use serde::{Deserialize, Serialize};

use super::summary::Summary;
use super::verdict::Health;

/// What ended a run, in precedence order: when several hold, the first one listed is
/// the outcome (the order of the exit codes in the guide's command line chapter: 130, 7, 8, 5, 3, 4, 9).
/// A run stopped early (by a signal or a breach) or rebuilt from a crash is judged on
/// part of its window, so that comes before what its numbers say; lost data outranks
/// slow data; a target's failure outranks the machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    Interrupted,
    Aborted,
    Incomplete,
    AuditFailed,
    ThresholdsFailed,
    Unhealthy,
    /// Every unhealthy workload was held by the host.
    HostLimited,
    Passed,
}

/// The facts the outcome is decided from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub interrupted: bool,
    pub aborted: bool,
    pub incomplete: bool,
    pub audit_failed: bool,
    pub thresholds_failed: bool,
    /// Workloads not healthy (an `allow_unhealthy` run has none).
    pub unhealthy: bool,
    /// ... and every one of them host-limited.
    pub all_host_limited: bool,
}

impl RunOutcome {
    /// Every outcome, in precedence order.
    pub const ALL: [RunOutcome; 8] = [
        RunOutcome::Interrupted,
        RunOutcome::Aborted,
        RunOutcome::Incomplete,
        RunOutcome::AuditFailed,
        RunOutcome::ThresholdsFailed,
        RunOutcome::Unhealthy,
        RunOutcome::HostLimited,
        RunOutcome::Passed,
    ];

    pub fn decide(f: Facts) -> RunOutcome {
        let holds = [
            (f.interrupted, RunOutcome::Interrupted),
            (f.aborted, RunOutcome::Aborted),
            (f.incomplete, RunOutcome::Incomplete),
            (f.audit_failed, RunOutcome::AuditFailed),
            (f.thresholds_failed, RunOutcome::ThresholdsFailed),
            (f.unhealthy && !f.all_host_limited, RunOutcome::Unhealthy),
            (f.unhealthy, RunOutcome::HostLimited),
        ];
        holds
            .into_iter()
            .find(|(h, _)| *h)
            .map_or(RunOutcome::Passed, |(_, o)| o)
    }

    pub fn passed(self) -> bool {
        self == RunOutcome::Passed
    }
}

impl Summary {
    /// The run's outcome (see [`RunOutcome`] for the precedence).
    pub fn outcome(&self) -> RunOutcome {
        let unhealthy = self.unhealthy();
        RunOutcome::decide(Facts {
            interrupted: self.interrupted.is_some(),
            aborted: self.aborted.is_some(),
            incomplete: self.incomplete.is_some(),
            audit_failed: self.audit.as_ref().is_some_and(|a| !a.passed()),
            thresholds_failed: !self.thresholds.iter().all(|v| v.passed),
            all_host_limited: unhealthy.iter().all(|(_, w)| w.health == Health::HostLimited),
            unhealthy: !unhealthy.is_empty(),
        })
    }

    /// The run's verdict for every view: whether it passed, and in a few words why not,
    /// from [`Summary::outcome`] (an unhealthy run never shows as passed).
    pub fn verdict(&self) -> (bool, String) {
        let text = match self.outcome() {
            RunOutcome::Passed => return (true, "passed".into()),
            RunOutcome::Interrupted => "INTERRUPTED: stopped before its end; the report covers what ran".into(),
            RunOutcome::Aborted => "FAILED: aborted by a sustained threshold breach".into(),
            RunOutcome::Incomplete => "INCOMPLETE (rebuilt from what the run flushed)".into(),
            RunOutcome::AuditFailed => "FAILED: integrity audit".into(),
            RunOutcome::ThresholdsFailed => "FAILED: thresholds".into(),
            RunOutcome::Unhealthy | RunOutcome::HostLimited => {
                let who: Vec<String> = self
                    .unhealthy()
                    .iter()
                    .map(|(n, w)| format!("{n} {}", w.health))
                    .collect();
                format!("UNHEALTHY: {}", who.join(", "))
            }
        };
        (false, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Facts under which exactly `o` holds on its own.
    fn only(o: RunOutcome) -> Facts {
        let mut f = Facts::default();
        match o {
            RunOutcome::Interrupted => f.interrupted = true,
            RunOutcome::Aborted => f.aborted = true,
            RunOutcome::Incomplete => f.incomplete = true,
            RunOutcome::AuditFailed => f.audit_failed = true,
            RunOutcome::ThresholdsFailed => f.thresholds_failed = true,
            RunOutcome::Unhealthy => f.unhealthy = true,
            RunOutcome::HostLimited => {
                f.unhealthy = true;
                f.all_host_limited = true;
            }
            RunOutcome::Passed => {}
        }
        f
    }

    fn both(a: Facts, b: Facts) -> Facts {
        Facts {
            interrupted: a.interrupted || b.interrupted,
            aborted: a.aborted || b.aborted,
            incomplete: a.incomplete || b.incomplete,
            audit_failed: a.audit_failed || b.audit_failed,
            thresholds_failed: a.thresholds_failed || b.thresholds_failed,
            unhealthy: a.unhealthy || b.unhealthy,
            // Host-limited only when every unhealthy workload was: one target-saturated
            // workload beside a host-limited one makes the run unhealthy.
            all_host_limited: (a.all_host_limited || !a.unhealthy) && (b.all_host_limited || !b.unhealthy),
        }
    }

    #[test]
    fn every_pair_of_outcomes_resolves_to_the_earlier_one() {
        let all = RunOutcome::ALL;
        for (i, &a) in all.iter().enumerate() {
            assert_eq!(RunOutcome::decide(only(a)), a, "{a:?} alone");
            for &b in &all[i + 1..] {
                assert_eq!(RunOutcome::decide(both(only(a), only(b))), a, "{a:?} with {b:?}");
                assert!(a < b, "the enum's order is the precedence");
            }
        }
    }
}
