//! `eventbench compare` on this noisy 2-core machine: two runs of the same build are
//! "no significant change"; a store 20% slower is "slower" and fails
//! `--fail-on-regression`, unless a `--limit` allows that much.

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

    let (code, out, err) = common::eventbench(&["compare", &a, &b, "--fail-on-regression"]);
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(out.contains("verdict: no significant change (0 regressions)"), "{out}");

    let (code, out, _) = common::eventbench(&["compare", &a, &slow, "--fail-on-regression", "--format", "json"]);
    assert_eq!(code, Some(3), "{out}");
    let c: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(c["verdict"], "slower");
    let p50 = c["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["stage"] == "persist" && r["stat"] == "p50")
        .expect("persist p50")
        .clone();
    assert_eq!(p50["verdict"], "slower", "{p50}");
    let change = p50["change"].as_f64().unwrap_or(0.0);
    assert!((0.12..0.30).contains(&change), "about +20%: {change}");

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
}
