//! The search itself, apart from running steps: the ladder, the bisection, the votes,
//! the host's set-aside runs, and the boundary repeats that can reopen the search.
//! A step runner is handed in, so the decisions can be tested on scripted outcomes.

use super::{Options, Step, StepPhase, HOST_RERUNS};
use crate::report::summary::Health;

/// How many times repeats may reopen the search before it stops where it is.
const MAX_REOPENS: usize = 3;

/// The most extra boundary runs spent narrowing the capacity's interval to
/// `--precision`; past them the search says how wide it stayed.
pub(super) const MAX_NARROW: usize = 4;

/// Where the search ended, before the report is built.
pub(super) struct Outcome {
    pub interval: Option<super::interval::CapacityInterval>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub confidence: String,
    pub stopped: Option<String>,
    pub steps: Vec<Step>,
}

/// A search in progress. `run_step` runs one step, (rate, phase, steps so far) to its
/// judged record; `progress` hears of every step, set-aside ones included.
pub(super) struct Search<'o, R, P> {
    o: &'o Options,
    run_step: R,
    progress: P,
    steps: Vec<Step>,
    stopped: Option<String>,
}

/// The same rate: rates are computed the same way each time, so equal up to rounding.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(1.0)
}

/// The generator is the limit only when it fell behind while the target still met its
/// SLOs; with both behind (one host's cores shared) the target is judged.
fn generator_limited(s: &Step) -> bool {
    use super::Cause;
    !s.passed
        && s.health == Health::GeneratorLimited
        && s.causes
            .iter()
            .all(|c| matches!(c, Cause::Throughput | Cause::Backlog | Cause::Growing))
}

impl<'o, R, P> Search<'o, R, P>
where
    R: FnMut(f64, StepPhase, usize) -> Result<Step, String>,
    P: FnMut(&Step),
{
    pub(super) fn new(o: &'o Options, run_step: R, progress: P) -> Self {
        Search {
            o,
            run_step,
            progress,
            steps: Vec::new(),
            stopped: None,
        }
    }

    /// One counted run of `rate`: a failure the host held is set aside and run again,
    /// at most [`HOST_RERUNS`] times.
    fn one(&mut self, rate: f64, phase: StepPhase, vote: usize) -> Result<Step, String> {
        let mut held = 0;
        loop {
            let mut s = (self.run_step)(rate, phase, self.steps.len())?;
            s.vote = vote;
            match s.held_by_host() {
                Some(why) if held < HOST_RERUNS => {
                    held += 1;
                    s.set_aside = Some(why);
                    (self.progress)(&s);
                    self.steps.push(s);
                }
                held_again => {
                    if held_again.is_some() {
                        s.notes.push(format!(
                            "the host held this rate's run {} times in a row: this one counts as it is",
                            held + 1
                        ));
                    }
                    (self.progress)(&s);
                    self.steps.push(s.clone());
                    return Ok(s);
                }
            }
        }
    }

    /// A decided rate: `votes` runs, the majority decides; the step returned is one of
    /// the majority's (its numbers stand for the rate in the report).
    fn decide(&mut self, rate: f64, phase: StepPhase) -> Result<Step, String> {
        let votes = self.o.votes.max(1);
        let mut ran: Vec<Step> = Vec::new();
        for v in 1..=votes {
            ran.push(self.one(rate, phase, v)?);
            let passed = ran.iter().filter(|s| s.passed).count();
            // Stop once the majority is settled either way.
            if passed * 2 > votes || (ran.len() - passed) * 2 > votes {
                break;
            }
        }
        let passed = ran.iter().filter(|s| s.passed).count() * 2 > votes;
        let pick = ran.iter().rposition(|s| s.passed == passed).unwrap_or(ran.len() - 1);
        Ok(ran.swap_remove(pick))
    }

    /// Counted runs of `rate` so far: (passed, failed).
    fn tally(&self, rate: f64) -> (usize, usize) {
        let runs = self
            .steps
            .iter()
            .filter(|s| s.set_aside.is_none() && same(s.rate, rate));
        runs.fold((0, 0), |(p, f), s| if s.passed { (p + 1, f) } else { (p, f + 1) })
    }

    /// Whether the majority of `rate`'s counted runs passed (a tie counts as failed:
    /// [`Search::settle`] breaks ties before it reads this).
    fn passes(&self, rate: f64) -> bool {
        let (p, f) = self.tally(rate);
        p > f
    }

    fn stop_for_generator(&mut self, rate: f64) {
        self.stopped = Some(format!(
            "the generator could not keep {rate:.0}/s (schedule lag): the target was not the limit; run more generators (--shard) or a bigger host"
        ));
    }

    /// Doubling from `rate` while steps pass: the new bracket.
    fn ladder_up(&mut self, mut rate: f64, mut lo: Option<f64>) -> Result<(Option<f64>, Option<f64>), String> {
        loop {
            let s = self.decide(rate, StepPhase::Ladder)?;
            if generator_limited(&s) {
                self.stop_for_generator(rate);
                return Ok((lo, Some(rate)));
            }
            if !s.passed {
                return Ok((lo, Some(rate)));
            }
            lo = Some(rate);
            if rate >= self.o.max {
                self.stopped = Some(format!("passed at the maximum rate {:.0}/s", self.o.max));
                return Ok((lo, None));
            }
            rate = (rate * 2.0).min(self.o.max);
        }
    }

    /// Halving below a failing `hi` until a step passes.
    fn ladder_down(&mut self, mut hi: f64) -> Result<(Option<f64>, Option<f64>), String> {
        let floor = self.o.start / 64.0;
        loop {
            let r = hi / 2.0;
            if r < floor {
                self.stopped = Some(format!("failed at every rate down to {hi:.0}/s"));
                return Ok((None, Some(hi)));
            }
            let s = self.decide(r, StepPhase::Ladder)?;
            if s.passed {
                return Ok((Some(r), Some(hi)));
            }
            if generator_limited(&s) {
                self.stop_for_generator(r);
                return Ok((None, Some(hi)));
            }
            hi = r;
        }
    }

    /// Halving the gap until it is within the precision.
    fn bisect(&mut self, mut lo: f64, mut hi: f64) -> Result<(f64, f64), String> {
        while (hi - lo) / lo > self.o.precision {
            let mid = (lo + hi) / 2.0;
            let s = self.decide(mid, StepPhase::Bisect)?;
            if generator_limited(&s) {
                self.stop_for_generator(mid);
                break;
            }
            if s.passed {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok((lo, hi))
    }

    /// Repeats each boundary `--repeat` times (once per rate over the whole search);
    /// where a boundary's runs disagree and tie, one more breaks the tie. The repeats
    /// count with the rate's other runs, the same for the passing and the failing
    /// boundary. Returns the bracket the majorities now give.
    fn settle(
        &mut self,
        lo: Option<f64>,
        hi: Option<f64>,
        repeated: &mut Vec<f64>,
    ) -> Result<(Option<f64>, Option<f64>), String> {
        for rate in [lo, hi].into_iter().flatten() {
            if repeated.iter().any(|&r| same(r, rate)) {
                continue;
            }
            repeated.push(rate);
            for _ in 0..self.o.repeat {
                self.one(rate, StepPhase::Repeat, 1)?;
            }
            let (p, f) = self.tally(rate);
            if p == f {
                self.one(rate, StepPhase::Repeat, 1)?;
            }
        }
        // The bracket from every decided rate: the lowest that fails, and the highest
        // below it that passes.
        let mut rates: Vec<f64> = Vec::new();
        for s in self.steps.iter().filter(|s| s.set_aside.is_none()) {
            if !rates.iter().any(|&r| same(r, s.rate)) {
                rates.push(s.rate);
            }
        }
        let hi = rates
            .iter()
            .copied()
            .filter(|&r| !self.passes(r))
            .min_by(f64::total_cmp);
        let lo = rates
            .iter()
            .copied()
            .filter(|&r| self.passes(r) && hi.is_none_or(|h| r < h))
            .max_by(f64::total_cmp);
        Ok((lo, hi))
    }

    /// Every counted run's capacity interval.
    pub(super) fn interval(&self) -> Option<super::interval::CapacityInterval> {
        let runs: Vec<(f64, bool)> = self
            .steps
            .iter()
            .filter(|s| s.set_aside.is_none())
            .map(|s| (s.rate, s.passed))
            .collect();
        super::interval::estimate(&runs)
    }

    /// The boundary to run once more while the interval is wider than `--precision`:
    /// the one with fewer counted runs (evidence on both sides, not piled on one), and
    /// at a tie the one on the interval's wider side.
    fn to_narrow(&self, lo: Option<f64>, hi: Option<f64>) -> Option<f64> {
        let i = self.interval()?;
        if i.half_width.is_some_and(|h| h <= self.o.precision) {
            return None;
        }
        let runs = |r: Option<f64>| {
            r.map_or(usize::MAX, |r| {
                let (p, f) = self.tally(r);
                p + f
            })
        };
        let below = i.lo.map_or(f64::INFINITY, |l| i.rate - l);
        let above = i.hi.map_or(f64::INFINITY, |h| h - i.rate);
        let lower = match runs(lo).cmp(&runs(hi)) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => below >= above,
        };
        if lower {
            lo.or(hi)
        } else {
            hi.or(lo)
        }
    }

    /// The search from `--start` to the end.
    pub(super) fn run(mut self) -> Result<Outcome, String> {
        let (mut lo, mut hi) = self.ladder_up(self.o.start, None)?;
        let mut repeated = Vec::new();
        let mut reopened: Vec<String> = Vec::new();
        let mut rounds = 0;
        let (mut narrowed, mut wide) = (0, false);
        loop {
            if self.stopped.is_none() {
                (lo, hi) = match (lo, hi) {
                    (None, Some(h)) => self.ladder_down(h)?,
                    (Some(l), None) if l >= self.o.max => {
                        self.stopped = Some(format!("passed at the maximum rate {:.0}/s", self.o.max));
                        (lo, hi)
                    }
                    (Some(l), None) => self.ladder_up((l * 2.0).min(self.o.max), Some(l))?,
                    bracket => bracket,
                };
            }
            if self.stopped.is_none() {
                if let (Some(l), Some(h)) = (lo, hi) {
                    let (l, h) = self.bisect(l, h)?;
                    (lo, hi) = (Some(l), Some(h));
                }
            }
            if self.stopped.is_some() || self.o.repeat == 0 {
                break;
            }
            let settled = self.settle(lo, hi, &mut repeated)?;
            if settled == (lo, hi) {
                match self.to_narrow(lo, hi) {
                    Some(rate) if narrowed < MAX_NARROW => {
                        narrowed += 1;
                        self.one(rate, StepPhase::Repeat, 1)?;
                        let (p, f) = self.tally(rate);
                        if p == f {
                            self.one(rate, StepPhase::Repeat, 1)?;
                        }
                        continue;
                    }
                    Some(_) => wide = true,
                    None => {}
                }
                break;
            }
            let flipped = [
                lo.filter(|&r| !self.passes(r)).map(|r| ("passing", r)),
                hi.filter(|&r| self.passes(r)).map(|r| ("failing", r)),
            ];
            for (label, r) in flipped.into_iter().flatten() {
                let (p, f) = self.tally(r);
                reopened.push(format!("{label} {r:.0}/s did not hold ({p} of {} runs passed)", p + f));
            }
            (lo, hi) = settled;
            if rounds == MAX_REOPENS {
                self.stopped = Some(format!(
                    "the boundary moved {} times on its repeats: the target does not repeat at this precision; try --votes 3",
                    rounds + 1
                ));
                break;
            }
            rounds += 1;
        }
        let confidence = if self.o.repeat == 0 {
            String::from("boundary not repeated")
        } else {
            let mut parts: Vec<String> = [(lo, "passing", true), (hi, "failing", false)]
                .into_iter()
                .filter_map(|(r, label, pass)| {
                    let r = r?;
                    let (p, f) = self.tally(r);
                    let agreed = if pass { p } else { f };
                    Some(format!("{label} {r:.0}/s agreed in {agreed} of {} runs", p + f))
                })
                .collect();
            if !reopened.is_empty() {
                parts.push(format!("reopened: {}", reopened.join(", ")));
            }
            if narrowed > 0 || wide {
                let now = self.interval().and_then(|i| i.half_width);
                parts.push(format!(
                    "{narrowed} extra boundary run(s) for the interval{}",
                    match now {
                        Some(h) if wide => format!(
                            ", still ±{:.1}%: wider than --precision {:.1}% within the budget of {MAX_NARROW}",
                            h * 100.0,
                            self.o.precision * 100.0
                        ),
                        _ => String::new(),
                    }
                ));
            }
            parts.join("; ")
        };
        Ok(Outcome {
            interval: self.interval(),
            lo,
            hi,
            confidence,
            stopped: self.stopped,
            steps: self.steps,
        })
    }
}

#[cfg(test)]
mod tests {
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
}
