//! The pipeline's hops (their queues, the group's lag, the brokers' round trips, the
//! store nodes' pools) and the build's info, apart from the run's own families.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::encode::{gauge, Fmt, Labels};
use super::Live;

/// The pipeline's hop queues, apart from [`Exporter`] (one concern each).
#[derive(Debug)]
pub(super) struct HopExporter(pub(super) Arc<Live>);

impl Collector for HopExporter {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        let s = self.0.lock();
        let Some(p) = &s.hops else { return Ok(()) };
        let queues: Vec<(Labels, f64)> = crate::stats::hops::Hop::ALL
            .iter()
            .filter_map(|h| Some((vec![("hop", h.name().to_string())], p.depth(*h)? as f64)))
            .collect();
        gauge(
            &mut enc,
            "hop_queue_events",
            "Events in each hop of the pipeline at the last interval's close (docs/hops.md).",
            None,
            &queues,
        )?;
        let lag: Vec<(Labels, f64)> = p
            .lag_partitions
            .iter()
            .enumerate()
            .map(|(i, l)| (vec![("partition", i.to_string())], *l as f64))
            .collect();
        gauge(
            &mut enc,
            "persistence_group_lag_events",
            "The persistence service's consumer group lag on the request topic, per partition.",
            None,
            &lag,
        )?;
        let brokers = p.client.as_ref().map_or(&[][..], |c| &c.brokers[..]);
        let rtt: Vec<(Labels, f64)> = brokers
            .iter()
            .map(|b| (vec![("broker", b.id.to_string())], b.rtt_p99_us as f64 / 1e6))
            .collect();
        gauge(
            &mut enc,
            "producer_broker_rtt_p99_seconds",
            "The producer client's produce round trip to each broker, p99 of librdkafka's last statistics window.",
            None,
            &rtt,
        )?;
        let inside: Vec<(Labels, f64)> = p
            .nodes
            .iter()
            .map(|n| (vec![("node", n.node.clone())], n.active.saturating_sub(1) as f64))
            .collect();
        gauge(
            &mut enc,
            "store_node_requests_inside",
            "Requests inside each store node's request pools at the last reading (system_views.thread_pools' active tasks, the reading's own aside).",
            None,
            &inside,
        )?;
        let pending: Vec<(Labels, f64)> = p
            .nodes
            .iter()
            .map(|n| (vec![("node", n.node.clone())], n.pending() as f64))
            .collect();
        gauge(
            &mut enc,
            "store_node_pending_tasks",
            "Tasks pending in each store node's request pools (Native-Transport-Requests, MutationStage, ReadStage) at the last reading.",
            None,
            &pending,
        )
    }
}

#[derive(Debug)]
pub(super) struct Info;

impl Collector for Info {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        gauge(
            &mut enc,
            "build",
            "Always 1; the labels say which eventbench this is.",
            None,
            &[(Labels::new(), 1.0)],
        )
    }
}
