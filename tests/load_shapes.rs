//! Load shapes: a sine phase and a burst drive the schedule the run really offers, for
//! constant and Poisson arrivals, and the report names them. Counts, not timings: the
//! operations each stretch intended and the ones the run logged there.

mod common;

use eventbench::plan::{Load, Plan};

const SCENARIO: &str = r#"
name = "shapes"
warmup = "250ms"
interval = "250ms"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "fixed", value = "50us" }

[workload.writers]
kind = "persist"
phase = [{ kind = "sine", duration = "4s", mean = 2000, amplitude = 1000, period = "2s" }]

[[workload.writers.burst]]
at = "3s"
duration = "500ms"
factor = 2
"#;

fn profile(overrides: &[&str]) -> eventbench::plan::RateProfile {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("s.toml");
    std::fs::write(&path, SCENARIO).expect("write");
    let sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let plan = Plan::from_loaded(&eventbench::scenario::load(&path, &sets).expect("valid"));
    match &plan.workloads[0].load {
        Load::Open { profile, .. } => profile.clone(),
        Load::Closed { .. } => panic!("open model expected"),
    }
}

#[test]
fn a_sine_and_a_burst_are_what_the_run_offers() {
    let p = profile(&[]);
    // The burst doubles 3.0-3.5 s, where the sine falls from 2,000 to 1,000/s: that
    // half second intends 2 x (1,000 - 1,000/pi) = 1,363.4 instead of 681.7.
    let window = p.count_at(3_500_000_000) - p.count_at(3_000_000_000);
    assert!((1350.0..1375.0).contains(&window), "{window}");
    let (s, dir) = common::run_text(SCENARIO, &["seed=3"]);
    let w = &s.workloads["writers"];
    let intended = p.count_at(4_000_000_000) - p.count_at(250_000_000);
    assert!(
        (w.ops as f64 - intended).abs() <= 2.0,
        "{} operations in the window, the profile intends {intended}",
        w.ops
    );
    let errors: u64 = w.errors.values().sum();
    assert_eq!(w.ok + errors + w.censored, w.ops);
    // Logged per interval where the profile puts them: the sine's peak (0.25-0.75 s,
    // about 2,900/s) against its trough (1.25-1.75 s, about 1,100/s), and the burst.
    let intervals = eventbench::stats::hlog::read(&dir.path().join("run/latency.hlog")).expect("hlog");
    let logged = |from: f64, to: f64| -> u64 {
        intervals
            .iter()
            .filter(|i| i.tag == "writers.persist" && i.start_s >= from - 0.01 && i.start_s + i.length_s <= to + 0.01)
            .map(|i| i.histogram.len())
            .sum()
    };
    let (peak, trough) = (logged(0.25, 0.75), logged(1.25, 1.75));
    assert!(
        peak as f64 > 2.0 * trough as f64,
        "peak {peak} vs trough {trough}: the sine is not what ran"
    );
    let want = p.count_at(3_500_000_000) - p.count_at(3_000_000_000);
    let burst = logged(3.0, 3.5) as f64;
    assert!(
        (burst - want).abs() <= 0.15 * want,
        "burst window logged {burst}, the profile intends {want}"
    );
    // The report names the phase and the burst as bands.
    let html = common::read(&dir.path().join("run/report.html"));
    assert!(html.contains("sine 2000 +- 1000/s, period 2s"), "no sine band");
    assert!(html.contains("burst x2"), "no burst band");
}

#[test]
fn poisson_arrivals_follow_the_shape_too() {
    let p = profile(&["workload.writers.arrival=\"poisson\""]);
    let (s, _dir) = common::run_text(SCENARIO, &["seed=4", "workload.writers.arrival=\"poisson\""]);
    let w = &s.workloads["writers"];
    let intended = p.count_at(4_000_000_000) - p.count_at(250_000_000);
    // A Poisson count of ~8,400 has a standard deviation of ~92: 5 of them.
    assert!(
        (w.ops as f64 - intended).abs() <= 460.0,
        "{} operations, the profile intends {intended}",
        w.ops
    );
}

/// A release window batches the dispatcher's wake-ups: at 5,000/s with a 2 ms window
/// each wake releases about ten operations, so the typical one starts a millisecond
/// late (uniform over the window), where one wake per operation starts it within tens
/// of microseconds; every operation still runs, and none later than the window allows
/// by more than the host's own hiccups.
#[test]
fn a_release_window_batches_releases_and_bounds_their_lag() {
    let text = r#"
name = "window"
duration = "3s"
warmup = "500ms"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "fixed", value = "20us" }

[workload.writers]
kind = "persist"
rate = 5000
"#;
    let lag = |s: &eventbench::report::summary::Summary| -> u64 { s.workloads["writers"].stages["lag"].p50_ns };
    let (precise, _d1) = common::run_text(text, &[]);
    let (windowed, _d2) = common::run_text(text, &["workload.writers.release_window=\"2ms\""]);
    for s in [&precise, &windowed] {
        let w = &s.workloads["writers"];
        assert!(
            (12_490..=12_510).contains(&w.ok),
            "every measured operation ran: {}",
            w.ok
        );
    }
    assert!(lag(&precise) < 300_000, "precise lag p50 {}", lag(&precise));
    assert!(
        (500_000..1_600_000).contains(&lag(&windowed)),
        "windowed lag p50 {} (a 2 ms window: about 1 ms)",
        lag(&windowed)
    );
}
