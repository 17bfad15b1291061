//! A run killed outright (SIGKILL: what the OOM killer, an evicted pod or a CI job's hard
//! timeout do) is still a report: `eventbench report DIR` rebuilds it from what it had
//! flushed, marked incomplete; `audit` and `merge` take it; no reader trusts a torn file.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use eventbench::stats::hlog;

/// Each test runs a pipeline on both cores: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The quickstart's in-process pipeline, lighter and long enough to be killed in.
fn scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let text = common::read(&common::root().join("scenarios/quickstart.toml"))
        .replace("duration = \"20s\"", "duration = \"60s\"")
        .replace("warmup = \"5s\"", "warmup = \"2s\"")
        .replace("rate = 20000", "rate = 2000");
    let path = dir.join("crash.toml");
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// A moment after warmup that differs from run to run: 4.0 .. 7.9 s.
fn random_moment() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(4_000 + u64::from(nanos % 4_000))
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(common::bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn eventbench")
}

/// SIGKILLs the child after `after`; returns what it had printed.
fn kill_after(mut child: std::process::Child, after: Duration) -> String {
    std::thread::sleep(after);
    child.kill().expect("SIGKILL");
    let out = child.wait_with_output().expect("wait");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_killed_run_is_rebuilt_into_an_incomplete_report() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let scen = scenario(dir.path());
    let run = dir.path().join("run");
    let child = spawn(&[
        "run",
        scen.to_str().expect("utf8"),
        "--quiet",
        "--out",
        run.to_str().expect("utf8"),
    ]);
    let moment = random_moment();
    let printed = kill_after(child, moment);
    // The ledger's books are memory-mapped files the kernel kept current to the kill.
    for f in ["run.json", "latency.hlog", "timeline.jsonl", "ledger.d/w0-000.flags"] {
        assert!(
            run.join(f).exists(),
            "{f} on disk after a kill at {moment:?}: {printed}"
        );
    }
    assert!(!run.join("summary.json").exists(), "the killed run wrote no summary");

    let (code, out, err) = common::eventbench(&["report", run.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{out} {err}");
    assert!(err.contains("incomplete run"), "{err}");
    let s: serde_json::Value = serde_json::from_str(&common::read(&run.join("summary.json"))).expect("summary");
    assert!(s["incomplete"].as_str().is_some_and(|w| w.contains("killed")), "{s}");
    assert!(common::read(&run.join("summary.md")).contains("INCOMPLETE"));

    // Its counts are the flushed intervals' counts, by the warmup tags.
    let intervals = hlog::read(&run.join("latency.hlog")).expect("hlog");
    let tag = "producers.produce";
    let mut merged = hdrhistogram::Histogram::<u64>::new(3).expect("h");
    for i in intervals.iter().filter(|i| i.tag == tag) {
        merged.add(&i.histogram).expect("add");
    }
    let p = &s["workloads"]["producers"];
    assert_eq!(p["stages"]["produce"]["count"].as_u64(), Some(merged.len()), "{p}");
    let errors: u64 = p["errors"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    assert_eq!(p["ok"].as_u64().unwrap_or(0) + errors, p["ops"].as_u64().unwrap_or(0));
    // At least one measured interval flushed: killed 4.0 s in at the earliest, after a
    // 2 s warmup at 2,000/s, a run can have flushed one measured second (1,974 seen
    // under load), so "more than a second's worth" was a race with the kill's moment.
    assert!(
        merged.len() > 1_000,
        "{} produces measured before the kill",
        merged.len()
    );

    // The same percentiles as Java's HistogramLogProcessor over the same intervals.
    let (java_count, java_p50_ms, _) =
        common::java_log_processor(&run.join("latency.hlog"), tag, &dir.path().join("processed"));
    assert_eq!(java_count, merged.len());
    let ours_ms = p["stages"]["produce"]["p50_ns"].as_u64().unwrap_or(0) as f64 / 1e6;
    assert!(
        (java_p50_ms - ours_ms).abs() <= 0.01 * ours_ms + 0.001,
        "java p50 {java_p50_ms} ms, rebuilt {ours_ms} ms"
    );

    // report.html renders in Chromium with data.
    let html = run.join("report.html");
    let url = format!("file://{}", html.display());
    let dom = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("incomplete") && dom.contains("data-charts-with-data"),
        "{}",
        &dom[..dom.len().min(600)]
    );

    // The audit runs on it, from the ledger it flushed (the memory store died with it).
    let (code, out, err) = common::eventbench(&["audit", run.to_str().expect("utf8")]);
    assert!(matches!(code, Some(0) | Some(5)), "{out} {err}");
    assert!(out.contains("audit:") && out.contains("flushed ledger"), "{out}");
    let acked: u64 = out
        .split("audit: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(acked > 2_000, "the ledger read back holds the acked events: {out}");
}

#[test]
fn run_sharded_merges_a_shard_that_died_and_names_it() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let scen = scenario(dir.path());
    let reports = dir.path().join("reports");
    let script = Command::new(common::root().join("scripts/run-sharded"))
        .args(["2", scen.to_str().expect("utf8"), "--set", "duration=8s"])
        .env("EVENTBENCH", common::bin())
        .env("REPORTS_DIR", &reports)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run-sharded");
    std::thread::sleep(Duration::from_secs(5));
    // SIGKILL shard 1 of this test's script (its --out is under this test's tempdir).
    let pattern = format!("{}/.*/shard-1", reports.display());
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", &pattern])
        .status()
        .expect("pkill");
    assert!(killed.success(), "shard 1 was running");
    let out = script.wait_with_output().expect("wait");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The dead shard fails the script (its exit code), after the merge is written.
    assert_ne!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains("shard 1/2 exited"), "{printed}");
    let merged = std::fs::read_dir(dir.path().join("reports/quickstart"))
        .expect("reports")
        .filter_map(Result::ok)
        .map(|e| e.path().join("merged"))
        .find(|p| p.exists())
        .expect("a merged run");
    let s: serde_json::Value = serde_json::from_str(&common::read(&merged.join("summary.json"))).expect("summary");
    let why = s["incomplete"].as_str().unwrap_or_default();
    assert!(why.contains("shard-1") && why.contains("died"), "{s}");
    let from = s["merged_from"].to_string();
    assert!(from.contains("shard-1 (INCOMPLETE"), "{from}");
    assert!(common::read(&merged.join("report.html")).contains("incomplete"));
    // merge itself says so with its own exit code: 8, an incomplete report.
    let shards = merged.parent().expect("base");
    let again = shards.join("merged-again");
    let (code, out, err) = common::eventbench(&[
        "merge",
        shards.join("shard-0").to_str().expect("utf8"),
        shards.join("shard-1").to_str().expect("utf8"),
        "--out",
        again.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(8), "{out} {err}");
}

#[test]
fn no_reader_accepts_a_torn_file() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tmp");
    let text = common::read(&common::root().join("scenarios/quickstart.toml"));
    let (_s, run) = common::run_text(&text, &["duration=3s", "warmup=1s", "workload.producers.rate=2000"]);
    let run = run.path().join("run");
    let log = common::read(&run.join("latency.hlog"));
    let whole = hlog::read(&run.join("latency.hlog")).expect("hlog").len();

    // The interval log cut mid-line by a kill: the torn last line is dropped, the rest read.
    let torn = dir.path().join("torn.hlog");
    let last = log.rfind("\nTag=").expect("an interval line") + 1;
    let end = log[last..].find('\n').map_or(log.len(), |e| last + e);
    let cut = last + (end - last) / 2;
    std::fs::write(&torn, &log[..cut]).expect("write");
    let read = hlog::read(&torn).expect("a torn last line is not an error");
    let before = log[..last].lines().filter(|l| l.starts_with("Tag=")).count();
    assert_eq!(read.len(), before, "{whole} intervals, the torn one dropped");
    // A damaged line inside the log is an error, never a silently wrong histogram.
    let mut lines: Vec<&str> = log.lines().collect();
    let tagged: Vec<usize> = (0..lines.len()).filter(|i| lines[*i].starts_with("Tag=")).collect();
    let k = tagged[tagged.len() / 2];
    let damaged = lines[k][..lines[k].len() / 2].to_string();
    lines[k] = &damaged;
    std::fs::write(&torn, lines.join("\n") + "\n").expect("write");
    assert!(hlog::read(&torn).is_err());

    // A ledger cut short is refused.
    let ledger = std::fs::read(run.join("ledger.bin")).expect("ledger");
    let dir2 = eventbench::report::RunDir::create(&dir.path().join("cut")).expect("dir");
    std::fs::write(dir2.path().join("ledger.bin"), &ledger[..ledger.len() / 2]).expect("write");
    assert!(dir2.read_ledger().is_err());

    // A summary being written when the process died is a temp file beside the last
    // complete one, which readers keep using.
    let good = common::read(&run.join("summary.json"));
    std::fs::write(run.join(".summary.json.tmp"), &good[..good.len() / 2]).expect("write");
    let d = eventbench::report::RunDir::open(&run).expect("open");
    assert!(d.read_summary().is_ok());
    std::fs::write(run.join("summary.json"), &good[..good.len() / 2]).expect("write");
    assert!(
        d.read_summary().is_err(),
        "a torn summary.json is refused, not half-read"
    );

    // A torn timeline line is dropped: the rebuild still works from the rest.
    std::fs::remove_file(run.join("summary.json")).expect("rm");
    let tl = common::read(&run.join("timeline.jsonl"));
    std::fs::write(run.join("timeline.jsonl"), &tl[..tl.len() - 10]).expect("write");
    let rebuilt = eventbench::report::journal::rebuild(&d).expect("rebuild");
    assert!(rebuilt.incomplete.is_some());
}
