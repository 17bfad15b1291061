//! The timeline charts' series: one function per chart, each from the workload's
//! interval points (and the platform's, for the lag chart).

use super::PALETTE;
use crate::report::summary::LoadModel;
use crate::report::svg::Series;
use crate::stats::timeline::IntervalPoint;

pub(super) type Point<'a> = &'a IntervalPoint;

fn mid(p: &IntervalPoint) -> f64 {
    p.t_s + p.length_s / 2.0
}

/// p50, p99 and max of the main stage per interval, and e2e p99 where there is one.
pub(super) fn latency_series(tl: &[Point<'_>]) -> Vec<Series> {
    let mut latency = vec![
        Series {
            name: "p50".into(),
            color: PALETTE[0],
            points: tl.iter().map(|p| (mid(p), p.p50_ns as f64 / 1e6)).collect(),
        },
        Series {
            name: "p99".into(),
            color: PALETTE[1],
            points: tl.iter().map(|p| (mid(p), p.p99_ns as f64 / 1e6)).collect(),
        },
        Series {
            name: "max".into(),
            color: PALETTE[7],
            points: tl.iter().map(|p| (mid(p), p.max_ns as f64 / 1e6)).collect(),
        },
    ];
    if tl.iter().any(|p| p.e2e_p99_ns > 0) {
        latency.push(Series {
            name: "e2e p99".into(),
            color: PALETTE[2],
            points: tl.iter().map(|p| (mid(p), p.e2e_p99_ns as f64 / 1e6)).collect(),
        });
    }
    latency
}

/// Schedule lag p99 and max per interval, and the hiccup meter's p99 and max beside
/// them: a lag that the floor shares is the host's.
pub(super) fn lag_series(tl: &[Point<'_>], platform: Option<&crate::report::platform::PlatformSummary>) -> Vec<Series> {
    if tl.iter().all(|p| p.lag_max_ns == 0) {
        return Vec::new();
    }
    // Zero does not fit a log axis: a floor of 1 us.
    let v = |ns: u64| (ns.max(1_000)) as f64 / 1e6;
    let mut out = vec![
        Series {
            name: "lag p99".into(),
            color: PALETTE[0],
            points: tl.iter().map(|p| (mid(p), v(p.lag_p99_ns))).collect(),
        },
        Series {
            name: "lag max".into(),
            color: PALETTE[1],
            points: tl.iter().map(|p| (mid(p), v(p.lag_max_ns))).collect(),
        },
    ];
    if let Some(pl) = platform.filter(|p| !p.timeline.is_empty()) {
        let at = |p: &crate::stats::platform::HostPoint| p.t_s + p.length_s / 2.0;
        out.push(Series {
            name: "hiccup p99".into(),
            color: PALETTE[2],
            points: pl.timeline.iter().map(|p| (at(p), v(p.hiccup_p99_ns))).collect(),
        });
        out.push(Series {
            name: "hiccup max".into(),
            color: PALETTE[7],
            points: pl.timeline.iter().map(|p| (at(p), v(p.hiccup_max_ns))).collect(),
        });
    }
    out
}

/// Achieved rate per interval, and the target for an open model.
pub(super) fn rate_series(tl: &[Point<'_>], model: LoadModel) -> Vec<Series> {
    let mut rates = vec![Series {
        name: "achieved".into(),
        color: PALETTE[0],
        points: tl.iter().map(|p| (mid(p), p.achieved_rate)).collect(),
    }];
    if model == LoadModel::Open {
        rates.insert(
            0,
            Series {
                name: "target".into(),
                color: PALETTE[7],
                points: tl.iter().map(|p| (mid(p), p.target_rate)).collect(),
            },
        );
    }
    rates
}

/// Errors per interval, one series per class that occurred.
pub(super) fn error_series(tl: &[Point<'_>]) -> Vec<Series> {
    let classes: std::collections::BTreeSet<&String> = tl.iter().flat_map(|p| p.errors_by_class.keys()).collect();
    let mut errors: Vec<Series> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            name: (*c).clone(),
            color: PALETTE[(i + 1) % PALETTE.len()],
            points: tl
                .iter()
                .map(|p| (mid(p), *p.errors_by_class.get(*c).unwrap_or(&0) as f64))
                .collect(),
        })
        .collect();
    if errors.is_empty() {
        errors.push(Series {
            name: "errors (none)".into(),
            color: PALETTE[2],
            points: tl.iter().map(|p| (mid(p), p.errors as f64)).collect(),
        });
    }
    errors
}
