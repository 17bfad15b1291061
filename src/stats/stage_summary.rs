//! Percentile summaries of one histogram, shaped as they appear in `summary.json`.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One stage's distribution, in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    pub count: u64,
    pub mean_ns: f64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p95_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub p9999_ns: u64,
    pub max_ns: u64,
    /// The statistics that are only lower bounds, because censored operations (whose
    /// true latency is unknown but at least what was recorded) could lie above them:
    /// `mean` and `max` as soon as one is censored, a percentile q once more than
    /// (1 - q) of the count is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lower_bounds: Vec<String>,
}

impl StageSummary {
    pub fn of(h: &Histogram<u64>) -> StageSummary {
        if h.is_empty() {
            return StageSummary::default();
        }
        StageSummary {
            count: h.len(),
            mean_ns: h.mean(),
            min_ns: h.min(),
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p95_ns: h.value_at_quantile(0.95),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            p9999_ns: h.value_at_quantile(0.9999),
            max_ns: h.max(),
            lower_bounds: Vec::new(),
        }
    }

    /// `value` (ns) at a readable scale, after `marker` when statistic `name` is only a
    /// lower bound: the text and HTML stage tables show bounds the same way.
    pub fn show(&self, name: &str, value: u64, marker: &str) -> String {
        let bound = if self.lower_bounds.iter().any(|b| b == name) {
            marker
        } else {
            ""
        };
        format!("{bound}{}", crate::units::fmt_ns(value))
    }

    /// The percentile columns every stage table shows, in order: heading and value as
    /// [`StageSummary::show`] writes it (a lower bound after `marker`).
    pub fn columns(&self, marker: &str) -> [(&'static str, String); 6] {
        [
            ("p50", self.show("p50", self.p50_ns, marker)),
            ("p90", self.show("p90", self.p90_ns, marker)),
            ("p99", self.show("p99", self.p99_ns, marker)),
            ("p99.9", self.show("p999", self.p999_ns, marker)),
            ("p99.99", self.show("p9999", self.p9999_ns, marker)),
            ("max", self.show("max", self.max_ns, marker)),
        ]
    }

    /// Marks the statistics that `censored` of this stage's values make lower bounds.
    pub fn censored(mut self, censored: u64) -> StageSummary {
        if censored == 0 || self.count == 0 {
            return self;
        }
        let share = censored as f64 / self.count as f64;
        self.lower_bounds = [
            ("p50", 0.5),
            ("p90", 0.9),
            ("p95", 0.95),
            ("p99", 0.99),
            ("p999", 0.999),
            ("p9999", 0.9999),
        ]
        .iter()
        .filter(|(_, q)| share > 1.0 - q)
        .map(|(n, _)| n.to_string())
        .chain(["mean".to_string(), "max".to_string()])
        .collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentile_is_a_lower_bound_once_censored_values_can_reach_it() {
        let mut h = Histogram::<u64>::new(3).expect("hist");
        for v in 1..=1000 {
            h.record(v).expect("record");
        }
        let s = StageSummary::of(&h);
        assert!(s.clone().censored(0).lower_bounds.is_empty());
        // 5 of 1,000 censored: p99 (1% above it) is fine, p99.9 is not.
        assert_eq!(s.clone().censored(5).lower_bounds, ["p999", "p9999", "mean", "max"]);
        assert_eq!(s.censored(200).lower_bounds[0], "p90");
    }
}
