//! A consumer group's lag, read from outside: its committed offsets against each
//! partition's high watermark, by a client that joins nothing and commits nothing. It
//! is how the queue in front of a service eventbench does not embed is seen (the
//! original Go services tell nobody), and per partition, so one partition behind shows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::TopicPartitionList;

use super::{BackendError, KafkaLog};

/// One reading: per partition, high watermark minus the group's committed offset (a
/// partition the group never committed counts from its low watermark).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupLag {
    pub partitions: Vec<u64>,
}

impl GroupLag {
    pub fn total(&self) -> u64 {
        self.partitions.iter().sum()
    }
}

/// Reads one group's lag on one topic.
pub struct LagReader {
    consumer: BaseConsumer,
    topic: String,
    partitions: Vec<i32>,
    timeout: Duration,
}

impl LagReader {
    /// A reader of `group` on `topic` (which must exist): no subscription, no commits,
    /// so the group's members never see it.
    pub fn new(log: &KafkaLog, group: &str, topic: &str) -> Result<LagReader, BackendError> {
        let consumer: BaseConsumer = log
            .reader_config(group)?
            .create()
            .map_err(|e| BackendError::new(crate::stats::ErrorClass::Fatal, format!("lag reader: {e}")))?;
        let timeout = Duration::from_secs(2);
        let meta = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(|e| BackendError::new(crate::stats::ErrorClass::Fatal, format!("lag reader: {e}")))?;
        let partitions = meta
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .map(|p| p.id())
            .collect();
        Ok(LagReader {
            consumer,
            topic: topic.to_string(),
            partitions,
            timeout,
        })
    }

    /// The lag now; `None` when the broker did not answer in time.
    pub fn read(&self) -> Option<GroupLag> {
        let mut lookup = TopicPartitionList::new();
        for p in &self.partitions {
            lookup.add_partition(&self.topic, *p);
        }
        let committed = self.consumer.committed_offsets(lookup, self.timeout).ok()?;
        let mut out = GroupLag::default();
        for p in &self.partitions {
            let (low, high) = self.consumer.fetch_watermarks(&self.topic, *p, self.timeout).ok()?;
            let at = committed
                .find_partition(&self.topic, *p)
                .and_then(|e| e.offset().to_raw())
                .filter(|o| *o >= 0)
                .unwrap_or(low);
            out.partitions.push((high - at).max(0) as u64);
        }
        Some(out)
    }
}

/// A thread that reads the lag every `period` and keeps the latest reading, so the
/// collector's tick takes it without waiting on the broker. The thread makes its own
/// reader (a metadata round trip), so nothing on the run's runtime waits for it, and is
/// not joined: stopped, it ends after its current reading.
pub struct LagSampler {
    latest: Arc<Mutex<Option<GroupLag>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl LagSampler {
    pub fn start(log: KafkaLog, group: String, topic: String, period: Duration) -> LagSampler {
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (l, s) = (latest.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name("eventbench-lag".into())
            .spawn(move || {
                let reader = match LagReader::new(&log, &group, &topic) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("note: the persistence group's lag is not read: {e}");
                        return;
                    }
                };
                while !s.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Some(lag) = reader.read() {
                        *l.lock().unwrap_or_else(|p| p.into_inner()) = Some(lag);
                    }
                    std::thread::sleep(period);
                }
            });
        if let Err(e) = spawned {
            eprintln!("note: the persistence group's lag is not read: {e}");
        }
        LagSampler { latest, stop }
    }

    /// The latest reading, if any came.
    pub fn latest(&self) -> Option<GroupLag> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for LagSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
