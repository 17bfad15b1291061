//! A `replay` workload's keys, and its capture read once (a missing or damaged file is
//! an error at its `capture` key, like any other value).

use std::sync::Arc;

use toml::Spanned;

use super::span::{at, Fault};
use super::types::{Arrival, Workload, WorkloadKind, MAX_RATE};
use crate::model::capture::Capture;

/// Fastest replay: a capture played 1000x faster is a different workload.
const MAX_SPEED: f64 = 1000.0;

/// `None` for a workload that is not a replay (after checking it sets no replay key);
/// else whether it needs the scenario's `duration` (a loop has no end of its own).
pub(super) fn check(name: &str, w: &Spanned<Workload>) -> Result<Option<bool>, Fault> {
    let wl = w.get_ref();
    if wl.kind != WorkloadKind::Replay {
        return match (&wl.capture, &wl.speed) {
            (Some(c), _) => Err(at(
                c,
                format!("workload `{name}`: `capture` is for `kind = \"replay\"`"),
            )),
            (_, Some(s)) => Err(at(s, format!("workload `{name}`: `speed` is for `kind = \"replay\"`"))),
            _ if wl.looped => Err(at(w, format!("workload `{name}`: `loop` is for `kind = \"replay\"`"))),
            _ => Ok(None),
        };
    }
    let refused = |what: &str| {
        at(
            w,
            format!("workload `{name}`: a replay's schedule is its capture's; {what}"),
        )
    };
    if wl.capture.is_none() {
        return Err(at(
            w,
            format!("workload `{name}`: a replay needs `capture = \"FILE\"` (written by `eventbench capture`)"),
        ));
    }
    if wl.concurrency.is_some() {
        return Err(refused("`concurrency` (a closed model) has no place in it"));
    }
    if !wl.phase.is_empty() {
        return Err(refused("`phase` has no place in it (`speed` or `rate` scales it)"));
    }
    if wl.arrival != Arrival::Constant {
        return Err(refused(
            "`arrival` has no place in it (the captured times are the arrivals)",
        ));
    }
    match (&wl.rate, &wl.speed) {
        (Some(r), Some(_)) => {
            return Err(at(
                r,
                format!("workload `{name}` sets both `rate` and `speed`: keep one"),
            ));
        }
        (Some(r), None) if !(r.get_ref().is_finite() && *r.get_ref() > 0.0 && *r.get_ref() <= MAX_RATE) => {
            return Err(at(r, "`rate` must be a positive number of operations per second"));
        }
        (None, Some(s)) if !(s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() <= MAX_SPEED) => {
            return Err(at(s, format!("`speed` must be above 0 and at most {MAX_SPEED}")));
        }
        _ => {}
    }
    Ok(Some(wl.looped))
}

/// A replay workload's capture, read (the path as written: relative to where eventbench
/// runs, like the TLS files).
pub(super) fn capture(w: &Spanned<Workload>) -> Result<Option<Arc<Capture>>, Fault> {
    let wl = w.get_ref();
    let (WorkloadKind::Replay, Some(path)) = (wl.kind, &wl.capture) else {
        return Ok(None);
    };
    let c = Capture::read(std::path::Path::new(path.get_ref())).map_err(|e| at(path, e))?;
    let no_span = c.period_ms() <= 0.0;
    if no_span && wl.rate.is_some() {
        return Err(at(
            path,
            "the capture spans no time, so it has no rate to scale to `rate`: use `speed`",
        ));
    }
    if no_span && wl.looped {
        return Err(at(path, "the capture spans no time: a loop of it has no period"));
    }
    Ok(Some(Arc::new(c)))
}
