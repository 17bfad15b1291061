//! The seed's version race, on the in-process backends where its window can be set:
//! the store answers in 0.5 ms typically and 8 ms at p99, so persistence's
//! read-then-insert often outlasts a query's write-then-select on the same few
//! aggregates. `seed` hides events from every later query; `lwt` hides none.

mod common;

const RACE: &str = r#"
name = "race"
duration = "4s"
warmup = "500ms"
drain = "3s"

[target]
services = "embedded"

[target.memory_store]
service_time = { dist = "lognormal", median = "500us", p99 = "8ms" }

[data]
aggregates = { dist = "uniform", min = 1, max = 2 }
payload = { dist = "fixed", size = 64 }

[workload.producers]
kind = "produce"
rate = 1000

# Readers straight on the store learn each epoch they close, so their projection is
# exact and a raced event is hidden for sure (through the log, a lagging reader's
# wide queries can still pick it up).
[workload.readers]
kind = "query"
via = "store"
rate = 500
"#;

#[test]
fn seed_versioning_hides_events_and_lwt_hides_none() {
    let (seed, _d1) = common::run_text(RACE, &["audit.max_hidden=1000000"]);
    let a = seed.audit.expect("audit");
    assert!(a.hidden > 20, "the race shows under seed: {a:?}");
    assert_eq!((a.lost, a.duplicates), (0, 0), "{a:?}");

    let (lwt, _d2) = common::run_text(RACE, &["target.consistency=lwt"]);
    let a = lwt.audit.expect("audit");
    assert_eq!((a.hidden, a.lost, a.duplicates), (0, 0, 0), "{a:?}");
    assert!(a.readers && a.acked > 3_000, "{a:?}");
}
