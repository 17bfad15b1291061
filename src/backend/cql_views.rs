//! A CQL node's own view of its load, over CQL alone (no agent on its host): Cassandra
//! 5's `system_views.thread_pools` (tasks pending in the pools that serve requests) and
//! `coordinator_write_latency` / `coordinator_read_latency` of the run's tables. The
//! tables are node-local, so each node is asked in turn, pinned to it. ScyllaDB has no
//! `system_views`: the first failed reading says so and the sampler stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::cluster::Node;
use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};
use scylla::statement::unprepared::Statement;

use super::ScyllaStore;
use crate::stats::evidence::NodeView;

/// The latency tables' `_ms` columns hold seconds on Cassandra 4.0-5.0.6: the table
/// scales its reservoir's values as nanoseconds (`NS_TO_MS`) where the reservoir holds
/// microseconds, then rounds to three decimals, so 1 ms is the finest step. Measured
/// here: 2 MB writes whose client round trip was 22 ms p50 read `p50th_ms = 0.003`.
const LATENCY_COLUMN_TO_MS: f64 = 1000.0;

/// One node's reading.
async fn read_node(session: &Session, node: &Arc<Node>, ks: &str, tables: &[String]) -> Result<NodeView, String> {
    let pinned = ExecutionProfile::builder()
        .load_balancing_policy(SingleTargetLoadBalancingPolicy::new(
            NodeIdentifier::Node(node.clone()),
            None,
        ))
        .build()
        .into_handle();
    let ask = |cql: String| {
        let mut st = Statement::new(cql);
        st.set_execution_profile_handle(Some(pinned.clone()));
        st.set_request_timeout(Some(Duration::from_secs(2)));
        st
    };
    let pools = session
        .query_unpaged(
            ask("SELECT name, active_tasks, blocked_tasks, pending_tasks FROM system_views.thread_pools".into()),
            &[],
        )
        .await
        .map_err(|e| e.to_string())?
        .into_rows_result()
        .map_err(|e| e.to_string())?;
    let mut v = NodeView {
        node: node.address.to_string(),
        ..NodeView::default()
    };
    for row in pools
        .rows::<(String, Option<i32>, Option<i64>, Option<i32>)>()
        .map_err(|e| e.to_string())?
    {
        let (name, active, blocked, pending) = row.map_err(|e| e.to_string())?;
        let pending = pending.unwrap_or(0).max(0) as u64;
        let slot = match name.as_str() {
            "Native-Transport-Requests" => &mut v.native_pending,
            "MutationStage" => &mut v.mutation_pending,
            "ReadStage" => &mut v.read_pending,
            _ => continue,
        };
        *slot = pending;
        v.active += active.unwrap_or(0).max(0) as u64;
        v.blocked += blocked.unwrap_or(0).max(0) as u64;
    }
    let list = tables
        .iter()
        .map(|t| format!("'{}'", t.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let latency = |view: &str| {
        ask(format!(
            "SELECT count, p50th_ms, p99th_ms FROM system_views.{view} WHERE keyspace_name = '{}' AND table_name IN ({list})",
            ks.replace('\'', "''")
        ))
    };
    let worst = |rows: Vec<(Option<i64>, Option<f64>, Option<f64>)>, requests: &mut u64| {
        *requests += rows.iter().map(|r| r.0.unwrap_or(0).max(0) as u64).sum::<u64>();
        rows.into_iter().filter(|(count, _, _)| count.unwrap_or(0) > 0).fold(
            None,
            |acc: Option<(f64, f64)>, (_, p50, p99)| {
                let ms = |v: Option<f64>| v.unwrap_or(0.0) * LATENCY_COLUMN_TO_MS;
                let (p50, p99) = (ms(p50), ms(p99));
                Some(acc.map_or((p50, p99), |(a, b)| (a.max(p50), b.max(p99))))
            },
        )
    };
    let read_rows = |view: &'static str| {
        let st = latency(view);
        async move {
            let res = session.query_unpaged(st, &[]).await.map_err(|e| e.to_string())?;
            let rows = res.into_rows_result().map_err(|e| e.to_string())?;
            let out: Result<Vec<_>, _> = rows
                .rows::<(Option<i64>, Option<f64>, Option<f64>)>()
                .map_err(|e| e.to_string())?
                .collect();
            out.map_err(|e| e.to_string())
        }
    };
    if let Some((p50, p99)) = worst(read_rows("coordinator_write_latency").await?, &mut v.requests) {
        v.write_p50_ms = Some(p50);
        v.write_p99_ms = Some(p99);
    }
    if let Some((p50, p99)) = worst(read_rows("coordinator_read_latency").await?, &mut v.requests) {
        v.read_p50_ms = Some(p50);
        v.read_p99_ms = Some(p99);
    }
    Ok(v)
}

/// Every node's reading, in the driver's order of nodes.
pub async fn read(store: &ScyllaStore, ks: &str, tables: &[String]) -> Result<Vec<NodeView>, String> {
    let session = store.session();
    let state = session.get_cluster_state();
    let mut out = Vec::new();
    for node in state.get_nodes_info() {
        out.push(read_node(session, node, ks, tables).await?);
    }
    Ok(out)
}

/// Reads every node each `period` on the run's runtime and keeps the latest reading
/// for the collector's tick. Stops at the first failed reading (a node without
/// `system_views`, or one that does not answer), keeping why.
pub struct NodeSampler {
    latest: Arc<Mutex<Option<Vec<NodeView>>>>,
    unreadable: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
}

impl NodeSampler {
    /// Must be called inside the runtime.
    pub fn start(store: Arc<ScyllaStore>, ks: String, tables: Vec<String>, period: Duration) -> NodeSampler {
        let latest = Arc::new(Mutex::new(None));
        let unreadable = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, u, s) = (latest.clone(), unreadable.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                match read(&store, &ks, &tables).await {
                    Ok(views) => *l.lock().unwrap_or_else(|p| p.into_inner()) = Some(views),
                    Err(why) => {
                        *u.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                        return;
                    }
                }
                tokio::time::sleep(period).await;
            }
        });
        NodeSampler {
            latest,
            unreadable,
            stop,
        }
    }

    pub fn latest(&self) -> Option<Vec<NodeView>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Why the nodes' view could not be read, if it could not.
    pub fn unreadable(&self) -> Option<String> {
        self.unreadable.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for NodeSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
