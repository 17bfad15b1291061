//! The interval log must stay readable by other HdrHistogram tools: Java's own
//! `HistogramLogProcessor` reads it and finds the same counts and percentiles.
//! `scripts/setup` fetches the HdrHistogram jar; without it this test fails loudly.

mod common;

use std::process::Command;

use eventbench::stats::hlog;

const JAR: &str = ".cache/jars/HdrHistogram-2.2.2.jar";

#[test]
fn java_histogram_log_processor_reads_our_log() {
    let jar = common::root().join(JAR);
    assert!(
        jar.exists(),
        "{} is missing: run scripts/setup (it fetches it with mvn)",
        jar.display()
    );
    let text = common::read(&common::root().join("scenarios/quickstart.toml"));
    let (_summary, dir) = common::run_text(&text, &["duration=3s", "warmup=1s", "workload.producers.rate=3000"]);
    let log = dir.path().join("run/latency.hlog");
    let ours: Vec<_> = hlog::read(&log)
        .expect("read")
        .into_iter()
        .filter(|i| i.tag == "producers.e2e.persisted")
        .collect();
    let mut merged = hdrhistogram::Histogram::<u64>::new(3).expect("h");
    for i in &ours {
        merged.add(&i.histogram).expect("add");
    }
    let out_base = dir.path().join("processed");
    let out = Command::new("java")
        .arg("-cp")
        .arg(&jar)
        .args(["org.HdrHistogram.HistogramLogProcessor", "-i"])
        .arg(&log)
        .args([
            "-tag",
            "producers.e2e.persisted",
            "-outputValueUnitRatio",
            "1000000",
            "-csv",
            "-o",
        ])
        .arg(&out_base)
        .output()
        .expect("java runs (Java 17 is part of the set-up)");
    assert!(out.status.success(), "java: {}", String::from_utf8_lossy(&out.stderr));
    let csv = common::read(&out_base);
    let last = csv
        .lines()
        .rev()
        .find(|l| !l.starts_with('#') && !l.starts_with('"'))
        .expect("interval rows");
    let cols: Vec<&str> = last.split(',').collect();
    // Timestamp, Int_Count, Int_50%, Int_90%, Int_Max, Total_Count, Total_50%, ...
    let total: u64 = cols[5].parse().expect("count");
    assert_eq!(total, merged.len(), "Java counted {total}, we logged {}", merged.len());
    let java_p50_ms: f64 = cols[6].parse().expect("p50");
    let our_p50_ms = merged.value_at_quantile(0.5) as f64 / 1e6;
    assert!(
        (java_p50_ms - our_p50_ms).abs() <= 0.01 * our_p50_ms + 0.001,
        "java p50 {java_p50_ms} ms, ours {our_p50_ms} ms"
    );
    let header = common::read(&log);
    assert!(
        csv.contains(header.lines().nth(2).expect("StartTime line").trim_start_matches('#')),
        "StartTime carried over"
    );
}
