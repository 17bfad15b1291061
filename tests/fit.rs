//! `eventbench fit` against the real Kafka the scripts start: a topic written by
//! eventbench from a known scenario (a curve, Zipf 1.2 over 100 aggregates, a lognormal
//! payload, three actions) is fitted back within the issue's bounds, the fitted scenario
//! validates and runs; a topic of other JSON, an empty topic, a window with no records
//! and an unreachable broker are clear errors with their exit codes; the client
//! settings never reach the written scenario. `capture` fails the same ways. A query
//! topic beside the events is fitted as readers, with how soon queries follow events.

mod common;

use common::{eventbench, require_kafka, unique_topic};

fn known(topic: &str) -> String {
    format!(
        r#"
name = "fit-source"
seed = 11
warmup = "0s"

[target]
log = "kafka"
services = "none"

[target.kafka]
bootstrap = "127.0.0.1:9092"
partitions = 3

[target.topics]
events = "{topic}"

[data]
aggregates = {{ dist = "zipf", exponent = 1.2, max = 100 }}
actions = {{ register_user = 2, update_item = 3, close_account = 5 }}
payload = {{ dist = "lognormal", median = 512, p99 = "4KiB" }}
compressibility = 0.25
users = 300

[workload.producers]
kind = "produce"
arrival = "constant"
max_in_flight = 512
phase = [{{ kind = "curve", points = [{{ at = "0s", rate = 400 }}, {{ at = "15s", rate = 1200 }}, {{ at = "30s", rate = 1200 }}] }}]
"#
    )
}

/// The original curve's rate at `t` seconds.
fn original(t: f64) -> f64 {
    if t < 15.0 {
        400.0 + 800.0 * t / 15.0
    } else {
        1200.0
    }
}

fn number(text: &str, after: &str) -> f64 {
    let at = text.find(after).unwrap_or_else(|| panic!("{after:?} in\n{text}")) + after.len();
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("a number after {after:?} in\n{text}"))
}

#[test]
fn a_topic_written_from_a_known_scenario_is_fitted_back() {
    require_kafka();
    let dir = tempfile::tempdir().expect("tmp");
    let topic = unique_topic("eventbench.fit");
    let (code, _, err, _) = common::run_scenario(dir.path(), "source", &known(&topic), &[]);
    assert_eq!(code, Some(0), "{err}");
    let out = dir.path().join("fitted.toml");
    let (code, _, err) = eventbench(&[
        "fit",
        "--bootstrap",
        "127.0.0.1:9092",
        "--topic",
        &topic,
        "--bucket",
        "5s",
        "--client",
        "client.id=fit-test-secret-hunter2",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let text = common::read(&out);
    assert!(
        !text.contains("hunter2"),
        "a client setting reached the scenario:\n{text}"
    );
    assert!(text.contains(&format!("from topic {topic:?}")), "{text}");

    // Zipf 1.2 within 0.05.
    let exponent = number(&text, "exponent = ");
    assert!((exponent - 1.2).abs() <= 0.05, "exponent {exponent}\n{text}");
    // Payload p50/p99 within 5% of the original's 512 B and 4 KiB.
    let (median, p99) = (number(&text, "median = "), number(&text, "p99 = "));
    assert!((median / 512.0 - 1.0).abs() <= 0.05, "median {median}\n{text}");
    assert!((p99 / 4096.0 - 1.0).abs() <= 0.05, "p99 {p99}\n{text}");
    // Action weights within 2 points of 20/30/50%.
    let weights = [
        ("\"register_user\" = ", 0.2),
        ("\"update_item\" = ", 0.3),
        ("\"close_account\" = ", 0.5),
    ];
    for (key, share) in weights {
        let got = number(&text, key) / 1000.0;
        assert!((got - share).abs() <= 0.02, "{key} {got}\n{text}");
    }
    // The rate curve within 5% of the original at each bucket's middle (the first and
    // last buckets hold the window's own ends).
    let points: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("{ at = "))
        .map(|l| (number(l, "at = \"") / 1000.0, number(l, "rate = ")))
        .collect();
    assert!(points.len() >= 2 && points.len() <= 40, "{points:?}");
    for i in 1..5 {
        let t = i as f64 * 5.0 + 2.5;
        let fitted = eventbench::fit::model::at(&points, t);
        assert!(
            (fitted / original(t) - 1.0).abs() <= 0.05,
            "at {t} s: {fitted} against {}",
            original(t)
        );
    }
    assert!(
        text.contains("arrival = \"constant\""),
        "evenly spaced arrivals:\n{text}"
    );

    // The fitted scenario is a scenario, and its description names the source and the
    // fits' quality for the report.
    let (code, stdout, err) = eventbench(&["validate", out.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{stdout} {err}");
    assert!(
        text.contains(&format!("description = \"fitted from topic {topic} at 127.0.0.1:9092"))
            && text.contains("Zipf exponent"),
        "{text}"
    );

    // Run against the same Kafka, the fitted load measures as the original did: compare
    // calls no p50 slower or faster.
    let again = unique_topic("eventbench.fit-again");
    let sets = [
        "target.log=kafka".to_string(),
        "target.services=none".into(),
        "target.kafka.bootstrap=127.0.0.1:9092".into(),
        "target.kafka.partitions=3".into(),
        format!("target.topics.events={again}"),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let (code, stdout, err, fitted_run) = common::run_scenario(dir.path(), "fitted", &common::read(&out), &sets);
    assert_eq!(code, Some(0), "{stdout}\n{err}");
    assert!(
        stdout.contains("fitted from topic"),
        "the report names the source:\n{stdout}"
    );
    let original_run = dir.path().join("source");
    let (_, json, err) = eventbench(&[
        "compare",
        original_run.to_str().expect("utf8"),
        fitted_run.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    let c: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}\n{err}"));
    let rows = c["rows"].as_array().expect("rows");
    for stage in ["produce", "e2e"] {
        let row = rows
            .iter()
            .find(|r| r["stage"] == stage && r["stat"] == "p50")
            .unwrap_or_else(|| panic!("no {stage} p50 in {json}"));
        let verdict = row["verdict"].as_str().unwrap_or_default();
        assert!(["no change", "inconclusive"].contains(&verdict), "{stage}: {row}");
        eprintln!(
            "fitted against original, {stage} p50: {:+.1}% ({verdict})",
            row["change"].as_f64().unwrap_or(0.0) * 100.0
        );
    }
}

#[test]
fn what_cannot_be_fitted_is_a_clear_error() {
    require_kafka();
    // An empty topic.
    let empty = unique_topic("eventbench.fit-empty");
    create_topic(&empty);
    let (code, _, err) = eventbench(&["fit", "--bootstrap", "127.0.0.1:9092", "--topic", &empty]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds no records"), "{err}");
    // A topic that does not exist (and is not created by asking: the fit writes nothing).
    let none = unique_topic("eventbench.fit-none");
    let (code, _, err) = eventbench(&["fit", "--bootstrap", "127.0.0.1:9092", "--topic", &none]);
    assert_eq!(code, Some(2), "{err}");
    // Other JSON: counted and said.
    let other = unique_topic("eventbench.fit-other");
    produce(&other, &["{\"hello\":1}", "{\"uuid\":\"x\"}", "not json"]);
    let (code, _, err) = eventbench(&["fit", "--bootstrap", "127.0.0.1:9092", "--topic", &other]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no seed Events") && err.contains("3 records skipped"),
        "{err}"
    );
    assert!(err.contains("not JSON") && err.contains("not a seed Event"), "{err}");
    // A window with no records: from a time after the last.
    let (code, _, err) = eventbench(&[
        "fit",
        "--bootstrap",
        "127.0.0.1:9092",
        "--topic",
        &other,
        "--since",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no records in the window"), "{err}");
    // An unreachable broker, named.
    let (code, _, err) = eventbench(&["fit", "--bootstrap", "127.0.0.1:1", "--topic", "x"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    // capture reads the same way, and fails the same way, writing nothing.
    let out = tempfile::tempdir().expect("tmp");
    let file = out.path().join("c.ebcap");
    let file = file.to_str().expect("utf8");
    let (code, _, err) = eventbench(&[
        "capture",
        "--bootstrap",
        "127.0.0.1:9092",
        "--topic",
        &empty,
        "--out",
        file,
    ]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = eventbench(&[
        "capture",
        "--bootstrap",
        "127.0.0.1:9092",
        "--topic",
        &other,
        "--out",
        file,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no seed Events") && err.contains("3 records skipped"),
        "{err}"
    );
    let (code, _, err) = eventbench(&["capture", "--bootstrap", "127.0.0.1:1", "--topic", "x", "--out", file]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(!std::path::Path::new(file).exists(), "a failed capture left a file");
}

#[test]
fn a_query_topic_beside_the_events_is_fitted_as_readers() {
    require_kafka();
    let (events, queries) = (unique_topic("eventbench.fit-qe"), unique_topic("eventbench.fit-qq"));
    // 400 events 10 ms apart over aggregates 1..4; every other one queried 5 ms later,
    // and 20 queries of aggregate 9, which has no event.
    let t0 = 1_700_000_000_000i64;
    let mut ev = Vec::new();
    let mut qs = Vec::new();
    for i in 0..400i64 {
        let e = eventbench::model::Event {
            action: "placed".into(),
            aggregate_id: (i % 4 + 1) as i8,
            uuid: uuid::Uuid::from_u128(i as u128 + 1),
            data: Some(vec![1; 32]),
            ..Default::default()
        };
        ev.push((t0 + i * 10, String::from_utf8(e.to_json()).expect("utf8")));
        if i % 2 == 0 {
            qs.push((
                t0 + i * 10 + 5,
                format!("{{\"aggregate_id\":{},\"aggregate_version\":1}}", i % 4 + 1),
            ));
        }
    }
    for k in 0..20 {
        qs.push((
            t0 + k * 100 + 7,
            "{\"aggregate_id\":9,\"aggregate_version\":1}".to_string(),
        ));
    }
    produce_at(&events, &ev);
    produce_at(&queries, &qs);
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("fitted.toml");
    let out_s = out.to_str().expect("utf8");
    let args = [
        "fit",
        "--bootstrap",
        "127.0.0.1:9092",
        "--topic",
        &events,
        "--bucket",
        "1s",
    ];
    let (code, _, err) = eventbench(&[&args[..], &["--query-topic", &queries, "--out", out_s]].concat());
    assert_eq!(code, Some(0), "{err}");
    let text = common::read(&out);
    assert!(
        text.contains("by p50 5 ms, p90 5 ms, p99 5 ms (20 before any event of theirs)"),
        "{text}"
    );
    // 220 queries over the events' 3.99 s.
    assert!(text.contains("220 inside the events' window: 55.14/s"), "{text}");
    assert!(
        text.contains("[workload.readers]\nkind = \"query\"\nvia = \"log\""),
        "{text}"
    );
    let (code, stdout, err) = eventbench(&["validate", out_s]);
    assert_eq!(code, Some(0), "{stdout} {err}");
    // A query topic of events is not one of queries: said, exit 2.
    let (code, _, err) = eventbench(&[&args[..], &["--query-topic", &events]].concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no EventStoreQuery records") && err.contains("400 not an EventStoreQuery"),
        "{err}"
    );
}

#[test]
fn a_burst_is_fitted_as_a_burst_over_the_curve() {
    require_kafka();
    let topic = unique_topic("eventbench.fit-burst");
    // 100/s evenly for 60 s, and 300/s from 20 s to 25 s.
    let t0 = 1_700_000_000_000i64;
    let mut at: Vec<i64> = (0..6000).map(|i| i * 10).collect();
    at.extend((0..1000).map(|i| 20_000 + i * 5 + 2));
    at.sort_unstable();
    let records: Vec<(i64, String)> = at
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let e = eventbench::model::Event {
                action: "placed".into(),
                aggregate_id: (i % 4 + 1) as i8,
                uuid: uuid::Uuid::from_u128(i as u128 + 1),
                ..Default::default()
            };
            (t0 + t, String::from_utf8(e.to_json()).expect("utf8"))
        })
        .collect();
    produce_at(&topic, &records);
    let (code, text, err) = eventbench(&[
        "fit",
        "--bootstrap",
        "127.0.0.1:9092",
        "--topic",
        &topic,
        "--bucket",
        "10s",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        text.contains("# bursts: 1 ") && text.contains("at 20 s for 5 s x3.00"),
        "{text}"
    );
    assert!(
        text.contains("[[workload.producers.burst]]\nat = \"20000ms\"\nduration = \"5000ms\"\nfactor = 3.00"),
        "{text}"
    );
    // The curve is the 100/s under the burst, not the burst spread over its bucket.
    let rates: Vec<f64> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("{ at = "))
        .map(|l| number(l, "rate = "))
        .collect();
    assert!(
        rates.iter().all(|r| (r / 100.0 - 1.0).abs() <= 0.05),
        "{rates:?}\n{text}"
    );
}

/// Writes (timestamp ms, value) records to `topic` (auto-created).
fn produce_at(topic: &str, records: &[(i64, String)]) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let p: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9092")
        .create()
        .expect("producer");
    create_topic(topic);
    for (ts, v) in records {
        p.send(BaseRecord::<(), str>::to(topic).payload(v.as_str()).timestamp(*ts))
            .expect("send");
    }
    p.flush(std::time::Duration::from_secs(10)).expect("flush");
    // A fresh topic's end offset can lag its writes for a moment; the fit reads up to it.
    let c: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9092")
        .create()
        .expect("consumer");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    use rdkafka::consumer::Consumer;
    while c
        .fetch_watermarks(topic, 0, std::time::Duration::from_secs(5))
        .map_or(true, |(_, high)| high < records.len() as i64)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{topic} never held its {} records",
            records.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn create_topic(topic: &str) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9092")
        .create()
        .expect("admin");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let made = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .expect("create");
    assert!(made.iter().all(Result::is_ok), "{made:?}");
}

/// Writes `values` to `topic` with a plain producer (the topic auto-created).
fn produce(topic: &str, values: &[&str]) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let p: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9092")
        .create()
        .expect("producer");
    for v in values {
        p.send(BaseRecord::<(), str>::to(topic).payload(v)).expect("send");
    }
    p.flush(std::time::Duration::from_secs(10)).expect("flush");
}
