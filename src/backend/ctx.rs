//! Per-task resources passed down to backends: the run clock, a precise pacer and a
//! random source, so a backend that simulates service time needs no shared state.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::clock::Clock;
use crate::pacer::Pacer;

/// One task's working set.
pub struct Ctx {
    pub clock: Clock,
    pub pacer: Pacer,
    pub rng: SmallRng,
}

impl Ctx {
    /// Must be called inside the runtime (the pacer registers a timer with it).
    pub fn new(clock: Clock, seed: u64) -> Ctx {
        Ctx {
            clock,
            pacer: Pacer::new(),
            rng: SmallRng::seed_from_u64(seed),
        }
    }
}
