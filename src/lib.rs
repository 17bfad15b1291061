//! eventbench: a benchmark and load-generation harness for event-sourced systems on
//! Kafka and ScyllaDB/Cassandra.
//!
//! Data flows one way: [`scenario`] (what the user wrote) -> [`plan`] (resolved and
//! checked) -> [`engine`] (schedules and workers, against a [`backend`] target) ->
//! [`stats`] (recorders and the interval log) -> [`report`] (summary and views). The
//! modules are layered, and a module imports only from its own layer's siblings that
//! never import it back, or from layers below. `tests/layers.rs` reads this table and
//! fails on an import that points up:
//!
//! ```text
//! layer 8 face:        cli
//! layer 7 tools:       capacity compare fit history merge reaudit sizing
//! layer 6 one run:     run
//! layer 5 record:      report
//! layer 4 a run:       engine audit prefill
//! layer 3 target:      backend datagen service
//! layer 2 the ask:     scenario plan
//! layer 1 measure:     stats thresholds
//! layer 0 foundation:  clock pacer rng units host model
//! ```

pub mod audit;
pub mod backend;
pub mod capacity;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod datagen;
pub mod engine;
pub mod fit;
pub mod history;
pub mod host;
pub mod merge;
pub mod model;
pub mod pacer;
pub mod plan;
pub mod prefill;
pub mod reaudit;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod service;
pub mod sizing;
pub mod stats;
pub mod thresholds;
pub mod units;
