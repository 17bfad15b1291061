//! Capture and replay against the real Kafka the scripts start: a topic written from a
//! known curve is captured, replayed at speed 1 and at speed 4 into topics of their own
//! through the embedded persistence service (every replayed event audited), and those
//! topics captured in turn: the per-second counts of the speed-1 replay are the
//! original's, those of the speed-4 replay the original's summed over 4 s, each within
//! 2% or 3 Poisson standard deviations; nothing is lost or added.

mod common;

use std::path::Path;

use common::{eventbench, require_kafka, unique_topic};
use eventbench::model::capture::Capture;

fn source(topic: &str) -> String {
    format!(
        r#"
name = "replay-source"
seed = 3
warmup = "0s"

[target]
log = "kafka"
services = "none"

[target.kafka]
bootstrap = "127.0.0.1:9092"
partitions = 2

[target.topics]
events = "{topic}"

[data]
aggregates = {{ dist = "uniform", min = 1, max = 4 }}
actions = {{ placed = 3, paid = 1 }}
payload = {{ dist = "lognormal", median = 64, p99 = 400 }}

[workload.orders]
kind = "produce"
arrival = "poisson"
max_in_flight = 256
phase = [{{ kind = "curve", points = [{{ at = "0s", rate = 60 }}, {{ at = "6s", rate = 400 }}, {{ at = "12s", rate = 100 }}] }}]
"#
    )
}

fn replay(capture: &Path, speed: f64) -> String {
    format!(
        r#"
name = "replay-x{speed}"
seed = 4
warmup = "0s"

[target]
log = "kafka"
store = "memory"
services = "embedded"

[target.kafka]
bootstrap = "127.0.0.1:9092"
partitions = 2

[workload.orders]
kind = "replay"
capture = "{}"
speed = {speed}
max_in_flight = 256
"#,
        capture.display()
    )
}

fn capture(topic: &str, out: &Path) -> Capture {
    let (code, _, err) = eventbench(&[
        "capture",
        "--bootstrap",
        "127.0.0.1:9092",
        "--topic",
        topic,
        "--client",
        "client.id=capture-secret-hunter2",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    // Client settings connect and are never written: not in the file, nor in what it says.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(out).expect("open")),
        &mut text,
    )
    .expect("gzip");
    assert!(
        !text.contains("hunter2") && !err.contains("hunter2"),
        "a client setting was written"
    );
    Capture::read(out).expect("the capture reads back")
}

/// Events per second from the capture's first record.
fn per_second(c: &Capture) -> Vec<u64> {
    let first = c.ts_ms()[0];
    let mut counts = Vec::new();
    for t in c.ts_ms() {
        let s = ((t - first) / 1000) as usize;
        if counts.len() <= s {
            counts.resize(s + 1, 0);
        }
        counts[s] += 1;
    }
    counts
}

fn close(got: u64, want: u64) -> bool {
    let want_f = want as f64;
    (got as f64 - want_f).abs() <= (0.02 * want_f).max(3.0 * want_f.sqrt())
}

#[test]
fn a_capture_replays_at_its_own_spacing_and_four_times_faster() {
    require_kafka();
    let dir = tempfile::tempdir().expect("tmp");
    let topic = unique_topic("eventbench.replay-source");
    let (code, _, err, _) = common::run_scenario(dir.path(), "source", &source(&topic), &[]);
    assert_eq!(code, Some(0), "{err}");
    let original = capture(&topic, &dir.path().join("original.ebcap"));
    let want = per_second(&original);
    assert!(
        original.len() > 2000 && want.len() >= 11,
        "{} events, {want:?}",
        original.len()
    );

    for speed in [1u32, 4] {
        let t = unique_topic(&format!("eventbench.replay-x{speed}"));
        let sets = common::pipeline_topics(&t);
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let name = format!("x{speed}");
        let text = replay(&dir.path().join("original.ebcap"), speed as f64);
        let (code, out, err, run) = common::run_scenario(dir.path(), &name, &text, &sets);
        assert_eq!(code, Some(0), "{out}\n{err}");
        let s: serde_json::Value = serde_json::from_str(&common::read(&run.join("summary.json"))).expect("summary");
        let w = &s["workloads"]["orders"];
        assert_eq!(
            w["ok"].as_u64(),
            Some(original.len() as u64),
            "every captured event sent once: {w}"
        );
        let source = w["source"].as_str().unwrap_or_default();
        assert!(
            source.contains("original.ebcap") && source.contains(&topic) && source.contains(&format!("speed x{speed}")),
            "{source}"
        );
        // The audit read every replayed event back from the store through the service.
        let audit = &s["audit"];
        assert_eq!(audit["acked"].as_u64(), Some(original.len() as u64), "{audit}");
        assert_eq!(audit["stored"].as_u64(), Some(original.len() as u64), "{audit}");
        assert_eq!(
            (audit["lost"].as_u64(), audit["duplicates"].as_u64()),
            (Some(0), Some(0)),
            "{audit}"
        );
        assert_eq!(audit["failed"].as_array().map(Vec::len), Some(0), "{audit}");

        let replayed = capture(&format!("{t}.events"), &dir.path().join(format!("{name}.ebcap")));
        assert_eq!(replayed.len(), original.len());
        let got = per_second(&replayed);
        let k = speed as usize;
        // Whole seconds of the replay (its last one is cut short by the window's end).
        for (s, g) in got.iter().enumerate().take(got.len() - 1) {
            let expect: u64 = want.iter().skip(s * k).take(k).sum();
            assert!(
                close(*g, expect),
                "speed {speed}, second {s}: {g} replayed, {expect} captured\nreplayed {got:?}\ncaptured {want:?}"
            );
        }
    }
}
