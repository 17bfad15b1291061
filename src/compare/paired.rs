//! Paired comparison: baseline run i and candidate run i were made one after the other
//! (A B B A A B ..., each side first in half of the pairs, `compare --paired`), and each
//! row is judged on the pairs' differences: the paired t-interval of the mean
//! difference (in log space for latencies and rates), n - 1 degrees of freedom.
//! Alternating which side runs first turns what a second run meets into noise instead
//! of a bias, and the difference within a pair does not carry the host's drift between
//! pairs, which a history cannot cancel. The runs behind both rules are in
//! docs/PERFORMANCE.md ("the paired recipe").

use super::noise::split_held;
use super::{Comparison, Options, Side};

/// Which side ran first in every pair, when one did (three pairs or more, every start
/// known).
fn fixed_order(base: &Side, cand: &Side) -> Option<&'static str> {
    let starts: Option<Vec<(i64, i64)>> = base
        .runs
        .iter()
        .zip(&cand.runs)
        .map(|(b, c)| Some((b.started_ns?, c.started_ns?)))
        .collect();
    let starts = starts.filter(|s| s.len() >= 3)?;
    if starts.iter().all(|(b, c)| b < c) {
        Some("baseline")
    } else if starts.iter().all(|(b, c)| c < b) {
        Some("candidate")
    } else {
        None
    }
}

/// Compares pair by pair. Every pair is kept, also one whose run the host held (its
/// own schedule lag, as [`super::compare`] leaves such runs out of unpaired sides): a
/// held run moves its pair's difference, which widens the interval rather than moving
/// it, and on this host a lag p99 just over 1 ms is common enough that leaving those
/// pairs out left 2 of 5 in the first paired round measured (`scripts/gate-power
/// --paired 5`), too few to judge. The notes name the runs.
pub fn compare(base: &Side, cand: &Side, opts: &Options) -> Comparison {
    let mut cmp = super::sides::compare_sides(base, cand, opts, None, true);
    cmp.noise_source = format!(
        "the spread of {} pairs' differences (baseline run i and candidate run i, run one after the other: drift between pairs cancels)",
        base.runs.len()
    );
    cmp.family.push_str("; paired t-intervals");
    if let Some(first) = fixed_order(base, cand) {
        cmp.notes.push(format!(
            "the {first} ran first in every one of the {} pairs: whatever a second run meets (a store the first left busy, a host in a pattern) is then a bias of every difference, not noise; alternate which side runs first (the README's jobs do)",
            base.runs.len()
        ));
    }
    if let Some((median, bound)) = super::noise::held_bound(base) {
        let held: Vec<String> = [base, cand]
            .iter()
            .flat_map(|s| split_held(s, median, bound).1)
            .map(|h| format!("{} ({})", h.name, crate::units::fmt_ns(h.lag_ns as u64)))
            .collect();
        if !held.is_empty() {
            cmp.notes.push(format!(
                "run(s) {} had the harness's own schedule lag p99 over {}x the baseline's median ({}) and over {}: the host may have held them; their pairs are kept (a pair shares the host's state, and the interval widens with its difference)",
                held.join(", "),
                super::noise::HELD_FACTOR,
                crate::units::fmt_ns(median as u64),
                crate::units::fmt_ns(super::noise::HELD_FLOOR_NS as u64),
            ));
        }
    }
    cmp
}

#[cfg(test)]
mod tests {
    use super::super::{Change, Gate, RunValues};
    use super::*;

    fn run(p50: f64, lag: f64) -> RunValues {
        RunValues {
            values: [("w.persist.p50".to_string(), p50)].into(),
            headline: [("w".to_string(), "persist".to_string())].into(),
            lag_p99: [("w".to_string(), lag)].into(),
            ..RunValues::default()
        }
    }

    fn side(runs: Vec<RunValues>) -> Side {
        super::super::tests::side(runs)
    }

    fn opts() -> Options {
        Options {
            paired: true,
            ..super::super::tests::opts()
        }
    }

    /// A host drifting by 30% over five pairs: unpaired, the drift is the noise and a
    /// store 8% slower is inconclusive; paired, it cancels and the change is called.
    #[test]
    fn drift_between_pairs_cancels_and_a_real_change_is_called() {
        let drift = [1.0, 1.08, 1.15, 1.22, 1.30];
        let wobble = [0.01, -0.015, 0.005, -0.01, 0.012];
        let base = side(drift.iter().map(|d| run(1e6 * d, 3e5)).collect());
        let slow = side(
            drift
                .iter()
                .zip(wobble)
                .map(|(d, w)| run(1e6 * d * (1.08 + w), 3e5))
                .collect(),
        );
        let unpaired = Options {
            paired: false,
            ..opts()
        };
        let c = super::super::compare(&base, &slow, &unpaired, None);
        assert_eq!(c.rows[0].verdict, Change::Inconclusive, "{:?}", c.rows[0]);
        let c = super::super::compare(&base, &slow, &opts(), None);
        assert_eq!(
            (c.rows[0].verdict, c.rows[0].gate),
            (Change::Slower, Gate::Regression),
            "{:?}",
            c.rows[0]
        );
        assert!(c.noise_source.contains("5 pairs"), "{}", c.noise_source);
        // The same build, the same drift: nothing called.
        let same = side(
            drift
                .iter()
                .zip(wobble)
                .map(|(d, w)| run(1e6 * d * (1.0 + w), 3e5))
                .collect(),
        );
        let c = super::super::compare(&base, &same, &opts(), None);
        assert_ne!(c.rows[0].verdict, Change::Slower);
        assert_eq!(c.regressions, 0);
    }

    /// A pair with a held run is kept, and named in the notes.
    #[test]
    fn a_held_run_keeps_its_pair_and_is_named() {
        let base = side((0..5).map(|i| run(1e6 * (1.0 + 0.01 * i as f64), 3e5)).collect());
        let mut c_runs: Vec<RunValues> = (0..5).map(|i| run(1.1e6 * (1.0 + 0.01 * i as f64), 3e5)).collect();
        c_runs[2] = run(1.1e6 * 1.02, 9e6);
        let c = compare(&base, &side(c_runs), &opts());
        assert!(c.notes.join(" ").contains("run(s) r2 (9.00ms)"), "{:?}", c.notes);
        assert_eq!(c.baselines.len(), 5);
        assert_eq!(c.rows[0].verdict, Change::Slower, "{:?}", c.rows[0]);
    }

    /// Pairs made in one order every time are named; pairs that alternate are not.
    #[test]
    fn a_fixed_order_of_the_pairs_is_named() {
        let at = |t: i64| RunValues {
            started_ns: Some(t),
            ..run(1e6, 3e5)
        };
        let base = side((0..4).map(|i| at(40 * i)).collect());
        let second = side((0..4).map(|i| at(40 * i + 20)).collect());
        let c = compare(&base, &second, &opts());
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("the baseline ran first in every one of the 4 pairs")),
            "{:?}",
            c.notes
        );
        let alternated = side((0..4).map(|i| at(40 * i + if i % 2 == 0 { 20 } else { -20 })).collect());
        let c = compare(&base, &alternated, &opts());
        assert!(!c.notes.iter().any(|n| n.contains("ran first")), "{:?}", c.notes);
        // Runs of unknown start (a history's older lines) say nothing.
        let c = compare(&side((0..4).map(|_| run(1e6, 3e5)).collect()), &second, &opts());
        assert!(!c.notes.iter().any(|n| n.contains("ran first")), "{:?}", c.notes);
    }

    #[test]
    fn the_interval_is_the_paired_t_interval() {
        let (s, (lo, hi)) =
            super::super::noise::paired_interval(&[0.0, 0.1, 0.2], &[0.05, 0.16, 0.24], 0.95, 1).expect("interval");
        // d = 0.05, 0.06, 0.04: mean 0.05, sd 0.01, t(2, 0.975) = 4.303.
        assert_eq!(s.dof, 2);
        assert!((s.sd - 0.01).abs() < 1e-9);
        assert!((lo - (0.05 - 4.303 * 0.01 / 3f64.sqrt())).abs() < 1e-3 && hi > 0.06);
        assert!(super::super::noise::paired_interval(&[0.0], &[0.1], 0.95, 1).is_none());
        assert!(super::super::noise::paired_interval(&[0.0, 0.1], &[0.1], 0.95, 1).is_none());
    }
}
