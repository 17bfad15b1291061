//! The plan, as plan.json holds it: each size's capacity, the fitted law, the held-out
//! check, the size a target rate needs, and what the host had to do with it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::usl::{self, Fit, Point, Prediction};
use super::Options;
use crate::capacity::Capacity;

/// A failing boundary step that kept the host's cores this busy (of all of them) says
/// the machine, not the target, may have set the size's capacity.
const HOST_BUSY_SHARE: f64 = 0.85;

/// The fit is poor when the points scatter this many times more than their own
/// intervals say (weighted residuals' chi-square over its degrees of freedom).
const POOR_FIT: f64 = 4.0;

/// How far past the largest measured size the plan will extrapolate.
const MAX_EXTRAPOLATION: f64 = 2.0;

/// A size's standard error when its interval has an open end: a tenth of its capacity.
const OPEN_SD: f64 = 0.1;

/// One size's search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Size {
    /// The key's value as given.
    pub value: String,
    /// The law's N.
    pub n: f64,
    /// The capacity (the rate a run passes half the time) and its 95% interval.
    pub capacity: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub sustainable_rate: Option<f64>,
    pub failing_rate: Option<f64>,
    pub limiting: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiting_hop: Option<String>,
    /// Why the host, not the target, may have set this size's capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_bound: Option<String>,
    pub stopped_early: Option<String>,
    /// The size's capacity.json and steps.
    pub dir: String,
}

impl Size {
    pub fn of(value: &str, n: f64, c: &Capacity, dir: &Path) -> Size {
        // The failing boundary's own runs (a lower rate that failed once, a cold start,
        // is not where the capacity was set), else the lowest failing run.
        let failed = || c.steps.iter().filter(|s| s.set_aside.is_none() && !s.passed);
        let failing = failed()
            .find(|s| Some(s.rate) == c.failing_rate)
            .or_else(|| failed().min_by(|a, b| a.rate.total_cmp(&b.rate)));
        // The host's CPU and the hiccup meter at the failing boundary.
        let host_bound = failing.and_then(|s| {
            let mut why = Vec::new();
            if let Some(busy) = s.host_busy_cores.filter(|b| s.host_cpus > 0 && *b >= HOST_BUSY_SHARE * s.host_cpus as f64) {
                why.push(format!(
                    "the host's {} cores were {:.0}% busy (everything on it, eventbench and the local services included)",
                    s.host_cpus,
                    100.0 * busy / s.host_cpus as f64
                ));
            }
            if s.host_stalls > 0 {
                why.push(format!(
                    "the hiccup meter woke 10 ms or more late {} time(s) in its judged window",
                    s.host_stalls
                ));
            }
            (!why.is_empty()).then(|| format!("at {:.0}/s {}", s.rate, why.join("; ")))
        });
        Size {
            value: value.to_string(),
            n,
            capacity: c.interval.as_ref().map(|i| i.rate).or(c.sustainable_rate),
            lo: c.interval.as_ref().and_then(|i| i.lo),
            hi: c.interval.as_ref().and_then(|i| i.hi),
            sustainable_rate: c.sustainable_rate,
            failing_rate: c.failing_rate,
            limiting: c.limiting.clone(),
            limiting_hop: c.limiting_hop.as_ref().map(|h| h.hop.clone()),
            host_bound,
            stopped_early: c.stopped_early.clone(),
            dir: dir.display().to_string(),
        }
    }

    /// The size as a point of the fit, its standard error from its interval; `None`
    /// without a capacity, or with no failing step (a capacity not found is no point).
    fn point(&self) -> Option<Point> {
        let x = self.capacity?;
        self.failing_rate?;
        let sd = match (self.lo, self.hi) {
            (Some(l), Some(h)) => ((h - l) / (2.0 * 1.96)).max(0.005 * x),
            _ => OPEN_SD * x,
        };
        Some(Point { n: self.n, x, sd })
    }
}

/// The fit left out the largest size and predicted it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldOut {
    pub n: f64,
    pub measured: f64,
    pub predicted: Prediction,
    /// (predicted - measured) / measured.
    pub error: f64,
    /// Whether the prediction interval covered the measured capacity (None: no
    /// interval, too few points left).
    pub covered: Option<bool>,
}

/// The smallest size that reaches the target rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Needed {
    pub target_rate: f64,
    /// The smallest whole size whose predicted capacity reaches it.
    pub n: Option<f64>,
    pub predicted: Option<Prediction>,
    /// The smallest whole size whose prediction interval's low end reaches it.
    pub n_sure: Option<f64>,
    /// What the fit can and cannot say here, in words.
    pub says: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub eventbench_version: String,
    pub key: String,
    pub workload: String,
    pub slos: Vec<String>,
    pub sizes: Vec<Size>,
    pub fit: Option<Fit>,
    /// What the fit can and cannot say, in words (few points, a poor fit, a cost held).
    pub fit_notes: Vec<String>,
    pub held_out: Option<HeldOut>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed: Option<Needed>,
    /// Where the host was the limit, the plan's curve describes that host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_note: Option<String>,
    /// The fitted curve and its prediction band, for the chart.
    pub curve: Vec<Prediction>,
    pub host: crate::host::Host,
}

fn fit_notes(fit: Option<&Fit>, points: usize, sizes: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if points < sizes {
        notes.push(format!(
            "{} of {sizes} sizes found no failing rate or no capacity and are not in the fit",
            sizes - points
        ));
    }
    let Some(f) = fit else {
        notes.push(format!(
            "no fit: {points} size(s) with a capacity; the law needs at least 2 (3 for its coherency cost)"
        ));
        return notes;
    };
    if f.dof == 0 {
        notes.push(
            "as many coefficients as sizes: the fit passes through every point, with no intervals and nothing to check it by; measure more sizes"
                .into(),
        );
    }
    if let Some(c) = f.chi2_per_dof.filter(|c| *c > POOR_FIT) {
        notes.push(format!(
            "poor fit: the sizes scatter {:.1}x more than their own intervals say (chi-square per degree of freedom); the law may not describe this target (a different limit at some sizes?)",
            c.sqrt()
        ));
    }
    for h in &f.held_at_zero {
        notes.push(format!("{h} held at 0: the fit wanted it negative (no such cost seen)"));
    }
    notes
}

fn held_out(points: &[Point]) -> Option<HeldOut> {
    let largest = points.iter().copied().max_by(|a, b| a.n.total_cmp(&b.n))?;
    let rest: Vec<Point> = points.iter().copied().filter(|p| p.n != largest.n).collect();
    let fit = usl::fit(&rest)?;
    let predicted = fit.predict(largest.n);
    Some(HeldOut {
        n: largest.n,
        measured: largest.x,
        predicted,
        error: (predicted.x - largest.x) / largest.x,
        covered: predicted
            .lo
            .zip(predicted.hi)
            .map(|(l, h)| l <= largest.x && largest.x <= h),
    })
}

fn needed(fit: &Fit, target: f64, largest_n: f64) -> Needed {
    let limit = (largest_n * MAX_EXTRAPOLATION).ceil().max(1.0);
    let search_to = (largest_n * 64.0).max(1024.0);
    let first =
        |ok: &dyn Fn(&Prediction) -> bool| (1..=search_to as usize).map(|n| fit.predict(n as f64)).find(|p| ok(p));
    let best = first(&|p| p.x >= target);
    let sure = first(&|p| p.lo.is_some_and(|l| l >= target));
    let says = match (&best, fit.peak_x) {
        (None, Some(px)) => format!(
            "no size reaches {target:.0}/s: the fit peaks at {px:.0}/s near N = {:.0}, and past it more size is slower",
            fit.peak_n.unwrap_or(0.0)
        ),
        (None, None) => format!("no size up to {search_to:.0} reaches {target:.0}/s by the fit"),
        (Some(p), _) if p.n > limit => format!(
            "N = {:.0} by the fit, beyond what it supports ({MAX_EXTRAPOLATION}x the largest size measured, {largest_n:.0}): measure nearer that size before buying it",
            p.n
        ),
        (Some(p), _) => {
            let band = match (p.lo, p.hi) {
                (Some(l), Some(h)) => format!(" (95% prediction interval {l:.0} - {h:.0}/s)"),
                _ => " (no prediction interval: too few sizes)".into(),
            };
            let sure = match &sure {
                Some(s) if s.n <= limit => format!("; N = {:.0} reaches it even at the interval's low end", s.n),
                Some(s) => format!("; at the interval's low end N = {:.0}, beyond what the fit supports", s.n),
                None => "; no size reaches it at the interval's low end".into(),
            };
            format!("N = {:.0} predicts {:.0}/s{band}{sure}", p.n, p.x)
        }
    };
    Needed {
        target_rate: target,
        n: best.map(|p| p.n),
        predicted: best,
        n_sure: sure.map(|p| p.n),
        says,
    }
}

/// The plan from the sizes' searches.
pub fn make(o: &Options, sizes: Vec<Size>) -> Plan {
    let points: Vec<Point> = sizes.iter().filter_map(Size::point).collect();
    let fit = usl::fit(&points);
    let largest = points.iter().map(|p| p.n).fold(0.0, f64::max);
    let curve = fit.as_ref().map_or_else(Vec::new, |f| {
        let to = largest * MAX_EXTRAPOLATION;
        (0..=80)
            .map(|i| f.predict(1.0 + (to - 1.0).max(0.0) * i as f64 / 80.0))
            .collect()
    });
    let held: Vec<&Size> = sizes.iter().filter(|s| s.host_bound.is_some()).collect();
    let host_note = (!held.is_empty()).then(|| {
        format!(
            "the host was near its limit at {} of {} sizes ({}): these capacities, and the curve, describe this host as much as the target; size on machines like the target's",
            held.len(),
            sizes.len(),
            held.iter().map(|s| format!("{}={}", o.scale.key, s.value)).collect::<Vec<_>>().join(", ")
        )
    });
    Plan {
        eventbench_version: env!("CARGO_PKG_VERSION").into(),
        key: o.scale.key.clone(),
        workload: o.capacity.workload.clone(),
        slos: o
            .capacity
            .slos
            .iter()
            .map(|s| format!("{} {}", s.key, s.condition))
            .collect(),
        fit_notes: fit_notes(fit.as_ref(), points.len(), sizes.len()),
        held_out: held_out(&points),
        needed: fit.as_ref().zip(o.target_rate).map(|(f, t)| needed(f, t, largest)),
        fit,
        host_note,
        curve,
        sizes,
        host: crate::host::Host::detect(),
    }
}
