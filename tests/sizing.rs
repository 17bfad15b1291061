//! `eventbench capacity --scale`: a sizing run on a target whose capacity follows the
//! Universal Scalability Law by construction (scenarios/scalability.toml: N servers of
//! 1 ms x (1 + 0.05 (N - 1) + 0.001 N (N - 1)), two requests a persist), and the errors
//! a sizing run must refuse before any load.

mod common;

use std::path::Path;

const SIGMA: f64 = 0.05;
const KAPPA: f64 = 0.001;

/// The scenario's capacity at `n` servers, persists/s.
fn truth(n: f64) -> f64 {
    n / (0.002 * (1.0 + SIGMA * (n - 1.0) + KAPPA * n * (n - 1.0)))
}

fn scenario() -> String {
    common::root().join("scenarios/scalability.toml").display().to_string()
}

fn sizing(out: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let scenario = scenario();
    let out = out.display().to_string();
    let mut args = vec![
        "capacity",
        scenario.as_str(),
        "--slo",
        "persist.p99 < 50ms",
        "--step",
        "1s",
        "--step-warmup",
        "1s",
        "--start",
        "500",
        "--out",
        out.as_str(),
    ];
    args.extend_from_slice(extra);
    common::eventbench(&args)
}

#[test]
fn a_sizing_run_fits_the_known_law_and_sizes_a_target_rate() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("plan");
    let resized = dir.path().join("resized");
    let resize = format!("echo {{size}} $EVENTBENCH_SIZE >> '{}'", resized.display());
    let (code, stdout, stderr) = sizing(
        &out,
        &[
            "--scale",
            "target.memory_store.concurrency=1,2,4,8",
            "--target-rate",
            "2500",
            "--resize",
            resize.as_str(),
        ],
    );
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    // The resize command ran before each size, in order, with the size both ways.
    assert_eq!(common::read(&resized), "1 1\n2 2\n4 4\n8 8\n");
    let plan: serde_json::Value = serde_json::from_str(&common::read(&out.join("plan.json"))).expect("json");
    let sizes = plan["sizes"].as_array().expect("sizes");
    assert_eq!(sizes.len(), 4);
    for s in sizes {
        let n = s["n"].as_f64().expect("n");
        let (lo, hi) = (s["lo"].as_f64().expect("lo"), s["hi"].as_f64().expect("hi"));
        // Each size's interval covers its capacity by construction (the servers are
        // timer-paced: a little under it at most).
        assert!(
            lo <= truth(n) * 1.01 && hi >= truth(n) * 0.97,
            "N = {n}: [{lo}, {hi}] vs {}",
            truth(n)
        );
        assert!(Path::new(s["dir"].as_str().expect("dir"))
            .join("capacity.json")
            .exists());
    }
    let fit = &plan["fit"];
    let sigma = fit["sigma"]["value"].as_f64().expect("sigma");
    assert!((0.02..0.09).contains(&sigma), "sigma {sigma}: {stdout}");
    // The held-out check: fitted on N = 1, 2, 4, it predicts N = 8.
    let held = &plan["held_out"];
    assert_eq!(held["n"].as_f64(), Some(8.0));
    let error = held["error"].as_f64().expect("error");
    assert!(error.abs() < 0.1, "held-out error {error}: {stdout}");
    // The size for 2,500/s: the law says 7 (6 gives 2,344/s, 7 gives 2,608/s).
    let needed = plan["needed"]["n"].as_f64().expect("needed");
    assert!((6.0..=8.0).contains(&needed), "needed {needed}: {stdout}");
    assert!(stdout.contains("for 2500/s: N = "), "{stdout}");
    let html = common::read(&out.join("plan.html"));
    assert!(
        html.contains(r#"id="usl""#) && html.contains("held out N = 8"),
        "plan.html"
    );
}

#[test]
fn a_sizing_run_refuses_bad_input_before_any_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases: [(&[&str], &str); 4] = [
        (&["--scale", "target.memory_store.servers=1,2"], "servers"),
        (
            &["--scale", "target.memory_store.concurrency=1,two"],
            "\"two\" is not a positive number",
        ),
        (&["--scale", "target.memory_store.concurrency=4"], "at least two sizes"),
        (
            &["--scale", "target.memory_store.concurrency=1,2", "--resize", "exit 3"],
            "exit 3",
        ),
    ];
    for (i, (args, says)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("case{i}"));
        let (code, stdout, stderr) = sizing(&out, args);
        assert_eq!(code, Some(2), "{args:?}: {stdout} {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.join("plan.json").exists(), "no plan from partial data");
    }
}
