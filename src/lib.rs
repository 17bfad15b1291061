//! eventbench: a benchmark and load-generation harness for event-sourced systems on
//! Kafka and ScyllaDB/Cassandra.
//!
//! Data flows one way: [`scenario`] (what the user wrote) -> [`plan`] (resolved and
//! checked) -> [`engine`] (schedules and workers) -> [`stats`] (recorders and the
//! interval log) -> [`report`] (summary and views).

pub mod audit;
pub mod backend;
pub mod capacity;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod datagen;
pub mod engine;
pub mod model;
pub mod pacer;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod service;
pub mod stats;
pub mod thresholds;
