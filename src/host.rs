//! The process and the machine it runs on: host facts for the report, CPU time, the
//! descriptor limit, the runtime, and SIGINT/SIGTERM turned into a [`Stop`].

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
