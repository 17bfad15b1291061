//! The whole event store under load on the Kafka and Cassandra that scripts/services
//! starts: every stage reported, the audit clean, an injected loss counted exactly,
//! and the reference services run standalone (`eventbench serve`) measured from
//! outside (`services = "external"`).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

/// Unique topics, groups and a keyspace for one test run of a pipeline scenario.
fn isolated(name: &str) -> Vec<String> {
    let t = common::unique_topic(&format!("eventbench.test.{name}"));
    let mut sets = common::pipeline_topics(&t);
    sets.extend([
        "target.scylla.keyspace=eventbench_pipeline_test".to_string(),
        // Fewer reply topics to create per test.
        "data.aggregates={dist='uniform',min=1,max=8}".to_string(),
    ]);
    sets
}

/// The pipeline tests take the whole machine (2 cores, a broker and a CQL node):
/// one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A node just (re)started by the fault tests before these spends its first seconds
/// compiling its hot paths on both cores, which holds the generator's threads up too
/// (schedule lag p99 past 10 ms, "generator-limited", seen here). One short unmeasured
/// pipeline run first, per test binary, so the measured runs meet warm services.
fn warm_up() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut sets = isolated("warmup");
        sets.extend(["duration=6s", "warmup=1s", "workload.producers.rate=200"].map(String::from));
        let scenario = common::root().join("scenarios/pipeline.toml");
        let _ = run(scenario.to_str().expect("utf8"), &sets, &[]);
    });
}

fn run(
    scenario: &str,
    sets: &[String],
    env: &[(&str, &str)],
) -> (Option<i32>, String, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("run");
    let mut cmd = Command::new(common::bin());
    cmd.args(["run", scenario, "--quiet", "--out", out.to_str().expect("utf8")]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let res = cmd.output().expect("run");
    let summary = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary.json");
    (
        res.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        ),
        summary,
        dir,
    )
}

/// At half this machine's pipeline capacity a run is healthy (exit 0), unless the broker
/// or node is still cold from the fault tests before it: then the verdict must name the
/// target, never the generator, and the run exits 4.
fn healthy_or_target_named(code: Option<i32>, s: &serde_json::Value, out: &str) {
    let verdicts: Vec<&str> = ["producers", "readers"]
        .iter()
        .filter_map(|w| s["workloads"][w]["health"].as_str())
        .collect();
    // The broker, the node (and in one test the services' own processes) share the
    // generator's 2 cores: a generator held up by the host (lag with workers free and
    // its own CPU spare, as a JVM's JIT or GC right after a restart does) is a true
    // verdict for this host, not a failure of these tests.
    let held_up_by_host = ["producers", "readers"].iter().all(|w| {
        let h = &s["workloads"][w];
        h["health"] != "generator-limited"
            || h["health_reason"]
                .as_str()
                .is_some_and(|r| r.contains("threads were held up"))
    });
    match code {
        // The host held the generator, named as such (exit 9 only when that is all).
        Some(9) => assert!(
            verdicts.iter().all(|v| *v == "healthy" || *v == "host-limited"),
            "{out}"
        ),
        Some(4) if held_up_by_host => {}
        Some(0) => assert!(verdicts.iter().all(|v| *v == "healthy"), "{out}"),
        Some(4) => assert!(
            verdicts.contains(&"target-saturated") && !verdicts.contains(&"generator-limited"),
            "{out}"
        ),
        _ => panic!("exit {code:?}: {out}"),
    }
}

#[test]
fn pipeline_reports_every_stage_and_its_audit_finds_nothing_lost_or_duplicated() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    common::require_kafka();
    common::require_cassandra();
    warm_up();
    let mut sets = isolated("pipeline");
    sets.extend(["duration=10s", "warmup=2s"].map(String::from));
    let scenario = common::root().join("scenarios/pipeline.toml");
    let (code, out, s, dir) = run(scenario.to_str().expect("utf8"), &sets, &[]);
    healthy_or_target_named(code, &s, &out);
    let p = &s["workloads"]["producers"];
    for stage in [
        "serialize",
        "produce",
        "e2e.persisted",
        "e2e.queryable",
        "deserialize",
        "lag",
    ] {
        assert!(
            p["stages"][stage]["count"].as_u64().unwrap_or(0) > 0,
            "producers lack {stage}: {out}"
        );
    }
    // Every produced event answered by the persistence service.
    assert_eq!(
        p["stages"]["e2e.persisted"]["count"], p["stages"]["produce"]["count"],
        "{out}"
    );
    let r = &s["workloads"]["readers"];
    for stage in ["query", "query.roundtrip"] {
        assert!(
            r["stages"][stage]["count"].as_u64().unwrap_or(0) > 0,
            "readers lack {stage}: {out}"
        );
    }
    let a = &s["audit"];
    // 10 s at 500/s (half of what this machine's pipeline sustains).
    assert!(a["acked"].as_u64().unwrap_or(0) >= 4_500, "{a}");
    assert_eq!(a["stored"], a["acked"], "{a}");
    assert_eq!(
        (a["lost"].as_u64(), a["duplicates"].as_u64()),
        (Some(0), Some(0)),
        "{a}"
    );
    assert!(dir.path().join("run/audit.json").exists() && dir.path().join("run/ledger.bin").exists());
    // Provenance: the build, and what the target said of itself: the Cassandra release
    // scripts/services started (its pom pins it), Kafka's cluster and topics.
    let p = &s["provenance"];
    let pinned = common::pinned("cassandra");
    assert_eq!(p["target"]["store"]["release_version"], pinned.as_str(), "{p}");
    assert!(
        p["target"]["store"]["cluster_name"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{p}"
    );
    assert!(p["target"]["store"]["replication"]["class"].is_string(), "{p}");
    assert!(
        p["target"]["log"]["cluster_id"].as_str().is_some_and(|c| !c.is_empty()),
        "{p}"
    );
    assert!(
        p["target"]["log"]["brokers"].to_string().contains("127.0.0.1:9092"),
        "{p}"
    );
    // The broker's release line (its ApiVersions answer: the highest metadata.version
    // its software supports) is the one scripts/kafka/pom.xml pins, e.g. 4.1 of 4.1.1;
    // the patch release is not on the wire.
    let kafka_pinned = common::pinned("kafka");
    let line: String = kafka_pinned.split('.').take(2).collect::<Vec<_>>().join(".");
    assert_eq!(p["target"]["log"]["kafka_release"], line.as_str(), "{p}");
    assert!(
        p["target"]["log"]["metadata_version"]["finalized"]
            .as_str()
            .is_some_and(|v| v.starts_with(&line)),
        "{p}"
    );
    assert!(
        p["git_commit"]
            .as_str()
            .is_some_and(|c| c != "unknown" && !c.is_empty()),
        "{p}"
    );
    assert!(p["rustc"].as_str().is_some_and(|r| r.starts_with("rustc ")), "{p}");
}

#[test]
fn audit_reports_exactly_the_events_a_persistence_worker_dropped() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    common::require_kafka();
    common::require_cassandra();
    warm_up();
    let mut sets = isolated("loss");
    sets.extend(
        [
            "duration=6s",
            "warmup=1s",
            "workload.producers.rate=500",
            "workload.readers.rate=10",
            // Dropped events are never answered, so the run waits all of `drain`; it
            // must cover the slowest honest answer (a cold broker and node take seconds),
            // or a late event would be counted lost.
            "drain=20s",
            "target.persistence.drop_every=97",
        ]
        .map(String::from),
    );
    let scenario = common::root().join("scenarios/pipeline.toml");
    let (code, out, s, dir) = run(scenario.to_str().expect("utf8"), &sets, &[]);
    assert_eq!(code, Some(5), "lost events fail the run's audit: exit 5: {out}");
    let dropped = s["services"]["persistence"]["dropped"].as_u64().expect("dropped");
    let consumed = s["services"]["persistence"]["consumed"].as_u64().expect("consumed");
    assert_eq!(dropped, consumed / 97, "{out}");
    assert!(dropped >= 25, "{out}");
    assert_eq!(s["audit"]["lost"].as_u64(), Some(dropped), "{out}");
    assert_eq!(s["audit"]["unanswered"].as_u64(), Some(dropped), "{out}");
    assert!(out.contains("audit FAILED: lost"), "{out}");
    // `eventbench audit` re-reads the store and agrees.
    let run_dir = dir.path().join("run");
    let (code, text, _) = common::eventbench(&["audit", run_dir.to_str().expect("utf8")]);
    assert_eq!(code, Some(5), "{text}");
    assert!(text.contains(&format!("lost {dropped} ")), "{text}");
}

/// Stops a child with SIGINT and waits for it.
fn interrupt(mut child: std::process::Child) -> std::process::Output {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    child.wait_with_output().expect("wait")
}

#[test]
fn standalone_services_are_measured_from_outside() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    common::require_kafka();
    common::require_cassandra();
    warm_up();
    let mut sets = isolated("external");
    sets.extend(["duration=8s", "warmup=1s", "workload.producers.rate=300"].map(String::from));
    let scenario = common::root().join("scenarios/pipeline.toml");
    let scenario = scenario.to_str().expect("utf8");
    let serve = |which: &str| {
        let mut cmd = Command::new(common::bin());
        cmd.args(["serve", which, scenario]);
        for s in &sets {
            cmd.args(["--set", s]);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve")
    };
    let persistence = serve("persistence");
    let query = serve("query");
    // Their groups join while eventbench creates the reply topics and its readers.
    std::thread::sleep(Duration::from_secs(8));
    let mut run_sets = sets.clone();
    run_sets.push("target.services=external".into());
    let (code, out, s, _dir) = run(scenario, &run_sets, &[]);
    let served = interrupt(persistence);
    let queried = interrupt(query);
    let served_text = String::from_utf8_lossy(&served.stdout).into_owned();
    assert_eq!(served.status.code(), Some(0), "{served_text}");
    assert_eq!(queried.status.code(), Some(0));
    healthy_or_target_named(code, &s, &out);
    assert!(s["services"]["persistence"].is_null(), "no embedded service ran");
    let p = &s["workloads"]["producers"];
    let produced = p["stages"]["produce"]["count"].as_u64().unwrap_or(0);
    assert!(produced > 1_500, "{out}");
    assert_eq!(p["stages"]["e2e.persisted"]["count"].as_u64(), Some(produced), "{out}");
    assert!(
        s["workloads"]["readers"]["stages"]["query.roundtrip"]["count"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{out}"
    );
    assert_eq!(s["audit"]["lost"].as_u64(), Some(0), "{out}");
    assert!(served_text.contains("Persistence:"), "{served_text}");
}
