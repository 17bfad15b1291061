//! The CI-length soak: the in-memory pipeline with the audit on, for 100 s at 8,000
//! events/s (under half of what this machine's pipeline sustains), sampling the
//! process's resident memory every second. Past the first 40 s (the memory store full,
//! the pools warm) its slope must stay under 8 MiB a minute (it measures ~3 here): a
//! per-event leak of 16 bytes (the store's old list of trimmed events took 24) adds
//! ~7.5 MiB a minute. The
//! 10-minute figure at 20k events/s is scripts/soak's, in the guide's performance chapter.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Least-squares slope of (t s, y) in y per minute.
fn slope_per_min(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mt, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let num: f64 = points.iter().map(|(t, y)| (t - mt) * (y - my)).sum();
    let den: f64 = points.iter().map(|(t, _)| (t - mt) * (t - mt)).sum();
    num / den * 60.0
}

#[test]
fn resident_memory_stays_flat_as_a_pipeline_run_goes_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("run");
    let scenario = common::root().join("scenarios/soak.toml");
    let mut child = Command::new(common::bin())
        .args([
            "run",
            scenario.to_str().expect("utf-8 path"),
            "--set",
            "duration=100s",
            "--set",
            "warmup=10s",
            "--set",
            "workload.producers.rate=8000",
            // At 8,000/s a store of 1,000 events per aggregate fills its zipf tail for
            // two minutes; 100 fills it within the first 40 s, so what grows after is ours.
            "--set",
            "target.memory_store.keep_per_aggregate=100",
            "--quiet",
            "--out",
            out.to_str().expect("utf-8 path"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn eventbench");
    let pid = child.id();
    let t0 = Instant::now();
    let mut samples = Vec::new();
    while child.try_wait().expect("wait").is_none() {
        let t = t0.elapsed().as_secs_f64();
        if let Some(r) = rss_mib(pid) {
            if t <= 100.0 {
                samples.push((t, r));
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let output = child.wait_with_output().expect("output");
    let show = format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- RSS (s, MiB)\n{:?}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        samples
            .iter()
            .map(|(t, r)| (t.round() as u32, r.round() as u32))
            .collect::<Vec<_>>()
    );
    assert_eq!(output.status.code(), Some(0), "{show}");
    let steady: Vec<(f64, f64)> = samples.iter().copied().filter(|(t, _)| *t >= 40.0).collect();
    assert!(steady.len() >= 40, "too few samples\n{show}");
    let slope = slope_per_min(&steady);
    let (first, last) = (steady[0].1, steady[steady.len() - 1].1);
    eprintln!("RSS slope {slope:.2} MiB/min from 40 s ({first:.0} MiB) to 100 s ({last:.0} MiB)");
    assert!(
        slope < 8.0,
        "RSS grows {slope:.2} MiB/min from 40 s ({first:.0} MiB) to 100 s ({last:.0} MiB)\n{show}"
    );
    // The run's audit (with its ledger out of resident memory) still saw every event.
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary.json");
    assert_eq!(summary["audit"]["lost"], 0, "{show}");
    assert!(
        summary["audit"]["trimmed"].as_u64().unwrap_or(0) > 0,
        "the store trimmed nothing: {show}"
    );
    assert!(
        out.join("ledger.bin").exists() && !out.join("ledger.d").exists(),
        "{show}"
    );
}
