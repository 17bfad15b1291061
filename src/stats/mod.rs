//! Measurement: stages, per-thread recorders, the interval log and percentiles.

pub mod hlog;
mod recorder;
mod stage;
mod summary;

pub use recorder::{Counters, Hists, Registry, LATE_AFTER_NS};
pub use stage::{ErrorClass, Stage};
pub use summary::StageSummary;
