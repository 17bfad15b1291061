//! Waiting until an intended start time with microsecond precision.
//!
//! Tokio's timer wheel rounds every deadline up to the next millisecond, which would
//! add up to 1 ms of schedule lag to every operation. A `Pacer` owns one `timerfd`,
//! armed with an absolute deadline, for waits long enough to be worth a sleep. Putting
//! a thread to sleep and waking it costs more than it saves for short waits (about
//! 17 us of CPU per wake on a 2-core VM, measured with perf), so waits shorter than
//! [`SPIN_BELOW_NS`] yield to other tasks until the deadline passes instead: the
//! thread stays awake and nothing else is held up.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::clock::{mono_ns, Clock};

/// Below this, a sleep and wake-up costs more than the wait itself.
pub const SPIN_BELOW_NS: u64 = 50_000;

/// A reusable precise sleeper; one per task that waits. Its timerfd is opened on the
/// first long wait, so the many workers that never wait hold no descriptor.
pub struct Pacer {
    fd: Option<Option<AsyncFd<OwnedFd>>>,
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer { fd: None }
    }

    /// The timerfd; `None` where none can be had (fd limits): tokio's timer then.
    fn timer(&mut self) -> Option<&AsyncFd<OwnedFd>> {
        self.fd.get_or_insert_with(open_timerfd).as_ref()
    }

    /// Returns at run time `t` or soon after (a few microseconds).
    pub async fn sleep_until(&mut self, clock: &Clock, t: u64) {
        let deadline = clock.mono_at(t);
        let now = mono_ns();
        if now >= deadline {
            return;
        }
        if deadline - now > SPIN_BELOW_NS {
            match self.timer() {
                Some(fd) => wait_timerfd(fd, deadline).await,
                None => tokio::time::sleep(std::time::Duration::from_nanos(deadline - now)).await,
            }
        }
        while mono_ns() < deadline {
            tokio::task::yield_now().await;
        }
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

fn open_timerfd() -> Option<AsyncFd<OwnedFd>> {
    // SAFETY: plain syscall; a negative result is handled below.
    let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
    if raw < 0 {
        return None;
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: the AsyncFd owns the descriptor, so it cannot be closed while registered.
    unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }.ok()
}

async fn wait_timerfd(fd: &AsyncFd<OwnedFd>, deadline: u64) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
        it_value: libc::timespec {
            tv_sec: (deadline / 1_000_000_000) as i64,
            tv_nsec: (deadline % 1_000_000_000) as i64,
        },
    };
    let raw = fd.get_ref().as_raw_fd();
    // SAFETY: `raw` is our open timerfd and `spec` a valid itimerspec.
    let armed = unsafe { libc::timerfd_settime(raw, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
    if armed != 0 {
        return;
    }
    loop {
        let Ok(mut guard) = fd.readable().await else { return };
        let mut expirations = 0u64;
        // SAFETY: reading 8 bytes into a u64 from our timerfd.
        let n = unsafe { libc::read(raw, (&mut expirations as *mut u64).cast(), 8) };
        // Read or not, the timerfd has nothing more to say until it is armed again.
        guard.clear_ready();
        if n == 8 {
            return;
        }
        if mono_ns() >= deadline {
            return;
        }
    }
}

/// Lets timers on this thread fire within a microsecond instead of the default 50 us.
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}
