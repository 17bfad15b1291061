//! `eventbench capacity` against a target of known capacity: an in-process store with
//! 4 servers of exactly 1 ms each serves 4,000 requests/s, and a persist is 2 requests
//! (meta read, insert), so the workload's capacity is N = 2,000/s. The search must
//! find it within its precision, from below (a ladder up) and from above (a start that
//! fails, then a ladder down), and say so in a report with the curve.

mod common;

const SCENARIO: &str = r#"
name = "known-capacity"
duration = "10s"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "fixed", value = "1ms" }
concurrency = 4

[workload.writers]
kind = "persist"
rate = 100
max_in_flight = 4096
"#;

#[test]
fn capacity_finds_a_known_capacity_within_its_precision_from_below_and_above() {
    for start in ["300", "5000"] {
        search_from(start);
    }
}

/// `eventbench capacity` on `scenario` in `dir` (SLO persist.p99 < 20ms, 3 s steps after
/// 1 s of warmup, one repeat of each boundary): it must finish with exit 0. Returns
/// capacity.json, stdout and the output directory.
fn capacity(
    dir: &std::path::Path,
    scenario: &str,
    start: &str,
    precision: &str,
) -> (serde_json::Value, String, std::path::PathBuf) {
    capacity_with(dir, scenario, start, precision, "persist.p99 < 20ms", "3s")
}

/// The same with the SLO and the step's measured time given.
fn capacity_with(
    dir: &std::path::Path,
    scenario: &str,
    start: &str,
    precision: &str,
    slo: &str,
    step: &str,
) -> (serde_json::Value, String, std::path::PathBuf) {
    let path = dir.join("cap.toml");
    std::fs::write(&path, scenario).expect("write");
    let out = dir.join("cap");
    let (code, stdout, stderr) = common::eventbench(&[
        "capacity",
        path.to_str().expect("utf8"),
        "--slo",
        slo,
        "--start",
        start,
        "--precision",
        precision,
        "--step",
        step,
        "--step-warmup",
        "1s",
        "--repeat",
        "1",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let c = serde_json::from_str(&common::read(&out.join("capacity.json"))).expect("json");
    (c, stdout, out)
}

fn search_from(start: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let (c, stdout, out) = capacity(dir.path(), SCENARIO, start, "5%");
    let (lo, hi) = (
        c["sustainable_rate"].as_f64().expect("sustainable"),
        c["failing_rate"].as_f64().expect("failing"),
    );
    const N: f64 = 2000.0;
    assert!((hi - lo) / lo <= 0.05 + 1e-9, "converged: {lo} .. {hi}");
    // One hiccup near capacity once failed a step at 97.5% of N (p99 20.8 ms against
    // 20 ms, in a full suite here) and the answer came out a precision step low; now a
    // boundary its repeats contradict reopens the search, so the answer stays within 5%.
    assert!(
        (N * 0.95..=N * 1.001).contains(&lo),
        "sustainable {lo} within 5% below N: {stdout}"
    );
    assert!(
        (N * 0.999..=N * 1.05 / 0.95).contains(&hi),
        "failing {hi} near N: {stdout}"
    );
    // The capacity as an interval, from every counted step: it covers N (the measured
    // capacity can sit a little under N: the store's servers are timer-paced).
    let (ilo, ihi) = (
        c["interval"]["lo"].as_f64().expect("interval lo"),
        c["interval"]["hi"].as_f64().expect("interval hi"),
    );
    assert!(
        ilo <= N && ihi >= 0.98 * N,
        "interval [{ilo}, {ihi}] covers N: {stdout}"
    );
    assert!(stdout.contains("95% interval ["), "{stdout}");
    let steps = c["steps"].as_array().expect("steps");
    assert!(steps.iter().any(|s| s["phase"] == "repeat"), "boundary repeated");
    if start == "5000" {
        assert_eq!(steps[0]["passed"], false, "started above N: {stdout}");
    }
    // The steady-state cut never drops more than its documented share.
    for s in steps {
        let share = s["cut_share"].as_f64().expect("cut_share");
        assert!((0.0..=0.25 + 1e-9).contains(&share), "{s}");
    }
    assert!(steps
        .iter()
        .all(|s| s["passed"] == true || !s["reasons"].as_array().expect("reasons").is_empty()));
    let html = common::read(&out.join("capacity.html"));
    assert!(
        html.contains(r#"id="curve""#) && html.contains(">knee<"),
        "curve with the knee"
    );
    assert!(stdout.contains("sustainable:"), "{stdout}");
}

/// A machine that holds the whole process once (a VM paused 300 ms, here a `SIGSTOP` of
/// eventbench by a scheduled fault's command, the first time any step reaches 2.5 s)
/// fails the step it lands in, at half of N. That run is evidence about the host, not
/// the target: the search sets it aside with the meter's evidence, runs the rate again,
/// and finds N as if the pause had not happened. Counted, the pause would have put the
/// answer below 1,000/s (the ladder halving from the first step).
#[test]
fn a_step_the_host_held_is_run_again_and_does_not_decide_the_rate() {
    let dir = tempfile::tempdir().expect("tmp");
    let mark = dir.path().join("paused-once");
    let scenario = format!(
        "{SCENARIO}\n[[fault]]\nat = \"2500ms\"\nrun = \"[ -e '{}' ] || {{ touch '{}'; kill -STOP $PPID; sleep 0.3; kill -CONT $PPID; }}\"\n",
        mark.display(),
        mark.display()
    );
    let (c, stdout, _) = capacity(dir.path(), &scenario, "1000", "10%");
    assert!(mark.exists(), "the pause ran");
    let steps = c["steps"].as_array().expect("steps");
    // The paused run is the first; a later failing step may be set aside too when this
    // machine stalls on its own (a failure at or above N: the search goes on the same).
    let held = &steps[0];
    assert_eq!(held["rate"].as_f64(), Some(1000.0), "{held}");
    let aside_at = |rate: f64| {
        steps
            .iter()
            .filter(|s| s.get("set_aside").is_some() && s["rate"].as_f64() == Some(rate))
            .count()
    };
    assert_eq!(
        aside_at(1000.0),
        1,
        "the paused run, and only it, set aside at 1,000/s: {stdout}"
    );
    assert_eq!(held["passed"], false, "the pause failed it: {held}");
    assert!(held["host_stalls"].as_u64().expect("host_stalls") >= 1, "{held}");
    assert!(
        held["set_aside"].as_str().expect("why").contains("hiccup meter"),
        "{held}"
    );
    // The same rate ran again, passed, and decided: the ladder went on up.
    let after = &steps[1];
    assert_eq!(
        (after["rate"].as_f64(), &after["passed"]),
        (Some(1000.0), &serde_json::json!(true)),
        "{after}"
    );
    let lo = c["sustainable_rate"].as_f64().expect("sustainable");
    assert!(
        lo >= 1500.0,
        "sustainable {lo} near N = 2,000, not below the paused rate: {stdout}"
    );
    assert!(stdout.contains("set aside, run again"), "the report shows it: {stdout}");
}

/// However loose the SLO and however short the step, no search passes a rate 3% or more
/// above the capacity: past it the backlog grows through the step (at 2,060/s, by 60
/// operations a second), and the trend fails the step before the queue reaches the SLO.
#[test]
fn a_loose_slo_and_a_short_step_do_not_pass_an_overloaded_rate() {
    for step in ["1s", "3s"] {
        let dir = tempfile::tempdir().expect("tmp");
        let (c, stdout, _) = capacity_with(dir.path(), SCENARIO, "1000", "2%", "persist.p99 < 10s", step);
        let lo = c["sustainable_rate"].as_f64().expect("sustainable");
        assert!(lo < 2000.0 * 1.03, "--step {step}: passed {lo}/s: {stdout}");
        let steps = c["steps"].as_array().expect("steps");
        let grown = steps
            .iter()
            .filter(|s| s["causes"].as_array().is_some_and(|c| c.iter().any(|c| c == "growing")));
        assert!(grown.count() >= 1, "--step {step}: the trend failed a step: {stdout}");
    }
}
