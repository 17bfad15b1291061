//! A pipeline whose persistence service falls behind ends with a backlog, and the
//! audit says so: events the service never took are `backlog`, not `lost` (the service
//! stops taking records at the deadline, finishes what it holds and commits only what
//! it answered), while events it took and dropped on purpose stay `lost`.

mod common;

const SCENARIO: &str = r#"
name = "graceful-drain"
duration = "3s"
warmup = "1s"
drain = "1s"

[target]
log = "memory"
store = "memory"
services = "embedded"

[target.persistence]
workers = 4

# 4 servers of 5 ms, 2 requests per persist: the service persists 400 events/s.
[target.memory_store]
service_time = { dist = "fixed", value = "5ms" }
concurrency = 4

[data]
aggregates = { dist = "uniform", min = 1, max = 8 }

[workload.producers]
kind = "produce"
rate = 800
"#;

#[test]
fn a_service_behind_leaves_a_backlog_not_a_loss() {
    let (s, _dir) = common::run_text(SCENARIO, &[]);
    let a = s.audit.as_ref().expect("audited");
    let p = &s.workloads["producers"];
    let shown = format!("{a:#?}\n{}", p.health_reason);
    assert!(a.backlog > 500, "about half the events wait in the log: {shown}");
    assert_eq!(a.lost, 0, "nothing the service took is missing: {shown}");
    assert_eq!(a.stored, Some(a.acked - a.backlog), "{shown}");
    assert_eq!(p.health.to_string(), "target-saturated", "{shown}");

    // A service that drops what it took loses it, backlog or not.
    let (s, _dir) = common::run_text(SCENARIO, &["target.persistence.drop_every=50"]);
    let a = s.audit.as_ref().expect("audited");
    let dropped = s.services.persistence.as_ref().map_or(0, |p| p.dropped);
    assert!(dropped > 5, "{a:#?}");
    assert_eq!(a.lost, dropped, "{a:#?}");
    assert!(a.backlog > 0, "{a:#?}");
}
