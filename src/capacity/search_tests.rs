//! The search's decisions on scripted targets (no runs).

use super::super::step::blank;
use super::*;

fn options(start: f64, repeat: usize) -> Options {
    Options {
        workload: "w".into(),
        slos: Vec::new(),
        precision: 0.05,
        start,
        max: 1e6,
        step_ns: 1,
        warmup_ns: 1,
        votes: 1,
        repeat,
        error_limit: 0.001,
        out: std::path::PathBuf::new(),
    }
}

/// A target that passes up to `cap`, except that the first run at `odd` goes the
/// other way (a hiccup of the target: nothing the host saw).
fn target(cap: f64, odd: f64) -> impl FnMut(f64, StepPhase, usize) -> Result<Step, String> {
    let mut surprised = false;
    move |rate, phase, _| {
        let mut passed = rate <= cap;
        if same(rate, odd) && !surprised {
            surprised = true;
            passed = !passed;
        }
        Ok(Step {
            passed,
            reasons: if passed { Vec::new() } else { vec!["p99".into()] },
            health: Health::Healthy,
            ..blank(rate, phase)
        })
    }
}

fn search(o: &Options, run: impl FnMut(f64, StepPhase, usize) -> Result<Step, String>) -> Outcome {
    Search::new(o, run, |_: &Step| {}).run().expect("search")
}

#[test]
fn a_failing_boundary_its_repeats_contradict_reopens_the_search() {
    // 60,000/s of capacity; one failure at 20,000/s would have ended the ladder there.
    let o = options(5000.0, 1);
    let out = search(&o, target(60_000.0, 20_000.0));
    assert_eq!((out.lo, out.hi), (Some(60_000.0), Some(62_500.0)), "{}", out.confidence);
    assert!(
        out.confidence
            .contains("reopened: failing 20000/s did not hold (2 of 3 runs passed)"),
        "{}",
        out.confidence
    );
    // Without repeats the hiccup decides, as before.
    let once = search(&options(5000.0, 0), target(60_000.0, 20_000.0));
    assert_eq!(once.hi, Some(20_000.0));
}

#[test]
fn a_passing_boundary_its_repeats_contradict_reopens_the_search_too() {
    // The same rule the other way: a lucky pass at 3,000/s of a 2,000/s target.
    let out = search(&options(1000.0, 1), target(2000.0, 3000.0));
    assert_eq!((out.lo, out.hi), (Some(2000.0), Some(2062.5)), "{}", out.confidence);
    assert!(
        out.confidence
            .contains("reopened: passing 3000/s did not hold (1 of 3 runs passed)"),
        "{}",
        out.confidence
    );
    // Every run of the boundaries agreed; the lucky pass at 3,000/s still widens
    // the interval, so the search spent its extra runs on both boundaries.
    let agreed = |label: &str| {
        let rest = out.confidence.split(label).nth(1).unwrap_or_default();
        let words: Vec<&str> = rest.split_whitespace().collect();
        words.get(2) == words.get(4) && words.get(2).is_some()
    };
    assert!(
        agreed("passing 2000/s") && agreed("failing 2062/s"),
        "{}",
        out.confidence
    );
    let interval = out.interval.expect("interval");
    assert!(
        interval.lo.expect("lo") < 2000.0 && interval.hi.expect("hi") > 2062.5,
        "{interval:?}"
    );
}

#[test]
fn a_clean_search_s_interval_covers_the_capacity_within_its_precision() {
    let o = Options {
        precision: 0.01,
        ..options(1000.0, 1)
    };
    let out = search(&o, target(2000.0, -1.0));
    let i = out.interval.expect("interval");
    let (lo, hi) = (i.lo.expect("lo"), i.hi.expect("hi"));
    assert!(lo <= 2000.0 && hi >= 2000.0, "covers the capacity: {i:?}");
    assert!(i.half_width.expect("bounded") <= 0.01, "{i:?}: {}", out.confidence);
    assert!(!out.confidence.contains("wider than"), "{}", out.confidence);
}

#[test]
fn a_boundary_that_keeps_moving_stops_the_search_and_says_so() {
    // A target that gets faster every time a boundary is repeated.
    let mut cap = 2000.0;
    let run = move |rate: f64, phase, _| {
        if phase == StepPhase::Repeat {
            cap *= 1.5;
        }
        Ok(Step {
            passed: rate <= cap,
            ..blank(rate, phase)
        })
    };
    let out = search(&options(1000.0, 1), run);
    let stopped = out.stopped.unwrap_or_default();
    assert!(stopped.contains("moved 4 times"), "{stopped}: {}", out.confidence);
}

#[test]
fn a_failure_the_host_held_is_set_aside_and_the_rate_runs_again() {
    let mut first = true;
    let run = move |rate: f64, phase, _| {
        let held = std::mem::take(&mut first);
        Ok(Step {
            passed: !held && rate <= 4000.0,
            host_stalls: u64::from(held),
            ..blank(rate, phase)
        })
    };
    let out = search(&options(1000.0, 0), run);
    assert!(out.steps[0].set_aside.is_some() && out.steps[1].set_aside.is_none());
    assert!(out.steps[1].passed && out.steps[1].rate == 1000.0);
    assert_eq!((out.lo, out.hi), (Some(4000.0), Some(4125.0)));
}
