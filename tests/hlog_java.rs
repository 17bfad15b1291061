//! The interval log must stay readable by other HdrHistogram tools: Java's own
//! `HistogramLogProcessor` reads it and finds the same counts and percentiles.
//! `scripts/setup` fetches the HdrHistogram jar; without it this test fails loudly.

mod common;

use eventbench::stats::hlog;

#[test]
fn java_histogram_log_processor_reads_our_log() {
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
    let (total, java_p50_ms, csv) =
        common::java_log_processor(&log, "producers.e2e.persisted", &dir.path().join("processed"));
    assert_eq!(total, merged.len(), "Java counted {total}, we logged {}", merged.len());
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
