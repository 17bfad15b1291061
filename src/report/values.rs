//! A run as one value per statistic, keyed `workload.stage.stat`: what `compare` judges
//! (each run of a side is one sample of each) and what a run history keeps of a run.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::summary::{LoadModel, Summary};

/// The latency percentiles judged, by name, with their summary.json fields.
pub const STATS: [&str; 4] = ["p50", "p90", "p99", "p999"];

/// One statistic of one run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub workload: String,
    pub stage: String,
    pub stat: String,
}

impl Key {
    pub fn new(workload: &str, stage: &str, stat: &str) -> Key {
        Key {
            workload: workload.into(),
            stage: stage.into(),
            stat: stat.into(),
        }
    }

    /// The trend tools' benchmark: one per workload and stage (`w.stage`), its
    /// statistics the measures.
    pub fn benchmark(&self) -> String {
        format!("{}.{}", self.workload, self.stage)
    }

    /// The unit of the value, by its statistic: a share of outcomes, a rate, or ns.
    pub fn unit(&self) -> &'static str {
        match self.stat.as_str() {
            "share" => "share",
            "ok/s" => "ops/s",
            _ => "ns",
        }
    }

    /// Whether a smaller value is better (all but a throughput), as
    /// github-action-benchmark's `customSmallerIsBetter` needs.
    pub fn smaller_is_better(&self) -> bool {
        self.stat != "ok/s"
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.workload, self.stage, self.stat)
    }
}

impl std::str::FromStr for Key {
    type Err = String;
    /// `workload.stage.stat`; the workload is the first dot-free part and the stat the
    /// last (stages have dots: `e2e.persisted`).
    fn from_str(s: &str) -> Result<Key, String> {
        let (rest, stat) = s
            .rsplit_once('.')
            .ok_or_else(|| format!("{s:?}: expected WORKLOAD.STAGE.STAT"))?;
        let (workload, stage) = rest
            .split_once('.')
            .ok_or_else(|| format!("{s:?}: expected WORKLOAD.STAGE.STAT"))?;
        Ok(Key::new(workload, stage, stat))
    }
}

/// The stages judged: the target's latencies (`lag` is the harness's own, judged by
/// health; `failed` is not a latency of service).
pub fn judged_stage(stage: &str) -> bool {
    !["serialize", "deserialize", "failed", "lag"].contains(&stage)
}

/// A run's values.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunValues {
    /// Latency percentiles in ns; `errors.share` (failed and censored per outcome);
    /// `throughput.ok/s` for closed workloads.
    pub values: BTreeMap<String, f64>,
    /// The percentiles that are only lower bounds (censored operations).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub lower_bounds: BTreeSet<String>,
    /// Workloads whose throughput is the target's (closed model).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub closed: BTreeSet<String>,
    /// Per workload, the stage a gate keys on by default: e2e.persisted where the
    /// pipeline answers, else e2e, else the workload's main stage.
    #[serde(default)]
    pub headline: BTreeMap<String, String>,
    /// Per workload, the harness's own schedule-lag p99 in ns: not judged, but it tells
    /// a run the host held (compare leaves such a candidate run out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lag_p99: BTreeMap<String, f64>,
    /// The hiccup meter's p99 over the measured window, ns, and the cores other
    /// processes and the hypervisor took: the host's own evidence of holding the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hiccup_p99: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others_cores: Option<f64>,
    /// When the run started (Unix ns): which run of a pair went first. Read from the
    /// summary each time, never stored (a history line has `started_at` already).
    #[serde(skip)]
    pub started_ns: Option<i64>,
}

impl RunValues {
    pub fn of(s: &Summary) -> RunValues {
        let mut v = RunValues {
            started_ns: crate::model::GoTime::parse_rfc3339(&s.started_at)
                .ok()
                .and_then(|t| i64::try_from(t.unix_nanos()).ok()),
            hiccup_p99: s.platform.as_ref().map(|p| p.hiccup.p99_ns as f64),
            others_cores: s
                .platform
                .as_ref()
                .and_then(|p| p.cores.as_ref())
                .map(|c| c.others + c.steal),
            ..RunValues::default()
        };
        for (name, w) in &s.workloads {
            let failed = w.errors.values().sum::<u64>() + w.censored;
            let outcomes = w.ok + failed;
            let share = if outcomes > 0 {
                failed as f64 / outcomes as f64
            } else {
                0.0
            };
            v.values.insert(Key::new(name, "errors", "share").to_string(), share);
            if w.model == LoadModel::Closed {
                v.closed.insert(name.clone());
                v.values
                    .insert(Key::new(name, "throughput", "ok/s").to_string(), w.achieved_rate);
            }
            let main = crate::plan::main_stage(w.kind).0.name();
            let head = ["e2e.persisted", "e2e"]
                .into_iter()
                .find(|s| w.stages.contains_key(*s))
                .unwrap_or(main);
            v.headline.insert(name.clone(), head.to_string());
            if let Some(lag) = w.stages.get("lag") {
                v.lag_p99.insert(name.clone(), lag.p99_ns as f64);
            }
            for (stage, st) in w.stages.iter().filter(|(s, _)| judged_stage(s)) {
                for (stat, ns) in STATS.iter().zip([st.p50_ns, st.p90_ns, st.p99_ns, st.p999_ns]) {
                    let k = Key::new(name, stage, stat).to_string();
                    if st.lower_bounds.iter().any(|b| b == stat) {
                        v.lower_bounds.insert(k.clone());
                    }
                    v.values.insert(k, ns as f64);
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_first_and_last_dot() {
        let k: Key = "producers.e2e.persisted.p99".parse().expect("key");
        assert_eq!(k, Key::new("producers", "e2e.persisted", "p99"));
        assert_eq!(k.to_string(), "producers.e2e.persisted.p99");
        assert!("p99".parse::<Key>().is_err());
    }
}
