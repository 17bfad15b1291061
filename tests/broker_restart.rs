//! `scenarios/broker-restart.toml` as shipped (its topic made unique): the scenario
//! itself stops the broker at 10 s and starts it at 20 s through scripts/services, and
//! its report shows the fault (both commands, their exits), the disruption it caused
//! (records held until the broker is back) and the recovery. It stops the broker, so it
//! is a test binary of its own (cargo runs test binaries one at a time).

mod common;

#[test]
fn the_broker_restart_scenario_shows_the_fault_the_disruption_and_the_recovery() {
    common::require_kafka();
    let topic = common::unique_topic("eventbench.test.broker-restart");
    let (code, err, s, dir) = common::run_shipped_fault_scenario(
        "scenarios/broker-restart.toml",
        &[&format!("target.topics.events={topic}")],
        "kafka",
    );
    // `allow_unhealthy`: the outage is the point, so the run passes.
    assert_eq!(code, Some(0), "{err}");
    common::assert_fault_disrupted_and_recovered(&s, "producers", 10.0, 20.0);
    common::assert_report_shows_fault_and_disruption(&dir.path().join("run"));
}
