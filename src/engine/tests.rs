//! The run loop on the memory backends, with a fake stop and a counting callback: no
//! files, no signals, no services outside the process.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::backend::{connect, Target};
use crate::host::Stop;
use crate::plan::Plan;
use crate::stats::Stage;

/// A writer the test reads back after the run.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn plan(extra: &str) -> Plan {
    let text = format!(
        r#"
name = "engine-test"
duration = "1s"
warmup = "200ms"
interval = "100ms"
drain = "1s"
threads = 2
[target]
log = "memory"
store = "memory"
[target.memory_store]
service_time = {{ dist = "fixed", value = "100us" }}
[workload.writers]
kind = "persist"
rate = 400
max_in_flight = 32
{extra}
"#
    );
    let scenario = crate::scenario::parse("engine-test.toml", &text, &[]).expect("valid scenario");
    Plan::from_scenario(&scenario)
}

async fn target(plan: &Plan) -> Target {
    connect(plan, 0xe7).await.expect("memory backends connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_closes_every_interval_and_accounts_for_every_operation() {
    let plan = plan("");
    let target = target(&plan).await;
    let log = Captured::default();
    let mut calls = Vec::new();
    let m = super::run(
        &plan,
        &target,
        0xe7,
        Box::new(log.clone()),
        ledger(&plan),
        Stop::never(),
        &mut |t| calls.push((t.now, t.workloads[0].timeline.len())),
    )
    .await
    .expect("run");
    // 1 s in 100 ms intervals: 10 callbacks, each after one more timeline point.
    assert_eq!(calls.len(), 10, "{calls:?}");
    assert!(calls
        .windows(2)
        .all(|w| w[1].0 == w[0].0 + 100_000_000 && w[1].1 == w[0].1 + 1));
    assert_eq!(m.interrupted, None);
    // 400/s for 1 s, 0.2 s of it warmup: 320 measured operations, none lost.
    let h = &m.workloads[0].totals;
    assert_eq!(
        h.stages[Stage::Persist as usize].len() + m.workloads[0].dropped + m.workloads[0].abandoned,
        320
    );
    assert_eq!(m.workloads[0].dropped + m.workloads[0].abandoned, 0);
    let text = String::from_utf8(log.0.lock().expect("lock").clone()).expect("utf8");
    assert!(text.contains("#[Histogram log format version 1.3]"), "{text}");
    // One warmup rule: the measured tag holds exactly the summary's operations, the
    // `.warmup` tag those intended before the warmup's end (80 of them).
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("l.hlog"), &text).expect("write");
    let intervals = crate::stats::hlog::read(&dir.path().join("l.hlog")).expect("read");
    let count = |tag: &str| {
        intervals
            .iter()
            .filter(|i| i.tag == tag)
            .map(|i| i.histogram.len())
            .sum::<u64>()
    };
    assert_eq!(count("writers.persist"), h.stages[Stage::Persist as usize].len());
    assert_eq!(count("writers.persist.warmup"), 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_the_run_early_with_its_reason() {
    let plan = plan("").clone();
    let mut plan = plan;
    plan.duration_ns = 30_000_000_000;
    let target = target(&plan).await;
    let (handle, stop) = Stop::new();
    let mut intervals = 0;
    let started = std::time::Instant::now();
    let m = super::run(
        &plan,
        &target,
        0xe7,
        Box::new(std::io::sink()),
        ledger(&plan),
        stop,
        &mut |_| {
            intervals += 1;
            if intervals == 5 {
                handle.stop("test stop");
            }
        },
    )
    .await
    .expect("run");
    assert_eq!(m.interrupted.as_deref(), Some("test stop"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(m.elapsed_ns < 2_000_000_000, "{}", m.elapsed_ns);
    // Stopped after 0.5 s of a 30 s run: what was measured is there.
    assert!(m.workloads[0].totals.stages[Stage::Persist as usize].len() > 50);
}

fn ledger(plan: &crate::plan::Plan) -> std::sync::Arc<crate::stats::ledger::Ledger> {
    std::sync::Arc::new(crate::stats::ledger::Ledger::new(&super::ledger_books(plan)))
}

/// A produce's bytes are its encoded record, counted before the worker gives back a
/// buffer a large payload grew: 20,000-byte payloads once counted 0 bytes each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_payload_s_bytes_are_counted() {
    let text = r#"
name = "bytes-test"
duration = "1s"
warmup = "0s"
interval = "250ms"
drain = "1s"
threads = 2
[target]
log = "memory"
store = "memory"
services = "none"
e2e = false
[data]
payload = { dist = "fixed", size = 20000 }
compressibility = 0.0
[workload.producers]
kind = "produce"
rate = 200
max_in_flight = 16
"#;
    let scenario = crate::scenario::parse("bytes-test.toml", text, &[]).expect("valid scenario");
    let plan = Plan::from_scenario(&scenario);
    let target = target(&plan).await;
    let m = super::run(
        &plan,
        &target,
        0xb7,
        Box::new(std::io::sink()),
        ledger(&plan),
        Stop::never(),
        &mut |_| {},
    )
    .await
    .expect("run");
    let c = &m.workloads[0].totals.counters;
    assert!(c.ok >= 150, "{c:?}");
    // Base64 makes 20,000 bytes 26,668, and the Event's other fields add more.
    assert!(c.bytes >= c.ok * 26_668, "{} bytes for {} records", c.bytes, c.ok);
    assert!(c.bytes <= c.ok * 28_000, "{} bytes for {} records", c.bytes, c.ok);
}
