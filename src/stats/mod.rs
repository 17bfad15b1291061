//! Measurement: stages, per-thread recorders, the interval log and percentiles.

pub mod evidence;
pub mod hlog;
pub mod hops;
pub mod ledger;
pub mod platform;
mod recorder;
mod stage;
mod stage_summary;
pub mod timeline;

pub use recorder::{Counters, Hists, Registry, LATE_AFTER_NS};
pub use stage::{ErrorClass, Stage};
pub use stage_summary::StageSummary;

/// An empty histogram with `h`'s precision that grows to hold whatever is added to
/// it (`Histogram::new_from` alone keeps the source's fixed range, and `add` then
/// refuses values beyond it).
pub fn empty_like(h: &hdrhistogram::Histogram<u64>) -> hdrhistogram::Histogram<u64> {
    let mut e = hdrhistogram::Histogram::new_from(h);
    e.auto(true);
    e
}
