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

    fn interval(&self) -> Option<super::interval::CapacityInterval> {
        super::interval::of_steps(&self.steps)
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
        let confidence = self.confidence((lo, hi), &reopened, narrowed, wide);
        Ok(Outcome {
            interval: self.interval(),
            lo,
            hi,
            confidence,
            stopped: self.stopped,
            steps: self.steps,
        })
    }

    /// How sure the boundary is: how its repeats agreed, what reopened it, and the
    /// extra runs the interval took (still wider than asked, when the budget ran out).
    fn confidence(
        &self,
        (lo, hi): (Option<f64>, Option<f64>),
        reopened: &[String],
        narrowed: usize,
        wide: bool,
    ) -> String {
        if self.o.repeat == 0 {
            return String::from("boundary not repeated");
        }
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
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
