//! The binary as users meet it: a run writes its report directory, `gen` emits what
//! the decoders accept, and an interrupted run still writes what it measured.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eventbench::model::{Event, EventMeta, EventStoreQuery, KafkaResponse, Strictness};
use eventbench::stats::hlog;

fn quickstart_args(out: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "run".into(),
        common::root().join("scenarios/quickstart.toml").display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--quiet".into(),
    ];
    for e in extra {
        v.push("--set".into());
        v.push(e.to_string());
    }
    v
}

#[test]
fn quickstart_run_writes_a_complete_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let args = quickstart_args(&out, &["duration=4s", "warmup=1s", "workload.producers.rate=5000"]);
    let res = Command::new(common::bin()).args(&args).output().expect("spawn");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert_eq!(
        res.status.code(),
        Some(0),
        "stdout {stdout} stderr {}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        stdout.contains("producers (produce)") && stdout.contains("e2e.persisted") && stdout.contains("audit"),
        "{stdout}"
    );

    let summary: serde_json::Value = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("json");
    assert_eq!(summary["schema_version"], 2);
    assert_eq!(summary["audit"]["lost"], 0, "the quickstart pipeline is audited");
    assert_eq!(summary["scenario"]["name"], "quickstart");
    assert!(summary["host"]["cpus"].as_u64().unwrap_or(0) >= 1);
    let p = &summary["workloads"]["producers"];
    assert!(p["stages"]["produce"]["count"].as_u64().unwrap_or(0) > 10_000);
    assert!(p["stages"]["e2e.persisted"]["count"].as_u64().unwrap_or(0) > 10_000);
    for key in [
        "count", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns",
    ] {
        assert!(p["stages"]["e2e.persisted"].get(key).is_some(), "missing {key}");
    }
    let (target, achieved) = (
        p["target_rate"].as_f64().unwrap_or(0.0),
        p["achieved_rate"].as_f64().unwrap_or(0.0),
    );
    assert!(
        (achieved - target).abs() <= 0.01 * target,
        "achieved {achieved} vs target {target}"
    );
    assert_eq!(p["unanswered"], 0);
    assert_eq!(summary["services"]["persistence"]["malformed"], 0);

    // The trend tools' files hold the summary's own numbers: BMF benchmark -> measure ->
    // value; benchmark-action a list of name, unit, value (smaller is better).
    let bmf: serde_json::Value = serde_json::from_str(&common::read(&out.join("bmf.json"))).expect("bmf");
    let p50 = &bmf["producers.e2e.persisted"]["p50"];
    assert_eq!(
        p50["value"].as_f64(),
        p["stages"]["e2e.persisted"]["p50_ns"].as_f64(),
        "{bmf}"
    );
    assert!(
        p50.get("lower_value").is_none(),
        "nothing censored: no lower bound {p50}"
    );
    assert_eq!(bmf["producers.errors"]["share"]["value"].as_f64(), Some(0.0), "{bmf}");
    let action: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("benchmark-action.json"))).expect("benchmark-action");
    let entry = action
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "producers.e2e.persisted p99"))
        .unwrap_or_else(|| panic!("{action}"));
    assert_eq!(entry["unit"], "ns");
    assert_eq!(entry["value"].as_f64(), p["stages"]["e2e.persisted"]["p99_ns"].as_f64());

    // The interval log reads back, with one line per stage per interval.
    let intervals = hlog::read(&out.join("latency.hlog")).expect("hlog");
    let e2e: Vec<_> = intervals
        .iter()
        .filter(|i| i.tag == "producers.e2e.persisted")
        .collect();
    assert!(e2e.len() >= 4, "{} e2e intervals", e2e.len());
    let logged: u64 = e2e.iter().map(|i| i.histogram.len()).sum();
    // The log holds warmup too, so at least the summary's count.
    assert!(logged >= p["stages"]["e2e.persisted"]["count"].as_u64().unwrap_or(u64::MAX));
}

#[test]
fn gen_output_decodes_with_the_same_rules() {
    for kind in ["event", "query", "response", "meta"] {
        let out = Command::new(common::bin())
            .args(["gen", "--count", "200", "--seed", "9", "--kind", kind])
            .output()
            .expect("spawn");
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).expect("utf8");
        assert_eq!(text.lines().count(), 200);
        for line in text.lines() {
            let mut again = Vec::new();
            match kind {
                "event" => {
                    let e = Event::decode(line.as_bytes(), Strictness::Strict).expect("event decodes strictly");
                    assert!((1..=127).contains(&e.aggregate_id));
                    e.encode_into(&mut again);
                }
                "query" => EventStoreQuery::decode(line.as_bytes(), Strictness::Strict)
                    .expect("query")
                    .encode_into(&mut again),
                "response" => {
                    let r = KafkaResponse::decode(line.as_bytes(), Strictness::Strict).expect("response");
                    let input = r.input.as_deref().expect("input");
                    Event::decode(input, Strictness::Strict).expect("input is an event");
                    r.encode_into(&mut again);
                }
                _ => EventMeta::decode(line.as_bytes(), Strictness::Strict)
                    .expect("meta")
                    .encode_into(&mut again),
            }
            // Re-encoding what we decoded gives the same bytes: gen wrote canonical Go JSON.
            assert_eq!(String::from_utf8(again).expect("utf8"), line);
        }
    }
    // Same seed, same output.
    let a = Command::new(common::bin())
        .args(["gen", "--count", "50", "--seed", "3"])
        .output()
        .expect("spawn");
    let b = Command::new(common::bin())
        .args(["gen", "--count", "50", "--seed", "3"])
        .output()
        .expect("spawn");
    let strip = |o: &[u8]| -> Vec<String> {
        // Timestamps follow the wall clock; everything else is the seed's.
        String::from_utf8_lossy(o)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["timestamp"] = serde_json::Value::Null;
                v["year_bucket"] = serde_json::Value::Null;
                v["correlation_id"] = serde_json::Value::Null;
                v.to_string()
            })
            .collect()
    };
    assert_eq!(strip(&a.stdout), strip(&b.stdout));
}

#[test]
fn sigint_stops_the_run_and_keeps_the_report() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let args = quickstart_args(&out, &["duration=60s", "warmup=1s", "workload.producers.rate=2000"]);
    let child = Command::new(common::bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(3500));
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let res = child.wait_with_output().expect("wait");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?} to stop",
        started.elapsed()
    );
    assert_eq!(
        res.status.code(),
        Some(130),
        "stderr {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary written");
    assert_eq!(summary["interrupted"], "SIGINT");
    let p = &summary["workloads"]["producers"];
    // About 2.5 s measured at 2,000/s.
    let n = p["stages"]["produce"]["count"].as_u64().unwrap_or(0);
    assert!((3_000..7_000).contains(&n), "produce count {n}");
    assert!(summary["measured_s"].as_f64().unwrap_or(0.0) < 5.0);
    assert!(
        p["target_rate"].as_f64().unwrap_or(0.0) > 1_900.0,
        "target follows the time actually run"
    );
    let intervals = hlog::read(&out.join("latency.hlog")).expect("hlog");
    assert!(intervals.iter().filter(|i| i.tag == "producers.produce").count() >= 3);
}

#[test]
fn start_at_is_checked_and_a_passed_one_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let scenario = common::root().join("scenarios/quickstart.toml");
    let scenario = scenario.to_str().expect("utf8");
    let out = out.to_str().expect("utf8");
    let (code, _, err) = common::eventbench(&["run", scenario, "--quiet", "--out", out, "--start-at", "soon"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--start-at"), "{err}");
    // A time that has passed: the shards would not share an origin, so it is refused.
    let (code, _, err) = common::eventbench(&[
        "run",
        scenario,
        "--quiet",
        "--out",
        out,
        "--start-at",
        "2020-01-01T00:00:00Z",
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--start-at was") && err.contains("ago"), "{err}");
}
