//! A healthy Poisson run is never flagged by chance. A 1,000-operation Poisson run
//! realises 1,000 +- 32 arrivals; judged against the expected count instead of the
//! realised schedule it fell below 99% about a third of the time. 100 seeds, none
//! flagged, and each run's outcomes add up to its own realised schedule.
//!
//! The host is another matter: CI's VM once held two of these 0.5 s windows for 20 to
//! 50 ms (the hiccup meter late too), and `host-limited` was a true verdict on it. One
//! hiccup is now a stall, told and not judged; a host that holds a run repeatedly may
//! still be called, at most twice in 100, and only as `host-limited`.

mod common;

const SCENARIO: &str = r#"
name = "poisson-health"
# 1,000 operations measured after a 200 ms warmup: a fresh process's first
# milliseconds (threads spawning, pages faulting in) once held the schedule up by 11 ms,
# which in a 0.5 s run is more than 1% of its operations (seen in CI, seed 1).
duration = "700ms"
warmup = "200ms"
interval = "100ms"

[target]
services = "none"

[target.memory_store]
service_time = { dist = "fixed", value = "100us" }

[workload.writers]
kind = "persist"
rate = 2000
arrival = "poisson"
"#;

#[test]
fn a_hundred_seeds_of_a_healthy_poisson_run_are_all_healthy() {
    // One unjudged run first: the process's first run still met a host busy from the
    // fault tests' restarts (seed 1 held up 10.7 ms in CI); the verdict was true, the
    // chance this test is about was not what it measured.
    let _ = common::run_text(SCENARIO, &["seed=0"]);
    let (mut flagged, mut host) = (Vec::new(), Vec::new());
    let mut counts = Vec::new();
    for seed in 1..=100 {
        let set = format!("seed={seed}");
        let (s, _dir) = common::run_text(SCENARIO, &[&set]);
        let w = &s.workloads["writers"];
        let errors: u64 = w.errors.values().sum();
        assert_eq!(w.ok + errors + w.censored, w.ops, "seed {seed}: one outcome each");
        counts.push(w.ops);
        let line = format!("seed {seed}: {} ({}), {} ops", w.health, w.health_reason, w.ops);
        match w.health.to_string().as_str() {
            "healthy" if s.checks_passed() => {}
            "host-limited" if s.checks_passed() => host.push(line),
            _ => flagged.push(line),
        }
    }
    assert!(flagged.is_empty(), "flagged by chance: {flagged:#?}");
    eprintln!("host-limited: {host:#?}");
    assert!(host.len() <= 2, "the host was blamed too often: {host:#?}");
    // The runs were Poisson: their counts spread around 1,000 as such counts do.
    let (min, max) = (counts.iter().min().copied(), counts.iter().max().copied());
    assert!(
        min.is_some_and(|m| m < 980) && max.is_some_and(|m| m > 1020),
        "counts {min:?}..{max:?}"
    );
}
