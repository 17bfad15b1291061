//! Against the secured services scripts/services starts beside the plaintext ones (no
//! mocks): Kafka over SASL_SSL with SCRAM-SHA-512 (9094) and over mutual TLS (9095), CQL
//! over TLS with a password (9142), and the whole pipeline over both. Each passes the
//! checks its plaintext twin passes; each bad handshake fails fast, naming its cause.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// These runs share the machine with the other test binaries' services: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn scenario(name: &str) -> String {
    common::root().join("scenarios").join(name).display().to_string()
}

/// `eventbench run SCENARIO --set ...` into `out`; the secured scenarios name their
/// fixtures relative to the checkout, where the tests run.
fn run(scenario: &str, out: &Path, sets: &[String]) -> (Option<i32>, String) {
    run_with_env(scenario, out, sets, &[])
}

/// The same with environment variables (a password given by `_env`); what it printed
/// holds none of the secured services' passwords.
fn run_with_env(scenario: &str, out: &Path, sets: &[String], env: &[(&str, String)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(common::bin());
    cmd.args(["run", scenario, "--quiet", "--out"]).arg(out);
    for s in sets {
        cmd.args(["--set", s.as_str()]);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let res = cmd.output().expect("spawn eventbench");
    let printed = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    for f in ["kafka-password", "cql-password", "client-key-password"] {
        let pw = fixture(f);
        assert!(!printed.contains(&pw), "the {f} was printed: {printed}");
    }
    (res.status.code(), printed)
}

fn fixture(name: &str) -> String {
    common::read(&common::root().join(".cache/secure").join(name))
        .trim()
        .to_string()
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary.json")
}

fn no_errors(w: &serde_json::Value, printed: &str) {
    assert!(
        w["errors"].as_object().is_none_or(|e| e.is_empty()),
        "errors {}: {printed}",
        w["errors"]
    );
}

/// The secured services' own passwords are in no file eventbench wrote.
fn no_fixture_password_in(dir: &Path) {
    for f in ["kafka-password", "cql-password", "client-key-password"] {
        let hits = common::files_containing(dir, &fixture(f));
        assert!(hits.is_empty(), "the {f} is in {hits:?}");
    }
}

/// The plaintext produce test's checks (tests/kafka.rs), over a secured listener.
fn produce_and_e2e(scenario_file: &str, listener: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    common::require_secure_services();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let topic = common::unique_topic("eventbench.test.secure");
    let sets = [
        "duration=4s".to_string(),
        "warmup=1s".to_string(),
        "workload.producers.rate=2000".to_string(),
        format!("target.topics.events={topic}"),
    ];
    let (code, printed) = run(&scenario(scenario_file), &out, &sets);
    assert_eq!(code, Some(0), "{printed}");
    let s = summary(&out);
    let p = &s["workloads"]["producers"];
    let produced = p["stages"]["produce"]["count"].as_u64().unwrap_or(0);
    assert!(
        (5_500..6_500).contains(&produced),
        "produce count {produced}: {printed}"
    );
    // Every record came back through eventbench's own (equally secured) consumer.
    assert_eq!(p["stages"]["e2e"]["count"].as_u64(), Some(produced), "{printed}");
    assert_eq!(p["unanswered"], 0);
    no_errors(p, &printed);
    let (target, achieved) = (
        p["target_rate"].as_f64().unwrap_or(0.0),
        p["achieved_rate"].as_f64().unwrap_or(0.0),
    );
    assert!(
        (achieved - target).abs() <= 0.01 * target,
        "achieved {achieved} of {target}"
    );
    // It talked to the secured listener, and created the topic there and said so.
    let log = &s["provenance"]["target"]["log"];
    assert!(log["brokers"].to_string().contains(listener), "{log}");
    assert!(log["created"].to_string().contains(&topic), "{log}");
    // The broker's release line, asked over the listener's own TLS (with the client
    // certificate on the mTLS one; before SASL, so no password is sent).
    let pinned = common::pinned("kafka");
    let line = pinned.split('.').take(2).collect::<Vec<_>>().join(".");
    assert_eq!(log["kafka_release"], line.as_str(), "{log}");
    assert!(
        printed.contains(&format!("created Kafka topics that did not exist: {topic}")),
        "{printed}"
    );
    no_fixture_password_in(dir.path());
}

#[test]
fn produce_and_e2e_over_sasl_ssl_with_scram_sha_512() {
    produce_and_e2e("secure-kafka-scram.toml", "127.0.0.1:9094");
}

#[test]
fn produce_and_e2e_over_mutual_tls() {
    produce_and_e2e("secure-kafka-mtls.toml", "127.0.0.1:9095");
}

fn read_back(keyspace: &str) -> Vec<String> {
    let secure = common::root().join(".cache/secure");
    let py = Command::new("python3")
        .arg(common::root().join("tests/read_events.py"))
        .args([keyspace, "9142"])
        .arg(secure.join("ca.pem"))
        .arg("bench")
        .arg(secure.join("cql-password"))
        .output()
        .expect("python3");
    assert!(py.status.success(), "python: {}", String::from_utf8_lossy(&py.stderr));
    String::from_utf8_lossy(&py.stdout)
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

/// The plaintext store test's checks, over TLS with a password: every write ok, and an
/// independent client (DataStax's Python driver, over TLS and logged in) reads back
/// every row eventbench wrote.
#[test]
fn cql_over_tls_with_a_password() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    common::require_secure_services();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let ks = format!("eventbench_secure_{}", std::process::id());
    let sets = [
        "duration=4s".to_string(),
        "warmup=1s".to_string(),
        "workload.writers.rate=500".to_string(),
        format!("target.scylla.keyspace={ks}"),
        // A client certificate with its encrypted key (the local node verifies one
        // when sent; Cassandra 5.0 cannot ask for it without requiring it of everyone).
        "target.scylla.tls={ca='.cache/secure/ca.pem',cert='.cache/secure/client.pem',\
         key='.cache/secure/client.key',key_password_file='.cache/secure/client-key-password'}"
            .to_string(),
    ];
    let (code, printed) = run(&scenario("secure-cql.toml"), &out, &sets);
    assert!(matches!(code, Some(0) | Some(4) | Some(9)), "{printed}");
    let s = summary(&out);
    let w = &s["workloads"]["writers"];
    no_errors(w, &printed);
    let ok = w["ok"].as_u64().unwrap_or(0);
    assert!(ok >= 1_400 && w["ops"].as_u64() == Some(ok), "{w}: {printed}");
    assert_eq!(w["censored"], 0, "{printed}");
    // Warm-up writes are stored too: at least every measured one.
    let rows = read_back(&ks);
    assert!(
        rows.len() as u64 >= ok,
        "{} rows read back for {ok} ok writes",
        rows.len()
    );
    assert!(
        s["provenance"]["target"]["store"]["created"].to_string().contains(&ks),
        "{}",
        s["provenance"]["target"]["store"]
    );
    no_fixture_password_in(dir.path());
}

/// The whole pipeline with every connection secured: producers, the embedded persistence
/// and query services, the reply listeners and the admin client that creates every
/// topic over SASL_SSL/SCRAM-SHA-512 (the password from the environment); the services'
/// store and the audit over CQL TLS with a password (from a file). The plaintext pipeline test's checks; then `eventbench audit` again.
#[test]
fn the_whole_pipeline_over_sasl_ssl_and_cql_tls() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    common::require_secure_services();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let t = common::unique_topic("eventbench.test.secure.pipeline");
    let mut sets = common::pipeline_topics(&t);
    sets.extend([
        "data.aggregates={dist='uniform',min=1,max=8}".into(),
        "duration=8s".into(),
        "warmup=2s".into(),
        "workload.producers.rate=250".into(),
        "workload.readers.rate=20".into(),
        "target.kafka.bootstrap=127.0.0.1:9094".into(),
        "target.kafka.client={'security.protocol'='SASL_SSL','sasl.mechanisms'='SCRAM-SHA-512',\
         'sasl.username'='bench','sasl.password_env'='EVENTBENCH_KAFKA_PASSWORD',\
         'ssl.ca.location'='.cache/secure/ca.pem'}"
            .into(),
        "target.scylla.nodes=['127.0.0.1:9142']".into(),
        "target.scylla.keyspace=eventbench_secure_pipeline".into(),
        "target.scylla.username=bench".into(),
        "target.scylla.password_file=.cache/secure/cql-password".into(),
        "target.scylla.tls={ca='.cache/secure/ca.pem'}".into(),
    ]);
    let env = [("EVENTBENCH_KAFKA_PASSWORD", fixture("kafka-password"))];
    let (code, printed) = run_with_env(&scenario("pipeline.toml"), &out, &sets, &env);
    assert!(matches!(code, Some(0) | Some(4) | Some(9)), "{printed}");
    let s = summary(&out);
    let p = &s["workloads"]["producers"];
    for stage in ["serialize", "produce", "e2e.persisted", "e2e.queryable", "deserialize"] {
        assert!(
            p["stages"][stage]["count"].as_u64().unwrap_or(0) > 0,
            "producers lack {stage}: {printed}"
        );
    }
    assert_eq!(
        p["stages"]["e2e.persisted"]["count"], p["stages"]["produce"]["count"],
        "{printed}"
    );
    no_errors(p, &printed);
    let r = &s["workloads"]["readers"];
    for stage in ["query", "query.roundtrip"] {
        assert!(
            r["stages"][stage]["count"].as_u64().unwrap_or(0) > 0,
            "readers lack {stage}: {printed}"
        );
    }
    no_errors(r, &printed);
    let a = &s["audit"];
    assert!(a["acked"].as_u64().unwrap_or(0) >= 1_800, "{a}");
    assert_eq!(a["stored"], a["acked"], "{a}");
    assert_eq!(
        (a["lost"].as_u64(), a["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{a}"
    );
    // Every topic it needed it created over SASL_SSL, and named.
    let created = s["provenance"]["target"]["log"]["created"].to_string();
    for topic in [format!("{t}.events"), format!("{t}.esquery")] {
        assert!(created.contains(&topic), "{topic} not in {created}");
    }
    // The audit again, from the run directory, over CQL TLS with the password.
    let (code, stdout, stderr) = common::eventbench(&["audit", out.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "audit: {stdout}\n{stderr}");
    no_fixture_password_in(dir.path());
}

/// A bad handshake through the binary: exit 1 within `connect_timeout` (5 s here) + 5 s,
/// naming the address and the cause, leaving no run directory.
fn refused(scenario_file: &str, sets: &[&str], address: &str, cause: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let mut all: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    all.extend([
        "target.kafka.connect_timeout=5s".into(),
        "target.scylla.connect_timeout=5s".into(),
    ]);
    let started = Instant::now();
    let (code, printed) = run(&scenario(scenario_file), &out, &all);
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains(address), "no {address} in: {printed}");
    assert!(printed.contains(cause), "no '{cause}' in: {printed}");
    assert!(!printed.contains("panicked"), "{printed}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {printed}");
    assert!(!out.exists(), "a run that never started left {}", out.display());
}

#[test]
fn bad_handshakes_fail_fast_and_name_their_cause() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    common::require_secure_services();
    let tmp = tempfile::tempdir().expect("tmp");
    let wrong = tmp.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").expect("write");
    let wrong = wrong.display().to_string();
    // Wrong SCRAM password.
    refused(
        "secure-kafka-scram.toml",
        &[&format!("target.kafka.client.\"sasl.password_file\"={wrong}")],
        "Kafka at 127.0.0.1:9094",
        "authentication failed (wrong sasl.username or SASL password)",
    );
    // A CA that did not sign the broker's certificate.
    refused(
        "secure-kafka-scram.toml",
        &["target.kafka.client.\"ssl.ca.location\"=.cache/secure/rogue-ca.pem"],
        "Kafka at 127.0.0.1:9094",
        "TLS handshake failed: the broker's certificate is not trusted",
    );
    // mTLS listener, no client certificate offered.
    refused(
        "secure-kafka-mtls.toml",
        &["target.kafka.client={'security.protocol'='SSL','ssl.ca.location'='.cache/secure/ca.pem'}"],
        "Kafka at 127.0.0.1:9095",
        "the broker refused the client (mutual TLS",
    );
    // A SASL mechanism the listener does not offer.
    refused(
        "secure-kafka-scram.toml",
        &[
            "target.kafka.client={'security.protocol'='SASL_SSL','sasl.mechanisms'='OAUTHBEARER',\
           'enable.sasl.oauthbearer.unsecure.jwt'='true','sasl.oauthbearer.config'='principal=bench',\
           'ssl.ca.location'='.cache/secure/ca.pem'}",
        ],
        "Kafka at 127.0.0.1:9094",
        "SASL mechanism not enabled on this listener",
    );
    // A plaintext client at the SASL_SSL listener.
    refused(
        "kafka-produce.toml",
        &["target.kafka.bootstrap=127.0.0.1:9094"],
        "Kafka at 127.0.0.1:9094",
        "a TLS or SASL listener? set security.protocol",
    );
    // Wrong CQL password.
    refused(
        "secure-cql.toml",
        &[&format!("target.scylla.password_file={wrong}")],
        "Cassandra/ScyllaDB at 127.0.0.1:9142",
        "authentication failed (wrong username or password)",
    );
    // A CA that did not sign the node's certificate.
    refused(
        "secure-cql.toml",
        &["target.scylla.tls.ca=.cache/secure/rogue-ca.pem"],
        "Cassandra/ScyllaDB at 127.0.0.1:9142",
        "TLS handshake failed: the node's certificate is not trusted",
    );
    // An encrypted client key with the wrong password: refused before connecting.
    refused(
        "secure-cql.toml",
        &[&format!(
            "target.scylla.tls={{ca='.cache/secure/ca.pem',cert='.cache/secure/client.pem',\
             key='.cache/secure/client.key',key_password_file='{wrong}'}}"
        )],
        "CQL TLS key .cache/secure/client.key",
        "wrong key_password?",
    );
    // TLS against the plaintext node; plaintext against the TLS-only node.
    refused(
        "secure-cql.toml",
        &["target.scylla.nodes=['127.0.0.1:9042']"],
        "Cassandra/ScyllaDB at 127.0.0.1:9042",
        "is this a plaintext CQL port?",
    );
    refused(
        "store-write.toml",
        &["target.scylla.nodes=['127.0.0.1:9142']"],
        "Cassandra/ScyllaDB at 127.0.0.1:9142",
        "a TLS-only port?",
    );
}
