//! Against the real Cassandra node that scripts/services starts (no mocks): the seed
//! schema as specified, events round-tripped column by column, version-range queries,
//! an independent Python client reading what eventbench wrote, and a clear error for a
//! node that is not there.

mod common;

use std::collections::HashMap;

use eventbench::backend::{Ctx, EventStore, ScyllaStore};
use eventbench::clock::Clock;
use eventbench::model::{Event, GoTime};
use eventbench::scenario::{SchemaKind, ScyllaSettings};
use scylla::client::session_builder::SessionBuilder;

fn settings(keyspace: &str, schema: SchemaKind) -> ScyllaSettings {
    ScyllaSettings {
        keyspace: keyspace.into(),
        schema,
        ..ScyllaSettings::default()
    }
}

fn keyspace(tag: &str) -> String {
    common::unique_topic(&format!("eventbench_test_{tag}")).replace('.', "_")
}

fn event(i: u8, version: i64) -> Event {
    Event {
        action: format!("act<{i}>&"),
        correlation_id: uuid::Uuid::from_u128(0x1000 + i as u128),
        aggregate_id: 7,
        data: Some(vec![i, 0, 255, i]),
        timestamp: GoTime::from_unix_nanos(1_764_132_286_123_456_789 + i as i128 * 1_000_000_000),
        user_uuid: uuid::Uuid::from_u128(0x2000 + i as u128),
        uuid: uuid::Uuid::from_u128(0x3000 + i as u128),
        version,
        year_bucket: 2026,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_is_the_seeds_and_events_round_trip_every_column() {
    common::require_cassandra();
    let ks = keyspace("schema");
    let store = ScyllaStore::connect(&settings(&ks, SchemaKind::PerYear))
        .await
        .expect("connect");
    let mut ctx = Ctx::new(Clock::start(), 1);

    // Schema, read back from system_schema.
    let s = SessionBuilder::new()
        .known_node("127.0.0.1:9042")
        .build()
        .await
        .expect("session");
    let rows = s
        .query_unpaged("SELECT table_name, column_name, type, kind, position, clustering_order FROM system_schema.columns WHERE keyspace_name = ?", (ks.as_str(),))
        .await
        .expect("columns")
        .into_rows_result()
        .expect("rows");
    let mut cols: HashMap<(String, String), (String, String, i32, String)> = HashMap::new();
    for r in rows
        .rows::<(String, String, String, String, i32, String)>()
        .expect("typed")
    {
        let (t, c, ty, kind, pos, order) = r.expect("row");
        cols.insert((t, c), (ty, kind, pos, order));
    }
    let col = |t: &str, c: &str| {
        cols.get(&(t.to_string(), c.to_string()))
            .cloned()
            .unwrap_or_else(|| panic!("{t}.{c} missing"))
    };
    for (c, ty, kind, pos, order) in [
        ("year_bucket", "smallint", "partition_key", 0, "none"),
        ("aggregate_id", "smallint", "clustering", 0, "asc"),
        ("version", "bigint", "clustering", 1, "desc"),
        ("action", "text", "clustering", 2, "asc"),
        ("timestamp", "timestamp", "clustering", 3, "desc"),
        ("uuid", "uuid", "clustering", 4, "asc"),
        ("correlation_id", "uuid", "regular", -1, "none"),
        ("data", "blob", "regular", -1, "none"),
        ("user_uuid", "uuid", "regular", -1, "none"),
    ] {
        assert_eq!(
            col("events", c),
            (ty.into(), kind.into(), pos, order.into()),
            "events.{c}"
        );
    }
    assert_eq!(col("events_meta", "partition_key").0, "smallint");
    assert_eq!(col("events_meta", "aggregate_id").1, "clustering");
    assert_eq!(col("events_meta", "aggregate_version").0, "bigint");
    let repl = s
        .query_unpaged(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
            (ks.as_str(),),
        )
        .await
        .expect("keyspace")
        .into_rows_result()
        .expect("rows")
        .single_row::<(HashMap<String, String>,)>()
        .expect("one row")
        .0;
    assert!(
        repl["class"].ends_with("NetworkTopologyStrategy") && repl["datacenter1"] == "1",
        "{repl:?}"
    );

    // Round trip: every column, the timestamp at millisecond precision.
    let e = event(1, 4);
    store.insert_event(&mut ctx, &e).await.expect("insert");
    let mut out = Vec::new();
    store
        .select_events(&mut ctx, 2026, 7, 3, 4, &mut out)
        .await
        .expect("select");
    assert_eq!(out.len(), 1);
    let mut want = e.clone();
    want.timestamp = GoTime::from_unix_nanos(e.timestamp.unix_millis() as i128 * 1_000_000);
    assert_eq!(out[0], want);
    // Nil data stays nil.
    let mut nil = event(2, 4);
    nil.data = None;
    store.insert_event(&mut ctx, &nil).await.expect("insert");
    out.clear();
    store
        .select_events(&mut ctx, 2026, 7, 3, 4, &mut out)
        .await
        .expect("select");
    assert!(out.iter().any(|x| x.uuid == nil.uuid && x.data.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_range_queries_return_exactly_the_epochs_asked_for() {
    common::require_cassandra();
    for schema in [SchemaKind::PerYear, SchemaKind::PerAggregate] {
        let ks = keyspace("range");
        let store = ScyllaStore::connect(&settings(&ks, schema)).await.expect("connect");
        let mut ctx = Ctx::new(Clock::start(), 1);
        for (i, v) in [1, 2, 2, 3, 4, 5].iter().enumerate() {
            store.insert_event(&mut ctx, &event(i as u8, *v)).await.expect("insert");
        }
        // Another aggregate and another year must not leak in.
        let mut other = event(50, 3);
        other.aggregate_id = 8;
        store.insert_event(&mut ctx, &other).await.expect("insert");
        let mut later = event(51, 3);
        later.year_bucket = 2027;
        store.insert_event(&mut ctx, &later).await.expect("insert");
        let mut out = Vec::new();
        store
            .select_events(&mut ctx, 2026, 7, 1, 3, &mut out)
            .await
            .expect("select");
        let mut versions: Vec<i64> = out.iter().map(|e| e.version).collect();
        versions.sort();
        assert_eq!(versions, vec![2, 2, 3], "{schema:?}");
        // Meta: absent, then written, then read.
        assert_eq!(store.read_meta(&mut ctx, 0, 7).await.expect("meta"), None);
        store.write_meta(&mut ctx, 0, 7, 9).await.expect("write meta");
        assert_eq!(store.read_meta(&mut ctx, 0, 7).await.expect("meta"), Some(9));
    }
}

#[test]
fn python_cassandra_driver_reads_back_what_eventbench_wrote() {
    common::require_cassandra();
    let dir = tempfile::tempdir().expect("tmp");
    let ks = keyspace("python");
    let scenario = common::root().join("scenarios/store-write.toml");
    let ks_set = format!("target.scylla.keyspace={ks}");
    let out = dir.path().join("run");
    let (code, _, stderr) = common::eventbench(&[
        "run",
        scenario.to_str().expect("utf8"),
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
        "--set",
        "duration=2s",
        "--set",
        "warmup=0s",
        "--set",
        "workload.writers.rate=200",
        "--set",
        &ks_set,
        // This test is about the rows, not the verdict: the other tests of this binary
        // load the same node and cores at the same time.
        "--allow-unhealthy",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let s: serde_json::Value = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary");
    let persisted = s["workloads"]["writers"]["ok"].as_u64().expect("ok");
    assert!(persisted >= 350, "persisted {persisted}");
    let py = std::process::Command::new("python3")
        .arg(common::root().join("tests/read_events.py"))
        .arg(&ks)
        .output()
        .expect("python3");
    assert!(py.status.success(), "python: {}", String::from_utf8_lossy(&py.stderr));
    let text = String::from_utf8_lossy(&py.stdout);
    let mut lines = text.lines();
    let types: serde_json::Value = serde_json::from_str(lines.next().expect("types line")).expect("json");
    let want = [
        ("year_bucket", "smallint"),
        ("aggregate_id", "smallint"),
        ("version", "bigint"),
        ("action", "text"),
        ("timestamp", "timestamp"),
        ("uuid", "uuid"),
        ("correlation_id", "uuid"),
        ("data", "blob"),
        ("user_uuid", "uuid"),
    ];
    for (c, t) in want {
        assert_eq!(types["types"][c], t, "{c}");
    }
    let rows: Vec<serde_json::Value> = lines.map(|l| serde_json::from_str(l).expect("row")).collect();
    assert_eq!(rows.len() as u64, persisted, "every persisted event is there, once");
    // The same seed regenerates the same events: compare one by its uuid.
    let plan = eventbench::plan::Plan::from_loaded(&eventbench::scenario::load(&scenario, &[]).expect("scenario"));
    let gen = eventbench::datagen::Generator::new(&plan.data, plan.seed, 0, 0);
    for row in rows.iter().take(20) {
        let id: uuid::Uuid = row["uuid"].as_str().expect("uuid").parse().expect("uuid");
        let tag = eventbench::model::tag::read_tag(&id).expect("an eventbench uuid");
        let mut e = Event::default();
        gen.fill_event(tag.value, 0, 0, &mut e);
        assert_eq!(row["action"], e.action);
        assert_eq!(row["aggregate_id"], e.aggregate_id as i64);
        assert_eq!(row["version"], 0, "the first epoch of every aggregate is 0");
        use base64::Engine;
        assert_eq!(
            row["data"],
            base64::engine::general_purpose::STANDARD.encode(e.data.as_deref().unwrap_or_default())
        );
    }
}

#[test]
fn unreachable_node_is_a_clear_error_in_bounded_time() {
    let scenario = common::root().join("scenarios/store-write.toml");
    let started = std::time::Instant::now();
    let (code, _, stderr) = common::eventbench(&["validate", scenario.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{stderr}");
    let dir = tempfile::tempdir().expect("tmp");
    let (code, _, stderr) = common::eventbench(&[
        "run",
        scenario.to_str().expect("utf8"),
        "--quiet",
        "--out",
        dir.path().join("run").to_str().expect("utf8"),
        "--set",
        "target.scylla.nodes=[\"127.0.0.1:1\"]",
        "--set",
        "target.scylla.connect_timeout=3s",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach Cassandra/ScyllaDB at 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
