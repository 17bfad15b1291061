//! The target's own view over the measured window, beside the hop table: the producer
//! client's statistics per broker (what the producer hop's time was made of), each
//! store node's pending tasks and coordinator latencies (the store as the store sees
//! itself, which is all there is of it behind a service eventbench does not embed),
//! and, for such a service, what its inside took as seen from outside.

use serde::{Deserialize, Serialize};

use crate::stats::evidence::NodeView;
use crate::stats::hops::{HopPoint, QueueTrend};

/// A node holding this many requests at once through the window's second half is the
/// limit: a service held by its own work keeps few requests in the node (0-1 measured
/// here with one slow worker), one held by its store keeps most of its handlers parked
/// there (about 60 of 64 with lightweight transactions on one partition). Below it, the
/// node has room, and more service instances would raise the rate.
pub const PARKED: f64 = 8.0;

/// The producer client over the window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientSummary {
    /// Messages in the client's queue (librdkafka's `msg_cnt`), and its bound.
    pub queued: Option<QueueTrend>,
    pub msg_max: u64,
    pub brokers: Vec<BrokerSummary>,
}

/// One broker over the window: medians of the per-emit windows (one emit's outliers
/// aside), and the worst emit's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BrokerSummary {
    pub name: String,
    pub id: i32,
    /// In the client's queue for this broker before being sent, p99, us.
    pub queue_p99_us: f64,
    /// The produce round trip, mean and p99, us; the worst emit's p99.
    pub rtt_avg_us: f64,
    pub rtt_p99_us: f64,
    pub rtt_p99_max_us: f64,
    /// The longest throttle the broker asked for, ms.
    pub throttle_max_ms: i64,
}

/// One store node over the window, by its own account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeSummary {
    pub node: String,
    /// Pending tasks of its request pools, summed, over the window.
    pub pending: Option<QueueTrend>,
    /// The most pending in each pool, and blocked in all, at any reading.
    pub native_pending_max: u64,
    pub mutation_pending_max: u64,
    pub read_pending_max: u64,
    pub blocked_max: u64,
    /// Requests inside the node at once (the mean over the window's second half, this
    /// reading's own aside), the coordinator requests per second of the run's tables,
    /// and the time each spent inside, by Little's law (in the node over the rate), ms.
    pub in_node: f64,
    pub requests_per_s: f64,
    pub request_ms: Option<f64>,
    /// Coordinator write p99 over the window's first and last quarter (medians), and
    /// its p50's median, ms; read p99's median.
    pub write_p99_start_ms: Option<f64>,
    pub write_p99_end_ms: Option<f64>,
    pub write_p50_ms: Option<f64>,
    pub read_p50_ms: Option<f64>,
    pub read_p99_ms: Option<f64>,
}

impl NodeSummary {
    /// The node was the limit by its own account: its request pools queued (pending
    /// grew, or stayed deep), it blocked, or it held many requests at once ([`PARKED`]).
    /// Its latency columns are not judged (see [`NodeView`]).
    pub fn pressed(&self) -> bool {
        let queued = self.pending.is_some_and(|p| p.grew(10.0) || p.late >= 8.0);
        queued || self.blocked_max > 0 || self.in_node >= PARKED
    }

    /// The figures a verdict cites: "node 127.0.0.1:9042 held 59.3 requests at once
    /// (25.0 ms each by Little's law), its request pools 0 -> 0 pending, 0 blocked".
    pub fn brief(&self) -> String {
        format!(
            "node {} held {:.1} requests at once{}, its request pools {} pending (max {}), {} blocked",
            self.node,
            self.in_node,
            self.request_ms
                .map_or(String::new(), |ms| format!(" ({ms:.1} ms each by Little's law)")),
            self.pending
                .map_or("-".to_string(), |p| format!("{:.0} -> {:.0}", p.start, p.end)),
            self.native_pending_max
                .max(self.mutation_pending_max)
                .max(self.read_pending_max),
            self.blocked_max
        )
    }

    /// "node 127.0.0.1:9042: request pools pending 0 -> 0 (max: MutationStage 0, ...),
    /// coordinator write p99 1.8 -> 2.0 ms".
    pub fn describe(&self) -> String {
        let pending = self
            .pending
            .map_or("-".to_string(), |p| format!("{:.0} -> {:.0}", p.start, p.end));
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
        format!(
            "node {}: {:.1} requests inside at once, {:.0} requests/s{}; request pools pending {pending} (max: Native-Transport-Requests {}, MutationStage {}, ReadStage {}; blocked {}); its reservoirs of recent minutes: coordinator write p99 {} -> {} (p50 {}), read p50 {}, p99 {}",
            self.node,
            self.in_node,
            self.requests_per_s,
            self.request_ms
                .map_or(String::new(), |ms| format!(", {ms:.1} ms each by Little's law")),
            self.native_pending_max,
            self.mutation_pending_max,
            self.read_pending_max,
            self.blocked_max,
            ms(self.write_p99_start_ms),
            ms(self.write_p99_end_ms),
            ms(self.write_p50_ms),
            ms(self.read_p50_ms),
            ms(self.read_p99_ms)
        )
    }
}

/// An external service's inside, from outside: e2e less the hops eventbench times
/// (generator, producer, reply); of it, while its group's lag held steady, the wait
/// that lag means at the rate events came (Little's law), the rest its handling and
/// its store; and the store's share per event by the nodes' own account (the requests
/// inside them over the events served per second: offered less the lag's growth),
/// which holds when the lag grows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutsideView {
    pub inside_mean_ms: f64,
    /// `None` when the lag grew: the wait was not steady, so it is not split off.
    pub queue_wait_ms: Option<f64>,
    pub handling_ms: Option<f64>,
    pub store_per_event_ms: Option<f64>,
}

impl OutsideView {
    pub fn describe(&self) -> String {
        let split = match (self.queue_wait_ms, self.handling_ms) {
            (Some(w), Some(h)) => format!(
                "of it about {w:.2} ms waiting in its group's lag (Little's law: the lag over the rate), {h:.2} ms its handling and its store"
            ),
            _ => "its group's lag grew, so the wait in it is not steady and is not split from the handling".into(),
        };
        let store = self.store_per_event_ms.map_or(String::new(), |ms| {
            format!("; the store held each event about {ms:.2} ms by its nodes' own account (requests inside over events served per second)")
        });
        format!(
            "the external service from outside: queue + service + store took {:.2} ms per event on average (e2e less the hops timed here); {split}{store}",
            self.inside_mean_ms
        )
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The client's statistics over the measured points; `None` when none came.
pub fn client(points: &[&HopPoint]) -> Option<ClientSummary> {
    let views: Vec<_> = points.iter().filter_map(|p| p.client.as_ref()).collect();
    let last = views.last()?;
    let brokers = last
        .brokers
        .iter()
        .map(|b| {
            let of = |f: fn(&crate::stats::evidence::BrokerView) -> i64| -> Vec<f64> {
                views
                    .iter()
                    .flat_map(|v| v.brokers.iter().filter(|x| x.id == b.id))
                    .map(|x| f(x) as f64)
                    .collect()
            };
            let p99s = of(|x| x.rtt_p99_us);
            BrokerSummary {
                name: b.name.clone(),
                id: b.id,
                queue_p99_us: median(of(|x| x.int_latency_p99_us)).unwrap_or(0.0),
                rtt_avg_us: median(of(|x| x.rtt_avg_us)).unwrap_or(0.0),
                rtt_p99_max_us: p99s.iter().fold(0.0, |a: f64, b| a.max(*b)),
                rtt_p99_us: median(p99s).unwrap_or(0.0),
                throttle_max_ms: of(|x| x.throttle_max_ms).into_iter().fold(0, |a, b| a.max(b as i64)),
            }
        })
        .collect();
    Some(ClientSummary {
        queued: QueueTrend::of_series(points, |p| p.client.as_ref().map(|c| c.msg_cnt)),
        msg_max: last.msg_max,
        brokers,
    })
}

/// Each node's view over the measured points, in the order the last reading named them.
pub fn nodes(points: &[&HopPoint]) -> Vec<NodeSummary> {
    let Some(last) = points.iter().rev().find(|p| !p.nodes.is_empty()) else {
        return Vec::new();
    };
    last.nodes
        .iter()
        .map(|n| {
            let of = |p: &HopPoint| p.nodes.iter().find(|x| x.node == n.node).cloned();
            let views: Vec<NodeView> = points.iter().filter_map(|p| of(p)).collect();
            let max = |f: fn(&NodeView) -> u64| views.iter().map(f).max().unwrap_or(0);
            let q = views.len().div_ceil(4);
            let p99 = |s: &[NodeView]| median(s.iter().filter_map(|v| v.write_p99_ms).collect());
            let late = &views[views.len() / 2..];
            let in_node =
                late.iter().map(|v| v.active.saturating_sub(1) as f64).sum::<f64>() / late.len().max(1) as f64;
            let span = |a: &HopPoint, b: &HopPoint| (b.t_s + b.length_s) - (a.t_s + a.length_s);
            let firsts = points.iter().find(|p| of(p).is_some());
            let lasts = points.iter().rev().find(|p| of(p).is_some());
            let requests_per_s = match (firsts, lasts) {
                (Some(a), Some(b)) if span(a, b) > 0.0 => {
                    let count = |p: &HopPoint| of(p).map_or(0, |v| v.requests) as f64;
                    (count(b) - count(a)).max(0.0) / span(a, b)
                }
                _ => 0.0,
            };
            NodeSummary {
                node: n.node.clone(),
                pending: QueueTrend::of_series(points, |p| of(p).map(|v| v.pending())),
                native_pending_max: max(|v| v.native_pending),
                mutation_pending_max: max(|v| v.mutation_pending),
                read_pending_max: max(|v| v.read_pending),
                blocked_max: max(|v| v.blocked),
                in_node,
                requests_per_s,
                request_ms: (requests_per_s > 0.0).then(|| 1000.0 * in_node / requests_per_s),
                write_p99_start_ms: p99(&views[..q]),
                write_p99_end_ms: p99(&views[views.len() - q..]),
                write_p50_ms: median(views.iter().filter_map(|v| v.write_p50_ms).collect()),
                read_p50_ms: median(views.iter().filter_map(|v| v.read_p50_ms).collect()),
                read_p99_ms: median(views.iter().filter_map(|v| v.read_p99_ms).collect()),
            }
        })
        .collect()
}

impl ClientSummary {
    /// "client queue 3 -> 5 of 100000 messages; broker 1 (127.0.0.1:9092/1): in the
    /// client's queue p99 0.8 ms, round trip 1.5 ms mean, p99 4.8 ms (worst 6.0 ms)".
    pub fn describe(&self) -> String {
        let q = self
            .queued
            .map_or("-".to_string(), |q| format!("{:.0} -> {:.0}", q.start, q.end));
        let ms = |us: f64| format!("{:.2} ms", us / 1000.0);
        let brokers: Vec<String> = self
            .brokers
            .iter()
            .map(|b| {
                let throttle = if b.throttle_max_ms > 0 {
                    format!(", throttled up to {} ms", b.throttle_max_ms)
                } else {
                    String::new()
                };
                format!(
                    "broker {} ({}): in the client's queue p99 {}, round trip mean {}, p99 {} (worst {}){throttle}",
                    b.id,
                    b.name,
                    ms(b.queue_p99_us),
                    ms(b.rtt_avg_us),
                    ms(b.rtt_p99_us),
                    ms(b.rtt_p99_max_us)
                )
            })
            .collect();
        format!("client queue {q} of {} messages; {}", self.msg_max, brokers.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::evidence::{BrokerView, ClientView};

    fn point(t: f64, node: NodeView, client: Option<ClientView>) -> HopPoint {
        HopPoint {
            t_s: t,
            length_s: 1.0,
            nodes: vec![node],
            client,
            ..HopPoint::default()
        }
    }

    fn node(active: u64, requests: u64, pending: u64) -> NodeView {
        NodeView {
            node: "127.0.0.1:9042".into(),
            mutation_pending: pending,
            active,
            requests,
            ..NodeView::default()
        }
    }

    /// Ten seconds of a node holding `active` requests (its reading's own among them)
    /// and serving 500 requests a second.
    fn steady(active: u64, pending: u64) -> NodeSummary {
        let points: Vec<HopPoint> = (0..10)
            .map(|i| point(i as f64, node(active, 500 * i, pending), None))
            .collect();
        let refs: Vec<&HopPoint> = points.iter().collect();
        nodes(&refs).remove(0)
    }

    #[test]
    fn a_node_s_requests_inside_over_its_rate_are_each_request_s_time() {
        let n = steady(11, 0);
        assert!((n.in_node - 10.0).abs() < 1e-9, "{n:?}");
        assert!((n.requests_per_s - 500.0).abs() < 1e-9, "{n:?}");
        assert!((n.request_ms.unwrap_or(0.0) - 20.0).abs() < 1e-9, "{n:?}");
        assert!(n.pressed(), "ten requests parked at once: {n:?}");
    }

    #[test]
    fn a_node_is_pressed_by_requests_parked_or_queued_not_by_being_used() {
        assert!(!steady(1, 0).pressed(), "only the reading's own request");
        assert!(!steady(5, 0).pressed(), "a few at once: the node has room");
        assert!(steady(2, 12).pressed(), "requests queued in MutationStage");
        let mut blocked = steady(1, 0);
        blocked.blocked_max = 1;
        assert!(blocked.pressed());
    }

    #[test]
    fn a_broker_s_windows_are_read_as_medians_and_the_worst() {
        let emit = |rtt: i64| ClientView {
            msg_cnt: 10,
            msg_max: 100_000,
            brokers: vec![BrokerView {
                name: "127.0.0.1:9092/1".into(),
                id: 1,
                int_latency_p99_us: 500,
                rtt_avg_us: rtt / 4,
                rtt_p99_us: rtt,
                ..BrokerView::default()
            }],
        };
        let points: Vec<HopPoint> = [1000, 2000, 90_000]
            .iter()
            .enumerate()
            .map(|(i, rtt)| point(i as f64, node(1, 0, 0), Some(emit(*rtt))))
            .collect();
        let refs: Vec<&HopPoint> = points.iter().collect();
        let c = client(&refs).expect("statistics came");
        let b = &c.brokers[0];
        assert_eq!(
            (b.rtt_p99_us, b.rtt_p99_max_us, b.queue_p99_us),
            (2000.0, 90_000.0, 500.0)
        );
        assert_eq!(c.msg_max, 100_000);
        assert!(
            c.describe()
                .contains("round trip mean 0.50 ms, p99 2.00 ms (worst 90.00 ms)"),
            "{}",
            c.describe()
        );
    }
}
