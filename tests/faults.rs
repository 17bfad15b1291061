//! Faults on a schedule (`[[fault]]`), from the scenario alone:
//! - a paused persistence service leaves a backlog whose reported drain time is within
//!   10% of backlog / (service rate - arrival rate), on a store of known capacity;
//! - a stalled memory store holds requests for the stall's length;
//! - a command runs at `at` and another at `until`, their output kept in summary.json
//!   with the scenario's secrets redacted, and `validate` names them first.

mod common;

/// 500 events/s through the in-process pipeline; a store of exactly 1,000 persists/s
/// (20 servers of 10 ms, two requests per persist); persistence paused 2-4 s.
const BACKLOG: &str = r#"
name = "backlog-test"
duration = "9s"
warmup = "1s"
interval = "100ms"
drain = "3s"
allow_unhealthy = true

[target]
log = "memory"
store = "memory"
services = "embedded"

[target.memory_store]
service_time = { dist = "fixed", value = "10ms" }
concurrency = 20

[target.persistence]
workers = 64

[data]
aggregates = { dist = "uniform", min = 1, max = 64 }

[workload.producers]
kind = "produce"
rate = 500
max_in_flight = 10000

[[fault]]
at = "2s"
until = "4s"
pause = "persistence"
"#;

#[test]
fn a_paused_service_drains_its_backlog_in_the_time_its_rates_give() {
    let (s, _dir) = common::run_text(BACKLOG, &["seed=5"]);
    assert_eq!(s.faults.len(), 1, "{:?}", s.faults);
    let f = &s.faults[0];
    assert_eq!(f.description, "persistence paused 2s-4s");
    let b = f.backlog.as_ref().expect("a backlog");
    // 2 s of 500/s waiting: 1,000 (a few more were in flight when it paused).
    let backlog = b.at_resume as f64;
    assert!((backlog - 1000.0).abs() <= 100.0, "backlog at resume {backlog}: {f:?}");
    // Drained at 1,000 - 500 = 500/s.
    let expected = backlog / (1000.0 - 500.0);
    let drain = b.drain_s.expect("drained within the run");
    assert!(
        (drain - expected).abs() <= 0.1 * expected,
        "drain {drain:.2} s, expected {expected:.2} s: {f:?}"
    );
    assert!(b.drain_rate.is_some_and(|r| (850.0..1100.0).contains(&r)), "{f:?}");
    assert!(b.recovered_s.is_some(), "{f:?}");
    // Every event still answered: the pause lost nothing.
    let audit = s.audit.as_ref().expect("audit");
    assert_eq!(audit.lost, 0, "{audit:?}");
}

#[test]
fn a_stalled_store_holds_requests_until_the_stall_ends() {
    let text = r#"
name = "stall-test"
duration = "3s"
warmup = "500ms"
drain = "2s"
allow_unhealthy = true

[target]
services = "none"

[target.memory_store]
service_time = { dist = "fixed", value = "100us" }

[workload.writers]
kind = "persist"
rate = 200
max_in_flight = 1000

[[fault]]
at = "1s"
until = "1.5s"
stall = "store"
"#;
    let (s, _dir) = common::run_text(text, &["seed=2"]);
    let w = &s.workloads["writers"];
    let max_ms = w.stages["persist"].max_ns as f64 / 1e6;
    // A persist started as the stall began waited for all of it.
    assert!((450.0..1200.0).contains(&max_ms), "persist max {max_ms} ms");
    assert_eq!(s.faults[0].description, "store stalled 1s-1.5s");
    assert!(s.faults[0].ended_s.is_some_and(|e| e >= 1.5));
}

#[test]
fn commands_run_on_schedule_and_their_output_keeps_no_secret() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = r#"
name = "command-test"
duration = "1500ms"
warmup = "200ms"

[target]
services = "none"
scylla.password = "Quokka-77-secret"

[workload.writers]
kind = "persist"
rate = 50

[[fault]]
at = "300ms"
until = "900ms"
run = "echo stopping; echo the password is Quokka-77-secret >&2"
then = "echo started; exit 3"
"#;
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).expect("write");
    let (code, _, err) = common::eventbench(&["validate", path.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("runs a command: `echo started; exit 3`"), "{err}");
    let (code, out, err, run) = common::run_scenario(dir.path(), "c", text, &[]);
    assert_eq!(code, Some(0), "{out} {err}");
    let summary = common::read(&run.join("summary.json"));
    assert!(!summary.contains("Quokka-77-secret"), "a secret in summary.json");
    let s: serde_json::Value = serde_json::from_str(&summary).expect("json");
    let cmds = s["faults"][0]["commands"].as_array().expect("commands");
    assert_eq!(cmds.len(), 2, "{s}");
    assert_eq!(cmds[0]["exit"], 0);
    let first = cmds[0]["output"].as_str().unwrap_or("");
    assert!(
        first.starts_with("stopping\n") && first.contains("the password is ***"),
        "{first}"
    );
    assert_eq!(cmds[1]["exit"], 3);
    assert!(cmds[1]["at_s"].as_f64().is_some_and(|t| t >= 0.9), "{s}");
    let leaks = common::files_containing(&run, "Quokka-77-secret");
    assert!(leaks.is_empty(), "the secret is in {leaks:?}");
    assert!(!out.contains("Quokka-77-secret") && !err.contains("Quokka-77-secret"));
    let html = common::read(&run.join("report.html"));
    assert!(
        html.contains("Faults") && html.contains("fault: `echo stopping"),
        "no fault in report.html"
    );
}

#[test]
fn a_sharded_run_runs_a_fault_command_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let marks = dir.path().join("marks");
    let text = format!(
        r#"
name = "shard-command-test"
duration = "1s"
warmup = "200ms"

[target]
services = "none"

[workload.writers]
kind = "persist"
rate = 50

[[fault]]
at = "300ms"
run = "echo ran >> {}"
"#,
        marks.display()
    );
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).expect("write");
    let mut shard_runs = Vec::new();
    for (i, shard) in ["0/2", "1/2"].into_iter().enumerate() {
        let run = dir.path().join(format!("shard-{i}"));
        let (code, out, err) = common::eventbench(&[
            "run",
            path.to_str().expect("utf8"),
            "--quiet",
            "--shard",
            shard,
            "--out",
            run.to_str().expect("utf8"),
        ]);
        assert_eq!(code, Some(0), "{out} {err}");
        shard_runs.push(run);
    }
    // Two shards, one broker: the command ran once, on shard 0.
    assert_eq!(common::read(&marks), "ran\n");
    let s1: serde_json::Value = serde_json::from_str(&common::read(&shard_runs[1].join("summary.json"))).expect("json");
    assert!(s1["faults"][0].get("commands").is_none(), "{s1}");
    assert!(
        s1["faults"][0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("run by shard 0")),
        "{s1}"
    );
}
