//! Bad scenarios: each gives exit code 2 and a message naming file, line and column,
//! and none panics. Run through the real binary, as a user would meet them.

mod common;

use std::process::Command;

const OK_HEAD: &str = "name = \"t\"\nduration = \"2s\"\n";
/// The shipped capture (paths in a scenario are relative to where eventbench runs).
const CAPTURE: &str = "scenarios/captures/orders.ebcap";

/// (what is wrong, scenario text, line the error must name, text the message must contain)
fn cases() -> Vec<(&'static str, String, usize, &'static str)> {
    let w = "[workload.p]\nkind = \"produce\"\nrate = 10\n";
    vec![
        ("unknown top-level key", format!("name = \"t\"\nduraton = \"2s\"\n{w}"), 2, "did you mean `duration`?"),
        ("unknown workload key", format!("{OK_HEAD}[workload.p]\nkind = \"produce\"\nrat = 10\n"), 5, "did you mean `rate`?"),
        ("wrong type for rate", format!("{OK_HEAD}[workload.p]\nkind = \"produce\"\nrate = \"fast\"\n"), 5, "invalid type"),
        ("bad duration", format!("name = \"t\"\nduration = \"20 parsecs\"\n{w}"), 2, "invalid duration"),
        ("rate and concurrency", format!("{OK_HEAD}[workload.p]\nkind = \"produce\"\nrate = 10\nconcurrency = 4\n"), 6, "both `rate`"),
        ("aggregate id 0", format!("{OK_HEAD}[data]\naggregates = {{ dist = \"uniform\", min = 0, max = 10 }}\n{w}"), 4, "aggregate id 0"),
        ("aggregate id 200", format!("{OK_HEAD}[data]\naggregates = {{ dist = \"hotspot\", ids = [200], fraction = 0.5 }}\n{w}"), 4, "aggregate id 200"),
        ("empty workload table", format!("{OK_HEAD}workload = {{}}\n"), 3, "`workload` is empty"),
        ("unknown workload kind", format!("{OK_HEAD}[workload.p]\nkind = \"produse\"\nrate = 10\n"), 4, "did you mean `produce`?"),
        ("negative rate", format!("{OK_HEAD}[workload.p]\nkind = \"produce\"\nrate = -5\n"), 5, "positive number"),
        ("zero rate", format!("{OK_HEAD}[workload.p]\nkind = \"produce\"\nrate = 0\n"), 5, "positive number"),
        ("query via log with no services", format!("{OK_HEAD}[target]\nservices = \"none\"\n[workload.q]\nkind = \"query\"\nvia = \"log\"\nrate = 5\n"), 5, "runs no query service"),
        ("via on a producer", format!("{OK_HEAD}[workload.p]\nkind = \"produce\"\nvia = \"log\"\nrate = 5\n"), 3, "applies only to"),
        ("unknown consistency", format!("{OK_HEAD}[target]\nconsistency = \"paxos\"\n{w}"), 4, "unknown variant"),
        ("unknown audit key", format!("{OK_HEAD}[audit]\nmax_lose = 3\n{w}"), 4, "did you mean `max_lost`?"),
        ("threshold on an unknown stage", format!("{OK_HEAD}{w}[thresholds]\n\"p.prodce.p99\" = \"< 5ms\"\n"), 7, "no stage `prodce`"),
        ("threshold without an operator", format!("{OK_HEAD}{w}[thresholds]\n\"p.produce.p99\" = \"5ms\"\n"), 7, "must start with <"),
        ("threshold on an unknown workload", format!("{OK_HEAD}{w}[thresholds]\n\"q.produce.p99\" = \"< 5ms\"\n"), 7, "must start with a workload name"),
        ("zero concurrency", format!("{OK_HEAD}[workload.p]\nkind = \"persist\"\nconcurrency = 0\n"), 5, "`concurrency` must be"),
        ("zero max_in_flight", format!("{OK_HEAD}{w}max_in_flight = 0\n"), 6, "`max_in_flight` must be"),
        ("release window too long", format!("{OK_HEAD}{w}release_window = \"20ms\"\n"), 6, "`release_window` must be at most 5ms"),
        ("release window on a closed workload", format!("{OK_HEAD}[workload.p]\nkind = \"persist\"\nconcurrency = 4\nrelease_window = \"1ms\"\n"), 6, "paces an open workload"),
        ("warmup not shorter than duration", format!("{OK_HEAD}warmup = \"5s\"\n{w}"), 3, "`warmup` must be shorter"),
        ("toml syntax", format!("{OK_HEAD}[workload.p\nkind = \"produce\"\n"), 3, "unclosed table"),
        ("missing name", format!("duration = \"2s\"\n{w}"), 1, "missing field `name`"),
        ("zipf exponent", format!("{OK_HEAD}[data]\naggregates = {{ dist = \"zipf\", exponent = -1 }}\n{w}"), 4, "exponent"),
        ("compressibility", format!("{OK_HEAD}[data]\ncompressibility = 1.5\n{w}"), 4, "`compressibility`"),
        ("histogram mismatch", format!("{OK_HEAD}[data]\npayload = {{ dist = \"histogram\", sizes = [64, 128], weights = [1] }}\n{w}"), 4, "`payload`"),
        ("rate and phase", format!("{OK_HEAD}{w}phase = [{{ kind = \"steady\", duration = \"1s\", rate = 5 }}]\n"), 5, "both `rate` and `phase`"),
        ("negative ramp", "name = \"t\"\n[workload.p]\nkind = \"produce\"\nphase = [{ kind = \"ramp\", duration = \"1s\", from = -1, to = 5 }]\n".to_string(), 4, "ramp phase"),
        ("unsupported log backend", format!("{OK_HEAD}[target]\nlog = \"kafak\"\n{w}"), 4, "unknown variant `kafak`"),
        ("bad size unit", format!("{OK_HEAD}[data]\npayload = {{ dist = \"fixed\", size = \"1 TiB\" }}\n{w}"), 4, "invalid size unit"),
        ("duplicate key", format!("{OK_HEAD}{w}rate = 20\n"), 6, "duplicate key"),
        ("stall longer than period", format!("{OK_HEAD}[target.memory_store]\nstall = {{ every = \"1s\", for = \"2s\" }}\n{w}"), 4, "stall `for`"),
        ("closed model with phases", "name = \"t\"\n[workload.p]\nkind = \"persist\"\nconcurrency = 2\nphase = [{ kind = \"steady\", duration = \"1s\", rate = 5 }]\n".to_string(), 4, "closed model"),
        ("no users", format!("{OK_HEAD}[data]\nusers = 0\n{w}"), 4, "`users`"),
        ("no actions", format!("{OK_HEAD}[data]\nactions = {{}}\n{w}"), 4, "`actions`"),
        ("tiny interval", format!("{OK_HEAD}interval = \"1ms\"\n{w}"), 3, "`interval`"),
        ("missing duration", format!("name = \"t\"\n{w}"), 2, "`duration` is missing"),
        ("zero service workers", format!("{OK_HEAD}[target.persistence]\nworkers = 0\n{w}"), 4, "`workers`"),
        ("query from version 0", format!("{OK_HEAD}[workload.q]\nkind = \"query\"\nrate = 1\nfrom_version = 0\n"), 3, "`from_version` 0"),
        ("page size 0", format!("{OK_HEAD}[target.scylla]\npage_size = 0\n{w}"), 4, "`page_size`"),
        ("action weights overflow", format!("{OK_HEAD}[data]\nactions = {{ a = 4294967295, b = 1 }}\n{w}"), 4, "add up to at most"),
        ("payload weights overflow", format!("{OK_HEAD}[data]\npayload = {{ dist = \"histogram\", sizes = [64, 128], weights = [4294967295, 1] }}\n{w}"), 4, "`payload`"),
        ("size overflow", format!("{OK_HEAD}[data]\npayload = {{ dist = \"fixed\", size = \"17592186044416MiB\" }}\n{w}"), 4, "too large"),
        ("unbounded steps", "name = \"t\"\n[workload.p]\nkind = \"produce\"\nphase = [{ kind = \"step\", from = 1, step = 1, steps = 4000000000, step_duration = \"1s\" }]\n".to_string(), 4, "`steps` from 1 to"),
        ("huge rate", format!("{OK_HEAD}[workload.p]\nkind = \"produce\"\nrate = 1e300\n"), 5, "up to 5000000"),
        ("sine below zero", "name = \"t\"\n[workload.p]\nkind = \"produce\"\nphase = [{ kind = \"sine\", duration = \"10s\", mean = 100, amplitude = 200, period = \"5s\" }]\n".to_string(), 4, "sine phase"),
        ("curve not from 0s", "name = \"t\"\n[workload.p]\nkind = \"produce\"\nphase = [{ kind = \"curve\", points = [{ at = \"1s\", rate = 5 }, { at = \"2s\", rate = 5 }] }]\n".to_string(), 4, "curve phase"),
        ("burst factor 0", format!("{OK_HEAD}{w}[[workload.p.burst]]\nat = \"1s\"\nduration = \"1s\"\nfactor = 0\n"), 6, "burst needs"),
        ("fault with two actions", format!("{OK_HEAD}{w}[[fault]]\nat = \"1s\"\nuntil = \"2s\"\npause = \"persistence\"\nrun = \"true\"\n"), 6, "exactly one of"),
        ("pause of an external service", format!("{OK_HEAD}[target]\nservices = \"external\"\n{w}[[fault]]\nat = \"1s\"\nuntil = \"2s\"\npause = \"persistence\"\n"), 8, "embedded service"),
        ("unknown compression", format!("{OK_HEAD}[target.kafka]\ncompression = \"brotli\"\n{w}"), 4, "unknown `compression`"),
        ("replay of a missing capture", format!("{OK_HEAD}[workload.r]\nkind = \"replay\"\ncapture = \"no/such.ebcap\"\n"), 5, "cannot read capture no/such.ebcap"),
        ("replay of a file that is not a capture", format!("{OK_HEAD}[workload.r]\nkind = \"replay\"\ncapture = \"Cargo.toml\"\n"), 5, "capture Cargo.toml"),
        ("replay with no capture", format!("{OK_HEAD}[workload.r]\nkind = \"replay\"\nspeed = 2\n"), 3, "needs `capture"),
        ("replay with rate and speed", format!("{OK_HEAD}[workload.r]\nkind = \"replay\"\ncapture = \"{CAPTURE}\"\nrate = 5\nspeed = 2\n"), 6, "both `rate` and `speed`"),
        ("replay at speed 0", format!("{OK_HEAD}[workload.r]\nkind = \"replay\"\ncapture = \"{CAPTURE}\"\nspeed = 0\n"), 6, "`speed` must be"),
        ("replay with phases", format!("{OK_HEAD}[workload.r]\nkind = \"replay\"\ncapture = \"{CAPTURE}\"\nphase = [{{ kind = \"steady\", duration = \"1s\", rate = 5 }}]\n"), 3, "schedule is its capture's"),
        ("replay looped with no duration", format!("name = \"t\"\n[workload.r]\nkind = \"replay\"\ncapture = \"{CAPTURE}\"\nloop = true\n"), 2, "`duration` is missing"),
        ("capture on a producer", format!("{OK_HEAD}{w}capture = \"{CAPTURE}\"\n"), 6, "`capture` is for `kind = \"replay\"`"),
    ]
}

#[test]
fn every_malformed_scenario_exits_2_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = cases();
    assert!(cases.len() >= 20);
    for (what, text, line, needle) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, &text).expect("write");
        for sub in ["validate", "run"] {
            let out = Command::new(common::bin())
                .args([sub, path.to_str().expect("utf8")])
                .output()
                .expect("spawn");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{what} ({sub}): exit {:?}, stderr: {err}",
                out.status.code()
            );
            assert!(!err.contains("panicked"), "{what}: panicked: {err}");
            let prefix = format!("error: {}:{line}:", path.display());
            assert!(err.starts_with(&prefix), "{what}: expected {prefix}<col>, got: {err}");
            let col = err[prefix.len()..].split(':').next().unwrap_or("");
            assert!(col.parse::<usize>().is_ok_and(|c| c >= 1), "{what}: no column in {err}");
            assert!(err.contains(needle), "{what}: expected {needle:?} in {err}");
        }
    }
}

#[test]
fn overrides_are_applied_and_bad_ones_named() {
    let scenario = common::root().join("scenarios/quickstart.toml");
    let s = scenario.to_str().expect("utf8");
    let out = Command::new(common::bin())
        .args([
            "validate",
            s,
            "--set",
            "workload.producers.rate=1234",
            "--set",
            "duration=8s",
        ])
        .output()
        .expect("spawn");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan json");
    assert_eq!(plan["duration_ns"], 8_000_000_000u64);
    let seg = &plan["workloads"]
        .as_array()
        .expect("workloads")
        .iter()
        .find(|w| w["name"] == "producers")
        .expect("producers")["load"]["profile"]["segments"][0];
    assert_eq!(seg["from_rate"], 1234.0);
    let out = Command::new(common::bin())
        .args(["validate", s, "--set", "workload.producers.rat=5"])
        .output()
        .expect("spawn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("--set workload.producers.rat=5") && err.contains("did you mean `rate`?"),
        "{err}"
    );
}

#[test]
fn missing_file_and_usage_errors_exit_2() {
    let out = Command::new(common::bin())
        .args(["run", "/nonexistent/x.toml"])
        .output()
        .expect("spawn");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml"));
    let out = Command::new(common::bin())
        .args(["frobnicate"])
        .output()
        .expect("spawn");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(common::bin())
        .args(["gen", "--count", "lots"])
        .output()
        .expect("spawn");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_shipped_scenario_validates() {
    let mut n = 0;
    for entry in std::fs::read_dir(common::root().join("scenarios")).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = Command::new(common::bin())
                .args(["validate", path.to_str().expect("utf8")])
                .output()
                .expect("spawn");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 8, "{n} scenarios");
}
