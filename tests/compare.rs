//! `eventbench compare` on this noisy 2-core machine: two runs of the same build are
//! never "slower" or "faster" (at a 10% floor, so a busy core cannot flake the suite;
//! scripts/compare-power measures the default's false-positive rate); a store 20%
//! slower is "slower" and fails `--fail-on-regression`, unless a `--limit` allows that
//! much with confidence; several runs per side; a vanished stage is a row.

mod common;

const SCENARIO: &str = r#"
name = "cmp"
duration = "10s"
warmup = "1s"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "lognormal", median = "1ms", p99 = "3ms" }

[workload.writers]
kind = "persist"
rate = 500
"#;

fn run(dir: &std::path::Path, name: &str, sets: &[&str]) -> String {
    let (code, stdout, stderr, out) = common::run_scenario(dir, name, SCENARIO, sets);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    out.to_str().expect("utf8").to_string()
}

#[test]
fn same_build_is_no_change_and_a_slower_store_is_a_regression() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = run(dir.path(), "a", &[]);
    let b = run(dir.path(), "b", &[]);
    let slow = run(
        dir.path(),
        "slow",
        &[r#"target.memory_store.service_time={dist="lognormal",median="1.2ms",p99="3.6ms"}"#],
    );

    let (code, out, err) = common::eventbench(&["compare", &a, &b, "--fail-on-regression", "--noise", "10%"]);
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(
        out.contains("verdict: no change (0 regressions") || out.contains("verdict: inconclusive (0 regressions"),
        "{out}"
    );

    let (code, out, _) = common::eventbench(&["compare", &a, &slow, "--fail-on-regression", "--format", "json"]);
    assert_eq!(code, Some(6), "a regression exits 6: {out}");
    let c: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(c["verdict"], "slower");
    assert!(c["regressions"].as_u64().unwrap_or(0) >= 2, "{out}");
    let p50 = c["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["stage"] == "persist" && r["stat"] == "p50")
        .expect("persist p50")
        .clone();
    assert_eq!(p50["verdict"], "slower", "{p50}");
    assert_eq!(p50["gate"], "regression", "{p50}");
    let change = p50["change"].as_f64().unwrap_or(0.0);
    assert!((0.12..0.30).contains(&change), "about +20%: {change}");
    let (lo, hi) = (
        p50["ci"][0].as_f64().unwrap_or(9.0),
        p50["ci"][1].as_f64().unwrap_or(-9.0),
    );
    assert!(lo > 0.0 && lo <= change && change <= hi, "{p50}");
    // Errors are a row too (an open workload has no throughput row: its ok/s is
    // the schedule's): no errors either side.
    let rows = c["rows"].as_array().expect("rows");
    let errors = rows.iter().find(|r| r["stage"] == "errors").expect("errors row");
    assert!(
        errors["verdict"] != "slower" && errors["verdict"] != "faster",
        "{errors}"
    );
    assert!(!rows.iter().any(|r| r["stage"] == "throughput"), "open workload: {out}");

    // Several runs per side, both spellings; the spread between a and b is in the interval.
    // After `--` every word is a candidate, so flags go first there.
    let spellings: [Vec<&str>; 2] = [
        vec!["compare", "--format", "json", &a, &b, "--", &slow],
        vec![
            "compare",
            "--baseline",
            &a,
            "--baseline",
            &b,
            "--candidate",
            &slow,
            "--format",
            "json",
        ],
    ];
    for args in spellings {
        let (code, out, err) = common::eventbench(&args);
        assert_eq!(code, Some(0), "{out} {err}");
        let c: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(c["baselines"].as_array().map(Vec::len), Some(2), "{out}");
        assert_eq!(c["verdict"], "slower", "{out}");
    }

    // A stage the candidate lost is a row that a strict gate fails on.
    let lost = dir.path().join("lost");
    std::fs::create_dir_all(&lost).expect("mkdir");
    let summary = std::fs::read_to_string(std::path::Path::new(&slow).join("summary.json")).expect("summary");
    let mut j: serde_json::Value = serde_json::from_str(&summary).expect("json");
    j["workloads"]["writers"]["stages"]
        .as_object_mut()
        .expect("stages")
        .remove("persist.service");
    std::fs::write(lost.join("summary.json"), j.to_string()).expect("write");
    let lost = lost.join("summary.json");
    let lost = lost.to_str().expect("utf8");
    let (code, out, _) = common::eventbench(&["compare", &a, lost, "--noise", "50%", "--fail-on-inconclusive"]);
    assert_eq!(code, Some(6), "a regression exits 6: {out}");
    assert!(out.contains("only in the baseline"), "{out}");

    // Limits that allow the slowdown turn the regressions off; Markdown for CI.
    let (code, out, _) = common::eventbench(&[
        "compare",
        &a,
        &slow,
        "--fail-on-regression",
        "--noise",
        "10%",
        "--limit",
        "persist.p50=50%",
        "--limit",
        "persist.p90=50%",
        "--limit",
        "persist.p99=200%",
        "--limit",
        "persist.p999=500%",
        "--limit",
        "persist.service.p50=50%",
        "--limit",
        "persist.service.p90=50%",
        "--limit",
        "persist.service.p99=200%",
        "--limit",
        "persist.service.p999=500%",
        "--format",
        "markdown",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("## eventbench compare: slower") && out.contains("| writers | persist | p50 |"),
        "{out}"
    );

    // Bad input is an error, not a panic.
    let (code, _, err) = common::eventbench(&["compare", &a, "/nonexistent/run"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/run"), "{err}");
    let (code, _, err) = common::eventbench(&["compare", &a]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("BASELINE CANDIDATE"), "{err}");
}
