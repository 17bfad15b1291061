//! Connecting a plan's target: the log and the store it names, with the topics a run
//! will use created up front (set-up is not load).

use std::sync::Arc;

use super::{AnyLog, AnyStore, BackendError, KafkaLog, MemoryLog, MemoryStore, ScyllaStore};
use crate::plan::Plan;
use crate::scenario::{LogKind, StoreKind};

/// The system under test as a run sees it: one log and one store.
#[derive(Clone)]
pub struct Target {
    pub log: AnyLog,
    pub store: AnyStore,
}

/// `<prefix>.<aggregate_id>` for each aggregate: the services' reply topics.
pub fn reply_topics(prefix: &str, aggregates: &[i8]) -> Vec<String> {
    aggregates.iter().map(|a| format!("{prefix}.{a}")).collect()
}

/// Connects the plan's log and store; `run_tag` names this run's Kafka clients.
pub async fn connect(plan: &Plan, run_tag: u64) -> Result<Target, BackendError> {
    let log = match plan.target.log {
        LogKind::Memory => AnyLog::Memory(MemoryLog::new(plan.target.memory_log.capacity)),
        LogKind::Kafka => {
            let t = &plan.target.topics;
            let mut topics = vec![t.events.clone()];
            let mut replies = Vec::new();
            if plan.services_answer() {
                replies = reply_topics(&t.persistence_response, &plan.aggregate_ids());
            }
            if plan.queries_via_log() {
                topics.push(t.query.clone());
                replies.extend(reply_topics(&t.query_response, &plan.aggregate_ids()));
            }
            AnyLog::Kafka(KafkaLog::connect(&plan.target.kafka, &topics, &replies, run_tag).await?)
        }
    };
    let store = match plan.target.store {
        StoreKind::Memory => AnyStore::Memory(Arc::new(MemoryStore::new(&plan.target.memory_store))),
        StoreKind::Scylla => AnyStore::Scylla(Arc::new(ScyllaStore::connect(&plan.target.scylla).await?)),
    };
    Ok(Target { log, store })
}

impl Target {
    /// What the run met, for its report's provenance: Kafka's cluster id, brokers and
    /// the run's topics' partitions and replication; the CQL node's release, cluster
    /// name, keyspace replication and compaction; or that a backend was in-process.
    pub async fn describe(&self, plan: &Plan) -> serde_json::Value {
        let log = match &self.log {
            AnyLog::Kafka(k) => {
                let t = &plan.target.topics;
                k.describe(&[t.events.clone(), t.query.clone()])
            }
            AnyLog::Memory(_) => serde_json::json!({ "kind": "memory" }),
        };
        let store = match &self.store {
            AnyStore::Scylla(s) => s.describe(&plan.target.scylla).await,
            AnyStore::Memory(_) => serde_json::json!({ "kind": "memory" }),
        };
        serde_json::json!({ "log": log, "store": store })
    }
}
