//! A CQL node that dies mid-run: the run completes, counts the errors, and writes its
//! report. It stops and restarts the node through scripts/services, so it is a test
//! binary of its own (cargo runs test binaries one at a time).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

fn services(action: &str) {
    let out = Command::new(common::root().join("scripts/services"))
        .args([action, "cassandra"])
        .output()
        .expect("scripts/services");
    assert!(
        out.status.success(),
        "services {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn node_stopped_mid_run_leaves_a_completed_run_with_errors_counted() {
    common::require_cassandra();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let ks = common::unique_topic("eventbench_test_fault").replace('.', "_");
    let scenario = common::root().join("scenarios/store-write.toml");
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
            "workload.writers.rate=500",
        ])
        .args([
            "--set",
            "target.scylla.request_timeout=1s",
            "--set",
            &format!("target.scylla.keyspace={ks}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(4));
    services("down");
    let res = child.wait_with_output().expect("wait");
    services("up");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(0), "the run completes; stderr {stderr}");
    let s: serde_json::Value = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("report written");
    let w = &s["workloads"]["writers"];
    let ok = w["ok"].as_u64().unwrap_or(0);
    let errors: u64 = w["errors"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    assert!(ok > 1_000, "ok {ok}");
    assert!(errors > 1_000, "errors {errors}: {}", w["errors"]);
    assert!(w["stages"]["failed"]["count"].as_u64().unwrap_or(0) > 0);
    let intervals = eventbench::stats::hlog::read(&out.join("latency.hlog")).expect("hlog");
    assert!(intervals.iter().any(|i| i.tag == "writers.failed"));
}
