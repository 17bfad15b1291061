//! Safe against a real deployment: a run with `services = "external"` drives the real
//! services' topics but never moves the offsets of their consumer group (it did not
//! create that group), and what it does create it names, in its output and in
//! summary.json. Against the real Kafka that scripts/services starts.

mod common;

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const BOOTSTRAP: &str = "127.0.0.1:9092";

fn group_consumer(group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", BOOTSTRAP)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

fn committed(group: &str, topic: &str) -> Option<i64> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let c = group_consumer(group);
    let got = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    match got.find_partition(topic, 0)?.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

#[test]
fn an_external_run_leaves_the_service_groups_offsets_alone_and_names_what_it_created() {
    common::require_kafka();
    let t = common::unique_topic("eventbench.test.deploy");
    let (events, group) = (format!("{t}.events"), format!("{t}.persistence"));

    // The deployment: its events topic holds 20 records, and its persistence service's
    // group has committed offset 7 (13 records of backlog it has not read yet).
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", BOOTSTRAP)
        .create()
        .expect("admin");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let made = rt
        .block_on(admin.create_topics(
            [&NewTopic::new(&events, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create topic");
    assert!(made.iter().all(|r| r.is_ok()), "{made:?}");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", BOOTSTRAP)
        .create()
        .expect("producer");
    for i in 0..20 {
        producer
            .send(BaseRecord::<(), str>::to(&events).payload(&format!("backlog {i}")))
            .expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let mut at = TopicPartitionList::new();
    at.add_partition_offset(&events, 0, Offset::Offset(7)).expect("offset");
    let owner = group_consumer(&group);
    owner.assign(&at).expect("assign");
    owner.commit(&at, CommitMode::Sync).expect("commit");
    drop(owner);
    assert_eq!(committed(&group, &events), Some(7));

    // eventbench drives that deployment from outside (nothing answers here: the run is
    // deliberately unhealthy, and has no audit to judge).
    let dir = tempfile::tempdir().expect("tmp");
    let scenario = dir.path().join("external.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "deploy-safety"
duration = "3s"
warmup = "1s"
drain = "1s"
allow_unhealthy = true

[target]
log = "kafka"
store = "memory"
services = "external"

[target.kafka]
bootstrap = "{BOOTSTRAP}"

[target.topics]
events = "{events}"
persistence_group = "{group}"
persistence_response = "{t}.persistence.response"
query = "{t}.esquery"
query_group = "{t}.esquery.group"
query_response = "{t}.esresponse"

[data]
aggregates = {{ dist = "uniform", min = 1, max = 4 }}

[workload.producers]
kind = "produce"
rate = 50

[audit]
enabled = false
"#
        ),
    )
    .expect("scenario");
    let out = dir.path().join("run");
    let (code, stdout, stderr) = common::eventbench(&[
        "run",
        scenario.to_str().expect("utf8"),
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let show = format!("exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(code, Some(0), "{show}");
    assert_eq!(
        committed(&group, &events),
        Some(7),
        "the real service's group offsets moved\n{show}"
    );

    // It created the reply topics (they did not exist), not the events topic, and said so.
    let s: serde_json::Value = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary");
    let created: Vec<String> = s["provenance"]["target"]["log"]["created"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    assert!(!created.is_empty(), "{}", s["provenance"]);
    assert!(
        created
            .iter()
            .all(|c| c.starts_with(&format!("{t}.persistence.response"))),
        "{created:?}"
    );
    assert!(!created.contains(&events), "{created:?}");
    assert!(
        stderr.contains("eventbench created Kafka topics that did not exist") && stderr.contains(&created[0]),
        "{show}"
    );
}

#[test]
fn the_cql_schema_it_creates_is_named_and_what_existed_is_not() {
    common::require_cassandra();
    let ks = format!(
        "eb_deploy_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let dir = tempfile::tempdir().expect("tmp");
    let scenario = common::root().join("scenarios/store-write.toml");
    let run = |name: &str| {
        let out = dir.path().join(name);
        let keyspace = format!("target.scylla.keyspace={ks}");
        let (code, stdout, stderr) = common::eventbench(&[
            "run",
            scenario.to_str().expect("utf8"),
            "--set",
            "duration=2s",
            "--set",
            "warmup=0s",
            "--set",
            "workload.writers.rate=100",
            "--set",
            &keyspace,
            // A fresh keyspace's first writes can hold a thread up (the health verdict
            // is not what this test is about).
            "--allow-unhealthy",
            "--quiet",
            "--out",
            out.to_str().expect("utf8"),
        ]);
        let show = format!("exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
        assert_eq!(code, Some(0), "{show}");
        let s: serde_json::Value = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary");
        (s["provenance"]["target"]["store"]["created"].clone(), stderr)
    };
    let (first, stderr) = run("first");
    let names: Vec<&str> = first
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&ks.as_str()) && names.contains(&format!("{ks}.events").as_str()),
        "{first}"
    );
    assert!(
        stderr.contains("eventbench created CQL schema objects that did not exist"),
        "{stderr}"
    );
    let (second, stderr) = run("second");
    assert_eq!(second, serde_json::json!([]), "the schema existed the second time");
    assert!(!stderr.contains("eventbench created"), "{stderr}");
}
