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

/// A history of `n` runs made from one real entry: `commit(i)` and the headline p50
/// times `scale(i)` (a small deterministic wobble on top).
fn synthetic(
    template: &serde_json::Value,
    n: usize,
    commit: impl Fn(usize) -> String,
    scale: impl Fn(usize) -> f64,
) -> String {
    let key = "producers.e2e.persisted.p50";
    let base = template["values"]["values"][key].as_f64().expect("the template's p50");
    (0..n)
        .map(|i| {
            let mut e = template.clone();
            let wobble = 1.0 + 0.01 * ((i as f64) * 2.39).sin();
            e["values"]["values"][key] = serde_json::json!(base * scale(i) * wobble);
            e["git_commit"] = serde_json::json!(commit(i));
            e["label"] = serde_json::json!(commit(i));
            format!("{e}\n")
        })
        .collect()
}

fn show(h: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let (code, out, err) = common::eventbench(&[
        "history",
        "show",
        h.to_str().expect("utf8"),
        "--format",
        "json",
        "--stat",
        "producers.e2e.persisted.p50",
        "--fail-on-change",
    ]);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}")),
    )
}

#[test]
fn a_change_point_knows_its_commits_and_only_a_confirmed_one_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let scenario = common::root().join("scenarios/ci-regression.toml");
    let scenario = scenario.to_str().expect("utf8");
    let short = ["--set", "duration=2s", "--set", "warmup=500ms"];
    let (seed, first) = (dir.path().join("seed"), dir.path().join("r"));
    let mut args = vec!["run", scenario, "--quiet", "--out", first.to_str().expect("utf8")];
    args.extend(["--history", seed.to_str().expect("utf8")]);
    args.extend(short);
    let (code, out, err) = common::eventbench(&args);
    assert_eq!(code, Some(0), "{out} {err}");
    let template: serde_json::Value =
        serde_json::from_str(common::read(&seed.join("history.jsonl")).trim()).expect("an entry");
    let step = |i: usize| if i >= 30 { 1.08 } else { 1.0 };
    let write = |name: &str, text: String| {
        let h = dir.path().join(name);
        std::fs::create_dir_all(&h).expect("mkdir");
        std::fs::write(h.join("history.jsonl"), text).expect("write");
        h
    };

    // One commit throughout: the step is the host's.
    let drift = write("drift", synthetic(&template, 60, |_| "c-one".into(), step));
    let (code, trends) = show(&drift);
    assert_eq!(code, Some(0), "drift never fails --fail-on-change");
    let change = &trends[0]["changes"][0];
    assert_eq!(
        (change["index"].as_u64(), change["kind"].as_str()),
        (Some(30), Some("drift")),
        "{trends}"
    );
    let gate_args = |out: &str| {
        let mut v: Vec<String> = vec![scenario.into(), "--base".into(), common::bin().display().to_string()];
        v.extend(["--pairs", "4", "--no-throwaway", "--out", out].map(String::from));
        v.extend(short.map(String::from));
        v
    };
    let confirm = |h: &std::path::Path, out: &str, extra: &[&str]| {
        let mut args: Vec<String> = vec![
            "history".into(),
            "confirm".into(),
            h.display().to_string(),
            "--at".into(),
            "30".into(),
        ];
        args.extend(gate_args(out));
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::eventbench(&args)
    };
    let (code, _, err) = confirm(&drift, dir.path().join("g0").to_str().expect("utf8"), &[]);
    assert_eq!(code, Some(2), "drift has nothing to confirm: {err}");

    // A new commit every run, as main's: the change point names its commits, unconfirmed.
    let commits = |i: usize| format!("c{i:02}");
    let code_change = write("code", synthetic(&template, 60, commits, step));
    let (code, trends) = show(&code_change);
    assert_eq!(code, Some(0), "an unconfirmed change does not fail");
    let change = &trends[0]["changes"][0];
    assert_eq!(change["kind"], "unconfirmed", "{trends}");
    assert_eq!(change["commits"], serde_json::json!(["c29", "c30"]), "{trends}");

    // Its builds compared on this host: the change's store five times slower confirms it.
    let slower = r#"target.memory_store.service_time={ dist = "lognormal", median = "1ms", p99 = "5ms" }"#;
    let (code, out, err) = confirm(
        &code_change,
        dir.path().join("g1").to_str().expect("utf8"),
        &["--change-set", slower],
    );
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(out.contains("confirmed c29 -> c30"), "{out}");
    let (code, trends) = show(&code_change);
    assert_eq!(trends[0]["changes"][0]["kind"], "confirmed", "{trends}");
    assert_eq!(code, Some(6), "a confirmed regression fails --fail-on-change");

    // The same history, its builds the same: the comparison refutes it.
    let refuted = write("refuted", synthetic(&template, 60, commits, step));
    let (code, out, err) = confirm(&refuted, dir.path().join("g2").to_str().expect("utf8"), &[]);
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(out.contains("refuted c29 -> c30"), "{out}");
    let (code, trends) = show(&refuted);
    assert_eq!(
        (code, trends[0]["changes"][0]["kind"].as_str()),
        (Some(0), Some("refuted")),
        "{trends}"
    );
}
