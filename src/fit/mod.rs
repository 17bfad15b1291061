//! `eventbench fit`: a scenario from a real topic. A window of the topic's records is
//! read by a consumer that joins no group and commits nothing (partitions assigned by
//! hand, from their start or a time, up to the end they had when the read began), each
//! record decoded as a seed Event (what is not one is counted by why), and the window
//! fitted: the arrival rate over time as a `curve` phase and its dispersion, the
//! aggregates as Zipf, the payload sizes, compressibility, actions and users. Nothing is
//! ever written to the source cluster. `capture` reads a window the same way and keeps
//! its events for a replay.

pub mod bursts;
pub mod capture;
pub mod model;
pub mod queries;
pub mod write;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

pub use model::Observed;
pub use write::scenario;

/// Where the window is read from.
#[derive(Debug, Clone)]
pub struct Source {
    pub bootstrap: String,
    pub topic: String,
    /// librdkafka settings (security): used to connect, never written anywhere.
    pub client: BTreeMap<String, String>,
    /// Records from this time on (ms since the epoch); `None`: from each partition's start.
    pub since_ms: Option<i64>,
    /// At most this many records.
    pub max_records: usize,
    pub timeout: Duration,
}

/// What the window held.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub events: Vec<Observed>,
    /// Records that were not seed Events, by why.
    pub skipped: BTreeMap<String, u64>,
    /// A query topic's window beside the events, when one was asked for.
    pub queries: Option<queries::Queries>,
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The cluster could not be read (exit 1).
    #[error("{0}")]
    Unreachable(String),
    /// The topic or window has nothing to fit (exit 2).
    #[error("{0}")]
    Nothing(String),
}

/// The error for a window with no seed Events, saying how many records were skipped
/// and why.
pub fn no_events(topic: &str, skipped: &BTreeMap<String, u64>) -> FitError {
    let why: Vec<String> = skipped.iter().map(|(w, n)| format!("{n} {w}")).collect();
    FitError::Nothing(format!(
        "no seed Events in the window of {topic} ({} records skipped{}{})",
        skipped.values().sum::<u64>(),
        if why.is_empty() { "" } else { ": " },
        why.join(", ")
    ))
}

/// Reads the window (blocking: a tool's one job).
pub fn read(src: &Source) -> Result<Sample, FitError> {
    let mut sample = Sample::default();
    let mut events = Vec::new();
    scan(src, &mut sample.skipped, |bytes, ts_ms| {
        events.push(observe(bytes, ts_ms)?);
        Ok(())
    })?;
    events.sort_by_key(|o| o.ts_ms);
    sample.events = events;
    Ok(sample)
}

/// Reads the window's records and hands each one's payload and timestamp to `each`;
/// a record without them, or that `each` refuses, is counted in `skipped` by why.
pub fn scan(
    src: &Source,
    skipped: &mut BTreeMap<String, u64>,
    each: impl FnMut(&[u8], i64) -> Result<(), String>,
) -> Result<(), FitError> {
    let unreachable =
        |e: &dyn std::fmt::Display| FitError::Unreachable(format!("cannot read Kafka at {}: {e}", src.bootstrap));
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &src.bootstrap)
        // Required to make a consumer; never joined (no subscribe) and never committed.
        .set("group.id", "eventbench.fit")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true");
    for (k, v) in &src.client {
        cfg.set(k, v);
    }
    let consumer: BaseConsumer = cfg.create().map_err(|e| unreachable(&e))?;
    let meta = consumer
        .fetch_metadata(Some(&src.topic), src.timeout)
        .map_err(|e| unreachable(&e))?;
    let parts: Vec<i32> = meta
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if parts.is_empty() {
        return Err(FitError::Nothing(format!(
            "topic {} at {} does not exist or has no partitions",
            src.topic, src.bootstrap
        )));
    }
    let (assignment, ends) = window(&consumer, src, &parts).map_err(|e| unreachable(&e))?;
    if assignment.count() == 0 {
        return Err(FitError::Nothing(format!(
            "topic {} holds no records{}",
            src.topic,
            if src.since_ms.is_some() { " in the window" } else { "" }
        )));
    }
    consumer.assign(&assignment).map_err(|e| unreachable(&e))?;
    take(&consumer, src, ends, skipped, each);
    Ok(())
}

/// Each partition's first offset in the window and its end when the read began
/// (partitions with nothing in the window are left out).
fn window(
    consumer: &BaseConsumer,
    src: &Source,
    parts: &[i32],
) -> Result<(TopicPartitionList, BTreeMap<i32, i64>), rdkafka::error::KafkaError> {
    let mut starts = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for &p in parts {
        let (low, high) = consumer.fetch_watermarks(&src.topic, p, src.timeout)?;
        ends.insert(p, high);
        let from = match src.since_ms {
            None => Offset::Offset(low),
            Some(ms) => Offset::Offset(ms),
        };
        starts.add_partition_offset(&src.topic, p, from)?;
    }
    let starts = match src.since_ms {
        None => starts,
        Some(_) => consumer.offsets_for_times(starts, src.timeout)?,
    };
    let mut out = TopicPartitionList::new();
    for e in starts.elements() {
        let high = ends.get(&e.partition()).copied().unwrap_or(0);
        if let Offset::Offset(o) = e.offset() {
            if o < high {
                out.add_partition_offset(&src.topic, e.partition(), Offset::Offset(o))?;
            }
        }
    }
    ends.retain(|p, _| out.elements().iter().any(|e| e.partition() == *p));
    Ok((out, ends))
}

/// Reads until every partition reached its end, `max_records`, or nothing came for the
/// timeout.
fn take(
    consumer: &BaseConsumer,
    src: &Source,
    mut ends: BTreeMap<i32, i64>,
    skipped: &mut BTreeMap<String, u64>,
    mut each: impl FnMut(&[u8], i64) -> Result<(), String>,
) {
    let mut seen = 0usize;
    while !ends.is_empty() && seen < src.max_records {
        let Some(msg) = consumer.poll(src.timeout) else { break };
        let Ok(m) = msg else {
            // End of a partition (enable.partition.eof), or a transient error.
            continue;
        };
        if ends.get(&m.partition()).is_some_and(|end| m.offset() + 1 >= *end) {
            ends.remove(&m.partition());
        }
        seen += 1;
        let why = match (m.payload(), m.timestamp().to_millis()) {
            (None, _) => "empty record".to_string(),
            (_, None) => "no timestamp".to_string(),
            (Some(bytes), Some(ts_ms)) => match each(bytes, ts_ms) {
                Ok(()) => continue,
                Err(why) => why,
            },
        };
        *skipped.entry(why).or_insert(0) += 1;
    }
}

/// One record as a seed Event, or why it is not one.
pub fn seed_event(bytes: &[u8]) -> Result<crate::model::Event, String> {
    use crate::model::{Event, Strictness};
    let e = Event::decode(bytes, Strictness::Strict).map_err(|e| {
        if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() {
            format!(
                "JSON, but not a seed Event ({})",
                e.to_string().split(" at line").next().unwrap_or("")
            )
        } else {
            "not JSON".to_string()
        }
    })?;
    // Go decodes `{}` into a zero Event; a seed Event has its ids.
    if e.uuid.is_nil() || e.aggregate_id == 0 {
        return Err("JSON, but not a seed Event (no uuid or aggregate_id)".into());
    }
    Ok(e)
}

/// One record as the fit reads it, or why it is not a seed Event.
pub fn observe(bytes: &[u8], ts_ms: i64) -> Result<Observed, String> {
    let e = seed_event(bytes)?;
    let data = e.data.unwrap_or_default();
    Ok(Observed {
        ts_ms,
        aggregate_id: e.aggregate_id as i64,
        size: data.len() as u64,
        zeros: data.iter().filter(|b| **b == 0).count() as u64,
        action: e.action,
        user: e.user_uuid.as_u128(),
    })
}
