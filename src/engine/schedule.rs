//! The shared schedule of an open workload: workers claim operations from it with one
//! atomic step each, never a lock, and each claim carries its intended start time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use portable_atomic::AtomicU128;

use crate::plan::{RateProfile, Replay, Shard};
use crate::rng::splitmix;
use crate::scenario::Arrival;

/// One claimed operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Operation number within the workload, from 0.
    pub index: u64,
    /// Intended start, in run-time nanoseconds.
    pub intended: u64,
}

/// Intended start times for one workload, claimed atomically by its workers.
pub struct Schedule {
    profile: RateProfile,
    arrival: Arrival,
    seed: u64,
    /// Constant arrivals: the next index.
    next: AtomicU64,
    /// Poisson arrivals: (next index, unit-rate arrival time as f64 bits), updated by CAS
    /// so that index and time always pair the same way for a given seed.
    poisson: AtomicU128,
    stopped: AtomicBool,
    /// This generator's share: operations `offset`, `offset + stride`, ... of the
    /// workload's one global sequence, so n shards together run exactly its load.
    shard: Shard,
    /// A replay's times, which constant arrivals follow instead of the profile's.
    replay: Option<Arc<Replay>>,
}

impl Schedule {
    pub fn new(profile: RateProfile, arrival: Arrival, seed: u64) -> Schedule {
        Schedule::sharded(profile, arrival, seed, Shard::WHOLE)
    }

    /// The schedule of one shard of the workload.
    pub fn sharded(profile: RateProfile, arrival: Arrival, seed: u64, shard: Shard) -> Schedule {
        let offset = shard.index as u64;
        // Poisson state: (next global index, time of the arrival before it).
        let before: f64 = (0..offset).map(|j| exp1(seed, j)).sum();
        Schedule {
            profile,
            arrival,
            seed,
            next: AtomicU64::new(0),
            poisson: AtomicU128::new(((offset as u128) << 64) | before.to_bits() as u128),
            stopped: AtomicBool::new(false),
            shard,
            replay: None,
        }
    }

    /// The schedule with a replay's captured times for its intended starts.
    pub fn replaying(mut self, replay: Option<Arc<Replay>>) -> Schedule {
        self.replay = replay;
        self
    }

    /// Constant arrivals: operation `index`'s intended start.
    #[inline]
    fn time_of(&self, index: u64) -> Option<u64> {
        match &self.replay {
            Some(r) => r.time_at(index),
            None => self.profile.time_at(index as f64),
        }
    }

    /// Claims the next operation; `None` once the profile is exhausted or the run stopped.
    #[inline]
    pub fn claim(&self) -> Option<Claim> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        self.claim_any()
    }

    /// Claims the next operation only if it is due by `now` (run-time ns). A worker
    /// that has just finished one takes the next due operation itself, with no
    /// hand-off through the dispatcher: while the generator is behind (a burst, its
    /// ceiling) each operation then costs no channel send, wake-up or dispatcher turn,
    /// so past its ceiling it keeps running at its ceiling. The intended time is the
    /// schedule's as ever.
    pub fn claim_due(&self, now: u64) -> Option<Claim> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        match self.arrival {
            Arrival::Constant => loop {
                let local = self.next.load(Ordering::Relaxed);
                let index = self.shard.global(local);
                let intended = self.time_of(index)?;
                if intended > now {
                    return None;
                }
                if self
                    .next
                    .compare_exchange_weak(local, local + 1, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    return Some(Claim { index, intended });
                }
            },
            Arrival::Poisson => loop {
                let cur = self.poisson.load(Ordering::Relaxed);
                let (new, claim) = self.poisson_step(cur)?;
                if claim.intended > now {
                    return None;
                }
                if self
                    .poisson
                    .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    return Some(claim);
                }
            },
        }
    }

    /// Poisson state `cur` advanced by this shard's next arrival, and that arrival.
    fn poisson_step(&self, cur: u128) -> Option<(u128, Claim)> {
        let index = (cur >> 64) as u64;
        let unit = f64::from_bits(cur as u64);
        let next_unit = unit + exp1(self.seed, index);
        // Skip the other shards' arrivals up to this shard's next one.
        let stride = self.shard.count as u64;
        let skipped: f64 = (1..stride).map(|j| exp1(self.seed, index + j)).sum();
        let new = ((index as u128 + stride as u128) << 64) | (next_unit + skipped).to_bits() as u128;
        // Arrival `index` of a unit-rate process, mapped through the profile.
        let intended = self.profile.time_at(next_unit)?;
        Some((new, Claim { index, intended }))
    }

    fn claim_any(&self) -> Option<Claim> {
        match self.arrival {
            Arrival::Constant => {
                let index = self.shard.global(self.next.fetch_add(1, Ordering::Relaxed));
                let intended = self.time_of(index)?;
                Some(Claim { index, intended })
            }
            Arrival::Poisson => {
                let mut cur = self.poisson.load(Ordering::Relaxed);
                loop {
                    let (new, claim) = self.poisson_step(cur)?;
                    match self
                        .poisson
                        .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
                    {
                        Ok(_) => return Some(claim),
                        Err(actual) => cur = actual,
                    }
                }
            }
        }
    }

    /// Stops the schedule and counts the operations intended before `until` that no
    /// worker claimed: they are dropped, and the report says so.
    pub fn stop_and_count_dropped(&self, until: u64) -> u64 {
        self.stop_and_drop(until, |_| {})
    }

    /// Stops the schedule and hands each unclaimed operation intended before `until`
    /// to `dropped` (which censors it); returns how many there were.
    pub fn stop_and_drop(&self, until: u64, mut dropped: impl FnMut(Claim)) -> u64 {
        self.stopped.store(true, Ordering::Relaxed);
        let mut n = 0;
        while let Some(c) = self.claim_any() {
            if c.intended >= until {
                break;
            }
            dropped(c);
            n += 1;
        }
        n
    }

    /// The intended starts of global operations `indices` (ascending), as the
    /// schedule gave or would give them; `None` past the profile's end.
    pub fn intended_of(&self, indices: &[u64]) -> Vec<Option<u64>> {
        match self.arrival {
            Arrival::Constant => indices.iter().map(|&i| self.time_of(i)).collect(),
            Arrival::Poisson => {
                let (mut unit, mut j) = (0.0, 0u64);
                indices
                    .iter()
                    .map(|&i| {
                        while j <= i {
                            unit += exp1(self.seed, j);
                            j += 1;
                        }
                        self.profile.time_at(unit)
                    })
                    .collect()
            }
        }
    }

    pub fn profile(&self) -> &RateProfile {
        &self.profile
    }
}

/// A deterministic Exp(1) sample for arrival `index`.
fn exp1(seed: u64, index: u64) -> f64 {
    let bits = splitmix(seed ^ splitmix(index.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    // Uniform in (0, 1]: never ln(0).
    let u = ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    -u.ln()
}

#[cfg(test)]
mod shard_tests {
    use super::*;

    fn claims(arrival: Arrival, shard: Shard) -> Vec<Claim> {
        let s = Schedule::sharded(RateProfile::constant(1000.0, 50_000_000), arrival, 7, shard);
        std::iter::from_fn(|| s.claim()).collect()
    }

    #[test]
    fn shards_together_claim_exactly_the_whole_schedule() {
        for arrival in [Arrival::Constant, Arrival::Poisson] {
            let whole = claims(arrival, Shard::WHOLE);
            let mut parts: Vec<Claim> = (0..3)
                .flat_map(|i| claims(arrival, Shard { index: i, count: 3 }))
                .collect();
            parts.sort_by_key(|c| c.index);
            assert_eq!(parts.len(), whole.len(), "{arrival:?}");
            for (a, b) in parts.iter().zip(&whole) {
                assert_eq!(a.index, b.index);
                assert!(a.intended.abs_diff(b.intended) <= 1, "{arrival:?} {a:?} {b:?}");
            }
        }
        assert_eq!(Shard::parse("1/2"), Ok(Shard { index: 1, count: 2 }));
        assert!(Shard::parse("2/2").is_err() && Shard::parse("x").is_err());
        assert_eq!(Shard { index: 1, count: 3 }.part_of(10), 3);
        assert_eq!(Shard { index: 0, count: 3 }.part_of(10), 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sine's realised schedule, interval by interval, against its formula:
    /// rate(t) = mean + amplitude sin(2 pi t / period), so an interval holds the
    /// integral mean t - amplitude / w cos(w t) between its ends.
    #[test]
    fn a_sine_schedule_matches_its_formula_in_every_interval() {
        use crate::scenario::Phase;
        let profile = RateProfile::from_phases(
            &[Phase::Sine {
                duration: crate::units::Dur::from_secs(25),
                mean: 1000.0,
                amplitude: 500.0,
                period: crate::units::Dur::from_secs(10),
            }],
            None,
        );
        let w = 2.0 * std::f64::consts::PI / 10.0;
        let integral = |t: f64| 1000.0 * t - 500.0 / w * (w * t).cos();
        for arrival in [Arrival::Constant, Arrival::Poisson] {
            let s = Schedule::new(profile.clone(), arrival, 3);
            let mut per_second = [0u64; 25];
            while let Some(c) = s.claim() {
                per_second[(c.intended / 1_000_000_000) as usize] += 1;
            }
            for (i, got) in per_second.iter().enumerate() {
                let want = integral(i as f64 + 1.0) - integral(i as f64);
                // Poisson arrivals vary by about sqrt(n) around the formula.
                let within = match arrival {
                    Arrival::Constant => 0.01 * want,
                    Arrival::Poisson => 4.0 * want.sqrt(),
                };
                assert!(
                    (*got as f64 - want).abs() <= within,
                    "{arrival:?} second {i}: {got} vs {want:.1}"
                );
            }
        }
    }

    #[test]
    fn constant_claims_are_spaced_and_end() {
        let s = Schedule::new(RateProfile::constant(10.0, 1_000_000_000), Arrival::Constant, 1);
        let claims: Vec<_> = std::iter::from_fn(|| s.claim()).collect();
        assert_eq!(claims.len(), 10);
        assert_eq!(
            claims[3],
            Claim {
                index: 3,
                intended: 300_000_000
            }
        );
    }

    #[test]
    fn poisson_has_the_mean_rate_and_is_deterministic() {
        let mk = || Schedule::new(RateProfile::constant(10_000.0, 10_000_000_000), Arrival::Poisson, 7);
        let a = mk();
        let times: Vec<u64> = std::iter::from_fn(|| a.claim()).map(|c| c.intended).collect();
        let n = times.len() as f64;
        assert!((n - 100_000.0).abs() < 1_500.0, "n = {n}");
        let b = mk();
        let again: Vec<u64> = std::iter::from_fn(|| b.claim()).map(|c| c.intended).collect();
        assert_eq!(times, again);
        // Exponential gaps: the coefficient of variation is about 1.
        let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.05, "cv = {cv}");
    }

    #[test]
    fn intended_times_are_recomputed_exactly_from_indices() {
        for arrival in [Arrival::Constant, Arrival::Poisson] {
            let s = Schedule::new(RateProfile::constant(1000.0, 1_000_000_000), arrival, 9);
            let claims: Vec<Claim> = std::iter::from_fn(|| s.claim()).collect();
            let picked: Vec<u64> = claims.iter().map(|c| c.index).filter(|i| i % 7 == 3).collect();
            let again = Schedule::new(RateProfile::constant(1000.0, 1_000_000_000), arrival, 9).intended_of(&picked);
            for (i, t) in picked.iter().zip(again) {
                assert_eq!(t, Some(claims[*i as usize].intended), "{arrival:?} op {i}");
            }
        }
    }

    #[test]
    fn dropped_counts_unclaimed_ops_before_the_stop() {
        let s = Schedule::new(RateProfile::constant(1000.0, 10_000_000_000), Arrival::Constant, 1);
        for _ in 0..100 {
            s.claim();
        }
        // 500 ops intended before 0.5 s, 100 claimed.
        assert_eq!(s.stop_and_count_dropped(500_000_000), 400);
        assert_eq!(s.claim(), None);
    }
}
