//! The Kafka log (rdkafka over a bundled librdkafka). Records are keyless by default,
//! as the original services produce them; the intended send time and run tag travel in
//! record headers so the Event body stays exactly the original JSON.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers as _, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use super::{BackendError, EventLog, Headers, LogConsumer, LogTime, Record, Topics};
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

impl KafkaLog {
    /// The producer client's latest statistics, if librdkafka emitted any yet.
    pub fn client_view(&self) -> Option<crate::stats::evidence::ClientView> {
        self.stats.latest()
    }

    /// What the run met, for its report: the cluster id, the brokers, the release line
    /// of a broker's software and the cluster's finalized `metadata.version` (from its
    /// ApiVersions answer: the patch release is not on the wire), and each of `topics`'
    /// partitions and replication.
    pub fn describe(&self, topics: &[String]) -> serde_json::Value {
        let timeout = self.settings.connect_timeout.0;
        let client = self.producer.client();
        let cluster_id = client.fetch_cluster_id(timeout);
        let mut brokers = Vec::new();
        let mut described = serde_json::Map::new();
        if let Ok(meta) = client.fetch_metadata(None, timeout) {
            brokers = meta
                .brokers()
                .iter()
                .map(|b| format!("{}@{}:{}", b.id(), b.host(), b.port()))
                .collect();
            for t in meta.topics().iter().filter(|t| topics.iter().any(|n| n == t.name())) {
                let replication = t.partitions().first().map_or(0, |p| p.replicas().len());
                described.insert(
                    t.name().to_string(),
                    serde_json::json!({ "partitions": t.partitions().len(), "replication": replication }),
                );
            }
        }
        let first = brokers
            .first()
            .and_then(|b| b.split_once('@').map(|(_, a)| a.to_string()))
            .unwrap_or_else(|| {
                self.settings
                    .bootstrap
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            });
        let probed = properties(&self.settings.client)
            .map_err(|e| e.to_string())
            .and_then(|props| {
                let tls = super::kafka_features::ProbeTls::from_properties(&props);
                super::kafka_features::probe(&first, timeout, tls.as_ref())
            });
        let (release, metadata_version) = match probed {
            Ok(f) => (
                serde_json::json!(f.release()),
                serde_json::json!({
                    "supported_max": f.supported_max.map(super::kafka_features::level_name),
                    "finalized": f.finalized.map(super::kafka_features::level_name),
                }),
            ),
            Err(e) => (serde_json::Value::Null, serde_json::json!({ "unknown": e })),
        };
        serde_json::json!({
            "bootstrap": self.settings.bootstrap,
            "cluster_id": cluster_id,
            "kafka_release": release,
            "metadata_version": metadata_version,
            "brokers": brokers,
            "topics": described,
            "created": self.created.as_slice(),
            "librdkafka": rdkafka::util::get_rdkafka_version().1,
            "librdkafka_features": builtin_features(),
        })
    }
}

/// librdkafka properties as the scenario gives them, `<name>_env` / `<name>_file`
/// references read now (a secret is not written in the scenario at all).
fn properties(map: &std::collections::BTreeMap<String, String>) -> Result<Vec<(String, String)>, BackendError> {
    let fatal = |why: String| BackendError::new(ErrorClass::Fatal, why);
    let mut out: Vec<(String, String)> = Vec::with_capacity(map.len());
    let mut given_as: Vec<&str> = Vec::with_capacity(map.len());
    for (k, v) in map {
        let (name, value) = match crate::scenario::secrets::resolve_reference(k, v) {
            Ok(Some(resolved)) => resolved,
            Ok(None) => (k.clone(), v.clone()),
            Err(why) => return Err(fatal(format!("Kafka property {why}"))),
        };
        // `x`, `x_env` and `x_file` name one property: which one wins must not be a
        // matter of spelling order.
        if let Some(i) = out.iter().position(|(n, _)| *n == name) {
            return Err(fatal(format!(
                "Kafka property {name} is given twice ({} and {k}): keep one",
                given_as[i]
            )));
        }
        out.push((name, value));
        given_as.push(k);
    }
    Ok(out)
}

/// One member of a consumer group.
pub struct KafkaConsumer {
    consumer: Arc<StreamConsumer>,
    /// A service's consumer commits only what its handlers finished; eventbench's own
    /// listeners (None) commit what they read.
    offsets: Option<Arc<Offsets>>,
}

/// The offsets a service consumer has handed to its handlers and which of them are
/// finished. Only each partition's finished prefix is stored for the auto-commit, so
/// a record taken but not answered when the service stops (or dies) is not committed:
/// the group's next member reads it again (at-least-once, as the original services
/// promise with their own commits).
pub struct Offsets {
    consumer: Arc<StreamConsumer>,
    marks: std::sync::Mutex<std::collections::HashMap<(Arc<str>, i32), Marks>>,
}

#[derive(Default)]
struct Marks {
    open: std::collections::BTreeSet<i64>,
    max_seen: Option<i64>,
    stored: Option<i64>,
}

impl Offsets {
    fn taken(&self, topic: &Arc<str>, partition: i32, offset: i64) {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        let m = marks.entry((topic.clone(), partition)).or_default();
        m.open.insert(offset);
        m.max_seen = Some(m.max_seen.map_or(offset, |s| s.max(offset)));
    }

    fn done(&self, topic: &Arc<str>, partition: i32, offset: i64) {
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        let Some(m) = marks.get_mut(&(topic.clone(), partition)) else {
            return;
        };
        m.open.remove(&offset);
        // The highest offset with every offset up to it finished.
        let finished = match m.open.first() {
            Some(first) => first - 1,
            None => m.max_seen.unwrap_or(-1),
        };
        if finished >= 0 && m.stored.is_none_or(|s| finished > s) {
            m.stored = Some(finished);
            // librdkafka commits the stored offset + 1. A partition revoked since is
            // refused; its next owner reads from the last commit.
            let _ = self.consumer.store_offset(topic, partition, finished);
        }
    }
}

/// A record's place in its partition, for [`Offsets`].
#[derive(Clone)]
pub struct Ack {
    offsets: Arc<Offsets>,
    partition: i32,
    offset: i64,
}

impl Ack {
    pub fn done(&self, topic: &Arc<str>) {
        self.offsets.done(topic, self.partition, self.offset);
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ack({}@{})", self.partition, self.offset)
    }
}

/// Why a client could not talk to the broker, in librdkafka's own words: when the
/// connection check fails, a short-lived client with the same settings records the
/// errors librdkafka reports (an SSL handshake failure, a SASL authentication failure,
/// a refused connection), which the check alone only shows as a timeout.
fn diagnose(settings: &KafkaSettings, e: impl std::fmt::Display, timeout: Duration) -> String {
    #[derive(Default)]
    struct Heard(std::sync::Mutex<Vec<String>>);
    impl rdkafka::client::ClientContext for Heard {
        fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
            if let Ok(mut h) = self.0.lock() {
                if h.len() < 8 && !h.iter().any(|r| r == reason) {
                    h.push(format!("{reason} ({error})"));
                }
            }
        }
        fn log(&self, _: rdkafka::config::RDKafkaLogLevel, _: &str, _: &str) {}
    }
    impl rdkafka::consumer::ConsumerContext for Heard {}
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &settings.bootstrap).set(
        "socket.connection.setup.timeout.ms",
        timeout.as_millis().max(1000).to_string(),
    );
    if let Ok(props) = properties(&settings.client) {
        for (k, v) in props {
            cfg.set(k, v);
        }
    }
    let heard = match cfg.create_with_context::<Heard, rdkafka::consumer::BaseConsumer<Heard>>(Heard::default()) {
        Ok(c) => {
            // Errors reach the context when the client is polled.
            let until = std::time::Instant::now() + Duration::from_secs(3).min(timeout);
            while std::time::Instant::now() < until {
                let _ = c.fetch_metadata(None, Timeout::After(Duration::from_millis(200)));
                let _ = c.poll(Duration::from_millis(100));
                if c.context().0.lock().is_ok_and(|h| !h.is_empty()) {
                    break;
                }
            }
            c.context().0.lock().map(|h| h.clone()).unwrap_or_default()
        }
        Err(e) => vec![e.to_string()],
    };
    if heard.is_empty() {
        format!("{e} (no answer within {timeout:?})")
    } else {
        let hung_up = heard.iter().all(|r| r.contains("brokers are down"));
        let heard = heard.join("; ");
        let plaintext = settings
            .client
            .get("security.protocol")
            .is_none_or(|p| p.eq_ignore_ascii_case("plaintext"));
        let cause = match handshake_cause(&heard) {
            Some(c) => format!("{c}: "),
            // A plaintext client at a TLS listener hears only that the broker hung up.
            None if plaintext && hung_up => {
                "the broker hung up (a TLS or SASL listener? set security.protocol in [target.kafka.client]): "
                    .to_string()
            }
            None => String::new(),
        };
        format!("{cause}{heard} (no usable answer within {timeout:?})")
    }
}

/// The cause of a failed handshake in the user's terms, from what librdkafka reported.
fn handshake_cause(heard: &str) -> Option<&'static str> {
    let h = heard.to_ascii_lowercase();
    if h.contains("invalid credentials") || h.contains("authentication failed") {
        Some("authentication failed (wrong sasl.username or SASL password)")
    } else if h.contains("unsupported sasl mechanism") || h.contains("sasl mechanism") && h.contains("not enabled") {
        Some("SASL mechanism not enabled on this listener (sasl.mechanisms)")
    } else if h.contains("certificate verify failed") {
        Some("TLS handshake failed: the broker's certificate is not trusted by ssl.ca.location, or does not name the host dialled")
    } else if h.contains("connecting to a ssl listener?") {
        Some("a plaintext client against a TLS listener (set security.protocol)")
    } else if h.contains("alert bad certificate")
        || h.contains("certificate required")
        || h.contains("alert unknown ca")
    {
        Some("TLS handshake failed: the broker refused the client (mutual TLS: it wants a certificate it trusts, ssl.certificate.location and ssl.key.location)")
    } else {
        None
    }
}

/// librdkafka's compiled-in features (`builtin.features`: codecs, ssl, sasl mechanisms).
pub fn builtin_features() -> String {
    ClientConfig::new()
        .create_native_config()
        .ok()
        .and_then(|c| c.get("builtin.features").ok())
        .unwrap_or_default()
}

fn unreachable(bootstrap: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::new(ErrorClass::Fatal, format!("cannot reach Kafka at {bootstrap}: {e}"))
}

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
            .set("acks", settings.acks.get_ref().as_str())
            .set("linger.ms", settings.linger_ms.to_string())
            .set("batch.size", settings.batch_size.to_string())
            .set("compression.type", settings.compression.get_ref().as_str())
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

    /// Creates the topics that do not exist; returns those it created. Request topics
    /// (`append_time`) are stamped by the broker as it appends, so a consumer reads when
    /// a record entered the log: the queue in front of it, apart from the produce. Reply
    /// topics keep the sender's time, so the reply leg starts when the service sent it.
    async fn create_topics(
        &self,
        names: &[String],
        partitions: i32,
        append_time: bool,
    ) -> Result<Vec<String>, BackendError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.settings.bootstrap);
        for (k, v) in properties(&self.settings.client)? {
            cfg.set(k, v);
        }
        let admin: AdminClient<DefaultClientContext> =
            cfg.create().map_err(|e| unreachable(&self.settings.bootstrap, e))?;
        let new: Vec<NewTopic> = names
            .iter()
            .map(|n| {
                let t = NewTopic::new(n, partitions, TopicReplication::Fixed(self.settings.replication));
                if append_time {
                    t.set("message.timestamp.type", "LogAppendTime")
                } else {
                    t
                }
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Timeout::After(Duration::from_secs(10))));
        let new: Vec<&NewTopic> = new.iter().collect();
        let results = admin
            .create_topics(new, &opts)
            .await
            .map_err(|e| BackendError::new(ErrorClass::Fatal, format!("create topics: {e}")))?;
        let mut created = Vec::new();
        for r in results {
            match r {
                Ok(t) => created.push(t),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => {
                    return Err(BackendError::new(
                        ErrorClass::Fatal,
                        format!("create topic {t}: {code}"),
                    ))
                }
            }
        }
        Ok(created)
    }

    fn consumer_config(&self, group: &str, own: bool) -> Result<ClientConfig, BackendError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.settings.bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "true")
            // A service's consumer stores what its handlers finished (`Offsets`).
            .set("enable.auto.offset.store", if own { "true" } else { "false" })
            // The original services start from the oldest offset; eventbench's own
            // listeners join a fresh group per run and read only what comes after.
            .set("auto.offset.reset", if own { "latest" } else { "earliest" })
            .set("topic.metadata.refresh.interval.ms", "1000")
            .set("fetch.wait.max.ms", "5")
            .set("session.timeout.ms", "10000");
        for (k, v) in properties(&self.settings.client)?
            .into_iter()
            .chain(properties(&self.settings.consumer)?)
        {
            cfg.set(k, v);
        }
        Ok(cfg)
    }

    /// A client of `group` that never joins it and never commits: for reading the
    /// group's offsets from outside (its lag).
    pub fn reader_config(&self, group: &str) -> Result<ClientConfig, BackendError> {
        let mut cfg = self.consumer_config(group, false)?;
        cfg.set("enable.auto.commit", "false");
        Ok(cfg)
    }

    /// Moves consumer group `group`'s committed offsets on `topic` to its end, so a
    /// service that joins next starts with this run's records, not a backlog left by
    /// an earlier one. Refused by the broker while the group has live members (then
    /// they keep their position); returns what was skipped.
    pub fn skip_backlog(&self, group: &str, topic: &str) -> Result<i64, BackendError> {
        use rdkafka::consumer::{BaseConsumer, CommitMode};
        let consumer: BaseConsumer = self
            .consumer_config(group, false)?
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| unreachable(&self.settings.bootstrap, e))?;
        let timeout = self.settings.connect_timeout.0;
        let meta = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(|e| unreachable(&self.settings.bootstrap, e))?;
        let mut ends = TopicPartitionList::new();
        let mut lookup = TopicPartitionList::new();
        for part in meta.topics().iter().flat_map(|t| t.partitions()) {
            let (_, high) = consumer
                .fetch_watermarks(topic, part.id(), timeout)
                .map_err(|e| unreachable(&self.settings.bootstrap, e))?;
            let _ = ends.add_partition_offset(topic, part.id(), Offset::Offset(high));
            lookup.add_partition(topic, part.id());
        }
        if ends.count() == 0 {
            return Ok(0);
        }
        let committed = consumer.committed_offsets(lookup, timeout).ok();
        let mut skipped = 0;
        for e in ends.elements() {
            let from = committed
                .as_ref()
                .and_then(|c| c.find_partition(topic, e.partition()))
                .and_then(|p| p.offset().to_raw())
                .filter(|o| *o >= 0);
            if let (Some(from), Some(to)) = (from, e.offset().to_raw()) {
                skipped += (to - from).max(0);
            }
        }
        match consumer.commit(&ends, CommitMode::Sync) {
            Ok(()) => Ok(skipped),
            Err(_) => Ok(0),
        }
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
        let own = group.starts_with("eventbench.");
        let group = if own {
            format!("{group}.{:012x}", self.run_tag)
        } else {
            group.to_string()
        };
        let consumer: StreamConsumer = self
            .consumer_config(&group, own)?
            .create()
            .map_err(|e| unreachable(&self.settings.bootstrap, e))?;
        let exact = match &topics {
            Topics::Exact(t) => Some(std::slice::from_ref(t)),
            Topics::List(ts) => Some(&ts[..]),
            Topics::Prefix(_) => None,
        };
        if let (true, Some(names)) = (own, exact) {
            // eventbench's own reader takes every partition of its topics from their
            // current end, fixed before the clock starts: no group assignment, so no
            // rebalance and no lazily resolved `latest` can skip a record.
            let timeout = self.settings.connect_timeout.0;
            let mut tpl = TopicPartitionList::new();
            for topic in names {
                let meta = consumer
                    .fetch_metadata(Some(topic), timeout)
                    .map_err(|e| unreachable(&self.settings.bootstrap, e))?;
                let before = tpl.count();
                for part in meta.topics().iter().flat_map(|t| t.partitions()) {
                    let (_, high) = consumer
                        .fetch_watermarks(topic, part.id(), timeout)
                        .map_err(|e| unreachable(&self.settings.bootstrap, e))?;
                    tpl.add_partition_offset(topic, part.id(), Offset::Offset(high))
                        .map_err(|e| BackendError::new(ErrorClass::Fatal, format!("assign {topic}: {e}")))?;
                }
                if tpl.count() == before {
                    return Err(BackendError::new(
                        ErrorClass::Fatal,
                        format!("topic {topic} has no partitions"),
                    ));
                }
            }
            consumer
                .assign(&tpl)
                .map_err(|e| BackendError::new(ErrorClass::Fatal, format!("assign: {e}")))?;
            return Ok(KafkaConsumer {
                consumer: Arc::new(consumer),
                offsets: None,
            });
        }
        let pattern = match &topics {
            Topics::Exact(t) => t.clone(),
            Topics::List(ts) => ts.join(","),
            Topics::Prefix(p) => format!("^{}.*", regex_escape(p)),
        };
        let names: Vec<&str> = match &topics {
            Topics::List(ts) => ts.iter().map(|t| t.as_str()).collect(),
            _ => vec![pattern.as_str()],
        };
        consumer
            .subscribe(&names)
            .map_err(|e| BackendError::new(ErrorClass::Fatal, format!("subscribe {pattern}: {e}")))?;
        let consumer = Arc::new(consumer);
        let offsets = (!own).then(|| {
            Arc::new(Offsets {
                consumer: consumer.clone(),
                marks: Default::default(),
            })
        });
        Ok(KafkaConsumer { consumer, offsets })
    }
}

impl KafkaConsumer {
    /// Waits (bounded) until the group has assigned this member partitions, so a
    /// consumer starting at `latest` misses nothing produced after this returns.
    pub async fn wait_assigned(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Polling drives the group join; nothing is consumed before assignment.
            let _ = tokio::time::timeout(Duration::from_millis(100), self.consumer.recv()).await;
            if self.consumer.assignment().map(|a| a.count() > 0).unwrap_or(false) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
        }
    }
}

impl LogConsumer for KafkaConsumer {
    async fn recv(&mut self) -> Option<Record> {
        loop {
            match self.consumer.recv().await {
                Ok(m) => {
                    let headers = m
                        .headers()
                        .and_then(|hs| Headers::from_pairs(hs.iter().map(|h| (h.key, h.value))));
                    let topic: Arc<str> = m.topic().into();
                    let ack = self.offsets.as_ref().map(|o| {
                        o.taken(&topic, m.partition(), m.offset());
                        Ack {
                            offsets: o.clone(),
                            partition: m.partition(),
                            offset: m.offset(),
                        }
                    });
                    return Some(Record {
                        ack,
                        topic,
                        payload: Bytes::copy_from_slice(m.payload().unwrap_or_default()),
                        headers,
                        log_time: match m.timestamp() {
                            rdkafka::Timestamp::CreateTime(ms) => Some(LogTime::Wall { ms, append: false }),
                            rdkafka::Timestamp::LogAppendTime(ms) => Some(LogTime::Wall { ms, append: true }),
                            rdkafka::Timestamp::NotAvailable => None,
                        },
                    });
                }
                // Transient consumer errors (rebalance, broker restart) are retried.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if ".^$*+?()[]{}|\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
