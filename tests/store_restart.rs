//! `scenarios/store-restart.toml` as shipped (topics, group and keyspace made unique):
//! the scenario itself stops the Cassandra node at 10 s and starts it at 20 s through
//! scripts/services, while the pipeline goes on; its report shows the fault, the
//! disruption (persistence errors answered back) and the recovery, and the audit what
//! the outage cost. It stops the node,
//! so it is a test binary of its own (cargo runs test binaries one at a time).

mod common;

#[test]
fn the_store_restart_scenario_shows_the_fault_the_disruption_and_the_recovery() {
    common::require_kafka();
    common::require_cassandra();
    let t = common::unique_topic("eventbench.test.store-restart");
    let ks = common::unique_topic("eb_store_restart").replace('.', "_");
    let sets = [
        format!("target.topics.events={t}.events"),
        format!("target.topics.persistence_group={t}.persistence"),
        format!("target.topics.persistence_response={t}.persistence.response"),
        format!("target.scylla.keyspace={ks}"),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let (code, err, s, dir) = common::run_shipped_fault_scenario("scenarios/store-restart.toml", &sets, "cassandra");
    // The original persistence service answers an insert that failed with an error
    // and never retries it: what the node's outage cost is lost, and said (the audit
    // fails the run, exit 5), none of it silently.
    assert_eq!(code, Some(5), "{err}");
    let a = &s["audit"];
    assert!(a["lost"].as_u64().unwrap_or(0) > 0, "{a}");
    assert_eq!(
        a["lost"], a["errors"],
        "every lost event was answered with an error: {a}"
    );
    assert_eq!(
        (&a["unanswered"], &a["duplicates"], &a["hidden"]),
        (&0.into(), &0.into(), &0.into()),
        "{a}"
    );
    common::assert_fault_disrupted_and_recovered(&s, "producers", 10.0, 20.0);
    common::assert_report_shows_fault_and_disruption(&dir.path().join("run"));
}
