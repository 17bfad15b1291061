//! EventStoreQuery readers as a correct client of the (reference) query service: each
//! query is sent with the projection as it stands when it is sent, the wait for an
//! aggregate's turn is the harness's own stage (`query.turn`), never `query.service`,
//! queries of one aggregate may overlap when correlation ids attribute their batches,
//! a result's end survives a service slower than `settle`, and a target that answers
//! nothing is not called behind. The topic checks read the real Kafka that
//! scripts/services starts.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use eventbench::model::{Event, EventStoreQuery211, KafkaResponse, Strictness};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};

/// The in-process pipeline: producers and readers on four aggregates, a query service
/// that takes 20 ms per query (its own handling time, known), memory log and store. A
/// query that finds nothing gets silence (as from the original), which holds its
/// aggregate's turn for the reply timeout: 200 ms here.
const MEMORY: &str = r#"
name = "readers"
seed = 5
duration = "6s"
warmup = "1s"
drain = "3s"

[target]
services = "embedded"

[target.query]
workers = 32
batch_size = 6
reply_timeout = "200ms"
extra_latency = "20ms"

[data]
aggregates = { dist = "uniform", min = 1, max = 4 }
payload = { dist = "fixed", size = 64 }

[workload.producers]
kind = "produce"
rate = 200

[workload.readers]
kind = "query"
via = "log"
rate = 40
max_in_flight = 64
"#;

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[test]
fn a_readers_wait_for_its_turn_is_its_own_stage_not_the_targets_time() {
    // 10 queries/s per aggregate at 20 ms each: a query finds its aggregate's previous
    // one still outstanding about 20% of the time, and waits for it.
    let (s, _dir) = common::run_text(MEMORY, &[]);
    let r = &s.workloads["readers"];
    assert_eq!(r.health.to_string(), "healthy", "{}", r.health_reason);
    let service = &r.stages["query.service"];
    let turn = &r.stages["query.turn"];
    assert!(
        turn.p99_ns > 5_000_000,
        "queries of one aggregate queued: query.turn {turn:?}"
    );
    // The target's time is the service's 20 ms (and the in-memory hops): within 10%.
    for (what, v) in [("p50", service.p50_ns), ("p90", service.p90_ns)] {
        assert!(
            (20.0..=22.0).contains(&ms(v)),
            "query.service {what} {:.2} ms: {service:?}",
            ms(v)
        );
    }
    // query = the wait for the schedule, the turn and the target's time.
    assert!(r.stages["query"].p99_ns >= turn.p99_ns, "{:?}", r.stages);
    let audit = s.audit.expect("audit");
    assert_eq!(audit.requeried, 0, "fresh projections return no event twice: {audit:?}");
    assert_eq!(r.late_rows, 0, "{r:?}");
}

#[test]
fn overlapping_queries_sustain_the_rate_serialised_ones_cannot_and_show_the_race() {
    // 75 queries/s per aggregate at 20 ms each: one at a time, an aggregate answers
    // at most 50/s, so the serialised readers fall behind on their own turns.
    let sets = ["workload.readers.rate=300"];
    let (serial, _d1) = common::run_text(MEMORY, &sets);
    let r = &serial.workloads["readers"];
    assert_eq!(r.health.to_string(), "generator-limited", "{}", r.health_reason);
    assert!(r.health_reason.contains("turns"), "{}", r.health_reason);
    // Answered (with rows, or with the silence that means none) well short of offered.
    assert!(((r.ok + r.empty) as f64) < 0.8 * r.ops as f64, "{r:?}");
    // The target's time is still its own 20 ms, however long the turns.
    assert!(
        ms(r.stages["query.service"].p50_ns) < 22.0,
        "{:?}",
        r.stages["query.service"]
    );

    let (overlap, _d2) = common::run_text(MEMORY, &["workload.readers.rate=300", "target.query.overlap=true"]);
    let r = &overlap.workloads["readers"];
    assert_eq!(r.health.to_string(), "healthy", "{}", r.health_reason);
    // Every query answered: with rows, or (many more now: overlapping queries of one
    // aggregate find each other's epochs closed) with silence for "no events".
    assert_eq!((r.ok + r.empty, r.dropped, r.abandoned), (r.ops, 0, 0), "{r:?}");
    assert!(
        !r.stages.contains_key("query.turn"),
        "no turns to wait for: {:?}",
        r.stages
    );
    // Overlapping queries of one aggregate read the same range: the race is shown.
    let audit = overlap.audit.expect("audit");
    assert!(audit.requeried > 0, "{audit:?}");
}

#[test]
fn overlap_needs_the_correlated_query_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _out, err, _) = common::run_scenario(
        dir.path(),
        "overlap",
        MEMORY,
        &["target.query.overlap=true", "target.query.form=v2.0.1"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("overlap") && err.contains("v2.1.1"), "{err}");
}

#[test]
fn a_target_that_answers_no_query_is_not_called_behind_and_counts_agree() {
    // Every query is processed (epochs closed) and none answered: 32 aggregates, each
    // held by a silent query for the whole reply timeout (1 s), cap one-at-a-time
    // readers at 32/s, below the 40/s offered.
    let text = MEMORY
        .replace("max = 4", "max = 32")
        .replace("reply_timeout = \"200ms\"", "reply_timeout = \"1s\"")
        .replace("extra_latency = \"20ms\"", "silent = true");
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err, run) = common::run_scenario(dir.path(), "silent", &text, &[]);
    let s: eventbench::report::Summary =
        serde_json::from_str(&common::read(&run.join("summary.json"))).expect("summary.json");
    let r = &s.workloads["readers"];
    assert_ne!(r.health.to_string(), "target-saturated", "{}", r.health_reason);
    assert_eq!(r.ok, 0, "{r:?}");
    assert!(r.empty > 0 && r.censored >= r.empty, "{r:?}");
    // One count of censored wherever it is told.
    let told = format!("{} censored", r.censored);
    assert!(r.health_reason.contains(&told), "{told}: {}", r.health_reason);
    assert!(out.contains(&told), "{told} in the run's output:\n{out}\n{err}");
    assert!(common::read(&run.join("summary.md")).contains(&told));
    assert!(!r.disruptions.is_empty(), "nothing ok all run is a disruption");
    assert!(r.disruptions.iter().all(|d| !d.recovered), "{:?}", r.disruptions);
    assert_ne!(code, Some(0), "an unhealthy run does not pass: {out}");
}

/// Reads every record of `topics` from the beginning, until the topics stay quiet for 3 s.
fn read_all(topics: &[String]) -> Vec<(String, Vec<u8>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9092")
        .set("group.id", common::unique_topic("eventbench-test-readers"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    c.subscribe(&names).expect("subscribe");
    let mut out = Vec::new();
    let mut quiet = std::time::Instant::now();
    while quiet.elapsed() < Duration::from_secs(3) {
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("record");
            out.push((m.topic().to_string(), m.payload().unwrap_or_default().to_vec()));
            quiet = std::time::Instant::now();
        }
    }
    out
}

/// The Kafka pipeline (memory store): four aggregates, queries on one partition so
/// the query topic holds them in the order they were sent.
fn kafka_readers(t: &str, extra: &str) -> String {
    format!(
        r#"
name = "readers-kafka"
seed = 9
duration = "8s"
warmup = "0s"
drain = "5s"

[target]
log = "kafka"
services = "embedded"

[target.kafka]
bootstrap = "127.0.0.1:9092"
partitions = 1

[target.topics]
events = "{t}.events"
persistence_group = "{t}.persistence"
persistence_response = "{t}.persistence.response"
query = "{t}.esquery"
query_group = "{t}.esquery.group"
query_response = "{t}.esresponse"

[target.query]
workers = 16
reply_timeout = "250ms"
{extra}

[data]
aggregates = {{ dist = "uniform", min = 1, max = 4 }}
payload = {{ dist = "fixed", size = 64 }}

[workload.producers]
kind = "produce"
rate = 40

[workload.readers]
kind = "query"
via = "log"
rate = 8
"#
    )
}

/// The query topic's queries in order, and each reply batch's events by query id.
struct Recount {
    queries: Vec<EventStoreQuery211>,
    replies: BTreeMap<uuid::Uuid, Vec<Event>>,
    rows: u64,
    bytes: u64,
}

fn recount(t: &str) -> Recount {
    let mut topics = vec![format!("{t}.esquery")];
    topics.extend((1..=4).map(|a| format!("{t}.esresponse.{a}")));
    let mut r = Recount {
        queries: Vec::new(),
        replies: BTreeMap::new(),
        rows: 0,
        bytes: 0,
    };
    for (topic, payload) in read_all(&topics) {
        if topic.ends_with(".esquery") {
            r.queries
                .push(EventStoreQuery211::decode(&payload, Strictness::Strict).expect("a query"));
            continue;
        }
        let reply = KafkaResponse::decode(&payload, Strictness::Lenient).expect("a reply");
        let events = Event::decode_batch(reply.result.as_deref().unwrap_or(b"[]")).expect("a batch");
        r.rows += events.len() as u64;
        r.bytes += events
            .iter()
            .map(|e| e.data.as_ref().map_or(0, |d| d.len() as u64))
            .sum::<u64>();
        r.replies.entry(reply.correlation_id).or_default().extend(events);
    }
    r
}

#[test]
fn queries_carry_fresh_projections_and_no_event_comes_back_twice() {
    common::require_kafka();
    let t = common::unique_topic("eventbench.test.readers");
    // 20 ms per query and 2 queries/s per aggregate: some wait for their aggregate's turn.
    let (s, _dir) = common::run_text(&kafka_readers(&t, "extra_latency = \"20ms\""), &[]);
    let r = &s.workloads["readers"];
    assert!(r.ok > 30, "{r:?}");
    assert_eq!(r.late_rows, 0, "{r:?}");
    let c = recount(&t);
    assert!(
        c.queries.len() as u64 >= r.ok,
        "{} queries in the topic",
        c.queries.len()
    );
    // Per aggregate, in the order sent: never below what earlier queries got back.
    let mut returned: BTreeMap<i8, i64> = BTreeMap::new();
    let mut stale = Vec::new();
    for q in &c.queries {
        let seen = returned.get(&q.aggregate_id).copied().unwrap_or(i64::MIN);
        if q.aggregate_version < seen {
            stale.push((q.aggregate_id, q.aggregate_version, seen));
        }
        if let Some(events) = c.replies.get(&q.correlation_id) {
            let top = events.iter().map(|e| e.version).max().unwrap_or(i64::MIN);
            let v = returned.entry(q.aggregate_id).or_insert(i64::MIN);
            *v = (*v).max(top);
        }
    }
    assert!(
        stale.is_empty(),
        "queries sent below what their aggregate had returned: {stale:?}"
    );
    // No event is in two replies, so none came back to the readers twice.
    let mut once = HashSet::new();
    let twice: Vec<_> = c.replies.values().flatten().filter(|e| !once.insert(e.uuid)).collect();
    assert!(twice.is_empty(), "{} events returned twice", twice.len());
    assert_eq!(s.audit.expect("audit").requeried, 0);
    assert_eq!(
        (r.rows, r.bytes),
        (c.rows, c.bytes),
        "rows and bytes equal the reply topics' recount"
    );
}

#[test]
fn rows_equal_a_recount_when_batches_come_slower_than_settle() {
    common::require_kafka();
    let t = common::unique_topic("eventbench.test.readers.slow");
    // Two events a batch, 120 ms apart, against a 50 ms settle: the first results are
    // cut short (their later batches are late rows), then the readers wait out the gaps.
    let (s, _dir) = common::run_text(&kafka_readers(&t, "batch_size = 2\nbatch_gap = \"120ms\""), &[]);
    let r = &s.workloads["readers"];
    assert!(r.ok > 20, "{r:?}");
    let c = recount(&t);
    assert!(c.rows > 100, "enough rows to tell: {}", c.rows);
    assert_eq!(
        (r.rows, r.bytes),
        (c.rows, c.bytes),
        "rows and bytes equal the reply topics' recount: {r:?}"
    );
    assert!(
        r.late_rows > 0 && r.late_rows < r.rows / 2,
        "some late rows, then the gaps are learnt: {r:?}"
    );
}
