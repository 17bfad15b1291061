//! Thresholds give CI a verdict: a table on stdout, exit code 3 when one fails,
//! `junit.xml` with a test case per threshold, `summary.md` for a job summary, and an
//! abort when a watched threshold stays breached.

mod common;

/// A store that takes 2 ms: p99 of `persist` (a read and an insert) is above 4 ms.
const SLOW: &str = r#"
name = "gate"
duration = "4s"
warmup = "1s"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "fixed", value = "2ms" }

[workload.writers]
kind = "persist"
rate = 300

[thresholds]
"writers.persist.p50" = "< 1s"
"writers.errors.rate" = "< 0.1%"
"writers.achieved_rate" = ">= 99% of target"
"writers.persist.p99" = "< 1ms"
"#;

fn run(text: &str, sets: &[&str]) -> (Option<i32>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, stdout, _, _) = common::run_scenario(dir.path(), "run", text, sets);
    (code, stdout, dir)
}

#[test]
fn a_failed_threshold_exits_3_with_a_table_junit_and_a_job_summary() {
    let (code, stdout, dir) = run(SLOW, &[]);
    assert_eq!(code, Some(3), "a failed threshold exits 3: {stdout}");
    assert!(stdout.contains("FAIL  writers.persist.p99"), "{stdout}");
    assert!(stdout.contains("pass  writers.persist.p50"), "{stdout}");
    let junit = common::read(&dir.path().join("run/junit.xml"));
    assert!(junit.contains(r#"tests="4" failures="1""#), "{junit}");
    assert!(
        junit.contains(r#"name="writers.persist.p99 &lt; 1ms">"#) && junit.contains("<failure message=\"actual "),
        "{junit}"
    );
    let md = common::read(&dir.path().join("run/summary.md"));
    assert!(
        md.contains("(FAILED: thresholds)") && md.contains("| `writers.persist.p99` | `< 1ms` |"),
        "{md}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&dir.path().join("run/summary.json"))).expect("json");
    let failed: Vec<_> = summary["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .filter(|v| v["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1);

    // The same run with only conditions it meets passes with 0.
    let (code, stdout, _d) = run(SLOW, &[r#"thresholds."writers.persist.p99"=< 1s"#]);
    assert_eq!(code, Some(0), "{stdout}");
}

#[test]
fn a_sustained_breach_aborts_the_run_early_and_still_writes_the_report() {
    let (code, stdout, dir) = run(
        SLOW,
        &[
            "duration=30s",
            r#"thresholds."writers.persist.p99"={check="< 1ms",abort_after="2s"}"#,
        ],
    );
    assert_eq!(code, Some(7), "an abort exits 7: {stdout}");
    assert!(
        stdout.contains("ABORTED: threshold writers.persist.p99 < 1ms breached for"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&dir.path().join("run/summary.json"))).expect("json");
    let elapsed = summary["elapsed_s"].as_f64().unwrap_or(99.0);
    assert!(elapsed < 10.0, "stopped after about 3 s, not 30: {elapsed}");
    assert!(summary["aborted"].is_string());
    assert!(summary["workloads"]["writers"]["ok"].as_u64().unwrap_or(0) > 300);
}
