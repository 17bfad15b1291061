//! The platform beside the run: a hiccup meter (jHiccup's method) and the host's CPU.
//!
//! A schedule-lag figure alone cannot say whose delay it is. A thread that does nothing
//! but sleep to fixed 1 ms deadlines and record how late it woke measures the floor the
//! machine gives every thread of the process: when the generator's lag and the meter's
//! overshoot rise together, the host paused both; when only the lag rises, it was the
//! generator. The meter runs on its own OS thread, so a busy runtime cannot hold it up,
//! and records with HdrHistogram's expected-interval correction, as jHiccup does, so a
//! 50 ms pause counts as the 50 wake-ups that would have been late.
//!
//! Per interval the collector takes the meter's histogram (stage `host.hiccup` in the
//! interval log) and a `/proc/stat` sample: the whole machine's busy cores, steal, and
//! how much of it was not eventbench.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::clock::{mono_ns, Clock};
use crate::host::{CpuTimes, HostCores};

/// The meter's period: it wakes every millisecond.
pub const HICCUP_PERIOD_NS: u64 = 1_000_000;
/// An overshoot this long is a stall of the host, kept with its time.
pub const STALL_NS: u64 = 10_000_000;
/// Stalls kept with their times (all are counted).
const STALLS_KEPT: usize = 200;
/// The interval-log tag of the meter's stage.
pub const HICCUP_TAG: &str = "host.hiccup";

/// One pause of the host that the meter saw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stall {
    /// Run time the meter should have woken, s.
    pub at_s: f64,
    /// How late it woke, ms.
    pub length_ms: f64,
}

/// One interval of the platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostPoint {
    pub t_s: f64,
    pub length_s: f64,
    pub warmup: bool,
    pub hiccup_p50_ns: u64,
    pub hiccup_p99_ns: u64,
    pub hiccup_max_ns: u64,
    /// The whole machine's CPU in the interval, in cores.
    pub cores: HostCores,
    /// The target's processes on this host, their CPU in the interval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<ProcessCores>,
}

/// One of the target's processes on this host and its CPU, in cores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessCores {
    /// "kafka 127.0.0.1:9092 (pid 20345)".
    pub name: String,
    pub cores: f64,
}

struct MeterShared {
    hist: Mutex<Histogram<u64>>,
    stalls: Mutex<Vec<Stall>>,
    stalls_total: AtomicU64,
    /// The meter thread's own CPU time, ns (`CLOCK_THREAD_CPUTIME_ID`), refreshed every
    /// [`CPU_EVERY`] wake-ups and when it stops.
    cpu_ns: AtomicU64,
    stop: AtomicBool,
}

/// How often (in wake-ups) the meter reads its own CPU time: one syscall a second.
const CPU_EVERY: u32 = 1000;

/// The calling thread's CPU time, ns; 0 where the clock cannot be read.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a valid pointer to a timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The hiccup meter's thread; stopped when dropped.
pub struct HiccupMeter {
    shared: Arc<MeterShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn new_hist() -> Histogram<u64> {
    let mut h = Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"));
    h.auto(true);
    h
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl HiccupMeter {
    /// Starts the meter; its stalls are timed on `clock`. `None` where no thread can be
    /// started (the run goes on without a floor, and says so by having none).
    pub fn start(clock: Clock) -> Option<HiccupMeter> {
        let shared = Arc::new(MeterShared {
            hist: Mutex::new(new_hist()),
            stalls: Mutex::new(Vec::new()),
            stalls_total: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("eventbench-hiccup".into())
            .spawn(move || meter(&s, clock))
            .ok()?;
        Some(HiccupMeter {
            shared,
            thread: Some(thread),
        })
    }

    /// Moves what the meter recorded since the last take into `into` (which is reset).
    pub fn take(&self, into: &mut Histogram<u64>) {
        into.reset();
        std::mem::swap(&mut *lock(&self.shared.hist), into);
    }

    /// The stalls seen so far (the first [`STALLS_KEPT`]) and how many there were.
    pub fn stalls(&self) -> (Vec<Stall>, u64) {
        (
            lock(&self.shared.stalls).clone(),
            self.shared.stalls_total.load(Ordering::Relaxed),
        )
    }
}

impl HiccupMeter {
    /// Stops the meter and joins its thread, which stores its final CPU time last.
    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops the meter; its thread's CPU seconds.
    fn stop(mut self) -> f64 {
        self.halt();
        self.shared.cpu_ns.load(Ordering::Relaxed) as f64 / 1e9
    }
}

impl Drop for HiccupMeter {
    fn drop(&mut self) {
        self.halt();
    }
}

fn meter(s: &MeterShared, clock: Clock) {
    crate::pacer::tighten_timer_slack();
    let origin = clock.mono_at(0);
    let mut deadline = mono_ns() + HICCUP_PERIOD_NS;
    let mut wakes = 0u32;
    while !s.stop.load(Ordering::Relaxed) {
        wakes = wakes.wrapping_add(1);
        if wakes.is_multiple_of(CPU_EVERY) {
            s.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
        }
        let ts = libc::timespec {
            tv_sec: (deadline / 1_000_000_000) as libc::time_t,
            tv_nsec: (deadline % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: an absolute sleep on CLOCK_MONOTONIC with a valid timespec; EINTR
        // just wakes us early, which the overshoot below then reads as zero.
        unsafe {
            libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut());
        }
        let now = mono_ns();
        let over = now.saturating_sub(deadline);
        let _ = lock(&s.hist).record_correct(over, HICCUP_PERIOD_NS);
        if over >= STALL_NS {
            s.stalls_total.fetch_add(1, Ordering::Relaxed);
            let mut stalls = lock(&s.stalls);
            if stalls.len() < STALLS_KEPT {
                stalls.push(Stall {
                    at_s: deadline.saturating_sub(origin) as f64 / 1e9,
                    length_ms: over as f64 / 1e6,
                });
            }
        }
        // After a pause, carry on from now rather than waking in a burst.
        deadline = (deadline + HICCUP_PERIOD_NS).max(now + HICCUP_PERIOD_NS / 2);
    }
    s.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed);
}

/// The platform's share of the collector: the meter, the CPU samples, and what the
/// run keeps of them.
pub struct Platform {
    meter: Option<HiccupMeter>,
    cpus: usize,
    last_cpu: Option<CpuTimes>,
    interval: Histogram<u64>,
    /// The meter over the measured intervals.
    pub hiccup: Histogram<u64>,
    /// CPU of the measured intervals: the first and the last sample.
    measured_cpu: (Option<CpuTimes>, Option<CpuTimes>),
    pub timeline: Vec<HostPoint>,
    /// The target's local processes: each, its CPU seconds at the last close, and at
    /// the measured window's first and last close.
    target: Vec<Watched>,
}

struct Watched {
    process: crate::host::local::LocalProcess,
    last_s: Option<f64>,
    measured: (Option<f64>, Option<f64>),
}

/// What the run hands the report of the platform.
#[derive(Debug, Clone)]
pub struct PlatformMeasured {
    pub period_ns: u64,
    pub cpus: usize,
    pub hiccup: Histogram<u64>,
    /// Average use over the measured intervals.
    pub cores: Option<HostCores>,
    /// The target's local processes, their average CPU over the measured intervals.
    pub target: Vec<ProcessCores>,
    pub timeline: Vec<HostPoint>,
    pub stalls: Vec<Stall>,
    pub stalls_total: u64,
    /// The meter thread's CPU seconds: the platform's measurement, not the generator's
    /// work, and the same at any rate (a wake-up a millisecond).
    pub meter_cpu_s: f64,
}

impl Platform {
    /// Starts the meter on `clock`; the first CPU sample is taken now.
    pub fn start(clock: Clock) -> Platform {
        Platform {
            meter: HiccupMeter::start(clock),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            last_cpu: CpuTimes::sample(),
            interval: new_hist(),
            hiccup: new_hist(),
            measured_cpu: (None, None),
            timeline: Vec::new(),
            target: Vec::new(),
        }
    }

    /// Reads these processes' CPU at every close from now on.
    pub fn watch(&mut self, processes: Vec<crate::host::local::LocalProcess>) {
        self.target = processes
            .into_iter()
            .map(|p| Watched {
                last_s: crate::host::local::cpu_seconds(p.pid),
                process: p,
                measured: (None, None),
            })
            .collect();
    }

    /// Each watched process's cores over the interval of `secs`, and its measured span.
    fn close_target(&mut self, secs: f64, warmup: bool) -> Vec<ProcessCores> {
        let mut out = Vec::with_capacity(self.target.len());
        for w in &mut self.target {
            let now = crate::host::local::cpu_seconds(w.process.pid);
            if let (Some(a), Some(b)) = (w.last_s, now) {
                out.push(ProcessCores {
                    name: w.process.name(),
                    cores: if secs > 0.0 { ((b - a) / secs).max(0.0) } else { 0.0 },
                });
            }
            if !warmup && now.is_some() {
                if w.measured.0.is_none() {
                    w.measured.0 = w.last_s;
                }
                w.measured.1 = now;
            }
            w.last_s = now;
        }
        out
    }

    /// Closes the interval `[start, now)` (ns of run time): the meter's histogram of it,
    /// to be logged under [`HICCUP_TAG`], and its point.
    pub fn close(&mut self, start: u64, now: u64, warmup: bool) -> &Histogram<u64> {
        if let Some(m) = &self.meter {
            m.take(&mut self.interval);
        } else {
            self.interval.reset();
        }
        let cpu = CpuTimes::sample();
        let cores = match (&self.last_cpu, &cpu) {
            (Some(a), Some(b)) => a.cores_until(b, self.cpus),
            _ => HostCores::default(),
        };
        if !warmup {
            let _ = self.hiccup.add(&self.interval);
            if self.measured_cpu.0.is_none() {
                self.measured_cpu.0 = self.last_cpu;
            }
            self.measured_cpu.1 = cpu;
        }
        self.last_cpu = cpu;
        let target = self.close_target((now - start) as f64 / 1e9, warmup);
        let h = &self.interval;
        let q = |q: f64| if h.is_empty() { 0 } else { h.value_at_quantile(q) };
        self.timeline.push(HostPoint {
            t_s: start as f64 / 1e9,
            length_s: (now - start) as f64 / 1e9,
            warmup,
            hiccup_p50_ns: q(0.5),
            hiccup_p99_ns: q(0.99),
            hiccup_max_ns: h.max(),
            cores,
            target,
        });
        &self.interval
    }

    /// Everything kept, for the report; stops the meter.
    pub fn finish(&mut self) -> PlatformMeasured {
        let (stalls, stalls_total) = self.meter.as_ref().map_or((Vec::new(), 0), |m| m.stalls());
        let meter_cpu_s = self.meter.take().map_or(0.0, HiccupMeter::stop);
        let cores = match self.measured_cpu {
            (Some(a), Some(b)) => Some(a.cores_until(&b, self.cpus)),
            _ => None,
        };
        let measured_s: f64 = self.timeline.iter().filter(|p| !p.warmup).map(|p| p.length_s).sum();
        let target = self
            .target
            .iter()
            .filter_map(|w| match w.measured {
                (Some(a), Some(b)) if measured_s > 0.0 => Some(ProcessCores {
                    name: w.process.name(),
                    cores: ((b - a) / measured_s).max(0.0),
                }),
                _ => None,
            })
            .collect();
        PlatformMeasured {
            period_ns: HICCUP_PERIOD_NS,
            cpus: self.cpus,
            target,
            hiccup: std::mem::replace(&mut self.hiccup, new_hist()),
            cores,
            timeline: std::mem::take(&mut self.timeline),
            stalls,
            stalls_total,
            meter_cpu_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The meter wakes about once a millisecond and sees a pause of its own thread: here
    /// a stand-in for the host, the process sleeping the meter's thread cannot be made to
    /// stall from a test, so the check is that it records and keeps running.
    #[test]
    fn the_meter_records_one_value_per_period() {
        let clock = Clock::start();
        let meter = HiccupMeter::start(clock).expect("thread");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut h = new_hist();
        meter.take(&mut h);
        // 300 periods, give or take the host; the correction adds for late wake-ups.
        assert!((200..=600).contains(&h.len()), "{} values", h.len());
        meter.take(&mut h);
        assert!(h.len() < 50, "a take empties the meter: {}", h.len());
    }

    /// The meter's own CPU is read from its thread's clock when it stops, so the
    /// generator's CPU can be given without it: some, and less than its whole life.
    #[test]
    fn the_meter_s_own_cpu_is_kept_apart() {
        let mut platform = Platform::start(Clock::start());
        let began = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let measured = platform.finish();
        let lived = began.elapsed().as_secs_f64();
        assert!(
            measured.meter_cpu_s > 0.0 && measured.meter_cpu_s < lived,
            "meter CPU {} s over {lived} s",
            measured.meter_cpu_s
        );
    }
}
