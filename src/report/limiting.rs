//! Which hop broke first, from evidence, and what to scale. Backpressure runs upstream:
//! a hop that cannot keep up fills the queue in front of it, and a bounded queue, once
//! full, holds its sender in turn. So the limit is the most downstream hop whose queue
//! grew through the measured window, or sat at its bound, while the hops after it
//! stayed bounded. Inside the persistence service, whose handlers are a bounded pool,
//! the queue in front of it grows whether the handler's own work or the store is slow:
//! with every handler busy, where their time went decides between the two; with idle
//! handlers, the records are not reaching them (the log's delivery).

pub use super::hops::LimitingHop;
use super::hops::{HopTable, QueueTrend};
use super::verdict::Health;
use crate::plan::{Load, Plan};
use crate::scenario::LogKind;
use crate::stats::hops::Hop;

/// What the verdict reads besides the table.
pub struct Context<'a> {
    pub plan: &'a Plan,
    /// The producers' health verdict (the worst of them).
    pub health: Health,
    /// Events offered per second over the measured window, all producers.
    pub offered_rate: f64,
    /// Measured seconds.
    pub measured_s: f64,
    pub generator_cores: f64,
    /// The producers' operations, and those the log refused at once as overloaded
    /// (the producer client's queue full).
    pub ops: u64,
    pub overloaded: u64,
}

/// A queue grew when its last quarter is above its first by this share of what was
/// offered over the window (or 20 events): a queue that grows slower than 1% of the
/// offered load takes over a hundred windows to matter, and near-capacity noise moves
/// a queue by a few events.
const GROWTH_SHARE: f64 = 0.01;
const GROWTH_FLOOR: f64 = 20.0;

/// Produces refused as overloaded (the client's queue full) name the producer when they
/// are at least this share of its operations: one refusal in a thousand is a hiccup the
/// error rate reports, not where the pipeline broke.
const OVERLOAD_SHARE: f64 = 0.01;

/// Handlers count as all busy at this share of the pool, on average over the second
/// half of the window (a sample each interval: a handler between two records reads idle).
const BUSY_SHARE: f64 = 0.8;

impl Context<'_> {
    fn grew(&self, q: &QueueTrend) -> bool {
        q.grew((GROWTH_SHARE * self.offered_rate * self.measured_s).max(GROWTH_FLOOR))
    }

    /// Sum of the producers' `max_in_flight` (open workloads).
    fn producer_bound(&self) -> usize {
        self.plan
            .workloads
            .iter()
            .filter(|w| w.kind == crate::scenario::WorkloadKind::Produce)
            .map(|w| match &w.load {
                Load::Open { max_in_flight, .. } => *max_in_flight,
                Load::Closed { concurrency, .. } => *concurrency,
            })
            .sum()
    }

    fn workers(&self) -> usize {
        self.plan.target.persistence.workers()
    }
}

/// The limiting hop of a run, or `None` when nothing limited it (no queue grew or sat
/// at its bound, and the run was healthy).
pub fn limiting(t: &HopTable, c: &Context) -> Option<LimitingHop> {
    match c.health {
        Health::HostLimited => return Some(host()),
        Health::GeneratorLimited => return Some(generator(t, c)),
        _ => {}
    }
    let saturated = |hop: Hop| {
        t.row(hop)
            .and_then(|r| r.queue)
            .filter(|q| c.grew(q) || full(hop, q, c))
    };
    if let Some(q) = saturated(Hop::Reply) {
        return Some(reply(t, c, &q));
    }
    if let Some(q) = saturated(Hop::Queue) {
        return Some(inside_service(t, c, &q));
    }
    if let Some(q) = saturated(Hop::Producer) {
        return Some(producer(t, c, &q));
    }
    if c.overloaded > 0 && c.overloaded as f64 >= OVERLOAD_SHARE * c.ops as f64 {
        return Some(producer_refused(t, c));
    }
    if let Some(q) = saturated(Hop::Generator) {
        return Some(LimitingHop {
            hop: Hop::Generator.name().into(),
            evidence: format!(
                "released operations waiting for a worker grew {:.0}/s ({:.0} -> {:.0})",
                q.growth_per_s, q.start, q.end
            ),
            scale: "raise the workload's max_in_flight, or add generator threads or shards".into(),
        });
    }
    (c.health == Health::TargetSaturated).then(|| unobserved_limit(t))
}

/// A hop's queue at its known bound for most of the window's end.
fn full(hop: Hop, q: &QueueTrend, c: &Context) -> bool {
    let bound = match hop {
        Hop::Producer => c.producer_bound(),
        Hop::Queue if c.plan.target.log == LogKind::Memory => c.plan.target.memory_log.capacity,
        _ => return false,
    } as f64;
    bound > 0.0 && q.end >= 0.9 * bound
}

fn host() -> LimitingHop {
    LimitingHop {
        hop: "host".into(),
        evidence: "the run was host-limited: the hiccup meter or other processes show the machine held the generator"
            .into(),
        scale: "run on a quieter or larger machine (or with fewer other processes) and measure again".into(),
    }
}

fn generator(t: &HopTable, c: &Context) -> LimitingHop {
    let lag = t.row(Hop::Generator).and_then(|r| r.time.clone()).unwrap_or_default();
    LimitingHop {
        hop: Hop::Generator.name().into(),
        evidence: format!(
            "the schedule slipped (lag p99 {}) with eventbench at {:.2} of {} thread(s)",
            crate::units::fmt_ns(lag.p99_ns),
            c.generator_cores,
            c.plan.threads
        ),
        scale: format!(
            "add generator threads (now {}) or shards on more machines (`eventbench run --shard i/n`)",
            c.plan.threads
        ),
    }
}

/// eventbench's process at this share of its threads: its listener, which reads the
/// replies on those threads, is the generator's side, not the target's.
const GENERATOR_BUSY_SHARE: f64 = 0.9;

fn reply(t: &HopTable, c: &Context, q: &QueueTrend) -> LimitingHop {
    if c.generator_cores >= GENERATOR_BUSY_SHARE * c.plan.threads as f64 {
        let mut g = generator(t, c);
        g.evidence = format!(
            "replies stored but not yet read back grew {:.0}/s ({:.0} -> {:.0}) while eventbench was at {:.2} of its {} thread(s): its listener, on the generator's threads, could not keep up",
            q.growth_per_s, q.start, q.end, c.generator_cores, c.plan.threads
        );
        return g;
    }
    LimitingHop {
        hop: Hop::Reply.name().into(),
        evidence: format!(
            "replies stored but not yet read back grew {:.0}/s ({:.0} -> {:.0})",
            q.growth_per_s, q.start, q.end
        ),
        scale: "the reply path: the reply topics' partitions, or eventbench's listener (generator threads)".into(),
    }
}

fn producer(t: &HopTable, c: &Context, q: &QueueTrend) -> LimitingHop {
    let time = t.row(Hop::Producer).and_then(|r| r.time.clone()).unwrap_or_default();
    let queue = t
        .row(Hop::Queue)
        .and_then(|r| r.queue)
        .map_or("the queue behind it is not observed".to_string(), |b| {
            format!("the queue behind it stayed bounded ({:.0} -> {:.0})", b.start, b.end)
        });
    let what = match (c.plan.target.log, client_side(t, c)) {
        (LogKind::Kafka, Some((_, scale))) => scale,
        (LogKind::Kafka, None) => format!(
            "the producer client or the brokers: raise the producer's queue and in-flight limits, or add brokers and partitions (the topic has {})",
            c.plan.target.kafka.partitions
        ),
        (LogKind::Memory, _) => "the log's produce side".into(),
    };
    let client = client_side(t, c).map_or(String::new(), |(evidence, _)| format!("; {evidence}"));
    LimitingHop {
        hop: Hop::Producer.name().into(),
        evidence: format!(
            "produces in flight grew {:.0}/s ({:.0} -> {:.0}, bound {}), produce p99 {}, while {queue}{client}",
            q.growth_per_s,
            q.start,
            q.end,
            c.producer_bound(),
            crate::units::fmt_ns(time.p99_ns)
        ),
        scale: what,
    }
}

/// An external service's queue (its group's lag) grew. Its inside is not timed; the
/// store nodes' own view, when read, tells a service waiting on its store from one slow
/// by itself.
fn external_service(t: &HopTable, c: &Context, q: &QueueTrend) -> LimitingHop {
    let lag = format!(
        "the persistence service's group lag grew {:.0}/s ({:.0} -> {:.0} events){}",
        q.growth_per_s,
        q.start,
        q.end,
        skew(t)
    );
    let instances = format!(
        "add persistence service instances (the topic has {p} partitions, so more than {p} instances also need more partitions)",
        p = c.plan.target.kafka.partitions
    );
    let mut nodes: Vec<String> = t.nodes.iter().map(|n| n.brief()).collect();
    if let Some(ms) = t.outside.as_ref().and_then(|o| o.store_per_event_ms) {
        nodes.push(format!("about {ms:.1} ms of store time per event served"));
    }
    if t.nodes.is_empty() {
        return LimitingHop {
            hop: Hop::Service.name().into(),
            evidence: format!(
                "{lag}; the service is external, so its queue, handlers and store are not observed apart, and the store nodes' own view was not read"
            ),
            scale: format!("{instances}; if its store is what it waits on, store nodes"),
        };
    }
    if t.nodes.iter().any(|n| n.pressed()) {
        return LimitingHop {
            hop: Hop::Store.name().into(),
            evidence: format!(
                "{lag} while the store was pressed by its own account ({}): the external service waits on its store",
                nodes.join("; ")
            ),
            scale: store_advice(c),
        };
    }
    LimitingHop {
        hop: Hop::Service.name().into(),
        evidence: format!(
            "{lag} while the store kept up by its own account ({}): the external service itself is slow",
            nodes.join("; ")
        ),
        scale: instances,
    }
}

/// ", partition 2 holding 90% of it" when one partition holds most of the last lag.
fn skew(t: &HopTable) -> String {
    let Some(last) = t.timeline.iter().rev().find(|p| !p.lag_partitions.is_empty()) else {
        return String::new();
    };
    let total: u64 = last.lag_partitions.iter().sum();
    let (i, max) = last
        .lag_partitions
        .iter()
        .enumerate()
        .max_by_key(|(_, l)| **l)
        .map_or((0, 0), |(i, l)| (i, *l));
    if last.lag_partitions.len() > 1 && total > 0 && max as f64 >= 0.8 * total as f64 {
        format!(
            ", partition {i} holding {:.0}% of it: one partition is behind",
            100.0 * max as f64 / total as f64
        )
    } else {
        String::new()
    }
}

/// The producer client refused produces at once: its queue was full.
fn producer_refused(t: &HopTable, c: &Context) -> LimitingHop {
    let time = t.row(Hop::Producer).and_then(|r| r.time.clone()).unwrap_or_default();
    LimitingHop {
        hop: Hop::Producer.name().into(),
        evidence: format!(
            "{} of {} produces ({:.1}%) were refused as overloaded (the producer's queue full), produce p99 {}, while no queue after it grew{}",
            c.overloaded,
            c.ops,
            100.0 * c.overloaded as f64 / c.ops.max(1) as f64,
            crate::units::fmt_ns(time.p99_ns),
            client_side(t, c).map_or(String::new(), |(evidence, _)| format!("; {evidence}"))
        ),
        scale: match c.plan.target.log {
            LogKind::Kafka => "the producer client's queue (queue.buffering.max.messages / .kbytes in [target.kafka.producer]), or, if the brokers ack slowly, brokers and partitions".into(),
            LogKind::Memory => "the log's produce side".into(),
        },
    }
}

/// Where the producer hop's time went, by the client's own statistics: the brokers
/// throttling it, the brokers' round trip, or the client's own queue. The evidence and
/// what to scale.
fn client_side(t: &HopTable, c: &Context) -> Option<(String, String)> {
    let client = t.client.as_ref()?;
    let worst = client
        .brokers
        .iter()
        .max_by(|a, b| a.rtt_p99_us.total_cmp(&b.rtt_p99_us))?;
    let evidence = format!("librdkafka's statistics: {}", client.describe());
    let partitions = c.plan.target.kafka.partitions;
    let scale = if let Some(b) = client.brokers.iter().find(|b| b.throttle_max_ms > 0) {
        format!(
            "the brokers throttle this client (broker {} asked for up to {} ms: a quota): raise its produce quota, or add brokers",
            b.id, b.throttle_max_ms
        )
    } else if worst.rtt_p99_us >= worst.queue_p99_us {
        format!(
            "the brokers: their produce round trip (broker {} p99 {:.2} ms) is most of the hop; add brokers and partitions (the topic has {partitions}), or look at their disks and request threads",
            worst.id,
            worst.rtt_p99_us / 1000.0
        )
    } else {
        format!(
            "the producer client: messages wait in its own queue before they are sent (p99 {:.2} ms for broker {}); raise its in-flight requests (max.in.flight) and batching (linger.ms, batch.size), or spread the load over more partitions (now {partitions}) or producers",
            worst.queue_p99_us / 1000.0,
            worst.id
        )
    };
    Some((evidence, scale))
}

/// The queue in front of the service grew (or is full): the handlers' time decides.
fn inside_service(t: &HopTable, c: &Context, q: &QueueTrend) -> LimitingHop {
    if t.handlers.is_none() {
        return external_service(t, c, q);
    }
    let depth = |h: Hop| t.row(h).and_then(|r| r.queue).map_or(0.0, |q| q.end);
    let mean = |h: Hop| t.row(h).and_then(|r| r.time.as_ref()).map_or(0.0, |s| s.mean_ns);
    let busy = t.handlers.map_or(depth(Hop::Service) + depth(Hop::Store), |h| h.late);
    let workers = c.workers();
    let queue = if c.grew(q) {
        format!(
            "the service's queue grew {:.0}/s ({:.0} -> {:.0} events)",
            q.growth_per_s, q.start, q.end
        )
    } else {
        format!(
            "the service's queue sat at the log's bound ({:.0} of {} events; its producers waited for room)",
            q.end, c.plan.target.memory_log.capacity
        )
    };
    let fmt = |ns: f64| crate::units::fmt_ns(ns as u64);
    if busy < BUSY_SHARE * workers as f64 {
        return LimitingHop {
            hop: Hop::Queue.name().into(),
            evidence: format!(
                "{queue} while only {busy:.1} of {workers} handlers were busy: records are not reaching them"
            ),
            scale: "the log's delivery to the service: its consumer's fetch settings, or more partitions and consumers"
                .into(),
        };
    }
    // Where a busy handler's time went, per event: the store, or the rest of the
    // handler (its own work before the store, and sending the reply).
    let (store, own) = (mean(Hop::Store), mean(Hop::Service) + t.reply_send_mean_ns);
    let handlers = format!(
        "{queue} with {busy:.1} of {workers} handlers busy; per event a handler spent {} on the store and {} on its own work ({} before the store, {} sending the reply)",
        fmt(store),
        fmt(own),
        fmt(mean(Hop::Service)),
        fmt(t.reply_send_mean_ns)
    );
    if store >= own {
        let nodes: Vec<String> = t.nodes.iter().map(|n| n.brief()).collect();
        LimitingHop {
            hop: Hop::Store.name().into(),
            evidence: if nodes.is_empty() {
                handlers
            } else {
                format!("{handlers}; by its own account, {}", nodes.join("; "))
            },
            scale: store_advice(c),
        }
    } else {
        let partitions = match c.plan.target.log {
            LogKind::Kafka => format!(
                "; the topic has {p} partitions, so more than {p} instances also need more partitions",
                p = c.plan.target.kafka.partitions
            ),
            LogKind::Memory => String::new(),
        };
        LimitingHop {
            hop: Hop::Service.name().into(),
            evidence: handlers,
            scale: format!("add service instances or workers (now {workers} worker(s)){partitions}"),
        }
    }
}

fn store_advice(c: &Context) -> String {
    match c.plan.target.store {
        crate::scenario::StoreKind::Scylla => {
            "add store nodes (or raise the nodes' concurrent_writes and CPU); more service workers only queue at the store"
                .into()
        }
        crate::scenario::StoreKind::Memory => format!(
            "raise the store's concurrency (memory store: {}); more service workers only queue at the store",
            c.plan
                .target
                .memory_store
                .concurrency
                .map_or("unbounded".to_string(), |n| n.to_string())
        ),
    }
}

/// Saturated by the health verdict, but no observed queue grew: say what is unseen.
fn unobserved_limit(t: &HopTable) -> LimitingHop {
    LimitingHop {
        hop: "unobserved".into(),
        evidence: format!(
            "operations queued up to max_in_flight, but no observed hop's queue grew{}",
            if t.unobserved.is_empty() {
                String::new()
            } else {
                format!(" (not observed: {})", t.unobserved.join("; "))
            }
        ),
        scale: "observe the unobserved hops (an embedded service, or the service's own metrics) to say which".into(),
    }
}

/// When no queue grew and yet a step failed (an SLO below saturation): the hop with the
/// largest share of the e2e p99, named as the slowest, not as a saturated one.
pub fn slowest(t: &HopTable) -> Option<LimitingHop> {
    let r = t
        .rows
        .iter()
        .filter(|r| r.time.is_some())
        .max_by(|a, b| a.share_p99.total_cmp(&b.share_p99))?;
    let p99 = r.time.as_ref().map_or(0, |s| s.p99_ns);
    Some(LimitingHop {
        hop: r.hop.name().into(),
        evidence: format!(
            "no hop's queue grew; the slowest hop is {}: p99 {} ({:.0}% of e2e's p99)",
            r.hop.name(),
            crate::units::fmt_ns(p99),
            100.0 * r.share_p99
        ),
        scale: "nothing is saturated: a faster hop, not more of it, lowers this latency".into(),
    })
}
