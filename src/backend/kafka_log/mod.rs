//! The Kafka log (rdkafka over a bundled librdkafka). Records are keyless by default,
//! as the original services produce them; the intended send time and run tag travel in
//! record headers so the Event body stays exactly the original JSON.

use std::sync::Arc;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use super::{BackendError, EventLog, Headers, Topics};
use crate::scenario::{KafkaKey, KafkaSettings};
use crate::stats::ErrorClass;

const H_INTENDED: &str = Headers::INTENDED;
const H_RUN: &str = Headers::RUN;

/// A producer shared by every task, and what consumers need to join.
#[derive(Clone)]
pub struct KafkaLog {
    producer: FutureProducer<super::kafka_stats::ProducerStats>,
    /// The producer client's latest statistics (librdkafka's, per broker).
    stats: super::kafka_stats::ProducerStats,
    settings: Arc<KafkaSettings>,
    run_tag: u64,
    /// Topics this connection created (they did not exist): the report names them.
    created: Arc<Vec<String>>,
}

/// A topic name.
#[derive(Clone)]
pub struct KafkaTopic {
    name: Arc<str>,
}

mod admin;
mod client;
mod consumer;
mod describe;

pub use client::builtin_features;
use client::{diagnose, properties, unreachable};
pub use consumer::{Ack, KafkaConsumer};

impl KafkaLog {
    /// Connects, checks the broker answers within `connect_timeout`, and creates the
    /// topics eventbench produces to when they are missing (never deleting any).
    /// `replies` are created with one partition, as a broker's auto-creation would.
    pub async fn connect(
        settings: &KafkaSettings,
        topics: &[String],
        replies: &[String],
        run_tag: u64,
    ) -> Result<KafkaLog, BackendError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &settings.bootstrap)
            .set("acks", settings.acks())
            .set("linger.ms", settings.linger_ms.to_string())
            .set("batch.size", settings.batch_size.to_string())
            .set("compression.type", settings.compression())
            .set("enable.idempotence", settings.idempotence.to_string())
            .set("message.timeout.ms", settings.timeout.0.as_millis().to_string())
            .set(
                "socket.connection.setup.timeout.ms",
                settings.connect_timeout.0.as_millis().max(1000).to_string(),
            );
        // The client's statistics are the producer hop's inside (its queue, each
        // broker's round trip); set first, so a user's own interval stands.
        cfg.set(
            "statistics.interval.ms",
            super::kafka_stats::STATISTICS_INTERVAL_MS.to_string(),
        );
        for (k, v) in properties(&settings.client)?
            .into_iter()
            .chain(properties(&settings.producer)?)
        {
            cfg.set(k, v);
        }
        let stats = super::kafka_stats::ProducerStats::default();
        let producer: FutureProducer<super::kafka_stats::ProducerStats> = cfg
            .create_with_context(stats.clone())
            .map_err(|e| unreachable(&settings.bootstrap, e))?;
        let timeout = settings.connect_timeout.0;
        let probe = producer.clone();
        let bootstrap = settings.bootstrap.clone();
        tokio::task::spawn_blocking(move || probe.client().fetch_metadata(None, Timeout::After(timeout)).map(|_| ()))
            .await
            .map_err(|e| unreachable(&bootstrap, e))?
            .map_err(|e| unreachable(&bootstrap, diagnose(settings, e, timeout)))?;
        let mut log = KafkaLog {
            producer,
            stats,
            settings: Arc::new(settings.clone()),
            run_tag,
            created: Arc::default(),
        };
        if settings.create_topics {
            let mut created = log.create_topics(topics, settings.partitions, true).await?;
            created.extend(log.create_topics(replies, 1, false).await?);
            log.created = Arc::new(created);
        }
        Ok(log)
    }

    /// The run tag this log was opened with (names eventbench's own groups).
    pub fn run_tag(&self) -> u64 {
        self.run_tag
    }
}

fn classify(e: &KafkaError) -> ErrorClass {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageTimedOut) | Some(RDKafkaErrorCode::RequestTimedOut) => ErrorClass::Timeout,
        Some(RDKafkaErrorCode::QueueFull) => ErrorClass::Overload,
        Some(_) => ErrorClass::Rejected,
        None => ErrorClass::Fatal,
    }
}

impl EventLog for KafkaLog {
    type Topic = KafkaTopic;
    type Consumer = KafkaConsumer;

    fn topic(&self, name: &str) -> KafkaTopic {
        KafkaTopic { name: name.into() }
    }

    async fn produce(&self, topic: &KafkaTopic, payload: &[u8], headers: Option<Headers>) -> Result<(), BackendError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic.name).payload(payload);
        if let Some(h) = headers {
            let intended = h.intended_ns.to_be_bytes();
            let run = h.run_tag.to_be_bytes();
            record = record.headers(
                OwnedHeaders::new_with_capacity(2)
                    .insert(Header {
                        key: H_INTENDED,
                        value: Some(&intended[..]),
                    })
                    .insert(Header {
                        key: H_RUN,
                        value: Some(&run[..]),
                    }),
            );
        }
        let key_byte;
        if self.settings.key == KafkaKey::Aggregate {
            key_byte = aggregate_key(payload);
            record = record.key(&key_byte[..]);
        }
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(e, _)| BackendError::new(classify(&e), e.to_string()))?;
        match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(BackendError::new(classify(&e), e.to_string())),
            Err(_) => Err(BackendError::new(
                ErrorClass::Fatal,
                "producer dropped the delivery report",
            )),
        }
    }

    fn subscribe(&self, topics: Topics, group: &str) -> Result<KafkaConsumer, BackendError> {
        self.consumer_of(topics, group)
    }
}

/// The aggregate id of a Go-encoded Event, as a one-byte key.
fn aggregate_key(payload: &[u8]) -> [u8; 1] {
    const FIELD: &[u8] = b"\"aggregate_id\":";
    let id = memchr::memmem::find(payload, FIELD)
        .map(|i| {
            let digits = &payload[i + FIELD.len()..];
            let end = digits
                .iter()
                .position(|c| !(c.is_ascii_digit() || *c == b'-'))
                .unwrap_or(digits.len());
            std::str::from_utf8(&digits[..end])
                .ok()
                .and_then(|s| s.parse::<i8>().ok())
                .unwrap_or(0)
        })
        .unwrap_or(0);
    [id as u8]
}
