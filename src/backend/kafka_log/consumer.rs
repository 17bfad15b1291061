//! The consumers: a service's group member that commits only what its handlers finished,
//! and eventbench's own readers pinned to the partitions' ends.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers as _, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::backend::{BackendError, Headers, LogConsumer, LogTime, Record, Topics};
use crate::stats::ErrorClass;

use super::client::{properties, unreachable};
use super::KafkaLog;

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

impl KafkaLog {
    pub(super) fn consumer_config(&self, group: &str, own: bool) -> Result<ClientConfig, BackendError> {
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

    /// A consumer of `topics`: eventbench's own (group `eventbench.*`) assigned every
    /// partition from its end, a service's a member of its group.
    pub(super) fn consumer_of(&self, topics: Topics, group: &str) -> Result<KafkaConsumer, BackendError> {
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
