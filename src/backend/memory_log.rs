//! The in-process log. Each consumer group has one bounded queue shared by its
//! members (async-channel: waking one of many idle members is O(1)); a topic fans a record out to every group subscribed to it. Producing reads
//! the subscriber list through `arc-swap` (no lock) and waits when a group's queue is
//! full, as a producer waits on a slow broker.
//!
//! It keeps nothing that no group reads: records to a topic with no subscribers are
//! acknowledged and dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::{BackendError, EventLog, Headers, LogConsumer, Record, Topics};
use crate::stats::ErrorClass;

#[derive(Clone)]
struct Group {
    tx: async_channel::Sender<Record>,
}

/// A topic with its subscribed groups.
pub struct MemTopic {
    name: Arc<str>,
    groups: ArcSwap<Vec<Group>>,
}

struct Registry {
    topics: HashMap<String, Arc<MemTopic>>,
    groups: HashMap<String, (async_channel::Sender<Record>, async_channel::Receiver<Record>)>,
    /// (prefix, group) subscriptions, applied to topics created later too.
    prefixes: Vec<(String, String)>,
    /// (topic, group) pairs already wired, so a group never gets a record twice.
    wired: Vec<(String, String)>,
}

/// The in-memory log.
#[derive(Clone)]
pub struct MemoryLog {
    capacity: usize,
    reg: Arc<Mutex<Registry>>,
}

/// A member of a consumer group.
pub struct MemoryConsumer {
    rx: async_channel::Receiver<Record>,
}

impl MemoryLog {
    pub fn new(capacity: usize) -> MemoryLog {
        MemoryLog {
            capacity: capacity.max(1),
            reg: Arc::new(Mutex::new(Registry {
                topics: HashMap::new(),
                groups: HashMap::new(),
                prefixes: Vec::new(),
                wired: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes every queue: consumers see `None` once they drained what was queued.
    pub fn close(&self) {
        let mut reg = self.lock();
        for t in reg.topics.values() {
            t.groups.store(Arc::new(Vec::new()));
        }
        reg.groups.clear();
    }
}

fn wire(reg: &mut Registry, topic: &Arc<MemTopic>, group: &str) {
    let key = (topic.name.to_string(), group.to_string());
    if reg.wired.contains(&key) {
        return;
    }
    let Some((tx, _)) = reg.groups.get(group) else { return };
    let mut groups = topic.groups.load().as_ref().clone();
    groups.push(Group { tx: tx.clone() });
    topic.groups.store(Arc::new(groups));
    reg.wired.push(key);
}

/// Puts `record` on a group's queue, waiting only when it is full (a queue with room
/// takes it with no future made and polled).
async fn enqueue(g: &Group, record: Record, topic: &str) -> Result<(), BackendError> {
    let closed = || BackendError::new(ErrorClass::Fatal, format!("memory log closed (topic {topic})"));
    match g.tx.try_send(record) {
        Ok(()) => Ok(()),
        Err(async_channel::TrySendError::Full(record)) => g.tx.send(record).await.map_err(|_| closed()),
        Err(async_channel::TrySendError::Closed(_)) => Err(closed()),
    }
}

impl EventLog for MemoryLog {
    type Topic = Arc<MemTopic>;
    type Consumer = MemoryConsumer;

    fn topic(&self, name: &str) -> Arc<MemTopic> {
        let mut reg = self.lock();
        if let Some(t) = reg.topics.get(name) {
            return t.clone();
        }
        let t = Arc::new(MemTopic {
            name: name.into(),
            groups: ArcSwap::from_pointee(Vec::new()),
        });
        reg.topics.insert(name.to_string(), t.clone());
        let matching: Vec<String> = reg
            .prefixes
            .iter()
            .filter(|(p, _)| name.starts_with(p.as_str()))
            .map(|(_, g)| g.clone())
            .collect();
        for g in matching {
            wire(&mut reg, &t, &g);
        }
        t
    }

    async fn produce(
        &self,
        topic: &Arc<MemTopic>,
        payload: &[u8],
        headers: Option<Headers>,
    ) -> Result<(), BackendError> {
        let groups = topic.groups.load();
        // The last group takes the record itself: a clone would turn the payload's
        // buffer into a shared one, an allocation more per record.
        let Some((last, rest)) = groups.split_last() else {
            return Ok(());
        };
        let record = Record {
            ack: None,
            topic: topic.name.clone(),
            payload: Bytes::copy_from_slice(payload),
            headers,
            log_time: Some(super::LogTime::Mono(crate::clock::mono_ns())),
        };
        for g in rest {
            enqueue(g, record.clone(), &topic.name).await?;
        }
        enqueue(last, record, &topic.name).await
    }

    fn subscribe(&self, topics: Topics, group: &str) -> Result<MemoryConsumer, BackendError> {
        let mut reg = self.lock();
        let cap = self.capacity;
        let rx = reg
            .groups
            .entry(group.to_string())
            .or_insert_with(|| async_channel::bounded(cap))
            .1
            .clone();
        match topics {
            Topics::Exact(name) => {
                drop(reg);
                let t = self.topic(&name);
                wire(&mut self.lock(), &t, group);
            }
            Topics::List(names) => {
                drop(reg);
                for name in names {
                    let t = self.topic(&name);
                    wire(&mut self.lock(), &t, group);
                }
            }
            Topics::Prefix(prefix) => {
                let existing: Vec<Arc<MemTopic>> = reg
                    .topics
                    .iter()
                    .filter(|(n, _)| n.starts_with(prefix.as_str()))
                    .map(|(_, t)| t.clone())
                    .collect();
                for t in existing {
                    wire(&mut reg, &t, group);
                }
                reg.prefixes.push((prefix, group.to_string()));
            }
        }
        Ok(MemoryConsumer { rx })
    }
}

impl MemoryConsumer {
    /// The group's queue itself: many handlers can share it with no pump between.
    pub fn into_queue(self) -> async_channel::Receiver<Record> {
        self.rx
    }

    /// A record already queued, if any.
    pub fn try_recv(&mut self) -> Option<Record> {
        self.rx.try_recv().ok()
    }
}

impl LogConsumer for MemoryConsumer {
    async fn recv(&mut self) -> Option<Record> {
        self.rx.recv().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn groups_each_get_every_record_and_prefixes_follow_new_topics() {
        let log = MemoryLog::new(16);
        let mut a = log.subscribe(Topics::Exact("t".into()), "a").expect("sub");
        let mut b = log.subscribe(Topics::Exact("t".into()), "b").expect("sub");
        let mut p = log.subscribe(Topics::Prefix("resp.".into()), "p").expect("sub");
        let t = log.topic("t");
        log.produce(&t, b"x", None).await.expect("produce");
        assert_eq!(&a.recv().await.expect("a").payload[..], b"x");
        assert_eq!(&b.recv().await.expect("b").payload[..], b"x");
        let r7 = log.topic("resp.7");
        let h = Headers {
            intended_ns: 5,
            run_tag: 1,
        };
        log.produce(&r7, b"y", Some(h)).await.expect("produce");
        let got = p.recv().await.expect("p");
        assert_eq!((&*got.topic, got.headers), ("resp.7", Some(h)));
    }
}
