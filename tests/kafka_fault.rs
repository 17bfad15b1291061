//! A broker that dies mid-run: the run still completes, counts the errors, and writes
//! its report. This stops and restarts the broker through scripts/services, so it is
//! a test binary of its own (cargo runs test binaries one at a time).

mod common;

use std::time::Duration;

#[test]
fn broker_stopped_mid_run_leaves_a_completed_run_with_errors_counted() {
    common::require_kafka();
    let topic = common::unique_topic("eventbench.test.fault");
    let sets: Vec<String> = [
        "duration=10s",
        "warmup=1s",
        "drain=4s",
        "workload.producers.rate=1000",
        "target.kafka.timeout=3s",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("target.topics.events={topic}")])
    .collect();
    let (code, stderr, s, dir) = common::run_with_outage(
        "scenarios/kafka-produce.toml",
        &sets,
        "kafka",
        Duration::from_secs(4),
        None,
    );
    assert_eq!(code, Some(0), "the run completes; stderr {stderr}");
    let p = &s["workloads"]["producers"];
    let ok = p["ok"].as_u64().unwrap_or(0);
    let timeouts = p["errors"]["timeout"].as_u64().unwrap_or(0);
    // About 3 s of good produces before the stop; after it, deliveries time out.
    assert!(ok > 1_500, "ok {ok}");
    assert!(timeouts > 1_000, "timeouts {timeouts}, errors {}", p["errors"]);
    // Nothing measured before the stop is lost from the report.
    assert!(p["stages"]["produce"]["count"].as_u64().unwrap_or(0) >= ok);
    let intervals = eventbench::stats::hlog::read(&dir.path().join("run/latency.hlog")).expect("hlog");
    assert!(
        intervals.iter().any(|i| i.tag == "producers.failed"),
        "failed operations are in the interval log"
    );
}
