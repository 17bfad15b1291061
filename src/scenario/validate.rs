//! Checks that types cannot express, each pointing at the value at fault.

use toml::Spanned;

use super::span::{at, Fault};
use super::types::{
    Burst, Checked, Latency, Phase, Scenario, ScheduledFault, ServicesMode, StoreKind, Via, Workload, WorkloadKind,
    MAX_RATE,
};

/// Steps of one `step` phase: more is a typo, not a load.
const MAX_STEPS: u32 = 10_000;

/// Returns the first problem found, with the span of the value at fault.
pub fn check(s: &Scenario) -> Result<Checked, Fault> {
    let metrics_listen = check_top(s)?;
    let mut needs_duration = false;
    let mut captures = std::collections::BTreeMap::new();
    for (name, w) in s.workload.get_ref() {
        needs_duration |= check_workload(s, name, w)?;
        if let Some(c) = super::validate_replay::capture(w)? {
            captures.insert(name.clone(), c);
        }
    }
    check_duration(s, needs_duration)?;
    super::validate_data::check_data(s)?;
    let names: Vec<String> = s.workload.get_ref().keys().cloned().collect();
    let thresholds = s
        .thresholds
        .iter()
        .map(|(key, spec)| crate::thresholds::parse(key, spec.get_ref(), &names).map_err(|e| at(spec, e)))
        .collect::<Result<Vec<_>, _>>()?;
    check_target(s)?;
    Ok(Checked {
        thresholds,
        metrics_listen,
        captures,
    })
}

/// `metrics.listen` as an address with a port.
fn metrics_listen(s: &Scenario) -> Result<Option<std::net::SocketAddr>, Fault> {
    let Some(l) = &s.metrics.listen else { return Ok(None) };
    l.get_ref().parse::<std::net::SocketAddr>().map(Some).map_err(|_| {
        at(
            l,
            "`metrics.listen` must be an address with a port, e.g. \"127.0.0.1:9464\"",
        )
    })
}

/// The scenario's own keys: the metrics address, the name, the workloads' presence,
/// the interval.
fn check_top(s: &Scenario) -> Result<Option<std::net::SocketAddr>, Fault> {
    let listen = metrics_listen(s)?;
    let name = s.name.get_ref();
    if name.trim().is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(at(
            &s.name,
            "`name` must be non-empty, not start with '.', and contain no path separators",
        ));
    }
    if s.workload.get_ref().is_empty() {
        return Err(at(
            &s.workload,
            "`workload` is empty: declare at least one, e.g. [workload.producers]",
        ));
    }
    let interval = s.interval.get_ref().0;
    if interval.as_millis() < 10 {
        return Err(at(&s.interval, "`interval` must be at least 10ms"));
    }
    Ok(listen)
}

/// One workload; returns whether it needs the scenario's `duration` (it has no phases).
fn check_workload(s: &Scenario, name: &str, w: &Spanned<Workload>) -> Result<bool, Fault> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(at(
            w,
            format!("workload name {name:?} may use only letters, digits, '_' and '-'"),
        ));
    }
    let needs_duration = check_load(name, w)?;
    let wl = w.get_ref();
    let mif = *wl.max_in_flight.get_ref();
    if mif == 0 || mif > 100_000 {
        return Err(at(&wl.max_in_flight, "`max_in_flight` must be between 1 and 100000"));
    }
    if let Some(win) = &wl.release_window {
        if wl.concurrency.is_some() {
            return Err(at(
                win,
                "`release_window` paces an open workload (`rate` or `phase`); a closed one has no schedule",
            ));
        }
        if win.get_ref().0 > std::time::Duration::from_millis(5) {
            return Err(at(win, "`release_window` must be at most 5ms: every operation may start that late, and the health verdict allows 10ms of schedule lag"));
        }
    }
    for p in &wl.phase {
        check_phase(p)?;
    }
    for b in &wl.burst {
        if wl.concurrency.is_some() {
            return Err(at(
                b,
                format!(
                    "workload `{name}`: a `burst` multiplies a rate, which a closed model (`concurrency`) has none of"
                ),
            ));
        }
        check_burst(b)?;
    }
    check_kind(s, name, w)?;
    Ok(needs_duration)
}

/// The load model: `rate`, `concurrency` or `phase`, exactly one kind of them; returns
/// whether the workload needs the scenario's `duration`.
fn check_load(name: &str, w: &Spanned<Workload>) -> Result<bool, Fault> {
    let wl = w.get_ref();
    if let Some(needs_duration) = super::validate_replay::check(name, w)? {
        return Ok(needs_duration);
    }
    match (&wl.rate, &wl.concurrency, wl.phase.is_empty()) {
        (Some(_), Some(c), _) => Err(at(
            c,
            format!("workload `{name}` sets both `rate` (open model) and `concurrency` (closed model): keep one"),
        )),
        (None, None, true) => Err(at(
            w,
            format!("workload `{name}` needs `rate` (open model), `concurrency` (closed model) or `phase`"),
        )),
        (Some(r), None, false) => Err(at(
            r,
            format!("workload `{name}` sets both `rate` and `phase`: put the rate in the phases"),
        )),
        (None, Some(c), false) => Err(at(
            c,
            format!("workload `{name}`: `phase` describes rates, which a closed model (`concurrency`) has none of"),
        )),
        (Some(r), None, true) => {
            let v = *r.get_ref();
            if !(v.is_finite() && v > 0.0 && v <= MAX_RATE) {
                return Err(at(
                    r,
                    format!("`rate` must be a positive number of operations per second up to {MAX_RATE}, got {v}"),
                ));
            }
            Ok(true)
        }
        (None, Some(c), true) => {
            if *c.get_ref() == 0 || *c.get_ref() > 100_000 {
                return Err(at(c, "`concurrency` must be between 1 and 100000"));
            }
            Ok(true)
        }
        (None, None, false) => Ok(false),
    }
}

/// What a workload's kind allows: history reads and `via` for queries only, a query
/// from version 1, a query through the log only with a query service to answer.
fn check_kind(s: &Scenario, name: &str, w: &Spanned<Workload>) -> Result<(), Fault> {
    let wl = w.get_ref();
    if wl.read_history && wl.kind != WorkloadKind::Query {
        return Err(at(
            w,
            format!("workload `{name}`: `read_history` is for `query` workloads"),
        ));
    }
    if wl.kind == WorkloadKind::Query && wl.from_version == 0 {
        return Err(at(
            w,
            format!("workload `{name}`: `from_version` 0 is refused by the original query service"),
        ));
    }
    if wl.via == Via::Log && wl.kind != WorkloadKind::Query {
        return Err(at(
            w,
            format!("workload `{name}`: `via` applies only to `kind = \"query\"`"),
        ));
    }
    if wl.via == Via::Log && s.target.services == ServicesMode::None {
        return Err(at(
            w,
            format!(
                "workload `{name}` queries through the log, but `target.services = \"none\"` runs no query service to answer"
            ),
        ));
    }
    Ok(())
}

/// `duration`: longer than zero and than the warmup, and present unless every
/// workload has phases.
fn check_duration(s: &Scenario, needs_duration: bool) -> Result<(), Fault> {
    match &s.duration {
        Some(d) if d.get_ref().0.is_zero() => Err(at(d, "`duration` must be longer than zero")),
        Some(d) if s.warmup.get_ref() >= d.get_ref() => Err(at(&s.warmup, "`warmup` must be shorter than `duration`")),
        None if needs_duration => Err(at(
            &s.workload,
            "`duration` is missing (required unless every workload has phases)",
        )),
        _ => Ok(()),
    }
}

/// The target's settings.
fn check_target(s: &Scenario) -> Result<(), Fault> {
    if let Some(lat) = &s.target.memory_store.service_time {
        if let Latency::Lognormal { median, p99 } = lat.get_ref() {
            if median > p99 || median.0.is_zero() {
                return Err(at(lat, "lognormal service time needs 0 < median <= p99"));
            }
        }
    }
    if let Some(c) = &s.target.memory_store.contention {
        let v = c.get_ref();
        if !(v.sigma >= 0.0 && v.kappa >= 0.0 && v.sigma.is_finite() && v.kappa.is_finite()) {
            return Err(at(c, "contention needs sigma >= 0 and kappa >= 0"));
        }
    }
    if let Some(st) = &s.target.memory_store.stall {
        let v = st.get_ref();
        if v.every.0.is_zero() || v.duration >= v.every {
            return Err(at(st, "stall `for` must be shorter than `every`"));
        }
    }
    let q = &s.target.query;
    if *q.overlap.get_ref() && q.form == super::types::QueryForm::V201 {
        return Err(at(
            &q.overlap,
            "`overlap` needs the v2.1.1 query form: a v2.0.1 reply carries no correlation id, so overlapping queries of one aggregate could not be told apart",
        ));
    }
    if let Some(d) = &s.target.persistence.drop_every {
        if *d.get_ref() == 0 {
            return Err(at(d, "`drop_every` must be 1 or more (1 drops every event)"));
        }
    }
    let page = &s.target.scylla.page_size;
    if !(1..=1_000_000).contains(page.get_ref()) {
        return Err(at(page, "`page_size` must be between 1 and 1000000 rows"));
    }
    let codec = &s.target.kafka.compression;
    if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&codec.get_ref().as_str()) {
        return Err(at(
            codec,
            format!(
                "unknown `compression` {:?}: none, gzip, snappy, lz4 or zstd",
                codec.get_ref()
            ),
        ));
    }
    for n in [
        &s.target.persistence.workers,
        &s.target.query.workers,
        &s.target.query.batch_size,
    ] {
        if *n.get_ref() == 0 || *n.get_ref() > 100_000 {
            return Err(at(n, "service `workers` and `batch_size` must be between 1 and 100000"));
        }
    }
    if let Some(p) = &s.prefill {
        check_prefill(p)?;
    }
    for f in &s.fault {
        check_fault(s, f)?;
    }
    Ok(())
}

/// The most history one prefill writes: past it a typo, not a plan.
const MAX_PREFILL_EVENTS: u64 = 10_000_000_000;

fn check_prefill(p: &Spanned<super::Prefill>) -> Result<(), Fault> {
    let f = p.get_ref();
    match (&f.events, &f.size) {
        (None, None) => return Err(at(p, "`prefill` needs `events` (a count) or `size` (e.g. \"1GiB\")")),
        (Some(e), Some(_)) => return Err(at(e, "`prefill`: give `events` or `size`, not both")),
        (Some(e), None) if !(1..=MAX_PREFILL_EVENTS).contains(e.get_ref()) => {
            return Err(at(e, format!("`prefill.events` must be 1 to {MAX_PREFILL_EVENTS}")))
        }
        (None, Some(s)) if s.get_ref().0 == 0 => return Err(at(s, "`prefill.size` must be more than 0")),
        _ => {}
    }
    if !(1..=1_000_000).contains(f.epochs.get_ref()) {
        return Err(at(&f.epochs, "`prefill.epochs` must be 1 to 1000000"));
    }
    if !(1..=4096).contains(f.concurrency.get_ref()) {
        return Err(at(&f.concurrency, "`prefill.concurrency` must be 1 to 4096"));
    }
    let span = f.span.get_ref().0;
    if span < std::time::Duration::from_secs(1) || span > std::time::Duration::from_secs(50 * 366 * 86_400) {
        return Err(at(&f.span, "`prefill.span` must be 1s to 50 years (e.g. \"365d\")"));
    }
    Ok(())
}

fn check_fault(s: &Scenario, f: &Spanned<ScheduledFault>) -> Result<(), Fault> {
    let v = f.get_ref();
    let actions = [v.pause.is_some(), v.stall.is_some(), v.run.is_some()];
    if actions.iter().filter(|a| **a).count() != 1 {
        return Err(at(
            f,
            "a fault needs exactly one of `pause = \"persistence\"` (or \"query\"), `stall = \"store\"` or `run = \"COMMAND\"`",
        ));
    }
    if v.until.is_some_and(|u| u <= v.at) {
        return Err(at(f, "a fault's `until` must be later than its `at`"));
    }
    if (v.pause.is_some() || v.stall.is_some()) && v.until.is_none() {
        return Err(at(f, "a paused service or a stalled store needs an `until`"));
    }
    if v.then.is_some() && (v.run.is_none() || v.until.is_none()) {
        return Err(at(f, "`then` is a command run at `until`: it needs `run` and `until`"));
    }
    if v.run.as_deref().is_some_and(|c| c.trim().is_empty()) || v.then.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(at(f, "a fault's command is empty"));
    }
    if v.pause.is_some() && s.target.services != ServicesMode::Embedded {
        return Err(at(
            f,
            "`pause` stops an embedded service; with external services pause them with `run` (e.g. `kill -STOP`)",
        ));
    }
    if v.stall.is_some() && s.target.store != StoreKind::Memory {
        return Err(at(
            f,
            "`stall = \"store\"` holds the memory store; for ScyllaDB or Cassandra use `run` (e.g. scripts/services stop cassandra)",
        ));
    }
    Ok(())
}

fn check_phase(p: &Spanned<Phase>) -> Result<(), Fault> {
    let ok_rate = |r: f64| r.is_finite() && (0.0..=MAX_RATE).contains(&r);
    match p.get_ref() {
        Phase::Steady { duration, rate } => {
            if duration.0.is_zero() || !ok_rate(*rate) {
                return Err(at(
                    p,
                    format!("steady phase needs a `duration` > 0 and a `rate` from 0 to {MAX_RATE}"),
                ));
            }
        }
        Phase::Ramp { duration, from, to } => {
            if duration.0.is_zero() || !ok_rate(*from) || !ok_rate(*to) {
                return Err(at(
                    p,
                    format!("ramp phase needs a `duration` > 0 and rates `from`, `to` from 0 to {MAX_RATE}"),
                ));
            }
        }
        Phase::Step {
            from,
            step,
            steps,
            step_duration,
        } => {
            let last = from + step * (*steps as f64 - 1.0);
            if *steps == 0 || *steps > MAX_STEPS || step_duration.0.is_zero() || !ok_rate(*from) || !ok_rate(last) {
                return Err(at(
                    p,
                    format!(
                        "step phase needs `steps` from 1 to {MAX_STEPS}, a `step_duration` > 0, and rates that stay from 0 to {MAX_RATE}"
                    ),
                ));
            }
        }
        Phase::Sine {
            duration,
            mean,
            amplitude,
            period,
        } => {
            let pieces = duration.as_nanos() / (period.as_nanos() / super::types::SINE_PIECES).max(1);
            if duration.0.is_zero()
                || period.0 < std::time::Duration::from_millis(64)
                || !ok_rate(mean + amplitude)
                || !(amplitude.is_finite() && *amplitude >= 0.0 && amplitude <= mean)
                || pieces > MAX_PIECES
            {
                return Err(at(
                    p,
                    format!(
                        "sine phase needs a `duration` > 0, a `period` of at least 64ms and at most a {}th of the duration, and `amplitude` from 0 to `mean` with `mean + amplitude` up to {MAX_RATE}",
                        MAX_PIECES / super::types::SINE_PIECES
                    ),
                ));
            }
        }
        Phase::Curve { points } => {
            let rising = points.windows(2).all(|w| w[1].at > w[0].at);
            let starts = points.first().is_some_and(|p| p.at.0.is_zero());
            if points.len() < 2
                || points.len() as u64 > MAX_PIECES
                || !rising
                || !starts
                || !points.iter().all(|p| ok_rate(p.rate))
            {
                return Err(at(
                    p,
                    format!(
                        "curve phase needs 2 or more `points` ({{ at = \"0s\", rate = 500 }}, ...), the first at \"0s\", each later than the last, rates from 0 to {MAX_RATE}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Linear pieces a phase may make (a sine: 64 a period): more is a typo, not a load.
const MAX_PIECES: u64 = 100_000;

fn check_burst(b: &Spanned<Burst>) -> Result<(), Fault> {
    let v = b.get_ref();
    let every_ok = v.every.is_none_or(|e| e.0 > v.duration.0);
    if v.duration.0.is_zero() || !(v.factor.is_finite() && v.factor > 0.0 && v.factor <= 1000.0) || !every_ok {
        return Err(at(
            b,
            "burst needs a `duration` > 0, a `factor` above 0 and up to 1000 (0.5 halves the rate, 3 triples it), and an `every` longer than its `duration` when set",
        ));
    }
    Ok(())
}
