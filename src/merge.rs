//! `eventbench merge DIR...`: several runs of one scenario (shards of a load spread
//! over generators, or machines) as one run directory. Histograms are added interval
//! by interval, counts summed, rates added, and every percentile recomputed from the
//! added histograms, never averaged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::report::summary::{Health, WorkloadSummary};
use crate::report::{RunDir, RunDirError, Summary};
use crate::stats::hlog::{IntervalLog, LoggedInterval, WARMUP_SUFFIX};
use crate::stats::timeline::disruptions;
use crate::stats::timeline::IntervalPoint;
use crate::stats::StageSummary;

struct Input {
    dir: PathBuf,
    summary: Summary,
    intervals: Vec<LoggedInterval>,
}

fn open(dir: &Path) -> Result<Input, RunDirError> {
    let run = RunDir::open(dir)?;
    Ok(Input {
        dir: dir.to_path_buf(),
        // A shard that died is rebuilt from what it flushed, and named as such.
        summary: crate::report::journal::summary_of(&run)?,
        intervals: run.read_intervals()?,
    })
}

/// Why runs could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The runs given do not merge (too few, different scenarios, odd histograms).
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Dir(#[from] RunDirError),
}

impl MergeError {
    /// Whether the user's input is at fault (exit 2) rather than the machine (exit 1).
    pub fn is_input(&self) -> bool {
        match self {
            MergeError::Input(_) => true,
            MergeError::Dir(e) => e.is_input(),
        }
    }
}

/// Interval histograms of every input, added per (tag, slot): interval k of every run
/// covers [k * interval, (k + 1) * interval) of its own clock.
type Slots = BTreeMap<(String, u64), (f64, Histogram<u64>)>;

/// Merges `dirs` into `out`; returns the merged summary.
pub fn merge(dirs: &[PathBuf], out: &RunDir) -> Result<Summary, MergeError> {
    if dirs.len() < 2 {
        return Err(MergeError::Input("merge needs at least two run directories".into()));
    }
    let inputs = dirs.iter().map(|d| open(d)).collect::<Result<Vec<_>, _>>()?;
    let first = &inputs[0].summary;
    for i in &inputs[1..] {
        if i.summary.scenario.name != first.scenario.name {
            return Err(MergeError::Input(format!(
                "{} ran scenario {:?}, {} ran {:?}: only runs of one scenario merge",
                inputs[0].dir.display(),
                first.scenario.name,
                i.dir.display(),
                i.summary.scenario.name
            )));
        }
    }
    check_shards(&inputs)?;
    let plan = first.plan_record();
    let interval_s = plan.interval_ns as f64 / 1e9;
    let warmup_s = plan.warmup_ns as f64 / 1e9;
    let (merged, origin) = slots(&inputs, interval_s)?;
    write_log(out, &inputs, &merged, origin, interval_s)?;
    let mut s = run_of(&inputs, origin);
    for (name, w) in s.workloads.iter_mut() {
        let parts: Vec<_> = inputs.iter().filter_map(|i| i.summary.workloads.get(name)).collect();
        add_counts(w, &parts);
        w.stages = stages_after(&merged, name, interval_s, warmup_s);
        w.timeline = timeline(&merged, name, w.kind, &parts, interval_s);
        w.disruptions = disruptions(&w.timeline);
    }
    if let Some(a) = s.audit.as_mut() {
        for b in inputs[1..].iter().filter_map(|i| i.summary.audit.as_ref()) {
            *a += b;
        }
    }
    // Thresholds judged again, on the merged numbers.
    if let Ok(plan) = first.plan() {
        s.thresholds = crate::report::build::evaluate(&plan.thresholds, &s);
    }
    out.write_all(&s)?;
    Ok(s)
}

/// Every run's intervals added into slots aligned on absolute time, and the origin:
/// interval k of the merge covers [origin + k * interval, ...) where origin is the
/// earliest run's start. Shards started with one `--start-at` share their origin
/// exactly; others land in the slot their interval starts in.
fn slots(inputs: &[Input], interval_s: f64) -> Result<(Slots, i128), MergeError> {
    let origins: Vec<i128> = inputs
        .iter()
        .map(|i| {
            crate::model::GoTime::parse_rfc3339(&i.summary.started_at)
                .map(|t| t.unix_nanos())
                .unwrap_or(0)
        })
        .collect();
    let origin = origins.iter().copied().min().unwrap_or(0);
    let slot = |start_s: f64| (start_s / interval_s + 1e-6).floor() as u64;
    let mut merged: Slots = BTreeMap::new();
    for (input, o) in inputs.iter().zip(&origins) {
        let offset_s = (o - origin) as f64 / 1e9;
        for i in &input.intervals {
            let e = merged
                .entry((i.tag.clone(), slot(i.start_s + offset_s)))
                .or_insert_with(|| (0.0, crate::stats::empty_like(&i.histogram)));
            e.0 = e.0.max(i.length_s);
            e.1.add(&i.histogram)
                .map_err(|e| MergeError::Input(format!("adding histograms: {e}")))?;
        }
    }
    Ok((merged, origin))
}

/// The merged run's own record: the first run's, with what the runs were, when it
/// started, how long, whether any died, was interrupted or aborted, and the
/// generators' threads and CPU added.
fn run_of(inputs: &[Input], origin: i128) -> Summary {
    let mut s = inputs[0].summary.clone();
    s.merged_from = inputs
        .iter()
        .map(|i| match &i.summary.incomplete {
            Some(why) => format!("{} (INCOMPLETE: {why})", i.dir.display()),
            None => i.dir.display().to_string(),
        })
        .collect();
    let dead: Vec<String> = inputs
        .iter()
        .filter(|i| i.summary.incomplete.is_some())
        .map(|i| format!("{} died {:.1} s into the run", i.dir.display(), i.summary.elapsed_s))
        .collect();
    s.incomplete = (!dead.is_empty()).then(|| {
        format!(
            "{}; its rates count only the time it ran, not the rest as zero load",
            dead.join("; ")
        )
    });
    // A fault's commands ran on shard 0 only (the others record the fault without them).
    if let Some(zero) = inputs
        .iter()
        .find(|i| i.summary.shard.as_deref().is_some_and(|sh| sh.starts_with("0/")))
    {
        s.faults = zero.summary.faults.clone();
    }
    s.shard = None;
    let tags: Vec<_> = inputs.iter().map(|i| i.summary.run_tag.clone()).collect();
    s.run_tag = tags.join(",");
    s.started_at = crate::model::GoTime::from_unix_nanos(origin).to_string();
    s.elapsed_s = inputs.iter().map(|i| i.summary.elapsed_s).fold(0.0, f64::max);
    s.measured_s = inputs.iter().map(|i| i.summary.measured_s).fold(0.0, f64::max);
    s.interrupted = inputs.iter().find_map(|i| i.summary.interrupted.clone());
    s.aborted = inputs.iter().find_map(|i| i.summary.aborted.clone());
    let g = |f: fn(&Summary) -> f64| inputs.iter().map(|i| f(&i.summary)).sum::<f64>();
    s.generator.threads = inputs.iter().map(|i| i.summary.generator.threads).sum();
    s.generator.cpu_seconds = g(|s| s.generator.cpu_seconds);
    s.generator.cpu_cores = g(|s| s.generator.cpu_cores);
    s.generator.meter_cpu_seconds = g(|s| s.generator.meter_cpu_seconds);
    s
}

/// Shards merge only with their own kind: the same overrides, one shard count, each
/// shard once.
fn check_shards(inputs: &[Input]) -> Result<(), MergeError> {
    let first = &inputs[0];
    let shard_of = |i: &Input| {
        i.summary
            .shard
            .as_deref()
            .and_then(|s| crate::plan::Shard::parse(s).ok())
    };
    let first_count = shard_of(first).map(|s| s.count);
    let mut seen = std::collections::BTreeSet::new();
    for i in inputs {
        if i.summary.scenario.overrides != first.summary.scenario.overrides {
            return Err(MergeError::Input(format!(
                "{} ran with --set {:?}, {} with {:?}: only runs of one configuration merge",
                first.dir.display(),
                first.summary.scenario.overrides,
                i.dir.display(),
                i.summary.scenario.overrides
            )));
        }
        let shard = shard_of(i);
        if shard.map(|s| s.count) != first_count {
            return Err(MergeError::Input(format!(
                "{} is shard {:?}, {} is shard {:?}: shards of one split merge",
                first.dir.display(),
                first.summary.shard,
                i.dir.display(),
                i.summary.shard
            )));
        }
        if let Some(s) = shard {
            if !seen.insert(s.index) {
                return Err(MergeError::Input(format!(
                    "shard {}/{} is given twice ({}): each shard merges once",
                    s.index,
                    s.count,
                    i.dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// The merged interval log, slot by slot.
fn write_log(out: &RunDir, inputs: &[Input], merged: &Slots, origin: i128, interval_s: f64) -> Result<(), RunDirError> {
    let werr = |source| RunDirError::Write {
        path: out.path().join("latency.hlog"),
        source,
    };
    let mut log = IntervalLog::new(
        out.interval_log()?,
        &format!(
            "eventbench {} merge of {} runs of scenario {}",
            env!("CARGO_PKG_VERSION"),
            inputs.len(),
            inputs[0].summary.scenario.name
        ),
        origin,
    )
    .map_err(werr)?;
    let mut by_slot: Vec<_> = merged.iter().collect();
    by_slot.sort_by_key(|((tag, k), _)| (*k, tag.clone()));
    for ((tag, k), (len, h)) in &by_slot {
        log.interval(tag, *k as f64 * interval_s, *len, h).map_err(werr)?;
    }
    log.flush().map_err(werr)
}

/// Counts summed, rates added, errors by class added; the worst health kept.
fn add_counts(w: &mut WorkloadSummary, parts: &[&WorkloadSummary]) {
    w.target_rate = parts.iter().map(|p| p.target_rate).sum();
    w.achieved_rate = parts.iter().map(|p| p.achieved_rate).sum();
    w.ops = parts.iter().map(|p| p.ops).sum();
    w.ok = parts.iter().map(|p| p.ok).sum();
    w.late = parts.iter().map(|p| p.late).sum();
    w.dropped = parts.iter().map(|p| p.dropped).sum();
    w.abandoned = parts.iter().map(|p| p.abandoned).sum();
    w.unanswered = parts.iter().map(|p| p.unanswered).sum();
    w.rows = parts.iter().map(|p| p.rows).sum();
    w.late_rows = parts.iter().map(|p| p.late_rows).sum();
    w.bytes = parts.iter().map(|p| p.bytes).sum();
    w.empty = parts.iter().map(|p| p.empty).sum();
    w.errors = BTreeMap::new();
    for p in parts {
        for (k, v) in &p.errors {
            *w.errors.entry(k.clone()).or_default() += v;
        }
    }
    if let Some(worst) = parts.iter().find(|p| p.health != Health::Healthy) {
        w.health = worst.health;
        w.health_reason = format!("a merged run was not healthy: {}", worst.health_reason);
    }
}

/// A workload's stages: the added histograms of its measured intervals, by the logs'
/// warmup rule (their `.warmup` tags, or for older logs interval start).
fn stages_after(merged: &Slots, name: &str, interval_s: f64, warmup_s: f64) -> BTreeMap<String, StageSummary> {
    let prefix = format!("{name}.");
    let tagged = merged.keys().any(|(t, _)| t.ends_with(WARMUP_SUFFIX));
    let mut totals: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for ((tag, k), (_, h)) in merged {
        let Some(stage) = tag.strip_prefix(&prefix) else {
            continue;
        };
        let measured = if tagged {
            !tag.ends_with(WARMUP_SUFFIX)
        } else {
            (*k as f64) * interval_s + 1e-9 >= warmup_s
        };
        if !measured {
            continue;
        }
        let t = totals
            .entry(stage.to_string())
            .or_insert_with(|| crate::stats::empty_like(h));
        t.add(h)
            .unwrap_or_else(|_| unreachable!("an auto-resizing histogram takes any value"));
    }
    totals.iter().map(|(k, h)| (k.clone(), StageSummary::of(h))).collect()
}

/// A workload's timeline: counts added per slot, percentiles from the added histograms.
fn timeline(
    merged: &Slots,
    name: &str,
    kind: crate::scenario::WorkloadKind,
    parts: &[&WorkloadSummary],
    interval_s: f64,
) -> Vec<IntervalPoint> {
    let slot = |start_s: f64| (start_s / interval_s + 1e-6).floor() as u64;
    let main = crate::plan::main_stage(kind).0.name();
    let mut points: BTreeMap<u64, IntervalPoint> = BTreeMap::new();
    for p in parts {
        for t in &p.timeline {
            let e = points.entry(slot(t.t_s)).or_default();
            e.t_s = slot(t.t_s) as f64 * interval_s;
            e.length_s = e.length_s.max(t.length_s);
            e.warmup = t.warmup;
            e.target_rate += t.target_rate;
            e.achieved_rate += t.achieved_rate;
            e.ok += t.ok;
            e.errors += t.errors;
            e.late += t.late;
            for (c, n) in &t.errors_by_class {
                *e.errors_by_class.entry(c.clone()).or_default() += n;
            }
        }
    }
    for (k, p) in points.iter_mut() {
        if let Some((_, h)) = merged.get(&(format!("{name}.{main}"), *k)) {
            p.p50_ns = h.value_at_quantile(0.5);
            p.p99_ns = h.value_at_quantile(0.99);
            p.max_ns = h.max();
        }
        p.e2e_p99_ns = ["e2e", "e2e.persisted"]
            .iter()
            .filter_map(|st| merged.get(&(format!("{name}.{st}"), *k)))
            .map(|(_, h)| h.value_at_quantile(0.99))
            .max()
            .unwrap_or(0);
    }
    points.into_values().collect()
}
