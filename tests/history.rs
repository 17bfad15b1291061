//! A run history as CI keeps it: 30 runs of the shipped CI scenario appended by
//! `run --history`, its trend and change points shown, the trend page rendered in
//! headless Chromium with data in every chart; a damaged history refused with its
//! line; a candidate judged against it.

mod common;

#[test]
fn thirty_runs_of_the_ci_scenario_make_a_history_with_a_trend_page() {
    let dir = tempfile::tempdir().expect("tmp");
    let history = dir.path().join("history");
    let h = history.to_str().expect("utf8");
    let text = common::read(&common::root().join("scenarios/ci-regression.toml"));
    let scenario = dir.path().join("ci.toml");
    std::fs::write(&scenario, &text).expect("write");
    // 30 short runs (the scenario as shipped, cut to 1.5 s so the suite stays short).
    let (code, out, err) = common::eventbench(&[
        "run",
        scenario.to_str().expect("utf8"),
        "--quiet",
        "--repeat",
        "30",
        "--set",
        "duration=1500ms",
        "--set",
        "warmup=500ms",
        "--out",
        dir.path().join("runs").to_str().expect("utf8"),
        "--history",
        h,
        "--label",
        "main",
    ]);
    assert_eq!(code, Some(0), "{out} {err}");
    let lines = common::read(&history.join("history.jsonl")).lines().count();
    assert_eq!(lines, 30, "one line per run");

    let page = dir.path().join("trend.html");
    let (code, out, err) = common::eventbench(&["history", "show", h, "--html", page.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(out.contains("producers.e2e.persisted.p50: 30 runs"), "{out}");
    let (code, out, _) = common::eventbench(&[
        "history",
        "show",
        h,
        "--format",
        "json",
        "--stat",
        "producers.e2e.persisted.p99",
    ]);
    assert_eq!(code, Some(0));
    let trends: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(trends[0]["points"].as_array().map(Vec::len), Some(30), "{out}");

    let url = format!("file://{}", page.display());
    let dom = common::chromium(&["--dump-dom", &url], &dir.path().join("profile"));
    let dom = String::from_utf8_lossy(&dom.stdout);
    let attr = |name: &str| common::dom_number(&dom, name);
    assert_eq!(
        attr("data-charts"),
        2,
        "p50 and p99 of the headline stage: {}",
        &dom[..dom.len().min(400)]
    );
    assert_eq!(attr("data-charts-with-data"), 2);
    assert!(attr("data-points") >= 60, "points {}", attr("data-points"));
    let shot = common::root().join("target/history-trend.png");
    let res = common::chromium(
        &[
            "--window-size=1000,800",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
        &dir.path().join("profile2"),
    );
    assert!(res.status.success() && shot.exists(), "screenshot");

    // A candidate judged against the history: the same build passes the gate.
    let cand = dir.path().join("runs/run-30");
    let (code, out, err) = common::eventbench(&[
        "compare",
        "--history",
        h,
        cand.to_str().expect("utf8"),
        "--fail-on-regression",
    ]);
    assert_eq!(code, Some(0), "{out} {err}");
    // Ten baseline runs, less any the host held (left out, and named in a note).
    let left_out = out
        .lines()
        .find(|l| l.starts_with("note: baseline run(s)"))
        .map_or(0, |l| l.matches(" (main)").count());
    let expect = format!(
        "noise: between-run spread of the sides' own runs ({} and 1)",
        10 - left_out
    );
    assert!(out.contains(&expect), "{out}");

    // A damaged inner line is refused, naming the file and line.
    let path = history.join("history.jsonl");
    let mut text = common::read(&path);
    text.insert_str(0, "{not json\n");
    std::fs::write(&path, text).expect("write");
    let (code, _, err) = common::eventbench(&["history", "show", h]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("history.jsonl:1:"), "{err}");
}
