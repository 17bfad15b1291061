//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use eventbench::plan::Plan;
use eventbench::report::{RunDir, Summary};
use eventbench::run::{run_to_dir, RunOptions};

/// Loads a scenario from text, runs it into a temporary directory, returns the summary.
pub fn run_text(text: &str, overrides: &[&str]) -> (Summary, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, text).expect("write scenario");
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = eventbench::scenario::load(&path, &overrides).expect("scenario is valid");
    let plan = Plan::from_loaded(&loaded);
    let out = RunDir::create(&dir.path().join("run")).expect("run dir");
    let summary = run_to_dir(&plan, &out, RunOptions::default()).expect("run");
    (summary, dir)
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built eventbench binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_eventbench"))
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// A topic name no other run uses.
pub fn unique_topic(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}.{}.{nanos}", std::process::id())
}

/// Fails loudly when the broker that scripts/services starts is not there: these
/// tests are never skipped.
pub fn require_kafka() {
    let ok = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:9092".parse().expect("addr"),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    assert!(
        ok,
        "no Kafka at 127.0.0.1:9092: run the tests with scripts/test, or start it with `scripts/services up kafka`"
    );
}

/// Runs the binary; returns (exit code, stdout, stderr).
pub fn eventbench(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(bin())
        .args(args)
        .output()
        .expect("spawn eventbench");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Fails loudly when the secured listeners scripts/services starts are not there: the
/// local Kafka's SASL_SSL (9094) and mTLS (9095) listeners and the TLS + password
/// Cassandra node (9142), with their fixtures in .cache/secure.
pub fn require_secure_services() {
    for (port, what) in [
        (9094, "Kafka's SASL_SSL listener (scripts/services up kafka)"),
        (9095, "Kafka's mTLS listener (scripts/services up kafka)"),
        (
            9142,
            "the secured Cassandra node (scripts/services up cassandra-secure)",
        ),
    ] {
        let ok = std::net::TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().expect("addr"),
            std::time::Duration::from_secs(2),
        )
        .is_ok();
        assert!(ok, "no {what} at 127.0.0.1:{port}: run the tests with scripts/test");
    }
    assert!(
        root().join(".cache/secure/.complete").exists(),
        "no .cache/secure fixtures: scripts/services up makes them"
    );
}

/// Fails loudly when the Cassandra node that scripts/services starts is not there.
pub fn require_cassandra() {
    let ok = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:9042".parse().expect("addr"),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    assert!(ok, "no Cassandra at 127.0.0.1:9042: run the tests with scripts/test, or start it with `scripts/services up cassandra`");
}

/// Runs `eventbench run SCENARIO --set ...` and stops `service` (through
/// scripts/services) `after` the start. With `restart_after`, starts it again that
/// long after the stop, while the run goes on; in any case it is up again before
/// anything is asserted. Returns the run's exit code, stderr, and summary.
pub fn run_with_outage(
    scenario: &str,
    sets: &[String],
    service: &str,
    after: std::time::Duration,
    restart_after: Option<std::time::Duration>,
) -> (Option<i32>, String, serde_json::Value, tempfile::TempDir) {
    use std::process::{Command, Stdio};
    let services = |action: &str| {
        let out = Command::new(root().join("scripts/services"))
            .args([action, service])
            .output()
            .expect("scripts/services");
        assert!(
            out.status.success(),
            "services {action} {service}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let mut cmd = Command::new(bin());
    cmd.args([
        "run",
        root().join(scenario).to_str().expect("utf8"),
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // `after` is run time: the first interval in timeline.jsonl marks 1 s of it (setup
    // before the clock, joining groups under a loaded CI host, can take seconds).
    let timeline = out.join("timeline.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&timeline).map_or(true, |m| m.len() == 0)
        && t0.elapsed() < std::time::Duration::from_secs(60)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(after.saturating_sub(std::time::Duration::from_secs(1)));
    services("down");
    if let Some(gap) = restart_after {
        std::thread::sleep(gap);
        services("up");
    }
    let res = child.wait_with_output().expect("wait");
    services("up");
    let summary = summary_or_null(&out);
    (
        res.status.code(),
        String::from_utf8_lossy(&res.stderr).into_owned(),
        summary,
        dir,
    )
}

/// A run directory's summary.json, or `null` when the run wrote none.
fn summary_or_null(run: &Path) -> serde_json::Value {
    std::fs::read_to_string(run.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// `run SCENARIO --quiet --out OUT --set ...`.
fn run_args<'a>(scenario: &'a Path, out: &'a Path, sets: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        scenario.to_str().expect("utf8"),
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
    ];
    for s in sets {
        args.extend(["--set", *s]);
    }
    args
}

/// Runs a shipped scenario whose `[[fault]]` stops and starts `service` through
/// scripts/services (from the repository root, as a user would), with `--set`
/// overrides; makes sure the service is up again afterwards whatever happened.
/// Returns (exit code, stderr, summary, the directory holding `run/`).
pub fn run_shipped_fault_scenario(
    scenario: &str,
    sets: &[&str],
    service: &str,
) -> (Option<i32>, String, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let path = root().join(scenario);
    let args = run_args(&path, &out, sets);
    let res = std::process::Command::new(bin())
        .args(&args)
        .current_dir(root())
        .output()
        .expect("spawn eventbench");
    let up = std::process::Command::new(root().join("scripts/services"))
        .args(["up", service])
        .output()
        .expect("scripts/services");
    assert!(
        up.status.success(),
        "services up {service}: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let summary = summary_or_null(&out);
    (
        res.status.code(),
        String::from_utf8_lossy(&res.stderr).into_owned(),
        summary,
        dir,
    )
}

/// The report of a restart scenario: the fault's two commands ran and succeeded at
/// `at_s` and `until_s`; `workload` was disrupted after the stop, with errors, and
/// recovered before the end; every operation has one outcome; report.html shows both.
pub fn assert_fault_disrupted_and_recovered(s: &serde_json::Value, workload: &str, at_s: f64, until_s: f64) {
    let f = &s["faults"][0];
    let cmds = f["commands"]
        .as_array()
        .unwrap_or_else(|| panic!("no fault commands: {s}"));
    assert_eq!(cmds.len(), 2, "{f}");
    assert_eq!((&cmds[0]["exit"], &cmds[1]["exit"]), (&0.into(), &0.into()), "{f}");
    let started = cmds[0]["at_s"].as_f64().unwrap_or(0.0);
    let restarted = cmds[1]["at_s"].as_f64().unwrap_or(0.0);
    assert!((at_s..at_s + 2.0).contains(&started), "{f}");
    assert!((until_s..until_s + 2.0).contains(&restarted), "{f}");
    let w = &s["workloads"][workload];
    let errors: u64 = w["errors"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    assert_eq!(
        w["ok"].as_u64().unwrap_or(0) + errors + w["censored"].as_u64().unwrap_or(0),
        w["ops"].as_u64().unwrap_or(0),
        "every operation has one outcome: {w}"
    );
    let d = w["disruptions"]
        .as_array()
        .unwrap_or_else(|| panic!("no disruptions: {w}"));
    let hit = d
        .iter()
        .find(|d| {
            d["from_s"]
                .as_f64()
                .is_some_and(|t| t >= at_s - 1.0 && t < until_s + 30.0)
        })
        .unwrap_or_else(|| panic!("no disruption after the stop at {at_s} s: {d:?}"));
    assert!(hit["recovered"] == true, "recovered before the end: {hit}");
    // What the outage did: errors, censored operations, error replies from the
    // pipeline behind, or operations that waited
    // out the outage (the producer holds records until the broker is back).
    let waited = w["stages"].as_object().map_or(0, |m| {
        m.values().filter_map(|v| v["max_ns"].as_u64()).max().unwrap_or(0)
    });
    assert!(
        errors + w["censored"].as_u64().unwrap_or(0) + w["rejected_replies"].as_u64().unwrap_or(0) > 0
            || waited >= 1_000_000_000,
        "the outage left no mark: {w}"
    );
}

/// report.html shades the fault and names the disruption beside it.
pub fn assert_report_shows_fault_and_disruption(run: &Path) {
    let html = read(&run.join("report.html"));
    assert!(
        html.contains("Faults") && html.contains("fault: `scripts/services down"),
        "no fault in report.html"
    );
    assert!(html.contains("disrupted "), "no disruption in report.html");
}

/// Writes `text` as `dir/<name>.toml` and runs it through the binary into `dir/<name>`
/// with `--set` overrides; returns (exit code, stdout, stderr, run directory).
pub fn run_scenario(dir: &Path, name: &str, text: &str, sets: &[&str]) -> (Option<i32>, String, String, PathBuf) {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write scenario");
    let out = dir.join(name);
    let args = run_args(&path, &out, sets);
    let (code, stdout, stderr) = eventbench(&args);
    (code, stdout, stderr, out)
}

/// Java's `HistogramLogProcessor` (the jar scripts/setup fetches) over `log`'s `tag`:
/// the total count and p50 (ms) of its last CSV row, and the CSV itself.
pub fn java_log_processor(log: &Path, tag: &str, out: &Path) -> (u64, f64, String) {
    let jar = root().join(".cache/jars/HdrHistogram-2.2.2.jar");
    assert!(
        jar.exists(),
        "{} is missing: run scripts/setup (it fetches it with mvn)",
        jar.display()
    );
    let res = std::process::Command::new("java")
        .arg("-cp")
        .arg(&jar)
        .args(["org.HdrHistogram.HistogramLogProcessor", "-i"])
        .arg(log)
        .args(["-tag", tag, "-outputValueUnitRatio", "1000000", "-csv", "-o"])
        .arg(out)
        .output()
        .expect("java runs (Java 17 is part of the set-up)");
    assert!(res.status.success(), "java: {}", String::from_utf8_lossy(&res.stderr));
    let csv = read(out);
    let last = csv
        .lines()
        .rev()
        .find(|l| !l.starts_with('#') && !l.starts_with('"'))
        .expect("interval rows")
        .to_string();
    // Timestamp, Int_Count, Int_50%, Int_90%, Int_Max, Total_Count, Total_50%, ...
    let cols: Vec<&str> = last.split(',').collect();
    (cols[5].parse().expect("count"), cols[6].parse().expect("p50"), csv)
}

/// Every file under `dir` holding `needle`'s bytes (a secret that must not be there).
pub fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

/// The version a pom under scripts/ pins, e.g. `pinned("kafka")` reads
/// `<kafka.version>` of scripts/kafka/pom.xml.
pub fn pinned(service: &str) -> String {
    let pom = read(&root().join("scripts").join(service).join("pom.xml"));
    let tag = format!("<{service}.version>");
    pom.split(tag.as_str())
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("pinned version")
        .to_string()
}

/// `--set`s giving a pipeline scenario its own topics and groups, all named from `t`.
pub fn pipeline_topics(t: &str) -> Vec<String> {
    vec![
        format!("target.topics.events={t}.events"),
        format!("target.topics.persistence_group={t}.persistence"),
        format!("target.topics.persistence_response={t}.persistence.response"),
        format!("target.topics.query={t}.esquery"),
        format!("target.topics.query_group={t}.esquery.group"),
        format!("target.topics.query_response={t}.esresponse"),
    ]
}

/// Headless Chromium (Debian's, from scripts/setup) with the flags this closed network
/// needs, on a fresh profile.
pub fn chromium(args: &[&str], profile: &std::path::Path) -> std::process::Output {
    std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs (scripts/setup installs Debian's chromium)")
}

/// The number in a `name="..."` attribute of a dumped DOM (0 when absent): the pages
/// count their charts into `data-*` attributes for these checks.
pub fn dom_number(dom: &str, name: &str) -> u64 {
    let key = format!("{name}=\"");
    dom.find(&key)
        .and_then(|i| dom[i + key.len()..].split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
