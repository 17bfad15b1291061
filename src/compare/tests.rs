//! compare's unit tests: judging, the gate, the noise sources and the sides.
pub(super) fn empty_comparison() -> Comparison {
    Comparison {
        baselines: Vec::new(),
        candidates: Vec::new(),
        noise: 0.05,
        confidence: 0.95,
        noise_source: String::new(),
        family: String::new(),
        rows: Vec::new(),
        notes: Vec::new(),
        verdict: Change::NoChange,
        regressions: 0,
        inconclusive: 0,
        candidates_held: false,
    }
}

use super::*;

#[test]
fn a_change_counts_when_significant_and_beyond_the_floor() {
    // +11%, interval +9..+13.5%: the case that used to be "no change".
    assert_eq!(judge(0.11, Some((0.09, 0.135)), 0.05), Change::Slower);
    assert_eq!(judge(-0.11, Some((-0.135, -0.09)), 0.05), Change::Faster);
    // Significant but smaller than the floor, and confidently so.
    assert_eq!(judge(0.02, Some((0.01, 0.03)), 0.05), Change::NoChange);
    // Could be either: straddles the floor.
    assert_eq!(judge(0.03, Some((-0.04, 0.12)), 0.05), Change::Inconclusive);
    assert_eq!(judge(0.08, Some((-0.01, 0.17)), 0.05), Change::Inconclusive);
    // No interval: the point change against the floor.
    assert_eq!(judge(0.08, None, 0.05), Change::Slower);
    assert_eq!(judge(0.01, None, 0.05), Change::NoChange);
}

#[test]
fn a_limit_fails_with_confidence_and_is_inconclusive_when_straddled() {
    let v = Change::Slower;
    assert_eq!(gate(v, 0.3, Some((0.25, 0.35)), 0.05, Some(0.2)), Gate::Regression);
    assert_eq!(gate(v, 0.22, Some((0.15, 0.3)), 0.05, Some(0.2)), Gate::Inconclusive);
    assert_eq!(gate(v, 0.1, Some((0.05, 0.15)), 0.05, Some(0.2)), Gate::Pass);
    // Without a limit the verdict decides; an inconclusive row that could be worse
    // than the floor is inconclusive for the gate, one that could only be better passes.
    assert_eq!(
        gate(Change::Slower, 0.1, Some((0.05, 0.15)), 0.05, None),
        Gate::Regression
    );
    assert_eq!(
        gate(Change::Inconclusive, 0.03, Some((-0.04, 0.12)), 0.05, None),
        Gate::Inconclusive
    );
    assert_eq!(
        gate(Change::Inconclusive, -0.08, Some((-0.15, 0.01)), 0.05, None),
        Gate::Pass
    );
}

fn values(pairs: &[(&str, f64)]) -> RunValues {
    RunValues {
        values: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        headline: [("w".to_string(), "persist".to_string())].into(),
        ..RunValues::default()
    }
}

pub(super) fn side(runs: Vec<RunValues>) -> Side {
    Side {
        names: (0..runs.len()).map(|i| format!("r{i}")).collect(),
        runs,
        ..Side::default()
    }
}

pub(super) fn opts() -> Options {
    Options {
        noise: 0.05,
        confidence: 0.95,
        limits: BTreeMap::new(),
        gate: Vec::new(),
        each_candidate: false,
        paired: false,
    }
}

#[test]
fn one_run_per_side_is_inconclusive_unless_the_change_is_gross() {
    let a = side(vec![values(&[("w.persist.p50", 1e6), ("w.persist.p99", 3e6)])]);
    let b = side(vec![values(&[("w.persist.p50", 1.3e6), ("w.persist.p99", 6e6)])]);
    let c = compare(&a, &b, &opts(), None);
    assert!(c.rows.iter().all(|r| r.verdict == Change::Inconclusive), "{:?}", c.rows);
    assert_eq!(c.regressions, 0);
    let slow = side(vec![values(&[("w.persist.p50", 3e6), ("w.persist.p99", 9e6)])]);
    let c = compare(&a, &slow, &opts(), None);
    let p50 = c.rows.iter().find(|r| r.stat == "p50").expect("p50");
    assert_eq!((p50.verdict, p50.gate), (Change::Slower, Gate::Regression));
    let p99 = c.rows.iter().find(|r| r.stat == "p99").expect("p99");
    assert_eq!(
        p99.verdict,
        Change::Inconclusive,
        "tails are never called without noise"
    );
    // Microseconds that double are the host, not the build (an A/A pair in CI).
    let us = |v: f64| side(vec![values(&[("w.produce.p50", v)])]);
    let c = compare(&us(1_462.0), &us(3_475.0), &opts(), None);
    assert_eq!(c.rows[0].verdict, Change::Inconclusive, "{:?}", c.rows);
}

#[test]
fn a_one_run_baseline_the_host_held_judges_nothing() {
    // The A/A pair on a busy host: the baseline's run was the held one
    // (hiccup p99 1.42 ms against 0.34 ms, lag p99 2.25 ms against 1.30 ms), and its
    // p90s were 55-89% slower than the candidate's.
    let run = |p50: f64, p90: f64, hiccup: f64, lag: f64| RunValues {
        hiccup_p99: Some(hiccup),
        others_cores: Some(1.73),
        lag_p99: [("w".to_string(), lag)].into(),
        ..values(&[("w.persist.p50", p50), ("w.persist.p90", p90)])
    };
    let held = side(vec![run(2e6, 9e6, 1.42e6, 2.25e6)]);
    let fine = side(vec![run(1e6, 1e6, 0.34e6, 1.30e6)]);
    for (base, cand, who) in [(&held, &fine, "baseline run r0"), (&fine, &held, "candidate run r0")] {
        let c = compare(base, cand, &opts(), None);
        assert!(
            c.rows
                .iter()
                .all(|r| !matches!(r.verdict, Change::Slower | Change::Faster)),
            "{:?}",
            c.rows
        );
        assert!(c.candidates_held, "a gate must not pass on it");
        let notes = c.notes.join("\n");
        assert!(notes.contains("nothing judged") && notes.contains(who), "{notes}");
        assert!(notes.contains("hiccup p99 1.42ms"), "{notes}");
    }
    // The same two runs with the same host evidence: judged.
    let quiet = side(vec![run(2e6, 9e6, 0.34e6, 1.30e6)]);
    let c = compare(&quiet, &fine, &opts(), None);
    assert!(!c.candidates_held);
}

#[test]
fn runs_the_host_held_are_left_out_of_either_side() {
    let run = |p50: f64, lag: f64| RunValues {
        lag_p99: [("w".to_string(), lag)].into(),
        ..values(&[("w.persist.p50", p50)])
    };
    // Eight baseline runs 1% apart, one of them held (lag 9 ms, p50 +25%).
    let mut base: Vec<RunValues> = (0..7).map(|i| run(1e6 * (1.0 + 0.01 * (i % 3) as f64), 3e5)).collect();
    base.push(run(1.25e6, 9e6));
    let base = side(base);
    // Two candidate runs of a 10% slower build, and a third the host held.
    let cand = side(vec![run(1.11e6, 3e5), run(1.10e6, 4e5), run(1.6e6, 5e6)]);
    let c = compare(&base, &cand, &opts(), None);
    let notes = c.notes.join("\n");
    assert!(notes.contains("baseline run(s) r7 left out"), "{notes}");
    assert!(notes.contains("candidate run(s) r2 left out"), "{notes}");
    assert!(!notes.contains("nothing judged"), "{notes}");
    let p50 = c.rows.iter().find(|r| r.stat == "p50").expect("p50");
    assert_eq!(p50.verdict, Change::Slower, "{p50:?}");
    assert!(p50.change.is_some_and(|x| (0.08..0.12).contains(&x)), "{p50:?}");
    // Every candidate run held: nothing called, whatever the numbers.
    let held = side(vec![run(2e6, 5e6), run(2.1e6, 6e6)]);
    let c = compare(&base, &held, &opts(), None);
    assert_eq!(c.regressions, 0);
    assert!(c.rows.iter().all(|r| r.verdict != Change::Slower), "{:?}", c.rows);
    assert!(c.candidates_held, "a gate must not pass a build nobody measured");
    assert!(!compare(&base, &cand, &opts(), None).candidates_held);
    // Lag under a millisecond is the platform's floor: never held.
    let floor = side(vec![run(1.0e6, 9e5)]);
    assert!(!compare(&base, &floor, &opts(), None)
        .notes
        .join(" ")
        .contains("candidate run(s)"));
}

#[test]
fn a_history_is_the_noise_model_and_the_gate_is_the_headline() {
    let run = |p50: f64, p90: f64| values(&[("w.persist.p50", p50), ("w.persist.p90", p90)]);
    let model = NoiseModel {
        source: "history".into(),
        runs: [1.0, 1.02, 0.98, 1.01, 0.99, 1.0]
            .iter()
            .map(|x| run(1e6 * x, 2e6 * x))
            .collect(),
    };
    let base = side(vec![run(1e6, 2e6)]);
    let same = side(vec![run(1.01e6, 2.02e6)]);
    let c = compare(&base, &same, &opts(), Some(&model));
    assert!(c
        .rows
        .iter()
        .all(|r| r.verdict != Change::Slower && r.verdict != Change::Faster));
    let slower = side(vec![run(1.15e6, 2.3e6)]);
    let c = compare(&base, &slower, &opts(), Some(&model));
    let p50 = c.rows.iter().find(|r| r.stat == "p50").expect("p50");
    assert_eq!(
        (p50.verdict, p50.gate, p50.gated),
        (Change::Slower, Gate::Regression, true)
    );
    // p90 is not in the default gate: slower, but it fails nothing.
    let p90 = c.rows.iter().find(|r| r.stat == "p90").expect("p90");
    assert_eq!((p90.verdict, p90.gate, p90.gated), (Change::Slower, Gate::Pass, false));
    assert_eq!(c.regressions, 1);
    // One candidate run an outlier, the other not: with --each-candidate, nothing called.
    let mixed = side(vec![run(1.15e6, 2.3e6), run(1.0e6, 2.0e6)]);
    let each = Options {
        each_candidate: true,
        ..opts()
    };
    let c = compare(&base, &mixed, &each, Some(&model));
    assert!(c.rows.iter().all(|r| r.verdict != Change::Slower), "{:?}", c.rows);
    assert_eq!(c.regressions, 0);
    let both = side(vec![run(1.15e6, 2.3e6), run(1.14e6, 2.28e6)]);
    let c = compare(&base, &both, &each, Some(&model));
    assert_eq!(c.regressions, 1, "{:?}", c.rows);
}
