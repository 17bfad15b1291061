//! The two things eventbench drives, behind small traits: a log (Kafka's role) and a
//! store (ScyllaDB/Cassandra's role). The in-memory pair is the embedded default.
//!
//! Engine and services use the `Any*` enums, which dispatch statically to a backend:
//! no boxed future per operation.

pub mod connect;
pub mod cql_tls;
pub mod cql_views;
pub mod ctx;
pub mod kafka_features;
pub mod kafka_lag;
pub mod kafka_log;
pub mod kafka_stats;
pub mod memory_log;
pub mod memory_store;
pub mod scylla_store;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

pub use connect::{connect, reply_topics, Target};
pub use ctx::Ctx;
pub use kafka_log::KafkaLog;
pub use memory_log::MemoryLog;
pub use memory_store::MemoryStore;
pub use scylla_store::ScyllaStore;

use crate::model::Event;
use crate::stats::ErrorClass;

/// What eventbench adds to a record beside the original JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers {
    /// Intended send time, run-time ns on the producer's anchored clock.
    pub intended_ns: u64,
    pub run_tag: u64,
}

impl Headers {
    /// The record header holding [`Headers::intended_ns`], 8 bytes big-endian.
    pub const INTENDED: &'static str = "eventbench-intended-ns";
    /// The record header holding [`Headers::run_tag`], 8 bytes big-endian.
    pub const RUN: &'static str = "eventbench-run";

    /// Ours, from a record's headers as any producer may have written them: both of
    /// ours present with 8-byte values, the last of each kept; anything else is no
    /// headers of ours (the record is then foreign or timed by its correlation id).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>) -> Option<Headers> {
        let (mut intended, mut run) = (None, None);
        for (key, value) in pairs {
            let v = value.and_then(|v| <[u8; 8]>::try_from(v).ok()).map(u64::from_be_bytes);
            match key {
                Headers::INTENDED => intended = v,
                Headers::RUN => run = v,
                _ => {}
            }
        }
        Some(Headers {
            intended_ns: intended?,
            run_tag: run?,
        })
    }
}

/// When a log took a record, as its consumer can read it: the hop evidence for the
/// queue in front of a consumer (log time -> taken) and for the reply path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTime {
    /// The in-process log's append, on this process's monotonic clock (exact).
    Mono(u64),
    /// A Kafka record timestamp (wall ms): the broker's append (`LogAppendTime`) or
    /// the producer's send (`CreateTime`, which then includes the produce round trip).
    Wall { ms: i64, append: bool },
}

impl LogTime {
    /// The run time (ns) of this log time on `clock`; `None` when it lies before the
    /// run's origin (another run's record).
    pub fn run_ns(self, clock: &crate::clock::Clock) -> Option<u64> {
        match self {
            LogTime::Mono(m) => m.checked_sub(clock.mono_at(0)),
            LogTime::Wall { ms, .. } => u64::try_from(ms as i128 * 1_000_000 - clock.wall_origin_ns()).ok(),
        }
    }

    /// How far this time may be off the run clock, ns: nothing in-process; a
    /// millisecond's truncation for a Kafka timestamp written on this host.
    pub fn resolution_ns(self) -> u64 {
        match self {
            LogTime::Mono(_) => 0,
            LogTime::Wall { .. } => 1_000_000,
        }
    }
}

/// A consumed record.
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub headers: Option<Headers>,
    /// When the log took it, where the log says.
    pub log_time: Option<LogTime>,
    /// For a service's Kafka consumer: how to let the group commit past this record.
    pub ack: Option<kafka_log::Ack>,
}

impl Record {
    /// The consumer is done with this record (answered, or deliberately skipped): the
    /// group may commit past it once every earlier record of its partition is done too.
    /// Records never done are not committed, so the group's next member reads them.
    pub fn done(&self) {
        if let Some(a) = &self.ack {
            a.done(&self.topic);
        }
    }
}

/// Which topics a consumer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topics {
    Exact(String),
    /// Several topics, all existing when the consumer joins.
    List(Vec<String>),
    /// Every topic whose name starts with this (Kafka: a regex subscription).
    Prefix(String),
}

/// A failure talking to a backend, with the class the report files it under.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub class: ErrorClass,
    pub message: String,
}

impl BackendError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> BackendError {
        BackendError {
            class,
            message: message.into(),
        }
    }
}

/// A message log: produce records, consume them by group.
pub trait EventLog: Send + Sync {
    type Topic: Clone + Send + Sync;
    type Consumer: LogConsumer;
    /// Resolves a topic once, so producing to it costs no lookup.
    fn topic(&self, name: &str) -> Self::Topic;
    /// Sends a record; resolves when the log acknowledged it.
    fn produce(
        &self,
        topic: &Self::Topic,
        payload: &[u8],
        headers: Option<Headers>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Joins consumer group `group` on `topics`; members of one group share records.
    fn subscribe(&self, topics: Topics, group: &str) -> Result<Self::Consumer, BackendError>;
}

/// One member of a consumer group.
pub trait LogConsumer: Send {
    /// The next record; `None` when the log is closed.
    fn recv(&mut self) -> impl Future<Output = Option<Record>> + Send;
}

/// The event store, with exactly the operations the original services perform.
pub trait EventStore: Send + Sync {
    /// `events_meta.aggregate_version` of (partition, aggregate), if the row exists.
    fn read_meta(
        &self,
        ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
    ) -> impl Future<Output = Result<Option<i64>, BackendError>> + Send;
    /// Upserts an `events_meta` row.
    fn write_meta(
        &self,
        ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
        version: i64,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Linearizable read of the meta version (CQL: SERIAL consistency).
    fn read_meta_serial(
        &self,
        ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
    ) -> impl Future<Output = Result<Option<i64>, BackendError>> + Send;
    /// Compare-and-set of the meta version (CQL: a lightweight transaction); `expect`
    /// `None` creates the row only where it is missing. True when it applied.
    fn cas_meta(
        &self,
        ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
        expect: Option<i64>,
        version: i64,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;
    /// Deletes the row of an event (by its full primary key).
    fn delete_event(&self, ctx: &mut Ctx, event: &Event) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Upserts an event (all columns).
    fn insert_event(&self, ctx: &mut Ctx, event: &Event) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Appends to `out` the events with `after < version <= upto`.
    fn select_events(
        &self,
        ctx: &mut Ctx,
        year_bucket: i16,
        aggregate: i8,
        after: i64,
        upto: i64,
        out: &mut Vec<Event>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// The configured log.
#[derive(Clone)]
pub enum AnyLog {
    Memory(MemoryLog),
    Kafka(KafkaLog),
}

/// A resolved topic of [`AnyLog`].
#[derive(Clone)]
pub enum AnyTopic {
    Memory(<MemoryLog as EventLog>::Topic),
    Kafka(<KafkaLog as EventLog>::Topic),
}

/// A consumer of [`AnyLog`].
pub enum AnyConsumer {
    Memory(<MemoryLog as EventLog>::Consumer),
    Kafka(<KafkaLog as EventLog>::Consumer),
}

impl EventLog for AnyLog {
    type Topic = AnyTopic;
    type Consumer = AnyConsumer;

    fn topic(&self, name: &str) -> AnyTopic {
        match self {
            AnyLog::Memory(m) => AnyTopic::Memory(m.topic(name)),
            AnyLog::Kafka(k) => AnyTopic::Kafka(k.topic(name)),
        }
    }

    async fn produce(&self, topic: &AnyTopic, payload: &[u8], headers: Option<Headers>) -> Result<(), BackendError> {
        match (self, topic) {
            (AnyLog::Memory(m), AnyTopic::Memory(t)) => m.produce(t, payload, headers).await,
            (AnyLog::Kafka(k), AnyTopic::Kafka(t)) => k.produce(t, payload, headers).await,
            _ => Err(BackendError::new(ErrorClass::Fatal, "topic resolved on another log")),
        }
    }

    fn subscribe(&self, topics: Topics, group: &str) -> Result<AnyConsumer, BackendError> {
        match self {
            AnyLog::Memory(m) => m.subscribe(topics, group).map(AnyConsumer::Memory),
            AnyLog::Kafka(k) => k.subscribe(topics, group).map(AnyConsumer::Kafka),
        }
    }
}

impl LogConsumer for AnyConsumer {
    async fn recv(&mut self) -> Option<Record> {
        match self {
            AnyConsumer::Memory(c) => c.recv().await,
            AnyConsumer::Kafka(c) => c.recv().await,
        }
    }
}

impl AnyConsumer {
    /// A record already queued, without waiting; memory consumers only (a Kafka
    /// consumer's records come through [`LogConsumer::recv`]).
    pub fn try_recv(&mut self) -> Option<Record> {
        match self {
            AnyConsumer::Memory(c) => c.try_recv(),
            AnyConsumer::Kafka(_) => None,
        }
    }

    /// Waits until the consumer takes part in its group (Kafka: partitions assigned),
    /// so that nothing produced afterwards is missed. Memory consumers are always ready.
    pub async fn ready(&self, within: std::time::Duration) -> bool {
        match self {
            AnyConsumer::Memory(_) => true,
            AnyConsumer::Kafka(c) => c.wait_assigned(within).await,
        }
    }
}

/// The configured store.
#[derive(Clone)]
pub enum AnyStore {
    Memory(Arc<MemoryStore>),
    Scylla(Arc<ScyllaStore>),
}

impl EventStore for AnyStore {
    async fn read_meta(&self, ctx: &mut Ctx, partition: i8, aggregate: i8) -> Result<Option<i64>, BackendError> {
        match self {
            AnyStore::Memory(s) => s.read_meta(ctx, partition, aggregate).await,
            AnyStore::Scylla(s) => s.read_meta(ctx, partition, aggregate).await,
        }
    }
    async fn write_meta(&self, ctx: &mut Ctx, partition: i8, aggregate: i8, version: i64) -> Result<(), BackendError> {
        match self {
            AnyStore::Memory(s) => s.write_meta(ctx, partition, aggregate, version).await,
            AnyStore::Scylla(s) => s.write_meta(ctx, partition, aggregate, version).await,
        }
    }
    async fn read_meta_serial(&self, ctx: &mut Ctx, partition: i8, aggregate: i8) -> Result<Option<i64>, BackendError> {
        match self {
            AnyStore::Memory(s) => s.read_meta_serial(ctx, partition, aggregate).await,
            AnyStore::Scylla(s) => s.read_meta_serial(ctx, partition, aggregate).await,
        }
    }
    async fn cas_meta(
        &self,
        ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
        expect: Option<i64>,
        version: i64,
    ) -> Result<bool, BackendError> {
        match self {
            AnyStore::Memory(s) => s.cas_meta(ctx, partition, aggregate, expect, version).await,
            AnyStore::Scylla(s) => s.cas_meta(ctx, partition, aggregate, expect, version).await,
        }
    }
    async fn delete_event(&self, ctx: &mut Ctx, event: &Event) -> Result<(), BackendError> {
        match self {
            AnyStore::Memory(s) => s.delete_event(ctx, event).await,
            AnyStore::Scylla(s) => s.delete_event(ctx, event).await,
        }
    }
    async fn insert_event(&self, ctx: &mut Ctx, event: &Event) -> Result<(), BackendError> {
        match self {
            AnyStore::Memory(s) => s.insert_event(ctx, event).await,
            AnyStore::Scylla(s) => s.insert_event(ctx, event).await,
        }
    }
    async fn select_events(
        &self,
        ctx: &mut Ctx,
        year_bucket: i16,
        aggregate: i8,
        after: i64,
        upto: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), BackendError> {
        match self {
            AnyStore::Memory(s) => s.select_events(ctx, year_bucket, aggregate, after, upto, out).await,
            AnyStore::Scylla(s) => s.select_events(ctx, year_bucket, aggregate, after, upto, out).await,
        }
    }
}
