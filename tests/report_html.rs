//! report.html opened in headless Chromium (Debian's, installed by scripts/setup):
//! it renders, every chart has data, and the test set-up leaves a screenshot of the
//! quickstart report in target/ (the guide's image is made the same way).

mod common;

#[test]
fn quickstart_report_renders_in_chromium_with_data_in_every_chart() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let (code, stdout, stderr) = common::eventbench(&[
        "run",
        common::root().join("scenarios/quickstart.toml").to_str().expect("utf8"),
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
        "--set",
        "duration=6s",
        "--set",
        "warmup=2s",
    ]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let html = out.join("report.html");
    let page = common::read(&html);
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "no network fetches"
    );
    assert!(
        !page.contains("<script src") && !page.contains("<link "),
        "self-contained"
    );
    let url = format!("file://{}", html.display());
    let dom = common::chromium(&["--dump-dom", &url], &dir.path().join("profile"));
    let dom = String::from_utf8_lossy(&dom.stdout);
    let attr = |name: &str| common::dom_number(&dom, name);
    // Two workloads x (latency, spectrum, rate, schedule lag beside the platform
    // floor, errors), and the pipeline's hops (each hop's p99, their queues).
    assert_eq!(attr("data-charts"), 12, "{}", &dom[..dom.len().min(400)]);
    assert_eq!(attr("data-charts-with-data"), 12);
    assert!(dom.contains("each hop's p99") && dom.contains("events in each hop"));
    assert!(
        dom.contains("platform floor") && dom.contains("hiccup p99") && dom.contains("lag p99"),
        "the hiccup meter is drawn beside the schedule lag"
    );
    assert!(attr("data-points") > 100, "points {}", attr("data-points"));
    assert!(dom.contains("percentile spectrum") && dom.contains("e2e.persisted"));

    // Rebuilt from summary.json and latency.hlog alone, the same page.
    std::fs::remove_file(&html).expect("rm");
    let (code, _, err) = common::eventbench(&["report", out.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(common::read(&html), page);

    let shot = common::root().join("target/report-quickstart.png");
    let res = common::chromium(
        &[
            "--window-size=1100,1500",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
        &dir.path().join("profile"),
    );
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    assert!(
        std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 20_000,
        "screenshot written"
    );
}
