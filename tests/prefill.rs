//! `[prefill]`: history before the measured run.
//! - through the embedded pipeline (memory log, the reference query service), readers
//!   that start from the beginning (`read_history`) are given exactly the prefilled
//!   events of each aggregate, once, while the run's own audit stays the run's;
//! - against the real Cassandra: a second run skips the history, a run after an
//!   interrupted prefill writes only what is missing, and the store holds each event once.

mod common;

use scylla::client::session_builder::SessionBuilder;

const PIPELINE: &str = r#"
name = "prefill-pipeline"
duration = "4s"
warmup = "0s"

[target]
services = "embedded"

[data]
aggregates = { dist = "uniform", min = 1, max = 6 }
year_bucket = 2026

[prefill]
events = 3000
epochs = 20
span = "30d"

[workload.producers]
kind = "produce"
rate = 200

[workload.readers]
kind = "query"
via = "log"
rate = 40
read_history = true
"#;

#[test]
fn readers_from_the_start_read_exactly_the_prefilled_events_of_each_aggregate() {
    let (s, _dir) = common::run_text(PIPELINE, &[]);
    let p = s.prefill.as_ref().expect("summary.json has the prefill");
    assert_eq!((p.events, p.written, p.skipped), (3000, 3000, 0), "{p:?}");
    assert_eq!(p.bytes, 3000 * 256, "{p:?}");
    assert_eq!(p.meta_version, 2 + 20, "{p:?}");
    let r = p.read.as_ref().expect("readers counted");
    assert_eq!((r.readable, r.read, r.read_again), (3000, 3000, 0), "{r:?}");
    assert_eq!(r.by_aggregate.len(), 6, "{r:?}");
    for (agg, [readable, read]) in &r.by_aggregate {
        assert!(
            *readable > 0 && readable == read,
            "aggregate {agg}: {readable} readable, {read} read"
        );
    }
    // The history is not the run's: the audit judges the producers' events alone.
    let a = s.audit.as_ref().expect("audit");
    assert_eq!(a.stored, Some(a.acked), "{a:?}");
    assert_eq!((a.lost, a.duplicates), (0, 0), "{a:?}");
}

fn cassandra_scenario(keyspace: &str) -> String {
    format!(
        r#"
name = "prefill-cassandra"
duration = "2s"
warmup = "0s"

[target]
store = "scylla"
services = "none"
[target.scylla]
keyspace = "{keyspace}"
schema = "per-aggregate"

[data]
aggregates = {{ dist = "uniform", min = 1, max = 8 }}
payload = {{ dist = "fixed", size = 100 }}
year_bucket = 2026

[prefill]
events = 20000
epochs = 10

[workload.readers]
kind = "query"
rate = 50
read_history = true
"#
    )
}

fn record(run: &std::path::Path) -> serde_json::Value {
    let s: serde_json::Value = serde_json::from_str(&common::read(&run.join("summary.json"))).expect("summary.json");
    s["prefill"].clone()
}

#[test]
fn a_second_run_skips_the_history_and_an_interrupted_one_resumes() {
    common::require_cassandra();
    let keyspace = common::unique_topic("eventbench_prefill").replace('.', "_");
    let dir = tempfile::tempdir().expect("tmp");
    let text = cassandra_scenario(&keyspace);
    let (code, out, err, first) = common::run_scenario(dir.path(), "first", &text, &[]);
    assert_eq!(code, Some(0), "{out} {err}");
    let p = record(&first);
    assert_eq!(
        (p["written"].as_u64(), p["skipped"].as_u64()),
        (Some(20000), Some(0)),
        "{p}"
    );
    assert!(p["events_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{p}");
    assert_eq!(p["read"]["read"], p["read"]["readable"], "{p}");
    assert_eq!(p["read"]["read"].as_u64(), Some(20000), "{p}");

    // The same scenario again: the store holds it.
    let (code, out, err, second) = common::run_scenario(dir.path(), "second", &text, &[]);
    assert_eq!(code, Some(0), "{out} {err}");
    let q = record(&second);
    assert_eq!(
        (q["written"].as_u64(), q["skipped"].as_u64()),
        (Some(0), Some(20000)),
        "{q}"
    );
    assert_eq!(q["fingerprint"], p["fingerprint"], "{q}");

    // As if a prefill had stopped after 10,000: only the rest is written again, and
    // the store holds every event once.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let session = SessionBuilder::new()
            .known_node("127.0.0.1:9042")
            .build()
            .await
            .expect("connect");
        session
            .query_unpaged(
                format!("UPDATE {keyspace}.events_meta SET aggregate_version = 10000 WHERE partition_key = 127 AND aggregate_id = 13"),
                (),
            )
            .await
            .expect("set the marker back");
    });
    let (code, out, err) = common::eventbench(&[
        "prefill",
        dir.path().join("first.toml").to_str().expect("utf8"),
        "--quiet",
    ]);
    assert_eq!(code, Some(0), "{out} {err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (r["written"].as_u64(), r["skipped"].as_u64()),
        (Some(10000), Some(10000)),
        "{r}"
    );
    let rows = rt.block_on(async {
        let session = SessionBuilder::new()
            .known_node("127.0.0.1:9042")
            .build()
            .await
            .expect("connect");
        let mut n = 0i64;
        for agg in 1..=8i16 {
            let res = session
                .query_unpaged(
                    format!("SELECT COUNT(*) FROM {keyspace}.events_by_aggregate WHERE year_bucket = 2026 AND aggregate_id = ?"),
                    (agg,),
                )
                .await
                .expect("count")
                .into_rows_result()
                .expect("rows");
            let (c,): (i64,) = res.first_row().expect("one row");
            n += c;
        }
        n
    });
    assert_eq!(rows, 20000, "every history event once (the readers' run wrote none)");
    // A scenario that asks for a prefill names what is wrong with it.
    let (code, _, err, _) = common::run_scenario(dir.path(), "bad", &text.replace("epochs = 10", "epochs = 0"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("prefill.epochs") && err.contains("bad.toml:"), "{err}");
}
