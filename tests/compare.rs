//! `eventbench compare` on this noisy 2-core machine judges a change against how much
//! runs of one build differ, never against a run's own intervals alone:
//! - one run per side, no history: nothing is called from noise (A/A never fails the
//!   gate; +20% is "inconclusive"), but a 3x slower store still is `slower`;
//! - several runs per side (`run --repeat`) or a history (`--history`): a store 20%
//!   slower is `slower` and fails `--fail-on-regression`, unless a `--limit` allows it;
//! - the shipped CI scenario, A/A with one run per side, never fails the gate;
//! - runs made alternately (`compare --paired`): a 1.5x store fails the gate, the same
//!   build does not;
//! - a vanished stage is a row; bad input exits 2.

mod common;

const SCENARIO: &str = r#"
name = "cmp"
duration = "6s"
warmup = "1s"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "lognormal", median = "1ms", p99 = "3ms" }

[workload.writers]
kind = "persist"
rate = 500
"#;

/// A run finished: exit 0, or 9 when the host held it (hypervisor steal or other
/// processes, told with the hiccup meter's evidence; seen in a full suite here with 0.71
/// cores stolen). Such a run is still a run of this build: its noise is the gate's to judge.
fn ran(code: Option<i32>) -> bool {
    matches!(code, Some(0) | Some(9))
}

fn run(dir: &std::path::Path, name: &str, sets: &[&str]) -> String {
    let (code, stdout, stderr, out) = common::run_scenario(dir, name, SCENARIO, sets);
    assert!(ran(code), "exit {code:?}: {stdout} {stderr}");
    out.to_str().expect("utf8").to_string()
}

/// A run compare judges: remade (at most three runs) while `compare BASELINE RUN` leaves
/// it out as held by the host (its schedule lag p99 over 3x the baseline's and 1 ms: in
/// CI, two Cassandras and a Kafka just started stretched a 1 ms store to 2.3 ms and held
/// the 3x store's run). A held run is rightly not judged (`compare::tests::runs_the_host_held_are_left_out_of_either_side`); what
/// these tests check is the verdict on a run of the build.
fn unheld(baseline: &str, mut make: impl FnMut(&str) -> String, name: &str) -> String {
    let mut last = String::new();
    for attempt in 1..=3 {
        let path = make(&format!("{name}-{attempt}"));
        let (_, out, _) = common::eventbench(&["compare", baseline, &path, "--format", "json"]);
        if !out.contains("candidate run(s)") && !out.contains("nothing judged") {
            return path;
        }
        eprintln!("{name}: run {attempt} held by the host, remade");
        last = path;
    }
    last
}

/// Whether compare judged nothing because the host held the one baseline run (then it
/// must exit 9, never pass or fail the gate): the assertions on verdicts are skipped.
fn baseline_held(code: Option<i32>, out: &str) -> bool {
    let held = out.contains("the host held baseline run");
    if held {
        assert_eq!(code, Some(9), "a held baseline must not decide the gate: {out}");
        eprintln!("the host held the baseline run: nothing judged, as it should be");
    }
    held
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn row<'a>(c: &'a serde_json::Value, stage: &str, stat: &str) -> &'a serde_json::Value {
    c["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["stage"] == stage && r["stat"] == stat)
        .unwrap_or_else(|| panic!("no {stage}.{stat} row: {c}"))
}

#[test]
fn same_build_is_no_change_and_a_slower_store_is_a_regression() {
    let dir = tempfile::tempdir().expect("tmp");
    // Three runs of the baseline in one directory: one side.
    let base = dir.path().join("repeats");
    let scenario = dir.path().join("base.toml");
    std::fs::write(&scenario, SCENARIO).expect("write scenario");
    let (code, out, err) = common::eventbench(&[
        "run",
        scenario.to_str().expect("utf8"),
        "--quiet",
        "--repeat",
        "3",
        "--out",
        base.to_str().expect("utf8"),
        "--history",
        dir.path().join("history").to_str().expect("utf8"),
        "--label",
        "main",
    ]);
    assert!(ran(code), "exit {code:?}: {out} {err}");
    assert!(base.join("run-3/summary.json").exists(), "{out}");
    let base = base.to_str().expect("utf8").to_string();
    let history = dir.path().join("history");
    let history = history.to_str().expect("utf8");
    let a = format!("{base}/run-1");
    let b = run(dir.path(), "b", &[]);
    let slow = unheld(
        &a,
        |n| {
            run(
                dir.path(),
                n,
                &[r#"target.memory_store.service_time={dist="lognormal",median="1.2ms",p99="3.6ms"}"#],
            )
        },
        "slow",
    );
    let slow3 = unheld(
        &a,
        |n| {
            run(
                dir.path(),
                n,
                &[r#"target.memory_store.service_time={dist="lognormal",median="3ms",p99="9ms"}"#],
            )
        },
        "slow3",
    );

    // One run per side: the noise is unknown, nothing is called.
    let (code, out, err) = common::eventbench(&["compare", &a, &b, "--fail-on-regression"]);
    if !baseline_held(code, &out) {
        assert_eq!(code, Some(0), "{out} {err}");
        assert!(out.contains("(0 regressions"), "{out}");
        assert!(out.contains("between-run noise unknown"), "{out}");
    }
    let (code, out, _) = common::eventbench(&["compare", &a, &slow, "--fail-on-regression", "--format", "json"]);
    if !baseline_held(code, &out) {
        assert_eq!(code, Some(0), "+20% with unknown noise is not a regression: {out}");
        let c = json(&out);
        assert_eq!(row(&c, "persist", "p50")["verdict"], "inconclusive", "{out}");
    }
    // ... but a 3x slower store is beyond any plausible noise.
    let (code, out, _) = common::eventbench(&["compare", &a, &slow3, "--fail-on-regression", "--format", "json"]);
    if !baseline_held(code, &out) {
        assert_eq!(code, Some(6), "{out}");
        assert_eq!(row(&json(&out), "persist", "p50")["verdict"], "slower", "{out}");
    }

    // Three runs a side: their spread is the noise; +20% is slower and fails the gate.
    let (code, out, _) = common::eventbench(&["compare", &base, &slow, "--fail-on-regression", "--format", "json"]);
    assert_eq!(code, Some(6), "a regression exits 6: {out}");
    let c = json(&out);
    assert_eq!(c["baselines"].as_array().map(Vec::len), Some(3), "{out}");
    assert_eq!(c["verdict"], "slower");
    let p50 = row(&c, "persist", "p50");
    assert_eq!(
        (&p50["verdict"], &p50["gate"], &p50["gated"]),
        (&"slower".into(), &"regression".into(), &true.into()),
        "{p50}"
    );
    let change = p50["change"].as_f64().unwrap_or(0.0);
    assert!((0.12..0.30).contains(&change), "about +20%: {change}");
    let (lo, hi) = (
        p50["ci"][0].as_f64().unwrap_or(9.0),
        p50["ci"][1].as_f64().unwrap_or(-9.0),
    );
    assert!(lo > 0.0 && lo <= change && change <= hi, "{p50}");
    assert!(p50["noise_dof"].as_u64() == Some(2), "three baseline runs: {p50}");
    // Errors are a row too (an open workload has no throughput row: its ok/s is the
    // schedule's): no errors either side.
    let errors = row(&c, "errors", "share");
    assert!(
        errors["verdict"] != "slower" && errors["verdict"] != "faster",
        "{errors}"
    );
    assert!(
        !c["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["stage"] == "throughput"),
        "open workload: {out}"
    );
    // A row outside the gate is judged but fails nothing.
    assert_eq!(row(&c, "persist.service", "p50")["gated"], false, "{out}");

    // The history as the baseline and the noise model: the same build passes, +20% fails.
    let (code, out, err) = common::eventbench(&["compare", "--history", history, &b, "--fail-on-regression"]);
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(
        out.contains("noise: between-run spread of the sides' own runs (3 and 1)"),
        "{out}"
    );
    let (code, out, _) = common::eventbench(&["compare", "--history", history, &slow, "--fail-on-regression"]);
    assert_eq!(code, Some(6), "{out}");

    // Both spellings of several runs per side.
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
        assert_eq!(json(&out)["baselines"].as_array().map(Vec::len), Some(2), "{out}");
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
    let (code, out, _) = common::eventbench(&["compare", &base, lost, "--noise", "50%", "--fail-on-inconclusive"]);
    assert_eq!(code, Some(6), "a regression exits 6: {out}");
    assert!(out.contains("only in the baseline"), "{out}");

    // Limits that allow the slowdown turn the regressions off; Markdown for CI. (The 3x
    // store: with three baseline runs a +20% one is slower only as often as the power
    // allows, and once came out inconclusive on this machine.)
    let (code, out, _) = common::eventbench(&[
        "compare",
        &base,
        &slow3,
        "--fail-on-regression",
        "--noise",
        "10%",
        "--limit",
        "persist.p50=500%",
        "--limit",
        "persist.p90=500%",
        "--limit",
        "persist.p99=1000%",
        "--limit",
        "persist.p999=2000%",
        "--limit",
        "persist.service.p50=500%",
        "--limit",
        "persist.service.p90=500%",
        "--limit",
        "persist.service.p99=1000%",
        "--limit",
        "persist.service.p999=2000%",
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
    let (code, _, err) = common::eventbench(&["compare", "--history", "/nonexistent/history", &b]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no healthy run"), "{err}");
}

/// The shipped CI scenario as the guide's CI jobs first run it: one baseline run, one
/// candidate, no history yet. Runs of one build must never fail the gate, whatever
/// their spread; a store three times slower must.
#[test]
fn the_shipped_ci_scenario_a_a_never_fails_the_gate_and_a_3x_store_does() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = common::read(&common::root().join("scenarios/ci-regression.toml"));
    let go = |name: &str, sets: &[&str]| {
        let (code, out, err, path) = common::run_scenario(dir.path(), name, &text, sets);
        assert!(ran(code), "exit {code:?}: {out} {err}");
        path.to_str().expect("utf8").to_string()
    };
    let (a, b) = (go("a", &[]), go("b", &["seed=8"]));
    let slow = unheld(
        &a,
        |n| {
            go(
                n,
                &[r#"target.memory_store.service_time={dist="lognormal",median="600us",p99="3ms"}"#],
            )
        },
        "slow",
    );
    let (code, out, err) = common::eventbench(&["compare", &a, &b, "--fail-on-regression", "--format", "json"]);
    if baseline_held(code, &out) {
        return;
    }
    assert!(matches!(code, Some(0) | Some(9)), "A/A failed the gate: {out} {err}");
    let c = json(&out);
    let called: Vec<_> = c["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["verdict"] == "slower" || r["verdict"] == "faster")
        .collect();
    assert!(called.is_empty(), "A/A rows called: {called:?}");
    let (code, out, _) = common::eventbench(&["compare", &a, &slow, "--fail-on-regression", "--format", "json"]);
    if json(&out)["candidates_held"] == true {
        // Three runs in a row held (seen with both cores busy): the gate must not pass.
        assert_eq!(code, Some(9), "a held candidate passed the gate: {out}");
        return;
    }
    assert_eq!(code, Some(6), "a 3x store passed: {out}");
    assert_eq!(row(&json(&out), "e2e.persisted", "p50")["verdict"], "slower", "{out}");
}

/// The guide's pull-request recipe: base and change run alternately, each first in
/// half of the pairs, judged in pairs (`compare --paired`). A store 1.5x slower fails
/// the gate on the headline's p50; the same build does not; pairs whose baseline ran
/// first every time are named in the notes; sides of unequal length are refused.
#[test]
fn runs_made_alternately_are_judged_in_pairs() {
    let dir = tempfile::tempdir().expect("tmp");
    for side in ["base", "same", "slow"] {
        std::fs::create_dir_all(dir.path().join(side)).expect("mkdir");
    }
    let slow_store = r#"target.memory_store.service_time={dist="lognormal",median="1.5ms",p99="4.5ms"}"#;
    for i in 1..=3 {
        let seed = format!("seed={}", 20 + i);
        let slow = || {
            run(
                dir.path(),
                &format!("slow/run-{i}"),
                &["duration=3s", &seed, slow_store],
            )
        };
        // base before slow in odd pairs, after it in even ones; base always before same.
        if i % 2 == 0 {
            slow();
        }
        run(dir.path(), &format!("base/run-{i}"), &["duration=3s", &seed]);
        run(dir.path(), &format!("same/run-{i}"), &["duration=3s", &seed]);
        if i % 2 == 1 {
            slow();
        }
    }
    let side = |s: &str| dir.path().join(s).to_str().expect("utf8").to_string();
    let (code, out, err) = common::eventbench(&[
        "compare",
        "--paired",
        &side("base"),
        &side("slow"),
        "--fail-on-regression",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(6), "a 1.5x store passed in pairs: {out} {err}");
    let c = json(&out);
    let p50 = row(&c, "persist", "p50");
    assert_eq!(p50["verdict"], "slower", "{out}");
    assert_eq!(p50["noise_dof"], 2, "three pairs: two degrees of freedom: {out}");
    assert!(
        c["noise_source"].as_str().is_some_and(|s| s.contains("3 pairs")),
        "{out}"
    );
    assert!(!out.contains("ran first"), "the pairs alternated: {out}");
    let (code, out, err) = common::eventbench(&[
        "compare",
        "--paired",
        &side("base"),
        &side("same"),
        "--fail-on-regression",
    ]);
    assert_eq!(code, Some(0), "the same build failed in pairs: {out} {err}");
    assert!(
        out.contains("the baseline ran first in every one of the 3 pairs"),
        "{out}"
    );
    let (code, _, err) =
        common::eventbench(&["compare", "--paired", &side("base"), &format!("{}/run-1", side("slow"))]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("pairs need as many of each"), "{err}");
}
