//! The hops of the produce -> persist -> reply pipeline, in the order an event passes
//! them, and their queues: how many events sat in each hop when an interval closed.
//! A queue that grows through the measured window is a hop that cannot keep up; the
//! most downstream one is where the pipeline broke first (see `report::hops`).

use serde::{Deserialize, Serialize};

/// A hop of the pipeline, upstream first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hop {
    /// eventbench's schedule: intended -> sent.
    Generator,
    /// The producer client and the log's produce: sent -> acknowledged.
    Producer,
    /// The request topic in front of the persistence service: in the log -> taken.
    Queue,
    /// The service's handler before its store work (decode, its own delay).
    Service,
    /// The service's store work (meta read, insert).
    Store,
    /// The reply: sent by the service -> read by eventbench.
    Reply,
    /// Readers: the aggregate's previous query still answering (eventbench's own turn).
    Turn,
    /// Readers: the query service's reads done -> its last batch acknowledged.
    #[serde(rename = "reply.send")]
    ReplySend,
}

impl Hop {
    pub const ALL: [Hop; 6] = [
        Hop::Generator,
        Hop::Producer,
        Hop::Queue,
        Hop::Service,
        Hop::Store,
        Hop::Reply,
    ];

    /// The readers' hops (a query through the log and the query service), in order.
    pub const READERS: [Hop; 7] = [
        Hop::Generator,
        Hop::Turn,
        Hop::Queue,
        Hop::Service,
        Hop::Store,
        Hop::ReplySend,
        Hop::Reply,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Hop::Turn => "turn",
            Hop::ReplySend => "reply.send",
            Hop::Generator => "generator",
            Hop::Producer => "producer",
            Hop::Queue => "queue",
            Hop::Service => "service",
            Hop::Store => "store",
            Hop::Reply => "reply",
        }
    }

    /// The stage that times this hop, per event, under the producing workload.
    pub fn stage(self) -> super::Stage {
        use super::Stage;
        match self {
            Hop::Generator => Stage::Lag,
            Hop::Producer => Stage::ProduceService,
            Hop::Queue => Stage::HopQueue,
            Hop::Service => Stage::HopService,
            Hop::Store => Stage::HopStore,
            Hop::Reply => Stage::HopReply,
            Hop::Turn => Stage::QueryTurn,
            Hop::ReplySend => Stage::HopReplySend,
        }
    }
}

/// The events in each hop when an interval closed (`None`: the hop is not observed).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HopPoint {
    /// Interval start, seconds of run time.
    pub t_s: f64,
    pub length_s: f64,
    pub warmup: bool,
    /// Operations released by the schedule and waiting for a worker.
    pub generator: Option<u64>,
    /// Produces sent and not yet acknowledged.
    pub producer: Option<u64>,
    /// Acknowledged by the log, not yet taken by a service handler.
    pub queue: Option<u64>,
    /// Taken, store work not yet begun.
    pub service: Option<u64>,
    /// Store work begun, not yet ended.
    pub store: Option<u64>,
    /// Stored, reply not yet read back.
    pub reply: Option<u64>,
    /// The service's handlers holding an event (taken, reply not yet sent): how many
    /// of its workers were busy, wherever they spent it.
    #[serde(default)]
    pub handlers: Option<u64>,
    /// Kafka: the persistence service's consumer group lag on the request topic (its
    /// committed offsets against the high watermarks), in all and per partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lag_partitions: Vec<u64>,
    /// Kafka: the producer client's latest statistics (its queue, each broker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<super::evidence::ClientView>,
    /// CQL: each store node's own view (pending tasks, coordinator latencies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<super::evidence::NodeView>,
}

impl HopPoint {
    pub fn depth(&self, hop: Hop) -> Option<u64> {
        match hop {
            Hop::Generator => self.generator,
            Hop::Producer => self.producer,
            Hop::Queue => self.queue,
            Hop::Service => self.service,
            Hop::Store => self.store,
            Hop::Reply => self.reply,
            Hop::Turn | Hop::ReplySend => None,
        }
    }
}

/// Cumulative counts at the hops' boundaries (warmup included), from which the
/// depths between them follow; each is read once per interval, never per event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Boundaries {
    /// Produces the log acknowledged.
    pub acked: u64,
    /// Records the service's handlers took.
    pub taken: u64,
    /// Taken but never stored: malformed, or dropped on purpose.
    pub skipped: u64,
    pub storing: u64,
    pub stored: u64,
    /// Replies the log refused: they never come back.
    pub unsent: u64,
    /// Replies read back (errors included).
    pub read_back: u64,
    /// Replies the service sent.
    pub replied: u64,
}

impl Boundaries {
    /// (queue, service, store, reply) depths. The counts are read a moment apart, so
    /// one may run ahead of the next by what crossed in between: floored at 0.
    pub fn depths(&self) -> [u64; 4] {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        [
            d(self.acked, self.taken),
            d(self.taken, self.storing + self.skipped),
            d(self.storing, self.stored),
            d(self.stored, self.read_back + self.unsent),
        ]
    }

    /// Events in the service's handlers: taken, and neither answered nor skipped.
    pub fn in_handlers(&self) -> u64 {
        self.taken.saturating_sub(self.replied + self.unsent + self.skipped)
    }
}

/// A hop's queue over the measured window: mean depth of the first and last quarter,
/// the deepest, and the least-squares growth (events/s).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct QueueTrend {
    pub start: f64,
    pub end: f64,
    /// Mean depth over the window's second half (steadier than a quarter's few points).
    #[serde(default)]
    pub late: f64,
    pub max: u64,
    pub growth_per_s: f64,
}

impl QueueTrend {
    /// The trend of one hop's depths over the measured intervals; `None` when the hop
    /// is not observed or fewer than two intervals were measured.
    pub fn of(points: &[&HopPoint], hop: Hop) -> Option<QueueTrend> {
        QueueTrend::of_series(points, |p| p.depth(hop))
    }

    /// The trend of any per-interval count.
    pub fn of_series(points: &[&HopPoint], depth: impl Fn(&HopPoint) -> Option<u64>) -> Option<QueueTrend> {
        let ys: Vec<f64> = points
            .iter()
            .map(|p| depth(p).map(|d| d as f64))
            .collect::<Option<_>>()?;
        if ys.len() < 2 {
            return None;
        }
        let xs: Vec<f64> = points.iter().map(|p| p.t_s + p.length_s).collect();
        let q = ys.len().div_ceil(4);
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        Some(QueueTrend {
            start: mean(&ys[..q]),
            end: mean(&ys[ys.len() - q..]),
            late: mean(&ys[ys.len() / 2..]),
            max: ys.iter().fold(0.0f64, |a, b| a.max(*b)) as u64,
            growth_per_s: slope(&xs, &ys),
        })
    }

    /// Grew through the window by more than noise: a rising fit, and the last quarter
    /// above the first by at least `floor` events.
    pub fn grew(&self, floor: f64) -> bool {
        self.growth_per_s > 0.0 && self.end - self.start >= floor
    }
}

/// Least-squares slope of `ys` against `xs` (per unit of x); 0 for fewer than 2 points.
pub fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return 0.0;
    }
    let mx = xs[..n].iter().sum::<f64>() / n as f64;
    let my = ys[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for i in 0..n {
        sxy += (xs[i] - mx) * (ys[i] - my);
        sxx += (xs[i] - mx) * (xs[i] - mx);
    }
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_are_the_differences_of_the_boundaries() {
        let b = Boundaries {
            acked: 100,
            taken: 80,
            skipped: 2,
            storing: 70,
            stored: 60,
            unsent: 1,
            read_back: 50,
            replied: 55,
        };
        assert_eq!(b.depths(), [20, 8, 10, 9]);
        assert_eq!(b.in_handlers(), 80 - 55 - 1 - 2);
        // Read a moment apart, a later boundary may be ahead: no negative depth.
        let ahead = Boundaries {
            acked: 10,
            taken: 12,
            ..Boundaries::default()
        };
        assert_eq!(ahead.depths()[0], 0);
    }

    #[test]
    fn slope_of_a_line_and_of_too_few_points() {
        assert!((slope(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 5.0, 7.0]) - 2.0).abs() < 1e-12);
        assert_eq!(slope(&[1.0], &[5.0]), 0.0);
        assert_eq!(slope(&[1.0, 1.0], &[5.0, 6.0]), 0.0);
    }
}
