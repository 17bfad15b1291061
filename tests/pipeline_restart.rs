//! The pipeline keeps going while Kafka is stopped and started again under it: the
//! run completes, the errors and the time to recover are in the report, and the
//! audit says what was lost or redelivered. It restarts the broker through
//! scripts/services, so it is a test binary of its own (cargo runs them one at a time).

mod common;

use std::time::Duration;

#[test]
fn broker_restarted_mid_pipeline_run_is_survived_counted_and_audited() {
    common::require_kafka();
    common::require_cassandra();
    let t = common::unique_topic("eventbench.test.restart");
    let sets: Vec<String> = [
        // The broker takes ~17 s to come back on an idle host (it also opens its
        // SASL_SSL and mTLS listeners), longer under this run: room to show service after.
        "duration=45s",
        "warmup=1s",
        "drain=15s",
        "workload.producers.rate=300",
        "workload.readers.rate=10",
        "target.kafka.timeout=4s",
        "target.scylla.keyspace=eventbench_pipeline_test",
        "data.aggregates={dist='uniform',min=1,max=4}",
        // Report what the outage did; the assertions below judge it.
        "audit.max_lost=1000000",
        "audit.max_duplicates=1000000",
        "audit.max_errors=1000000",
        "audit.max_hidden=1000000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(common::pipeline_topics(&t))
    .collect();
    let (code, stderr, s, dir) = common::run_with_outage(
        "scenarios/pipeline.toml",
        &sets,
        "kafka",
        Duration::from_secs(8),
        Some(Duration::from_secs(2)),
    );
    assert_eq!(code, Some(4), "the run completes, unhealthy; stderr {stderr}");
    let p = &s["workloads"]["producers"];
    assert_eq!(p["health"], "target-saturated", "{}", p["health_reason"]);
    let timeouts = p["errors"]["timeout"].as_u64().unwrap_or(0);
    assert!(timeouts > 100, "sends to a stopped broker time out: {}", p["errors"]);
    // One disruption, recovered before the end, and normal service after it.
    let d = p["disruptions"].as_array().cloned().unwrap_or_default();
    let recovered: Vec<_> = d.iter().filter(|d| d["recovered"] == true).collect();
    assert!(!recovered.is_empty(), "disruptions {d:?}");
    let back_at = recovered.last().and_then(|d| d["to_s"].as_f64()).unwrap_or(f64::MAX);
    let after: u64 = p["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|i| i["t_s"].as_f64().unwrap_or(0.0) >= back_at)
                .map(|i| i["ok"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    assert!(after > 1_000, "{after} ok after recovery at {back_at} s");
    // Persisted answers came both before the outage and after it.
    assert!(
        p["stages"]["e2e.persisted"]["count"].as_u64().unwrap_or(0) > 4_000,
        "{p}"
    );
    // The audit ran and accounts for every acknowledged event.
    let a = &s["audit"];
    let acked = a["acked"].as_u64().unwrap_or(0);
    let stored = a["stored"].as_u64().unwrap_or(0);
    let lost = a["lost"].as_u64().unwrap_or(u64::MAX);
    assert!(acked > 5_000, "{a}");
    // Every acknowledged event is stored, lost, or backlog the service never took.
    let backlog = a["backlog"].as_u64().unwrap_or(0);
    assert_eq!(
        stored + lost + backlog,
        acked + a["stored_unacked"].as_u64().unwrap_or(0),
        "{a}"
    );
    // acks=all on a broker that shut down cleanly: nothing acknowledged is lost.
    // Redelivery after the restart may store an event twice (at-least-once meets
    // version stamping): every duplicate row must come with a redelivery.
    assert_eq!(lost, 0, "{a}");
    let dup_rows = a["duplicate_rows"].as_u64().unwrap_or(0);
    assert!(dup_rows == 0 || a["redelivered"].as_u64().unwrap_or(0) > 0, "{a}");
    // The report and the interval log are complete.
    assert!(dir.path().join("run/latency.hlog").exists() && dir.path().join("run/audit.json").exists());
}
