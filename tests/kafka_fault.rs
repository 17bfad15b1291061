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
    // The run completes and writes its report; it is not healthy, and says which
    // side was the limit: exit 4, not a silent pass.
    assert_eq!(code, Some(4), "the run completes, unhealthy; stderr {stderr}");
    let p = &s["workloads"]["producers"];
    assert_eq!(p["health"], "target-saturated", "{}", p["health_reason"]);
    // Every operation has one outcome: ok, an error, or censored.
    let errors: u64 = p["errors"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    assert_eq!(
        p["ok"].as_u64().unwrap_or(0) + errors + p["censored"].as_u64().unwrap_or(0),
        p["ops"].as_u64().unwrap_or(0),
        "{p}"
    );
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
