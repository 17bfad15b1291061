//! One run in the shapes trend tools keep: the Bencher Metric Format (`bmf.json`) and
//! github-action-benchmark's `customSmallerIsBetter` (`benchmark-action.json`). A trend
//! tool stores one point per CI run and draws the series itself, so a run is the unit
//! these files describe (a history has no file of its own: the tool is the history).
//! A percentile the run censored is a lower bound, said as `lower_value` (BMF) or in
//! `extra` (benchmark-action); one run has no interval, so no upper bound.

use serde_json::{json, Map, Value};

use super::summary::Summary;
use super::values::{Key, RunValues};

/// Each value of the run with its key, and whether it is only a lower bound.
fn points(s: &Summary) -> Vec<(Key, f64, bool)> {
    let v = RunValues::of(s);
    v.values
        .iter()
        .filter_map(|(k, &x)| Some((k.parse::<Key>().ok()?, x, v.lower_bounds.contains(k))))
        .collect()
}

/// `{"workload.stage": {"p50": {"value": ns}, ...}, ...}`.
pub fn bmf(s: &Summary) -> Value {
    let mut out = Map::new();
    for (k, value, lower) in points(s) {
        let mut m = Map::new();
        m.insert("value".into(), json!(value));
        if lower {
            m.insert("lower_value".into(), json!(value));
        }
        let entry = out.entry(k.benchmark()).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(measures) = entry {
            measures.insert(k.stat, Value::Object(m));
        }
    }
    Value::Object(out)
}

/// `[{"name": "workload.stage stat", "unit", "value", "extra"}]`: latencies and error
/// shares (smaller is better; a closed workload's throughput is not).
pub fn benchmark_action(s: &Summary) -> Value {
    let rows = points(s).into_iter().filter(|(k, _, _)| k.smaller_is_better()).map(|(k, value, lower)| {
        json!({
            "name": format!("{} {}", k.benchmark(), k.stat),
            "unit": k.unit(),
            "value": value,
            "extra": format!("{}{}", s.scenario.name, if lower { " (a lower bound: censored operations)" } else { "" }),
        })
    });
    Value::Array(rows.collect())
}
