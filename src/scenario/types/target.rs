//! `[target]`: where the load goes, the log and its Kafka settings, the services' mode
//! and names.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::cql::ScyllaSettings;
use super::services::{MemoryStore, QueryService, ServiceWorkers};
use super::yes;
use crate::units::Dur;

/// Where the load goes.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default)]
    pub log: LogKind,
    #[serde(default)]
    pub store: StoreKind,
    /// Run the reference persistence and query services in-process.
    #[serde(default)]
    pub services: ServicesMode,
    /// With `services = "none"`: consume produced records back for the `e2e` stage.
    /// Off leaves only the producer, as Kafka's ProducerPerformance measures.
    #[serde(default = "yes")]
    pub e2e: bool,
    #[serde(default)]
    pub topics: Topics,
    #[serde(default)]
    pub memory_log: MemoryLog,
    #[serde(default)]
    pub kafka: KafkaSettings,
    #[serde(default)]
    pub scylla: ScyllaSettings,
    #[serde(default)]
    pub memory_store: MemoryStore,
    #[serde(default)]
    pub persistence: ServiceWorkers,
    #[serde(default)]
    pub query: QueryService,
    /// How the reference services stamp versions: `read-then-write` (as the original
    /// services) or `lwt`.
    #[serde(default)]
    pub consistency: VersionConsistency,
    /// Embedded services start at the end of their input topics, so what an earlier
    /// (e.g. interrupted) run left unconsumed is not counted as this run's load.
    #[serde(default = "yes")]
    pub skip_backlog: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    #[default]
    Memory,
    Kafka,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    #[default]
    Memory,
    /// ScyllaDB or Apache Cassandra over CQL.
    Scylla,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServicesMode {
    /// The reference services run inside eventbench.
    #[default]
    Embedded,
    /// No service runs: `produce` measures the log alone.
    None,
    /// Services run elsewhere (the original Go services, `eventbench serve`, or any
    /// implementation of the contract): eventbench only produces and listens.
    External,
}

/// How the reference services stamp and advance versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionConsistency {
    /// As the original services: read the meta version, then write (a query can close
    /// the epoch in between, hiding the event from every later query). `seed`, this
    /// value's name before 0.2, is still read.
    #[default]
    #[serde(alias = "seed")]
    ReadThenWrite,
    /// Lightweight transactions: queries advance the meta version with a CAS, and
    /// persistence re-stamps an event whose epoch closed before it was inserted.
    Lwt,
}

/// Topic and group names; defaults are the original services'.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    pub events: String,
    pub persistence_group: String,
    /// Replies go to `<persistence_response>.<aggregate_id>`.
    pub persistence_response: String,
    pub query: String,
    pub query_group: String,
    /// Query results go to `<query_response>.<aggregate_id>`.
    pub query_response: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            events: "event.rns_eventstore.events".into(),
            persistence_group: "event.consumer.persistence".into(),
            persistence_response: "event.rns_eventstore.events.persistence.response".into(),
            query: "events.rns_eventstore.esquery".into(),
            query_group: "event.consumer.esquery".into(),
            query_response: "events.rns_eventstore.esresponse".into(),
        }
    }
}

/// How eventbench talks to Kafka. Any librdkafka property can be passed through.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `host:port[,host:port]`.
    pub bootstrap: String,
    /// `all` (or `-1`), `1` or `0`.
    pub acks: Spanned<String>,
    pub linger_ms: u64,
    /// Bytes per partition batch.
    pub batch_size: u64,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: Spanned<String>,
    pub idempotence: bool,
    /// `none` (keyless, as the original services) or `aggregate` (key = aggregate id).
    pub key: KafkaKey,
    /// For topics eventbench creates.
    pub partitions: i32,
    pub replication: i32,
    /// Create the events topic when it is missing (eventbench never deletes topics).
    pub create_topics: bool,
    /// Delivery timeout of one record (`message.timeout.ms`).
    pub timeout: Dur,
    /// How long to wait for the broker to answer at start.
    pub connect_timeout: Dur,
    /// librdkafka properties for every client eventbench makes (producers, its own
    /// consumers, the admin client that creates topics, the embedded services, `serve`):
    /// where security goes, e.g. `"security.protocol" = "SASL_SSL"`,
    /// `"sasl.mechanisms" = "SCRAM-SHA-512"`, `"sasl.username"`, `"sasl.password_env" =
    /// "KAFKA_PASSWORD"`, `"ssl.ca.location"`, `"ssl.certificate.location"`,
    /// `"ssl.key.location"`, `"ssl.key.password_file"`,
    /// `"ssl.endpoint.identification.algorithm" = "none"`.
    pub client: BTreeMap<String, String>,
    /// Extra librdkafka properties for the producer, e.g. `"queue.buffering.max.kbytes" = "1048576"`.
    pub producer: BTreeMap<String, String>,
    /// Extra librdkafka properties for consumers.
    pub consumer: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            bootstrap: "127.0.0.1:9092".into(),
            acks: Spanned::new(0..0, "all".into()),
            linger_ms: 5,
            batch_size: 131_072,
            compression: Spanned::new(0..0, "none".into()),
            idempotence: false,
            key: KafkaKey::None,
            partitions: 3,
            replication: 1,
            create_topics: true,
            timeout: Dur::from_secs(30),
            connect_timeout: Dur::from_secs(10),
            client: BTreeMap::new(),
            producer: BTreeMap::new(),
            consumer: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaKey {
    #[default]
    None,
    Aggregate,
}

/// The in-process log.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLog {
    /// Records queued per consumer group before a producer has to wait.
    pub capacity: usize,
}

impl Default for MemoryLog {
    fn default() -> Self {
        MemoryLog { capacity: 65_536 }
    }
}

impl Default for Target {
    fn default() -> Self {
        Target {
            log: LogKind::default(),
            store: StoreKind::default(),
            services: ServicesMode::default(),
            e2e: true,
            topics: Topics::default(),
            memory_log: MemoryLog::default(),
            kafka: KafkaSettings::default(),
            scylla: ScyllaSettings::default(),
            memory_store: MemoryStore::default(),
            persistence: ServiceWorkers::default(),
            query: QueryService::default(),
            consistency: VersionConsistency::default(),
            skip_backlog: true,
        }
    }
}
