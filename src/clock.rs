//! One clock per process: a monotonic origin anchored once to wall time, so every
//! intended start, completion and Event timestamp is on one scale that steps of the
//! wall clock cannot bend.

/// Nanoseconds since the run started, with the wall time of that start.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    mono_origin: u64,
    wall_origin_ns: i128,
}

/// `CLOCK_MONOTONIC` in nanoseconds (the base `timerfd` deadlines use).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Clock {
    /// Anchors the clock now.
    pub fn start() -> Clock {
        let mono_origin = mono_ns();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        Clock {
            mono_origin,
            wall_origin_ns: wall,
        }
    }

    /// Anchors the clock `delay_ns` from now: setup done before then happens at "0",
    /// and the first intended start is not already late when workers begin.
    pub fn start_in(delay_ns: u64) -> Clock {
        let mut c = Clock::start();
        c.mono_origin += delay_ns;
        c.wall_origin_ns += delay_ns as i128;
        c
    }

    /// Anchors the clock at wall time `wall_ns` (ns since the Unix epoch; now if it has
    /// passed): shards given one `--start-at` share one schedule origin.
    pub fn start_at_wall(wall_ns: i128) -> Clock {
        let mut c = Clock::start();
        let delay = (wall_ns - c.wall_origin_ns).max(0) as u64;
        c.mono_origin += delay;
        c.wall_origin_ns = wall_ns.max(c.wall_origin_ns);
        c
    }

    /// Nanoseconds since the anchor.
    #[inline]
    pub fn now(&self) -> u64 {
        mono_ns().saturating_sub(self.mono_origin)
    }

    /// The monotonic instant of run time `t`.
    pub fn mono_at(&self, t: u64) -> u64 {
        self.mono_origin + t
    }

    /// Wall time (ns since the Unix epoch) of run time `t`.
    pub fn wall_at(&self, t: u64) -> i128 {
        self.wall_origin_ns + t as i128
    }

    /// Wall time of the anchor.
    pub fn wall_origin_ns(&self) -> i128 {
        self.wall_origin_ns
    }
}
