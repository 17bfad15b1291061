//! `[thresholds]`: conditions on a run's numbers that decide a CI verdict, e.g.
//! `"producers.e2e.persisted.p99" = "< 50ms"`, `"producers.errors.rate" = "< 0.1%"`,
//! `"producers.achieved_rate" = ">= 99% of target"`. Checked at the end of a run, and,
//! with `abort_after`, on every interval: a breach sustained that long ends the run.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stats::{Stage, StageSummary};
use crate::units::percent;

/// What a threshold looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    Stage {
        workload: String,
        stage: Stage,
        stat: Stat,
    },
    /// Errors per operation (a fraction).
    ErrorRate {
        workload: String,
    },
    ErrorCount {
        workload: String,
    },
    /// Operations started > 1 ms late, per operation.
    LateRate {
        workload: String,
    },
    /// Operations per second; with `% of target`, achieved / target.
    AchievedRate {
        workload: String,
    },
    Ops {
        workload: String,
    },
    /// A finding of the integrity audit.
    Audit {
        field: String,
    },
}

/// A statistic of a stage's histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Min,
    Mean,
    P50,
    P90,
    P95,
    P99,
    P999,
    P9999,
    Max,
    Count,
}

impl Stat {
    const NAMES: [(&'static str, Stat); 10] = [
        ("min", Stat::Min),
        ("mean", Stat::Mean),
        ("p50", Stat::P50),
        ("p90", Stat::P90),
        ("p95", Stat::P95),
        ("p99", Stat::P99),
        ("p999", Stat::P999),
        ("p9999", Stat::P9999),
        ("max", Stat::Max),
        ("count", Stat::Count),
    ];

    fn parse(s: &str) -> Option<Stat> {
        Stat::NAMES.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
    }

    /// The quantile it stands for, if it is one.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Stat::P50 => Some(0.5),
            Stat::P90 => Some(0.9),
            Stat::P95 => Some(0.95),
            Stat::P99 => Some(0.99),
            Stat::P999 => Some(0.999),
            Stat::P9999 => Some(0.9999),
            _ => None,
        }
    }

    fn of(self, s: &StageSummary) -> f64 {
        match self {
            Stat::Min => s.min_ns as f64,
            Stat::Mean => s.mean_ns,
            Stat::P50 => s.p50_ns as f64,
            Stat::P90 => s.p90_ns as f64,
            Stat::P95 => s.p95_ns as f64,
            Stat::P99 => s.p99_ns as f64,
            Stat::P999 => s.p999_ns as f64,
            Stat::P9999 => s.p9999_ns as f64,
            Stat::Max => s.max_ns as f64,
            Stat::Count => s.count as f64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// The right-hand side of a condition, in the metric's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// Nanoseconds, a count, a rate or a fraction.
    Value(f64),
    /// A fraction of the workload's target rate.
    OfTarget(f64),
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written, e.g. `producers.e2e.persisted.p99`.
    pub key: String,
    /// As written, e.g. `< 50ms`.
    pub condition: String,
    pub metric: Metric,
    pub op: Op,
    pub bound: Bound,
    /// Checked on every interval; a breach this long aborts the run.
    pub abort_after_ns: Option<u64>,
}

/// How a scenario writes a threshold: a condition, or a table with options.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Spec {
    Condition(String),
    Table {
        check: String,
        /// Also check every interval, and abort after a breach this long.
        abort_after: Option<crate::units::Dur>,
    },
}

impl<'de> Deserialize<'de> for Spec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Spec, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            check: String,
            abort_after: Option<crate::units::Dur>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Condition(String),
            Table(Table),
        }
        match Either::deserialize(d) {
            Ok(Either::Condition(c)) => Ok(Spec::Condition(c)),
            Ok(Either::Table(t)) => Ok(Spec::Table {
                check: t.check,
                abort_after: t.abort_after,
            }),
            Err(_) => Err(serde::de::Error::custom(
                "a threshold is a condition such as \"< 50ms\", or { check = \"< 50ms\", abort_after = \"10s\" }",
            )),
        }
    }
}

/// Parses `key` and its spec, knowing the workload names.
pub fn parse(key: &str, spec: &Spec, workloads: &[String]) -> Result<Threshold, String> {
    let (condition, abort_after_ns) = match spec {
        Spec::Condition(c) => (c.clone(), None),
        Spec::Table { check, abort_after } => (check.clone(), abort_after.map(|d| d.as_nanos())),
    };
    let metric = parse_metric(key, workloads)?;
    let (op, rest) = split_op(condition.trim())
        .ok_or_else(|| format!("threshold `{key}`: condition {condition:?} must start with <, <=, > or >="))?;
    let bound = parse_bound(rest.trim(), &metric).map_err(|e| format!("threshold `{key}`: {e} in {condition:?}"))?;
    Ok(Threshold {
        key: key.to_string(),
        condition,
        metric,
        op,
        bound,
        abort_after_ns,
    })
}

fn parse_metric(key: &str, workloads: &[String]) -> Result<Metric, String> {
    if let Some(field) = key.strip_prefix("audit.") {
        const FIELDS: [&str; 9] = [
            "lost",
            "backlog",
            "duplicates",
            "errors",
            "hidden",
            "unanswered",
            "pending",
            "redelivered",
            "requeried",
        ];
        return if FIELDS.contains(&field) {
            Ok(Metric::Audit { field: field.into() })
        } else {
            Err(format!(
                "threshold `{key}`: the audit has no `{field}` (one of {})",
                FIELDS.join(", ")
            ))
        };
    }
    let workload = workloads
        .iter()
        .filter(|w| key.starts_with(&format!("{w}.")))
        .max_by_key(|w| w.len())
        .ok_or_else(|| {
            format!(
                "threshold `{key}` must start with a workload name ({}) or `audit.`",
                workloads.join(", ")
            )
        })?
        .clone();
    let rest = &key[workload.len() + 1..];
    let w = workload.clone();
    match rest {
        "errors.rate" => return Ok(Metric::ErrorRate { workload: w }),
        "errors.count" => return Ok(Metric::ErrorCount { workload: w }),
        "late.rate" => return Ok(Metric::LateRate { workload: w }),
        "achieved_rate" => return Ok(Metric::AchievedRate { workload: w }),
        "ops" => return Ok(Metric::Ops { workload: w }),
        _ => {}
    }
    let (stage, stat) = rest.rsplit_once('.').ok_or_else(|| {
        format!("threshold `{key}`: expected `{workload}.<stage>.<stat>` (e.g. {workload}.produce.p99), errors.rate, errors.count, late.rate, achieved_rate or ops")
    })?;
    let stage = Stage::from_name(stage).ok_or_else(|| {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
        format!("threshold `{key}`: no stage `{stage}` (stages: {})", names.join(", "))
    })?;
    let stat = Stat::parse(stat).ok_or_else(|| {
        let names: Vec<&str> = Stat::NAMES.iter().map(|(n, _)| *n).collect();
        format!("threshold `{key}`: no statistic `{stat}` (one of {})", names.join(", "))
    })?;
    Ok(Metric::Stage { workload, stage, stat })
}

fn split_op(s: &str) -> Option<(Op, &str)> {
    for (t, op) in [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)] {
        if let Some(rest) = s.strip_prefix(t) {
            return Some((op, rest));
        }
    }
    None
}

fn parse_bound(s: &str, metric: &Metric) -> Result<Bound, String> {
    if let Some(pct) = s.strip_suffix("of target") {
        if !matches!(metric, Metric::AchievedRate { .. }) {
            return Err("`% of target` applies only to achieved_rate".into());
        }
        return percent(pct.trim()).map(Bound::OfTarget);
    }
    match metric {
        Metric::Stage { stat: Stat::Count, .. } => number(s),
        Metric::Stage { .. } => s
            .parse::<crate::units::Dur>()
            .map(|d| Bound::Value(d.as_nanos() as f64))
            .map_err(|e| format!("expected a duration such as 50ms ({e})")),
        Metric::ErrorRate { .. } | Metric::LateRate { .. } => percent(s).map(Bound::Value),
        _ => number(s),
    }
}

fn number(s: &str) -> Result<Bound, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Bound::Value)
        .ok_or_else(|| format!("expected a number, not {s:?}"))
}

/// The numbers one workload offers to a check (the whole run, or one interval).
pub struct Observed<'a> {
    pub stage: &'a dyn Fn(Stage) -> Option<StageSummary>,
    pub ops: u64,
    pub errors: u64,
    pub late: u64,
    pub achieved_rate: f64,
    pub target_rate: f64,
}

impl Threshold {
    pub fn workload(&self) -> Option<&str> {
        match &self.metric {
            Metric::Stage { workload, .. }
            | Metric::ErrorRate { workload }
            | Metric::ErrorCount { workload }
            | Metric::LateRate { workload }
            | Metric::AchievedRate { workload }
            | Metric::Ops { workload } => Some(workload),
            Metric::Audit { .. } => None,
        }
    }

    /// The metric's value and whether the condition holds; `None` when there is
    /// nothing to judge (no such stage in the run).
    pub fn judge(&self, o: &Observed<'_>) -> Option<(f64, bool)> {
        let per_op = |n: u64| if o.ops == 0 { 0.0 } else { n as f64 / o.ops as f64 };
        let value = match &self.metric {
            Metric::Stage { stage, stat, .. } => stat.of(&(o.stage)(*stage)?),
            Metric::ErrorRate { .. } => per_op(o.errors),
            Metric::ErrorCount { .. } => o.errors as f64,
            Metric::LateRate { .. } => per_op(o.late),
            Metric::AchievedRate { .. } => o.achieved_rate,
            Metric::Ops { .. } => o.ops as f64,
            Metric::Audit { .. } => return None,
        };
        let bound = match self.bound {
            Bound::Value(v) => v,
            Bound::OfTarget(f) => f * o.target_rate,
        };
        Some((value, self.op.holds(value, bound)))
    }

    /// A value in the metric's unit, for people.
    pub fn show(&self, v: f64) -> String {
        match &self.metric {
            Metric::Stage { stat: Stat::Count, .. } => format!("{v:.0}"),
            Metric::Stage { .. } => crate::units::fmt_ns(v.max(0.0) as u64),
            Metric::ErrorRate { .. } | Metric::LateRate { .. } => format!("{:.4}%", v * 100.0),
            Metric::AchievedRate { .. } => format!("{v:.1}/s"),
            _ => format!("{v:.0}"),
        }
    }
}

/// One threshold's verdict, as `summary.json` and the CI files hold it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub threshold: String,
    pub condition: String,
    /// The measured value, shown in the metric's unit.
    pub actual: String,
    pub passed: bool,
    /// Why there is no value, when there is none (counts as failed).
    pub note: Option<String>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} (actual {})",
            if self.passed { "PASS" } else { "FAIL" },
            self.threshold,
            self.condition,
            self.actual
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> Vec<String> {
        vec!["producers".into(), "producers2".into()]
    }

    #[test]
    fn keys_and_conditions_parse_into_metrics_and_bounds() {
        let t = parse("producers.e2e.persisted.p99", &Spec::Condition("< 50ms".into()), &ws()).expect("ok");
        assert_eq!(
            (t.metric.clone(), t.op, t.bound),
            (
                Metric::Stage {
                    workload: "producers".into(),
                    stage: Stage::E2ePersisted,
                    stat: Stat::P99
                },
                Op::Lt,
                Bound::Value(50e6)
            )
        );
        let t = parse("producers2.errors.rate", &Spec::Condition("<= 0.1%".into()), &ws()).expect("ok");
        assert_eq!((t.workload(), t.bound), (Some("producers2"), Bound::Value(0.001)));
        let t = parse(
            "producers.achieved_rate",
            &Spec::Condition(">= 99% of target".into()),
            &ws(),
        )
        .expect("ok");
        assert_eq!(t.bound, Bound::OfTarget(0.99));
        for (key, cond, says) in [
            ("nobody.produce.p99", "< 1ms", "must start with a workload name"),
            ("producers.prodce.p99", "< 1ms", "no stage `prodce`"),
            ("producers.produce.p42", "< 1ms", "no statistic `p42`"),
            ("producers.produce.p99", "1ms", "must start with <"),
            ("producers.produce.p99", "< fast", "expected a duration"),
            ("producers.errors.rate", "< 0.1", "expected a percentage"),
            (
                "producers.produce.p99",
                "< 5% of target",
                "applies only to achieved_rate",
            ),
            ("audit.lose", "< 1", "the audit has no `lose`"),
        ] {
            let e = parse(key, &Spec::Condition(cond.into()), &ws()).expect_err(key);
            assert!(e.contains(says), "{key} {cond}: {e}");
        }
    }

    #[test]
    fn judging_compares_in_the_metrics_unit() {
        let t = parse("producers.produce.p99", &Spec::Condition("< 2ms".into()), &ws()).expect("ok");
        let fast = |_: Stage| {
            Some(StageSummary {
                p99_ns: 1_500_000,
                ..StageSummary::default()
            })
        };
        let o = Observed {
            stage: &fast,
            ops: 1000,
            errors: 2,
            late: 0,
            achieved_rate: 980.0,
            target_rate: 1000.0,
        };
        assert_eq!(t.judge(&o), Some((1.5e6, true)));
        let rate = parse(
            "producers.achieved_rate",
            &Spec::Condition(">= 99% of target".into()),
            &ws(),
        )
        .expect("ok");
        assert_eq!(rate.judge(&o), Some((980.0, false)));
        let errors = parse("producers.errors.rate", &Spec::Condition("< 0.1%".into()), &ws()).expect("ok");
        assert_eq!(errors.judge(&o), Some((0.002, false)));
        assert_eq!(errors.show(0.002), "0.2000%");
    }
}
