//! What reading the store nodes' own view costs the generator: `eventbench` reads each
//! node's `system_views` (thread pools, the run's tables' coordinator latencies) twice
//! per interval beside a pipeline run; this reads them back to back and prints the
//! process's CPU per reading, so the cost at a run's rate of readings follows
//! (docs/PERFORMANCE.md, "The target's own view").
//!
//!   cargo run --release --example node_view_cost -- [readings=400] [scenario=scenarios/bottlenecks-kafka.toml]
//!
//! Needs the node the scenario names (scripts/services up cassandra). Prints one JSON
//! line: readings, CPU seconds of the readings alone (connecting aside), wall seconds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let readings: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(400);
    let scenario = PathBuf::from(
        std::env::args()
            .nth(2)
            .unwrap_or_else(|| "scenarios/bottlenecks-kafka.toml".into()),
    );
    let loaded = eventbench::scenario::load(&scenario, &[])?;
    let plan = eventbench::plan::Plan::from_loaded(&loaded);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let s = &plan.target.scylla;
        let store = Arc::new(
            eventbench::backend::ScyllaStore::connect(s)
                .await
                .map_err(|e| e.to_string())?,
        );
        let tables = eventbench::backend::ScyllaStore::tables(s);
        // One reading first: the driver's connections to every node are warm.
        eventbench::backend::cql_views::read(&store, &s.keyspace, &tables).await?;
        let (cpu0, wall) = (eventbench::host::cpu_seconds(), Instant::now());
        for _ in 0..readings {
            eventbench::backend::cql_views::read(&store, &s.keyspace, &tables).await?;
        }
        let cpu = eventbench::host::cpu_seconds() - cpu0;
        println!(
            "{{\"readings\": {readings}, \"cpu_s\": {cpu:.4}, \"wall_s\": {:.3}, \"cpu_us_per_reading\": {:.1}}}",
            wall.elapsed().as_secs_f64(),
            1e6 * cpu / readings as f64
        );
        Ok::<(), String>(())
    })?;
    Ok(())
}
