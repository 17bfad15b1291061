//! The hop table and the limiting hop, on pipelines whose bottleneck is known by
//! construction (scenarios/bottlenecks.toml and the overrides its header gives): the store (4 servers of 1 ms, a persist is 2 requests: 2,000/s), the
//! persistence service (one worker waiting 1 ms per event: under 1,000/s), the same
//! service behind a log of 100 records (its producers wait for room), the generator
//! (one thread asked for far more than it can send). Each run asks well past the
//! bottleneck, so the answer does not hang on a hair; `eventbench capacity` names the
//! hop at its failing step. On Kafka + Cassandra: the embedded service made the limit.

mod common;

use serde_json::Value;

/// The shipped scenario, its store the limit as written.
fn pipeline() -> String {
    common::read(&common::root().join("scenarios/bottlenecks.toml"))
}

/// A fast store and a service that is not: one worker, 1 ms of its own per event.
const SLOW_SERVICE: [&str; 3] = [
    "target.persistence.workers=1",
    "target.persistence.extra_latency=\"1ms\"",
    "target.memory_store.service_time={dist=\"fixed\",value=\"20us\"}",
];

/// The summary's hop table of the shipped scenario with `sets`, and the text report.
fn hops(sets: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, stdout, stderr, run) = common::run_scenario(dir.path(), "hops", &pipeline(), sets);
    assert!(code.is_some(), "{stderr}");
    let summary: Value = serde_json::from_str(&common::read(&run.join("summary.json"))).expect("summary.json");
    (summary["hops"].clone(), stdout)
}

fn limiting(h: &Value) -> (&str, &str, &str) {
    let l = &h["limiting"];
    (
        l["hop"].as_str().unwrap_or_else(|| panic!("no limiting hop: {h:#}")),
        l["evidence"].as_str().unwrap_or_default(),
        l["scale"].as_str().unwrap_or_default(),
    )
}

fn row<'a>(h: &'a Value, hop: &str) -> &'a Value {
    h["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["hop"] == hop))
        .unwrap_or_else(|| panic!("no row {hop}: {h:#}"))
}

#[test]
fn a_healthy_pipeline_s_hops_add_up_to_its_e2e_and_nothing_limits_it() {
    let (h, stdout) = hops(&[]);
    assert!(h["limiting"].is_null(), "{h:#}");
    for hop in ["generator", "producer", "queue", "service", "store", "reply"] {
        let r = row(&h, hop);
        assert!(r["time"]["count"].as_u64().unwrap_or(0) > 4000, "{hop}: {r:#}");
        let q = &r["queue"];
        assert!(q["end"].as_f64().expect("queue observed") < 100.0, "{hop}: {q:#}");
    }
    // Each event's hops are consecutive on one clock: their means add up to e2e's.
    let (sum, e2e) = (
        h["sum_mean_ms"].as_f64().expect("sum"),
        h["e2e_mean_ms"].as_f64().expect("e2e"),
    );
    assert!(
        (sum - e2e).abs() <= 0.02 * e2e + 0.01,
        "hops {sum} ms against e2e {e2e} ms"
    );
    // Two requests of 1 ms at the store, nearly all of e2e.
    let store = row(&h, "store")["share_mean"].as_f64().expect("share");
    assert!(store > 0.8, "{store}");
    assert!(stdout.contains("hops of producers"), "{stdout}");
}

#[test]
fn a_slow_store_is_named_with_busy_handlers_and_the_store_s_time() {
    let (h, stdout) = hops(&["workload.producers.rate=3000"]);
    let (hop, evidence, scale) = limiting(&h);
    assert_eq!(hop, "store", "{h:#}");
    assert!(evidence.contains("of 64 handlers busy"), "{evidence}");
    assert!(scale.contains("concurrency (memory store: 4)"), "{scale}");
    assert!(row(&h, "queue")["queue"]["growth_per_s"].as_f64().expect("growth") > 500.0);
    assert!(stdout.contains("limiting hop: store"), "{stdout}");
}

#[test]
fn a_slow_service_is_named_and_told_to_add_workers() {
    let mut sets = SLOW_SERVICE.to_vec();
    sets.push("workload.producers.rate=1500");
    let (h, _) = hops(&sets);
    let (hop, evidence, scale) = limiting(&h);
    assert_eq!(hop, "service", "{h:#}");
    assert!(evidence.contains("of 1 handlers busy"), "{evidence}");
    assert!(
        scale.contains("add service instances or workers (now 1 worker"),
        "{scale}"
    );
}

#[test]
fn a_full_log_in_front_of_a_slow_service_names_the_service_not_its_waiting_producers() {
    let mut sets = SLOW_SERVICE.to_vec();
    sets.extend([
        "workload.producers.rate=1500",
        "target.memory_log.capacity=100",
        "workload.producers.max_in_flight=1000",
    ]);
    let (h, _) = hops(&sets);
    // The producers' in-flight sits at its bound too: backpressure is followed downstream.
    assert!(
        row(&h, "producer")["queue"]["end"].as_f64().expect("depth") > 900.0,
        "{h:#}"
    );
    let (hop, evidence, _) = limiting(&h);
    assert_eq!(hop, "service", "{h:#}");
    assert!(evidence.contains("sat at the log's bound"), "{evidence}");
}

#[test]
fn a_generator_past_its_ceiling_is_named_the_generator() {
    let (h, _) = hops(&[
        "threads=1",
        "workload.producers.rate=400000",
        "target.memory_store.concurrency=1000",
        "target.memory_store.service_time={dist=\"fixed\",value=\"0us\"}",
        "target.persistence.workers=8",
    ]);
    let (hop, _, scale) = limiting(&h);
    assert_eq!(hop, "generator", "{h:#}");
    assert!(scale.contains("add generator threads (now 1)"), "{scale}");
}

/// `eventbench capacity` on the slow store: the failing step's hop is the store, and
/// capacity.json says so with what to scale.
#[test]
fn capacity_names_the_limiting_hop_at_its_failing_rate() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("hops.toml");
    std::fs::write(&path, pipeline()).expect("write");
    let out = dir.path().join("cap");
    let (code, stdout, stderr) = common::eventbench(&[
        "capacity",
        path.to_str().expect("utf8"),
        "--slo",
        "e2e.persisted.p99 < 200ms",
        "--start",
        "1500",
        "--precision",
        "10%",
        "--step",
        "3s",
        "--step-warmup",
        "1s",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let c: Value = serde_json::from_str(&common::read(&out.join("capacity.json"))).expect("capacity.json");
    assert_eq!(c["limiting_hop"]["hop"], "store", "{c:#}");
    assert!(
        c["limiting"].as_str().unwrap_or_default().contains("what to scale"),
        "{c:#}"
    );
    let md = common::read(&out.join("capacity.md"));
    assert!(md.contains("[limiting hop: store]"), "{md}");
}

/// A pipeline on the local Kafka + Cassandra whose persistence service (embedded, or
/// `eventbench serve` in another process) has one worker waiting 5 ms per event
/// (under 200/s), asked 400/s.
fn kafka_scenario(topic: &str) -> String {
    format!(
        r#"
name = "hops-kafka"
duration = "12s"
warmup = "1s"
drain = "3s"
[target]
log = "kafka"
store = "scylla"
services = "embedded"
[target.kafka]
bootstrap = "127.0.0.1:9092"
partitions = 3
[target.topics]
events = "{topic}.events"
persistence_group = "{topic}.persistence"
persistence_response = "{topic}.response"
[target.scylla]
nodes = ["127.0.0.1:9042"]
keyspace = "eventbench_hops"
replication = "datacenter1:1"
[target.persistence]
workers = 1
extra_latency = "5ms"
[data]
aggregates = {{ dist = "uniform", min = 1, max = 4 }}
[workload.producers]
kind = "produce"
rate = 400
max_in_flight = 4096
"#
    )
}

/// The store node's own view is the whole node's (its thread pools serve every
/// client), so the tests that load Cassandra take turns: one test's lightweight
/// transactions would otherwise be another's busy store.
static CASSANDRA: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cassandra_alone() -> std::sync::MutexGuard<'static, ()> {
    CASSANDRA.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a Kafka scenario's text; its summary.json and stdout.
fn run_kafka(text: &str) -> (Value, String) {
    common::require_kafka();
    common::require_cassandra();
    let _alone = cassandra_alone();
    let dir = tempfile::tempdir().expect("tmp");
    let (code, stdout, stderr, run) = common::run_scenario(dir.path(), "hops-kafka", text, &[]);
    (summary_of(&run, code, &stdout, &stderr), stdout)
}

fn summary_of(run: &std::path::Path, code: Option<i32>, stdout: &str, stderr: &str) -> Value {
    assert!(run.join("summary.json").exists(), "exit {code:?}\n{stdout}\n{stderr}");
    serde_json::from_str(&common::read(&run.join("summary.json"))).expect("summary.json")
}

/// The embedded service: its queue grows, every handler is busy and not at the store.
#[test]
fn on_kafka_and_cassandra_a_slow_service_is_named() {
    let text = kafka_scenario(&common::unique_topic("eventbench.hops"));
    let (summary, stdout) = run_kafka(&text);
    let h = &summary["hops"];
    let (hop, evidence, scale) = limiting(h);
    assert_eq!(hop, "service", "{stdout}");
    assert!(evidence.contains("of 1 handlers busy"), "{evidence}");
    assert!(scale.contains("the topic has 3 partitions"), "{scale}");
    // Its queue grew by about what the service could not take (400/s offered, under
    // 200/s served); the events that reached it had waited in it.
    let queue = row(h, "queue");
    assert!(
        queue["queue"]["growth_per_s"].as_f64().unwrap_or(0.0) > 100.0,
        "{queue:#}"
    );
    assert!(queue["time"]["p50_ns"].as_u64().unwrap_or(0) > 100_000_000, "{queue:#}");
    // The group's lag, read from outside, is there beside the exact depths.
    let lagged = h["timeline"]
        .as_array()
        .map_or(0, |t| t.iter().filter(|p| p["lag"].as_u64().unwrap_or(0) > 0).count());
    assert!(lagged >= 5, "{h:#}");
    // The target's own view beside it: the producer client's statistics (a broker's
    // produce round trip) and the store node's (its coordinator requests, which the
    // one worker sends: under 200 events/s, two requests each, but some).
    let broker = &h["client"]["brokers"][0];
    assert!(broker["rtt_p99_us"].as_f64().unwrap_or(0.0) > 0.0, "{:#}", h["client"]);
    assert!(h["client"]["msg_max"].as_u64().unwrap_or(0) > 0, "{:#}", h["client"]);
    let node = &h["nodes"][0];
    assert!(node["requests_per_s"].as_f64().unwrap_or(0.0) > 50.0, "{node:#}");
    assert!(node["in_node"].as_f64().unwrap_or(99.0) < 8.0, "{node:#}");
    assert!(stdout.contains("store's own view (system_views)"), "{stdout}");
    // The broker and the node run on this host (scripts/services): found by their
    // listening sockets, their CPU beside the hiccup meter's.
    let processes = h["processes"].to_string();
    assert!(processes.contains("kafka 127.0.0.1:9092 (pid"), "{processes}");
    assert!(processes.contains("cql 127.0.0.1:9042 (pid"), "{processes}");
    let busy = |p: &Value| p["cores"].as_f64().unwrap_or(0.0) > 0.0;
    assert!(
        h["processes"].as_array().is_some_and(|a| a.iter().all(busy)),
        "{processes}"
    );
    assert_eq!(summary["platform"]["target"], h["processes"]);
}

/// Runs `text` against its persistence service run apart (`eventbench serve
/// persistence`, standing in for the original Go service, which tells nobody
/// anything); the run's summary, its stdout and the service's stderr.
fn run_external(text: &str) -> (Value, String, String) {
    common::require_kafka();
    common::require_cassandra();
    let _alone = cassandra_alone();
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("hops-kafka.toml");
    std::fs::write(&path, text).expect("write");
    let serve = std::process::Command::new(common::bin())
        .args(["serve", "persistence", path.to_str().expect("utf8")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    // Its group joins while eventbench creates the reply topics.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let out = dir.path().join("run");
    let (code, stdout, stderr) = common::eventbench(&[
        "run",
        path.to_str().expect("utf8"),
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
        "--set",
        "target.services=external",
    ]);
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(serve.id() as i32, libc::SIGINT);
    }
    let served = serve.wait_with_output().expect("serve ends");
    let summary = summary_of(&out, code, &stdout, &stderr);
    (summary, stdout, String::from_utf8_lossy(&served.stderr).into_owned())
}

/// The slow service run apart: from outside, its group's lag grows while the store
/// node, by its own account, holds almost no request at once: the service is named,
/// and its handlers and store are said to be unobserved.
#[test]
fn an_external_slow_service_is_named_from_its_group_s_lag() {
    let (summary, report, served) = run_external(&kafka_scenario(&common::unique_topic("eventbench.hops-ext")));
    let h = &summary["hops"];
    let (hop, evidence, _) = limiting(h);
    assert_eq!(hop, "service", "{report}\n{served}");
    assert!(evidence.contains("group lag grew"), "{evidence}");
    assert!(evidence.contains("the store kept up by its own account"), "{evidence}");
    assert!(evidence.contains("external service itself is slow"), "{evidence}");
    let unobserved = h["unobserved"].to_string();
    assert!(
        unobserved.contains("service:") && unobserved.contains("store:"),
        "{unobserved}"
    );
    // The reply leg is seen from outside too (the reply's own timestamp).
    assert!(row(h, "reply")["time"]["count"].as_u64().unwrap_or(0) > 0, "{h:#}");
    assert!(
        h["outside"]["inside_mean_ms"].as_f64().unwrap_or(0.0) > 100.0,
        "{:#}",
        h["outside"]
    );
}

/// The store made the limit behind a service run apart (64 workers, every persist a
/// lightweight transaction on the one events_meta partition): from outside the group's
/// lag grows as before, and the store node's own view (most of the workers' requests
/// inside it at once) names the store.
#[test]
fn an_external_service_waiting_on_its_store_names_the_store() {
    let text = kafka_scenario(&common::unique_topic("eventbench.hops-ext-store"))
        .replace("workers = 1\nextra_latency = \"5ms\"", "workers = 64")
        .replace("rate = 400", "rate = 1500")
        .replace(
            "services = \"embedded\"",
            "services = \"embedded\"\nconsistency = \"lwt\"",
        );
    let (summary, report, served) = run_external(&text);
    let h = &summary["hops"];
    let (hop, evidence, scale) = limiting(h);
    assert_eq!(hop, "store", "{report}\n{served}");
    assert!(evidence.contains("requests at once"), "{evidence}");
    assert!(evidence.contains("waits on its store"), "{evidence}");
    assert!(scale.contains("store nodes"), "{scale}");
    assert!(
        h["nodes"][0]["in_node"].as_f64().unwrap_or(0.0) >= 8.0,
        "{:#}",
        h["nodes"]
    );
}

/// The producer client's queue bounded to a few messages (librdkafka's
/// `queue.buffering.max.messages`) at 3,000/s: produces are refused at once as
/// overloaded, and the producer is named, with the setting to raise.
#[test]
fn on_kafka_a_full_producer_queue_names_the_producer() {
    let text = kafka_scenario(&common::unique_topic("eventbench.hops-prod"))
        .replace("workers = 1\nextra_latency = \"5ms\"", "workers = 64")
        .replace("rate = 400", "rate = 3000")
        + "[target.kafka.producer]\n\"queue.buffering.max.messages\" = \"4\"\n";
    let (summary, stdout) = run_kafka(&text);
    let h = &summary["hops"];
    let (hop, evidence, scale) = limiting(h);
    assert_eq!(hop, "producer", "{stdout}");
    assert!(evidence.contains("refused as overloaded"), "{evidence}");
    assert!(scale.contains("queue.buffering.max.messages"), "{scale}");
    assert!(evidence.contains("librdkafka's statistics"), "{evidence}");
}

/// The store made the limit on Cassandra: every persist a lightweight transaction
/// (`consistency = "lwt"`: Paxos reads and a compare-and-set on the one events_meta
/// partition), 64 service workers, 1,500/s (at 600/s it kept up: 77 ms per store call,
/// 46 of the 64 handlers at the store). The handlers wait on the store.
#[test]
fn on_cassandra_a_store_of_lightweight_transactions_names_the_store() {
    let text = kafka_scenario(&common::unique_topic("eventbench.hops-store"))
        .replace("workers = 1\nextra_latency = \"5ms\"", "workers = 64")
        .replace("rate = 400", "rate = 1500")
        .replace(
            "services = \"embedded\"",
            "services = \"embedded\"\nconsistency = \"lwt\"",
        );
    let (summary, stdout) = run_kafka(&text);
    let h = &summary["hops"];
    let (hop, evidence, scale) = limiting(h);
    assert_eq!(hop, "store", "{stdout}");
    assert!(evidence.contains("of 64 handlers busy"), "{evidence}");
    assert!(evidence.contains("by its own account, node"), "{evidence}");
    assert!(scale.contains("store nodes"), "{scale}");
}

/// scenarios/pipeline.toml in-process (memory log and store): producers and readers
/// querying through the log, with `sets`; the summary and the text report.
fn readers(sets: &[&str]) -> (Value, String) {
    let text = common::read(&common::root().join("scenarios/pipeline.toml"));
    let dir = tempfile::tempdir().expect("tmp");
    let mut all = vec![
        "duration=\"6s\"",
        "warmup=\"1s\"",
        "drain=\"3s\"",
        "target.log=\"memory\"",
        "target.store=\"memory\"",
    ];
    all.extend_from_slice(sets);
    let (code, stdout, stderr, run) = common::run_scenario(dir.path(), "readers", &text, &all);
    assert!(code.is_some(), "{stderr}");
    let summary: Value = serde_json::from_str(&common::read(&run.join("summary.json"))).expect("summary.json");
    (summary, stdout)
}

/// Readers get a hop table of their own: every hop of a query through the log and the
/// query service is timed, and a healthy reader has no verdict.
#[test]
fn readers_through_the_log_get_their_own_hop_table() {
    let (summary, stdout) = readers(&[]);
    let h = &summary["reader_hops"];
    assert_eq!(h["e2e_stage"], "query", "{h:#}");
    for hop in ["generator", "queue", "service", "store", "reply.send", "reply"] {
        assert!(row(h, hop)["time"]["count"].as_u64().unwrap_or(0) > 0, "{hop}: {h:#}");
    }
    assert!(h["limiting"].is_null(), "{h:#}");
    assert!(stdout.contains("readers' hops of readers"), "{stdout}");
    // The producers' table is the pipeline's, as before.
    assert_eq!(summary["hops"]["e2e_stage"], "e2e.persisted");
}

/// One query worker waiting 20 ms per query, asked 200 queries/s (under 50/s served):
/// the queries pile up in front of it, and its own work, not its reads, is named.
#[test]
fn a_slow_query_service_is_named_for_the_readers() {
    let (summary, stdout) = readers(&[
        "target.query.workers=1",
        "target.query.extra_latency=\"20ms\"",
        "workload.readers.rate=200",
    ]);
    let h = &summary["reader_hops"];
    let (hop, evidence, scale) = limiting(h);
    assert_eq!(hop, "service", "{stdout}");
    assert!(evidence.contains("waited in front of the query service"), "{evidence}");
    assert!(scale.contains("query service instances"), "{scale}");
    assert!(
        row(h, "service")["time"]["p50_ns"].as_u64().unwrap_or(0) >= 20_000_000,
        "{h:#}"
    );
}
