//! A load spread over generators reports one truth: `--shard i/n` runs exactly its
//! share, `scripts/run-sharded` runs n of them on this host and `merge` combines
//! them: counts are the sum, and percentiles match one generator running it all.

mod common;

use std::process::Command;

const SCENARIO: &str = r#"
name = "sharded"
duration = "6s"
warmup = "1s"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "lognormal", median = "1ms", p99 = "3ms" }

[workload.writers]
kind = "persist"
rate = 1000
"#;

fn json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&common::read(p)).expect("json")
}

#[test]
fn two_shards_merged_equal_one_run_of_the_whole_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, out, err, whole) = common::run_scenario(dir.path(), "whole", SCENARIO, &[]);
    let path = dir.path().join("whole.toml");
    assert_eq!(code, Some(0), "{out} {err}");

    let res = Command::new(common::root().join("scripts/run-sharded"))
        .args(["2", path.to_str().expect("utf8")])
        .env("EVENTBENCH", common::bin())
        .env("REPORTS_DIR", dir.path().join("reports"))
        .current_dir(dir.path())
        .output()
        .expect("run-sharded");
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let merged_dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .map(std::path::PathBuf::from)
        .expect("merged report path");

    let w = json(&whole.join("summary.json"));
    let m = json(&merged_dir.join("summary.json"));
    let shards: Vec<serde_json::Value> = (0..2)
        .map(|i| json(&merged_dir.join(format!("../shard-{i}/summary.json"))))
        .collect();
    let ops = |s: &serde_json::Value| s["workloads"]["writers"]["ops"].as_u64().unwrap_or(0);
    assert_eq!(shards[0]["shard"], "0/2");
    assert_eq!(ops(&shards[0]) + ops(&shards[1]), ops(&m));
    assert_eq!(ops(&m), ops(&w), "the shards ran exactly the whole load");
    assert_eq!(ops(&shards[0]), ops(&shards[1]));
    let rate = |s: &serde_json::Value, k: &str| s["workloads"]["writers"][k].as_f64().unwrap_or(0.0);
    assert!(
        (rate(&m, "target_rate") - 1000.0).abs() < 1.0,
        "{}",
        rate(&m, "target_rate")
    );
    assert!((rate(&m, "achieved_rate") - rate(&w, "achieved_rate")).abs() < 10.0);
    assert_eq!(m["merged_from"].as_array().map(|a| a.len()), Some(2));
    let p = |s: &serde_json::Value, q: &str| {
        s["workloads"]["writers"]["stages"]["persist"][q]
            .as_f64()
            .unwrap_or(0.0)
    };
    for (q, tolerance) in [("p50_ns", 0.15), ("p90_ns", 0.2), ("p99_ns", 0.5)] {
        let (a, b) = (p(&w, q), p(&m, q));
        assert!((b / a - 1.0).abs() < tolerance, "{q}: whole {a} merged {b}");
    }
    // The merged interval log adds the shards' histograms interval by interval.
    let count = |d: &std::path::Path| -> u64 {
        eventbench::stats::hlog::read(&d.join("latency.hlog"))
            .expect("hlog")
            .iter()
            .filter(|i| i.tag == "writers.persist")
            .map(|i| i.histogram.len())
            .sum()
    };
    let shard_sum = count(&merged_dir.join("../shard-0")) + count(&merged_dir.join("../shard-1"));
    assert_eq!(count(&merged_dir), shard_sum);
    assert!(merged_dir.join("report.html").exists() && merged_dir.join("summary.md").exists());

    // One schedule origin (run-sharded's --start-at): the shards started at the same
    // instant, and the merged intervals match the single run's interval by interval
    // (an operation finishing just across a boundary may land one interval later).
    assert_eq!(shards[0]["started_at"], shards[1]["started_at"], "one origin");
    let per_interval = |d: &std::path::Path| -> Vec<u64> {
        let mut v = vec![0u64; 16];
        for i in eventbench::stats::hlog::read(&d.join("latency.hlog"))
            .expect("hlog")
            .iter()
            .filter(|i| i.tag.starts_with("writers.persist") && !i.tag.contains("service"))
        {
            let k = (i.start_s + 1e-6).floor() as usize;
            if k < v.len() {
                v[k] += i.histogram.len();
            }
        }
        v
    };
    let (a, b) = (per_interval(&whole), per_interval(&merged_dir));
    for k in 1..5 {
        let d = (a[k] as f64 - b[k] as f64).abs();
        assert!(
            d <= 0.02 * a[k] as f64 + 5.0,
            "interval {k}: whole {} merged {}",
            a[k],
            b[k]
        );
    }

    // Mismatched shards do not merge: a shard twice, a shard with a whole run.
    let shard0 = merged_dir.join("../shard-0");
    let shard0 = shard0.to_str().expect("utf8");
    for (other, why) in [
        (shard0, "given twice"),
        (whole.to_str().expect("utf8"), "shards of one split"),
    ] {
        let (code, _, err) = common::eventbench(&[
            "merge",
            shard0,
            other,
            "--out",
            dir.path().join("refused").to_str().expect("utf8"),
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(why), "{err}");
    }

    // Runs of different scenarios do not merge: a real run of another scenario reaches
    // the scenario check (not the "not a run directory" one).
    let other_text = SCENARIO
        .replace(r#"name = "sharded""#, r#"name = "other""#)
        .replace(r#"duration = "6s""#, r#"duration = "2s""#);
    let (code, out, err, other) = common::run_scenario(dir.path(), "other", &other_text, &[]);
    assert_eq!(code, Some(0), "{out} {err}");
    let (code, _, err) = common::eventbench(&[
        "merge",
        whole.to_str().expect("utf8"),
        other.to_str().expect("utf8"),
        "--out",
        dir.path().join("bad").to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("only runs of one scenario merge"), "{err}");
}
