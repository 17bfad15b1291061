//! A CQL node that dies mid-run: the run completes, counts the errors, and writes its
//! report. It stops and restarts the node through scripts/services, so it is a test
//! binary of its own (cargo runs test binaries one at a time).

mod common;

use std::time::Duration;

#[test]
fn node_stopped_mid_run_leaves_a_completed_run_with_errors_counted() {
    common::require_cassandra();
    let ks = common::unique_topic("eventbench_test_fault").replace('.', "_");
    let sets: Vec<String> = [
        "duration=10s",
        "warmup=1s",
        "drain=4s",
        "workload.writers.rate=500",
        "target.scylla.request_timeout=1s",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("target.scylla.keyspace={ks}")])
    .collect();
    let (code, stderr, s, dir) = common::run_with_outage(
        "scenarios/store-write.toml",
        &sets,
        "cassandra",
        Duration::from_secs(4),
        None,
    );
    assert_eq!(code, Some(4), "the run completes, unhealthy; stderr {stderr}");
    let w = &s["workloads"]["writers"];
    assert_eq!(w["health"], "target-saturated", "{}", w["health_reason"]);
    let ok = w["ok"].as_u64().unwrap_or(0);
    let errors: u64 = w["errors"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    assert!(ok > 1_000, "ok {ok}");
    assert!(errors > 1_000, "errors {errors}: {}", w["errors"]);
    assert!(w["stages"]["failed"]["count"].as_u64().unwrap_or(0) > 0);
    let intervals = eventbench::stats::hlog::read(&dir.path().join("run/latency.hlog")).expect("hlog");
    assert!(intervals.iter().any(|i| i.tag == "writers.failed"));
}
