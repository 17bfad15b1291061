//! A comparison in the shapes CI tools read: the Bencher Metric Format
//! (bencher.dev/docs/reference/bencher-metric-format: benchmark -> measure -> value,
//! lower_value, upper_value) and github-action-benchmark's `customSmallerIsBetter`
//! (a list of name, unit, value, range). The values are the candidate side's; the
//! bounds are its interval (the baseline moved by the change's interval), where the
//! comparison has one.

use serde_json::{json, Map, Value};

use super::{Comparison, Gate, Row, Unit};
use crate::report::values::Key;

/// The row's key: its benchmark name and unit are a run's (`report::values::Key`), so
/// a trend tool's series of runs and of comparisons line up.
fn key(r: &Row) -> Key {
    Key::new(&r.workload, &r.stage, &r.stat)
}

/// The candidate's value and the bounds its change's interval gives, in the row's unit.
fn bounds(r: &Row) -> Option<(f64, Option<(f64, f64)>)> {
    let value = r.candidate?;
    let around = r.baseline.zip(r.ci).map(|(b, (lo, hi))| match r.unit {
        Unit::Share => (b + lo, b + hi),
        Unit::Ns | Unit::OpsPerS => (b * (1.0 + lo), b * (1.0 + hi)),
    });
    Some((value, around.map(|(lo, hi)| (lo.min(value), hi.max(value)))))
}

/// The Bencher Metric Format: `{"w.stage": {"p50": {"value", "lower_value", "upper_value"}}}`.
pub fn bmf(c: &Comparison) -> Value {
    let mut out = Map::new();
    for r in &c.rows {
        let Some((value, around)) = bounds(r) else { continue };
        let mut m = Map::new();
        m.insert("value".into(), json!(value));
        if let Some((lo, hi)) = around {
            m.insert("lower_value".into(), json!(lo));
            m.insert("upper_value".into(), json!(hi));
        }
        let entry = out
            .entry(key(r).benchmark())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(measures) = entry {
            measures.insert(r.stat.clone(), Value::Object(m));
        }
    }
    Value::Object(out)
}

/// github-action-benchmark's `customSmallerIsBetter`: latencies and error shares only
/// (a throughput is bigger-is-better and has its own tool setting).
pub fn benchmark_action(c: &Comparison) -> Value {
    let rows = c.rows.iter().filter(|r| key(r).smaller_is_better()).filter_map(|r| {
        let (value, around) = bounds(r)?;
        let mut e = json!({
            "name": format!("{} {}", key(r).benchmark(), r.stat),
            "unit": key(r).unit(),
            "value": value,
            "extra": format!("{} ({})", r.verdict, gate(r.gate)),
        });
        if let Some((lo, hi)) = around {
            e["range"] = json!(format!("±{}", fmt_half(value, lo, hi)));
        }
        Some(e)
    });
    Value::Array(rows.collect())
}

/// JUnit XML: one test case per gated row, failed when the row is a regression and
/// skipped when it could be one (so CI shows which row failed the gate and why).
pub fn junit(c: &Comparison) -> String {
    use crate::report::markup::esc as xml;
    use std::fmt::Write;
    let gated: Vec<&Row> = c.rows.iter().filter(|r| r.gated).collect();
    let failures = gated.iter().filter(|r| r.gate == Gate::Regression).count();
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites>\n  <testsuite name=\"eventbench gate\" tests=\"{}\" failures=\"{failures}\">",
        gated.len()
    );
    for r in gated {
        let name = format!("{} {}", key(r).benchmark(), r.stat);
        let _ = write!(o, "    <testcase classname=\"eventbench.gate\" name=\"{}\"", xml(&name));
        let change = r.change.map_or("n/a".to_string(), |c| format!("{:+.1}%", c * 100.0));
        match r.gate {
            Gate::Pass => o.push_str("/>\n"),
            Gate::Regression => {
                let msg = format!(
                    "{} ({change}): {}",
                    r.verdict,
                    r.note.as_deref().unwrap_or("a regression")
                );
                let _ = writeln!(o, ">\n      <failure message=\"{}\"/>\n    </testcase>", xml(&msg));
            }
            Gate::Inconclusive => {
                let msg = format!("could be a regression ({change}): {}", r.note.as_deref().unwrap_or(""));
                let _ = writeln!(o, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&msg));
            }
        }
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

fn gate(g: Gate) -> &'static str {
    match g {
        Gate::Pass => "pass",
        Gate::Regression => "regression",
        Gate::Inconclusive => "inconclusive",
    }
}

/// Half the interval's width, as the tool shows it beside the value.
fn fmt_half(value: f64, lo: f64, hi: f64) -> String {
    let half = ((hi - lo) / 2.0).abs();
    if value.abs() >= 100.0 {
        format!("{half:.0}")
    } else {
        format!("{half:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::Change;
    use super::*;

    fn row(stage: &str, stat: &str, unit: Unit, base: f64, cand: f64, ci: Option<(f64, f64)>) -> Row {
        Row {
            workload: "writers".into(),
            stage: stage.into(),
            stat: stat.into(),
            unit,
            baseline: Some(base),
            candidate: Some(cand),
            change: Some(cand / base - 1.0),
            ci,
            noise_sd: None,
            noise_dof: 0,
            floor: 0.05,
            limit: None,
            gated: true,
            verdict: Change::Slower,
            gate: Gate::Regression,
            note: None,
        }
    }

    fn comparison(rows: Vec<Row>) -> Comparison {
        let mut c = super::super::tests::empty_comparison();
        c.rows = rows;
        c
    }

    #[test]
    fn bmf_has_benchmark_measure_value_and_bounds() {
        let c = comparison(vec![
            row("persist", "p50", Unit::Ns, 1e6, 1.2e6, Some((0.1, 0.3))),
            row("persist", "p99", Unit::Ns, 3e6, 3.3e6, None),
        ]);
        let b = bmf(&c);
        let p50 = &b["writers.persist"]["p50"];
        assert_eq!(p50["value"].as_f64(), Some(1.2e6));
        assert!((p50["lower_value"].as_f64().expect("lower") - 1.1e6).abs() < 1.0);
        assert!((p50["upper_value"].as_f64().expect("upper") - 1.3e6).abs() < 1.0);
        // No interval: the value alone, as Bencher allows.
        let p99 = b["writers.persist"]["p99"].as_object().expect("p99");
        assert_eq!(p99.keys().collect::<Vec<_>>(), ["value"]);
        assert_eq!(
            b.as_object().map(|o| o.len()),
            Some(1),
            "one benchmark per workload and stage"
        );
    }

    #[test]
    fn benchmark_action_is_a_list_of_name_unit_value_range() {
        let c = comparison(vec![
            row("persist", "p50", Unit::Ns, 1e6, 1.2e6, Some((0.1, 0.3))),
            row("throughput", "ok/s", Unit::OpsPerS, 100.0, 90.0, None),
        ]);
        let a = benchmark_action(&c);
        let list = a.as_array().expect("array");
        assert_eq!(list.len(), 1, "smaller is better: no throughput");
        let e = &list[0];
        assert_eq!(e["name"], "writers.persist p50");
        assert_eq!(e["unit"], "ns");
        assert_eq!(e["value"].as_f64(), Some(1.2e6));
        assert_eq!(e["range"], "±100000");
        assert_eq!(e["extra"], "slower (regression)");
    }
}
