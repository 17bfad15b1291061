//! Once per interval: take every thread's histograms, write them to the interval log,
//! add them to the totals (after warmup), and keep a small timeline for the report.

use std::io;
use std::sync::Arc;

use crate::plan::{Load, Plan};
use crate::stats::hlog::{IntervalLog, WARMUP_SUFFIX};
use crate::stats::platform::{Platform, HICCUP_TAG};
use crate::stats::timeline::IntervalPoint;
use crate::stats::{Hists, Registry, Stage};

use super::schedule::Claim;
use super::workers::Pool;
use crate::plan::main_stage;
use crate::stats::hops::{Boundaries, HopPoint};

use super::WorkloadMeasured;

/// Collector state; owned by one task.
pub struct Collector {
    reg: Arc<Registry>,
    spares: Vec<Vec<Hists>>,
    log: IntervalLog,
    last_ns: u64,
    /// The registry's shape: per workload its measured slot, then per workload its
    /// warmup slot.
    interval: Vec<Hists>,
    /// Per workload, what the report gets (its totals and timeline grow here).
    pub workloads: Vec<WorkloadMeasured>,
    /// Per workload, what the collector needs to close its intervals.
    tracks: Vec<Track>,
    /// Thresholds checked every interval: (threshold, workload index, breached since).
    watches: Vec<(crate::thresholds::Threshold, usize, Option<u64>)>,
    /// Set when a watched threshold stayed breached for its `abort_after`.
    pub aborted: Option<String>,
    /// Generators sharing the load: each one's target is this fraction of the profile.
    shards: f64,
    /// The schedule's end: intervals from here on are the drain.
    duration_ns: u64,
    drain_marked: bool,
    /// The hiccup meter and the host's CPU, closed with every interval.
    pub platform: Platform,
    /// Where the pipeline's queue depths are read, once the workloads run.
    pub probe: Option<HopProbe>,
    /// The pipeline's queue depths, one point per interval (pipeline runs only).
    pub hops: Vec<HopPoint>,
}

/// What the collector keeps of one workload to close its intervals.
struct Track {
    name: String,
    main: Stage,
    profile: Option<crate::plan::RateProfile>,
    /// Everything, warmup included (for drain checks and the hop probe).
    all: Hists,
    /// Open workloads: where the backlog is read at each interval's close.
    backlog: Option<ProducerProbe>,
}

/// What the collector reads at each interval's close for the pipeline's queues.
pub struct HopProbe {
    /// The pipeline's producer workloads.
    pub producers: Vec<ProducerProbe>,
    /// The embedded persistence service's counters (none: an external service, whose
    /// inside is not observed).
    pub persistence: Option<Arc<crate::service::ServiceCounters>>,
    /// Kafka: the service's group lag, read beside the run (an external service's
    /// queue is seen only so).
    pub lag: Option<crate::backend::kafka_lag::LagSampler>,
    /// Kafka: the producer client, whose statistics are the producer hop's inside.
    pub client: Option<crate::backend::KafkaLog>,
    /// CQL: the store nodes' own view, read beside the run.
    pub nodes: Option<crate::backend::cql_views::NodeSampler>,
}

/// One open workload as a probe reads it (the hop table's producers, and every open
/// workload's backlog).
pub struct ProducerProbe {
    pub workload: usize,
    /// Its workers (what each holds: the produces in flight).
    pub pool: Option<Arc<Pool>>,
    /// Claims released to its workers and not yet taken.
    pub released: Option<async_channel::Receiver<Claim>>,
}

impl ProducerProbe {
    /// Claims released and not yet ended: waiting for a worker or in one's hand.
    fn in_flight(&self) -> Option<u64> {
        let pool = self.pool.as_ref()?;
        let held = pool.hands().iter().filter(|h| h.intended().is_some()).count() as u64;
        Some(held + self.released.as_ref().map_or(0, |r| r.len() as u64))
    }
}

impl HopProbe {
    /// The depths now, given the collector's cumulative histograms (warmup included).
    fn read<'a>(&self, all: &dyn Fn(usize) -> Option<&'a Hists>) -> HopPoint {
        use std::sync::atomic::Ordering::Relaxed;
        let (mut released, mut in_hand, mut acked, mut read_back) = (0u64, 0u64, 0u64, 0u64);
        let mut has_pools = false;
        for p in &self.producers {
            if let Some(pool) = &p.pool {
                has_pools = true;
                in_hand += pool.hands().iter().filter(|h| h.intended().is_some()).count() as u64;
            }
            released += p.released.as_ref().map_or(0, |r| r.len() as u64);
            if let Some(h) = all(p.workload) {
                acked += h.counters.ok;
                read_back += h.stages[Stage::E2ePersisted as usize].len() + h.counters.rejected_replies;
            }
        }
        let mut point = HopPoint {
            generator: has_pools.then_some(released),
            producer: has_pools.then_some(in_hand),
            ..HopPoint::default()
        };
        if let Some(c) = &self.persistence {
            let b = Boundaries {
                acked,
                taken: c.consumed.load(Relaxed),
                skipped: c.malformed.load(Relaxed) + c.dropped.load(Relaxed),
                storing: c.storing.load(Relaxed),
                stored: c.stored.load(Relaxed),
                unsent: c.unsent.load(Relaxed),
                read_back,
                replied: c.replied.load(Relaxed),
            };
            point.handlers = Some(b.in_handlers());
            let [queue, service, store, reply] = b.depths();
            point.queue = Some(queue);
            point.service = Some(service);
            point.store = Some(store);
            point.reply = Some(reply);
        }
        if let Some(lag) = self.lag.as_ref().and_then(|l| l.latest()) {
            point.lag = Some(lag.total());
            // Outside, the lag is all there is of the queue (and the events the service
            // holds, not yet committed).
            point.queue = point.queue.or(Some(lag.total()));
            point.lag_partitions = lag.partitions;
        }
        point.client = self.client.as_ref().and_then(|k| k.client_view());
        point.nodes = self.nodes.as_ref().and_then(|n| n.latest()).unwrap_or_default();
        point
    }
}

impl Track {
    /// The timeline's point for the interval `[start, now)` whose operations are `h`.
    fn point(&self, h: &Hists, (start, now): (u64, u64), warmup: bool, shards: f64) -> IntervalPoint {
        let (start_s, len_s) = (start as f64 / 1e9, (now - start) as f64 / 1e9);
        let main = &h.stages[self.main as usize];
        let quantile = |q| if main.is_empty() { 0 } else { main.value_at_quantile(q) };
        let stage = |s: Stage| &h.stages[s as usize];
        IntervalPoint {
            t_s: start_s,
            length_s: len_s,
            warmup,
            target_rate: self
                .profile
                .as_ref()
                .map_or(0.0, |p| (p.count_at(now) - p.count_at(start)) / len_s / shards),
            // Only what succeeded was achieved; failures and censored work were not.
            achieved_rate: h.counters.ok as f64 / len_s,
            censored: h.counters.censored,
            ok: h.counters.ok,
            errors: h.counters.error_total(),
            late: h.counters.late,
            p50_ns: quantile(0.5),
            p99_ns: quantile(0.99),
            max_ns: main.max(),
            lag_p99_ns: stage(Stage::Lag).value_at_quantile(0.99),
            lag_max_ns: stage(Stage::Lag).max(),
            e2e_p99_ns: stage(Stage::E2e)
                .value_at_quantile(0.99)
                .max(stage(Stage::E2ePersisted).value_at_quantile(0.99)),
            e2e_done: stage(Stage::E2e).len() + stage(Stage::E2ePersisted).len(),
            rejected: h.counters.rejected_replies,
            errors_by_class: crate::stats::ErrorClass::ALL
                .iter()
                .filter(|c| h.counters.errors[**c as usize] > 0)
                .map(|c| (c.name().to_string(), h.counters.errors[*c as usize]))
                .collect(),
            in_flight: self.backlog.as_ref().and_then(|b| b.in_flight()),
        }
    }
}

impl Collector {
    pub fn new(plan: &Plan, reg: Arc<Registry>, log: IntervalLog, clock: crate::clock::Clock) -> Collector {
        let n = plan.workloads.len();
        Collector {
            reg,
            spares: Vec::new(),
            log,
            last_ns: 0,
            interval: (0..2 * n).map(|_| Hists::new()).collect(),
            workloads: (0..n).map(|_| WorkloadMeasured::default()).collect(),
            tracks: plan
                .workloads
                .iter()
                .map(|w| Track {
                    name: w.name.clone(),
                    main: main_stage(w.kind).0,
                    profile: match &w.load {
                        Load::Open { profile, .. } => Some(profile.clone()),
                        Load::Closed { .. } => None,
                    },
                    all: Hists::new(),
                    backlog: None,
                })
                .collect(),
            watches: plan
                .thresholds
                .iter()
                .filter(|t| t.abort_after_ns.is_some())
                .filter_map(|t| {
                    let w = plan
                        .workloads
                        .iter()
                        .position(|w| Some(w.name.as_str()) == t.workload())?;
                    Some((t.clone(), w, None))
                })
                .collect(),
            aborted: None,
            shards: plan.shard.count as f64,
            duration_ns: plan.duration_ns,
            drain_marked: false,
            platform: Platform::start(clock),
            probe: None,
            hops: Vec::new(),
        }
    }

    /// Closes the interval `[last, now)`. The interval log and timeline get every
    /// operation; the totals only those intended after warmup.
    pub fn tick(&mut self, now: u64) -> io::Result<()> {
        let start = self.last_ns;
        if now <= start {
            return Ok(());
        }
        self.last_ns = now;
        let n = self.tracks.len();
        // The interval before stays readable (`last_interval`) until this one replaces it.
        for h in &mut self.interval[..n] {
            h.reset();
        }
        self.reg.collect(&mut self.interval, &mut self.spares);
        let (start_s, len_s) = (start as f64 / 1e9, (now - start) as f64 / 1e9);
        if start >= self.duration_ns && !self.drain_marked {
            self.drain_marked = true;
            self.log.comment(&format!(
                "[eventbench: drain from {start_s:.3} s: operations intended before the end finish here and count]"
            ))?;
        }
        // The log by the one warmup rule, intended start: measured operations under
        // their stage's tag, warmup ones under it + ".warmup".
        for w in 0..n {
            for (slot, suffix) in [(w, ""), (w + n, WARMUP_SUFFIX)] {
                let h = &self.interval[slot];
                for stage in Stage::ALL {
                    let hist = &h.stages[stage as usize];
                    if !hist.is_empty() {
                        let tag = format!("{}.{}{suffix}", self.tracks[w].name, stage.name());
                        self.log.interval(&tag, start_s, len_s, hist)?;
                    }
                }
            }
        }
        let warmup = start < self.reg.warmup_ns();
        let hiccup = self.platform.close(start, now, warmup);
        if !hiccup.is_empty() {
            let suffix = if warmup { WARMUP_SUFFIX } else { "" };
            self.log
                .interval(&format!("{HICCUP_TAG}{suffix}"), start_s, len_s, hiccup)?;
        }
        for w in 0..n {
            let (measured, warm) = self.interval.split_at_mut(n);
            self.workloads[w].totals.add(&measured[w]);
            self.tracks[w].all.add(&measured[w]);
            self.tracks[w].all.add(&warm[w]);
            measured[w].add(&warm[w]);
            warm[w].reset();
        }
        for (w, h) in self.interval[..n].iter().enumerate() {
            let point = self.tracks[w].point(h, (start, now), warmup, self.shards);
            self.workloads[w].timeline.push(point);
        }
        if let Some(p) = &self.probe {
            let mut point = p.read(&|w| self.tracks.get(w).map(|t| &t.all));
            (point.t_s, point.length_s, point.warmup) = (start_s, len_s, warmup);
            self.hops.push(point);
        }
        if !warmup {
            self.watch(now);
        }
        self.log.flush()?;
        Ok(())
    }

    /// Checks the watched thresholds on the interval just closed.
    fn watch(&mut self, now: u64) {
        for (t, w, since) in &mut self.watches {
            let h = &self.interval[*w];
            let Some(p) = self.workloads[*w].timeline.last() else {
                continue;
            };
            let stage = |s: Stage| {
                let hist = &h.stages[s as usize];
                (!hist.is_empty()).then(|| crate::stats::StageSummary::of(hist))
            };
            let observed = crate::thresholds::Observed {
                stage: &stage,
                ops: h.counters.ok + h.counters.error_total() + h.counters.censored,
                errors: h.counters.error_total(),
                late: h.counters.late,
                achieved_rate: p.achieved_rate,
                target_rate: p.target_rate,
            };
            match t.judge(&observed) {
                Some((v, false)) => {
                    let from = *since.get_or_insert(now - (p.length_s * 1e9) as u64);
                    let limit = t.abort_after_ns.unwrap_or(u64::MAX);
                    if now - from >= limit && self.aborted.is_none() {
                        self.aborted = Some(format!(
                            "threshold {} {} breached for {:.1}s (last interval: {})",
                            t.key,
                            t.condition,
                            (now - from) as f64 / 1e9,
                            t.show(v)
                        ));
                    }
                }
                _ => *since = None,
            }
        }
    }

    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        self.log.comment(text)
    }

    /// Per workload, the interval closed last (warmup and measured operations together).
    pub fn last_interval(&self) -> &[Hists] {
        &self.interval[..self.tracks.len()]
    }

    /// Workload `w`'s everything so far, warmup included.
    pub fn all(&self, w: usize) -> &Hists {
        &self.tracks[w].all
    }

    /// Where open workload `w`'s backlog is read from now on.
    pub fn read_backlog(&mut self, w: usize, probe: ProducerProbe) {
        if let Some(t) = self.tracks.get_mut(w) {
            t.backlog = Some(probe);
        }
    }

    pub fn last_ns(&self) -> u64 {
        self.last_ns
    }
}
