//! What the run met: the cluster, its brokers' release, the topics' layout.

use rdkafka::producer::Producer;

use super::client::{builtin_features, properties};
use super::KafkaLog;

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
                let tls = crate::backend::kafka_features::ProbeTls::from_properties(&props);
                crate::backend::kafka_features::probe(&first, timeout, tls.as_ref())
            });
        let (release, metadata_version) = match probed {
            Ok(f) => (
                serde_json::json!(f.release()),
                serde_json::json!({
                    "supported_max": f.supported_max.map(crate::backend::kafka_features::level_name),
                    "finalized": f.finalized.map(crate::backend::kafka_features::level_name),
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
