//! What the target's own parts say about themselves, read beside the run once per
//! interval: the Kafka producer client's statistics (librdkafka's, per broker) and a
//! CQL node's view of its thread pools and coordinator latencies (Cassandra's
//! `system_views`). Neither is timed per event; both say where an event waited that
//! eventbench's own clocks cannot split (inside the client, inside the node).

use serde::{Deserialize, Serialize};

/// The producer client at one statistics emit (librdkafka's rolling windows since the
/// previous emit).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientView {
    /// Messages in the client's queue, and its bound (`queue.buffering.max.messages`).
    pub msg_cnt: u64,
    pub msg_max: u64,
    pub brokers: Vec<BrokerView>,
}

/// One broker as the producer client saw it. Times in microseconds, throttle in ms.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BrokerView {
    /// `host:port/id`.
    pub name: String,
    pub id: i32,
    /// Time a message waited in the client's queue for this broker before being sent.
    pub int_latency_avg_us: i64,
    pub int_latency_p99_us: i64,
    /// Time a request waited to be written to the socket.
    pub outbuf_latency_p99_us: i64,
    /// The produce round trip.
    pub rtt_avg_us: i64,
    pub rtt_p99_us: i64,
    /// Quota throttling the broker asked for.
    pub throttle_max_ms: i64,
    /// Requests sent and awaiting their answer, and the messages in them.
    pub waitresp_msg_cnt: i64,
}

/// A CQL node's own view at one reading.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeView {
    /// The node's address.
    pub node: String,
    /// Pending (queued) tasks of the request-serving pools: Native-Transport-Requests,
    /// MutationStage, ReadStage (and their sum), blocked tasks of all three, active ones.
    pub native_pending: u64,
    pub mutation_pending: u64,
    pub read_pending: u64,
    pub blocked: u64,
    /// Tasks running in those pools: requests inside the node (this reading's own
    /// request among them).
    pub active: u64,
    /// Coordinator reads and writes of the run's tables so far (cumulative).
    #[serde(default)]
    pub requests: u64,
    /// Coordinator write and read latencies of the run's tables, the worst table's;
    /// `None`: none served. These are decaying reservoirs with minutes of memory, so an
    /// earlier run's requests still weigh in: shown, not judged on.
    pub write_p50_ms: Option<f64>,
    pub write_p99_ms: Option<f64>,
    pub read_p50_ms: Option<f64>,
    pub read_p99_ms: Option<f64>,
}

impl NodeView {
    pub fn pending(&self) -> u64 {
        self.native_pending + self.mutation_pending + self.read_pending
    }
}
