//! The crash journal, written on every run's normal path. A run that died without
//! writing its summary (SIGKILL, the OOM killer, an evicted pod, a CI job's hard
//! timeout) is still a report. From its first second a run keeps on
//! disk what its summary is built from: `run.json` (the scenario as run, run tag, host),
//! the interval log flushed per interval, `timeline.jsonl` appended per interval, and
//! (pipeline runs) `ledger.bin` rewritten every few seconds. [`rebuild`] turns those into
//! a summary marked `incomplete`, by the same warmup rule and the same code
//! (`Summary::build`) as a finished run.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::summary::{ScenarioInfo, Summary, SCHEMA_VERSION};
use super::{RunDir, RunDirError};
use crate::engine::{Measured, Strays, WorkloadMeasured};
use crate::host::Host;
use crate::plan::{main_stage, Plan};
use crate::stats::hlog::{is_measured, tags_warmup};
use crate::stats::ledger::Ledger;
use crate::stats::timeline::IntervalPoint;
use crate::stats::{ErrorClass, Hists, Stage};

/// What `run.json` holds, written before the first operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStart {
    pub schema_version: u32,
    pub eventbench_version: String,
    pub scenario: ScenarioInfo,
    pub started_at: String,
    pub run_tag: String,
    pub host: Host,
    pub threads: usize,
    #[serde(default)]
    pub shard: Option<String>,
}

impl RunStart {
    pub fn of(plan: &Plan, run_tag: u64, started_wall_ns: i128) -> RunStart {
        RunStart {
            schema_version: SCHEMA_VERSION,
            eventbench_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: ScenarioInfo::of(plan),
            started_at: crate::model::GoTime::from_unix_nanos(started_wall_ns).to_string(),
            run_tag: format!("{run_tag:012x}"),
            host: Host::detect(),
            threads: plan.threads,
            shard: (plan.shard.count > 1).then(|| format!("{}/{}", plan.shard.index, plan.shard.count)),
        }
    }
}

/// `timeline.jsonl`: one line per closed interval and workload, appended and flushed as
/// the run goes, so a killed run keeps its per-interval outcomes (errors by class,
/// censored, achieved rate) that the interval log's histograms do not carry.
pub struct TimelineLog {
    file: std::fs::File,
    written: Vec<usize>,
}

#[derive(Serialize, Deserialize)]
struct TimelineLine {
    w: usize,
    p: IntervalPoint,
}

impl TimelineLog {
    pub fn create(dir: &RunDir) -> Result<TimelineLog, RunDirError> {
        let path = dir.path().join("timeline.jsonl");
        let file = std::fs::File::create(&path).map_err(|source| RunDirError::Write { path, source })?;
        Ok(TimelineLog {
            file,
            written: Vec::new(),
        })
    }

    /// Appends the points not yet written, one whole line each.
    pub fn append(&mut self, workloads: &[WorkloadMeasured]) -> std::io::Result<()> {
        self.written.resize(workloads.len(), 0);
        let mut buf = Vec::new();
        for (w, points) in workloads.iter().map(|m| &m.timeline).enumerate() {
            for p in &points[self.written[w]..] {
                serde_json::to_writer(&mut buf, &TimelineLine { w, p: p.clone() }).map_err(std::io::Error::other)?;
                buf.push(b'\n');
            }
            self.written[w] = points.len();
        }
        // One write per interval: a kill leaves at most a torn last line, which the
        // reader drops.
        self.file.write_all(&buf)
    }
}

/// The timeline a run appended, per workload; a torn or foreign line is dropped.
fn read_timeline(dir: &RunDir, workloads: usize) -> Vec<Vec<IntervalPoint>> {
    let mut out = vec![Vec::new(); workloads];
    let Ok(f) = std::fs::File::open(dir.path().join("timeline.jsonl")) else {
        return out;
    };
    for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
        if let Ok(l) = serde_json::from_str::<TimelineLine>(&line) {
            if let Some(points) = out.get_mut(l.w) {
                points.push(l.p);
            }
        }
    }
    out
}

/// The run's summary: summary.json when the run wrote one, else rebuilt.
pub fn summary_of(dir: &RunDir) -> Result<Summary, RunDirError> {
    if dir.path().join("summary.json").exists() || !dir.path().join("run.json").exists() {
        dir.read_summary()
    } else {
        rebuild(dir)
    }
}

/// Rebuilds the summary of a run that died before writing it, from what it flushed.
pub fn rebuild(dir: &RunDir) -> Result<Summary, RunDirError> {
    let start_path = dir.path().join("run.json");
    let invalid = |why: String| RunDirError::Invalid {
        path: start_path.clone(),
        why,
    };
    let text = std::fs::read(&start_path).map_err(|source| RunDirError::Read {
        path: start_path.clone(),
        source,
    })?;
    let start: RunStart = serde_json::from_slice(&text).map_err(|e| invalid(format!("not a run start record: {e}")))?;
    let plan = start.scenario.plan(start.shard.as_deref()).map_err(invalid)?;
    let intervals = dir.read_intervals()?;
    let n = plan.workloads.len();
    let Flushed {
        mut totals,
        last_end_s,
        hiccup,
    } = flushed(&plan, &intervals);
    let timeline = read_timeline(dir, n);
    let mut classes: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (w, wp) in plan.workloads.iter().enumerate() {
        let main = main_stage(wp.kind).0;
        let h = &mut totals[w];
        h.counters.ok = h.stages[main as usize].len();
        let failed = h.stages[Stage::Failed as usize].len();
        // Errors by class from the timeline when it accounts for every failure of the
        // measured window; otherwise one honest "unclassified" count.
        let mut by_class = BTreeMap::new();
        for p in timeline[w].iter().filter(|p| !p.warmup) {
            for (c, k) in &p.errors_by_class {
                *by_class.entry(c.clone()).or_insert(0) += k;
            }
        }
        if by_class.values().sum::<u64>() != failed && failed > 0 {
            by_class = BTreeMap::from([("unclassified".to_string(), failed)]);
        }
        h.counters.errors[ErrorClass::Fatal as usize] = failed;
        classes.insert(wp.name.clone(), by_class);
    }
    let run_tag = u64::from_str_radix(&start.run_tag, 16).map_err(|e| invalid(format!("run_tag: {e}")))?;
    let started =
        crate::model::GoTime::parse_rfc3339(&start.started_at).map_err(|e| invalid(format!("started_at: {e}")))?;
    let measured = Measured {
        clock: crate::clock::Clock::start_in(0),
        run_tag,
        started_wall_ns: started.unix_nanos(),
        elapsed_ns: (last_end_s * 1e9) as u64,
        interrupted: None,
        aborted: None,
        workloads: totals
            .into_iter()
            .zip(timeline)
            .map(|(totals, timeline)| WorkloadMeasured {
                totals,
                timeline,
                ..WorkloadMeasured::default()
            })
            .collect(),
        persistence: None,
        query_service: None,
        strays: Strays::default(),
        ledger: Arc::new(Ledger::new(&[])),
        cpu_seconds: 0.0,
        faults: Vec::new(),
        // The queue depths were not flushed; the hop times are in the log.
        hops: Vec::new(),
        nodes_unreadable: None,
        // The meter's histograms are in the log; its CPU samples and stalls were not flushed.
        platform: hiccup.map(|h| crate::stats::platform::PlatformMeasured {
            period_ns: crate::stats::platform::HICCUP_PERIOD_NS,
            cpus: start.host.cpus,
            hiccup: h,
            cores: None,
            target: Vec::new(),
            timeline: Vec::new(),
            stalls: Vec::new(),
            stalls_total: 0,
            meter_cpu_s: 0.0,
        }),
    };
    let mut s = Summary::build(&plan, &measured, None);
    for (name, by_class) in classes {
        if let Some(w) = s.workloads.get_mut(&name) {
            w.errors = by_class;
        }
    }
    s.scenario = start.scenario;
    s.host = start.host;
    s.started_at = start.started_at;
    s.generator.threads = start.threads;
    s.generator.cpu_cores = 0.0;
    s.shard = start.shard;
    s.incomplete = Some(format!(
        "the run ended without writing its summary (killed?) {last_end_s:.1} s into it; rebuilt from the {} intervals it had flushed (operations in flight then have no outcome here)",
        intervals.len()
    ));
    Ok(s)
}

/// What the flushed intervals hold: per workload its measured window, the hiccup
/// meter's, and where the last one ended.
struct Flushed {
    totals: Vec<Hists>,
    last_end_s: f64,
    hiccup: Option<hdrhistogram::Histogram<u64>>,
}

fn flushed(plan: &Plan, intervals: &[crate::stats::hlog::LoggedInterval]) -> Flushed {
    let tagged = tags_warmup(intervals);
    let warmup_s = plan.warmup_ns as f64 / 1e9;
    let mut out = Flushed {
        totals: vec![Hists::new(); plan.workloads.len()],
        last_end_s: 0.0,
        hiccup: None,
    };
    for i in intervals {
        out.last_end_s = out.last_end_s.max(i.start_s + i.length_s);
        if !is_measured(i, tagged, warmup_s) {
            continue;
        }
        if i.tag == crate::stats::platform::HICCUP_TAG {
            let h = out.hiccup.get_or_insert_with(|| crate::stats::empty_like(&i.histogram));
            let _ = h.add(&i.histogram);
            continue;
        }
        if let Some((w, stage)) = split_tag(plan, &i.tag) {
            let _ = out.totals[w].stages[stage as usize].add(&i.histogram);
        }
    }
    out
}

/// `<workload>.<stage>` (the warmup suffix is judged by `is_measured`): the longest
/// workload name that prefixes the tag and leaves a stage name.
fn split_tag(plan: &Plan, tag: &str) -> Option<(usize, Stage)> {
    let tag = tag.strip_suffix(crate::stats::hlog::WARMUP_SUFFIX).unwrap_or(tag);
    plan.workloads
        .iter()
        .enumerate()
        .filter_map(|(w, wp)| {
            let rest = tag.strip_prefix(&wp.name)?.strip_prefix('.')?;
            Stage::from_name(rest).map(|s| (wp.name.len(), w, s))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, w, s)| (w, s))
}
