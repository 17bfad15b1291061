//! What eventbench asks of the cluster's admin side: the topics it creates, a group's
//! backlog skipped.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::backend::BackendError;
use crate::stats::ErrorClass;

use super::client::{properties, unreachable};
use super::KafkaLog;

impl KafkaLog {
    /// Creates the topics that do not exist; returns those it created. Request topics
    /// (`append_time`) are stamped by the broker as it appends, so a consumer reads when
    /// a record entered the log: the queue in front of it, apart from the produce. Reply
    /// topics keep the sender's time, so the reply leg starts when the service sent it.
    pub(super) async fn create_topics(
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
}
