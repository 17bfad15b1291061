//! A broker that dies mid-run: the run still completes, counts the errors, and writes
//! its report. This stops and restarts the broker through scripts/services, so it is
//! a test binary of its own (cargo runs test binaries one at a time).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

fn services(action: &str) {
    let out = Command::new(common::root().join("scripts/services"))
        .args([action, "kafka"])
        .output()
        .expect("scripts/services");
    assert!(
        out.status.success(),
        "services {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn broker_stopped_mid_run_leaves_a_completed_run_with_errors_counted() {
    common::require_kafka();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let topic = common::unique_topic("eventbench.test.fault");
    let scenario = common::root().join("scenarios/kafka-produce.toml");
    let child = Command::new(common::bin())
        .args([
            "run",
            scenario.to_str().expect("utf8"),
            "--quiet",
            "--out",
            out.to_str().expect("utf8"),
        ])
        .args([
            "--set",
            "duration=10s",
            "--set",
            "warmup=1s",
            "--set",
            "drain=4s",
            "--set",
            "workload.producers.rate=1000",
        ])
        .args([
            "--set",
            "target.kafka.timeout=3s",
            "--set",
            &format!("target.topics.events={topic}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(4));
    services("down");
    let res = child.wait_with_output().expect("wait");
    // Bring the broker back for whatever runs next, before asserting anything.
    services("up");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(0), "the run completes; stderr {stderr}");
    let s: serde_json::Value = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("report written");
    let p = &s["workloads"]["producers"];
    let ok = p["ok"].as_u64().unwrap_or(0);
    let timeouts = p["errors"]["timeout"].as_u64().unwrap_or(0);
    // About 3 s of good produces before the stop; after it, deliveries time out.
    assert!(ok > 1_500, "ok {ok}");
    assert!(timeouts > 1_000, "timeouts {timeouts}, errors {}", p["errors"]);
    // Nothing measured before the stop is lost from the report.
    assert!(p["stages"]["produce"]["count"].as_u64().unwrap_or(0) >= ok);
    let intervals = eventbench::stats::hlog::read(&out.join("latency.hlog")).expect("hlog");
    assert!(
        intervals.iter().any(|i| i.tag == "producers.failed"),
        "failed operations are in the interval log"
    );
}
