//! The process and the machine it runs on: host facts for the report, CPU time, the
//! descriptor limit, the runtime, and SIGINT/SIGTERM turned into a [`Stop`].

pub mod local;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// What the report says about the generator's host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Host {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_bytes: u64,
}

impl Host {
    pub fn detect() -> Host {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let mem_kb: u64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        Host {
            hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
            os,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| {
                    l.strip_prefix("model name")
                        .and_then(|r| r.split_once(':'))
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_default(),
            memory_bytes: mem_kb * 1024,
        }
    }
}

/// User + system CPU seconds this process has used.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills a valid, zeroed struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// The whole machine's CPU time from `/proc/stat` (clock ticks, summed over CPUs),
/// with this process's own, so a run can say how busy the host was and how much of
/// that was not eventbench.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// Ticks spent running anything (user, nice, system, irq, softirq), steal excluded.
    pub busy: u64,
    /// Ticks the hypervisor ran something else while a CPU of this guest wanted to run.
    pub steal: u64,
    /// Every tick, idle and iowait included.
    pub total: u64,
    /// This process's user + system CPU seconds.
    pub ours_s: f64,
}

impl CpuTimes {
    /// Now; `None` where `/proc/stat` cannot be read (not Linux, a sandbox).
    pub fn sample() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let mut t = CpuTimes::parse(stat.lines().next()?)?;
        t.ours_s = cpu_seconds();
        Some(t)
    }

    /// The aggregate `cpu` line of `/proc/stat`.
    pub fn parse(line: &str) -> Option<CpuTimes> {
        let mut f = line.split_whitespace();
        if f.next()? != "cpu" {
            return None;
        }
        let v: Vec<u64> = f.map_while(|x| x.parse().ok()).collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal (guest is inside user).
        let busy = at(0) + at(1) + at(2) + at(5) + at(6);
        let steal = at(7);
        (v.len() >= 4).then(|| CpuTimes {
            busy,
            steal,
            total: busy + steal + at(3) + at(4),
            ours_s: 0.0,
        })
    }

    /// Cores busy, stolen, and used by this process between `self` and a later sample
    /// `to`, over `cpus` CPUs.
    pub fn cores_until(&self, to: &CpuTimes, cpus: usize) -> HostCores {
        let total = to.total.saturating_sub(self.total);
        if total == 0 {
            return HostCores::default();
        }
        let share = |a: u64, b: u64| a.saturating_sub(b) as f64 / total as f64 * cpus as f64;
        // Wall seconds of the span: ticks over CPUs over the tick rate.
        let secs = total as f64 / cpus.max(1) as f64 / ticks_per_second();
        let busy = share(to.busy, self.busy);
        let ours = if secs > 0.0 {
            ((to.ours_s - self.ours_s) / secs).max(0.0)
        } else {
            0.0
        };
        HostCores {
            busy,
            steal: share(to.steal, self.steal),
            ours: ours.min(busy),
            others: (busy - ours).max(0.0),
        }
    }
}

/// A span's CPU use in cores (a 2-CPU machine has 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HostCores {
    /// Every process on the machine, eventbench included.
    pub busy: f64,
    /// Taken by the hypervisor for other guests.
    pub steal: f64,
    /// eventbench (embedded services included).
    pub ours: f64,
    /// Everything else on the machine.
    pub others: f64,
}

pub(crate) fn ticks_per_second() -> f64 {
    // SAFETY: sysconf with a valid name has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Every task that waits precisely (the memory store's simulated service time) holds a
/// timerfd, and max_in_flight can be large: lift the soft descriptor limit to the hard one.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct; failure leaves limits unchanged.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The multi-threaded runtime a run or a service lives on; its threads ask the kernel
/// for tight timer slack (the pacer's sub-millisecond waits depend on it).
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .on_thread_start(crate::pacer::tighten_timer_slack)
        .build()
}

/// A request to end a run early, with its reason (`SIGINT`, `SIGTERM`, a test's
/// word). The engine takes it from its caller, so it never installs signal handlers
/// itself and a test can stop a run without signals.
#[derive(Clone)]
pub struct Stop(watch::Receiver<Option<String>>);

/// The side that asks a [`Stop`].
pub struct StopHandle(watch::Sender<Option<String>>);

impl Stop {
    /// A stop and the handle that triggers it.
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = watch::channel(None);
        (StopHandle(tx), Stop(rx))
    }

    /// A stop that is never asked (its handle is kept alive inside).
    pub fn never() -> Stop {
        let (tx, rx) = watch::channel(None);
        std::mem::forget(tx);
        Stop(rx)
    }

    /// SIGINT and SIGTERM, as one stop. Must be called inside a runtime.
    pub fn on_signals() -> Stop {
        let (handle, stop) = Stop::new();
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let term = async {
                match &mut term {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let why = tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term => "SIGTERM",
            };
            handle.stop(why);
            // Keep the sender: dropping it would look like "never asked" to late waiters.
            std::future::pending::<()>().await;
        });
        stop
    }

    /// Resolves with the reason once a stop is asked (at once if it already was).
    pub async fn requested(&mut self) -> String {
        loop {
            if let Some(why) = self.0.borrow_and_update().clone() {
                return why;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The reason, if a stop was asked.
    pub fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }
}

impl StopHandle {
    /// Asks the stop; the first reason given is kept.
    pub fn stop(&self, why: &str) {
        self.0.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(why.to_string());
                true
            } else {
                false
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_cpu_line_gives_busy_steal_and_cores() {
        let a = CpuTimes::parse("cpu  100 0 50 800 10 5 5 30 0 0").expect("parses");
        assert_eq!((a.busy, a.steal, a.total), (160, 30, 1000));
        let b = CpuTimes::parse("cpu  200 0 100 1600 10 10 10 70 0 0").expect("parses");
        let c = a.cores_until(&b, 2);
        // 1,000 ticks in all: 160 busy (0.32 of 2 cores), 40 stolen.
        assert!((c.busy - 0.32).abs() < 1e-9 && (c.steal - 0.08).abs() < 1e-9, "{c:?}");
        assert_eq!(CpuTimes::parse("cpu0 1 2 3 4"), None);
        assert!(CpuTimes::sample().is_some_and(|t| t.total > 0));
    }

    #[tokio::test]
    async fn a_stop_keeps_its_first_reason_and_wakes_every_waiter() {
        let (handle, mut stop) = Stop::new();
        let mut other = stop.clone();
        assert_eq!(stop.reason(), None);
        let waiter = tokio::spawn(async move { other.requested().await });
        handle.stop("test");
        handle.stop("later");
        assert_eq!(stop.requested().await, "test");
        assert_eq!(waiter.await.expect("join"), "test");
    }
}
