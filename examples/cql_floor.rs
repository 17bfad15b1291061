//! The CQL driver alone: the persist workload's two requests (an `events_meta` read, then
//! a nine-column insert into the seed's `events` table) in a bare loop on the scylla
//! driver, with nothing measured, generated or recorded. `scripts/compare-latte` runs it
//! beside latte and eventbench, so the CPU that any harness on this driver must spend is
//! visible, and what eventbench adds on top of it is the difference.
//!
//!   cargo run --release --example cql_floor -- [concurrency=64] [secs=20] [data_bytes=256] [threads=2] [keyspace=eventbench_compare]
//!   cargo run --release --example cql_floor -- drop KEYSPACE...
//!
//! Needs the keyspace and its tables (an eventbench `persist` run against the node makes
//! them). Prints one JSON line: operations, seconds of the loop, and the CPU seconds of
//! the whole process (start-up included, as `time` counts the other two).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// The node `scripts/services up cassandra` starts (tests and load runs only ever target
/// 127.0.0.1).
const NODE: &str = "127.0.0.1:9042";

struct Statements {
    read_meta: PreparedStatement,
    insert: PreparedStatement,
    data: Vec<u8>,
}

async fn one(session: &Session, st: &Statements, i: u64) -> Result<(), Box<dyn std::error::Error>> {
    let agg = (i % 127 + 1) as i16;
    let rows = session
        .execute_unpaged(&st.read_meta, (0i16, agg))
        .await?
        .into_rows_result()?;
    let version = rows
        .maybe_first_row::<(Option<i64>,)>()?
        .and_then(|(v,)| v)
        .unwrap_or(0);
    let id = uuid::Uuid::from_u64_pair(i, 1);
    let values = (
        2026i16,
        agg,
        version,
        "register_user",
        CqlTimestamp(1_764_132_286_000 + i as i64),
        id,
        id,
        &st.data[..],
        id,
    );
    session.execute_unpaged(&st.insert, values).await?;
    Ok(())
}

async fn run(
    conc: usize,
    secs: u64,
    size: usize,
    threads: usize,
    ks: String,
) -> Result<(), Box<dyn std::error::Error>> {
    let session = Arc::new(SessionBuilder::new().known_node(NODE).build().await?);
    let st = Arc::new(Statements {
        read_meta: session
            .prepare(format!(
                "SELECT aggregate_version FROM {ks}.events_meta WHERE partition_key = ? AND aggregate_id = ?"
            ))
            .await?,
        insert: session
            .prepare(format!(
                "INSERT INTO {ks}.events (year_bucket, aggregate_id, version, action, timestamp, uuid, correlation_id, data, user_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
        data: vec![7u8; size],
    });
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    // Like latte: one task per thread, each keeping its share of the requests in flight.
    let mut tasks = Vec::new();
    for t in 0..threads {
        let (session, st, stop, next) = (session.clone(), st.clone(), stop.clone(), next.clone());
        let share = conc / threads + usize::from(t < conc % threads);
        tasks.push(tokio::spawn(async move {
            let mut inflight = FuturesUnordered::new();
            for _ in 0..share {
                inflight.push(one(&session, &st, next.fetch_add(1, Ordering::Relaxed)));
            }
            let mut errors = 0u64;
            while let Some(r) = inflight.next().await {
                errors += u64::from(r.is_err());
                if !stop.load(Ordering::Relaxed) {
                    inflight.push(one(&session, &st, next.fetch_add(1, Ordering::Relaxed)));
                }
            }
            errors
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut errors = 0;
    for t in tasks {
        errors += t.await?;
    }
    // The whole process's CPU, connecting and preparing included, as `time` reads it
    // for latte and eventbench.
    let (cpu, wall) = (eventbench::host::cpu_seconds(), t0.elapsed().as_secs_f64());
    let ops = next.load(Ordering::Relaxed);
    println!("{{\"ops\": {ops}, \"errors\": {errors}, \"seconds\": {wall:.3}, \"cpu_seconds\": {cpu:.3}}}");
    Ok(())
}

/// Drops `keyspaces`: every run writes its rows into one partition per year, and a
/// 1 GiB node (scripts/services) ran out of heap after a dozen comparisons kept them.
async fn drop_keyspaces(keyspaces: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let session = SessionBuilder::new().known_node(NODE).build().await?;
    for ks in keyspaces {
        session
            .query_unpaged(format!("DROP KEYSPACE IF EXISTS {ks}"), &[])
            .await?;
    }
    Ok(())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("drop") {
        let keyspaces = std::env::args().skip(2).collect();
        let result = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Into::into)
            .and_then(|rt| rt.block_on(drop_keyspaces(keyspaces)));
        if let Err(e) = result {
            eprintln!("cql_floor drop (node {NODE}): {e}");
            std::process::exit(1);
        }
        return;
    }
    let (conc, secs, size, threads) = (arg(1, 64usize), arg(2, 20u64), arg(3, 256usize), arg(4, 2usize).max(1));
    let ks: String = arg(5, "eventbench_compare".to_string());
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let result = match rt {
        Ok(rt) => rt.block_on(run(conc, secs, size, threads, ks)),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = result {
        eprintln!("cql_floor (node {NODE}): {e}");
        std::process::exit(1);
    }
}
